"""Group commit for concurrent uploads: puts that arrive while others are being stored are
stored together.

A server taking many small uploads at once would otherwise store them one by one, each with
its own fsync, catalog transaction and session-manifest rewrite, queueing on the store's
locks. Here an upload's worker thread queues its put; if no put into that store is being
stored, the thread becomes the leader and stores everything queued with ONE
``store.put_many`` (one transaction, one flush of the content, one manifest rewrite per
session), then wakes the others; otherwise it waits, and the next leader takes its put. A
lone upload is a batch of one: no added wait. Each put is durable when its request returns,
as before.

``put_many`` stores all of a batch or none: if it raises, every put of the batch is stored
again on its own with ``store.put``, so each request gets its own record or its own error
(a bad upload never fails the others).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..models import Artifact
from ..protocol import Store

__all__ = ["GroupCommit"]

#: the most puts stored in one transaction
MAX_BATCH = 256


@dataclass(eq=False)
class _Put:
    src: Any
    name: str | None
    options: dict[str, Any]
    done: bool = False
    result: Artifact | None = None
    error: BaseException | None = field(default=None, repr=False)


class GroupCommit:
    """Stores concurrent ``put`` calls into one store together (see the module docstring)."""

    def __init__(self, max_batch: int = MAX_BATCH) -> None:
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queues: dict[int, list[_Put]] = {}
        self._leading: set[int] = set()
        #: batches stored and puts in them (for tests and benchmarks)
        self.batches = 0
        self.puts = 0

    def put(self, store: Store, src: Any, name: str | None = None, **options: Any) -> Artifact:
        """``store.put(src, name, **options)``, stored with any puts into ``store`` that wait
        at the same time. Blocking: call it from a worker thread."""
        if hasattr(src, "read") and not hasattr(src, "seek"):
            return store.put(src, name, **options)  # a stream read once cannot be stored again
        me = _Put(src, name, options)
        # keyed by identity: every queued put's thread holds its store, so ids of queued
        # stores are unique (a scoped token's store is its own object: its puts queue apart)
        key = id(store)
        with self._cond:
            self._queues.setdefault(key, []).append(me)
            while not me.done:
                if key in self._leading:
                    self._cond.wait()
                    continue
                queue = self._queues[key]  # this put is still in it: lead, store what waits
                batch = queue[:self.max_batch]
                del queue[:self.max_batch]
                if not queue:
                    del self._queues[key]
                self._leading.add(key)
                self._cond.release()
                try:
                    self._store(store, batch)
                finally:
                    self._cond.acquire()
                    self._leading.discard(key)
                    self._cond.notify_all()
        if me.error is not None:
            raise me.error
        assert me.result is not None
        return me.result

    def _store(self, store: Store, batch: list[_Put]) -> None:
        try:
            records = None
            if len(batch) > 1:
                try:
                    records = store.put_many(
                        [dict(p.options, src=p.src, name=p.name) for p in batch])
                except Exception:
                    pass  # stored nothing: each put again on its own, with its own error
            if records is not None:
                with self._cond:
                    self.batches += 1
                    self.puts += len(batch)
                for p, record in zip(batch, records):
                    p.result, p.done = record, True
                return
            for p in batch:  # a lone put, or a batch that failed as a whole
                try:
                    if len(batch) > 1 and hasattr(p.src, "seek"):
                        p.src.seek(0)
                    p.result = store.put(p.src, p.name, **p.options)
                except Exception as exc:
                    p.error = exc
                p.done = True
        except BaseException as exc:
            for p in batch:
                if not p.done:
                    p.error, p.done = exc, True
            raise
