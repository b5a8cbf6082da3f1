"""Vector storage in Chroma, and the lock that makes one process its owner.

Chroma's ``PersistentClient`` must be opened by one process at a time, so the embedded store
guards ``<root>/index`` with an exclusive ``fcntl.flock`` on ``<root>/index.lock``: the process
that gets it (non-blocking) opens Chroma and drains index work; the others leave work pending in
the catalog and answer dense queries from the vectors cached in SQLite (see ``service.py``).
With ``index_url="http://host:port"`` every process talks to a Chroma server instead.

Embeddings are always passed explicitly (Chroma's default embedding function would try to
download a model) into a cosine-space collection named after the embedding model.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlparse

import numpy as np

from ..errors import IndexUnavailableError, InvalidInputError

__all__ = ["IndexLock", "ChromaVectors", "collection_name", "copy_collections"]


def collection_name(model_id: str, dim: int) -> str:
    """A valid Chroma collection name (3-512 chars of [a-zA-Z0-9._-]) for a model."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", model_id.split("/")[-1]).strip("-._") or "model"
    return f"na-{slug[:60]}-{dim}"


class IndexLock:
    """An exclusive, non-blocking ``flock`` held for the life of the owning process.

    Its threads share it: two flocks on two descriptors exclude each other even in one
    process, so a thread acquiring it while another is (the index worker starting as a query
    opens the vectors) must wait for that one, not fail."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        import fcntl

        with self._mutex:
            if self._fd is not None:
                return True
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self._fd = fd
            return True

    def release(self) -> None:
        import fcntl

        with self._mutex:
            if self._fd is None:
                return
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def open_client(path: str | Path | None = None, url: str | None = None) -> Any:
    """A Chroma client: of the server at ``url`` (checked with a heartbeat), else of the
    embedded directory ``path``."""
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError as exc:
        raise IndexUnavailableError(
            "the vector index needs chromadb: pip install 'notebook-artifacts[index]'") from exc
    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if not url:
        Path(path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(f"index_url must look like http://host:port, got {url!r}")
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname, port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https", settings=settings)
        client.heartbeat()
    except Exception as exc:
        raise IndexUnavailableError(
            f"cannot reach the Chroma server at {url}: {exc}; start it with "
            "`chroma run --path DIR --host HOST --port PORT`") from exc
    return client


class ChromaVectors:
    """One Chroma collection: ``upsert``/``delete``/``query`` with explicit embeddings."""

    def __init__(self, path: str | Path | None = None, *, url: str | None = None,
                 name: str) -> None:
        self.client = open_client(path, url)
        self.name = name
        self.collection = self.client.get_or_create_collection(
            name=name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        try:
            self.max_batch = int(self.client.get_max_batch_size())
        except Exception:  # pragma: no cover - older clients
            self.max_batch = 1000

    def count(self) -> int:
        return self.collection.count()

    def upsert(self, ids: Sequence[str], embeddings, metadatas: Sequence[dict[str, Any]]) -> None:
        for i in range(0, len(ids), self.max_batch):
            self.collection.upsert(
                ids=list(ids[i:i + self.max_batch]),
                embeddings=np.asarray(embeddings[i:i + self.max_batch], dtype=np.float32),
                metadatas=list(metadatas[i:i + self.max_batch]))

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), self.max_batch):
            self.collection.delete(ids=ids[i:i + self.max_batch])

    def query(self, embedding, n: int, where: dict[str, Any] | None = None
              ) -> list[tuple[str, float]]:
        """``(id, cosine similarity)`` of the ``n`` nearest vectors matching ``where``."""
        n = max(1, n)
        res = self.collection.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)],
                                    n_results=n, where=where or None,
                                    include=["distances"])
        ids = res["ids"][0] if res["ids"] else []
        dists = res["distances"][0] if res.get("distances") else []
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists)]

    def close(self) -> None:
        """Close the client: Chroma keeps one cached system per path per process, released
        only by ``close()``; a cached one would outlive a deleted ``index/`` directory."""
        client, self.collection, self.client = self.client, None, None
        close = getattr(client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # pragma: no cover - closing must never fail a store's close
                pass


#: vectors read and written per request when copying a collection
COPY_PAGE = 1000


def copy_collections(path: str | Path, url: str) -> dict[str, int]:
    """Copy every collection of the embedded Chroma directory ``path`` to the Chroma server
    at ``url`` (ids, vectors and metadata as they are: nothing is embedded again), then
    verify that the server holds each vector exactly; returns the vectors per collection.

    The caller holds the index lock (no other process may have ``path`` open). Copying into a
    collection that already exists upserts: running it again converges.
    """
    src_client = open_client(path)
    try:
        names = sorted(c if isinstance(c, str) else c.name for c in src_client.list_collections())
        copied: dict[str, int] = {}
        for name in names:
            src = src_client.get_collection(name, embedding_function=None)
            dst = ChromaVectors(url=url, name=name)
            try:
                for offset in range(0, src.count(), COPY_PAGE):
                    page = src.get(limit=COPY_PAGE, offset=offset,
                                   include=["embeddings", "metadatas"])
                    if page["ids"]:
                        dst.upsert(page["ids"], page["embeddings"], page["metadatas"])
                copied[name] = _verify_copy(src, dst.collection, name, url)
            finally:
                dst.close()
        return copied
    finally:
        close = getattr(src_client, "close", None)
        if close is not None:
            close()


def _verify_copy(src: Any, dst: Any, name: str, url: str) -> int:
    from ..errors import IntegrityError

    total = src.count()
    if dst.count() < total:
        raise IntegrityError(f"vector copy check failed: collection {name} has {total} vectors "
                             f"here, {dst.count()} on {url}; run migrate again")
    for offset in range(0, total, COPY_PAGE):
        want = src.get(limit=COPY_PAGE, offset=offset, include=["embeddings", "metadatas"])
        got = dst.get(ids=list(want["ids"]), include=["embeddings", "metadatas"])
        have = {i: (e, m) for i, e, m in zip(got["ids"], got["embeddings"], got["metadatas"])}
        for i, e, m in zip(want["ids"], want["embeddings"], want["metadatas"]):
            if i not in have or have[i][1] != m or not np.allclose(have[i][0], e, atol=1e-6):
                raise IntegrityError(f"vector copy check failed: {i} of collection {name} "
                                     f"differs on {url}; run migrate again")
    return total
