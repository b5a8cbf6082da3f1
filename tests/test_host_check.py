"""DNS rebinding: a `serve --no-auth` server on loopback answers only its own host names."""

from __future__ import annotations

import httpx
from websockets.sync.client import connect as ws_connect

from notebook_artifacts.server._hosts import host_allowed
from remote_fixtures import ServerProcess


def test_no_auth_server_answers_only_its_own_host_names(tmp_path):
    with ServerProcess(tmp_path / "s", "--no-auth", "--allowed-host", "notebooks.internal") as srv:
        port = srv.port
        url = f"http://127.0.0.1:{port}/api/uploads/s1"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost",
                     f"notebooks.internal:{port}", "127.0.0.2"):
            r = httpx.get(url, headers={"Host": host})
            assert r.status_code == 200, (host, r.text)
        # a page on another site that rebound its name to 127.0.0.1 reads and writes nothing
        for host in (f"evil.example:{port}", "evil.example", f"notebooks.internal.evil.example:{port}",
                     "localhost.evil.example"):
            r = httpx.get(url, headers={"Host": host})
            assert r.status_code == 403 and "--allowed-host" in r.json()["detail"], host
            r = httpx.post(url, headers={"Host": host}, files={"file": ("x.txt", b"x")})
            assert r.status_code == 403
        assert httpx.get(url).json()["attachments"] == []  # nothing was stored
        upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
        r = httpx.get(f"http://127.0.0.1:{port}/ws", headers={**upgrade, "Host": "evil.example"})
        assert r.status_code == 403  # the WebSocket handshake is refused too
        r = httpx.get(f"http://127.0.0.1:{port}/ws", headers=upgrade)
        assert r.status_code == 101
        with ws_connect(f"ws://127.0.0.1:{port}/ws") as ws:
            assert '"connected"' in ws.recv(timeout=10)


def test_host_names_parse_like_browsers_send_them():
    assert host_allowed("[::1]:8765", []) and host_allowed("LOCALHOST.", [])
    assert host_allowed(None, []) and host_allowed("10.0.0.5:80", ["10.0.0.5"])
    assert not host_allowed("[::2]:80", []) and not host_allowed("10.0.0.5", [])
