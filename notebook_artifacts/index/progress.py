"""What the indexer of this process has done so far, for progress bars.

The worker thread counts the chunks of each version it has extracted and chunked
(``chunks_total``) and, of them, those embedded or found in the embedding cache
(``chunks_done``), and says which phase it is in; anyone reads an :class:`IndexProgress`
snapshot (``IndexService.progress()``). The counters only grow, for the life of the service:
a waiter keeps the snapshot it started from and shows the difference.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["IndexProgress", "ProgressCounters", "PHASES"]

#: ``idle``: nothing in hand; ``chunking``: reading, extracting and chunking a batch (the
#: first one also loads the embedding model); ``embedding``: its chunks are being embedded;
#: ``writing``: they are going into the vector and keyword indexes.
PHASES = ("idle", "chunking", "embedding", "writing")


@dataclass(frozen=True)
class IndexProgress:
    """One reading of the counters."""

    phase: str
    #: the embedding model is loaded in this process
    model_loaded: bool
    #: this process may index (holds the index lock, uses a server, or a shared catalog);
    #: False: another process holds the index and these counters stay still
    holder: bool
    chunks_total: int
    chunks_done: int


class ProgressCounters:
    """Thread-safe counters the worker moves (a lock around three fields)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phase = "idle"
        self._total = 0
        self._done = 0

    def phase(self, name: str) -> None:
        with self._lock:
            self._phase = name

    def chunked(self, n: int) -> None:
        """``n`` more chunks are waiting to be embedded."""
        with self._lock:
            self._total += n

    def embedded(self, n: int) -> None:
        """``n`` of the waiting chunks have their vectors."""
        with self._lock:
            self._done += n

    def dropped(self, n: int) -> None:
        """``n`` waiting chunks will not be embedded this round (their version failed or
        will be retried, and is counted again when it is chunked again)."""
        with self._lock:
            self._total -= n

    def snapshot(self, *, model_loaded: bool, holder: bool) -> IndexProgress:
        with self._lock:
            return IndexProgress(self._phase, model_loaded, holder, self._total, self._done)
