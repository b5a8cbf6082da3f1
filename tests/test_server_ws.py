"""WebSocket /ws: live events (artifact_created + native types), session filter, replay, auth,
and writes made by another process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from server_fixtures import TOKEN, app, client, store  # noqa: F401
from starlette.websockets import WebSocketDisconnect


def test_pushes_artifact_created_and_other_types(client, store):
    with client.websocket_connect(f"/ws?token={TOKEN}&session_id=s1") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "connected"
        store.put(b"a", "a.txt", session_id="s2")  # filtered out: another session
        a = store.put(b"one", "a.txt", session_id="s1")
        msg = ws.receive_json()
        assert msg["type"] == "artifact_created" and msg["event_type"] == "created"
        assert msg["artifact_id"] == a.artifact_id and msg["attachment_id"] == a.attachment_id
        assert msg["path"] == "a.txt" and msg["session_id"] == "s1" and msg["hash"] == f"sha256:{a.sha256}"
        store.put(b"two", "a.txt", session_id="s1")
        msg = ws.receive_json()
        assert msg["type"] == "artifact_created" and msg["event_type"] == "version_created" and msg["version"] == 2
        store.update("a.txt", session_id="s1", add_tags=["x"])
        assert ws.receive_json()["type"] == "artifact_updated"
        store.delete("a.txt", session_id="s1")
        deleted = [ws.receive_json(), ws.receive_json()]
        assert {m["type"] for m in deleted} == {"artifact_deleted"}
        ws.send_text("ping")
        assert ws.receive_json()["type"] == "pong"


def test_replay_from_a_cursor(client, store):
    store.put(b"1", "one.txt", session_id="s1")
    store.put(b"2", "two.txt", session_id="s1")
    with client.websocket_connect("/ws?session_id=s1&after=0", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        first, second, hello = ws.receive_json(), ws.receive_json(), ws.receive_json()
        assert [first["path"], second["path"]] == ["one.txt", "two.txt"]
        assert hello["type"] == "connected" and hello["cursor"] >= second["cursor"]


def test_write_from_another_process_is_pushed(client, store):
    code = (
        "import sys\n"
        "from notebook_artifacts import ArtifactStore\n"
        "s = ArtifactStore(sys.argv[1], index=False)\n"
        "s.put(b'from afar', 'remote.txt', session_id='s1')\n"
        "s.close()\n"
    )
    with client.websocket_connect(f"/ws?token={TOKEN}&session_id=s1") as ws:
        ws.receive_json()
        subprocess.run([sys.executable, "-c", code, str(store.root)], check=True, timeout=60)
        msg = ws.receive_json()
        assert msg["type"] == "artifact_created" and msg["path"] == "remote.txt"


def test_refuses_without_token_or_with_bad_filters(app):
    anon = TestClient(app)  # no Authorization header
    for url in ("/ws", "/ws?token=wrong", f"/ws?token={TOKEN}&session_id=bad%20id", f"/ws?token={TOKEN}&after=-1"):
        with pytest.raises(WebSocketDisconnect) as exc:
            with anon.websocket_connect(url) as ws:
                ws.receive_json()
        assert exc.value.code == 1008
