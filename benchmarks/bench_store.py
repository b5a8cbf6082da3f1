"""Store benchmark: a 256 MB put against copy + sha256, its peak memory, and small puts/s.

Run: ``.venv/bin/python benchmarks/bench_store.py [--size-mb 256] [--small 1000] [--dir DIR]``
Prints figures; asserts nothing. The put fsyncs its blob (the plain copy does not), so both
baselines are printed: ``shutil.copy + sha256`` and the same plus ``fsync``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

from notebook_artifacts import ArtifactStore

CHUNK = 1 << 20


def _make_file(path: Path, size_mb: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for i in range(size_mb):
            f.write(block[:-8] + i.to_bytes(8, "little"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb") as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _copy_and_hash(src: Path, dst: Path, fsync: bool) -> float:
    t = time.perf_counter()
    shutil.copy(src, dst)
    if fsync:
        with open(dst, "rb+") as f:
            os.fsync(f.fileno())
    _sha256(dst)
    elapsed = time.perf_counter() - t
    dst.unlink()
    return elapsed


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--small", type=int, default=1000, help="number of 1 KB puts")
    ap.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-store-") as tmp:
        tmp = Path(tmp)
        src = tmp / "big.bin"
        _make_file(src, args.size_mb)
        _sha256(src)  # warm the page cache so every contender reads from memory

        copy_plain = min(_copy_and_hash(src, tmp / "copy.bin", False) for _ in range(2))
        copy_fsync = min(_copy_and_hash(src, tmp / "copy.bin", True) for _ in range(2))

        put_times = []
        for i in range(2):
            with ArtifactStore(tmp / f"store{i}", index=False) as store:
                t = time.perf_counter()
                store.put(src)
                put_times.append(time.perf_counter() - t)
            shutil.rmtree(tmp / f"store{i}")

        with ArtifactStore(tmp / "store-mem", index=False) as store:
            rss_before = _status_kb("VmRSS")
            peak_ok = _reset_peak_rss()
            tracemalloc.start()
            store.put(src)
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_peak = _status_kb("VmHWM")

        with ArtifactStore(tmp / "store-small", index=False) as store:
            payloads = [os.urandom(512).hex().encode() for _ in range(args.small)]
            t = time.perf_counter()
            for i, p in enumerate(payloads):
                store.put(p, f"small-{i % 50}.bin")
            small_elapsed = time.perf_counter() - t

    mb = args.size_mb
    print(f"file size                       : {mb} MB")
    print(f"shutil.copy + sha256            : {copy_plain:.3f} s  ({mb / copy_plain:.0f} MB/s)")
    print(f"shutil.copy + fsync + sha256    : {copy_fsync:.3f} s  ({mb / copy_fsync:.0f} MB/s)")
    print(f"store.put (hash+copy+fsync)     : {min(put_times):.3f} s  (runs: "
          f"{', '.join(f'{t:.3f}' for t in put_times)}; {mb / min(put_times):.0f} MB/s)")
    print(f"put / (copy + sha256)           : {min(put_times) / copy_plain:.2f}x;  "
          f"put / (copy + fsync + sha256): {min(put_times) / copy_fsync:.2f}x")
    print(f"put peak Python allocations     : {traced_peak / 2**20:.2f} MiB (tracemalloc)")
    if peak_ok:
        print(f"put peak RSS                    : {rss_peak / 1024:.1f} MiB "
              f"(+{(rss_peak - rss_before) / 1024:.1f} MiB over {rss_before / 1024:.1f} MiB before)")
    print(f"small puts (1 KB, 50 names)     : {args.small / small_elapsed:.0f} puts/s "
          f"({args.small} in {small_elapsed:.2f} s)")


if __name__ == "__main__":
    main()
