"""IndexService: the background indexer and the query engine over one store root.

Indexing. A daemon thread (started lazily by :meth:`IndexService.wake`) drains
``Catalog.pending_index_jobs``: read blob -> extract -> chunk -> embed (cached) -> write SQLite
(``idx_chunks`` + FTS5) and Chroma -> ``Catalog.set_index_state`` with event ``indexed`` or
``index_failed``. Binary content ends ``skipped``; malformed content ``failed`` at once;
transient errors (I/O, a busy database, an unreachable Chroma server) are retried with
exponential backoff up to :data:`MAX_ATTEMPTS` before ``failed``. One bad file never stops
the others.

Who indexes. Embedded, Chroma's PersistentClient is single-process, so only the process that
holds ``<root>/index.lock`` opens ``<root>/index`` and drains; the others leave work pending
(their worker keeps trying the lock and takes over when the holder exits). With ``index_url``
every process uses the Chroma server and drains (writes are idempotent upserts). On a shared
catalog (PostgreSQL) there is no lock: every process drains, claiming jobs row by row
(``Catalog.claim_index_jobs``, ``FOR UPDATE SKIP LOCKED``), so nothing is embedded twice;
without ``index_url`` the vectors are then served from the shared embedding cache.

Progress. The worker counts the chunks it has chunked and embedded and says what it is doing
(``progress.py``); :meth:`IndexService.indexing_progress` reads them for the progress bars of
``wait_indexed`` and ``query``. Embedding goes through the cache a slice of chunks at a time
(taken by length, as the embedder batches them), so the counters move within a long document.

Deletion and expiry. The holder follows the catalog's event log (cursor kept in ``idx_state``)
and removes the chunks of ``deleted`` / ``expired`` versions from both indexes; on start it also
sweeps chunks whose version is gone, so nothing is missed while no process held the lock.

Queries work in every process: dense candidates come from an exact brute-force cosine over
the vectors cached in SQLite (one matrix product, about a millisecond for 10k chunks) while
the index has at most ``brute_force_max`` chunks or this process does not hold Chroma, and
from Chroma (or the server) above that; keyword candidates come from FTS5; both are fused
(``fuse.py``) and filtered against the catalog's current records (latest, expired, tags,
metadata), so filters are always exact even though the chunk rows are immutable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import IntegrityError, InvalidInputError, NotFoundError
from ..models import Artifact, QueryHit, QueryResult, Source
from ..storage.blobs import BlobStore
from ..storage.catalog import Catalog
from ..storage.events import EventFilter
from ..storage.ttl import iso_utc, parse_iso
from ._chunkstore import ChunkOwner, ChunkStore, DenseMatrix
from ._db import IndexDB
from .chunk import chunk_document
from .context import DEFAULT_CONTEXT_BUDGET, ContextChunk, citation, combined_context
from .embed import Embedder, EmbeddingCache
from ._budget import default_extract_budget, extract_within_budget
from .extract import ExtractionError, SkipExtraction, TransientIndexError, is_embedded
from .formats import KINDS, check_size
from . import fuse as _fuse
from .fuse import MIN_SCORE, MODES, doc_score, fuse, rrf
from .keyword import _filter_sql
from .progress import IndexProgress, ProgressCounters
from .question import split_question

__all__ = ["IndexService", "MAX_ATTEMPTS", "NEIGHBOUR_RATIO", "SCOPES", "VERSIONS"]

log = logging.getLogger("notebook_artifacts.index")

MAX_ATTEMPTS = 4
BACKOFF_BASE = 0.5  # seconds; attempt n waits BACKOFF_BASE * 2**(n-1)
POLL_SECONDS = 1.0  # how often an idle worker looks for work queued by other processes
#: the worker thread's nice value: on busy CPUs, puts, queries and the user's own code go first
WORKER_NICE = 10
BATCH_JOBS = 16  # versions extracted, embedded and written per round
#: at least this many chunks (a multiple of the embedder's batch) go through the cache at a
#: time, so that progress moves while a long document is embedded
EMBED_SLICE = 32
CONTENT_TEXT_LIMIT = 200_000
#: Up to this many chunks, dense search is an exact in-memory matrix product (about 1 ms per
#: 10k chunks, 1.5 KB of memory per chunk) instead of a Chroma HNSW query (~10-20 ms of fixed
#: overhead per call); above it, the holder asks Chroma (or the server) and reads the cosines
#: of keyword-only candidates from SQLite.
BRUTE_FORCE_MAX = 50_000
SCOPES = ("artifacts", "sources", "all")
VERSIONS = ("latest", "all")
_TRANSIENT = (TransientIndexError, sqlite3.OperationalError, ConnectionError, TimeoutError)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, IsADirectoryError)):
        return True
    name = type(exc).__name__.lower()  # httpx / chromadb connection errors
    return any(w in name for w in ("connect", "timeout", "unavailable"))


class IndexService:
    """Background indexing, queries, promotion to sources; one per store."""

    def __init__(self, root: str | Path, catalog: Catalog, blobs: BlobStore, *,
                 index_url: str | None = None, embedding_model: str | None = None,
                 device: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.catalog = catalog
        self.blobs = blobs
        self.index_url = index_url
        self.clock = clock
        self.db = IndexDB(catalog.component_db())
        #: a shared catalog: no lock file, every process claims jobs; Chroma only as a server
        self.shared = self.db.shared
        self.worker_id = f"{os.uname().nodename}:{os.getpid()}:{secrets.token_hex(4)}"
        self.embedder = Embedder(embedding_model, device)
        self.cache = EmbeddingCache(self.db, self.embedder)
        self.chunks = ChunkStore(self.db)
        self._matrix: DenseMatrix | None = None
        from .vectors import IndexLock

        self.lock = IndexLock(self.root / "index.lock")
        self._vectors = None
        self._vectors_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._start_lock = threading.Lock()
        self._busy = threading.Event()
        #: rounds that found nothing to do (wait_indexed: a whole idle round after pending
        #: reached 0 means done, even if the next round has begun by the time it looks)
        self._idle_rounds = 0
        self._progress = threading.Condition()
        #: chunks chunked and embedded so far, and the phase (read by indexing_progress)
        self.counters = ProgressCounters()
        self._retry_at: dict[str, float] = {}
        self._swept = False
        self._removal_cursor: str | None = None
        #: hybrid fusion: "convex" (default, see fuse.py) or "rrf"; and the dense weight
        #: False: never start the worker on put/reindex/promote, only in ``wait_indexed``
        #: (short-lived processes such as the CLI leave work to the index holder)
        self.background = True
        self.fusion = "convex"
        self.dense_weight = _fuse.DENSE_WEIGHT
        #: dense search uses the in-memory matrix up to this many chunks, Chroma above it
        self.brute_force_max = BRUTE_FORCE_MAX
        self._pool = None  # one thread: keyword search alongside the query's embedding
        #: seconds one extraction may run before that version is failed (see _budget.py)
        self.extract_budget = default_extract_budget()

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def holder(self) -> bool:
        """True when this process may write the vector index (lock held, a server, or a
        shared catalog)."""
        return bool(self.index_url) or self.shared or self.lock.held

    @property
    def _uses_chroma(self) -> bool:
        """Chroma serves vectors: a server (``index_url``), or the embedded one (one machine)."""
        return bool(self.index_url) or not self.shared

    def wake(self) -> None:
        """Start the worker if needed and tell it there is work."""
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return  # a wake after close (a late event) never starts a worker again
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="notebook-artifacts-indexer",
                                            daemon=True)
            self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the worker (after its current item), release the lock, close connections."""
        with self._start_lock:
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._vectors_lock:
            if self._vectors is not None:
                self._vectors.close()
                self._vectors = None
        self.lock.release()
        self.db.close()

    def vectors(self):
        """The Chroma collection if this process may use it, else None (never blocks)."""
        if self._vectors is not None:
            return self._vectors
        with self._vectors_lock:
            if self._vectors is not None:
                return self._vectors
            if not self._uses_chroma:
                return None
            if not self.index_url and not self.lock.try_acquire():
                return None
            from .vectors import ChromaVectors, collection_name

            name = collection_name(self.embedder.model_id, self.embedder.dim)
            try:
                self._vectors = ChromaVectors(self.root / "index", url=self.index_url, name=name)
            except Exception:
                if not self.index_url:
                    self.lock.release()
                raise
            self.chunks.vectors = self._vectors
            return self._vectors

    def _run(self) -> None:
        _lower_priority()
        while not self._stop.is_set():
            try:
                worked = self._tick()
            except Exception:  # never let the worker die; log and back off
                log.exception("index worker error")
                worked = False
            if not worked:
                with self._progress:
                    self._idle_rounds += 1
                    self._progress.notify_all()
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()

    def _tick(self) -> bool:
        """One round of work; True if something was done (so loop again at once)."""
        if not self.holder:
            if not self.lock.try_acquire():
                return False
        self._busy.set()
        try:
            pending = self._claim()
            skipped = self._skip_binary(pending)
            if self._vectors is None and not self._needs_vectors(pending):
                return skipped  # only binaries so far: don't load the model or open Chroma
            jobs, prepared = None, []
            if self._vectors is None and self._uses_chroma:  # first round: embed while Chroma opens
                jobs, prepared = self._prepare_while_opening_vectors()
            vec = self.vectors()
            if vec is None and self._uses_chroma:
                return skipped
            did = self._apply_removals() or skipped
            did = self._index_sources() or did
            if jobs is None:
                jobs = self._due_jobs()
                prepared = self._prepare(jobs)
            if prepared and not self._stop.is_set():
                self._write_batch(prepared)
            return did or bool(jobs)
        finally:
            self.counters.phase("idle")
            self._busy.clear()
            with self._progress:
                self._progress.notify_all()

    def _yield(self) -> None:
        """Let puts in progress in this process write first (bounded wait; storage/writer_gate)."""
        self.catalog.writers.yield_to_writers()

    def _claim(self) -> list[Artifact]:
        self._yield()
        return self.catalog.claim_index_jobs(self.worker_id, BATCH_JOBS, self.clock())

    def _due_jobs(self) -> list[Artifact]:
        return [j for j in self._claim()
                if self._retry_at.get(j.artifact_id, 0) <= time.monotonic()]

    def _prepare_while_opening_vectors(self) -> tuple[list[Artifact], list]:
        """Open Chroma (its import alone takes ~3 s on 2 cores) in a helper thread while this
        one extracts, chunks and embeds the first batch: the model's forward pass releases the
        GIL, so the two overlap. An error opening Chroma is raised again by the caller's own
        ``vectors()`` (the batch's vectors stay in the embedding cache)."""
        def open_quietly() -> None:
            try:
                self.vectors()
            except Exception:
                pass

        opener = threading.Thread(target=open_quietly, name="notebook-artifacts-chroma-open",
                                  daemon=True)
        opener.start()
        try:
            jobs = self._due_jobs()
            return jobs, self._prepare(jobs)
        finally:
            opener.join()

    def _skip_binary(self, pending: Sequence[Artifact]) -> bool:
        """Mark the pending binary versions skipped without the model (a store of only binary
        puts never loads torch, the model or Chroma)."""
        jobs = [j for j in pending if _is_binary(j)]
        if not jobs:
            return False
        # one transaction for the whole batch (a put_many of 1000 files: one commit, not 1000)
        self.chunks.remove([a.artifact_id for a in jobs])
        stamp = iso_utc(self.clock())
        states = []
        for art in jobs:
            self._retry_at.pop(art.artifact_id, None)
            states.append((art.artifact_id, dict(
                status="skipped", is_indexed=False, indexed_at=stamp, index_collection=None,
                index_error=f"binary content ({art.mime_type or 'unknown type'}) is not embedded",
                index_attempts=art.index_attempts + 1, embedding_model_id=self.embedder.model_id,
                chunk_count=0, event_type="indexed")))
        self.catalog.set_index_states(states, now=self.clock())
        return True

    def _needs_vectors(self, pending: Sequence[Artifact]) -> bool:
        """Work for the vector index: something to embed, or chunks that may need removal."""
        if pending:  # only binaries next in line: they were just skipped (the next round looks on)
            return not all(_is_binary(j) for j in pending)
        return self.chunks.count() > 0 or self.db.has_pending_sources()

    # -- indexing ----------------------------------------------------------------------------
    def _owner(self, art: Artifact, scope: str = "artifacts", owner_id: str | None = None
               ) -> ChunkOwner:
        return ChunkOwner(owner_id or art.artifact_id, scope, art.artifact_id,
                          art.root_artifact_id, art.version, art.name, art.namespace,
                          art.session_id, (art.mime_type or "").split(";")[0].strip().lower())

    def _read(self, sha256: str) -> bytes:
        with self.blobs.open(sha256) as f:
            return f.read()

    def _chunk(self, art: Artifact, data: bytes):
        doc = extract_within_budget(data, art.mime_type, art.file_name or art.name, self.extract_budget)
        chunks = chunk_document(doc, art.name, self.embedder.token_offsets, self.embedder.window)
        return doc, chunks

    def _prepare(self, jobs: Sequence[Artifact]) -> list:
        """Extract and chunk each version, then embed all their chunks in one length-sorted
        pass through the cache; returns ``(artifact, extracted, chunks, vectors)`` for those
        that got this far (the others are marked failed or skipped)."""
        if not jobs or self._stop.is_set():
            return []
        self.counters.phase("chunking")
        prepared = []
        for art in jobs:
            self._yield()  # extraction and chunking hold the GIL: one document at a time
            try:
                check_size(art.mime_type, art.file_name or art.name, art.size_bytes)
                try:
                    data = self._read(art.sha256)
                except IntegrityError as exc:
                    raise ExtractionError(str(exc)) from None
                doc, chunks = self._chunk(art, data)
                if not chunks:
                    raise SkipExtraction("no text to index")
                prepared.append((art, doc, chunks))
                self.counters.chunked(len(chunks))
            except Exception as exc:
                self._fail(art, exc)
        if not prepared:
            return []
        try:
            texts = [c.embed_text for _, _, chunks in prepared for c in chunks]
            vecs = self._embed(texts)
        except Exception as exc:
            for art, _, _ in prepared:
                self._fail(art, exc)
            return []
        out, pos = [], 0
        for art, doc, chunks in prepared:
            out.append((art, doc, chunks, vecs[pos:pos + len(chunks)]))
            pos += len(chunks)
        return out

    def _embed(self, texts: Sequence[str]):
        """The cache's vectors for ``texts`` (row per text), a slice at a time, each slice
        counted as embedded. The slices follow the texts sorted by length and hold whole
        batches of the embedder, which sorts them so too: slicing changes no batch."""
        self.counters.phase("embedding")
        if not texts:
            return self.cache.get_or_embed(texts)
        batch = max(1, self.embedder.batch_size or 1)
        step = batch * max(8, -(-EMBED_SLICE // batch))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs, done = None, 0
        try:
            for start in range(0, len(order), step):
                part = order[start:start + step]
                got = self.cache.get_or_embed([texts[i] for i in part])
                if vecs is None:
                    vecs = np.empty((len(texts), got.shape[1]), dtype=got.dtype)
                vecs[part] = got
                done += len(part)
                self.counters.embedded(len(part))
        except BaseException:
            self.counters.dropped(len(texts) - done)
            raise
        return vecs

    def _write_batch(self, prepared: Sequence) -> None:
        """Write prepared versions: one Chroma upsert and one SQLite transaction, then each
        version's state and event."""
        self.counters.phase("writing")
        items = [(self._owner(art), chunks, vecs) for art, _, chunks, vecs in prepared]
        self._yield()
        try:  # one Chroma upsert and one SQLite transaction for the whole batch
            self.chunks.replace_many(items, self.embedder.model_id)
        except Exception as exc:
            for art, *_ in prepared:
                self._fail(art, exc)
            return
        for art, doc, chunks, _ in prepared:
            self._retry_at.pop(art.artifact_id, None)
            content_text = None
            if not art.content_text and (doc.kind in ("pdf", "html") or doc.kind in KINDS):
                content_text = doc.text[:CONTENT_TEXT_LIMIT]
            ok = self._set_state(art, status="indexed", is_indexed=True,
                                 indexed_at=iso_utc(self.clock()),
                                 index_collection=self._vectors.name if self._vectors else None,
                                 index_error=None, chunk_count=len(chunks), event_type="indexed",
                                 content_text=content_text, index_attempts=art.index_attempts + 1,
                                 embedding_model_id=self.embedder.model_id)
            if not ok:  # deleted while we indexed it
                self.chunks.remove([art.artifact_id])

    def _fail(self, art: Artifact, exc: BaseException) -> None:
        """Record a skip, a retry (transient, with backoff) or a permanent failure."""
        attempts = art.index_attempts + 1
        common = dict(index_attempts=attempts, embedding_model_id=self.embedder.model_id,
                      is_indexed=False, index_collection=None, chunk_count=0)
        if isinstance(exc, SkipExtraction):
            self._retry_at.pop(art.artifact_id, None)
            self.chunks.remove([art.artifact_id])
            self._set_state(art, status="skipped", indexed_at=iso_utc(self.clock()),
                            index_error=str(exc), event_type="indexed", **common)
            return
        transient = _is_transient(exc)
        msg = str(exc) if isinstance(exc, ExtractionError) else f"{type(exc).__name__}: {exc}"
        if transient and attempts < MAX_ATTEMPTS:
            self._retry_at[art.artifact_id] = time.monotonic() + BACKOFF_BASE * 2 ** (attempts - 1)
            self._set_state(art, status="pending", indexed_at=None,
                            index_error=f"transient, will retry: {msg}", event_type=None, **common)
            return
        self._retry_at.pop(art.artifact_id, None)
        if transient:
            msg = f"gave up after {attempts} attempts: {msg}"
        else:
            log.info("indexing %s failed: %s", art.artifact_id, msg)
        self._set_state(art, status="failed", indexed_at=None, index_error=msg,
                        event_type="index_failed", **common)

    def _set_state(self, art: Artifact, **fields) -> bool:
        self._yield()
        try:
            self.catalog.set_index_state(art.artifact_id, now=self.clock(), **fields)
            return True
        except NotFoundError:
            return False

    def _apply_removals(self) -> bool:
        """Drop chunks of versions deleted or expired since the last look (event log)."""
        # on a shared catalog each process follows the log from its own start (removals are
        # idempotent), so the cursor lives in memory
        key = "event_cursor"
        cur = self._removal_cursor if self.shared else self.db.get_state(key)
        if cur is None:
            events, nxt, gap = [], self.catalog.latest_cursor(), True
        else:
            events, nxt, _more, gap = self.catalog.fetch_events(
                int(cur), EventFilter(types=("deleted", "expired")), 1000)
        gone = [e.artifact_id for e in events if e.artifact_id]
        did = False
        if gone:
            did = self.chunks.remove(gone) > 0
        if gap or not self._swept:
            did = self._sweep() or did
            self._swept = True
        if self.shared:
            self._removal_cursor = str(nxt)
        elif cur is None or int(cur) != nxt:
            self.db.set_state(key, str(nxt))
        return did

    def _sweep(self) -> bool:
        """Remove chunks whose version no longer exists or has expired."""
        owners = self.chunks.owners("artifacts")
        if not owners:
            return False
        live = self.catalog.get_many(owners)
        gone = [o for o in owners if o not in live or live[o].is_expired]
        return bool(gone) and self.chunks.remove(gone) > 0

    # -- sources -----------------------------------------------------------------------------
    def promote(self, art: Artifact, message: str = "") -> Source:
        """Make ``art`` a durable source (idempotent per version) and queue its indexing."""
        existing = self.source_for(art.artifact_id)
        if existing is not None:
            return existing
        source_id = "src_" + secrets.token_hex(12)
        stamp = iso_utc(self.clock())
        msg = message or f"promoted {art.name} v{art.version} to source {source_id}"
        self.catalog.pin_blob(source_id, art.sha256)  # its content outlives the version
        self.db.add_source(dict(
            source_id=source_id, source_name=art.name, artifact_id=art.artifact_id,
            root_artifact_id=art.root_artifact_id, version=art.version, namespace=art.namespace,
            sha256=art.sha256, created_at=stamp, message=msg, record_json=json.dumps(art.to_dict())))
        try:
            self.catalog.update_version(
                art.artifact_id, {"promoted_to_source_id": source_id}, now=self.clock(),
                event_type="promoted", event_data={"source_id": source_id})
        except Exception:
            self.db.delete_source(source_id)
            self.catalog.unpin_blob(source_id)
            raise
        if self.background:
            self.wake()
        return self.source_for(art.artifact_id)  # type: ignore[return-value]

    def source_for(self, artifact_id: str) -> Source | None:
        row = self.db.source_by_artifact(artifact_id)
        return self._to_source(row) if row else None

    @staticmethod
    def _to_source(row) -> Source:
        return Source(source_id=row["source_id"], source_name=row["source_name"],
                      artifact_id=row["artifact_id"], root_artifact_id=row["root_artifact_id"],
                      version=row["version"], namespace=row["namespace"], sha256=row["sha256"],
                      created_at=row["created_at"], message=row["message"])

    def sources(self, namespace: str | None = None) -> list[Source]:
        return [self._to_source(r) for r in self.db.source_rows(namespace)]

    def source_digests(self) -> set[str]:
        """Blob digests that promoted sources keep alive (gc must not remove them)."""
        return self.db.source_digests()

    def _source_record(self, row) -> Artifact:
        d = json.loads(row["record_json"])
        return Artifact(**d)

    def _index_sources(self) -> bool:
        rows = self.db.claim_pending_sources(16)
        for i, row in enumerate(rows):
            try:
                self._index_source(row)
            except BaseException:
                with contextlib.suppress(Exception):  # the database may be what failed
                    for left in rows[i:]:  # transient: give the claims back for a retry
                        self.db.set_source_status(left["source_id"], "pending")
                raise
        return bool(rows)

    def _index_source(self, row: Any) -> None:
        art = self._source_record(row)
        status = "indexed"
        try:
            doc, chunks = self._chunk(art, self._read(row["sha256"]))
            self.counters.chunked(len(chunks))
            vecs = self._embed([c.embed_text for c in chunks])
            self.chunks.replace(self._owner(art, "sources", row["source_id"]), chunks, vecs,
                                self.embedder.model_id)
        except SkipExtraction:
            status = "skipped"
        except Exception as exc:
            if _is_transient(exc):
                raise
            status = "failed"
            log.warning("source %s could not be indexed: %s", row["source_id"], exc)
        self.db.set_source_status(row["source_id"], status)

    # -- waiting and reindexing ---------------------------------------------------------------
    def indexing_progress(self) -> IndexProgress:
        """The counters of this process's indexer (chunks chunked and embedded, the phase)."""
        return self.counters.snapshot(model_loaded=self.embedder.loaded, holder=self.holder)

    def pending_count(self) -> int:
        return self.catalog.pending_count() + self.db.pending_source_count()

    def wait_indexed(self, timeout: float | None = None) -> bool:
        """Block until no version or source is pending; False if ``timeout`` passed first."""
        if self.pending_count() == 0 and not self._busy.is_set():
            return True  # nothing to do: don't start the worker (or load the model) for nothing
        self.wake()
        deadline = None if timeout is None else time.monotonic() + timeout
        idle_since: int | None = None  # idle rounds counted when pending was first seen at 0
        while True:
            if self.pending_count() == 0:
                # done once no round is running, or once a whole round found nothing (a
                # worker woken by this wait may already be in its next round when it looks)
                if not self._busy.is_set() or (idle_since is not None
                                               and self._idle_rounds > idle_since):
                    return True
                if idle_since is None:
                    idle_since = self._idle_rounds
            else:
                idle_since = None
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._wake.set()
            with self._progress:  # woken when our worker finishes a round; polls for others
                self._progress.wait(0.05)

    def reindex(self, artifact_ids: Sequence[str] | None = None) -> int:
        """Queue versions (default: every live version, and all sources) for re-indexing."""
        if artifact_ids is None:
            ids = self.catalog.live_artifact_ids()
            self.db.requeue_sources()
        else:
            ids = list(artifact_ids)
        for i in ids:
            self._retry_at.pop(i, None)
        n = self.catalog.mark_pending(ids) if ids else 0
        if self.background:
            self.wake()
        return n

    # -- query ---------------------------------------------------------------------------------
    def _dense_matrix(self) -> DenseMatrix:
        if self._matrix is None:
            self._matrix = DenseMatrix(self.db, self.embedder.model_id)
        return self._matrix

    def query(self, text: str, k: int = 10, *, namespace: str | None = None,
              session_id: str | None = None, tags: Sequence[str] | None = None,
              mime_types: Sequence[str] | None = None, where: dict[str, Any] | None = None,
              mode: str = "hybrid", versions: str = "latest", scope: str = "artifacts",
              context_budget: int = DEFAULT_CONTEXT_BUDGET,
              min_score: float | None = None) -> QueryResult:
        """Ranked artifacts for ``text``; see :meth:`ArtifactStore.query`."""
        text, k, tags, mime_types, where = _validate_query(
            text, k, tags, mime_types, where, mode, versions, scope, context_budget)
        floor = _validate_min_score(min_score, mode)
        scopes = ["artifacts", "sources"] if scope == "all" else [scope]
        filters = {"scope": scopes, "namespace": namespace, "session_id": session_id,
                   "mime_type": list(mime_types) or None}
        note = self._nothing_to_search(filters)
        if note:  # answered without the model: there is nothing to rank
            return QueryResult(results=[], combined_context="", total_results=0, query=text,
                               note=note)
        parts = split_question(text)
        # the keyword searches (SQLite, which releases the GIL) run while the query is embedded
        n = max(50, 5 * k)
        kw_first = [self._query_pool().submit(lambda p=p: self.db.keyword_search(p, n, filters))
                    if mode == "hybrid" else None for p in parts]
        qvecs = [self.embedder.encode_query(p) if mode != "keyword" else None for p in parts]
        now = self.clock()
        total_chunks = self.chunks.count()
        sources = {r["source_id"]: r for r in self.db.source_rows()} \
            if "sources" in scopes else {}
        found = [self._search(p, qv, kw, k, mode, filters, versions, tags, where, now, sources,
                              floor, total_chunks)
                 for p, qv, kw in zip(parts, qvecs, kw_first)]
        hits_out, passages = _merge_parts(found, k)
        blocks = [ContextChunk(h.artifact.name, h.artifact.version, text_, page, heading, location)
                  for h, rows in zip(hits_out, passages)
                  for text_, page, heading, location in _passage_blocks(rows)]
        context, _numbers = combined_context(blocks, context_budget)
        return QueryResult(results=hits_out, combined_context=context,
                           total_results=len(hits_out), query=text)

    def _nothing_to_search(self, filters: dict[str, Any]) -> str:
        """A note when no chunk lies in the query's scope (so the model is never loaded)."""
        where, params = _filter_sql(filters)
        if self.db.query(f"SELECT 1 FROM idx_chunks c WHERE 1 = 1 {where} LIMIT 1", params):
            return ""
        ns, sid = filters.get("namespace"), filters.get("session_id")
        scope = "the store" if ns is None and sid is None else \
            " ".join(x for x in (f"namespace {ns!r}" if ns is not None else "",
                                 f"session {sid!r}" if sid is not None else "") if x)
        listed = self.catalog.list_latest(namespace=ns, session_id=sid, tags=None, types=None,
                                          include_expired=False, limit=1, cursor=None).total
        if not listed:
            return f"{scope} is empty: nothing to search (put some files first)"
        return (f"nothing indexed in {scope} yet: its artifacts are pending indexing or hold no "
                "text (binary files are stored but not embedded); see `ls` or wait_indexed()")

    def _search(self, text, qvec, kw_first, k, mode, filters, versions, tags, where, now,
                sources, floor, total_chunks):
        """One question (or one part of one): fused chunks -> filtered hits with passages."""
        n = max(50, 5 * k)
        while True:
            dense: dict[int, float] = {}
            kw: dict[int, float] = {}
            truncated = False
            if qvec is not None:
                cand = self._dense_candidates(qvec, n, filters, total_chunks)
                truncated |= len(cand) >= n
                dense.update(cand)
            if mode != "dense":
                if kw_first is not None:
                    hits, kw_first = kw_first.result(), None
                else:
                    hits = self.db.keyword_search(text, n, filters)
                truncated |= len(hits) >= n
                kw.update(hits)
            if qvec is not None and mode == "hybrid":
                missing = [cid for cid in kw if cid not in dense]
                if missing:
                    dense.update(self._cosines(qvec, missing, total_chunks))
            if mode == "hybrid" and self.fusion == "rrf":
                ranked = rrf(dense, kw)
            else:
                ranked = fuse(dense, kw, mode, self.dense_weight)
            found = self._collect(ranked, k, versions, tags, where, now, sources, floor)
            below = bool(ranked) and ranked[-1][1] < floor  # candidates reach under the floor
            if len(found) >= k or below or not truncated or n >= total_chunks:
                return found
            n *= 4

    def _query_pool(self):
        if self._pool is None:
            with self._start_lock:
                if self._pool is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="notebook-artifacts-query")
        return self._pool

    def _use_chroma(self, total_chunks: int) -> bool:
        if self._uses_chroma and self.holder and total_chunks > self.brute_force_max:
            self._matrix = None  # grown past brute force: free the in-memory vectors
            return True
        return False

    def _cosines(self, qvec, ids: Sequence[int], total_chunks: int) -> dict[int, float]:
        if self._use_chroma(total_chunks):  # don't hold a large index in memory
            return self.chunks.cosines(qvec, ids, self.embedder.model_id)
        return self._dense_matrix().cosines(qvec, ids)

    def _dense_candidates(self, qvec, n: int, filters: dict[str, Any], total_chunks: int
                          ) -> dict[int, float]:
        vec = None
        if self._use_chroma(total_chunks):
            try:
                vec = self.vectors()
            except Exception:  # the server is down: fall back to the local cache
                log.warning("vector index unavailable; using cached vectors", exc_info=True)
        if vec is None:
            return dict(self._dense_matrix().search(qvec, n, filters))
        found = vec.query(qvec, n, _chroma_where(filters))
        ids = self.chunks.ids_for_keys([key for key, _ in found])
        # Chroma's distances are exact for the neighbours it returns (HNSW approximates only
        # which neighbours), so they are used as they are
        return {cid: sim for (key, sim) in found if (cid := ids.get(key)) is not None}

    def _collect(self, ranked, k, versions, tags, where, now, sources, floor=0.0):
        """Rank artifacts by their chunks' fused scores (``fuse.doc_score``: the best chunk,
        raised a little by the others that match), keep those whose record passes the filters
        and whose score reaches ``floor``. Returns ``[(hit, [(row, score), ...])]``: each hit
        with its best chunk first, then the other chunks of it that scored (passage
        candidates)."""
        rows = self.chunks.rows([cid for cid, _ in ranked])
        by_owner: dict[str, list[tuple[Any, float]]] = {}
        for cid, score in ranked:  # best first, so each owner's list is best first too
            row = rows.get(cid)
            if row is not None:
                by_owner.setdefault(row["owner_id"], []).append((row, float(score)))
        owners = sorted(((doc_score([s for _, s in chunks]), owner)
                         for owner, chunks in by_owner.items()), key=lambda t: (-t[0], t[1]))
        want = {chunks[0][0]["artifact_id"] for chunks in by_owner.values()
                if chunks[0][0]["scope"] == "artifacts"}
        records = self.catalog.get_many(want) if want else {}
        out: list[tuple[QueryHit, list[tuple[Any, float]]]] = []
        for score, owner in owners:
            if len(out) >= k or score < floor:
                break
            chunks = by_owner[owner]
            row = chunks[0][0]
            art = self._record_for(row, records, sources)
            if art is None or not _passes(art, row["scope"], versions, tags, where, now):
                continue
            loc = {"chunk_index": row["ordinal"], "page": row["page"], "section": row["heading"],
                   "heading_path": row["heading"].split(" > ") if row["heading"] else [],
                   "char_start": row["char_start"], "char_end": row["char_end"],
                   "scope": row["scope"], **_location(row)}
            if row["scope"] == "sources":
                loc["source_id"] = owner
            out.append((QueryHit(artifact=art, score=round(float(score), 6),
                                 matched_chunk=row["text"], location=loc,
                                 citation=citation(art.name, art.version, row["page"],
                                                   row["heading"], _location(row))), chunks))
        return out

    def _record_for(self, row, records, sources) -> Artifact | None:
        if row["scope"] == "artifacts":
            return records.get(row["artifact_id"])
        src = sources.get(row["owner_id"])
        if src is None:
            return None
        live = self.catalog.get(row["artifact_id"])
        return live if live is not None else self._source_record(src)


def _location(row) -> dict[str, Any]:
    """A chunk row's own location (``{"cell": 12}``, ``{"sheet": "Q3", "rows": [40, 80]}``)."""
    return json.loads(row["location"]) if row["location"] else {}


#: a chunk next to a hit's best chunk joins its passage when it scores at least this share of
#: the best (a "Results" section right after the "Modelling" section that matched)
NEIGHBOUR_RATIO = 0.85


def _merge_parts(found: list[list[tuple[QueryHit, list]]], k: int
                 ) -> tuple[list[QueryHit], list[list[tuple[Any, float]]]]:
    """Merge the hits of a question's parts: an artifact scores its best over the parts and
    keeps the passages of each part it answers well (within NEIGHBOUR_RATIO of that best)."""
    best: dict[str, QueryHit] = {}
    per_part: dict[str, list[list[tuple[Any, float]]]] = {}
    for hits in found:
        for hit, scored in hits:
            key = hit.artifact.artifact_id if hit.location.get("scope") != "sources" \
                else hit.location.get("source_id", "")
            if key not in best or hit.score > best[key].score:
                best[key] = hit
            per_part.setdefault(key, []).append(scored)
    order = sorted(best, key=lambda key: -best[key].score)[:k]
    hits_out, passages = [], []
    for key in order:
        top = best[key].score
        rows: dict[int, tuple[Any, float]] = {}
        for scored in per_part[key]:
            if scored and scored[0][1] >= NEIGHBOUR_RATIO * top:
                for row, score in _neighbourhood(scored):
                    rows.setdefault(row["ordinal"], (row, score))
        hits_out.append(best[key])
        passages.append([rows[o] for o in sorted(rows)])
    return hits_out, passages


def _neighbourhood(scored: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """The best chunk and the adjacent chunks (by ordinal, chained) that score within
    NEIGHBOUR_RATIO of it."""
    best_row, best_score = scored[0]
    by_ordinal = {row["ordinal"]: (row, score) for row, score in scored
                  if score >= NEIGHBOUR_RATIO * best_score}
    keep = [(best_row, best_score)]
    for step in (-1, 1):
        o = best_row["ordinal"] + step
        while o in by_ordinal:
            keep.append(by_ordinal[o])
            o += step
    return keep


def _passage_blocks(rows: list[tuple[Any, float]]) -> list[tuple[str, int | None, str | None,
                                                                  dict[str, Any]]]:
    """Runs of consecutive chunks (document order) as ``(text, page, section, location)``
    blocks."""
    blocks: list[tuple[str, int | None, str | None, dict[str, Any]]] = []
    prev = None
    for row, _ in rows:
        if prev is not None and row["ordinal"] == prev + 1 and blocks:
            text, page, heading, location = blocks[-1]
            blocks[-1] = (text.rstrip() + "\n\n" + row["text"].strip(), page, heading, location)
        else:
            blocks.append((row["text"], row["page"], row["heading"], _location(row)))
        prev = row["ordinal"]
    return blocks


def _is_binary(art: Artifact) -> bool:
    return not is_embedded(art.mime_type, art.file_name or art.name)


def _passes(art: Artifact, scope: str, versions: str, tags, where, now: float) -> bool:
    if scope == "artifacts":
        if art.is_expired:
            return False
        exp = parse_iso(art.expires_at) if art.expires_at else None
        if exp is not None and not art.is_pinned and exp <= now:
            return False
        if versions == "latest" and not art.is_latest:
            return False
    if tags and not set(tags) <= set(art.tags or ()):
        return False
    if where:
        meta = art.metadata or {}
        for key, value in where.items():
            if key not in meta or meta[key] != value:
                return False
    return True


def _validate_min_score(min_score: Any, mode: str) -> float:
    if min_score is None:
        return MIN_SCORE[mode]
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) \
            or not 0.0 <= float(min_score) <= 1.0:
        raise InvalidInputError(f"min_score must be a number from 0 to 1, got {min_score!r}")
    return float(min_score)


def _chroma_where(filters: dict[str, Any]) -> dict[str, Any] | None:
    conds: list[dict[str, Any]] = []
    if filters.get("scope") and len(filters["scope"]) == 1:
        conds.append({"scope": filters["scope"][0]})
    if filters.get("namespace") is not None:
        conds.append({"namespace": filters["namespace"]})
    if filters.get("session_id") is not None:
        conds.append({"session_id": filters["session_id"]})
    if filters.get("mime_type"):
        conds.append({"mime_type": {"$in": list(filters["mime_type"])}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _validate_query(text, k, tags, mime_types, where, mode, versions, scope, budget):
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("query text must be a non-empty string")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 200:
        raise InvalidInputError(f"k must be an integer from 1 to 200, got {k!r}")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    if versions not in VERSIONS:
        raise InvalidInputError(f"versions must be 'latest' or 'all'; got {versions!r}")
    if scope not in SCOPES:
        raise InvalidInputError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise InvalidInputError(f"context_budget must be a non-negative integer (characters), got {budget!r}")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    tags = list(tags or ())
    if isinstance(mime_types, str):
        mime_types = [m.strip() for m in mime_types.split(",") if m.strip()]
    mime_types = [m.lower() for m in (mime_types or ())]
    if where is not None:
        if not isinstance(where, dict) or not all(isinstance(key, str) for key in where):
            raise InvalidInputError(
                "where must be a dict of metadata key -> value (equality), e.g. {'run': 3}")
        for key, value in where.items():
            if not isinstance(value, (str, int, float, bool, type(None))):
                raise InvalidInputError(
                    f"where[{key!r}] must be a string, number, boolean or None (equality only)")
    return text.strip(), k, tags, mime_types, where or None


def _lower_priority() -> None:
    """Run the calling thread (and the model's threads it starts, which inherit it) at
    :data:`WORKER_NICE`: indexing takes the CPUs only when nothing else wants them. Linux
    gives each thread its own nice value; elsewhere this does nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    except (AttributeError, OSError):  # pragma: no cover - no per-thread priority here
        pass
