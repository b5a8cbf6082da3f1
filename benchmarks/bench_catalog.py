"""The embedded catalog against the shared one (PostgreSQL), each beside its engine's raw limit.

    python -m benchmarks.bench_catalog [--catalog URL] [--puts 300]

Without ``--catalog`` it starts a throwaway PostgreSQL the way the tests do
(``tests/pg_fixtures.py``). Prints one table: small puts per second, list and get latency
(p50), and the cross-process event wake-up (commit -> a long-poll in another process returns).
Raw limits: a bare INSERT + COMMIT per row (SQLite WAL, synchronous=NORMAL, as the store runs
it; PostgreSQL through psycopg), and a bare NOTIFY -> LISTEN round trip.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

WAITER = """
import sys, time
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1], index=False, catalog=sys.argv[2] or None)
for _ in range(int(sys.argv[3])):
    after = s.latest_cursor()
    print("waiting", flush=True)
    page = s.events(after=after, wait_seconds=30)
    print(time.time(), flush=True)
s.close()
"""


def _p50(xs: list[float]) -> float:
    return statistics.median(xs) * 1000


def _store_figures(root: Path, catalog: str | None, puts: int) -> dict[str, float]:
    from notebook_artifacts import ArtifactStore

    payload = os.urandom(1024)
    out: dict[str, float] = {}
    with ArtifactStore(root, index=False, catalog=catalog) as s:
        t = time.perf_counter()
        for i in range(puts):
            s.put(payload, f"small-{i}.bin")
        out["puts_per_s"] = puts / (time.perf_counter() - t)
        lat = []
        for _ in range(50):
            t = time.perf_counter()
            s.list(limit=50)
            lat.append(time.perf_counter() - t)
        out["list_ms"] = _p50(lat)
        lat = []
        for i in range(100):
            t = time.perf_counter()
            s.get(f"small-{i}.bin")
            lat.append(time.perf_counter() - t)
        out["get_ms"] = _p50(lat)
        out["wake_ms"] = _wake(root, catalog, s)
    return out


def _wake(root: Path, catalog: str | None, writer) -> float:
    n = 5
    p = subprocess.Popen([sys.executable, "-c", WAITER, str(root), catalog or "", str(n)],
                         stdout=subprocess.PIPE, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    lat = []
    for i in range(n):
        assert p.stdout.readline().strip() == "waiting"
        time.sleep(0.3)
        writer.put(b"wake", f"wake-{i}.bin")
        committed = time.time()
        lat.append(float(p.stdout.readline()) - committed)
    p.wait(30)
    return _p50(lat)


def _raw_sqlite(path: Path, puts: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    payload = os.urandom(1024)
    t = time.perf_counter()
    for _ in range(puts):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t(v) VALUES (?)", (payload,))
        conn.execute("COMMIT")
    conn.close()
    return puts / (time.perf_counter() - t)


def _raw_pg(url: str, puts: int) -> tuple[float, float]:
    import psycopg

    payload = os.urandom(1024)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, v BYTEA)")
        conn.commit()
        t = time.perf_counter()
        for _ in range(puts):
            conn.execute("INSERT INTO bench_raw(v) VALUES (%s)", (payload,))
            conn.commit()
        rate = puts / (time.perf_counter() - t)
    with psycopg.connect(url, autocommit=True) as listener, psycopg.connect(url, autocommit=True) as sender:
        listener.execute("LISTEN bench_raw")
        lat = []
        for _ in range(20):
            t = time.perf_counter()
            sender.execute("NOTIFY bench_raw")
            next(listener.notifies(timeout=5, stop_after=1))
            lat.append(time.perf_counter() - t)
    return rate, _p50(lat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", help="PostgreSQL URL of an empty database (default: start one)")
    ap.add_argument("--puts", type=int, default=300)
    args = ap.parse_args(argv)
    server = None
    url = args.catalog
    if url is None:
        sys.path.insert(0, str(REPO / "tests"))
        from pg_fixtures import PostgresServer, pg_bin

        if pg_bin() is None:
            print("PostgreSQL is not installed: apt-get install -y postgresql", file=sys.stderr)
            return 2
        server = PostgresServer(pg_bin())
        url = server.create_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            emb = _store_figures(Path(tmp) / "embedded", None, args.puts)
            pg = _store_figures(Path(tmp) / "shared", url, args.puts)
            raw_sqlite = _raw_sqlite(Path(tmp) / "raw.sqlite3", args.puts)
            raw_pg, raw_notify = _raw_pg(url, args.puts)
    finally:
        if server is not None:
            server.stop()
    rows = [
        ("small puts per second (1 KiB)", raw_sqlite, emb["puts_per_s"], raw_pg, pg["puts_per_s"]),
        ("list 50, p50 (ms)", None, emb["list_ms"], None, pg["list_ms"]),
        ("get by name, p50 (ms)", None, emb["get_ms"], None, pg["get_ms"]),
        ("event wake-up, other process, p50 (ms)", None, emb["wake_ms"], raw_notify, pg["wake_ms"]),
    ]
    print(f"{'':42} {'raw SQLite':>11} {'embedded':>10} {'raw PG':>9} {'PostgreSQL':>11}")
    for name, r1, e, r2, p in rows:
        cell = lambda v: f"{v:,.1f}" if v is not None else "n/a"  # noqa: E731
        print(f"{name:42} {cell(r1):>11} {cell(e):>10} {cell(r2):>9} {cell(p):>11}")
    print("(puts: ours/raw "
          f"{emb['puts_per_s'] / raw_sqlite:.2f}x embedded, {pg['puts_per_s'] / raw_pg:.2f}x PostgreSQL;"
          " a put also writes its blob with fsync, its event and the lineage row)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
