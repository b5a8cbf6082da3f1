"""Summarise py-spy raw (collapsed-stack) profiles into the frames that cost the most.

``python -m benchmarks --profile`` records notebook-artifacts' children with
``py-spy record --threads --format raw``; this turns each recording into a short text
report per thread: own time (the frame itself) and inclusive time (frame and callees),
idle waits excluded.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

__all__ = ["summarise"]

_IDLE = re.compile(r"Condition\.wait|Event\.wait|time\.sleep|_wait_for_tstate_lock|select |"
                   r"epoll|lock\.acquire|TMonitor")


def summarise(raw: Path, top: int = 25) -> str:
    """Text report of the busiest frames in a py-spy ``--format raw`` file, per thread."""
    own: dict[str, Counter] = defaultdict(Counter)
    incl: dict[str, Counter] = defaultdict(Counter)
    total: Counter = Counter()
    for line in Path(raw).read_text().splitlines():
        if " " not in line:
            continue
        stack, n = line.rsplit(" ", 1)
        frames = stack.split(";")
        if _IDLE.search(frames[-1]) or any("TMonitor" in f for f in frames):
            continue
        thread = re.sub(r"^thread \(\d+\): ?", "", frames[0]) or "thread"
        body = frames[1:] if frames[0].startswith("thread") else frames
        if not body:
            continue
        total[thread] += int(n)
        own[thread][body[-1]] += int(n)
        for f in set(body):
            incl[thread][f] += int(n)
    out = [f"py-spy profile {Path(raw).name} (busy samples per thread, idle waits excluded)"]
    for thread, t in total.most_common():
        out += ["", f"== {thread}: {t} samples", "-- own time"]
        out += [f"{100 * c / t:5.1f}%  {f}" for f, c in own[thread].most_common(10)]
        out += ["-- inclusive"]
        out += [f"{100 * c / t:5.1f}%  {f}" for f, c in incl[thread].most_common(top)]
    return "\n".join(out) + "\n"
