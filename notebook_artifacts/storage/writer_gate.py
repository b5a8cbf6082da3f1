"""Writer priority within one process: background work steps aside while puts are writing.

The catalog has one :class:`WriterGate`. Every put holds it (:meth:`WriterGate.writing`) from
staging its content to its last write; the background indexer calls
:meth:`WriterGate.yield_to_writers` before each of its own steps (a claim, a document, a write
of its state), so a server taking many uploads while the indexer is busy keeps its write
throughput. The wait is bounded (:data:`MAX_YIELD_SECONDS`), so a steady stream of puts slows
indexing down but never stops it.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["WriterGate", "MAX_YIELD_SECONDS"]

#: The longest one yield waits for puts in progress before the background step goes ahead.
MAX_YIELD_SECONDS = 0.5


class WriterGate:
    """Counts puts in progress; background work waits (bounded) until there are none."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        #: how many times background work found puts in progress and waited (diagnostics)
        self.yields = 0

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the gate for one put (re-entrant: a count, not a lock)."""
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    @property
    def active(self) -> int:
        """Puts in progress now."""
        return self._active

    def yield_to_writers(self, max_wait: float = MAX_YIELD_SECONDS) -> float:
        """Wait while puts are in progress, at most ``max_wait`` seconds; returns the wait."""
        if not self._active:
            return 0.0
        start = time.monotonic()
        with self._cond:
            if self._active:
                self.yields += 1
                self._cond.wait_for(lambda: not self._active, timeout=max_wait)
        return time.monotonic() - start
