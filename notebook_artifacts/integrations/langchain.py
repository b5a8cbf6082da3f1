"""LangChain: the store as a ``BaseRetriever``, and LangChain ``Document``s into the store.

    retriever = store.as_langchain_retriever(k=4, namespace="papers")
    docs = retriever.invoke("how is drift measured?")   # Documents with citation metadata

Each ``Document`` holds the matched chunk as ``page_content`` and :func:`hit_metadata` as
``metadata`` (``artifact_id``, ``name``, ``version``, ``citation``, ``location``, ``score``...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import InvalidInputError
from . import hit_metadata, missing_extra

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.document_loaders import BaseLoader
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("langchain-core", "langchain", exc) from exc

__all__ = ["ArtifactRetriever", "ArtifactLoader", "put_documents"]


class ArtifactRetriever(BaseRetriever):
    """Retrieves the ``k`` best chunks of ``store.query`` as LangChain ``Document``s."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    k: int = 4
    namespace: str | None = None
    session_id: str | None = None
    tags: list[str] | None = None
    mode: str = "hybrid"
    where: dict[str, Any] | None = None

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.store.query(query, k=self.k, namespace=self.namespace,
                                  session_id=self.session_id, tags=self.tags, mode=self.mode,
                                  where=self.where)
        return [Document(page_content=h.matched_chunk, metadata=hit_metadata(h),
                         id=f"{h.artifact.artifact_id}:{i}")
                for i, h in enumerate(result.results)]


class ArtifactLoader(BaseLoader):
    """Loads the latest version of each listed artifact as one ``Document`` (text artifacts only).

    ``namespace``/``session_id``/``tags`` filter like ``store.list``; binary artifacts are skipped.
    """

    def __init__(self, store: Any, *, namespace: str | None = None,
                 session_id: str | None = None, tags: Iterable[str] | None = None) -> None:
        self.store, self.namespace, self.session_id = store, namespace, session_id
        self.tags = list(tags) if tags else None

    def lazy_load(self) -> Iterator[Document]:
        cursor = None
        while True:
            page = self.store.list(namespace=self.namespace, session_id=self.session_id,
                                   tags=self.tags, limit=200, cursor=cursor)
            for a in page.artifacts:
                content = self.store.load(a)
                if isinstance(content, bytes):
                    continue
                text = content if isinstance(content, str) else self.store.read_text(a)
                yield Document(page_content=text, id=a.artifact_id, metadata={
                    "artifact_id": a.artifact_id, "name": a.name, "version": a.version,
                    "namespace": a.namespace, "session_id": a.session_id,
                    "mime_type": a.mime_type, "tags": list(a.tags),
                    "citation": f"{a.name} v{a.version}"})
            if not page.has_more:
                return
            cursor = page.next_cursor


def put_documents(store: Any, documents: Iterable[Document], *, name_key: str = "source",
                  namespace: str = "default", session_id: str | None = None,
                  tags: Iterable[str] = (), **put_kwargs: Any) -> list[Any]:
    """Store each ``Document`` as a text artifact and return the new versions.

    The name is ``metadata[name_key]`` (a loader's ``source``; of an absolute path or a URL only
    its last segment), else ``doc.id``, else ``doc-N.txt``; the metadata is kept as the artifact's ``metadata``. Every document is
    checked before the first is stored, so a bad one stores nothing.
    """
    docs = list(documents)
    for i, doc in enumerate(docs):
        if not isinstance(doc, Document):
            raise InvalidInputError(
                f"documents[{i}] is a {type(doc).__name__}, not a langchain Document")
    stored = []
    for i, doc in enumerate(docs):
        meta = dict(doc.metadata or {})
        stored.append(store.put(
            doc.page_content.encode("utf-8"), name=_doc_name(meta.get(name_key) or doc.id, i),
            mime_type="text/plain", namespace=namespace, session_id=session_id,
            tags=list(tags), metadata=_json_safe(meta), **put_kwargs))
    return stored


def _doc_name(given: Any, i: int) -> str:
    """A store name: a relative ``source`` as is; the last segment of an absolute path or URL;
    else ``doc-N.txt``."""
    name = str(given or "").strip()
    if "://" in name or name.startswith("/") or "\\" in name:
        name = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name or f"doc-{i + 1}.txt"


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(meta, default=str))
