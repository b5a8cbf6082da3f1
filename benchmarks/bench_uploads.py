"""Small uploads over HTTP: a real ``notebook-artifacts serve`` against a bare FastAPI endpoint.

Run: ``.venv/bin/python benchmarks/bench_uploads.py [--uploads 400] [--inflight 50]
[--pollers 200] [--docs 24] [--route session|native] [--baseline-code DIR]
[--out benchmarks/results/uploads.md]``

One run starts both servers on loopback (each its own process, uvicorn, same client):

- ``serve``: the product, indexing on (``--root`` in a temp dir); with ``--baseline-code DIR``
  a second one runs another checkout's code (A/B in the same run);
- bare: a FastAPI endpoint that streams each multipart upload into its own file and fsyncs it
  (python-multipart's streaming parser, no temp file, no database): the floor for a durable
  upload over HTTP on this machine.

It sends ``--uploads`` uploads of 1 KiB of random bytes (binary: nothing to index) with
``--inflight`` in flight (httpx, asyncio) to each, bare first, in four states of the product,
one after the other on the same server:

1. fresh: just started;
2. after ``--pollers`` long-polls on ``artifact-events`` timed out;
3. after ``--pollers`` long-polls were woken by an upload;
4. while the indexer is busy: ``--docs`` text documents that need embedding were put just
   before (the model is loaded beforehand, so "busy" is embedding, not loading).

It prints uploads/s, the ratio to the bare endpoint, the server process's CPU time per upload
(user + system, all threads: steadier than rates on a shared machine; in state 4 it includes
the indexer's work), and the server's RSS while ``--pollers``
long-polls wait. Uploads go to the seed-001 ``POST /api/uploads/{session}``, all into one
session (each state follows everything uploaded before it; ``--session-per-state`` for a new
one each time), or with ``--route native`` to ``POST /v1/store/artifacts`` without a session.
Asserts nothing.
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

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

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


_REPO = str(Path(__file__).resolve().parent.parent)


def _env(code: Optional[str] = None) -> dict[str, str]:
    """The environment of a child process whose ``notebook_artifacts`` comes from ``code``
    (default: this checkout) and ``benchmarks`` from this checkout."""
    root = os.pathsep.join([code, _REPO]) if code else _REPO
    return {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}


def start_process(cmd: list[str], code: Optional[str] = None) -> tuple[subprocess.Popen, str]:
    """Start a server command (from this checkout, or from ``code``) and wait until it answers
    /health; its process and URL."""
    # cwd: `python -m` puts it first on sys.path, before PYTHONPATH
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=_env(code), cwd=code or _REPO)
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
            httpx.get(url + "/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return proc, url


def start_serve(root: Path, code: Optional[str] = None) -> tuple[subprocess.Popen, str]:
    """``notebook-artifacts serve`` (indexing on) from this checkout, or from ``code``."""
    cmd = [sys.executable, "-m", "notebook_artifacts.cli"]
    return start_process(cmd + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN], code)


def start_bare(directory: Path) -> tuple[subprocess.Popen, str]:
    return start_process([sys.executable, "-m", "benchmarks.bench_uploads", "--bare-endpoint", str(directory)])


# --------------------------------------------------------------------------- client side


#: the client's share of one CPU during each burst (near 1.0: the client, not the server, limits)
CLIENT_CPU: list[float] = []


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def burst(url: str, path: str, n: int, inflight: int, proc: psutil.Process, *,
                options: Optional[str] = None, prefix: str = "u") -> tuple[float, float, int]:
    """``n`` uploads of 1 KiB with ``inflight`` at once; returns (uploads/s, server CPU ms per
    upload, errors). CPU per upload holds up on a busy machine, where rates do not."""
    payloads = [os.urandom(KiB) for _ in range(n)]
    errors = 0
    nxt = iter(range(n))
    limits = httpx.Limits(max_connections=inflight, max_keepalive_connections=inflight)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, limits=limits, timeout=120) as c:
        async def worker() -> None:
            nonlocal errors
            for i in nxt:
                data = {"options": options.replace("{i}", str(i))} if options else None
                try:
                    r = await c.post(path, files={"file": (f"{prefix}{i}.bin", payloads[i],
                                                           "application/octet-stream")}, data=data)
                except httpx.HTTPError:  # e.g. a kept-alive connection closed as it was reused
                    errors += 1
                    continue
                if r.status_code >= 300:
                    errors += 1
        # one request each to open the connections before the clock starts
        await asyncio.gather(*(c.get("/health") for _ in range(inflight)))
        cpu, own, t = _cpu(proc), time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(inflight)))
        seconds, cpu = time.perf_counter() - t, _cpu(proc) - cpu
        CLIENT_CPU.append((time.process_time() - own) / seconds)
    return (n - errors) / seconds, cpu * 1000 / max(1, n - errors), errors


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


def in_process_puts(n: int, session: Optional[str], threads: int = 40) -> str:
    """``n`` puts of 1 KiB from ``threads`` threads into one store (index off), in this
    process: the store's own cost, without HTTP (one line of figures)."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    from notebook_artifacts import ArtifactStore

    d = tempfile.mkdtemp(prefix="na-bench-inproc-")
    try:
        with ArtifactStore(d, index=False) as st:
            data = [os.urandom(KiB) for _ in range(n)]
            r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda i: st.put(data[i], f"f{i}.bin", session_id=session), range(n)))
            dt, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
        cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
        import notebook_artifacts

        where = Path(notebook_artifacts.__file__).resolve().parent.parent
        return f"{n / dt:5.0f} puts/s {cpu * 1000 / n:5.1f} ms CPU/put   (code: {where})"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _in_process(code: Optional[str], n: int, session: Optional[str]) -> str:
    cmd = [sys.executable, "-m", "benchmarks.bench_uploads", "--in-process-puts", str(n),
           session or "-"]
    return subprocess.run(cmd, env=_env(code), cwd=code or _REPO, capture_output=True, text=True,
                          check=True).stdout.strip()


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
    ap.add_argument("--session-per-state", action="store_true",
                    help="upload into a new session in each state (default: one session for the "
                         "whole run, so each state follows everything uploaded before it)")
    ap.add_argument("--baseline-code", metavar="DIR",
                    help="also run a second serve from this checkout's notebook_artifacts "
                         "(A/B in the same run, measured right after this one in every state)")
    ap.add_argument("--out", type=Path, help="also write the figures as markdown here")
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir)")
    ap.add_argument("--profile", type=Path, help="record the server with py-spy (speedscope JSON) here")
    ap.add_argument("--bare-endpoint", metavar="DIR", help=argparse.SUPPRESS)
    ap.add_argument("--in-process-puts", nargs=2, metavar=("N", "SESSION"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.bare_endpoint:
        serve_bare(args.bare_endpoint)
        return 0
    if args.in_process_puts:
        n, sid = args.in_process_puts
        print(in_process_puts(int(n), None if sid == "-" else sid))
        return 0

    work = Path(tempfile.mkdtemp(prefix="na-bench-uploads-", dir=args.dir))
    (work / "bare").mkdir()
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    servers: list[tuple[str, subprocess.Popen, str]] = []
    serve, url = start_serve(work / "store")
    servers.append(("serve", serve, url))
    if args.baseline_code:
        base, base_url = start_serve(work / "store-baseline", code=args.baseline_code)
        servers.append(("baseline", base, base_url))
    bare, bare_url = start_bare(work / "bare")
    spy = None
    if args.profile:
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = subprocess.Popen([pyspy, "record", "--pid", str(serve.pid), "--rate", "100",
                                *(["--format", "raw", "--threads"] if str(args.profile).endswith(".txt") else ["--format", "speedscope", "--threads", "--idle"]),
                                "-o", str(args.profile)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    figures: list[dict[str, Any]] = []
    rss: list[str] = []
    try:
        say(f"{args.uploads} uploads of 1 KiB, {args.inflight} in flight (httpx), route "
            f"{'POST /api/uploads/{session}' if args.route == 'session' else 'POST /v1/store/artifacts'}"
            f"{' (one session per state)' if args.session_per_state else ' (one session for the run)'}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
            + (f"; baseline: serve from {args.baseline_code}" if args.baseline_code else ""))

        def measure(state: str, session: str) -> None:
            session = session if args.session_per_state else "bench"
            if args.route == "session":
                path, options = f"/api/uploads/{session}", None
            else:
                path, options = "/v1/store/artifacts", json.dumps({"name": f"{session}/{{i}}.bin"})
            bare_rate, bare_cpu, err = asyncio.run(burst(bare_url, "/upload", args.uploads,
                                                         args.inflight, psutil.Process(bare.pid)))
            row = {"state": state, "bare": bare_rate, "bare_cpu_ms": bare_cpu, "load": os.getloadavg()[0]}
            text = f"  {state:<36} bare {bare_rate:4.0f}/s {bare_cpu:4.1f} ms"
            for label, p, u in servers:
                rate, cpu, e = asyncio.run(burst(u, path, args.uploads, args.inflight, psutil.Process(p.pid),
                                                 options=options, prefix=f"{state[0]}-"))
                err += e
                row[label], row[label + "_cpu_ms"] = rate, cpu
                text += f" | {label} {rate:4.0f}/s ({rate / bare_rate:4.2f}x) {cpu:4.1f} ms"
            figures.append(row)
            say(text + (f"   ERRORS {err}" if err else ""))

        measure("1. fresh server", "fresh")

        for label, p, u in servers:
            r = asyncio.run(park_pollers(u, "lp-timeout", args.pollers, args.poll_seconds,
                                         psutil.Process(p.pid)))
            rss.append(_rss_line(label, "timed out", args.pollers, r))
        measure(f"2. after {args.pollers} long-polls timed out", "after-timeout")

        for label, p, u in servers:
            async def wake(u: str = u) -> None:
                async with httpx.AsyncClient(base_url=u, headers=AUTH) as c:
                    r = await c.post("/api/uploads/lp-wake", files={"file": ("wake.bin", b"wake")})
                    r.raise_for_status()

            r = asyncio.run(park_pollers(u, "lp-wake", args.pollers, 60.0, psutil.Process(p.pid),
                                         wake=wake))
            rss.append(_rss_line(label, "woken", args.pollers, r))
        measure(f"3. after {args.pollers} long-polls were woken", "after-wake")

        # 4: load the model first (one document), then queue the documents and measure at once
        for _label, _p, u in servers:
            asyncio.run(put_texts(u, 1, 200, 10_000))
            wait_indexed(u)
        for _label, _p, u in servers:
            asyncio.run(put_texts(u, args.docs, args.doc_words, 0))
        before = [pending(u) for _l, _p, u in servers]
        t = time.perf_counter()
        measure("4. while the indexer is busy", "while-indexing")
        busy = time.perf_counter() - t
        after = [pending(u) for _l, _p, u in servers]
        say(f"     pending index jobs (the {args.docs} documents, then also the binary uploads) "
            f"before -> after: " + ", ".join(f"{label} {b} -> {a}" for (label, _p, _u), b, a
                                             in zip(servers, before, after))
            + f" ({busy:.1f} s of uploads)")
        for line in rss:
            say(line)
    finally:
        if spy is not None:
            spy.send_signal(2)
            try:
                spy.wait(60)
            except subprocess.TimeoutExpired:
                spy.kill()
        for p in [p for _l, p, _u in servers] + [bare]:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    say(f"  client (httpx, this process): {min(CLIENT_CPU):.2f}-{max(CLIENT_CPU):.2f} of one CPU busy "
        "during the bursts")
    say(f"  in-process, no HTTP: {args.uploads} puts of 1 KiB from 40 threads, index off, each in "
        "a fresh process:")
    for sid in ("s1", None):
        for label, code in [("serve", None)] + ([("baseline", args.baseline_code)] if args.baseline_code else []):
            say(f"    {'into one session' if sid else 'no session':<17} {label:<9} "
                + _in_process(code, args.uploads, sid))
    for label, _p, _u in servers:
        worst = min(f[label] / f["bare"] for f in figures)
        cpu = max(f[label + "_cpu_ms"] for f in figures)
        say(f"  {label}: worst state {worst:.2f}x the bare endpoint's uploads/s; at most "
            f"{cpu:.1f} ms of server CPU per upload (bare: at most "
            f"{max(f['bare_cpu_ms'] for f in figures):.1f} ms)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cmd = "python benchmarks/bench_uploads.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.out.write_text("# Small uploads over HTTP\n\n`" + cmd.strip() + "`\n\n```\n"
                            + "\n".join(lines) + "\n```\n")
    return 0


def _rss_line(label: str, how: str, n: int, r: dict[str, Any]) -> str:
    mb = 1 / MiB
    return (f"  {label}: {n} long-polls ({how}): {r['parked']} parked at once, server RSS "
            f"{r['rss_before'] * mb:.1f} -> {r['rss_held'] * mb:.1f} MiB while they waited "
            f"(+{(r['rss_held'] - r['rss_before']) * mb:.1f} MiB); "
            f"{r['timed_out']} timed out, {r['woken']} got an event")


if __name__ == "__main__":
    raise SystemExit(main())
