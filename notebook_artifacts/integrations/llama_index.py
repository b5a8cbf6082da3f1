"""LlamaIndex: the store as a retriever returning ``NodeWithScore``s.

    retriever = store.as_llama_index_retriever(k=4, namespace="papers")
    nodes = retriever.retrieve("how is drift measured?")

Each node's text is the matched chunk, its ``score`` the store's 0..1 score, and its
``metadata`` :func:`hit_metadata` (``artifact_id``, ``name``, ``version``, ``citation``...).
"""

from __future__ import annotations

from typing import Any

from . import hit_metadata, missing_extra

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("llama-index-core", "llama-index", exc) from exc

__all__ = ["ArtifactRetriever"]


class ArtifactRetriever(BaseRetriever):
    """Retrieves the ``k`` best chunks of ``store.query`` as ``NodeWithScore``s."""

    def __init__(self, store: Any, *, k: int = 4, namespace: str | None = None,
                 session_id: str | None = None, tags: list[str] | None = None,
                 mode: str = "hybrid", where: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        self.store, self.k, self.namespace, self.session_id = store, k, namespace, session_id
        self.tags, self.mode, self.where = tags, mode, where
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.store.query(query_bundle.query_str, k=self.k, namespace=self.namespace,
                                  session_id=self.session_id, tags=self.tags, mode=self.mode,
                                  where=self.where)
        out = []
        for i, h in enumerate(result.results):
            meta = hit_metadata(h)
            node = TextNode(id_=f"{h.artifact.artifact_id}:{i}", text=h.matched_chunk,
                            metadata=meta,
                            excluded_embed_metadata_keys=list(meta),
                            excluded_llm_metadata_keys=[k for k in meta if k != "citation"])
            out.append(NodeWithScore(node=node, score=float(h.score)))
        return out
