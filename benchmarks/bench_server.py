"""Server benchmark over a real `notebook-artifacts serve` process on loopback.

Run: ``.venv/bin/python benchmarks/bench_server.py [--size-mb 256] [--pollers 200] [--pushes 50]``

Prints, from one run:
- upload (multipart, streamed) and download (stream mode) of one SIZE MB file, next to a local
  ``shutil.copyfile`` of the same file;
- POLLERS concurrent long-poll clients parked on ``artifact-events``: the server's RSS before,
  while they wait, and at peak, and that every one was released by one write;
- WebSocket push latency (p50/p95) of events written by another process.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks.*

from notebook_artifacts import ArtifactStore  # noqa: E402

CHUNK = 1 << 20
TOKEN = "bench-token"


def _make_file(path: Path, size_mb: int) -> None:
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for i in range(size_mb):
            f.write(block[:-8] + i.to_bytes(8, "little"))


def _start_server(root: Path, max_upload: int) -> tuple[subprocess.Popen, str]:
    from benchmarks.bench_uploads import start_process

    return start_process([sys.executable, "-m", "notebook_artifacts.cli", "serve", "--root",
                          str(root), "--port", "0", "--token", TOKEN, "--no-index",
                          "--max-upload-bytes", str(max_upload)])


def _mbps(size: int, seconds: float) -> str:
    return f"{size / seconds / 1e6:8.1f} MB/s"


def bench_transfer(url: str, work: Path, size_mb: int) -> None:
    src = work / "big.bin"
    _make_file(src, size_mb)
    size = src.stat().st_size
    t = time.perf_counter()
    shutil.copyfile(src, work / "copy.bin")
    t_copy = time.perf_counter() - t
    (work / "copy.bin").unlink()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    curl = shutil.which("curl")
    if curl:
        hdr = f"Authorization: Bearer {TOKEN}"
        t = time.perf_counter()
        out = subprocess.run([curl, "-sf", "-H", hdr, "-F", f"file=@{src}", f"{url}/api/uploads/bench"],
                             capture_output=True, text=True, check=True).stdout
        t_cup = time.perf_counter() - t
        cid = json.loads(out)["artifact_id"]
        t = time.perf_counter()
        subprocess.run([curl, "-sf", "-H", hdr, "-o", str(work / "down.bin"),
                        f"{url}/api/sessions/bench/artifacts/{cid}?mode=stream"], check=True)
        t_cdown = time.perf_counter() - t
        assert (work / "down.bin").stat().st_size == size
        (work / "down.bin").unlink()
    with httpx.Client(base_url=url, headers=headers, timeout=600) as c, open(src, "rb") as f:
        t = time.perf_counter()
        r = c.post("/api/uploads/bench", files={"file": ("big.bin", f, "application/octet-stream")})
        t_up = time.perf_counter() - t
        r.raise_for_status()
        aid = r.json()["artifact_id"]
        t = time.perf_counter()
        got = 0
        with c.stream("GET", f"/api/sessions/bench/artifacts/{aid}?mode=stream") as resp, \
                open(work / "down.bin", "wb") as out:
            for chunk in resp.iter_bytes(CHUNK):
                out.write(chunk)
                got += len(chunk)
        t_down = time.perf_counter() - t
    assert got == size
    (work / "down.bin").unlink()
    print(f"transfer of one {size_mb} MB file (same run):")
    print(f"  local shutil.copyfile   {t_copy:7.2f} s  {_mbps(size, t_copy)}")
    if curl:
        print(f"  curl upload (multipart) {t_cup:7.2f} s  {_mbps(size, t_cup)}   ({t_cup / t_copy:.1f}x the copy)")
        print(f"  curl download (stream)  {t_cdown:7.2f} s  {_mbps(size, t_cdown)}   ({t_cdown / t_copy:.1f}x the copy)")
    print(f"  httpx upload            {t_up:7.2f} s  {_mbps(size, t_up)}   ({t_up / t_copy:.1f}x the copy)")
    print(f"  httpx download          {t_down:7.2f} s  {_mbps(size, t_down)}   ({t_down / t_copy:.1f}x the copy)")
    with ArtifactStore(work / "local", index=False) as st:
        t = time.perf_counter()
        st.put(src, "big.bin")
        t_put = time.perf_counter() - t
    print(f"  local store.put (same file, for scale) {t_put:5.2f} s  {_mbps(size, t_put)}")
    src.unlink()


def bench_long_poll(url: str, root: Path, pid: int, n: int) -> None:
    proc = psutil.Process(pid)
    rss_before = proc.memory_info().rss
    peak = [rss_before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()

    async def run() -> tuple[int, float, int, int]:
        # aiohttp as the client: httpx's pool is itself slow with 200 open connections
        import aiohttp

        conn = aiohttp.TCPConnector(limit=n + 10)
        async with aiohttp.ClientSession(url, headers={"Authorization": f"Bearer {TOKEN}"}, connector=conn,
                                         timeout=aiohttp.ClientTimeout(total=120)) as c:
            async with c.get("/api/sessions/poll/artifact-events?wait_seconds=0") as r:
                cursor = (await r.json())["next_cursor"]

            async def one() -> int:
                async with c.get(f"/api/sessions/poll/artifact-events?after={cursor}&wait_seconds=60") as r:
                    return len((await r.json())["events"])

            tasks = [asyncio.ensure_future(one()) for _ in range(n)]
            await asyncio.sleep(3.0)  # all parked
            held_rss = proc.memory_info().rss
            parked = sum(not t.done() for t in tasks)
            with ArtifactStore(root, index=False) as st:  # this process is not the server
                t0 = time.perf_counter()
                await asyncio.to_thread(st.put, b"wake", "wake.txt", session_id="poll")
                results = await asyncio.gather(*tasks)
                released = time.perf_counter() - t0
            return sum(1 for r in results if r >= 1), released, held_rss, parked

    released_ok, released_s, held_rss, parked = asyncio.run(run())
    stop.set()
    mb = 1 / (1 << 20)
    print(f"{n} concurrent long-poll clients on artifact-events (wait_seconds=60):")
    print(f"  parked at once          {parked}/{n}")
    print(f"  server RSS before       {rss_before * mb:7.1f} MiB")
    print(f"  server RSS while held   {held_rss * mb:7.1f} MiB  (+{(held_rss - rss_before) * mb:.1f} MiB)")
    print(f"  server RSS peak         {peak[0] * mb:7.1f} MiB")
    print(f"  released by one write   {released_ok}/{n} in {released_s:.2f} s (from the write in this process)")


def _write_from_other_process(root: Path, session: str, count: int, gap: float) -> None:
    code = (
        "import sys, time\n"
        "from notebook_artifacts import ArtifactStore\n"
        "s = ArtifactStore(sys.argv[1], index=False)\n"
        "n, gap = int(sys.argv[3]), float(sys.argv[4])\n"
        "for i in range(n):\n"
        "    s.put(b'x' * 64, f'e{i}.txt', session_id=sys.argv[2])\n"
        "    time.sleep(gap)\n"
        "s.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(root), session, str(count), str(gap)], check=True)


def bench_ws_latency(url: str, root: Path, n: int) -> None:
    ws_url = url.replace("http://", "ws://") + f"/ws?token={TOKEN}&session_id=push"
    lat: list[float] = []
    with connect(ws_url, open_timeout=10, max_size=None) as ws:
        json.loads(ws.recv(timeout=10))
        writer = threading.Thread(target=_write_from_other_process, args=(root, "push", n, 0.05))
        writer.start()
        while len(lat) < n:
            msg = json.loads(ws.recv(timeout=30))
            if msg.get("type") == "artifact_created":
                lat.append(time.time() - msg["timestamp"])
        writer.join()
    lat.sort()
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(f"WebSocket push latency, {n} writes from another process (event commit -> message received):")
    print(f"  p50 {statistics.median(lat) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   max {lat[-1] * 1000:6.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--pollers", type=int, default=200)
    ap.add_argument("--pushes", type=int, default=50)
    ap.add_argument("--dir", default=None, help="Work directory (default: a temp dir)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="na-bench-server-", dir=args.dir))
    root = work / "store"
    proc, url = _start_server(root, max_upload=(args.size_mb + 16) << 20)
    try:
        print(f"server: {url} (pid {proc.pid}), root {root}")
        bench_transfer(url, work, args.size_mb)
        bench_long_poll(url, root, proc.pid, args.pollers)
        bench_ws_latency(url, root, args.pushes)
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
