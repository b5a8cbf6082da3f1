"""``ScopedStore``: a :class:`Store` limited to the namespaces under some prefixes.

The server wraps its store in one for each request made with a scoped token, so every route
family, the WebSocket, events and query results see the same boundary, enforced here once:

* an artifact, session or event outside the prefixes is absent: reads raise the same
  :class:`NotFoundError` an unknown name gets, listings, events and query results leave it
  out, and a put into such a namespace is refused as not found;
* a read-only scope raises :class:`ReadOnlyError` (403) before any change.

A prefix ``team/a`` covers ``team/a`` and ``team/a/...``, never ``team/ab``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import IO, Any

from .errors import AdminOnlyError, InvalidInputError, NotFoundError, ReadOnlyError
from .models import Artifact, Event, EventPage, FsckReport, GcReport, Page, QueryResult, Source
from .protocol import Store

__all__ = ["ScopedStore", "namespace_allowed"]

_UNSET: Any = ...
#: rows fetched per look when a listing without a namespace is filtered to the prefixes
_SCAN_PAGE = 200


def namespace_allowed(namespace: Any, prefixes: Iterable[str]) -> bool:
    """True when ``namespace`` is one of ``prefixes`` or lies under one."""
    if not isinstance(namespace, str):
        return False
    return any(namespace == p or namespace.startswith(p + "/") for p in prefixes)


def _is_id(ref: Any) -> bool:
    return isinstance(ref, str) and ref.startswith(("art_", "att_"))


class ScopedStore:
    """``inner`` as seen by a token for ``prefixes`` (``read_only``: no changes)."""

    def __init__(self, inner: Store, prefixes: Iterable[str], read_only: bool = False) -> None:
        self.inner = inner
        self.prefixes = tuple(prefixes)
        self.read_only = bool(read_only)

    def __getattr__(self, name: str) -> Any:
        if name in ("clock", "root", "location"):  # plain attributes (never a method)
            return getattr(self.inner, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"ScopedStore({self.inner!r}, prefixes={list(self.prefixes)}, {mode})"

    # -- the boundary ----------------------------------------------------------------------
    def allows(self, namespace: Any) -> bool:
        return namespace_allowed(namespace, self.prefixes)

    def allows_event(self, e: Event) -> bool:
        return self.allows(e.namespace)

    def _write(self) -> None:
        if self.read_only:
            raise ReadOnlyError("this token is read-only: it may list and read but not change artifacts")

    def _absent(self, ref: Any, namespace: Any, session_id: Any = None) -> NotFoundError:
        if _is_id(ref):
            return NotFoundError(f"no artifact {ref!r}")
        where = f"namespace {namespace!r}" + (f", session {session_id!r}" if session_id else "")
        return NotFoundError(f"no artifact {ref!r} in {where}; list what exists with list() "
                             "or `notebook-artifacts ls`")

    def _locate(self, ref: Any, namespace: Any, session_id: Any) -> Any:
        """Check ``ref`` lies inside the scope before the inner store resolves it (so no
        message about a foreign artifact, its versions or its expiry ever comes back)."""
        if isinstance(ref, Artifact):
            ref = ref.artifact_id
        if _is_id(ref):
            try:
                found = self.inner.get(ref)
            except NotFoundError:
                found = None
            if found is not None:
                if not self.allows(found.namespace):
                    raise self._absent(ref, namespace, session_id)
                return ref
        if not self.allows(namespace):
            raise self._absent(ref, namespace, session_id)
        return ref

    def _mine(self, a: Artifact, ref: Any, namespace: Any, session_id: Any) -> Artifact:
        if not self.allows(a.namespace):
            raise self._absent(ref, namespace, session_id)
        return a

    # -- put -------------------------------------------------------------------------------
    def put(self, src: Any = None, name: str | None = None, *, namespace: str = "default",
            session_id: str | None = None, **kwargs: Any) -> Artifact:
        self._write()
        if not self.allows(namespace):
            raise NotFoundError(f"no namespace {namespace!r} for this token: it may write under "
                                f"{', '.join(self.prefixes)}")
        return self.inner.put(src, name, namespace=namespace, session_id=session_id, **kwargs)

    def put_many(self, items: Iterable[Any], **common: Any) -> list[Artifact]:
        """``put_many`` when every item's namespace (its own, else ``common``'s) is in scope."""
        self._write()
        items = list(items) if not isinstance(items, (str, bytes, dict)) else items
        default = common.get("namespace", "default")
        for ns in [default] + [i.get("namespace", default) for i in items
                                 if isinstance(i, dict) and ("src" in i or "text" in i)]:
            if not self.allows(ns):
                raise NotFoundError(f"no namespace {ns!r} for this token: it may write under "
                                    f"{', '.join(self.prefixes)}")
        return self.inner.put_many(items, **common)

    def register_file(self, path: str | os.PathLike[str], name: str | None = None, *,
                      namespace: str = "default", session_id: str | None = None,
                      source: str = "workspace", workspace_path: str | None = None,
                      **kwargs: Any) -> Artifact:
        self._write()
        if not self.allows(namespace):
            raise NotFoundError(f"no namespace {namespace!r} for this token")
        return self.inner.register_file(path, name, namespace=namespace, session_id=session_id,
                                        source=source, workspace_path=workspace_path, **kwargs)

    # -- reading ---------------------------------------------------------------------------
    def get(self, ref: Any, version: int | None = None, *, namespace: str = "default",
            session_id: str | None = None) -> Artifact:
        r = self._locate(ref, namespace, session_id)
        a = self.inner.get(r, version, namespace=namespace, session_id=session_id)
        return self._mine(a, ref, namespace, session_id)

    def open(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> IO[bytes]:
        a = self.get(ref, version, namespace=namespace, session_id=session_id)
        return self.inner.open(a.artifact_id)

    def read_bytes(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                   session_id: str | None = None) -> bytes:
        a = self.get(ref, version, namespace=namespace, session_id=session_id)
        return self.inner.read_bytes(a.artifact_id)

    def read_text(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                  session_id: str | None = None, encoding: str = "utf-8", errors: str = "strict") -> str:
        a = self.get(ref, version, namespace=namespace, session_id=session_id)
        return self.inner.read_text(a.artifact_id, encoding=encoding, errors=errors)

    def load(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any:
        a = self.get(ref, version, namespace=namespace, session_id=session_id)
        return self.inner.load(a.artifact_id)

    def versions(self, ref: Any, *, namespace: str = "default", session_id: str | None = None,
                 include_expired: bool = False) -> list[Artifact]:
        r = self._locate(ref, namespace, session_id)
        vs = self.inner.versions(r, namespace=namespace, session_id=session_id,
                                 include_expired=include_expired)
        return [v for v in vs if self.allows(v.namespace)]

    def list(self, namespace: str | None = None, session_id: str | None = None,
             tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
             include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Page:
        if namespace is not None:
            if not self.allows(namespace):  # as if absent: an empty listing, after the checks
                self.inner.list(namespace, session_id, tags, types, include_expired, 1, cursor)
                return Page(artifacts=[], total=0, has_more=False, next_cursor=None)
            return self.inner.list(namespace, session_id, tags, types, include_expired, limit, cursor)
        # every namespace: filter the whole listing to the prefixes (cursor = items skipped)
        first = self.inner.list(None, session_id, tags, types, include_expired, 1, None)
        if cursor not in (None, "") and not str(cursor).isdigit():
            raise InvalidInputError(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 200:
            self.inner.list(None, session_id, tags, types, include_expired, limit, None)  # its error
        mine: list[Artifact] = []
        inner_cursor = None
        page = first
        if first.total:
            while True:
                page = self.inner.list(None, session_id, tags, types, include_expired,
                                       _SCAN_PAGE, inner_cursor)
                mine += [a for a in page.artifacts if self.allows(a.namespace)]
                if not page.has_more:
                    break
                inner_cursor = page.next_cursor
        skip = int(cursor) if cursor not in (None, "") else 0
        chunk = mine[skip:skip + limit]
        more = skip + limit < len(mine)
        return Page(artifacts=chunk, total=len(mine), has_more=more,
                    next_cursor=str(skip + limit) if more else None)

    def frame(self, namespace: str | None = None, session_id: str | None = None,
              tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
              include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Any:
        return self.list(namespace, session_id, tags, types, include_expired, limit, cursor).to_frame()

    def names(self, namespace: str = "default", session_id: str | None = None) -> list[str]:
        names = self.inner.names(namespace, session_id)  # checks the arguments
        return names if self.allows(namespace) else []

    # -- changing --------------------------------------------------------------------------
    def update(self, ref: Any, *, version: int | None = None, namespace: str = "default",
               session_id: str | None = None, tags: Iterable[str] | str | None = None,
               add_tags: Iterable[str] | str = (), remove_tags: Iterable[str] | str = (),
               metadata: dict[str, Any] | None = None, description: str | None = None,
               ttl: Any = _UNSET, pinned: bool | None = None) -> Artifact:
        self._write()
        r = self._locate(ref, namespace, session_id)
        kw: dict[str, Any] = {} if ttl is _UNSET else {"ttl": ttl}
        return self.inner.update(r, version=version, namespace=namespace, session_id=session_id,
                                 tags=tags, add_tags=add_tags, remove_tags=remove_tags,
                                 metadata=metadata, description=description, pinned=pinned, **kw)

    def delete(self, ref: Any, version: int | None = None, *, namespace: str = "default",
               session_id: str | None = None) -> list[Artifact]:
        self._write()
        r = self._locate(ref, namespace, session_id)
        return self.inner.delete(r, version, namespace=namespace, session_id=session_id)

    # -- events ----------------------------------------------------------------------------
    def latest_cursor(self) -> int:
        return self.inner.latest_cursor()

    def events(self, after: int = 0, wait_seconds: float = 0, namespace: str | None = None,
               session_id: str | None = None, include_mime: Iterable[str] | str | None = None,
               include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
               limit: int = 25, types: Iterable[str] | str | None = None) -> EventPage:
        """The inner events with every event outside the prefixes left out (the cursor still
        moves past them); a wait continues until an event inside arrives."""
        deadline = time.monotonic() + (wait_seconds if isinstance(wait_seconds, (int, float)) else 0)
        wait = wait_seconds
        while True:
            page = self.inner.events(after, wait, namespace, session_id, include_mime,
                                     include_ext, max_size, limit, types)
            mine = [e for e in page.events if self.allows(e.namespace)]
            left = deadline - time.monotonic()
            if mine or page.gap or page.has_more or not page.events or left <= 0:
                return EventPage(events=mine, next_cursor=page.next_cursor,
                                 has_more=page.has_more, timed_out=page.timed_out or (
                                     not mine and bool(wait_seconds) and left <= 0),
                                 gap=page.gap)
            after, wait = page.next_cursor, left

    def subscribe(self, callback: Callable[[list[Event]], Any], *, after: int | None = None,
                  **filters: Any) -> Callable[[], None]:
        if not callable(callback):
            raise InvalidInputError("subscribe needs a callable taking a list of events")

        def mine(events: list[Event]) -> None:
            kept = [e for e in events if self.allows(e.namespace)]
            if kept:
                callback(kept)

        return self.inner.subscribe(mine, after=after, **filters)

    # -- sessions --------------------------------------------------------------------------
    def sessions(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [s for s in self.inner.sessions(namespace) if self.allows(s.get("namespace"))]

    def close_session(self, session_id: str, namespace: str = "default", *,
                      clean: bool | None = None,
                      sources: Collection[str] | None = None) -> dict[str, Any]:
        self._write()
        if not self.allows(namespace):
            raise NotFoundError(f"no session {session_id!r} in namespace {namespace!r}")
        return self.inner.close_session(session_id, namespace, clean=clean, sources=sources)

    def manifest(self, session_id: str, namespace: str = "default") -> dict[str, Any]:
        if not self.allows(namespace):
            raise NotFoundError(f"no session {session_id!r} in namespace {namespace!r}")
        return self.inner.manifest(session_id, namespace)

    # -- index -----------------------------------------------------------------------------
    def query(self, text: str, k: int = 10, *, namespace: str | None = None,
              session_id: str | None = None, tags: Any = None, mime_types: Any = None,
              where: dict[str, Any] | None = None, mode: str = "hybrid",
              versions: str = "latest", scope: str = "artifacts",
              context_budget: int = 6000, min_score: float | None = None,
              progress: bool | None = None) -> QueryResult:
        """The inner query, keeping only hits inside the prefixes; when any hit was left out,
        ``combined_context`` is rebuilt from the kept hits (nothing foreign is quoted)."""
        kw = dict(namespace=namespace, session_id=session_id, tags=tags, mime_types=mime_types,
                  where=where, mode=mode, versions=versions, scope=scope,
                  context_budget=context_budget, min_score=min_score, progress=progress)
        res = self.inner.query(text, k, **kw)  # checks every argument
        if namespace is not None and not self.allows(namespace):
            return QueryResult(results=[], combined_context="", total_results=0, query=res.query)
        if all(self.allows(h.artifact.namespace) for h in res.results):
            return res
        wide = self.inner.query(text, min(max(k * 4, 40), 200), **kw)
        hits = [h for h in wide.results if self.allows(h.artifact.namespace)][:k]
        from .index.context import ContextChunk, combined_context

        context, _ = combined_context(
            [ContextChunk(h.artifact.name, h.artifact.version, h.matched_chunk,
                          (h.location or {}).get("page"), (h.location or {}).get("section"))
             for h in hits], context_budget)
        return QueryResult(results=hits, combined_context=context, total_results=len(hits),
                           query=res.query)

    def wait_indexed(self, timeout: float | None = None, *, progress: bool | None = None) -> bool:
        return self.inner.wait_indexed(timeout, progress=progress)

    def pending_count(self) -> int:
        return self.inner.pending_count()

    def reindex(self, ref: Any = None, *, namespace: str = "default",
                session_id: str | None = None) -> int:
        self._write()
        if ref is None:
            raise AdminOnlyError("reindexing the whole store needs the server's admin token; "
                                 "name an artifact")
        r = self._locate(ref, namespace, session_id)
        return self.inner.reindex(r, namespace=namespace, session_id=session_id)

    def promote(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                session_id: str | None = None, message: str = "") -> Source:
        self._write()
        r = self._locate(ref, namespace, session_id)
        return self.inner.promote(r, version, namespace=namespace, session_id=session_id,
                                  message=message)

    def sources(self, namespace: str | None = None) -> list[Source]:
        return [s for s in self.inner.sources(namespace) if self.allows(s.namespace)]

    # -- export ----------------------------------------------------------------------------
    def export_zip(self, dest: str | os.PathLike[str] | IO[bytes] | None = None, *,
                   namespace: str | None = None, session_id: str | None = None,
                   workspace_layout: bool = False) -> Path | IO[bytes]:
        ns = namespace if namespace is not None else "default"
        if (namespace is not None or session_id is not None) and not self.allows(ns):
            raise NotFoundError(f"no namespace {ns!r}")
        return self.inner.export_zip(dest, namespace=namespace, session_id=session_id,
                                     workspace_layout=workspace_layout)

    # -- maintenance: the whole store, so the admin's only ---------------------------------
    def gc(self, *, events_keep: int = 100_000, temp_age: float = 0.0) -> GcReport:
        raise AdminOnlyError("gc covers the whole store: it needs the server's admin token")

    def fsck(self, repair: bool = False, *, verify_content: bool = True) -> FsckReport:
        raise AdminOnlyError("fsck covers the whole store: it needs the server's admin token")

    def close(self) -> None:
        """The inner store belongs to the server: closing a view of it does nothing."""
