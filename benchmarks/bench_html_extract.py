"""Time HTML extraction on heading-heavy pages (issue 19: it was quadratic in the headings).

``.venv/bin/python benchmarks/bench_html_extract.py``: ``<h1>a</h1>`` x N for N up to 200,000
(2 MB); linear extraction keeps the time per heading flat. Each run has a 120 s budget. CPU
time is printed beside wall time, since a busy machine stretches the wall time.
"""

from __future__ import annotations

import sys
import time

from notebook_artifacts.index._budget import BudgetExceeded, run_with_budget
from notebook_artifacts.index.extract import extract


def main(sizes: tuple[int, ...] = (20_000, 40_000, 200_000)) -> None:
    for n in sizes:
        page = ("<h1>a</h1>" * n).encode()
        t, c = time.perf_counter(), time.process_time()
        try:
            run_with_budget(lambda: extract(page, "text/html", "page.html"), 120)
        except BudgetExceeded:
            print(f"<h1>a</h1> x {n:,} ({len(page) / 1e6:.1f} MB): over the 120 s budget")
            continue
        dt, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"<h1>a</h1> x {n:,} ({len(page) / 1e6:.1f} MB): {dt:.2f} s wall, {cpu:.2f} s CPU "
              f"({cpu / n * 1e6:.1f} us CPU per heading)")


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or (20_000, 40_000, 200_000))
