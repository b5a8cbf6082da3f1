"""Seed 001 (attachment & artifact API guide), checked line by line against a real
``notebook-artifacts serve`` process. Each test quotes the sentence of the seed it checks."""

from __future__ import annotations

import json

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
