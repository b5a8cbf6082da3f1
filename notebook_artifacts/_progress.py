"""Progress bars (tqdm.auto) for the waits a person sees: ``wait_indexed`` and
``%artifact wait``, and ``query`` while pending work drains or the embedding model loads.

Where this process indexes, the bar follows its indexer's counters (``index/progress.py``):
first the phase ("loading the embedding model", "extracting and chunking"), then the chunks
embedded, out of the chunks of the versions chunked so far. Where another process indexes (it
holds the embedded index's lock, or a server does the work), the bar counts artifact versions
from the pending count. A line at the end (artifacts, chunks, seconds) stays readable where a
bar does not (a saved notebook, a log).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from .index.progress import IndexProgress

__all__ = ["wait_with_progress", "interactive", "while_running"]

T = TypeVar("T")

#: polls in a row that another process holds the index before the bar counts artifacts
_ELSEWHERE_POLLS = 3


def interactive() -> bool:
    """True where a person watches: a Jupyter kernel, or a terminal (IPython's too). Not
    merely because ipykernel was imported (test runners and tools import it)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is not None:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def wait_with_progress(store: Any, wait_step: Callable[[float], bool],
                       timeout: float | None = None, poll: float = 0.25,
                       counters: Callable[[], IndexProgress] | None = None) -> bool:
    """Wait like ``wait_step`` (one bounded wait, True when done) until nothing is pending or
    ``timeout`` passes, showing a bar; returns True when everything was indexed.
    ``counters``: this process's indexer progress (None: count artifacts only)."""
    total = store.pending_count()
    if not total:
        return wait_step(timeout)
    view = _IndexingView(store, total, counters)
    deadline = None if timeout is None else view.started + timeout
    try:
        while True:
            step = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            finished = wait_step(step)
            left = view.update()
            if finished or not left:
                view.close()  # first, so that the line goes under the bar
                print(view.summary())
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        view.close()


class _IndexingView:
    """The bar of one wait: what is shown changes with the indexer's phase (see the module
    docstring); one tqdm bar at a time, replaced when its kind changes."""

    def __init__(self, store: Any, pending: int,
                 counters: Callable[[], IndexProgress] | None) -> None:
        self.store, self.counters = store, counters
        self.started = time.monotonic()
        self.base = counters() if counters is not None else None
        self.artifacts_total, self.artifacts_done = pending, 0
        self.chunks_total = self.chunks_done = 0  # from the counters, since the start
        self.event_chunks = 0  # from the catalog's "indexed" events (artifact counting)
        self.cursor = store.latest_cursor()
        self.model_loading = self.base is not None and not self.base.model_loaded
        self.model_seconds: float | None = None
        self.elsewhere = 0
        self.kind = ""
        self.bar: Any = None
        self._show(*self._state(self.base))

    def update(self) -> int:
        """Read the store and the counters, redraw; returns how many are still pending."""
        left = self.store.pending_count()
        if left > self.artifacts_total - self.artifacts_done:  # more work arrived meanwhile
            self.artifacts_total = self.artifacts_done + left
        self.artifacts_done = max(self.artifacts_done, self.artifacts_total - left)
        snap = self.counters() if self.counters is not None else None
        if snap is not None and self.base is not None:
            self.chunks_total = snap.chunks_total - self.base.chunks_done
            self.chunks_done = snap.chunks_done - self.base.chunks_done
            if self.model_loading and snap.model_loaded:
                self.model_loading = False
                self.model_seconds = time.monotonic() - self.started
            self.elsewhere = 0 if snap.holder else self.elsewhere + 1
        if not left and self.kind == "chunks":
            self.chunks_total = max(self.chunks_total, self.chunks_done)
        self._show(*self._state(snap))
        return left

    def _state(self, snap: IndexProgress | None) -> tuple[str, str, int | None, int, str]:
        """``(kind, description, total, n, postfix)`` to show."""
        artifacts = f"{self.artifacts_done}/{self.artifacts_total} artifacts"
        if snap is not None and snap.holder and (self.kind == "chunks" or self.chunks_done > 0 or (
                snap.phase in ("embedding", "writing") and self.chunks_total > 0)):
            desc = {"chunking": "extracting and chunking", "writing": "writing"}.get(
                snap.phase, "embedding")
            return "chunks", desc, self.chunks_total, self.chunks_done, artifacts
        if snap is None or self.elsewhere >= _ELSEWHERE_POLLS:
            self._count_event_chunks()
            desc = "indexing" if snap is None else "indexing in another process"
            return ("artifacts", desc, self.artifacts_total, self.artifacts_done,
                    _plural(self.event_chunks, "chunk"))
        if self.elsewhere:  # this process could not take the index (yet)
            desc = "waiting for the indexer"
        elif not snap.model_loaded:
            desc = "loading the embedding model"
        else:
            desc = "extracting and chunking"
        return "phase", desc, None, 0, artifacts

    def _show(self, kind: str, desc: str, total: int | None, n: int, postfix: str) -> None:
        from tqdm.auto import tqdm

        if kind != self.kind:
            self.close()
            self.kind = kind
            if kind == "phase":  # replaced by the chunks bar: no line left behind
                self.bar = tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}{postfix}",
                                leave=False)
            else:
                self.bar = tqdm(total=total, desc=desc, unit=kind[:-1])
        bar = self.bar
        if total is not None and total != bar.total:
            bar.total = total
            widget = getattr(bar, "container", None)  # tqdm.notebook: the bar's own maximum
            if widget is not None:
                widget.children[1].max = total
        bar.n = n
        bar.set_description_str(desc, refresh=False)
        bar.set_postfix_str(postfix, refresh=False)
        bar.refresh()

    def _count_event_chunks(self) -> None:
        """Add the chunks of the versions indexed since the last look (catalog events)."""
        while True:
            page = self.store.events(after=self.cursor, types=["indexed"], limit=100)
            for e in page.events:
                if e.artifact_id:
                    try:
                        self.event_chunks += int(self.store.get(e.artifact_id).chunk_count or 0)
                    except Exception:  # deleted since: nothing to count
                        pass
            self.cursor = page.next_cursor
            if not page.has_more:
                return

    def summary(self) -> str:
        """The line left behind: what was indexed, in how long."""
        if self.chunks_done and self.elsewhere < _ELSEWHERE_POLLS:
            chunks = self.chunks_done  # this process embedded them (cached ones included)
        else:
            self._count_event_chunks()
            chunks = self.event_chunks
        line = (f"Indexed {_plural(self.artifacts_total, 'artifact')} "
                f"({_plural(chunks, 'chunk')}) in {time.monotonic() - self.started:.0f} s")
        if self.model_seconds is not None:
            line += f"; the embedding model loaded in {self.model_seconds:.0f} s"
        return line

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def while_running(fn: Callable[[], T], desc: str, after: float = 0.5) -> T:
    """Run ``fn`` and return its result; when it takes longer than ``after`` seconds (the
    first query loads the embedding model), show a bar with the time spent meanwhile."""
    import threading

    from tqdm.auto import tqdm

    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name="notebook-artifacts-query", daemon=True)
    worker.start()
    worker.join(after)
    if worker.is_alive():
        bar = tqdm(total=None, desc=desc, bar_format="{desc}: {elapsed}")
        try:
            while worker.is_alive():
                worker.join(0.25)
                bar.refresh()
        finally:
            bar.close()
    if "error" in box:
        raise box["error"]
    return box["result"]
