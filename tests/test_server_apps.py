"""Seed 002 over HTTP: the controller routes (/api/sessions/APP/USER/SESSION/artifacts) and the
web-server routes (/apps/APP/users/USER/sessions/SESSION/artifacts), over one store."""

from __future__ import annotations

import base64

from server_fixtures import MAX_UPLOAD, app, client, store  # noqa: F401

GO = "/api/sessions/myapp/u1/s9/artifacts"
WEB = "/apps/myapp/users/u1/sessions/s9/artifacts"


def save(client, filename, data: bytes, mime="text/plain", meta=None, base=WEB):
    body = {"filename": filename, "artifact": {"inline_data": {"mime_type": mime,
                                                               "data": base64.b64encode(data).decode()}}}
    if meta is not None:
        body["custom_metadata"] = meta
    r = client.post(base, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_python_put_is_listed_and_loaded_by_the_controller_routes(client, store):
    store.put(b"v1", "out.json", namespace="myapp/u1", session_id="s9", mime_type="application/json")
    store.put(b"version two", "out.json", namespace="myapp/u1", session_id="s9", mime_type="application/json")
    store.put(b"other session", "x.txt", namespace="myapp/u1", session_id="s8")
    assert client.get(GO).json() == ["out.json"]
    latest = client.get(f"{GO}/out.json").json()
    assert latest["version"] == 2 and base64.b64decode(latest["data"]) == b"version two"
    assert latest["size"] == 11 and latest["mime_type"] == "application/json"
    v1 = client.get(f"{GO}/out.json?version=1").json()
    assert base64.b64decode(v1["data"]) == b"v1" and v1["version"] == 1
    assert base64.b64decode(client.get(f"{GO}/out.json/versions/1").json()["data"]) == b"v1"


def test_controller_missing_things_and_bad_versions_are_400(client, store):
    """Seed 002: '400 Bad Request for missing or invalid inputs' (docs/seed-differences.md)."""
    assert client.get(GO).json() == []
    assert client.get(f"{GO}/nope.txt").status_code == 400
    store.put(b"a", "a.txt", namespace="myapp/u1", session_id="s9")
    assert client.get(f"{GO}/a.txt/versions/7").status_code == 400
    assert client.get(f"{GO}/a.txt/versions/zero").status_code == 400
    assert client.get(f"{GO}/a.txt?version=0").json()["version"] == 1  # Go's unset value: latest
    assert client.delete(f"{GO}/nope.txt").status_code == 400
    assert store.get("a.txt", namespace="myapp/u1", session_id="s9").version == 1  # nothing lost


def test_controller_delete_removes_every_version(client, store):
    store.put(b"1", "log.txt", namespace="myapp/u1", session_id="s9")
    store.put(b"2", "log.txt", namespace="myapp/u1", session_id="s9")
    r = client.delete(f"{GO}/log.txt")
    assert r.status_code == 200 and r.json() is None
    assert client.get(GO).json() == []
    assert store.names("myapp/u1", "s9") == []


def test_web_save_load_versions_and_metadata(client, store):
    first = save(client, "chart.png", b"\x89PNG first", "image/png", meta={"step": 1})
    assert first["version"] == 1 and first["custom_metadata"] == {"step": 1}
    assert first["canonical_uri"].endswith("/sessions/s9/artifacts/chart.png/versions/1")
    second = save(client, "chart.png", b"\x89PNG second", "image/png")
    assert second["version"] == 2
    assert client.get(WEB).json() == ["chart.png"]
    part = client.get(f"{WEB}/chart.png").json()
    assert part["inline_data"]["mime_type"] == "image/png"
    assert base64.b64decode(part["inline_data"]["data"]) == b"\x89PNG second"
    old = client.get(f"{WEB}/chart.png?version=1").json()
    assert base64.b64decode(old["inline_data"]["data"]) == b"\x89PNG first"
    assert base64.b64decode(client.get(f"{WEB}/chart.png/versions/1").json()["inline_data"]["data"]) == b"\x89PNG first"
    assert client.get(f"{WEB}/chart.png/versions").json() == [1, 2]
    metas = client.get(f"{WEB}/chart.png/versions/metadata").json()
    assert [m["version"] for m in metas] == [1, 2] and metas[0]["custom_metadata"] == {"step": 1}
    assert client.get(f"{WEB}/chart.png/versions/2/metadata").json()["mime_type"] == "image/png"
    # the same artifact through Python and through the controller family
    assert store.read_bytes("chart.png", namespace="myapp/u1", session_id="s9") == b"\x89PNG second"
    assert client.get(GO).json() == ["chart.png"]


def test_web_save_accepts_camel_case_and_text_parts(client, store):
    r = client.post(WEB, json={"filename": "camel.bin",
                               "artifact": {"inlineData": {"mimeType": "application/x-thing",
                                                           "data": base64.urlsafe_b64encode(b"\xfb\xff").decode()}},
                               "customMetadata": {"k": "v"}})
    assert r.status_code == 200, r.text
    assert store.read_bytes("camel.bin", namespace="myapp/u1", session_id="s9") == b"\xfb\xff"
    r = client.post(WEB, json={"filename": "note.txt", "artifact": {"text": "hello"}})
    assert r.status_code == 200 and r.json()["mime_type"] == "text/plain"
    assert store.read_text("note.txt", namespace="myapp/u1", session_id="s9") == "hello"


def test_web_save_rejects_bad_input_without_storing(client, store):
    bad64 = client.post(WEB, json={"filename": "x", "artifact": {"inline_data": {"mime_type": "a/b", "data": "@@@"}}})
    assert bad64.status_code == 422
    d = bad64.json()["detail"][0]
    assert set(d) == {"loc", "msg", "type", "input", "ctx"}
    empty = client.post(WEB, json={"filename": "x", "artifact": {}})
    assert empty.status_code == 422
    traversal = save_status(client, "../../etc/passwd")
    assert 400 <= traversal < 500
    too_big = client.post(WEB, json={"filename": "big", "artifact": {"inline_data": {
        "mime_type": "a/b", "data": base64.b64encode(b"x" * (MAX_UPLOAD + 10)).decode()}}})
    assert too_big.status_code == 413
    assert client.get(WEB).json() == []
    assert store.list(namespace="myapp/u1").total == 0


def save_status(client, filename):
    return client.post(WEB, json={"filename": filename, "artifact": {"text": "x"}}).status_code


def test_user_scoped_names_are_shared_across_sessions(client, store):
    save(client, "user:profile.json", b"{}", "application/json")
    a = store.get("user:profile.json", namespace="myapp/u1")
    assert a.session_id is None
    assert "user:profile.json" in client.get(WEB).json()
    other = "/apps/myapp/users/u1/sessions/s10/artifacts"
    assert client.get(other).json() == ["user:profile.json"]
    assert client.get(f"{other}/user:profile.json").status_code == 200
    assert client.get("/apps/myapp/users/u2/sessions/s9/artifacts").json() == []
    assert client.delete(f"{other}/user:profile.json").status_code == 200
    assert client.get(WEB).json() == []


def test_web_missing_is_404(client):
    assert client.get(f"{WEB}/ghost.txt").status_code == 404
    assert client.get(f"{WEB}/ghost.txt/versions").status_code == 404
    assert client.get(f"{WEB}/ghost.txt/versions/metadata").status_code == 404
    assert client.get(f"{WEB}/ghost.txt/versions/3/metadata").status_code == 404
    assert client.delete(f"{WEB}/ghost.txt").status_code == 404
    assert client.get("/apps/my%20app/users/u1/sessions/s9/artifacts").status_code == 422
