"""What a small upload costs the server (issue 17): no temp file, one manifest rewrite shared by
concurrent puts into a session, long-polls that leave nothing behind, and an indexer that
yields to puts. Speed itself is measured by ``benchmarks/bench_uploads.py``."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from notebook_artifacts import ArtifactStore
from notebook_artifacts.server import create_app
from notebook_artifacts.server._uploads import SPOOL_BYTES
from notebook_artifacts.storage.sessions import manifest_path
from server_fixtures import AUTH, TOKEN, app, client, spool_files, store  # noqa: F401


def _client(store, spool):
    return TestClient(create_app(store, token=TOKEN, max_upload_bytes=4 * SPOOL_BYTES,
                                 tmp_dir=str(spool)), headers=AUTH)


@pytest.fixture
def no_spool_client(store, tmp_path):
    """A server whose spool directory does not exist: any temp file would fail the request."""
    with _client(store, tmp_path / "no-such-spool") as c:
        yield c


def test_small_uploads_need_no_temp_file_on_every_route(no_spool_client, store):
    data = os.urandom(SPOOL_BYTES)  # the largest upload kept in memory
    r = no_spool_client.post("/api/uploads/s1", files={"file": ("a.bin", data)})
    assert r.status_code == 200, r.text
    r = no_spool_client.post("/v1/store/artifacts", files={"file": ("b.bin", data)},
                             data={"options": json.dumps({"name": "b.bin"})})
    assert r.status_code == 201, r.text
    r = no_spool_client.post("/v1/store/artifacts", files={"file": ("c.txt", b"hello text")},
                             data={"options": json.dumps({"name": "c.txt", "kind": "text"})})
    assert r.status_code == 201, r.text
    r = no_spool_client.post("/v1/orgs/o/workspaces/w/namespaces/n/artifacts/upload",
                             files={"file": ("d.bin", data)})
    assert r.status_code == 200, r.text
    assert store.read_bytes(store.get("a.bin", session_id="s1").artifact_id) == data
    assert store.read_bytes(store.get("b.bin").artifact_id) == data
    assert store.read_text(store.get("c.txt").artifact_id) == "hello text"
    assert store.read_bytes(store.get("d.bin", namespace="o/w/n").artifact_id) == data


def test_a_larger_upload_is_spooled_and_its_temp_file_removed(store, tmp_path):
    (tmp_path / "spool").mkdir()
    data = os.urandom(SPOOL_BYTES + 1)  # one byte over: goes to a temp file on a worker thread
    with _client(store, tmp_path / "spool") as c:
        r = c.post("/api/uploads/s1", files={"file": ("big.bin", data)})
    assert r.status_code == 200, r.text
    assert store.read_bytes(r.json()["artifact_id"]) == data
    assert spool_files(tmp_path) == []


def test_a_manifest_is_not_rewritten_when_nothing_in_it_changed(tmp_path):
    """A writer whose change a manifest already reflects skips the rewrite: concurrent puts into
    one session share rewrites instead of queueing for one each."""
    with ArtifactStore(tmp_path / "s", index=False) as st:
        a = st.put(b"one", "a.bin", session_id="s1")
        path = manifest_path(st.root, "default", "s1")
        before = path.stat().st_ino
        st.update(a.artifact_id, tags=["reviewed"])  # not a manifest field
        assert path.stat().st_ino == before  # os.replace of a rewrite would change the inode
        st.put(b"two", "b.bin", session_id="s1")
        assert path.stat().st_ino != before
        doc = json.loads(path.read_text())
        assert [e["name"] for e in doc["attachments"]] == ["a.bin", "b.bin"]


def test_concurrent_puts_into_one_session_all_reach_its_manifest(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as st:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda i: st.put(os.urandom(64), f"f{i}.bin", session_id="s1"), range(48)))
        doc = json.loads(manifest_path(st.root, "default", "s1").read_text())
        assert sorted(e["name"] for e in doc["attachments"]) == sorted(f"f{i}.bin" for i in range(48))
        assert st.manifest("s1") == doc


def test_long_polls_leave_no_waiters_after_timing_out_or_being_woken(client, store):
    hub = client.app.state.settings.hub
    with ThreadPoolExecutor(8) as pool:
        timed = list(pool.map(
            lambda _: client.get("/api/sessions/lp/artifact-events?wait_seconds=0.3").json(), range(8)))
    assert all(p["timed_out"] and p["events"] == [] for p in timed)
    assert hub.waiting == 0
    cursor = timed[0]["next_cursor"]
    with ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(client.get, f"/api/sessions/lp/artifact-events?after={cursor}&wait_seconds=30")
                for _ in range(8)]
        deadline = time.monotonic() + 20
        while hub.waiting < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.waiting == 8
        store.put(b"wake", "w.bin", session_id="lp")
        woken = [f.result().json() for f in futs]
    assert all([e["path"] for e in p["events"]] == ["w.bin"] for p in woken)
    assert hub.waiting == 0


def test_the_admin_token_is_checked_on_the_event_loop():
    """A sync dependency would cost every request a worker-thread hop, and wait for a free
    worker while uploads fill the pool; only a scoped token's lookup needs a thread."""
    import asyncio

    from notebook_artifacts.server._auth import make_auth_dependency

    assert asyncio.iscoroutinefunction(make_auth_dependency("t"))


class _HeldStream:
    """A binary stream that blocks on its first read until released: a put in progress."""

    def __init__(self) -> None:
        self.reading = threading.Event()
        self.release = threading.Event()
        self._done = False

    def read(self, n: int = -1) -> bytes:
        self.reading.set()
        self.release.wait(30)
        if self._done:
            return b""
        self._done = True
        return b"\x00\x01slow binary"


def test_the_indexer_yields_to_a_put_in_progress(tmp_path):
    """While a put is writing, the background indexer waits (bounded) before its next step."""
    st = ArtifactStore(tmp_path / "s")  # binaries only: the model is never loaded
    try:
        gate = st._catalog.writers
        held = _HeldStream()
        t = threading.Thread(target=st.put, args=(held, "slow.bin"))
        t.start()
        assert held.reading.wait(10) and gate.active == 1
        quick = st.put(b"\x00\x02quick binary", "quick.bin")
        assert quick.status == "skipped"  # nothing to embed: no work for the indexer
        assert st.reindex("quick.bin") == 1  # queues it anyway: work that wakes the indexer
        deadline = time.monotonic() + 10
        while gate.yields == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gate.yields >= 1  # the indexer met the slow put and waited for it
        held.release.set()
        t.join(10)
        assert gate.active == 0
        assert st.wait_indexed(30, progress=False)
        assert st.get("quick.bin").status == "skipped" and st.get("slow.bin").status == "skipped"
    finally:
        st.close()
