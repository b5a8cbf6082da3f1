"""Put speed against the raw limits, and optionally against another checkout, in one run.

Run: ``python benchmarks/bench_puts.py [--size-mb 256] [--small 1000] [--rounds 3]
[--against /path/to/other/checkout]``. Prints figures; asserts nothing.

Raw limits (each measured in the same child process right before the store, so both see the
same machine load): a large put = ``shutil.copyfile`` + fsync + sha256 of the file; a put of
content already stored = sha256 of the file (one read); a small put = write + fsync of the
file, then one SQLite row committed in WAL mode (synchronous=NORMAL, as the catalog) on the
same disk. ``--against`` runs the same children with another checkout's ``notebook_artifacts``
(e.g. ``main``), alternating with this one round by round; medians are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _raw_small(work: Path, payloads: list[tuple[str, bytes]]) -> float:
    work.mkdir()
    db = sqlite3.connect(work / "raw.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE files (name TEXT, size INTEGER)")
    t = time.perf_counter()
    for name, data in payloads:
        with open(work / name, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        db.execute("BEGIN")
        db.execute("INSERT INTO files VALUES (?, ?)", (name, len(data)))
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t
    db.close()
    return elapsed


def child(big: Path, small: int, out: Path, index: bool) -> None:
    """One round of every figure with whichever ``notebook_artifacts`` is on the path."""
    from notebook_artifacts import ArtifactStore

    work = Path(tempfile.mkdtemp(prefix="bench-puts-", dir=big.parent))
    rng = __import__("random").Random(5)
    payloads = [(f"item_{i:05d}.bin", rng.randbytes(1024)) for i in range(small)]
    batch = [(f"many_{i:05d}.bin", rng.randbytes(1024)) for i in range(small)]
    r: dict[str, float] = {}
    try:
        t = time.perf_counter()
        shutil.copyfile(big, work / "copy.bin")
        with open(work / "copy.bin", "rb+") as f:
            os.fsync(f.fileno())
        _sha256(big)
        r["raw_large_s"] = time.perf_counter() - t
        (work / "copy.bin").unlink()
        with ArtifactStore(work / "store", index=index) as store:
            t = time.perf_counter()
            store.put(big, "big.bin")
            r["large_s"] = time.perf_counter() - t
            t = time.perf_counter()
            _sha256(big)
            r["raw_again_s"] = time.perf_counter() - t
            t = time.perf_counter()
            store.put(big, "big-again.bin")
            r["again_s"] = time.perf_counter() - t
        r["raw_small_per_s"] = small / _raw_small(work / "raw", payloads)
        with ArtifactStore(work / "small", index=index) as store:
            t = time.perf_counter()
            for name, data in payloads:
                store.put(data, name)
            r["small_per_s"] = small / (time.perf_counter() - t)
            if hasattr(store, "put_many"):  # also into the store the single puts filled
                t = time.perf_counter()
                store.put_many([(data, name) for name, data in batch])
                r["many_after_per_s"] = small / (time.perf_counter() - t)
        if hasattr(ArtifactStore, "put_many"):  # into a fresh store, as the single puts were
            with ArtifactStore(work / "many", index=index) as store:
                t = time.perf_counter()
                store.put_many([(data, name) for name, data in batch])
                r["many_per_s"] = small / (time.perf_counter() - t)
    finally:
        # the big files go now; the many small ones stay until every round is done: on ext4
        # without a journal, each create skips the inodes freed in the last 1-5 minutes in
        # its block group (``recently_deleted`` in the kernel), so deleting thousands of
        # files here would slow the next round's creates (raw loop and store alike)
        for big_file in work.glob("*/blobs/sha256/*/*"):
            if big_file.stat().st_size > 1 << 20:
                big_file.unlink()
    out.write_text(json.dumps(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--small", type=int, default=1000, help="number of 1 KiB puts")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--against", type=Path, help="another checkout to compare with")
    ap.add_argument("--index", action="store_true", help="stores with the index (as the harness)")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(Path(args.child[0]), args.small, Path(args.child[1]), args.index)

    codes = {"this": HERE.parent}
    if args.against:
        codes["against"] = args.against.resolve()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-puts-") as tmp:
        big = Path(tmp) / "big.bin"
        block = os.urandom(1 << 20)
        with open(big, "wb") as f:
            for i in range(args.size_mb):
                f.write(block[:-8] + i.to_bytes(8, "little"))
            f.flush()
            os.fsync(f.fileno())  # written out now, not by the first contender's fsyncs
        _sha256(big)  # in the page cache for every contender
        runs: dict[str, list[dict]] = {c: [] for c in codes}
        for rnd in range(args.rounds):
            for label, root in (list(codes.items()) if rnd % 2 == 0 else list(codes.items())[::-1]):
                out = Path(tmp) / f"{label}-{rnd}.json"
                cmd = [sys.executable, __file__, "--small", str(args.small), "--child", str(big), str(out)]
                if args.index:
                    cmd.append("--index")
                env = dict(os.environ, PYTHONPATH=str(root), HF_HUB_OFFLINE="1")
                subprocess.run(cmd, env=env, check=True, cwd=tmp)
                runs[label].append(json.loads(out.read_text()))
    load = os.getloadavg()[0]
    print(f"{args.size_mb} MiB file, {args.small} x 1 KiB, {args.rounds} rounds (median), "
          f"load {load:.1f} on {os.cpu_count()} CPUs; ratios: raw time / ours (1.00x = the limit)")
    for label, rs in runs.items():
        m = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
        print(f"-- {label} ({codes[label]})")
        print(f"  put large       {m['large_s']:.3f} s   raw copy+fsync+sha256 {m['raw_large_s']:.3f} s"
              f"   {m['raw_large_s'] / m['large_s']:.2f}x  (put / raw {m['large_s'] / m['raw_large_s']:.2f})")
        print(f"  put again       {m['again_s']:.3f} s   raw sha256 {m['raw_again_s']:.3f} s"
              f"   {m['raw_again_s'] / m['again_s']:.2f}x")
        print(f"  small puts      {m['small_per_s']:.0f}/s   raw loop {m['raw_small_per_s']:.0f}/s"
              f"   {m['small_per_s'] / m['raw_small_per_s']:.2f}x")
        if "many_per_s" in m:
            print(f"  put_many        {m['many_per_s']:.0f}/s   {m['many_per_s'] / m['raw_small_per_s']:.2f}x raw,"
                  f" {m['many_per_s'] / m['small_per_s']:.2f}x single puts  (fresh store, as the single puts)")
            print(f"  put_many again  {m['many_after_per_s']:.0f}/s   "
                  f"{m['many_after_per_s'] / m['small_per_s']:.2f}x single puts  (into the store the single puts filled)")


if __name__ == "__main__":
    main()
