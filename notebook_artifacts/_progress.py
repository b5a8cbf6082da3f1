"""A progress bar (tqdm.auto) while background indexing drains: what ``store.wait_indexed``,
``%artifact wait`` and ``%artifact query`` show instead of a silent pause.

The bar counts artifact versions; its label says when the embedding model is still loading
(nothing indexed yet) and how many chunks have been embedded so far.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

__all__ = ["wait_with_progress", "interactive", "while_running"]


def interactive() -> bool:
    """True where a person watches: a Jupyter kernel, IPython, or a terminal."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def wait_with_progress(store: Any, wait_step: Callable[[float], bool],
                       timeout: float | None = None, poll: float = 0.25) -> bool:
    """Wait like ``wait_step`` (one bounded wait, True when done) until nothing is pending or
    ``timeout`` passes, showing a bar; returns True when everything was indexed."""
    from tqdm.auto import tqdm

    total = store.pending_count()
    if not total:
        return wait_step(timeout)
    cursor = store.latest_cursor()

    def newly_indexed() -> list[str]:
        nonlocal cursor
        ids: list[str] = []
        while True:
            page = store.events(after=cursor, types=["indexed"], limit=100)
            ids += [e.artifact_id for e in page.events if e.artifact_id]
            cursor = page.next_cursor
            if not page.has_more:
                return ids

    chunks, counted = 0, 0
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    bar = tqdm(total=total, desc="indexing (loading the embedding model)", unit="artifact")
    try:
        while True:
            step = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
            finished = wait_step(step)
            new = newly_indexed()
            for artifact_id in new:
                try:
                    chunks += int(store.get(artifact_id).chunk_count or 0)
                except Exception:  # deleted since: nothing to count
                    pass
            counted += len(new)
            left = store.pending_count()
            if left > total - bar.n:  # more work arrived while waiting
                bar.total = bar.n + left
            bar.n = max(bar.n, (bar.total or total) - left)
            if counted or bar.n:
                bar.set_description("indexing", refresh=False)
            bar.set_postfix_str(f"{chunks} chunk{'' if chunks == 1 else 's'}", refresh=False)
            bar.refresh()
            if finished or not left:
                # a line that stays readable where the bar does not (a saved notebook, a log)
                done = int(bar.total or total)
                print(f"Indexed {done} artifact{'' if done == 1 else 's'} ({chunks} chunk"
                      f"{'' if chunks == 1 else 's'}) in {time.monotonic() - started:.0f} s")
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
    finally:
        bar.close()


def while_running(fn: Callable[[], Any], desc: str, after: float = 0.5) -> Any:
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
