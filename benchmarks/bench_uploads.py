"""Small uploads over HTTP: a real ``notebook-artifacts serve`` against a bare FastAPI endpoint.

Run: ``.venv/bin/python benchmarks/bench_uploads.py [--uploads 400] [--inflight 50]
[--pollers 200] [--docs 24] [--route session|native] [--out benchmarks/results/uploads.md]``

One run starts both servers on loopback (each its own process, uvicorn, same client):

- ``serve``: the product, indexing on (``--root`` in a temp dir);
- bare: a FastAPI endpoint that streams each multipart upload into its own file and fsyncs it
  (python-multipart's streaming parser, no temp file, no database): the floor for a durable
  upload over HTTP on this machine.

It sends ``--uploads`` uploads of 1 KiB of random bytes (binary: nothing to index) with
``--inflight`` in flight (httpx, asyncio) to each, bare first, in four states of the product:

1. fresh: just started;
2. after ``--pollers`` long-polls on ``artifact-events`` timed out;
3. after ``--pollers`` long-polls were woken by an upload;
4. while the indexer is busy: ``--docs`` text documents that need embedding were put just
   before (the model is loaded beforehand, so "busy" is embedding, not loading).

It prints uploads/s for both, the ratio, and the server's RSS with ``--pollers`` long-polls
waiting. Every state uploads into its own session (``--route session``: the seed-001
``POST /api/uploads/{session}``) or, with ``--route native``, to ``POST /v1/store/artifacts``
without a session. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
import psutil
from fastapi import FastAPI, Request
from python_multipart.multipart import MultipartParser, parse_options_header

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KiB = 1024
MiB = 1 << 20

# --------------------------------------------------------------------------- the bare endpoint


def bare_app(directory: str) -> Any:
    """A FastAPI app whose ``POST /upload`` streams the multipart ``file`` part to its own
    file (python-multipart's parser, the bytes written as they arrive) and fsyncs it."""
    app = FastAPI()
    counter = iter(range(1 << 62))

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        _, params = parse_options_header(request.headers["content-type"])
        path = os.path.join(directory, f"{next(counter)}.bin")
        size = 0
        with open(path, "wb") as f:
            in_file = False

            def on_headers_finished() -> None:
                nonlocal in_file
                in_file = True

            def on_part_data(data: bytes, start: int, end: int) -> None:
                nonlocal size
                if in_file:
                    f.write(data[start:end])
                    size += end - start

            parser = MultipartParser(params[b"boundary"], {
                "on_headers_finished": on_headers_finished, "on_part_data": on_part_data})
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
            f.flush()
            os.fsync(f.fileno())
        return {"size": size}

    return app


def serve_bare(directory: str) -> None:
    """Run the bare app on a free loopback port; prints ``serving on URL`` like ``serve``."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"bare endpoint serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(bare_app(directory), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


# --------------------------------------------------------------------------- processes


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def _start(cmd: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=_env())
    url = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if "serving on" in line:
            url = line.rsplit(" ", 1)[-1].strip()
            break
    if url is None:
        raise SystemExit(f"{cmd[:4]} did not start")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    for _ in range(400):
        try:
            httpx.get(url + "/docs", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, url


def start_serve(root: Path) -> tuple[subprocess.Popen, str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]
    return _start(cmd + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN])


def start_bare(directory: Path) -> tuple[subprocess.Popen, str]:
    return _start([sys.executable, "-m", "benchmarks.bench_uploads", "--bare-endpoint", str(directory)])


# --------------------------------------------------------------------------- client side


async def burst(url: str, path: str, n: int, inflight: int, *, options: Optional[str] = None,
                prefix: str = "u") -> tuple[float, int]:
    """``n`` uploads of 1 KiB with ``inflight`` at once; returns (uploads/s, errors)."""
    payloads = [os.urandom(KiB) for _ in range(n)]
    errors = 0
    nxt = iter(range(n))
    limits = httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, limits=limits, timeout=120) as c:
        async def worker() -> None:
            nonlocal errors
            for i in nxt:
                data = {"options": options.replace("{i}", str(i))} if options else None
                r = await c.post(path, files={"file": (f"{prefix}{i}.bin", payloads[i],
                                                       "application/octet-stream")}, data=data)
                if r.status_code >= 300:
                    errors += 1
        # one request each to open the connections before the clock starts
        await asyncio.gather(*(c.get("/docs") for _ in range(inflight)))
        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        seconds = time.perf_counter() - t
    return n / seconds, errors


async def park_pollers(url: str, session: str, n: int, wait_seconds: float,
                       proc: psutil.Process, wake: Optional[Callable[[], Any]] = None) -> dict[str, Any]:
    """``n`` long-polls on the session's ``artifact-events``; measures RSS while all wait,
    then lets them time out or wakes them with ``wake()``; returns figures."""
    import aiohttp

    conn = aiohttp.TCPConnector(limit=n + 10)
    async with aiohttp.ClientSession(url, headers=AUTH, connector=conn,
                                     timeout=aiohttp.ClientTimeout(total=wait_seconds + 60)) as c:
        async with c.get(f"/api/sessions/{session}/artifact-events?wait_seconds=0") as r:
            cursor = (await r.json())["next_cursor"]
        rss_before = proc.memory_info().rss

        async def one() -> dict[str, Any]:
            async with c.get(f"/api/sessions/{session}/artifact-events?after={cursor}"
                             f"&wait_seconds={wait_seconds}") as r:
                return await r.json()

        tasks = [asyncio.ensure_future(one()) for _ in range(n)]
        await asyncio.sleep(min(2.0, wait_seconds * 0.6))
        rss_held = proc.memory_info().rss
        parked = sum(not t.done() for t in tasks)
        if wake is not None:
            await wake()
        pages = await asyncio.gather(*tasks)
        await asyncio.sleep(0.3)
    return {"parked": parked, "rss_before": rss_before, "rss_held": rss_held,
            "timed_out": sum(1 for p in pages if p.get("timed_out")),
            "woken": sum(1 for p in pages if p.get("events"))}


def _paragraphs(seed: int, n_words: int) -> str:
    rnd = random.Random(seed)
    words = ("index embedding artifact notebook version session upload server latency store "
             "vector keyword chunk document query manifest lineage event cursor token budget "
             "quarterly revenue forecast region margin customer churn pipeline model training "
             "evaluation dataset feature baseline experiment result figure table report").split()
    out, para = [], []
    for i in range(n_words):
        para.append(rnd.choice(words))
        if len(para) > 60 and rnd.random() < 0.05:
            out.append(" ".join(para).capitalize() + ".")
            para = []
    out.append(" ".join(para) + ".")
    return "# Report %d\n\n" % seed + "\n\n".join(out)


async def put_texts(url: str, n: int, words: int, seed0: int) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=120) as c:
        for i in range(n):
            text = _paragraphs(seed0 + i, words).encode()
            r = await c.post("/v1/store/artifacts", files={"file": (f"doc{seed0 + i}.md", text, "text/markdown")},
                             data={"options": json.dumps({"name": f"docs/doc{seed0 + i}.md", "kind": "text"})})
            r.raise_for_status()


def pending(url: str) -> int:
    return int(httpx.get(url + "/v1/store/pending", headers=AUTH).json()["pending"])


def wait_indexed(url: str, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = httpx.post(url + "/v1/store/wait-indexed?timeout=20", headers=AUTH, timeout=30)
        if r.json()["done"]:
            return
    raise SystemExit("indexing did not finish")


# --------------------------------------------------------------------------- the run


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=400, help="uploads per measurement (default 400)")
    ap.add_argument("--inflight", type=int, default=50, help="uploads in flight (default 50)")
    ap.add_argument("--pollers", type=int, default=200, help="long-polls per state (default 200)")
    ap.add_argument("--poll-seconds", type=float, default=3.0, help="wait_seconds of the long-polls that time out")
    ap.add_argument("--docs", type=int, default=24, help="text documents put before state 4 (default 24)")
    ap.add_argument("--doc-words", type=int, default=3000, help="words per text document (default 3000)")
    ap.add_argument("--route", choices=("session", "native"), default="session")
    ap.add_argument("--out", type=Path, help="also write the figures as markdown here")
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--profile", type=Path, help="record the server with py-spy (speedscope JSON) here")
    ap.add_argument("--bare-endpoint", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare_endpoint:
        serve_bare(args.bare_endpoint)
        return 0

    work = Path(tempfile.mkdtemp(prefix="na-bench-uploads-", dir=args.dir))
    (work / "bare").mkdir()
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    serve, url = start_serve(work / "store")
    bare, bare_url = start_bare(work / "bare")
    spy = None
    if args.profile:
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = subprocess.Popen([pyspy, "record", "--pid", str(serve.pid), "--rate", "100",
                                "--format", "speedscope", "--threads", "--idle",
                                "-o", str(args.profile)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    proc = psutil.Process(serve.pid)
    figures: list[dict[str, Any]] = []
    try:
        say(f"{args.uploads} uploads of 1 KiB, {args.inflight} in flight (httpx), route "
            f"{'POST /api/uploads/{session}' if args.route == 'session' else 'POST /v1/store/artifacts'}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

        def measure(state: str, session: str, extra: str = "") -> None:
            if args.route == "session":
                path, options = f"/api/uploads/{session}", None
            else:
                path, options = "/v1/store/artifacts", json.dumps({"name": f"{session}/u{{i}}.bin"})
            bare_rate, bare_err = asyncio.run(burst(bare_url, "/upload", args.uploads, args.inflight))
            rate, err = asyncio.run(burst(url, path, args.uploads, args.inflight, options=options))
            figures.append({"state": state, "serve": rate, "bare": bare_rate, "ratio": rate / bare_rate,
                            "errors": err + bare_err, "load": os.getloadavg()[0]})
            say(f"  {state:<44} serve {rate:6.0f}/s   bare {bare_rate:6.0f}/s   "
                f"ratio {rate / bare_rate:4.2f}x{'   ERRORS ' + str(err + bare_err) if err + bare_err else ''}{extra}")

        measure("1. fresh server", "fresh")

        lp = asyncio.run(park_pollers(url, "lp-timeout", args.pollers, args.poll_seconds, proc))
        measure(f"2. after {args.pollers} long-polls timed out", "after-timeout")

        async def wake() -> None:
            async with httpx.AsyncClient(base_url=url, headers=AUTH) as c:
                r = await c.post("/api/uploads/lp-wake", files={"file": ("wake.bin", b"wake")})
                r.raise_for_status()

        lw = asyncio.run(park_pollers(url, "lp-wake", args.pollers, 60.0, proc, wake=wake))
        measure(f"3. after {args.pollers} long-polls were woken", "after-wake")

        # 4: load the model first (one document), then queue the documents and measure at once
        asyncio.run(put_texts(url, 1, 200, 10_000))
        wait_indexed(url)
        asyncio.run(put_texts(url, args.docs, args.doc_words, 0))
        before = pending(url)
        t = time.perf_counter()
        cpu0 = proc.cpu_times()
        measure("4. while the indexer is busy", "while-indexing")
        after = pending(url)
        busy = time.perf_counter() - t
        wait_indexed(url)
        drained = time.perf_counter() - t
        say(f"     indexer: {before} documents pending before, {after} after "
            f"({busy:.1f} s of uploads; all indexed {drained:.1f} s after the uploads began)")
        mb = 1 / MiB
        for label, r in (("timed out", lp), ("woken", lw)):
            say(f"  {args.pollers} long-polls ({label}): {r['parked']} parked at once, server RSS "
                f"{r['rss_before'] * mb:.1f} -> {r['rss_held'] * mb:.1f} MiB while they waited "
                f"(+{(r['rss_held'] - r['rss_before']) * mb:.1f} MiB); "
                f"{r['timed_out']} timed out, {r['woken']} got an event")
        del cpu0
    finally:
        if spy is not None:
            spy.send_signal(2)
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
        for p in (serve, bare):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    worst = min(f["ratio"] for f in figures)
    say(f"  worst ratio {worst:.2f}x of the bare endpoint")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = "python benchmarks/bench_uploads.py " + " ".join(a for a in (argv or sys.argv[1:]))
        args.out.write_text("# Small uploads over HTTP\n\n`" + cmd.strip() + "`\n\n```\n"
                            + "\n".join(lines) + "\n```\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
