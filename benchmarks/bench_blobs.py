"""Blob backends: put/get of small and large files on local blobs and on S3 blobs, against a
bare PUT/GET of the same bytes with boto3 and s3fs (the raw limit of the S3 server).

Run: ``.venv/bin/python benchmarks/bench_blobs.py [--size-mb 64] [--small 100] [--endpoint URL]
[--out benchmarks/results/blobs.md]``

Without ``--endpoint`` a moto S3 server is started on a free loopback port (its own process);
with it, the standard AWS environment must hold credentials for that endpoint. Prints
figures; asserts nothing. On moto the S3 figures measure moto (Python, same machine) as much
as the client: read them against the raw rows, which pay the same server.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import sys
import tempfile
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from notebook_artifacts import ArtifactStore

MiB = 1 << 20


@contextmanager
def _s3_endpoint(endpoint: str | None) -> Iterator[str]:
    """``endpoint``, or a moto server started as the tests start theirs."""
    if endpoint:
        yield endpoint
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from s3_fixtures import moto_server

    try:
        with moto_server() as url:
            yield url
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


def _make_file(path: Path, size_mb: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size_mb):
            f.write(block[:-8] + i.to_bytes(8, "little"))


def _best(fn: Callable[[int], None], runs: int) -> float:
    times = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return min(times)


def _drain(f) -> None:
    h = hashlib.sha256()
    while chunk := f.read(MiB):
        h.update(chunk)


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=64, help="large file size (MiB)")
    ap.add_argument("--small", type=int, default=100, help="number of 1 KB puts and gets")
    ap.add_argument("--runs", type=int, default=2, help="large put/get runs (best is shown)")
    ap.add_argument("--endpoint", default=None, help="an S3 endpoint (default: start moto)")
    ap.add_argument("--out", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)

    import boto3
    import s3fs
    from boto3.s3.transfer import TransferConfig

    from notebook_artifacts.storage.fsspec_blobs import PART_SIZE, UPLOAD_CONCURRENCY

    rows: list[tuple[str, str, float]] = []  # (what, backend, seconds)
    with tempfile.TemporaryDirectory(prefix="bench-blobs-") as tmp, _s3_endpoint(args.endpoint) as ep:
        tmp = Path(tmp)
        src = tmp / "big.bin"
        _make_file(src, args.size_mb)
        bucket = f"bench-{secrets.token_hex(4)}"
        client = boto3.client("s3", endpoint_url=ep)
        client.create_bucket(Bucket=bucket)
        fs = s3fs.S3FileSystem(use_listings_cache=False, skip_instance_cache=True)
        cfg = TransferConfig(multipart_threshold=2 * PART_SIZE, multipart_chunksize=PART_SIZE,
                             max_concurrency=UPLOAD_CONCURRENCY)
        small = [os.urandom(512).hex().encode() for _ in range(args.small)]
        mb = args.size_mb

        # -- raw limits: the same bytes, straight to the server ---------------------------
        rows.append(("large put", "raw boto3 upload_file", _best(
            lambda i: client.upload_file(str(src), bucket, f"raw/big{i}", Config=cfg), args.runs)))
        rows.append(("large put", "raw s3fs put_file", _best(
            lambda i: fs.put_file(str(src), f"{bucket}/raw/s3fs{i}", chunksize=PART_SIZE,
                                  max_concurrency=UPLOAD_CONCURRENCY), args.runs)))
        rows.append(("large get", "raw boto3 get_object", _best(
            lambda i: _drain(client.get_object(Bucket=bucket, Key="raw/big0")["Body"]), args.runs)))
        rows.append(("small put", "raw boto3 put_object", _best(
            lambda _: [client.put_object(Bucket=bucket, Key=f"raw/small{j}", Body=p)
                       for j, p in enumerate(small)], 1)))
        rows.append(("small get", "raw boto3 get_object", _best(
            lambda _: [client.get_object(Bucket=bucket, Key=f"raw/small{j}")["Body"].read()
                       for j in range(len(small))], 1)))

        peaks: dict[str, float] = {}
        for label, blobs in (("local", None), ("s3", f"s3://{bucket}/store")):
            with ArtifactStore(tmp / f"root-{label}", index=False, blobs=blobs) as store:
                def put_large(i: int, store=store) -> None:
                    store.put(src, f"big{i}.bin")
                    if i + 1 < args.runs:  # a fresh put each run: drop the content again
                        store.delete(f"big{i}.bin")

                rows.append(("large put", f"store ({label})", _best(put_large, args.runs)))
                store.delete(f"big{args.runs - 1}.bin")
                tracemalloc.start()
                a = store.put(src, "big.bin")
                peaks[label] = tracemalloc.get_traced_memory()[1] / MiB
                tracemalloc.stop()

                def get_large(_: int, store=store, a=a) -> None:
                    with store.open(a) as f:
                        _drain(f)

                rows.append(("large get", f"store ({label})", _best(get_large, args.runs)))
                rows.append(("small put", f"store ({label})", _best(
                    lambda _, store=store: [store.put(p, f"small-{j}.bin")
                                            for j, p in enumerate(small)], 1)))
                rows.append(("small get", f"store ({label})", _best(
                    lambda _, store=store: [store.read_bytes(f"small-{j}.bin")
                                            for j in range(len(small))], 1)))

    raw = {w: min(s for ww, b, s in rows if ww == w and b.startswith("raw")) for w, _, _ in rows}
    lines = [f"S3 endpoint: {ep}{' (moto, started here)' if not args.endpoint else ''}; "
             f"large file {mb} MiB, {args.small} small puts/gets of 1 KB; "
             f"S3 parts {PART_SIZE // MiB} MiB x {UPLOAD_CONCURRENCY}",
             f"{'operation':<10} {'backend':<24} {'time':>9} {'rate':>14} {'vs raw S3':>10}"]
    for what, backend, secs in rows:
        rate = (f"{mb / secs:8.1f} MiB/s" if what.startswith("large")
                else f"{args.small / secs:8.0f} ops/s")
        ratio = f"{secs / raw[what]:.2f}x"
        lines.append(f"{what:<10} {backend:<24} {secs:8.3f}s {rate:>14} {ratio:>10}")
    for label, peak in peaks.items():
        lines.append(f"peak Python allocations of a {mb} MiB put ({label}): {peak:.1f} MiB (tracemalloc)")
    print("\n".join(lines))
    if args.out:
        cmd = "python benchmarks/bench_blobs.py " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.out).write_text(f"# Blob backends\n\n`{cmd.strip()}`\n\n```\n"
                                  + "\n".join(lines) + "\n```\n", encoding="utf-8")
    return lines

if __name__ == "__main__":
    main()
