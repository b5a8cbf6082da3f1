"""Token auth (401), upload limits (413, nothing stored, no temp file left) and traversal (4xx)."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from server_fixtures import MAX_UPLOAD, TOKEN, app, client, spool_files, store  # noqa: F401

from notebook_artifacts.server import create_app
from notebook_artifacts.server._auth import RedactingFilter

ROUTES = [
    ("get", "/api/uploads/s1"),
    ("get", "/api/sessions/s1/artifact-events?wait_seconds=0"),
    ("get", "/api/sessions/s1/download"),
    ("get", "/api/sessions/app/u/s1/artifacts"),
    ("get", "/apps/app/users/u/sessions/s1/artifacts"),
    ("get", "/v1/orgs/o/workspaces/w/namespaces/n/artifacts"),
    ("post", "/api/workflow/execute"),
]


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_route_needs_the_token(app, method, path):
    anon = TestClient(app)
    r = getattr(anon, method)(path)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in r.text
    wrong = getattr(anon, method)(path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_bearer_or_query_token_and_open_health(app):
    anon = TestClient(app)
    assert anon.get("/api/uploads/s1", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert anon.get(f"/api/uploads/s1?token={TOKEN}").status_code == 200
    assert anon.get("/health").json()["status"] == "ok"


def test_generated_token_and_no_auth(store):
    app = create_app(store)
    assert isinstance(app.state.token, str) and len(app.state.token) >= 32
    assert TestClient(app).get("/api/uploads/s1").status_code == 401
    open_app = create_app(store, auth=False)
    assert open_app.state.token is None
    assert TestClient(open_app, base_url="http://localhost").get("/api/uploads/s1").status_code == 200
    # without auth only its own host names are answered (DNS rebinding: test_host_check.py)
    assert TestClient(open_app).get("/api/uploads/s1").status_code == 403


def test_too_large_upload_is_413_and_stores_nothing(client, store, tmp_path):
    big = b"x" * (MAX_UPLOAD + 1)
    before = store.latest_cursor()
    r = client.post("/api/uploads/s1", files={"file": ("big.bin", big)})
    assert r.status_code == 413 and "nothing was stored" in r.json()["detail"]
    r = client.post("/v1/orgs/o/workspaces/w/namespaces/n/artifacts/upload", files={"file": ("big.bin", big)})
    assert r.status_code == 413
    r = client.post("/v1/orgs/o/workspaces/w/namespaces/n/artifacts", json={"name": "x", "content": "y" * (MAX_UPLOAD + 1)})
    assert r.status_code == 413
    assert store.latest_cursor() == before
    assert store.list().total == 0
    assert spool_files(tmp_path) == []
    ok = client.post("/api/uploads/s1", files={"file": ("fits.bin", b"x" * MAX_UPLOAD)})
    assert ok.status_code == 200 and ok.json()["size"] == MAX_UPLOAD


def test_declared_oversize_body_is_refused_before_reading(client, store):
    r = client.post("/api/uploads/s1", content=b"--b--\r\n",
                    headers={"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(10**12)})
    assert r.status_code == 413


def test_malformed_uploads_are_4xx(client, store, tmp_path):
    assert client.post("/api/uploads/s1", content=b"plain", headers={"Content-Type": "text/plain"}).status_code == 422
    assert client.post("/api/uploads/s1").status_code == 422
    r = client.post("/api/uploads/s1", content=b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nabc",
                    headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert 400 <= r.status_code < 500
    assert store.list().total == 0 and spool_files(tmp_path) == []


@pytest.mark.parametrize("filename", ["../../evil.txt", "/etc/evil.txt", "a/../../evil.txt", "..\\..\\evil.txt", "C:evil"])
def test_traversal_in_upload_names_is_4xx_and_writes_nothing_outside(client, store, tmp_path, filename):
    r = client.post("/api/uploads/s1", files={"file": (filename, b"evil")})
    assert 400 <= r.status_code < 500, r.text
    assert not list(tmp_path.parent.rglob("evil.txt"))
    assert store.list().total == 0


@pytest.mark.parametrize("path", [
    "/api/sessions/s1/artifacts/..%2F..%2Fcatalog.sqlite3?mode=stream",
    "/api/sessions/s1/artifacts/%2E%2E?mode=stream",
    "/api/sessions/..%2Fx/artifacts/a",
    "/api/sessions/app/u/s1/artifacts/..",
    "/apps/app/users/%2E%2E/sessions/s1/artifacts",
    "/apps/app/users/u/sessions/s1/artifacts/%2E%2E/versions",
    "/v1/orgs/o/workspaces/%2E%2E/namespaces/n/artifacts",
    "/v1/orgs/o/workspaces/w/namespaces/n/artifacts/..%2F..%2Fcatalog.sqlite3",
])
def test_traversal_in_paths_is_4xx(client, path):
    r = client.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert b"SQLite format" not in r.content


def test_redacting_filter_hides_tokens_and_signatures():
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", f"/ws?session_id=s&token={TOKEN}", "1.1", 200), None)
    RedactingFilter().filter(rec)
    assert TOKEN not in rec.getMessage() and "token=***" in rec.getMessage()
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /v1/signed/a?expires=1&sig=abcdef", None, None)
    RedactingFilter().filter(rec)
    assert "abcdef" not in rec.getMessage()
