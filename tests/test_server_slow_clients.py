"""Hostile clients of the real server process on loopback (issue 19, findings 6 and 7): a
multipart body of thousands of parts is refused and parsed off the event loop, so /health stays
responsive; connections that send nothing or trickle their headers are closed by the header
timeout, and idle kept-alive connections by the keep-alive timeout. Counts and times bounded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

TOKEN = "slow-clients-token-5b1e"
HEADER_TIMEOUT = 2  # seconds, set for the server under test through the environment
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("slow")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT": str(HEADER_TIMEOUT)}
    proc = subprocess.Popen(
        _cli() + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN, "--no-index",
                  "--max-upload-bytes", str(64 << 20)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    url = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "serving on" in line:
            url = line.rsplit(" ", 1)[-1].strip()
            break
    assert url, f"server did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
    output: list[str] = []
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=lambda s=stream: output.extend(s), daemon=True).start()
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
    yield {"url": url, "addr": (host, int(port)), "root": root, "output": output}
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _many_parts_body(parts: int) -> tuple[bytes, str]:
    boundary = "b0undary7f3a"
    one = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\r\n").encode()
    tail = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    return one * parts + tail, f"multipart/form-data; boundary={boundary}"


def test_too_many_parts_or_fields_are_refused_clearly(server):
    for parts in (40, 1000):
        body, ctype = _many_parts_body(parts)
        r = httpx.post(server["url"] + "/api/uploads/parts", content=body, headers={**AUTH, "Content-Type": ctype},
                       timeout=60)
        assert r.status_code == 400, (parts, r.status_code, r.text)
        assert "more than" in r.json()["detail"]
    body, ctype = _many_parts_body(10)  # a handful of fields is fine
    r = httpx.post(server["url"] + "/api/uploads/parts", content=body, headers={**AUTH, "Content-Type": ctype}, timeout=60)
    assert r.status_code == 200, r.text
    names = [a["name"] for a in httpx.get(server["url"] + "/api/uploads/parts", headers=AUTH).json()["attachments"]]
    assert names == ["x.txt"]


def test_health_stays_responsive_while_multipart_floods_arrive(server):
    """Four 21 MB bodies of 414,000 empty parts each: parsing them on the event loop took
    6.8 s of loop time each and pushed /health to 3.7 s."""
    body, ctype = _many_parts_body(414_000)
    done = threading.Event()
    statuses: list[object] = []

    def flood() -> None:
        try:
            r = httpx.post(server["url"] + "/api/uploads/flood", content=body,
                           headers={**AUTH, "Content-Type": ctype}, timeout=120)
            statuses.append(r.status_code)
        except httpx.HTTPError as exc:  # the server may answer 400 and close mid-body
            statuses.append(type(exc).__name__)

    threads = [threading.Thread(target=flood) for _ in range(4)]
    for t in threads:
        t.start()
    worst = 0.0
    with httpx.Client(timeout=30) as c:
        t_end = time.monotonic() + 60
        while any(t.is_alive() for t in threads) and time.monotonic() < t_end:
            t0 = time.monotonic()
            assert c.get(server["url"] + "/health").status_code == 200
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.05)
    for t in threads:
        t.join(60)
    print(f"worst /health latency during 4 multipart floods: {worst:.3f} s; answers {statuses}")
    assert worst < 1.0, f"/health took {worst:.2f} s while multipart bodies were parsed"
    assert all(s in (400, "RemoteProtocolError", "WriteError", "ReadError") for s in statuses), statuses


def _open(addr, first: bytes = b"") -> socket.socket:
    s = socket.create_connection(addr, timeout=5)
    if first:
        s.sendall(first)
    return s


def _closed_by_server(s: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.setblocking(True)
    return data == b"" or data.startswith(b"HTTP/1.1 408")


def test_slow_header_and_silent_connections_are_closed(server):
    """20 connections trickling one header line a second and 10 sending nothing are all
    closed within the header timeout (plus slack), and the server answers others meanwhile."""
    addr = server["addr"]
    trickling = [_open(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n") for _ in range(20)]
    silent = [_open(addr) for _ in range(10)]
    t0 = time.monotonic()
    closed_at: dict[int, float] = {}
    try:
        while time.monotonic() - t0 < HEADER_TIMEOUT + 6 and len(closed_at) < 30:
            for i, s in enumerate(trickling + silent):
                if i in closed_at:
                    continue
                if _closed_by_server(s):
                    closed_at[i] = time.monotonic() - t0
                elif i < len(trickling):
                    try:
                        s.sendall(f"X-Slow-{int(time.monotonic() * 10)}: 1\r\n".encode())
                    except OSError:
                        closed_at[i] = time.monotonic() - t0
            assert httpx.get(server["url"] + "/health", timeout=5).status_code == 200
            time.sleep(1.0)
    finally:
        for s in trickling + silent:
            s.close()
    assert len(closed_at) == 30, f"{30 - len(closed_at)} slow connections still open after {HEADER_TIMEOUT + 6} s"
    assert max(closed_at.values()) < HEADER_TIMEOUT + 4, closed_at


def test_idle_kept_alive_connection_is_closed_and_busy_ones_are_not(server):
    """After a response, an idle kept-alive connection goes (keep-alive timeout, 5 s); a
    long request whose headers came in time (a long-poll) and a WebSocket are not cut by the
    header timeout."""
    with httpx.Client(base_url=server["url"], headers=AUTH, timeout=30) as c:
        r = c.get("/api/sessions/lp/artifact-events", params={"wait_seconds": HEADER_TIMEOUT + 2})
        assert r.status_code == 200 and r.json()["timed_out"] is True
    ws_url = server["url"].replace("http://", "ws://") + f"/ws?token={TOKEN}"
    with connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        time.sleep(HEADER_TIMEOUT + 1)
        ws.send("ping")
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"
    s = _open(server["addr"], b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        t0 = time.monotonic()
        while not _closed_by_server(s) and time.monotonic() - t0 < 12:
            time.sleep(0.25)
        assert time.monotonic() - t0 < 12, "an idle kept-alive connection stayed open"
    finally:
        s.close()
