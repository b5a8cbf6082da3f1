"""The embedded store against the shared backends (PostgreSQL + S3 + a Chroma server), with
each engine's own bare figure as the limit.

Run: ``python benchmarks/bench_shared.py [--repeat 30] [--out benchmarks/results/shared.md]``

It starts its own engines on loopback with the test suite's helpers (``tests/pg_fixtures.py``,
``tests/s3_fixtures.py``, ``tests/chroma_fixtures.py``): PostgreSQL (fsync off, as in the
tests), moto's S3 server and ``chroma run``. Two stores hold the same data: the embedded
default (SQLite + local files + the Chroma directory) and a shared one (``catalog=``,
``blobs=``, ``index_url=``). For each operation it prints the median (best) milliseconds of
both, and the limit the shared store could reach: the bare engine calls its operation needs,
made with the engines' own clients and nothing else:

- put 1 KiB: an ``INSERT`` + ``COMMIT`` (psycopg) and an S3 ``PutObject`` of the same bytes
  (boto3);
- get 1 KiB: a primary-key ``SELECT`` and an S3 ``GetObject``;
- list 50: a ``SELECT`` of 50 rows;
- query k=5: embedding the question (the model) and a Chroma ``query`` for 5 neighbours;
- event wake-up (from the start of the put to the waiter's return): a ``NOTIFY`` committed on
  one connection reaching a ``LISTEN`` on another.

``shared / limit`` is what the store adds to its engines; ``shared / embedded`` what sharing
costs on one machine. Asserts nothing; the figures are as noisy as the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_remote import Timing, median_ms, wake_ms  # noqa: E402
from chroma_fixtures import chroma_process  # noqa: E402
from notebook_artifacts import ArtifactStore  # noqa: E402
from pg_fixtures import PostgresServer, pg_bin  # noqa: E402
from s3_fixtures import moto_server  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "shared.md"
QUESTION = "how are outliers in monthly charges handled"


def _sum(*parts: Timing) -> Timing:
    t = Timing([0.0])
    t.median = sum(p.median for p in parts)
    t.best = sum(p.best for p in parts)
    return t


def raw_limits(pg_url: str, s3: Any, bucket: str, chroma_url: str, store: ArtifactStore,
               small: bytes, n: int) -> dict[str, dict[str, Timing]]:
    """The bare engine calls behind each operation."""
    import chromadb
    import psycopg

    out: dict[str, dict[str, Timing]] = {}
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, name TEXT, sha TEXT)")
        conn.commit()

        def insert() -> None:
            conn.execute("INSERT INTO bench_raw(name, sha) VALUES (%s, %s)",
                         ("s.bin", secrets.token_hex(32)))
            conn.commit()

        s3.put_object(Bucket=bucket, Key="raw/probe", Body=small)
        out["put 1 KiB"] = {
            "INSERT+COMMIT": median_ms(insert, n),
            "S3 PutObject": median_ms(lambda: s3.put_object(Bucket=bucket, Key="raw/s.bin",
                                                            Body=small), n)}

        def select_one() -> None:
            conn.execute("SELECT * FROM bench_raw WHERE id = 1").fetchall()
            conn.commit()

        out["get 1 KiB"] = {
            "SELECT by key": median_ms(select_one, n),
            "S3 GetObject": median_ms(lambda: s3.get_object(Bucket=bucket,
                                                            Key="raw/s.bin")["Body"].read(), n)}

        def select_page() -> None:
            conn.execute("SELECT * FROM bench_raw ORDER BY id DESC LIMIT 50").fetchall()
            conn.commit()

        out["list 50"] = {"SELECT 50 rows": median_ms(select_page, n)}

    from notebook_artifacts.index.vectors import collection_name

    embedder = store._index().embedder
    qvec = embedder.encode_query(QUESTION)
    host, port = chroma_url.rsplit("/", 1)[-1].split(":")
    coll = chromadb.HttpClient(host=host, port=int(port)).get_collection(
        collection_name(embedder.model_id, embedder.dim))
    out["query k=5"] = {
        "embed question": median_ms(lambda: embedder.encode_query(QUESTION), n),
        "Chroma query": median_ms(lambda: coll.query(query_embeddings=[qvec], n_results=5), n)}

    with psycopg.connect(pg_url, autocommit=True) as listener, \
            psycopg.connect(pg_url, autocommit=True) as notifier:
        listener.execute("LISTEN bench_raw")

        def wait(_cursor: int) -> None:
            gen = listener.notifies(timeout=10, stop_after=1)
            next(gen, None)
            gen.close()

        out["event wake-up"] = {"NOTIFY -> LISTEN": wake_ms(
            wait, lambda: notifier.execute("NOTIFY bench_raw"), lambda: 0, max(5, n // 3))}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", default=str(RESULTS),
                    help=f"write the table here, and the figures beside it as .json (default {RESULTS})")
    args = ap.parse_args(argv)
    n = args.repeat
    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed: apt-get install -y postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="na-bench-shared-"))
    pg = PostgresServer(bindir)
    try:
        with moto_server() as endpoint, chroma_process(tmp / "chroma") as chroma:
            return _run(args, n, tmp, pg, endpoint, chroma.url)
    finally:
        pg.stop()


def _run(args: argparse.Namespace, n: int, tmp: Path, pg: PostgresServer, endpoint: str,
         chroma_url: str) -> dict:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint)
    bucket = "bench-shared"
    s3.create_bucket(Bucket=bucket)
    pg_url = pg.create_database()
    shared_kw = dict(catalog=pg_url, blobs=f"s3://{bucket}/store", index_url=chroma_url)
    stores = {"embedded": (ArtifactStore(tmp / "embedded"),
                           ArtifactStore(tmp / "embedded", index=False)),
              "shared": (ArtifactStore(tmp / "machine-a", **shared_kw),
                         ArtifactStore(tmp / "machine-b", index=False, **shared_kw))}
    small = os.urandom(1024)
    rows: dict[str, dict[str, Timing]] = {}
    try:
        for kind, (store, other) in stores.items():
            for p in sorted(DATA.glob("*.*")):
                if p.is_file() and p.suffix in (".md", ".pdf", ".py", ".html", ".csv", ".json"):
                    store.put(p)
            for i in range(60):
                store.put(f"note {i}".encode(), f"note-{i}.txt", index=False)
            assert store.wait_indexed(900), f"{kind}: indexing did not finish"
            store.query(QUESTION, k=5)  # load the model
            r = rows.setdefault(kind, {})
            r["put 1 KiB"] = median_ms(lambda s=store: s.put(small, "s.bin", index=False), n)
            r["get 1 KiB"] = median_ms(lambda s=store: s.read_bytes("s.bin"), n)
            r["list 50"] = median_ms(lambda s=store: s.list(limit=50), n)
            r["query k=5"] = median_ms(lambda s=store: s.query(QUESTION, k=5), n)
            # the waiter is another store (on another root for the shared one: another machine)
            r["event wake-up"] = wake_ms(
                lambda c, o=other: o.events(after=c, wait_seconds=10),
                lambda s=store: s.put(b"e", "e.bin", index=False), other.latest_cursor,
                max(5, n // 3))
        raw = raw_limits(pg_url, s3, bucket, chroma_url, stores["shared"][0], small, n)
    finally:
        for store, other in stores.values():
            other.close()
            store.close()
    return report(rows, raw, n, Path(args.out))


def report(rows: dict[str, dict[str, Timing]], raw: dict[str, dict[str, Timing]], n: int,
           out: Path) -> dict:
    load = os.getloadavg()[0]
    cmd = "python benchmarks/bench_shared.py" + (f" --repeat {n}" if n != 30 else "")
    lines = [f"embedded (SQLite + files + Chroma dir) vs shared (PostgreSQL + S3 on moto + Chroma "
             f"server), all on loopback: median (best) ms over {n} runs; {os.cpu_count()} CPUs, "
             f"load average {load:.1f}",
             f"{'operation':<15}{'embedded':>17}{'shared':>17}{'raw limit':>17}"
             f"{'shared/raw':>12}{'shared/emb':>12}  limit = bare calls"]
    doc: dict[str, Any] = {"command": cmd, "repeat": n, "cpus": os.cpu_count(),
                           "load_average": round(load, 1), "operations": {}}
    for op in rows["shared"]:
        emb, sh = rows["embedded"][op], rows["shared"][op]
        limit = _sum(*raw[op].values())
        lines.append(f"{op:<15}{str(emb):>17}{str(sh):>17}{str(limit):>17}"
                     f"{sh.median / limit.median:>11.1f}x{sh.median / emb.median:>11.1f}x  "
                     + " + ".join(raw[op]))
        doc["operations"][op] = {
            "embedded_ms": round(emb.median, 3), "shared_ms": round(sh.median, 3),
            "raw_limit_ms": round(limit.median, 3),
            "raw_parts_ms": {k: round(v.median, 3) for k, v in raw[op].items()},
            "shared_over_raw": round(sh.median / limit.median, 2),
            "shared_over_embedded": round(sh.median / emb.median, 2)}
    table = "\n".join(lines)
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Shared backends against the embedded default\n\n"
                   f"`{cmd}`\n\n```\n{table}\n```\n\nThe figures are as noisy as the machine "
                   f"was busy: load average {load:.1f} on {os.cpu_count()} CPUs during this run "
                   "(the best times are the least disturbed).\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc


if __name__ == "__main__":
    main()
