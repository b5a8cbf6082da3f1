"""Writing and removing the chunks of one owner (a version or a source) in both indexes.

The chunk rows and their keyword entries (``idx_chunks`` + FTS5 or tsvector, see ``_db.py``)
are written in one transaction, then Chroma is upserted; the generation counter in
``idx_state`` tells other processes' dense matrices to refresh.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ._db import IndexDB
from .chunk import Chunk

__all__ = ["ChunkOwner", "ChunkStore", "DenseMatrix"]


@dataclass
class ChunkOwner:
    """Whose chunks these are: ``owner_id`` is the artifact id, or the source id for sources."""

    owner_id: str
    scope: str  # "artifacts" | "sources"
    artifact_id: str
    root_artifact_id: str
    version: int
    name: str
    namespace: str
    session_id: str | None
    mime_type: str


def chunk_key(owner_id: str, ordinal: int) -> str:
    return f"{owner_id}:{ordinal}"


class ChunkStore:
    """The chunk rows of ``idx_chunks`` / ``idx_chunks_fts`` and the Chroma collection."""

    def __init__(self, db: IndexDB, vectors=None) -> None:
        self.db = db
        self.vectors = vectors  # ChromaVectors, or None in a process that does not hold it

    def keys_of(self, owner_id: str) -> list[str]:
        rows = self.db.query("SELECT chunk_key FROM idx_chunks WHERE owner_id = ?", (owner_id,))
        return [r[0] for r in rows]

    def replace(self, owner: ChunkOwner, chunks: Sequence[Chunk], vectors: np.ndarray,
                model_id: str) -> None:
        """Make ``chunks`` the owner's only chunks, in SQLite and in Chroma."""
        self.replace_many([(owner, chunks, vectors)], model_id)

    def replace_many(self, items: Sequence[tuple[ChunkOwner, Sequence[Chunk], np.ndarray]],
                     model_id: str) -> None:
        """:meth:`replace` for several owners with one Chroma upsert, one SQLite transaction
        and one Chroma delete (each Chroma call costs ~25 ms however few vectors it carries)."""
        old_keys: set[str] = set()
        ids: list[str] = []
        vecs: list[np.ndarray] = []
        metas: list[dict[str, Any]] = []
        for owner, chunks, vectors in items:
            old_keys.update(self.keys_of(owner.owner_id))
            meta = {"owner_id": owner.owner_id, "artifact_id": owner.artifact_id,
                    "scope": owner.scope, "namespace": owner.namespace,
                    "session_id": owner.session_id or "", "mime_type": owner.mime_type,
                    "version": owner.version}
            for c in chunks:
                ids.append(chunk_key(owner.owner_id, c.ordinal))
                metas.append(dict(meta, ordinal=c.ordinal))
            if len(chunks):
                vecs.append(np.asarray(vectors, dtype=np.float32))
        if self.vectors is not None and ids:
            self.vectors.upsert(ids, np.concatenate(vecs), metas)
        with self.db.transaction() as conn:
            for owner, chunks, _ in items:
                self.db.delete_owner_rows(conn, owner.owner_id)
                for c in chunks:
                    self.db.insert_chunk(conn, (
                        chunk_key(owner.owner_id, c.ordinal), owner.scope, owner.owner_id,
                        owner.artifact_id, owner.root_artifact_id, owner.version, owner.name,
                        owner.namespace, owner.session_id, owner.mime_type, c.ordinal, c.passage,
                        c.section or None, c.page, c.start, c.end, c.sha256, model_id,
                        json.dumps(c.location) if c.location else None),
                        c.embed_text)
            self.db.bump_generation(conn)
        stale = old_keys.difference(ids)
        if self.vectors is not None and stale:
            self.vectors.delete(sorted(stale))

    def remove(self, owner_ids: Sequence[str]) -> int:
        """Remove every chunk of these owners from both indexes; returns rows removed."""
        keys: list[str] = []
        for oid in owner_ids:
            keys.extend(self.keys_of(oid))
        if not keys:
            return 0
        if self.vectors is not None:
            self.vectors.delete(keys)
        n = 0
        with self.db.transaction() as conn:
            for oid in owner_ids:
                n += self.db.delete_owner_rows(conn, oid)
            self.db.bump_generation(conn)
        return n

    def rows(self, ids: Sequence[int]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            for r in self.db.query(f"SELECT * FROM idx_chunks WHERE id IN ({','.join('?' * len(part))})",
                                   part):
                out[r["id"]] = r
        return out

    def ids_for_keys(self, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            for r in self.db.query(
                    f"SELECT chunk_key, id FROM idx_chunks WHERE chunk_key IN ({','.join('?' * len(part))})",
                    part):
                out[r[0]] = r[1]
        return out

    def cosines(self, qvec: np.ndarray, ids: Sequence[int], model_id: str) -> dict[int, float]:
        """Cosine of ``qvec`` with the cached vectors of these chunks (read from SQLite)."""
        out: dict[int, float] = {}
        ids = list(ids)
        q = qvec.astype(np.float32)
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows = self.db.query(
                "SELECT c.id, e.vector FROM idx_chunks c JOIN idx_embeddings e "
                "ON e.model_id = c.model_id AND e.sha256 = c.sha256 "
                f"WHERE c.model_id = ? AND c.id IN ({','.join('?' * len(part))})",
                [model_id, *part])
            for cid, blob in rows:
                out[cid] = float(np.frombuffer(blob, dtype=np.float32) @ q)
        return out

    def owners(self, scope: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT owner_id FROM idx_chunks WHERE scope = ?", (scope,))]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM idx_chunks")[0][0])


class DenseMatrix:
    """All chunk vectors of one model in memory, refreshed when the generation changes.

    Serves dense search by exact brute-force cosine (one matrix product): in processes that
    do not hold the Chroma lock, and in the holder too while the index is small enough
    (``IndexService.brute_force_max``), where it is both exact and faster than an HNSW query.
    """

    def __init__(self, db: IndexDB, model_id: str) -> None:
        self.db = db
        self.model_id = model_id
        self._lock = threading.Lock()
        self._gen = -1
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix: np.ndarray | None = None
        self.meta: list[tuple[str, str, str, str]] = []  # scope, namespace, session, mime
        self._pos: dict[int, int] = {}
        self._cols: list[np.ndarray] = [np.zeros(0, dtype=np.int32)] * 4
        self._vocab: list[dict[str, int]] = [{} for _ in range(4)]

    def refresh(self) -> None:
        gen = self.db.generation()
        if gen == self._gen:
            return
        with self._lock:
            if gen == self._gen:
                return
            # every live id, then the rows not held yet: ids are not assigned in commit order
            # on a shared database, so "id > the largest seen" could miss a late commit
            live = {r[0] for r in self.db.query(
                "SELECT id FROM idx_chunks WHERE model_id = ?", (self.model_id,))}
            held = set(self.ids.tolist())
            keep = [i for i, cid in enumerate(self.ids.tolist()) if cid in live]
            ids = [int(self.ids[i]) for i in keep]
            meta = [self.meta[i] for i in keep]
            parts = [self.matrix[keep]] if self.matrix is not None and keep else []
            new = sorted(live - held)
            rows: list = []
            for i in range(0, len(new), 500):
                part = new[i:i + 500]
                rows += self.db.query(
                    "SELECT c.id, c.scope, c.namespace, c.session_id, c.mime_type, e.vector "
                    "FROM idx_chunks c JOIN idx_embeddings e "
                    "ON e.model_id = c.model_id AND e.sha256 = c.sha256 "
                    f"WHERE c.id IN ({','.join('?' * len(part))}) ORDER BY c.id", part)
            if rows:
                ids.extend(r[0] for r in rows)
                meta.extend((r[1], r[2], r[3] or "", r[4] or "") for r in rows)
                parts.append(np.stack([np.frombuffer(bytes(r[5]), dtype=np.float32) for r in rows]))
            self.ids = np.asarray(ids, dtype=np.int64)
            self.meta = meta
            self.matrix = np.concatenate(parts) if parts else None
            self._pos = {cid: i for i, cid in enumerate(ids)}
            # filter columns as integer codes, so a filtered search is a few vectorized compares
            self._vocab = [{} for _ in range(4)]
            self._cols = [np.fromiter((self._vocab[c].setdefault(m[c], len(self._vocab[c]))
                                       for m in meta), dtype=np.int32, count=len(meta))
                          for c in range(4)]
            self._gen = gen

    def search(self, qvec: np.ndarray, n: int, filters: dict[str, Any]) -> list[tuple[int, float]]:
        self.refresh()
        if self.matrix is None or not len(self.ids):
            return []
        scopes, ns, sid, mimes = (filters.get("scope"), filters.get("namespace"),
                                  filters.get("session_id"), filters.get("mime_type"))
        mask = None
        for col, want in ((0, scopes), (1, [ns] if ns is not None else None),
                          (2, [sid] if sid is not None else None), (3, mimes)):
            if want:
                codes = [self._vocab[col][v] for v in want if v in self._vocab[col]]
                if not codes:
                    return []
                m = (self._cols[col] == codes[0]) if len(codes) == 1 else \
                    np.isin(self._cols[col], codes)
                mask = m if mask is None else mask & m
        sims = self.matrix @ qvec.astype(np.float32)  # all rows: cheaper than copying some
        idx = None
        if mask is not None:
            idx = np.nonzero(mask)[0]
            if not len(idx):
                return []
            sims = sims[idx]
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        rows = top if idx is None else idx[top]
        return list(zip(self.ids[rows].tolist(), sims[top].tolist()))

    def cosines(self, qvec: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        self.refresh()
        out = {}
        for cid in ids:
            pos = self._pos.get(cid)
            if pos is not None and self.matrix is not None:
                out[cid] = float(self.matrix[pos] @ qvec)
        return out
