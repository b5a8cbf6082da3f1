"""The durable event log (table ``events`` in the catalog) and the per-store watcher.

Cursors come from an AUTOINCREMENT key, so they only grow, even after trimming. Trimming
(``gc``) records the highest trimmed cursor in ``meta``; a reader whose cursor is below it
gets ``gap=True``. One :class:`EventWatcher` thread per store polls ``PRAGMA data_version``
on its own connection every ~15 ms while anyone waits or subscribes, and wakes every waiter
and subscriber at once: writes from any process are seen within tens of milliseconds, and
200 concurrent waiters cost one poll loop.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import Event

__all__ = [
    "EventFilter",
    "EventWatcher",
    "append_event",
    "fetch_events",
    "latest_cursor",
    "trim_events",
    "TRIMMED_KEY",
]

log = logging.getLogger("notebook_artifacts.events")
TRIMMED_KEY = "events_trimmed_through"
POLL_INTERVAL = 0.015


def append_event(
    c: sqlite3.Connection, type_: str, row: Any, ts: float, data: dict[str, Any] | None = None,
) -> int:
    """Insert one event for the artifact version ``row`` (inside the caller's transaction)."""
    cur = c.execute(
        "INSERT INTO events(type, artifact_id, root_artifact_id, name, version, namespace, "
        "session_id, mime_type, ext, size_bytes, sha256, timestamp, source_tool, data) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            type_, row["artifact_id"], row["root_artifact_id"], row["name"], row["version"],
            row["namespace"], row["session_id"], row["mime_type"], row["ext"], row["size_bytes"],
            row["sha256"], ts, row["source_tool"], json.dumps(data or {}),
        ),
    )
    return int(cur.lastrowid)


def _to_event(r: sqlite3.Row) -> Event:
    return Event(
        cursor=r["cursor"], type=r["type"], artifact_id=r["artifact_id"],
        root_artifact_id=r["root_artifact_id"], name=r["name"], version=r["version"],
        namespace=r["namespace"], session_id=r["session_id"], mime_type=r["mime_type"],
        size_bytes=r["size_bytes"], sha256=r["sha256"], timestamp=r["timestamp"],
        source_tool=r["source_tool"], data=json.loads(r["data"] or "{}"),
    )


@dataclass(frozen=True)
class EventFilter:
    """Filters of :meth:`ArtifactStore.events` (already validated and normalised)."""

    namespace: str | None = None
    session_id: str | None = None
    include_mime: tuple[str, ...] = ()  # lower-case prefixes
    include_ext: tuple[str, ...] = ()  # lower-case, no dot
    max_size: int | None = None
    types: tuple[str, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.namespace is not None:
            where.append("namespace=?")
            params.append(self.namespace)
        if self.session_id is not None:
            where.append("session_id=?")
            params.append(self.session_id)
        if self.include_mime:
            where.append("(" + " OR ".join("lower(mime_type) LIKE ? ESCAPE '\\'" for _ in self.include_mime) + ")")
            params.extend(_like_prefix(p) for p in self.include_mime)
        if self.include_ext:
            where.append(f"ext IN ({','.join('?' * len(self.include_ext))})")
            params.extend(self.include_ext)
        if self.max_size is not None:
            where.append("size_bytes IS NOT NULL AND size_bytes<=?")
            params.append(self.max_size)
        if self.types:
            where.append(f"type IN ({','.join('?' * len(self.types))})")
            params.extend(self.types)
        return (" AND ".join(where) or "1"), params


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def latest_cursor(c: sqlite3.Connection) -> int:
    row = c.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
    return int(row[0]) if row else 0


def _trimmed_through(c: sqlite3.Connection) -> int:
    row = c.execute("SELECT value FROM meta WHERE key=?", (TRIMMED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def fetch_events(
    c: sqlite3.Connection, after: int, flt: EventFilter, limit: int,
) -> tuple[list[Event], int, bool, bool]:
    """``(events, next_cursor, has_more, gap)`` in one snapshot (call inside a read tx).

    Without ``has_more``, ``next_cursor`` moves past events the filters skipped, so a poller
    does not scan them again.
    """
    cond, params = flt.sql()
    rows = c.execute(
        f"SELECT * FROM events WHERE cursor>? AND {cond} ORDER BY cursor LIMIT ?",
        [after, *params, limit + 1],
    ).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    events = [_to_event(r) for r in rows]
    trimmed = _trimmed_through(c)
    gap = trimmed > 0 and after < trimmed
    if has_more:
        next_cursor = events[-1].cursor
    else:
        next_cursor = max(after, latest_cursor(c), events[-1].cursor if events else 0)
    return events, next_cursor, has_more, gap


def trim_events(c: sqlite3.Connection, keep: int) -> int:
    """Delete all but the newest ``keep`` events (inside a write tx); returns how many."""
    top = latest_cursor(c)
    cut = top - keep
    if cut <= 0:
        return 0
    n = c.execute("DELETE FROM events WHERE cursor<=?", (cut,)).rowcount
    if cut > _trimmed_through(c):
        c.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (TRIMMED_KEY, str(cut))
        )
    return n


class _Subscriber:
    def __init__(self, callback: Callable[[list[Event]], Any], flt: EventFilter, cursor: int):
        self.callback = callback
        self.filter = flt
        self.cursor = cursor


class EventWatcher:
    """One polling thread per store: wakes waiters and feeds subscribers on any commit."""

    def __init__(self, db_path: str | os.PathLike[str], interval: float = POLL_INTERVAL):
        self.db_path = Path(db_path)
        self.interval = interval
        self._cond = threading.Condition()
        self._generation = 0
        self._waiters = 0
        self._subs: dict[int, _Subscriber] = {}
        self._next_sub = 0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._tick = threading.Event()

    # -- waiters -------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def poke(self) -> None:
        """A write was committed in this process: wake waiters now."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
        self._tick.set()

    def wait(self, generation: int, timeout: float) -> int:
        """Block until the generation moves past ``generation`` or ``timeout``; returns it."""
        with self._cond:
            self._waiters += 1
            self._ensure_thread()
            try:
                self._cond.wait_for(
                    lambda: self._generation != generation or self._stopped, timeout=max(0.0, timeout)
                )
                return self._generation
            finally:
                self._waiters -= 1

    # -- subscribers -----------------------------------------------------------------------
    def subscribe(
        self, callback: Callable[[list[Event]], Any], flt: EventFilter, cursor: int,
    ) -> Callable[[], None]:
        with self._cond:
            key = self._next_sub
            self._next_sub += 1
            self._subs[key] = _Subscriber(callback, flt, cursor)
            self._ensure_thread()
            self._cond.notify_all()

        def unsubscribe() -> None:
            with self._cond:
                self._subs.pop(key, None)

        return unsubscribe

    # -- the thread --------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._stopped:
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name=f"artifact-events:{self.db_path.parent.name}", daemon=True
            )
            self._thread.start()
        else:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._tick.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2)

    def _run(self) -> None:
        from .catalog import connect

        conn = connect(self.db_path)
        try:
            last = conn.execute("PRAGMA data_version").fetchone()[0]
            while True:
                with self._cond:
                    while not self._stopped and self._waiters == 0 and not self._subs:
                        self._cond.wait()
                    if self._stopped:
                        return
                    subs = list(self._subs.values())
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if version != last:
                    last = version
                    with self._cond:
                        self._generation += 1
                        self._cond.notify_all()
                if subs:
                    self._deliver(conn, subs)
                self._tick.wait(self.interval)
                self._tick.clear()
        except Exception:  # pragma: no cover - keep the process alive, report once
            log.exception("event watcher stopped")
        finally:
            conn.close()

    def _deliver(self, conn: sqlite3.Connection, subs: list[_Subscriber]) -> None:
        top = latest_cursor(conn)
        for sub in subs:
            while sub.cursor < top:
                cond, params = sub.filter.sql()
                rows = conn.execute(
                    f"SELECT * FROM events WHERE cursor>? AND {cond} ORDER BY cursor LIMIT 500",
                    [sub.cursor, *params],
                ).fetchall()
                if not rows:
                    sub.cursor = top
                    break
                events = [_to_event(r) for r in rows]
                sub.cursor = events[-1].cursor
                try:
                    sub.callback(events)
                except Exception:
                    log.exception("artifact event subscriber %r raised", sub.callback)
