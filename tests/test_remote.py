"""RemoteStore against a real `notebook-artifacts serve` process: the same API and errors,
bad tokens, a server that is gone or restarts mid-stream, and large files streamed both ways
with flat client memory. (The whole public-API suite also runs over HTTP: store_fixtures.py.)"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from notebook_artifacts import (
    AccessDeniedError,
    AdminOnlyError,
    ArtifactStore,
    ConnectionLostError,
    IndexUnavailableError,
    InvalidInputError,
    NotFoundError,
    RemoteStore,
    Store,
    connect,
)
from remote_fixtures import ServerProcess

TOKEN = "remote-test-token-5b8e"


@pytest.fixture
def server(tmp_path):
    with ServerProcess(tmp_path / "served", "--token", TOKEN) as srv:
        yield srv


def test_both_stores_satisfy_the_protocol_with_identical_signatures(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as local:
        assert isinstance(local, Store)
        # where it is, for the faces: a folder here, or a server's URL with no folder here
        assert (local.root, local.location) == ((tmp_path / "s").resolve(), str((tmp_path / "s").resolve()))
    remote = RemoteStore("http://127.0.0.1:9/", "t")
    assert isinstance(remote, Store)
    assert (remote.root, remote.location) == (None, "http://127.0.0.1:9")
    remote.close()
    members = [n for n, v in vars(Store).items() if callable(v) and not n.startswith("_")]
    assert len(members) >= 25
    for name in members:
        want = inspect.signature(getattr(ArtifactStore, name)).parameters
        got = inspect.signature(getattr(RemoteStore, name)).parameters
        assert [(p.name, p.kind, p.default) for p in got.values()] == \
            [(p.name, p.kind, p.default) for p in want.values()], name


def test_bad_or_missing_token_is_refused_with_the_servers_message(server, monkeypatch):
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_TOKEN", raising=False)
    with pytest.raises(AccessDeniedError, match="missing or invalid token"):
        connect(server.url, "not-the-token")
    with pytest.raises(AccessDeniedError, match="Authorization: Bearer"):
        connect(server.url)
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_TOKEN", TOKEN)
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_URL", server.url)
    with connect() as s:  # URL and token from the environment
        assert s.put("hi", "a.txt").version == 1
    with pytest.raises(InvalidInputError, match="http://host:port"):
        connect("ftp://example.org")


def test_errors_arrive_as_the_same_classes(server):
    with connect(server.url, TOKEN) as s:
        with pytest.raises(NotFoundError, match="no artifact 'nope.txt' in namespace 'default'"):
            s.get("nope.txt")
        with pytest.raises(InvalidInputError, match="from 1 to 200"):
            s.list(limit=0)
        with pytest.raises(IndexUnavailableError, match="index=False"):  # served with --no-index
            s.query("anything")
        assert s.wait_indexed(1) is True


def test_server_gone_is_a_clear_error_soon(server):
    s = connect(server.url, TOKEN)
    s.put("x", "x.txt")
    server.kill()
    t0 = time.monotonic()
    with pytest.raises(ConnectionLostError, match="cannot reach the notebook-artifacts server"):
        s.list()
    assert time.monotonic() - t0 < 10
    with pytest.raises(ConnectionLostError, match="is `notebook-artifacts serve` running"):
        connect(server.url, TOKEN)
    s.close()


def test_reads_retry_across_a_restart_and_streams_resume(server, tmp_path):
    src = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as f:
        for i in range(48):
            f.write(i.to_bytes(8, "big") + block[8:])
    want = hashlib.sha256(src.read_bytes()).hexdigest()
    s = connect(server.url, TOKEN)
    a = s.put(src)
    assert a.sha256 == want
    h = hashlib.sha256()
    with s.open("big.bin") as f:
        h.update(f.read(4 << 20))
        server.kill()            # the connection drops mid-stream ...
        server.start()           # ... and the server comes back on the same port
        while chunk := f.read(1 << 20):
            h.update(chunk)
    assert h.hexdigest() == want  # resumed with Range from where it was cut
    assert [x.name for x in s.list()] == ["big.bin"]  # a safe call after the restart
    s.close()


class _KillsServerMidway:
    """A file object whose reading kills the server halfway through the upload."""

    def __init__(self, server: ServerProcess, size: int) -> None:
        self.server, self.size, self.sent = server, size, 0

    def read(self, n: int = -1) -> bytes:
        if self.sent >= self.size:
            return b""
        if self.sent >= self.size // 2 and self.server.proc.poll() is None:
            self.server.kill()
        n = min(self.size - self.sent, 1 << 16 if n < 0 else n)
        self.sent += n
        return b"z" * n


def test_a_put_cut_midway_says_it_may_not_have_happened(server):
    s = connect(server.url, TOKEN)
    with pytest.raises(ConnectionLostError, match="may or may not have taken effect"):
        s.put(_KillsServerMidway(server, 64 << 20), "cut.bin")
    server.start()
    with pytest.raises(NotFoundError):  # nothing half-stored
        s.get("cut.bin")
    s.close()


def test_subscribe_rides_out_a_restart(server):
    s = connect(server.url, TOKEN)
    seen: list = []
    got = threading.Event()

    def cb(events):
        seen.extend(e.name for e in events)
        if "after.txt" in seen:
            got.set()

    unsubscribe = s.subscribe(cb)
    s.put("1", "before.txt")
    server.kill()
    server.start()
    with connect(server.url, TOKEN) as other:
        other.put("2", "after.txt")
    assert got.wait(30), seen
    assert seen == ["before.txt", "after.txt"]
    unsubscribe()
    s.close()


CLIENT = r"""
import hashlib, json, resource, sys
from pathlib import Path
from notebook_artifacts import connect
url, token, path = sys.argv[1:4]
s = connect(url, token)
s.put(b"warm-up", "warm.bin")          # imports and the first connection are in the baseline
with s.open("warm.bin") as f:
    f.read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
a = s.put(Path(path), "huge.bin")
after_put = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
h = hashlib.sha256()
with s.open("huge.bin") as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
after_get = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "put_kib": after_put, "get_kib": after_get,
                  "size": a.size_bytes, "sha_put": a.sha256, "sha_get": h.hexdigest()}))
"""


@pytest.mark.slow
def test_a_large_put_and_get_stream_with_flat_client_memory(tmp_path):
    """512 MiB (NA_REMOTE_BIG_MIB) up and back down; the client's peak RSS must not grow with it."""
    mib = int(os.environ.get("NA_REMOTE_BIG_MIB", "512"))
    src = tmp_path / "huge.bin"
    block = os.urandom(1 << 20)
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(mib):
            chunk = i.to_bytes(8, "big") + block[8:]
            h.update(chunk)
            f.write(chunk)
    with ServerProcess(tmp_path / "served", "--token", TOKEN,
                       "--max-upload-bytes", str((mib + 1) << 20)) as srv:
        out = subprocess.run([sys.executable, "-c", CLIENT, srv.url, TOKEN, str(src)],
                             capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    assert r["size"] == mib << 20 and r["sha_put"] == r["sha_get"] == h.hexdigest()
    grew_put = (r["put_kib"] - r["base_kib"]) / 1024
    grew_get = (r["get_kib"] - r["base_kib"]) / 1024
    print(f"client peak RSS: base {r['base_kib'] / 1024:.0f} MiB, +{grew_put:.1f} MiB after a "
          f"{mib} MiB put, +{grew_get:.1f} MiB after reading it back")
    assert grew_put < 48 and grew_get < 48, r


def test_every_store_command_takes_url_and_token(server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from notebook_artifacts.cli import cli

    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_URL", raising=False)
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_TOKEN", raising=False)
    run = CliRunner().invoke
    src = tmp_path / "notes.md"
    src.write_text("# Notes\nserved\n")
    r = run(cli, ["put", str(src), "--url", server.url, "--token", TOKEN, "-t", "cli"])
    assert r.exit_code == 0, r.output
    r = run(cli, ["--url", server.url, "--token", TOKEN, "ls", "--json"])
    assert r.exit_code == 0 and [a["name"] for a in json.loads(r.output)["artifacts"]] == ["notes.md"]
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_URL", server.url)
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_TOKEN", TOKEN)
    out = tmp_path / "back.md"
    r = run(cli, ["get", "notes.md", "-o", str(out)])
    assert r.exit_code == 0 and out.read_text() == "# Notes\nserved\n"
    with ArtifactStore(server.root, index=False) as direct:  # it landed in the served root
        assert direct.get("notes.md").tags == ["cli"]
    r = run(cli, ["gc", "--json"])  # maintenance runs on the server, through its admin token
    assert r.exit_code == 0 and json.loads(r.output)["expired_versions"] == 0, r.output
    r = run(cli, ["fsck", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["ok"] is True, r.output
    r = run(cli, ["ls", "--token", "wrong"])
    assert r.exit_code == 1 and "missing or invalid token" in r.output
    # every command that opens a store offers --url and --token
    for name, cmd in cli.commands.items():
        params = {p.name for p in cmd.params}
        # these run on a directory; serve and mcp have a --token of their own (their HTTP auth)
        if name not in ("serve", "mcp", "bench", "demo", "token", "migrate"):
            assert {"url", "token", "catalog", "blobs"} <= params, name


def test_connect_magic_switches_the_kernels_store_and_back(server, tmp_path, monkeypatch):
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from notebook_artifacts.notebook.extension import current_magics

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_HOME", str(tmp_path / "local"))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "notebook_artifacts")
    try:
        magics = current_magics()
        magics.namespace, magics.session = "default", None
        remote = ip.run_line_magic("artifact", f"connect {server.url} --token {TOKEN}")
        assert isinstance(remote, RemoteStore) and magics.store is remote
        (tmp_path / "table.csv").write_text("a,b\n1,2\n")
        ip.run_line_magic("artifact", "put table.csv --tags served")
        frame = ip.run_line_magic("artifact", "ls")
        assert list(frame["name"]) == ["table.csv"]
        assert ip.run_line_magic("artifact", "get table.csv").to_dict("list") == {"a": [1], "b": [2]}
        with ArtifactStore(server.root, index=False) as direct:
            assert direct.get("table.csv").tags == ["served"]
        with pytest.raises(UsageError, match="missing or invalid token"):
            ip.run_line_magic("artifact", f"connect {server.url} --token wrong")
        assert magics.store is remote  # a refused connect keeps the store in use
        local = ip.run_line_magic("artifact", "connect --local")
        assert isinstance(local, ArtifactStore) and local.list().total == 0
    finally:
        ip.run_line_magic("unload_ext", "notebook_artifacts")


def test_token_commands_scope_a_remote_client(server, monkeypatch):
    from click.testing import CliRunner

    from notebook_artifacts import ReadOnlyError
    from notebook_artifacts.cli import cli

    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_URL", raising=False)
    run = CliRunner().invoke
    root = ["--root", str(server.root)]
    with connect(server.url, TOKEN) as admin:
        admin.put("ours", "a.txt", namespace="team/a")
        admin.put("theirs", "b.txt", namespace="team/b")
    r = run(cli, root + ["token", "create", "--namespace", "team/a", "--expires", "1h", "--json"])
    assert r.exit_code == 0, r.output
    made = json.loads(r.output)
    rw = made["token"]
    ro = json.loads(run(cli, root + ["token", "create", "-n", "team/a", "--read-only", "--json"]).output)["token"]
    listed = json.loads(run(cli, root + ["token", "list", "--json"]).output)
    assert {t["token_id"] for t in listed} >= {made["token_id"]} and rw not in json.dumps(listed)
    with connect(server.url, rw) as s:
        assert [a.name for a in s.list()] == ["a.txt"]
        with pytest.raises(NotFoundError):
            s.get("b.txt", namespace="team/b")
        with pytest.raises(NotFoundError):
            s.put("x", "b.txt", namespace="team/b")
        assert s.put("more", "a.txt", namespace="team/a").version == 2
        with connect(server.url, ro) as r_only:
            assert r_only.read_text("a.txt", namespace="team/a") == "more"
            with pytest.raises(ReadOnlyError, match="read-only"):
                r_only.delete("a.txt", namespace="team/a")
        with pytest.raises(AdminOnlyError, match="admin token"):
            s.gc()
        assert run(cli, root + ["token", "revoke", made["token_id"]]).exit_code == 0
        with pytest.raises(AccessDeniedError, match="invalid token"):
            s.list()  # refused on the very next request
