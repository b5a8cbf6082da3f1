"""Server errors from one table: a full disk is 507 with nothing stored (a real tmpfs, mounted
in a private mount namespace for the real server process), the error tree maps to statuses,
and the WebSocket checks the token with the HTTP helper."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import httpx
import pytest
from websockets.exceptions import InvalidStatus, ConnectionClosed
from websockets.sync.client import connect

from notebook_artifacts.errors import (
    ArtifactError, IndexUnavailableError, IntegrityError, InvalidInputError, NotFoundError, StorageFullError,
)
from notebook_artifacts.http_errors import status_and_code
from process_fixtures import AUTH, TOKEN, serve_process

MOUNT = 'mount -t tmpfs -o size=3m tmpfs "$0" && exec "$@"'


def _can_mount_tmpfs(tmp_path) -> bool:
    if not shutil.which("unshare"):
        return False
    d = tmp_path / "probe"
    d.mkdir()
    r = subprocess.run(["unshare", "-rm", "sh", "-c", MOUNT, str(d), "true"], capture_output=True, timeout=30)
    return r.returncode == 0


@pytest.fixture
def full_disk_server(tmp_path):
    if not _can_mount_tmpfs(tmp_path):
        pytest.skip("needs unshare and a tmpfs mount in a user namespace")
    root = tmp_path / "small-disk"
    root.mkdir()
    with serve_process(root, "--max-upload-bytes", str(16 << 20),
                       launcher=["unshare", "-rm", "sh", "-c", MOUNT, str(root)]) as srv:
        with httpx.Client(base_url=srv["url"], headers=AUTH, timeout=60) as c:
            yield c


def test_full_disk_is_507_and_nothing_is_lost(full_disk_server):
    http = full_disk_server
    assert http.post("/api/uploads/s1", files={"file": ("keep.txt", b"kept", "text/plain")}).status_code == 200
    # 2 MiB would leave less than the store's 1 MiB reserve; 8 MiB cannot even be staged (bare ENOSPC)
    for size in (2 << 20, 8 << 20):
        r = http.post("/api/uploads/s1", files={"file": ("big.bin", os.urandom(size), "application/octet-stream")})
        assert r.status_code == 507, (size, r.status_code, r.text[:300])
        assert "nothing was stored" in r.json()["detail"] and "space" in r.json()["detail"]
        r = http.post("/v1/orgs/o/workspaces/w/namespaces/n/artifacts/upload",
                      files={"file": ("big.bin", os.urandom(size), "application/octet-stream")}, data={"name": "big.bin"})
        assert r.status_code == 507, (size, r.status_code, r.text[:300])
    names = [a["name"] for a in http.get("/api/uploads/s1").json()["attachments"]]
    assert names == ["keep.txt"]
    # the failed writes left no temp file behind: a small upload still fits
    assert http.post("/api/uploads/s1", files={"file": ("after.txt", b"ok", "text/plain")}).status_code == 200
    assert http.get("/api/sessions/s1/artifacts/after.txt?mode=stream").text == "ok"


@pytest.mark.parametrize("exc, status", [
    (InvalidInputError("x"), 400), (NotFoundError("x"), 404), (IntegrityError("x"), 500),
    (IndexUnavailableError("x"), 503), (StorageFullError("x"), 507), (ArtifactError("x"), 500),
    (OSError(28, "No space left on device"), 507), (OSError(13, "Permission denied"), 500),
])
def test_one_status_table(exc, status):
    assert status_and_code(exc)[0] == status


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("errs")) as srv:
        yield srv


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}"])
def test_websocket_accepts_the_header_forms_http_accepts(server, header):
    url = server["url"].replace("http://", "ws://") + "/ws"
    assert httpx.get(server["url"] + "/api/uploads/s1", headers={"Authorization": header}).status_code == 200
    with connect(url, additional_headers={"Authorization": header}, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connected"


@pytest.mark.parametrize("header", ["Bearer wrong", f"Basic {TOKEN}", TOKEN, ""])
def test_websocket_refuses_what_http_refuses(server, header):
    url = server["url"].replace("http://", "ws://") + "/ws"
    assert httpx.get(server["url"] + "/api/uploads/s1", headers={"Authorization": header}).status_code == 401
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        with connect(url, additional_headers={"Authorization": header} if header else {}, open_timeout=10) as ws:
            ws.recv(timeout=10)
