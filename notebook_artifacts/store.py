"""ArtifactStore: the one public face over storage (and, later, the index).

Behaviour decisions (see also README):

* ``put(src)``: a ``pathlib.Path`` must name an existing file. A ``str`` naming an existing
  file is that file. A ``str`` that looks like a path (one line with a path separator or a
  file extension) and names no file, given without a name, is a ``FileNotFoundError``
  (:class:`NoSuchFileError`): a mistyped path is never stored as its own text. Any other
  ``str``, a ``str`` given with a name, or ``put(text=...)`` is TEXT content (stored as UTF-8,
  ``has_file=False``).
  ``bytes``/``bytearray``/``memoryview`` and binary (or text) file objects are stored as given;
  ``dict``/``list`` as pretty JSON (``has_file=False``); a pandas DataFrame as CSV (index kept
  only when it is not a plain RangeIndex) or Parquet when the name ends in ``.parquet``.
* Default name: a file's (or named stream's) base name; otherwise ``artifact-<8 hex>`` with an
  extension from the kind or sniffed content (``.txt``, ``.json``, ``.csv``, ``.pdf``, ``.bin``...).
* Refs: an ``art_...`` id (one version), the matching seed-001 ``att_...`` id, an
  :class:`Artifact`, or a name resolved in ``namespace=`` / ``session_id=``. A name resolves to
  the newest version that is not expired.
* ``workspace_id`` is the namespace without its last segment (the namespace itself when it
  has one segment); ``namespace_id`` is the full namespace path; ``thread_id`` is the session id;
  ``scope`` is ``"session"`` with a session id else ``"namespace"``.
* ``content`` holds the whole text of text-like artifacts up to 16 KiB; ``content_preview``
  the first 300 characters of text.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import IO, Any

from ._content import ReadMethods, download_content, load_content
from .errors import ArtifactError, IndexUnavailableError, InvalidInputError, NoSuchFileError
from .errors import NotFoundError
from .errors import StorageFullError
from .models import EVENT_TYPES, Artifact, Event, EventPage, FsckReport, GcReport, Page
from .models import QueryResult, Source
from .storage import _validate as V
from .storage.blobs import SMALL_FILE, StagedBlob, open_blobs
from .storage.catalog import Catalog
from .storage.events import EventFilter, EventWatcher
from .storage.mime import artifact_type_for, decode_text, extension_of, guess_mime, is_text_mime
from .storage.tokens import TokenRegistry
from .storage.ttl import Clock, iso_utc, parse_ttl, system_clock

log = logging.getLogger("notebook_artifacts")

__all__ = ["ArtifactStore", "TextContent", "PUT_KEYWORDS", "CONTENT_MAX_BYTES", "PREVIEW_CHARS", "name_for_path",
           "names_for_paths"]


class TextContent(str):
    """A ``str`` that :meth:`ArtifactStore.put` always stores as text, never opens as a path
    (``put(text=...)``, and text from a client: HTTP bodies)."""

CONTENT_MAX_BYTES = 16 * 1024
#: a put that would leave less free space than this is refused (deletes need a little room)
DISK_RESERVE_BYTES = 1 << 20
PREVIEW_CHARS = 300
_UNSET: Any = ...

_EXT_FOR_MIME = {
    "text/plain": ".txt", "application/json": ".json", "text/csv": ".csv",
    "application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif",
    "application/zip": ".zip", "application/gzip": ".gz", "text/html": ".html",
    "application/vnd.apache.parquet": ".parquet", "text/markdown": ".md",
}


def _default_root() -> Path:
    env = os.environ.get("NOTEBOOK_ARTIFACTS_HOME")
    return Path(env).expanduser() if env else Path.cwd() / ".artifacts"


@functools.lru_cache(maxsize=256)
def _embeddable(mime: str, file_name: str) -> bool:
    """:func:`~notebook_artifacts.index.extract.is_embedded`, imported when first needed."""
    from .index.extract import is_embedded

    return is_embedded(mime, file_name)


def _workspace_of(namespace: str) -> str:
    parts = namespace.split("/")
    return "/".join(parts[:-1]) if len(parts) > 1 else namespace


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "to_csv") and hasattr(obj, "columns")


class ArtifactStore(ReadMethods):
    """Versioned artifacts with tags, TTL and events in one directory (``root``), content
    there too or on any fsspec URL (``blobs="s3://bucket/prefix"``)."""

    _defaults: dict[Path, ArtifactStore] = {}
    _defaults_lock = threading.Lock()

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        clock: Clock | None = None,
        index: bool = True,
        index_url: str | None = None,
        embedding_model: str | None = None,
        device: str | None = None,
        created_by: str | None = None,
        background_index: bool = True,
        catalog: str | None = None,
        blobs: str | None = None,
        blobs_options: dict[str, Any] | None = None,
    ):
        """``catalog``: a PostgreSQL URL (``postgresql://user@host:5432/db``) to share the
        catalog, events, index bookkeeping and keyword index with other machines; default
        ``$NOTEBOOK_ARTIFACTS_CATALOG``, else the embedded ``<root>/catalog.sqlite3``."""
        self.root = Path(root).expanduser() if root is not None else _default_root()
        if self.root.exists() and not self.root.is_dir():
            raise InvalidInputError(f"store root {self.root} exists and is not a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.clock: Clock = clock or system_clock
        self.index = bool(index)
        #: a Chroma server for the vectors (default ``$NOTEBOOK_ARTIFACTS_INDEX_URL``), else
        #: the embedded one in ``<root>/index``
        self.index_url = index_url if index_url is not None else (
            os.environ.get("NOTEBOOK_ARTIFACTS_INDEX_URL") or None)
        #: start the indexing thread on put; False leaves work pending for the process that holds
        #: the index (a kernel, the server) or for an explicit ``wait_indexed``: short-lived
        #: processes like the CLI then never load the model just to store a file.
        self.background_index = bool(background_index)
        self.embedding_model = embedding_model
        self.device = device
        self.created_by = created_by if created_by is not None else _current_user()
        if catalog is None:
            catalog = os.environ.get("NOTEBOOK_ARTIFACTS_CATALOG") or None
        #: where content lives: None for files under ``root``, else an fsspec URL
        #: (``s3://bucket/prefix``; default ``$NOTEBOOK_ARTIFACTS_BLOBS``) whose client reads
        #: ``blobs_options`` and the standard environment (``AWS_ENDPOINT_URL``, ...)
        self.blobs_url = blobs if blobs is not None else (os.environ.get("NOTEBOOK_ARTIFACTS_BLOBS") or None)
        self._blobs = open_blobs(self.root, self.blobs_url, blobs_options)
        self._catalog = Catalog(self.root, catalog)
        #: where the catalog lives: the SQLite file, or the PostgreSQL URL without a password
        self.catalog_location = self._catalog.location
        self._watcher = EventWatcher(self._catalog.change_feed, self.root.name)
        self._catalog.on_commit = self._watcher.poke
        self._closed = False
        self._starter_lock = threading.Lock()
        self._index_starter: threading.Thread | None = None  # starts the index worker once
        for ns, sid in self._catalog.stale_manifests():  # left behind by a killed writer
            self._write_manifest(ns, sid)

    # -- lifecycle ---------------------------------------------------------------------
    @classmethod
    def default(cls) -> ArtifactStore:
        """The process-wide store at ``$NOTEBOOK_ARTIFACTS_HOME`` (else ``./.artifacts``)."""
        root = _default_root().resolve()
        with cls._defaults_lock:
            store = cls._defaults.get(root)
            if store is None or store._closed:
                store = cls._defaults[root] = cls(root)
            return store

    def close(self) -> None:
        """Stop the event watcher and close the catalog connection."""
        if not self._closed:
            self._closed = True
            starter = self._index_starter
            if starter is not None and starter is not threading.current_thread():
                starter.join()  # let a starting index worker finish starting, then stop it
            if self._follow_work is not None:  # no new-work wake-ups while closing
                self._follow_work()
            if self._tokens is not None:
                self._tokens.close()
            if self._index_service is not None:  # index: stop the worker, release the lock
                self._index_service.close()
            self._watcher.stop()
            self._catalog.close()

    def __enter__(self) -> ArtifactStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    @property
    def location(self) -> str:
        """The store's folder, as text (``RemoteStore.location`` is the server's URL)."""
        return str(self.root)

    def _now(self) -> float:
        return float(self.clock())

    def _on_put(self, artifact: Artifact) -> None:
        """Hook called after every put: wake the index worker. The first time, start it on a
        helper thread, off the put's path (importing and opening the index costs about 0.1 s,
        which the first put would otherwise wait for)."""
        if not (self.index and self.background_index and artifact.status == "pending"):
            return
        if self._follow_work is not None:  # started: a wake-up is all it takes
            self._index_service.wake()
            return
        with self._starter_lock:  # (not _defaults_lock: the starter holds it while it opens)
            if self._index_starter is not None or self._closed:
                return
            self._index_starter = threading.Thread(
                target=self._start_indexing_quietly, name="notebook-artifacts-index-start",
                daemon=True)
            self._index_starter.start()

    def _start_indexing_quietly(self) -> None:
        try:
            self.start_indexing()
        except Exception:  # the next put tries again; a query or wait_indexed raises it
            log.exception("could not start the index worker")
            with self._starter_lock:
                self._index_starter = None

    # -- scoped access tokens of a served store (storage/tokens.py) --------------------------
    _tokens: Any = None

    @property
    def tokens(self) -> TokenRegistry:
        """Scoped access tokens for serving this store (only their hashes are kept)."""
        if self._tokens is None:
            self._tokens = TokenRegistry(self._catalog.component_db())
        return self._tokens

    # -- semantic index (notebook_artifacts.index) -------------------------------------------
    _index_service: Any = None
    _follow_work: Callable[[], None] | None = None
    #: seconds a query waits for pending indexing before it answers (in a process that
    #: indexes in the background; a CLI ``query`` waits with ``--wait`` instead)
    query_drain_seconds: float = 60.0

    def start_indexing(self) -> None:
        """Index in this process: drain the work every process left pending, now and whenever
        any process records new work (the event log wakes the indexer). The server calls this
        at start; a put or a query does it too. No-op for ``index=False`` or
        ``background_index=False`` stores. The model loads only once there is text to embed."""
        if not (self.index and self.background_index) or self._closed:
            return
        svc = self._index()
        if self._follow_work is None:
            with self._defaults_lock:
                if self._follow_work is None:
                    self._follow_work = self.subscribe(
                        lambda events: svc.wake(),
                        types=("created", "version_created", "promoted"))
        svc.wake()

    def _index(self) -> Any:
        """The IndexService, created on first use (no torch/Chroma import until needed)."""
        if not self.index:
            raise IndexUnavailableError(
                "this store was opened with index=False; open it with ArtifactStore(root) "
                "(index=True) to index and query")
        if self._index_service is None:
            with self._defaults_lock:
                if self._index_service is None:
                    from .index.service import IndexService

                    self._index_service = IndexService(
                        self.root, self._catalog, self._blobs, index_url=self.index_url,
                        embedding_model=self.embedding_model, device=self.device,
                        clock=self.clock)
                    self._index_service.background = self.background_index
        return self._index_service

    def query(self, text: str, k: int = 10, *, namespace: str | None = None,
              session_id: str | None = None, tags: Any = None, mime_types: Any = None,
              where: dict[str, Any] | None = None, mode: str = "hybrid",
              versions: str = "latest", scope: str = "artifacts",
              context_budget: int = 6000, min_score: float | None = None,
              progress: bool | None = None) -> QueryResult:
        """Semantic + keyword search over indexed content.

        ``mode``: ``"hybrid"`` (default), ``"dense"`` or ``"keyword"``; ``versions``:
        ``"latest"`` or ``"all"``; ``scope``: ``"artifacts"``, ``"sources"`` or ``"all"``;
        ``where``: metadata equality; ``context_budget``: the most characters of
        ``combined_context``; ``min_score``: results scoring below it are not returned
        (default: the mode's floor in ``notebook_artifacts.index.fuse.MIN_SCORE``; 0: none).
        Each hit has the full ``artifact`` record, a 0..1 ``score``, ``matched_chunk`` and its
        ``location`` (page, section, character span). ``combined_context`` holds the passages
        of the returned hits only (a hit's chunk, merged with adjacent chunks that match as
        well), best first. A question with several parts ("how good is X, and what do we do
        when Y?") is searched whole and part by part. Expired and deleted versions never
        match. With nothing indexed in scope the answer is immediate and ``note`` says why.
        ``progress``: show bars (tqdm.auto) while pending work is indexed first and while
        the embedding model loads; default: where a person watches, as ``wait_indexed``.
        """
        ns = None if namespace is None else V.validate_namespace(namespace)
        sid = V.validate_session_id(session_id)
        self._sweep()
        if progress is None:
            from ._progress import interactive

            progress = interactive()
        if self.index and self.background_index:  # answer from everything put so far
            self.start_indexing()
            if self._index().pending_count():
                self.wait_indexed(self.query_drain_seconds, progress=progress)
        service = self._index()

        def run() -> QueryResult:
            return service.query(
                text, k, namespace=ns, session_id=sid, tags=tags, mime_types=mime_types,
                where=where, mode=mode, versions=versions, scope=scope,
                context_budget=context_budget, min_score=min_score)

        if progress and mode != "keyword" and not service.embedder.loaded:
            from ._progress import while_running

            return while_running(run, "querying (loading the embedding model)")
        return run()

    def wait_indexed(self, timeout: float | None = None, *, progress: bool | None = None) -> bool:
        """Wait until nothing is pending indexing; False if ``timeout`` seconds passed first.

        ``progress``: show a progress bar (tqdm.auto) with the model load and the chunks
        embedded; default: where a person watches (a notebook, IPython, a terminal).
        """
        if not self.index:
            return True
        if progress is None:
            from ._progress import interactive

            progress = interactive()
        if progress and self.pending_count():
            from ._progress import wait_with_progress

            service = self._index()
            return wait_with_progress(self, service.wait_indexed, timeout,
                                      counters=service.indexing_progress)
        return self._index().wait_indexed(timeout)

    def reindex(self, ref: Any = None, *, namespace: str = "default",
                session_id: str | None = None) -> int:
        """Queue ``ref``'s versions (default: every live version and source) for indexing
        again; returns how many versions were queued. Unchanged chunks are not re-embedded."""
        if ref is None:
            return self._index().reindex(None)
        a = self._resolve_any(ref, namespace, session_id)
        ids = [v.artifact_id for v in self._catalog.lineage_versions(a.root_artifact_id)]
        return self._index().reindex(ids)

    def promote(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                session_id: str | None = None, message: str = "") -> Source:
        """Make a version a durable source: it survives TTL, deletion and session cleanup,
        is queryable with ``scope="sources"``, and sets ``promoted_to_source_id``."""
        a = self._resolve(ref, version, namespace, session_id)
        return self._index().promote(a, message)

    def sources(self, namespace: str | None = None) -> list[Source]:
        """Every promoted source (optionally of one namespace), oldest first."""
        ns = None if namespace is None else V.validate_namespace(namespace)
        return self._index().sources(ns)

    # -- put -----------------------------------------------------------------------------
    def put(
        self,
        src: Any = None,
        name: str | None = None,
        *,
        text: str | None = None,
        namespace: str = "default",
        session_id: str | None = None,
        tags: Iterable[str] | str | None = (),
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
        ttl: Any = None,
        pinned: bool = False,
        source: str | None = None,
        source_tool: str | None = None,
        source_execution_id: str | None = None,
        source_step_id: str | None = None,
        artifact_type: str | None = None,
        mime_type: str | None = None,
        file_name: str | None = None,
        index: bool = True,
    ) -> Artifact:
        """Store ``src`` as the next version of ``name`` and return the new version.

        ``src``: a path (``Path``, or a ``str`` naming an existing file), ``bytes``, ``str``
        text, ``dict``/``list`` (JSON), a pandas DataFrame, or a binary file object.
        ``text=``: store this string as text even if it looks like a path. A ``str`` that
        looks like a path, names no file and comes without a name raises ``FileNotFoundError``.
        """
        if text is not None or src is None:
            if src is not None:
                raise InvalidInputError("give the content as src or as text=, not both")
            if not isinstance(text, str):
                raise InvalidInputError(
                    "put needs content: put(src) with a path, bytes, str, dict, list or "
                    "DataFrame, or put(text='...') with a str" if text is None else
                    f"text= takes a str, not {type(text).__name__}; pass other content as src")
            src = TextContent(text)
        with self._catalog.writers.writing():  # the background indexer yields to puts
            return self._put(
                src, name, namespace=namespace, session_id=session_id, tags=tags, metadata=metadata,
                description=description, ttl=ttl, pinned=pinned, source=source, source_tool=source_tool,
                source_execution_id=source_execution_id, source_step_id=source_step_id,
                artifact_type=artifact_type, mime_type=mime_type, file_name=file_name, index=index,
            )

    def register_file(
        self, path: str | os.PathLike[str], name: str | None = None, *, namespace: str = "default",
        session_id: str | None = None, source: str = "workspace",
        workspace_path: str | None = None, **kwargs: Any,
    ) -> Artifact:
        """Record a workspace file as an artifact (seed 001 ``register_file``).

        The content is copied into the store; the manifest records the original path as
        ``workspace_path`` (or the one given: a served store records the client's path).
        Other keywords are those of :meth:`put`.
        """
        p = Path(path)
        if not p.is_file():
            raise NoSuchFileError(f"cannot register {os.fspath(path)!r}: no such file",
                                  os.fspath(path))
        V.validate_optional_text(workspace_path, "workspace_path", 4096)
        with self._catalog.writers.writing():
            return self._put(
                p, name, namespace=namespace, session_id=session_id, source=source,
                workspace_path=workspace_path or str(p.resolve()), **kwargs,
            )

    def put_many(self, items: Iterable[Any], **common: Any) -> list[Artifact]:
        """Store several items in ONE catalog transaction: all of them or, on any error,
        none; returns the new versions in the order given.

        Each item is what :meth:`put` takes as ``src`` (its name then comes from the content,
        as in ``put``), a ``(src, name)`` pair, or a dict of ``put``'s arguments (``src`` or
        ``text``, ``name``, and any keyword). ``common``: ``put``'s keywords for every item (a
        dict item overrides them). Content is written first and made durable with one flush
        for all, then recorded at once; the records, events and manifests are those of
        ``put`` one by one (two items with one name become two versions, in order). A bad
        item raises the error ``put`` would, naming the item, and stores nothing. To store a
        2-tuple as JSON, pass it as a list or as ``{"src": ...}``.
        """
        items = _put_many_items(items, common)
        checked = []
        for i, item in enumerate(items):
            checked.append(_labelled(i, item, lambda item=item: self._checked(
                *_item_spec(item, common))))
        if not checked:
            return []
        staged: list[StagedBlob] = []
        with self._catalog.writers.writing():  # the background indexer yields to puts
            try:
                entries = []
                for i, (src, name, opts) in enumerate(checked):
                    st, kind, src_name = _labelled(
                        i, items[i], lambda src=src, name=name: self._stage(src, name, durable=False))
                    staged.append(st)
                    entries.append((st, kind, src_name, name, opts))
                # one flush for all, on a helper thread while the rows are written: they are
                # linked in (and the transaction committed) only once it has returned
                return self._record(entries, flush=True,
                                    before_links=_in_background(self._blobs.make_durable, staged))
            except BaseException:
                for st in staged:
                    self._blobs.discard(st)
                raise

    def _put(self, src: Any, name: str | None, *, workspace_path: str | None = None,
             **options: Any) -> Artifact:
        unknown = sorted(set(options) - set(PUT_KEYWORDS))
        if unknown:
            raise TypeError(f"put() got an unexpected keyword argument {unknown[0]!r}")
        src, name, opts = self._checked(src, name, dict(options, workspace_path=workspace_path))
        st, kind, src_name = self._stage(src, name)
        try:
            return self._record([(st, kind, src_name, name, opts)])[0]
        except BaseException:
            self._blobs.discard(st)
            raise

    def _checked(self, src: Any, name: str | None, o: dict[str, Any]) -> tuple[Any, str | None, dict[str, Any]]:
        """``put``'s arguments validated, before any content is read: ``(src, name, opts)``."""
        namespace, session_id = o.get("namespace", "default"), o.get("session_id")
        mime_type, pinned = o.get("mime_type"), o.get("pinned", False)
        out: dict[str, Any] = dict(
            ns=V.validate_namespace(namespace), sid=V.validate_session_id(session_id),
            tags=V.validate_tags(o.get("tags", ())), meta=V.validate_metadata(o.get("metadata")),
            ttl=parse_ttl(o.get("ttl")),
            description=V.validate_optional_text(o.get("description"), "description"),
            mime_type=mime_type, pinned=pinned, index=o.get("index", True),
            workspace_path=o.get("workspace_path"))
        if name is not None:
            name = V.validate_name(name)
        for what in ("source", "source_tool", "source_execution_id", "source_step_id",
                     "artifact_type", "file_name"):
            out[what] = V.validate_optional_text(o.get(what), what, 1024)
        if mime_type is not None and (not isinstance(mime_type, str) or "/" not in mime_type
                                      or len(mime_type) > 255 or not mime_type.isascii()
                                      or any(c in mime_type for c in "\r\n\x00")):
            raise InvalidInputError(f"invalid mime_type {mime_type!r}: give a type like 'text/csv'")
        if not isinstance(pinned, bool):
            raise InvalidInputError(f"invalid pinned {pinned!r}: give True or False")
        return src, name, out

    def _record(self, entries: list[tuple[StagedBlob, str, str | None, str | None, dict[str, Any]]],
                flush: bool = False, before_links: Callable[[], None] | None = None,
                ) -> list[Artifact]:
        """Record staged content as new versions in one catalog transaction (the caller
        discards the staged blobs if this raises), then write manifests and wake the indexer.
        ``before_links``: waits until the staged content is durable (see ``add_versions``);
        it is always called, so nothing still works on the staged files when this returns."""
        try:
            self._check_disk_reserve([e[0] for e in entries])
            now = self._now()
            items = []
            for st, kind, src_name, name, o in entries:
                items.append((self._fields(st, kind, src_name, name, o, now), st, o["workspace_path"]))
            for st, *_ in entries:
                self._blobs.prepare(st)  # an upload to object storage, outside the write lock
            artifacts = self._catalog.add_versions(items, blobs=self._blobs, now=now, flush=flush,
                                                   before_links=before_links)
        except BaseException:
            if before_links is not None:  # the flush must end before the staged files go
                try:
                    before_links()
                except BaseException:
                    pass  # (it failed too: the error raised first is the one reported)
            digests = [st.sha256 for st, *_ in entries]
            for st, *_ in entries:
                self._blobs.discard(st)
            if any(self._blobs.exists(d) for d in digests):
                # the catalog write failed after a blob landed (e.g. SQLite found the disk
                # full): drop it unless a version uses it, so it does not keep the disk full
                try:
                    self._catalog.remove_orphan_blobs(self._blobs, digests)
                except Exception:
                    pass  # gc / fsck(repair=True) reclaim it later
            raise
        for ns, sid in dict.fromkeys((a.namespace, a.session_id) for a in artifacts):
            if sid is not None:
                self._write_manifest(ns, sid)
        pending = [a for a in artifacts if a.status == "pending"]
        if pending:
            self._on_put(pending[-1])
        return artifacts

    def _fields(self, staged: StagedBlob, kind: str, src_name: str | None, name: str | None,
                o: dict[str, Any], now: float) -> dict[str, Any]:
        """A new version's own column values (the catalog adds ids, version and times)."""
        if name is None:
            name = V.validate_name(src_name or self._generated_name(kind, staged))
        mime = o["mime_type"] or guess_mime(name, staged.head)
        text_head = decode_text(staged.head) if is_text_mime(mime) else None
        content = text_head if (text_head is not None and staged.size <= CONTENT_MAX_BYTES) else None
        ns, sid, ttl_seconds = o["ns"], o["sid"], o["ttl"]
        file_name = o["file_name"] or src_name or name.replace("\\", "/").rsplit("/", 1)[-1]
        indexed, index_error = bool(self.index and o["index"]), None
        if indexed and not _embeddable(mime, file_name):
            indexed, index_error = False, f"binary content ({mime}) is not embedded"
        return dict(
            namespace=ns, session_id=sid, name=name, workspace_id=_workspace_of(ns),
            namespace_id=ns, thread_id=sid, description=o["description"],
            artifact_type=o["artifact_type"] or artifact_type_for(mime, kind),
            content=content,
            content_preview=text_head[:PREVIEW_CHARS] if text_head is not None else None,
            content_text=None,
            file_name=file_name,
            mime_type=mime, ext=extension_of(name), size_bytes=staged.size,
            sha256=staged.sha256, has_file=kind not in ("text", "json"),
            summary=None, keywords=[], tags=o["tags"], metadata=o["meta"], source=o["source"],
            source_execution_id=o["source_execution_id"], source_step_id=o["source_step_id"],
            source_tool=o["source_tool"], scope="session" if sid else "namespace",
            status="pending" if indexed else "skipped", index_error=index_error,
            ttl_seconds=ttl_seconds,
            expires_at=iso_utc(now + ttl_seconds) if ttl_seconds else None,
            expires_ts=now + ttl_seconds if ttl_seconds else None,
            is_pinned=o["pinned"], is_expired=False, is_indexed=False, created_by=self.created_by,
        )

    def _check_disk_reserve(self, staged: list[StagedBlob]) -> None:
        """Refuse a put that would leave under DISK_RESERVE_BYTES free: SQLite needs a little
        space to record deletes and gc, so a full disk could not be freed through the store."""
        try:
            st = os.statvfs(self.root)
        except (OSError, AttributeError):  # pragma: no cover - no statvfs on this platform
            return
        free = st.f_bavail * st.f_frsize
        if free < DISK_RESERVE_BYTES and not all(self._blobs.exists(s.sha256) for s in staged):
            # (identical content already stored: committing frees the staged copy)
            size = sum(s.size for s in staged)
            raise StorageFullError((
                f"No space left on device: storing {size} bytes would leave {free} bytes "
                f"free in {self.root}, under the {DISK_RESERVE_BYTES} bytes kept so deletes and "
                "gc can still run; nothing was stored. Free space (store.delete(...), store.gc()) "
                "and try again"))

    def _stage(self, src: Any, name: str | None, durable: bool = True
               ) -> tuple[StagedBlob, str, str | None]:
        """Copy ``src`` into a staged blob: ``(staged, kind, name it suggests)``. ``durable``:
        fsync it now (False: the caller flushes a batch with ``make_durable``)."""
        path = source_file(src, name)
        if path is not None:
            dedup = False
            if self._blobs.dedup_local:  # hash a large file first if its twin may be stored
                size = os.stat(path).st_size
                dedup = size > SMALL_FILE and self._catalog.has_size(size)
            return (self._blobs.stage_file(path, durable=durable, dedup=dedup), "file",
                    name_for_path(path))
        if isinstance(src, str):
            return self._blobs.stage_bytes(src.encode("utf-8"), durable=durable), "text", None
        if isinstance(src, (bytes, bytearray, memoryview)):
            return self._blobs.stage_bytes(src, durable=durable), "bytes", None
        if isinstance(src, (dict, list, tuple)):
            try:
                text = json.dumps(src, indent=2, ensure_ascii=False, allow_nan=False, default=_no_json)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"cannot store this {type(src).__name__} as JSON: {exc}; values must be str, "
                    "number, bool, None, list or dict"
                ) from None
            return self._blobs.stage_bytes(text.encode("utf-8"), durable=durable), "json", None
        if _is_dataframe(src):
            return self._stage_dataframe(src, name), "dataframe", None
        if hasattr(src, "file") and hasattr(src, "filename") and hasattr(src.file, "read"):
            # an upload object (e.g. starlette's UploadFile): stream its file, keep its name
            upload_name = os.path.basename(str(src.filename or "")) or None
            return self._blobs.stage_stream(src.file, durable=durable), "stream", upload_name
        if hasattr(src, "read"):
            raw_name = getattr(src, "name", None)
            suggested = None
            if isinstance(raw_name, str) and raw_name and not raw_name.startswith("<"):
                suggested = os.path.basename(raw_name) or None
            try:
                return self._blobs.stage_stream(src, durable=durable), "stream", suggested
            except OSError as exc:
                raise InvalidInputError(f"cannot read the file object: {exc}") from None
        raise InvalidInputError(
            f"cannot store a {type(src).__name__}: give a path (Path or str naming a file), "
            "bytes, str text, a dict or list (JSON), a pandas DataFrame or a binary file object"
        )

    def _stage_dataframe(self, df: Any, name: str | None) -> StagedBlob:
        tmp, lock_fd = self._blobs.reserve_temp()
        try:
            if name is not None and name.lower().endswith(".parquet"):
                try:
                    import pyarrow  # noqa: F401
                except ImportError:
                    raise InvalidInputError(
                        "storing a DataFrame as .parquet needs pyarrow: "
                        "pip install 'notebook-artifacts[parquet]', or use a .csv name"
                    ) from None
                df.to_parquet(tmp)
            else:
                import pandas as pd

                keep_index = not isinstance(df.index, pd.RangeIndex)
                df.to_csv(tmp, index=keep_index)
        except BaseException:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise
        return self._blobs.adopt(tmp, lock_fd)

    @staticmethod
    def _generated_name(kind: str, staged: StagedBlob) -> str:
        ext = {"text": ".txt", "json": ".json", "dataframe": ".csv"}.get(kind)
        if ext is None:
            ext = _EXT_FOR_MIME.get(guess_mime(None, staged.head), ".bin")
        return f"artifact-{secrets.token_hex(4)}{ext}"

    # -- resolving refs --------------------------------------------------------------------
    def _scope(self, namespace: Any, session_id: Any) -> tuple[str, str | None]:
        return V.validate_namespace(namespace), V.validate_session_id(session_id)

    def _resolve(self, ref: Any, version: Any = None, namespace: Any = "default",
                 session_id: Any = None, *, sweep: bool = True) -> Artifact:
        if isinstance(ref, Artifact):
            ref = ref.artifact_id
        if not isinstance(ref, str) or not ref:
            raise InvalidInputError(f"invalid ref {ref!r}: give an artifact id (art_...) or a name")
        version = V.validate_version(version)
        ns, sid = self._scope(namespace, session_id)
        if sweep:
            self._sweep()
        if ref.startswith(("art_", "att_")):
            found = self._catalog.get("art_" + ref[4:])
            if found is not None:
                if version is None or version == found.version:
                    return found
                other = self._catalog.version_in_lineage(found.root_artifact_id, version)
                if other is None:
                    raise NotFoundError(
                        f"artifact {found.name!r} has no version {version}; "
                        f"see versions({found.name!r})"
                    )
                return other
        ref = V.validate_name(ref)
        found = self._catalog.find_version(ns, sid, ref, version, include_expired=version is not None)
        if found is not None:
            return found
        where = f"namespace {ns!r}" + (f", session {sid!r}" if sid else "")
        if version is not None and self._catalog.find_version(ns, sid, ref, None, True):
            raise NotFoundError(f"artifact {ref!r} in {where} has no version {version}")
        if self._catalog.find_version(ns, sid, ref, None, include_expired=True):
            raise NotFoundError(f"artifact {ref!r} in {where} has expired (list it with include_expired=True)")
        raise NotFoundError(f"no artifact {ref!r} in {where}; list what exists with list() or `notebook-artifacts ls`")

    # -- reading ---------------------------------------------------------------------------
    def get(self, ref: Any, version: int | None = None, *, namespace: str = "default",
            session_id: str | None = None) -> Artifact:
        """The record of one version: ``version`` of ``ref``, or its latest live version."""
        return self._resolve(ref, version, namespace, session_id)

    def open(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> IO[bytes]:
        """A binary read stream of the content (use it in a ``with`` block)."""
        a = self._resolve(ref, version, namespace, session_id)
        return self._blobs.open(a.sha256)

    def presigned_url(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                      session_id: str | None = None, expires_in: int = 3600) -> str | None:
        """The blob store's own signed GET URL of the content, valid ``expires_in`` seconds
        (a download with the artifact's file name and type, Range allowed); None when the
        content is in local files, which only the server hands out."""
        V.validate_limit(expires_in, 1, 7 * 86400, "expires_in")
        a = self._resolve(ref, version, namespace, session_id)
        return self._blobs.presigned_url(a.sha256, int(expires_in),
                                         filename=a.file_name or a.name.rsplit("/", 1)[-1],
                                         mime_type=a.mime_type)

    def download(self, ref: Any, dest: str | os.PathLike[str], version: int | None = None, *,
                 namespace: str = "default", session_id: str | None = None) -> Path:
        """Write a version's content to ``dest`` (a file, or a folder: then its file name) and
        return the path. Streamed; written to ``.NAME.part`` then renamed, so ``dest`` is never
        left half-written."""
        a = self._resolve(ref, version, namespace, session_id)
        return download_content(a, lambda: self._blobs.open(a.sha256), dest)

    def diff(self, ref: Any, a: int, b: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any:
        """What changed from version ``a`` to version ``b`` (default: the latest) of ``ref``:
        a unified diff for text, rows and columns added/removed/changed for tables, sizes and
        hashes otherwise (a :class:`notebook_artifacts.diff.Diff`)."""
        from .diff import compute_diff

        old = self._resolve(ref, a, namespace, session_id)
        if b is None:
            new = self.versions(old.artifact_id, namespace=namespace, session_id=session_id)[-1]
        else:
            new = self._resolve(old.artifact_id, b, namespace, session_id)
        return compute_diff(self, old, new)

    def pending_count(self) -> int:
        """Versions and sources waiting for the indexer (0 for a store without an index)."""
        if not self.index:
            return 0
        return int(self._index().pending_count())

    def load(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any:
        """Content as a Python object: DataFrame (CSV/TSV/Parquet, a one-sheet workbook), a dict
        of DataFrames by sheet name (a workbook with several sheets), parsed JSON, str, or
        bytes."""
        a = self._resolve(ref, version, namespace, session_id)
        return load_content(a.mime_type, lambda: self._blobs.open(a.sha256), f"{a.name} v{a.version}")

    def versions(self, ref: Any, *, namespace: str = "default", session_id: str | None = None,
                 include_expired: bool = False) -> list[Artifact]:
        """Every version of ``ref``'s lineage, oldest first."""
        a = self._resolve_any(ref, namespace, session_id)
        return self._catalog.lineage_versions(a.root_artifact_id, include_expired=include_expired)

    def _resolve_any(self, ref: Any, namespace: Any, session_id: Any) -> Artifact:
        """Like _resolve, but a name whose versions all expired still resolves."""
        try:
            return self._resolve(ref, None, namespace, session_id)
        except NotFoundError:
            if isinstance(ref, str) and not ref.startswith(("art_", "att_")):
                ns, sid = self._scope(namespace, session_id)
                found = self._catalog.find_version(ns, sid, ref, None, include_expired=True)
                if found is not None:
                    return found
            raise

    def list(self, namespace: str | None = None, session_id: str | None = None,
             tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
             include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Page:
        """Latest version of each artifact, newest first, one page at a time.

        ``namespace=None`` / ``session_id=None`` match any; ``tags`` must all be present;
        ``types`` matches ``artifact_type``. Pass ``next_cursor`` back as ``cursor``.
        """
        if namespace is not None:
            V.validate_namespace(namespace)
        V.validate_session_id(session_id)
        tag_list = V.split_csv(tags)
        type_list = V.split_csv(types)
        V.validate_limit(limit, 1, 200)
        if isinstance(cursor, str) and cursor.isdigit() and int(cursor) > _MAX_CURSOR:
            raise InvalidInputError(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page")
        self._sweep()
        return self._catalog.list_latest(
            namespace=namespace, session_id=session_id, tags=tag_list, types=type_list,
            include_expired=bool(include_expired), limit=limit, cursor=cursor,
        )

    def frame(self, namespace: str | None = None, session_id: str | None = None,
              tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
              include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Any:
        """The same listing as :meth:`list`, as a pandas DataFrame (one row per artifact)."""
        return self.list(namespace, session_id, tags, types, include_expired, limit, cursor).to_frame()

    def names(self, namespace: str = "default", session_id: str | None = None) -> list[str]:
        """Names with a live version in exactly this scope (seed 002 ``List``), sorted."""
        ns, sid = self._scope(namespace, session_id)
        self._sweep()
        return self._catalog.names(ns, sid)

    # -- changing --------------------------------------------------------------------------
    def update(self, ref: Any, *, version: int | None = None, namespace: str = "default",
               session_id: str | None = None, tags: Iterable[str] | str | None = None,
               add_tags: Iterable[str] | str = (), remove_tags: Iterable[str] | str = (),
               metadata: dict[str, Any] | None = None, description: str | None = None,
               ttl: Any = _UNSET, pinned: bool | None = None) -> Artifact:
        """Change one version's tags, metadata (replaced), description, TTL or pin.

        ``tags`` replaces the tag list; ``add_tags``/``remove_tags`` edit it. ``ttl=None``
        clears the TTL; a TTL counts from now. Emits one ``updated`` event when anything changed.
        """
        new_tags = V.validate_tags(tags) if tags is not None else None
        adds = V.validate_tags(add_tags)
        removes = V.validate_tags(remove_tags)
        meta = V.validate_metadata(metadata) if metadata is not None else None
        description = V.validate_optional_text(description, "description")
        ttl_seconds = parse_ttl(ttl) if ttl is not _UNSET else None
        if pinned is not None and not isinstance(pinned, bool):
            raise InvalidInputError(f"invalid pinned {pinned!r}: give True, False or None")
        a = self._resolve_any(ref, namespace, session_id) if version is None else \
            self._resolve(ref, version, namespace, session_id)
        changes: dict[str, Any] = {}
        tag_list = list(new_tags) if new_tags is not None else list(a.tags)
        tag_list += [t for t in adds if t not in tag_list]
        tag_list = [t for t in tag_list if t not in removes]
        V.validate_tags(tag_list)
        if tag_list != a.tags:
            changes["tags"] = tag_list
        if meta is not None and meta != a.metadata:
            changes["metadata"] = meta
        if description is not None and description != a.description:
            changes["description"] = description
        now = self._now()
        if ttl is not _UNSET:
            if ttl_seconds is None:
                if a.ttl_seconds is not None:
                    changes.update(ttl_seconds=None, expires_at=None, expires_ts=None)
            else:
                changes.update(ttl_seconds=ttl_seconds, expires_at=iso_utc(now + ttl_seconds),
                               expires_ts=now + ttl_seconds)
        if pinned is not None and pinned != a.is_pinned:
            changes["is_pinned"] = pinned
        if a.is_expired and ("is_pinned" in changes or "ttl_seconds" in changes):
            if changes.get("is_pinned") or ("ttl_seconds" in changes):
                changes["is_expired"] = False  # revived: pinned, or given a fresh TTL
        if not changes:
            return a
        updated = self._catalog.update_version(
            a.artifact_id, changes, now=now,
            event_data={"changed": sorted(k for k in changes if k not in ("expires_ts", "is_expired"))},
        )
        if updated.session_id:
            self._write_manifest(updated.namespace, updated.session_id)
        return updated

    def delete(self, ref: Any, version: int | None = None, *, namespace: str = "default",
               session_id: str | None = None) -> list[Artifact]:
        """Delete every version of ``ref`` (or only ``version``); returns the deleted records.

        Content no remaining version uses is removed at once. One ``deleted`` event per version.
        """
        version = V.validate_version(version)
        a = self._resolve_any(ref, namespace, session_id)
        gone = self._catalog.delete_versions(
            a.root_artifact_id, version, now=self._now(), blobs=self._blobs
        )
        if version is not None and not gone:
            raise NotFoundError(f"artifact {a.name!r} has no version {version}")
        if a.session_id:
            self._write_manifest(a.namespace, a.session_id)
        return gone

    # -- events ----------------------------------------------------------------------------
    def latest_cursor(self) -> int:
        """The cursor of the newest event (0 when there is none)."""
        return self._catalog.latest_cursor()

    def events(self, after: int = 0, wait_seconds: float = 0, namespace: str | None = None,
               session_id: str | None = None, include_mime: Iterable[str] | str | None = None,
               include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
               limit: int = 25, types: Iterable[str] | str | None = None) -> EventPage:
        """Events with a cursor above ``after``, waiting up to ``wait_seconds`` (0-60) for one.

        Filters: ``include_mime`` MIME prefixes (``"image/"``, ``"text/csv"``), ``include_ext``
        extensions with or without the dot, ``max_size`` bytes, ``types`` event types.
        """
        after = _cursor_value(after)
        if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, (int, float)) \
                or not 0 <= wait_seconds <= 60:
            raise InvalidInputError(f"invalid wait_seconds {wait_seconds!r}: give a number from 0 to 60")
        V.validate_limit(limit, 1, 100)
        flt = self._event_filter(namespace, session_id, include_mime, include_ext, max_size, types)
        self._sweep()
        deadline = time.monotonic() + float(wait_seconds)
        while True:
            generation = self._watcher.generation
            events, next_cursor, has_more, gap = self._catalog.fetch_events(after, flt, limit)
            remaining = deadline - time.monotonic()
            if events or remaining <= 0:
                return EventPage(events=events, next_cursor=next_cursor, has_more=has_more,
                                 timed_out=not events and wait_seconds > 0, gap=gap)
            self._watcher.wait(generation, remaining)

    def subscribe(self, callback: Callable[[list[Event]], Any], *, after: int | None = None,
                  namespace: str | None = None, session_id: str | None = None,
                  include_mime: Iterable[str] | str | None = None,
                  include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
                  types: Iterable[str] | str | None = None) -> Callable[[], None]:
        """Call ``callback(events)`` on the watcher thread for new events written by any
        process (from ``after``, default: now). Returns a function that unsubscribes."""
        if not callable(callback):
            raise InvalidInputError("subscribe needs a callable taking a list of events")
        flt = self._event_filter(namespace, session_id, include_mime, include_ext, max_size, types)
        start = self.latest_cursor() if after is None else _cursor_value(after)
        return self._watcher.subscribe(callback, flt, start)

    @staticmethod
    def _event_filter(namespace: Any, session_id: Any, include_mime: Any, include_ext: Any,
                      max_size: Any, types: Any) -> EventFilter:
        if namespace is not None:
            V.validate_namespace(namespace)
        V.validate_session_id(session_id)
        mimes = tuple(m.lower() for m in (V.split_csv(include_mime) or ()))
        exts = tuple(e.lower().lstrip(".") for e in (V.split_csv(include_ext) or ()))
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0):
            raise InvalidInputError(f"invalid max_size {max_size!r}: give a number of bytes >= 0")
        type_list = tuple(V.split_csv(types) or ())
        bad = [t for t in type_list if t not in EVENT_TYPES]
        if bad:
            raise InvalidInputError(f"invalid event type {bad[0]!r}: one of {', '.join(EVENT_TYPES)}")
        return EventFilter(namespace, session_id, mimes, exts, max_size, type_list)

    # -- sessions, export, maintenance -------------------------------------------------------
    def sessions(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Sessions seen in ``namespace`` (or all): ids, times, artifact counts and sizes."""
        if namespace is not None:
            V.validate_namespace(namespace)
        self._sweep()
        return self._catalog.sessions(namespace)

    def close_session(self, session_id: str, namespace: str = "default", *,
                      clean: bool | None = None, sources: Collection[str] | None = None) -> dict[str, Any]:
        """Mark a session closed. With auto-clean (``NOTEBOOK_ARTIFACTS_AUTO_CLEAN=1`` or
        ``MAC_AUTO_CLEAN_ATTACHMENTS=1``, or ``clean=True``) delete its unpinned artifacts;
        ``sources`` (e.g. ``{"upload"}``: the seed's ``attachments/``) limits which."""
        from .storage.sessions import auto_clean_enabled

        ns, sid = self._scope(namespace, session_id)
        if sid is None:
            raise InvalidInputError("close_session needs a session id")
        do_clean = auto_clean_enabled() if clean is None else bool(clean)
        removed = 0
        if do_clean:
            for row in self._catalog.iter_latest(ns, sid, exact_session=True) + \
                    self._expired_rows(ns, sid, sources):
                if sources is not None and "source" in row.keys() and row["source"] not in sources:
                    continue
                versions = self._catalog.lineage_versions(row["root_artifact_id"], include_expired=True)
                if any(v.is_pinned for v in versions):
                    for v in versions:
                        if not v.is_pinned:
                            removed += len(self._catalog.delete_versions(
                                v.root_artifact_id, v.version, now=self._now(), blobs=self._blobs,
                                event_data={"reason": "session_closed"}))
                else:
                    removed += len(self._catalog.delete_versions(
                        row["root_artifact_id"], None, now=self._now(), blobs=self._blobs,
                        event_data={"reason": "session_closed"}))
        self._catalog.close_session(ns, sid, self._now(), cleaned=do_clean)
        self._write_manifest(ns, sid)
        return {"namespace": ns, "session_id": sid, "cleaned": do_clean, "removed_versions": removed}

    def _expired_rows(self, ns: str, sid: str, sources: Collection[str] | None = None) -> list[Any]:
        return self._catalog.expired_roots(ns, sid, sources)

    def manifest(self, session_id: str, namespace: str = "default") -> dict[str, Any]:
        """The session's ``attachments_manifest.json`` content (rebuilt if missing, or on a
        shared catalog if another machine changed the session since this copy was written)."""
        from .storage.sessions import read_manifest

        ns, sid = self._scope(namespace, session_id)
        if sid is None:
            raise InvalidInputError("manifest needs a session id")
        doc = read_manifest(self.root, ns, sid)
        if doc is None or (self._catalog.shared and doc.get("generation")
                           != self._catalog.manifest_generation(ns, sid)):
            self._write_manifest(ns, sid)
            doc = read_manifest(self.root, ns, sid) or {}
        return doc

    def _write_manifest(self, ns: str, sid: str) -> None:
        from .storage.sessions import write_manifest

        write_manifest(self.root, self._catalog, ns, sid, self._blobs)

    def export_zip(self, dest: str | os.PathLike[str] | IO[bytes] | None = None, *,
                   namespace: str | None = None, session_id: str | None = None,
                   workspace_layout: bool = False) -> Path | IO[bytes]:
        """Write the latest version of every artifact in a session or namespace to a zip.

        ``dest``: a path (written atomically) or a writable binary stream; default
        ``<root>/exports/<scope>.zip``. Returns the path (or the stream).
        ``workspace_layout`` (a session only): seed 001's ``code_workspace/`` layout, uploads
        under ``code_workspace/attachments/`` beside ``attachments_manifest.json``.
        """
        from .storage.export import write_zip

        if namespace is None and session_id is None:
            raise InvalidInputError("export_zip needs a namespace, a session_id, or both")
        ns = V.validate_namespace(namespace if namespace is not None else "default")
        sid = V.validate_session_id(session_id)
        if workspace_layout and sid is None:
            raise InvalidInputError("workspace_layout needs a session_id")
        self._sweep()
        manifest = self.manifest(sid, ns) if workspace_layout and sid is not None else None
        return write_zip(self.root, self._catalog, self._blobs, dest, ns, sid, manifest)

    def gc(self, *, events_keep: int = 100_000, temp_age: float = 0.0) -> GcReport:
        """Expire due versions, drop expired records and content nothing else uses, remove
        temp files no live writer holds (and older than ``temp_age`` seconds), and trim the
        event log to its newest ``events_keep`` events."""
        from .storage.gc import collect

        V.validate_limit(events_keep, 0, 10**12, "events_keep")
        report, sessions = collect(self._catalog, self._blobs, now=self._now(),
                                   events_keep=events_keep, temp_age=temp_age)
        for ns, sid in sessions:
            self._write_manifest(ns, sid)
        return report

    def fsck(self, repair: bool = False, *, verify_content: bool = True) -> FsckReport:
        """Check blobs against the catalog (missing, corrupt, orphan), temp files, manifests and
        SQLite integrity; ``repair=True`` fixes what is safe (orphans, temp files, manifests)."""
        from .storage.fsck import check

        return check(self.root, self._catalog, self._blobs, repair=repair,
                     verify_content=verify_content)

    # -- expiry ------------------------------------------------------------------------------
    def _sweep(self) -> None:
        expired = self._catalog.sweep_expired(self._now())
        for ns, sid in {(a.namespace, a.session_id) for a in expired if a.session_id}:
            self._write_manifest(ns, sid)

    # -- agent frameworks (notebook_artifacts.integrations; each imports its framework) --------
    def as_langchain_retriever(self, k: int = 4, **options: Any) -> Any:
        """A LangChain ``BaseRetriever`` over :meth:`query` (extra ``[langchain]``); ``options``:
        ``namespace``, ``session_id``, ``tags``, ``mode``, ``where``."""
        from .integrations.langchain import ArtifactRetriever

        return ArtifactRetriever(store=self, k=k, **options)

    def as_llama_index_retriever(self, k: int = 4, **options: Any) -> Any:
        """A LlamaIndex retriever over :meth:`query` (extra ``[llama-index]``); same options."""
        from .integrations.llama_index import ArtifactRetriever

        return ArtifactRetriever(self, k=k, **options)


#: the keywords of :meth:`ArtifactStore.put` (also what ``put_many`` takes for all items)
PUT_KEYWORDS = ("namespace", "session_id", "tags", "metadata", "description", "ttl", "pinned",
                "source", "source_tool", "source_execution_id", "source_step_id",
                "artifact_type", "mime_type", "file_name", "index")


def _put_many_items(items: Iterable[Any], common: dict[str, Any]) -> list[Any]:
    """``put_many``'s items as a list, after checking them and ``common`` as a whole (one rule
    for every Store)."""
    unknown = sorted(set(common) - set(PUT_KEYWORDS))
    if unknown:
        raise InvalidInputError(
            f"put_many got an unknown keyword {unknown[0]!r}: one of {', '.join(PUT_KEYWORDS)}")
    if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
        raise InvalidInputError(
            "put_many takes a list of items (paths, content, (src, name) pairs or dicts "
            "of put's arguments); to store one item, use put")
    return list(items)


def _item_spec(item: Any, common: dict[str, Any]) -> tuple[Any, str | None, dict[str, Any]]:
    """One ``put_many`` item as ``(src, name, put keywords)``: content, a ``(src, name)``
    pair, or a dict of ``put``'s arguments (over ``common``)."""
    if isinstance(item, dict) and ("src" in item or "text" in item):
        extra = sorted(set(item) - {"src", "text", "name", *PUT_KEYWORDS})
        if extra:
            raise InvalidInputError(f"unknown key {extra[0]!r}: an item dict takes src or text, "
                                    f"name, and put's keywords ({', '.join(PUT_KEYWORDS)})")
        opts = dict(common)
        opts.update((k, v) for k, v in item.items() if k in PUT_KEYWORDS)
        src, text = item.get("src"), item.get("text")
        if (src is None) == (text is None):
            raise InvalidInputError("an item dict needs exactly one of src and text")
        if text is not None:
            if not isinstance(text, str):
                raise InvalidInputError(f"text= takes a str, not {type(text).__name__}")
            src = TextContent(text)
        return src, item.get("name"), opts
    if isinstance(item, tuple) and len(item) == 2 and (item[1] is None or isinstance(item[1], str)):
        src, name = item
    else:
        src, name = item, None
    if src is None:
        raise InvalidInputError("an item has no content: give a path, bytes, str, dict, list, "
                                "DataFrame or file object")
    return src, name, dict(common)


def _in_background(fn: Callable[..., None], *args: Any) -> Callable[[], None]:
    """Start ``fn(*args)`` on a thread; the function returned waits for it to end and raises
    what it raised (each time it is called)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # handed to the waiter
            failed.append(exc)

    thread = threading.Thread(target=run, name="notebook-artifacts-flush", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return wait


def _labelled(i: int, item: Any, fn: Callable[[], Any]) -> Any:
    """``fn()``; an error it raises names the item (``item 3 ('a.csv'): ...``), same type."""
    try:
        return fn()
    except ArtifactError as exc:
        label = os.fspath(item) if isinstance(item, os.PathLike) else item
        if isinstance(label, tuple):
            label = label[1] or label[0]
        what = f" ({label!r})" if isinstance(label, str) and len(label) <= 200 else ""
        prefix = f"put_many item {i}{what}: "
        if isinstance(exc, OSError) and isinstance(exc.strerror, str):
            exc.strerror = prefix + exc.strerror
        elif exc.args and isinstance(exc.args[0], str):
            exc.args = (prefix + exc.args[0], *exc.args[1:])
        raise


def source_file(src: Any, name: str | None) -> Path | None:
    """The file ``put(src, name)`` reads, or None when ``src`` is not a path: one rule for every
    Store. A ``Path`` or a ``str`` naming a file is that file; a missing one, or a one-line
    ``str`` that looks like a path (a separator or an extension) and comes without a name, is a
    :class:`NoSuchFileError`; :class:`TextContent` is never a path."""
    if isinstance(src, TextContent):
        return None
    if isinstance(src, str) and name is None and not _looks_like_file(src) \
            and _looks_like_path(src):
        raise NoSuchFileError(
            f"no such file: {src!r}; nothing was stored. To store this string as text, "
            f"use put(text={src!r}) or give it a name: put({src!r}, 'note.txt')", src)
    if not (isinstance(src, os.PathLike) or (isinstance(src, str) and _looks_like_file(src))):
        return None
    p = Path(src)
    if p.is_dir():
        raise InvalidInputError(f"{os.fspath(p)!r} is a directory: put its files one at a time")
    if not p.is_file():
        raise NoSuchFileError(f"no such file: {os.fspath(p)!r}; nothing was stored "
                              f"(to store text, use put(text=...))", os.fspath(p))
    return p


def name_for_path(path: str | os.PathLike[str]) -> str:
    """The name a file is stored under when no name is given: its base name.

    One rule for one file and for many, wherever files are put by path: ``put``,
    ``%artifact put``, the upload panel's "Store path" and the CLI's ``put``.
    """
    name = Path(path).name
    if not name:
        raise InvalidInputError(f"{os.fspath(path)!r} names no file; give a file path")
    return name


def names_for_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """:func:`name_for_path` of each path; refuses two files with one name (they would become
    versions of one artifact), before anything is stored."""
    paths = list(paths)
    names = [name_for_path(p) for p in paths]
    seen: dict[str, str] = {}
    for path, name in zip(paths, names):
        first = seen.setdefault(name, os.fspath(path))
        if first != os.fspath(path):
            raise InvalidInputError(
                f"{first!r} and {os.fspath(path)!r} would both be stored as {name!r}; "
                "put them one at a time with different names")
    return names


_PATH_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,9}$")


def _looks_like_path(text: str) -> bool:
    """One line with a path separator or ending in a file extension (``data/x.csv``,
    ``notes.md``): what a mistyped path looks like, as opposed to prose."""
    if not text or len(text) > 4096 or "\n" in text or "\x00" in text:
        return False
    text = text.strip()
    return "/" in text or "\\" in text or bool(_PATH_EXT.search(text))


def _looks_like_file(text: str) -> bool:
    if not text or len(text) > 4096 or "\n" in text or "\x00" in text:
        return False
    try:
        return os.path.exists(text)
    except (OSError, ValueError):
        return False


def _no_json(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON data")


#: cursors are SQLite integers: anything larger was never handed out
_MAX_CURSOR = 2**63 - 1


def _cursor_value(after: Any) -> int:
    if isinstance(after, str) and after.strip().isdigit():
        after = int(after.strip())
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= _MAX_CURSOR:
        raise InvalidInputError(f"invalid cursor {after!r}: give an event cursor >= 0 (0 = from the start)")
    return after


def _current_user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return None

