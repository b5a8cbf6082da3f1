"""The real server process (`notebook-artifacts serve`, uvicorn on loopback): the three seed
clients' flows end to end, WebSocket and long-poll woken by writes from another process."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time

import httpx
import pytest
from websockets.sync.client import connect

from notebook_artifacts import ArtifactStore
from process_fixtures import TOKEN, cli, serve_process


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("served"), "--max-upload-bytes", str(1 << 20)) as s:
        yield s


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as c:
        yield c


def test_seed001_upload_list_events_download_zip(server, http):
    assert httpx.get(server["url"] + "/api/uploads/p1").status_code == 401
    r = http.post("/api/uploads/p1", files={"file": ("report.csv", b"a,b\n1,2\n", "text/csv")})
    assert r.status_code == 200, r.text
    att = r.json()["attachment_id"]
    assert [a["name"] for a in http.get("/api/uploads/p1").json()["attachments"]] == ["report.csv"]
    ev = http.get("/api/sessions/p1/artifact-events?wait_seconds=0").json()
    assert ev["events"][0]["attachment_id"] == att
    body = http.get(f"/api/sessions/p1/artifacts/{att}?mode=stream&download=true")
    assert body.content == b"a,b\n1,2\n" and "report.csv" in body.headers["content-disposition"]
    part = http.get(f"/api/sessions/p1/artifacts/{att}?mode=stream", headers={"Range": "bytes=4-"})
    assert part.status_code == 206 and part.content == b"1,2\n"
    z = http.get("/api/sessions/p1/download")
    assert z.status_code == 200 and z.content[:2] == b"PK"
    # the same root seen from Python in this (another) process
    with ArtifactStore(server["root"], index=False) as st:
        assert st.read_bytes("report.csv", session_id="p1") == b"a,b\n1,2\n"
    big = http.post("/api/uploads/p1", files={"file": ("big.bin", b"x" * ((1 << 20) + 1))})
    assert big.status_code == 413


def test_seed002_and_seed003_flows(server, http):
    web = "/apps/app/users/u/sessions/s/artifacts"
    r = http.post(web, json={"filename": "out.txt", "artifact": {"inline_data": {
        "mime_type": "text/plain", "data": base64.b64encode(b"hello").decode()}}})
    assert r.status_code == 200 and r.json()["version"] == 1
    assert http.get("/api/sessions/app/u/s/artifacts").json() == ["out.txt"]
    assert base64.b64decode(http.get("/api/sessions/app/u/s/artifacts/out.txt").json()["data"]) == b"hello"
    assert http.delete("/api/sessions/app/u/s/artifacts/out.txt").status_code == 200
    assert http.get(f"{web}/out.txt").status_code == 404
    p = "/v1/orgs/o/workspaces/w/namespaces/n"
    rec = http.post(f"{p}/artifacts/upload", files={"file": ("d.json", b'{"k": 1}', "application/json")},
                    data={"tags": "a,b"}).json()
    assert rec["tags"] == ["a", "b"] and rec["namespace"] == "o/w/n"
    dl = http.get(f"{p}/artifacts/{rec['artifact_id']}/download?expires_in=60").json()
    anon = httpx.get(dl["download_url"])
    assert anon.status_code == 200 and anon.content == b'{"k": 1}'
    assert http.get(f"{p}/artifacts").json()["total"] == 1


def test_websocket_and_long_poll_see_writes_from_another_process(server, http):
    ws_url = server["url"].replace("http://", "ws://") + f"/ws?token={TOKEN}&session_id=live"
    cursor = http.get("/api/sessions/live/artifact-events?wait_seconds=0").json()["next_cursor"]
    result: dict = {}

    def poll():
        result["r"] = http.get(f"/api/sessions/live/artifact-events?after={cursor}&wait_seconds=30").json()

    with connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.3)
        with ArtifactStore(server["root"], index=False) as st:  # a write from this process
            a = st.put(b"pushed", "live.txt", session_id="live")
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "artifact_created" and msg["artifact_id"] == a.artifact_id
        t.join(30)
    assert [e["path"] for e in result["r"]["events"]] == ["live.txt"]


def test_tokens_never_reach_the_logs(server):
    httpx.get(server["url"] + f"/api/uploads/x?token={TOKEN}")
    time.sleep(0.3)
    log = "".join(server["output"])
    assert "/api/uploads/x?token=***" in log
    assert TOKEN not in log


def test_percent_encoded_secret_names_never_reach_the_logs(server, http):
    """Starlette decodes parameter names, so `%74oken=` is the token: its value must be
    redacted too (issue 19, finding 3), for HTTP, the WebSocket and signed URLs."""
    url = server["url"]
    for spelling in ("%74oken", "tok%65n", "%54oken".replace("%54", "%74"), "t%6Fk%65n"):
        r = httpx.get(f"{url}/api/uploads/enc?{spelling}={TOKEN}")
        assert r.status_code == 200, (spelling, r.status_code)  # accepted: it is the token
    with connect(url.replace("http://", "ws://") + f"/ws?session_id=enc&%74oken={TOKEN}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
    p = "/v1/orgs/o/workspaces/w/namespaces/logs"
    rec = http.post(f"{p}/artifacts", json={"name": "l.txt", "content": "x"}).json()
    signed = http.get(f"{p}/artifacts/{rec['artifact_id']}/download?expires_in=60").json()["download_url"]
    sig = signed.rsplit("sig=", 1)[1]
    r = httpx.get(signed.replace("sig=", "s%69g="))
    assert r.status_code == 200 and r.content == b"x"  # the encoded name is the signature
    time.sleep(0.5)
    log = "".join(server["output"])
    assert "/api/uploads/enc?" in log and "%74oken=***" in log and "s%69g=***" in log, log[-3000:]
    assert "WebSocket /ws?session_id=enc&%74oken=***" in log, log[-3000:]
    assert TOKEN not in log and sig not in log


def test_no_auth_is_refused_off_loopback(tmp_path):
    r = subprocess.run(cli() + ["serve", "--root", str(tmp_path), "--host", "0.0.0.0", "--no-auth"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "loopback" in r.stderr


def test_serve_in_thread_parks_long_polls_without_a_thread_each(tmp_path):
    """What `%artifact serve` uses: a real uvicorn on a background thread of this process."""
    import asyncio

    from notebook_artifacts.server import serve_in_thread

    st = ArtifactStore(tmp_path / "s", index=False)
    handle = serve_in_thread(st, workflows={"echo": lambda ctx: ctx.task_prompt.upper()})
    try:
        assert handle.url.startswith("http://127.0.0.1:") and handle.token
        hub = handle.app.state.settings.hub
        # more waiters than anyio's worker-thread pool (40): if a long poll held a thread,
        # at most 40 could ever be parked at once
        n = 100

        async def run():
            async with httpx.AsyncClient(base_url=handle.url, timeout=60,
                                         headers={"Authorization": f"Bearer {handle.token}"},
                                         limits=httpx.Limits(max_connections=n + 5)) as c:
                r = await c.post("/api/workflow/execute", json={"session_id": "w", "task_prompt": "hi"})
                assert r.json()["result"] == "HI"
                threads_before = threading.active_count()
                tasks = [asyncio.ensure_future(c.get("/api/sessions/w/artifact-events?wait_seconds=30"))
                         for _ in range(n)]
                for _ in range(200):
                    if hub.waiting == n:
                        break
                    await asyncio.sleep(0.05)
                assert hub.waiting == n
                # no thread per waiter (request handling may have started pool threads, <= 40)
                assert threading.active_count() - threads_before <= 45
                await asyncio.to_thread(st.put, b"go", "go.txt", session_id="w")
                answers = await asyncio.gather(*tasks)
                assert all([e["path"] for e in a.json()["events"]] == ["go.txt"] for a in answers)

        asyncio.run(run())
        assert hub.waiting == 0
    finally:
        handle.stop()
        st.close()
    assert not handle.running


def test_stop_does_not_wait_for_parked_long_polls(tmp_path):
    from notebook_artifacts.server import serve_in_thread

    st = ArtifactStore(tmp_path / "s", index=False)
    handle = serve_in_thread(st, token="t")
    errors: list = []

    def park():
        try:
            httpx.get(handle.url + "/api/sessions/w/artifact-events?wait_seconds=60&token=t", timeout=90)
        except httpx.HTTPError as exc:
            errors.append(exc)

    t = threading.Thread(target=park)
    t.start()
    for _ in range(100):
        if handle.app.state.settings.hub.waiting:
            break
        time.sleep(0.05)
    start = time.monotonic()
    handle.stop()
    stopped_in = time.monotonic() - start
    t.join(30)
    st.close()
    assert not handle.running and stopped_in < 15
