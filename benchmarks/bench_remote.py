"""RemoteStore against ArtifactStore, with raw httpx on the same routes as the limit.

Run: ``python benchmarks/bench_remote.py [--large-mb 64] [--repeat 30] [--no-query]
[--out benchmarks/results/remote.md]`` (the figures go to ``--out`` as well as to stdout).

A real ``notebook-artifacts serve`` process on loopback serves one root; a local ArtifactStore
uses another, holding the same data. For each operation it prints the median time of the local
call, the RemoteStore call, and the same request made with a bare ``httpx.Client`` (one
connection, no parsing into records): the difference between the last two is what the client
itself costs. Operations: put of a small (1 KiB) and a large file, get (read_bytes, 1 KiB),
list (a page of 50), query (hybrid, k=5; loads the model in both processes) and event wake-up
(a put seen by a waiting long poll, measured from the start of the put). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from notebook_artifacts import ArtifactStore, connect  # noqa: E402
from remote_fixtures import ServerProcess  # noqa: E402

TOKEN = "bench-remote-token"
DATA = Path(__file__).resolve().parents[1] / "data"


class Timing:
    """Milliseconds of repeated runs: the median, and the best (least disturbed by load)."""

    def __init__(self, seconds: list[float]) -> None:
        self.median = statistics.median(seconds) * 1000
        self.best = min(seconds) * 1000

    def __str__(self) -> str:
        return f"{self.median:.2f} ({self.best:.2f})"


def median_ms(fn: Callable[[], Any], n: int) -> Timing:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(times)


def wake_ms(wait: Callable[[int], Any], put: Callable[[], Any], cursor: Callable[[], int],
            n: int) -> Timing:
    """Median time from the start of a put to the return of a long poll waiting for it (the
    put's own time included: the event is visible at its commit, so a waiter may wake before
    the put call returns, and a time from the put's end can come out negative)."""
    out = []
    for _ in range(n):
        start = cursor()
        woke: dict[str, float] = {}

        def waiter() -> None:
            wait(start)
            woke["at"] = time.perf_counter()

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.15)  # let it park
        begin = time.perf_counter()
        put()
        t.join(20)
        out.append(woke["at"] - begin)
    return Timing(out)


RESULTS = Path(__file__).resolve().parent / "results" / "remote.md"


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large-mb", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--no-query", action="store_true", help="skip query (no model load)")
    ap.add_argument("--out", default=str(RESULTS), help=f"write the figures here too (default {RESULTS})")
    args = ap.parse_args(argv)
    n = args.repeat
    tmp = Path(tempfile.mkdtemp(prefix="na-bench-remote-"))
    big = tmp / "large.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for i in range(args.large_mb):
            f.write(i.to_bytes(8, "big") + block[8:])
    small = os.urandom(1024)
    srv_args = ["--token", TOKEN, "--max-upload-bytes", str((args.large_mb + 8) << 20)]
    srv = ServerProcess(tmp / "served", *srv_args, index=not args.no_query).start()
    local = ArtifactStore(tmp / "local", index=not args.no_query)
    remote = connect(srv.url, TOKEN)
    raw = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
    rows: list[tuple[str, Timing, Timing, Timing]] = []

    def raw_put(content: Any, name: str) -> None:
        r = raw.post("/v1/store/artifacts", files={"file": (name, content, "application/octet-stream")},
                     data={"options": json.dumps({"name": name})})
        r.raise_for_status()

    try:
        rows.append(("put 1 KiB", median_ms(lambda: local.put(small, "s.bin", index=False), n),
                     median_ms(lambda: remote.put(small, "s.bin", index=False), n),
                     median_ms(lambda: raw_put(small, "s.bin"), n)))

        def raw_put_file() -> None:
            with open(big, "rb") as f:
                raw_put(f, "large.bin")

        k = max(2, n // 10)
        rows.append((f"put {args.large_mb} MiB", median_ms(lambda: local.put(big, index=False), k),
                     median_ms(lambda: remote.put(big, index=False), k), median_ms(raw_put_file, k)))
        rows.append(("get 1 KiB", median_ms(lambda: local.read_bytes("s.bin"), n),
                     median_ms(lambda: remote.read_bytes("s.bin"), n),
                     median_ms(lambda: raw.get("/v1/store/content", params={"ref": "s.bin"}).content, n)))

        def raw_get_big() -> None:
            with raw.stream("GET", "/v1/store/content", params={"ref": "large.bin"}) as r:
                for _ in r.iter_raw(1 << 20):
                    pass

        def read_all(store: Any) -> None:
            with store.open("large.bin") as f:
                while f.read(1 << 20):
                    pass

        rows.append((f"get {args.large_mb} MiB", median_ms(lambda: read_all(local), k),
                     median_ms(lambda: read_all(remote), k), median_ms(raw_get_big, k)))
        for i in range(48):
            for s in (local, remote):
                s.put(f"note {i}", f"n{i:02d}.txt", index=False)
        rows.append(("list 50", median_ms(lambda: local.list(limit=50), n),
                     median_ms(lambda: remote.list(limit=50), n),
                     median_ms(lambda: raw.get("/v1/store/artifacts", params={"limit": 50}).json(), n)))
        if not args.no_query:
            for p in sorted(DATA.glob("*.*")):
                if p.is_file() and p.suffix in (".md", ".pdf", ".py", ".html", ".csv", ".json"):
                    local.put(p)
                    remote.put(p)
            local.wait_indexed(600)
            remote.wait_indexed(600)
            q = "how are outliers in monthly charges handled"
            local.query(q, k=5)
            remote.query(q, k=5)  # warm both models
            rows.append(("query k=5", median_ms(lambda: local.query(q, k=5), n),
                         median_ms(lambda: remote.query(q, k=5), n),
                         median_ms(lambda: raw.post("/v1/store/query", json={"text": q, "k": 5}).json(), n)))
        m = max(5, n // 3)
        waker = connect(srv.url, TOKEN)
        rows.append(("event wake-up", wake_ms(lambda c: local.events(after=c, wait_seconds=10),
                                              lambda: local.put(b"e", "e.bin", index=False),
                                              local.latest_cursor, m),
                     wake_ms(lambda c: remote.events(after=c, wait_seconds=10),
                             lambda: waker.put(b"e", "e.bin", index=False), remote.latest_cursor, m),
                     wake_ms(lambda c: httpx.get(srv.url + "/v1/store/events", params={"after": c, "wait_seconds": 10},
                                                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30),
                             lambda: waker.put(b"e", "e.bin", index=False), remote.latest_cursor, m)))
        waker.close()
    finally:
        remote.close()
        raw.close()
        local.close()
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0]
    lines = [f"RemoteStore vs ArtifactStore, server on loopback: median (best) ms over {n} runs "
             f"({k} for large files); {os.cpu_count()} CPUs, load average {load:.1f}",
             f"{'operation':<16}{'local':>18}{'remote':>18}{'raw httpx':>18}{'client cost':>14}"]
    for op, lo, re_, rw in rows:
        lines.append(f"{op:<16}{str(lo):>18}{str(re_):>18}{str(rw):>18}{re_.median - rw.median:>+14.2f}")
    print("\n".join(lines))
    if args.out:
        cmd = "python benchmarks/bench_remote.py " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(
            f"# RemoteStore against ArtifactStore\n\n`{cmd.strip()}`\n\n"
            f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} CPUs shared with other "
            f"jobs (load average {load:.1f} at the end): medians move with the load, so compare "
            "the columns of one run, not runs with each other. *client cost* is RemoteStore's "
            "median minus the bare httpx request's.\n\n```\n" + "\n".join(lines) + "\n```\n",
            encoding="utf-8")
    return lines


if __name__ == "__main__":
    main()
