"""One store subscription per server, fanned out to WebSocket clients and long-poll waiters.

``store.subscribe`` calls back on the store's watcher thread with events written by any
process; the hub hands them to the event loop with ``loop.call_soon_threadsafe``. Long-poll
waiters are futures on the loop (no thread each), woken when an event in their scope arrives.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional

from ..models import Event

__all__ = ["EventHub", "Listener"]

log = logging.getLogger("notebook_artifacts.server")


class Listener:
    """A WebSocket client's queue of event batches; ``overflowed`` when it fell too far behind."""

    def __init__(self, namespace: Optional[str], session_id: Optional[str], maxsize: int = 1000) -> None:
        self.namespace = namespace
        self.session_id = session_id
        self.queue: asyncio.Queue[list[Event]] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        #: a scoped token's boundary: events it refuses are never queued
        self.allow: Optional[Callable[[Event], bool]] = None

    def matches(self, e: Event) -> bool:
        if self.allow is not None and not self.allow(e):
            return False
        if self.namespace is not None and e.namespace != self.namespace:
            return False
        if self.session_id is not None and e.session_id != self.session_id:
            return False
        return True


class EventHub:
    """Bridges ``store.subscribe`` (a thread) into asyncio; started lazily on the serving loop."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._unsubscribe: Optional[Callable[[], None]] = None
        self._listeners: set[Listener] = set()
        self._waiters: dict[tuple[Optional[str], Optional[str]], set[asyncio.Future[None]]] = {}

    # lifecycle ---------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Subscribe once per running loop (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._unsubscribe is not None:
            return
        self.stop()
        self._loop = loop
        self._unsubscribe = self._store.subscribe(self._from_thread)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            try:
                self._unsubscribe()
            except Exception:  # pragma: no cover - best effort at shutdown
                log.debug("unsubscribe failed", exc_info=True)
        self._unsubscribe = None
        self._loop = None

    # store watcher thread -> loop ---------------------------------------------------
    def _from_thread(self, events: list[Event]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not events:
            return
        try:
            loop.call_soon_threadsafe(self._dispatch, list(events))
        except RuntimeError:  # loop closed between the check and the call
            pass

    def _dispatch(self, events: list[Event]) -> None:
        for listener in list(self._listeners):
            mine = [e for e in events if listener.matches(e)]
            if not mine:
                continue
            try:
                listener.queue.put_nowait(mine)
            except asyncio.QueueFull:
                listener.overflowed = True
        scopes = {(e.namespace, e.session_id) for e in events}
        scopes |= {(e.namespace, None) for e in events} | {(None, e.session_id) for e in events}
        scopes.add((None, None))
        for key in scopes:
            for fut in self._waiters.pop(key, ()):
                if not fut.done():
                    fut.set_result(None)

    # consumers ----------------------------------------------------------------------
    def add_listener(self, namespace: Optional[str], session_id: Optional[str]) -> Listener:
        self.ensure_started()
        listener = Listener(namespace, session_id)
        self._listeners.add(listener)
        return listener

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def arm(self, namespace: Optional[str], session_id: Optional[str]) -> "asyncio.Future[None]":
        """Register a waiter for the scope *before* checking the log, so no wake-up is lost."""
        self.ensure_started()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((namespace, session_id), set()).add(fut)
        return fut

    def disarm(self, fut: "asyncio.Future[None]", namespace: Optional[str], session_id: Optional[str]) -> None:
        key = (namespace, session_id)
        bucket = self._waiters.get(key)
        if bucket is not None:
            bucket.discard(fut)
            if not bucket:
                self._waiters.pop(key, None)

    async def wait(self, fut: "asyncio.Future[None]", timeout: float) -> bool:
        """Wait on an armed future: True when an event in scope arrived, False on timeout."""
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    @property
    def waiting(self) -> int:
        """Number of long-poll waiters now parked (for tests and diagnostics)."""
        return sum(len(b) for b in self._waiters.values())

    @property
    def listeners(self) -> int:
        return len(self._listeners)
