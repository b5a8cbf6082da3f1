"""The durable event log (table ``events`` in the catalog) and the per-store watcher.

Cursors only grow, even after trimming, and follow commit order: on SQLite they come from
an AUTOINCREMENT key (writers are serialised by ``BEGIN IMMEDIATE``); on PostgreSQL from a
counter row updated inside the writing transaction (a sequence would hand out ids that
commit out of order, and a reader could skip an event that commits late). Trimming (``gc``)
records the highest trimmed cursor in ``meta``; a reader whose cursor is below it gets
``gap=True``. One :class:`EventWatcher` thread per store waits on the catalog's change feed
(``PRAGMA data_version`` polled every ~15 ms on SQLite; ``LISTEN``/``NOTIFY`` on PostgreSQL)
while anyone waits or subscribes, and wakes every waiter and subscriber at once: writes from
any process (or machine) are seen within tens of milliseconds, and 200 concurrent waiters
cost one loop.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
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
    "notify",
    "tag_condition",
]

log = logging.getLogger("notebook_artifacts.events")
TRIMMED_KEY = "events_trimmed_through"
POLL_INTERVAL = 0.015


#: PostgreSQL's channel for wake-ups (one store per database)
CHANNEL = "notebook_artifacts_events"


def append_event(
    c: Any, type_: str, row: Any, ts: float, data: dict[str, Any] | None = None,
) -> int:
    """Insert one event for the artifact version ``row`` (inside the caller's transaction)."""
    values = (
        type_, row["artifact_id"], row["root_artifact_id"], row["name"], row["version"],
        row["namespace"], row["session_id"], row["mime_type"], row["ext"], row["size_bytes"],
        row["sha256"], ts, row["source_tool"], json.dumps(data) if data else "{}",
    )
    cols = ("type, artifact_id, root_artifact_id, name, version, namespace, session_id, "
            "mime_type, ext, size_bytes, sha256, timestamp, source_tool, data")
    if c.dialect == "sqlite":
        cur = c.execute(f"INSERT INTO events({cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", values)
        return int(cur.lastrowid)
    # the counter row stays locked until this transaction commits: the next writer's cursor
    # is higher and commits later, so cursor order is commit order
    cursor = int(c.execute(
        "UPDATE counters SET value=value+1 WHERE key='events' RETURNING value").fetchone()[0])
    c.execute(f"INSERT INTO events(cursor, {cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
              (cursor, *values))
    return cursor


def notify(c: Any) -> None:
    """Wake other machines' watchers when this transaction commits (PostgreSQL ``NOTIFY``;
    SQLite's watchers see ``data_version`` change by themselves)."""
    if c.dialect == "postgresql":
        c.execute(f"NOTIFY {CHANNEL}")


def tag_condition(dialect: str) -> str:
    """A condition, with one ``?`` for the tag, true when ``artifact_versions.tags`` (a JSON
    list) holds that tag."""
    if dialect == "postgresql":
        return "CAST(artifact_versions.tags AS jsonb) @> jsonb_build_array(CAST(? AS TEXT))"
    return "EXISTS (SELECT 1 FROM json_each(artifact_versions.tags) WHERE value=?)"


def _to_event(r: Any) -> Event:
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
        return (" AND ".join(where) or "1=1"), params


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def latest_cursor(c: Any) -> int:
    """The newest cursor handed out (committed: the caller reads in a snapshot)."""
    if c.dialect == "postgresql":
        row = c.execute("SELECT value FROM counters WHERE key='events'").fetchone()
    else:
        row = c.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
    return int(row[0]) if row else 0


def _trimmed_through(c: Any) -> int:
    row = c.execute("SELECT value FROM meta WHERE key=?", (TRIMMED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def fetch_events(
    c: Any, after: int, flt: EventFilter, limit: int,
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


def trim_events(c: Any, keep: int) -> int:
    """Delete all but the newest ``keep`` events (inside a write tx); returns how many."""
    top = latest_cursor(c)
    cut = top - keep
    if cut <= 0:
        return 0
    n = c.execute("DELETE FROM events WHERE cursor<=?", (cut,)).rowcount
    if cut > _trimmed_through(c):
        c.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET value=excluded.value", (TRIMMED_KEY, str(cut)))
    return n


class _Subscriber:
    def __init__(self, callback: Callable[[list[Event]], Any], flt: EventFilter, cursor: int):
        self.callback = callback
        self.filter = flt
        self.cursor = cursor


class EventWatcher:
    """One watcher thread per store: wakes waiters and feeds subscribers on any commit.

    ``open_feed(interval)`` opens the catalog's change feed (:meth:`Catalog.change_feed`)
    in the watcher thread.
    """

    def __init__(self, open_feed: Callable[[float], Any], name: str = "store",
                 interval: float = POLL_INTERVAL):
        self.open_feed = open_feed
        self.name = name
        self.interval = interval
        self._cond = threading.Condition()
        self._generation = 0
        self._waiters = 0
        self._subs: dict[int, _Subscriber] = {}
        self._next_sub = 0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._feed: Any = None
        self._dirty = True

    # -- waiters -------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        with self._cond:
            return self._generation

    def poke(self) -> None:
        """A write was committed in this process: wake waiters now."""
        with self._cond:
            self._generation += 1
            self._dirty = True
            self._cond.notify_all()
            feed = self._feed
        if feed is not None:
            feed.poke()

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
            self._dirty = True  # deliver its backlog at once
            self._ensure_thread()
            self._cond.notify_all()
            feed = self._feed
        if feed is not None:
            feed.poke()

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
                target=self._run, name=f"artifact-events:{self.name}", daemon=True
            )
            self._thread.start()
        else:
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            feed = self._feed
        if feed is not None:
            feed.poke()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=2)

    def _run(self) -> None:
        feed = self.open_feed(self.interval)
        with self._cond:
            self._feed = feed
        try:
            while True:
                with self._cond:
                    while not self._stopped and self._waiters == 0 and not self._subs:
                        self._cond.wait()
                    if self._stopped:
                        return
                    subs = list(self._subs.values())
                    dirty, self._dirty = self._dirty, False
                if subs and dirty:
                    self._deliver(feed, subs)
                # wait for a commit by any process (bounded, so stop() is seen)
                if feed.wait(0.25):
                    with self._cond:
                        self._generation += 1
                        self._dirty = True
                        self._cond.notify_all()
        except Exception:  # pragma: no cover - keep the process alive, report once
            log.exception("event watcher stopped")
        finally:
            with self._cond:
                self._feed = None
            feed.close()

    def _deliver(self, feed: Any, subs: list[_Subscriber]) -> None:
        with feed.reading() as conn:
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
