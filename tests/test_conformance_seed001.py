"""Seed 001 (attachment & artifact API guide), checked line by line against a real
``notebook-artifacts serve`` process. Each test quotes the sentence of the seed it checks."""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest
from websockets.sync.client import connect

from process_fixtures import AUTH, TOKEN, serve_process


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("seed001")) as srv:
        yield srv


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], headers=AUTH, timeout=30) as c:
        yield c


def _upload(http, sid, name="spec.md", body=b"# spec\n", mime="text/markdown"):
    r = http.post(f"/api/uploads/{sid}", files={"file": (name, body, mime)})
    assert r.status_code == 200, r.text
    return r.json()


def test_upload_response_fields(http):
    """1.1: 'Response: { "attachment_id": "att_bxabcd", "name": "spec.md", "mime":
    "text/markdown", "size": 12345 }'"""
    out = _upload(http, "s_upload")
    assert out["attachment_id"].startswith("att_")
    assert (out["name"], out["mime"], out["size"]) == ("spec.md", "text/markdown", 7)


def test_list_attachments_metadata(http):
    """1.2: 'Returns metadata for all attachments in the session (ID, file name, mime, size, source).'"""
    up = _upload(http, "s_list")
    rows = http.get("/api/uploads/s_list").json()["attachments"]
    assert [(r["attachment_id"], r["name"], r["mime"], r["size"], r["source"]) for r in rows] == [
        (up["attachment_id"], "spec.md", "text/markdown", 7, "upload")]


def test_event_timestamp_is_an_integer(http):
    """2.1: 'Event sample: { ... "timestamp": 1732699900 }' (an integer: strictly typed
    clients such as Go int64 or zod .int() reject a float and their poll loop dies)."""
    _upload(http, "s_ts")
    page = http.get("/api/sessions/s_ts/artifact-events?wait_seconds=0").json()
    assert set(page) >= {"events", "next_cursor", "has_more", "timed_out"}
    ts = page["events"][0]["timestamp"]
    assert isinstance(ts, int) and ts > 1_700_000_000
    # the raw JSON text, as a typed client parses it: no fraction
    raw = http.get("/api/sessions/s_ts/artifact-events?wait_seconds=0").text
    assert '"timestamp":%d,' % ts in raw.replace(" ", "") or '"timestamp":%d}' % ts in raw.replace(" ", "")


def test_websocket_artifact_created_timestamp_is_an_integer(server, http):
    """2.1: 'WebSocket emits the same data via artifact_created'."""
    ws_url = server["url"].replace("http://", "ws://") + f"/ws?token={TOKEN}&session_id=s_ws_ts"
    with connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        _upload(http, "s_ws_ts")
        msg = json.loads(ws.recv(timeout=10))
    rest = http.get("/api/sessions/s_ws_ts/artifact-events?wait_seconds=0").json()["events"][0]
    assert msg["type"] == "artifact_created"
    assert isinstance(msg["timestamp"], int)
    for key in ("artifact_id", "attachment_id", "node_id", "path", "size", "mime", "hash", "timestamp"):
        assert msg[key] == rest[key], key


WORKFLOW_MODULE = '''
def summarise(ctx):
    names = ",".join(a.name for a in ctx.attachments)
    ctx.put(("prompt=%s files=%s" % (ctx.task_prompt, names)).encode(), "summary.txt")
    return {"files": len(ctx.attachments)}
'''


def _workflow_env(tmp_path_factory) -> dict:
    mods = tmp_path_factory.mktemp("wfmods")
    (mods / "seed_workflows.py").write_text(WORKFLOW_MODULE)
    return {"PYTHONPATH": os.pathsep.join([str(mods), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def wf_server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("seed001wf"), "--workflow", "seed_workflows:summarise",
                       env=_workflow_env(tmp_path_factory)) as srv:
        yield srv


@pytest.fixture
def wf_http(wf_server):
    with httpx.Client(base_url=wf_server["url"], headers=AUTH, timeout=30) as c:
        yield c


def test_workflow_execute_with_the_seed_body(wf_http):
    """1.3: '`POST /api/workflow/execute` or WebSocket `human_input` payloads can include
    `attachments: ["att_xxx"]`. You still must supply `task_prompt`' (the body names no session:
    the server creates one and says which)."""
    att = _upload(wf_http, "s_wf")["attachment_id"]
    r = wf_http.post("/api/workflow/execute", json={"task_prompt": "sum up", "attachments": [att]})
    # the attachment lives in session s_wf: a run without a session cannot see it
    assert r.status_code == 404, r.text
    r = wf_http.post("/api/workflow/execute", json={"task_prompt": "sum up", "attachments": []})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "completed" and out["workflow"] == "summarise"
    sid = out["session_id"]
    names = [a["name"] for a in wf_http.get(f"/api/uploads/{sid}").json()["attachments"]]
    assert names == ["summary.txt"]
    r = wf_http.post("/api/workflow/execute",
                     json={"session_id": "s_wf", "task_prompt": "sum up", "attachments": [att]})
    assert r.status_code == 200 and r.json()["result"] == {"files": 1}
    # task_prompt is required
    assert wf_http.post("/api/workflow/execute", json={"attachments": []}).status_code == 422


def test_websocket_human_input_runs_the_workflow(wf_server, wf_http):
    """1.3: 'WebSocket `human_input` payloads can include `attachments: ["att_xxx"]`. You still
    must supply `task_prompt`'."""
    att = _upload(wf_http, "s_hi", name="notes.txt", body=b"hello", mime="text/plain")["attachment_id"]
    url = wf_server["url"].replace("http://", "ws://") + f"/ws?token={TOKEN}&session_id=s_hi"
    with connect(url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"
        ws.send(json.dumps({"type": "human_input", "task_prompt": "go", "attachments": [att]}))
        seen = [json.loads(ws.recv(timeout=20)) for _ in range(2)]
        kinds = {m["type"]: m for m in seen}
        assert set(kinds) == {"artifact_created", "workflow_result"}, seen
        assert kinds["workflow_result"]["status"] == "completed"
        assert kinds["workflow_result"]["session_id"] == "s_hi"
        assert kinds["artifact_created"]["path"].endswith("summary.txt")
        ws.send(json.dumps({"type": "human_input", "attachments": [att]}))  # no task_prompt
        err = json.loads(ws.recv(timeout=10))
        assert err["type"] == "error" and "task_prompt" in err["message"]
    text = wf_http.get(f"/api/sessions/s_hi/artifacts/summary.txt?mode=stream").text
    assert text == "prompt=go files=notes.txt"


def test_serve_rejects_a_bad_workflow_spec(tmp_path):
    """`serve --workflow` that cannot be loaded stops with a message saying what to fix."""
    import subprocess
    from process_fixtures import cli
    r = subprocess.run(cli() + ["serve", "--root", str(tmp_path), "--port", "0", "--no-index",
                                "--workflow", "no_such_module_xyz:run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot import 'no_such_module_xyz'" in r.stderr


@pytest.fixture(scope="module")
def clean_server(tmp_path_factory):
    env = {**_workflow_env(tmp_path_factory), "MAC_AUTO_CLEAN_ATTACHMENTS": "1"}
    with serve_process(tmp_path_factory.mktemp("seed001clean"), "--workflow", "seed_workflows:summarise",
                       "--session-idle-seconds", "2", env=env) as srv:
        with httpx.Client(base_url=srv["url"], headers=AUTH, timeout=30) as c:
            yield c


def _names(http, sid):
    return sorted(a["name"] for a in http.get(f"/api/uploads/{sid}").json()["attachments"])


def test_auto_clean_when_the_workflow_finishes(clean_server):
    """3.3: 'Set `MAC_AUTO_CLEAN_ATTACHMENTS=1` to delete the `attachments/` directory after the
    session completes.' (the run's outputs stay: 'we retain all attachments for post-run downloads')"""
    att = _upload(clean_server, "s_auto")["attachment_id"]
    r = clean_server.post("/api/workflow/execute",
                          json={"session_id": "s_auto", "task_prompt": "go", "attachments": [att]})
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert _names(clean_server, "s_auto") == ["summary.txt"]
    assert clean_server.get(f"/api/sessions/s_auto/artifacts/{att}").status_code == 404


def test_auto_clean_after_the_idle_timeout(clean_server):
    """3.3: '... delete the `attachments/` directory after the session completes.' A session
    nobody touches for --session-idle-seconds is complete."""
    _upload(clean_server, "s_idle")
    assert _names(clean_server, "s_idle") == ["spec.md"]
    deadline = time.monotonic() + 15
    while _names(clean_server, "s_idle") and time.monotonic() < deadline:
        time.sleep(0.25)
    assert _names(clean_server, "s_idle") == []
    # the session is usable again afterwards: a new upload is kept until it idles in turn
    _upload(clean_server, "s_idle", name="again.md")
    assert _names(clean_server, "s_idle") == ["again.md"]


def test_session_zip_is_the_workspace_directory(wf_http):
    """2.3: 'Packages `WareHouse/<session>/` into a zip for batch download.' with 1.1: 'Files land
    in `WareHouse/<session>/code_workspace/attachments/` and are recorded in
    `attachments_manifest.json`.'"""
    import io
    import zipfile
    att = _upload(wf_http, "s_zip", name="data.csv", body=b"a,b\n1,2\n", mime="text/csv")["attachment_id"]
    assert wf_http.post("/api/workflow/execute", json={"session_id": "s_zip", "task_prompt": "zip",
                                                      "attachments": [att]}).json()["status"] == "completed"
    r = wf_http.get("/api/sessions/s_zip/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(zf.namelist())
    assert {"code_workspace/attachments/data.csv", "code_workspace/attachments/attachments_manifest.json",
            "code_workspace/summary.txt"} <= names, names
    assert zf.read("code_workspace/attachments/data.csv") == b"a,b\n1,2\n"
    manifest = json.loads(zf.read("code_workspace/attachments/attachments_manifest.json"))
    entry = [e for e in manifest["attachments"] if e["attachment_id"] == att][0]
    # 3.1: 'the manifest records `source`, `workspace_path`, `storage`, etc.'
    assert entry["source"] == "upload" and entry["storage"]
    assert entry["workspace_path"] == "code_workspace/attachments/data.csv"


def test_upload_event_names_the_uploader_and_the_workspace_path(http):
    """2.1 event sample: '"node_id": "python_runner", "path": "code_workspace/result.json"' (an
    upload is produced by the uploader and lies under code_workspace/attachments/)."""
    up = _upload(http, "s_node", name="report.pdf", body=b"%PDF-1.4\n", mime="application/pdf")
    ev = http.get("/api/sessions/s_node/artifact-events?wait_seconds=0").json()["events"][0]
    assert ev["attachment_id"] == up["attachment_id"]
    assert ev["node_id"] == "upload"
    assert ev["path"] == "code_workspace/attachments/report.pdf" == up["path"]
    meta = http.get(f"/api/sessions/s_node/artifacts/{up['attachment_id']}").json()
    assert meta["path"] == ev["path"]


def test_upload_and_meta_carry_mime_type_and_sha256(http):
    """1.1 'mime' and 2.1 'hash', plus the 'mime_type' and 'sha256' names another
    implementation of this API uses, so clients of either work."""
    up = _upload(http, "s_names")
    assert up["mime_type"] == up["mime"] == "text/markdown"
    assert up["hash"] == "sha256:" + up["sha256"] and len(up["sha256"]) == 64
    meta = http.get(f"/api/sessions/s_names/artifacts/{up['attachment_id']}?mode=meta").json()
    assert meta["mime_type"] == meta["mime"] and meta["hash"] == "sha256:" + meta["sha256"] == up["hash"]


def test_include_mime_wildcard_and_malformed_filters(http):
    """2.1: 'Query params: `after`, `wait_seconds`, `include_mime`, ...' and 4: 'filter via
    `include_mime` as needed' (the usual MIME wildcard form `image/*` matches images; a filter
    that is not a MIME type is an error, never a silently empty page)."""
    _upload(http, "s_mime", name="pic.png", body=b"\x89PNG\r\n\x1a\n0000", mime="image/png")
    _upload(http, "s_mime", name="notes.txt", body=b"hi", mime="text/plain")
    base = "/api/sessions/s_mime/artifact-events?wait_seconds=0"
    for flt in ("image/*", "image/", "image/png", "IMAGE/*"):
        names = [e["path"].rsplit("/", 1)[-1] for e in http.get(f"{base}&include_mime={flt}").json()["events"]]
        assert names == ["pic.png"], flt
    assert len(http.get(f"{base}&include_mime=*/*").json()["events"]) == 2
    for bad in ("image", "image/png;q=1", "not a type", "/png"):
        r = http.get(f"{base}&include_mime={bad}")
        assert r.status_code == 422, (bad, r.text)
        assert bad in r.json()["detail"][0]["msg"]
    assert http.get(f"{base}&include_ext=.png").json()["events"][0]["path"].endswith("pic.png")
    assert http.get(f"{base}&include_ext=../png").status_code == 422


def test_misspelt_session_id_is_404(http):
    """5 FAQ: 'Download link 404 | Check `session_id` spelling (allowed chars: letters/digits/`_-`)'"""
    for url in ("/api/sessions/bad%20id/download", "/api/sessions/bad.id/artifacts/x",
                "/api/uploads/bad%21id", "/api/sessions/b%C3%A4d/artifact-events?wait_seconds=0"):
        r = http.get(url)
        assert r.status_code == 404, (url, r.status_code, r.text)
        assert "letters, digits" in r.json()["detail"]
    # other bad parameters stay 422 with the field named
    r = http.get("/api/sessions/s1/artifact-events?wait_seconds=-1")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "wait_seconds"]
