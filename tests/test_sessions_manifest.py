"""Seed-001 parity: per-session attachments_manifest.json, register_file, auto-clean."""

from __future__ import annotations

import json

import pytest

from notebook_artifacts import InvalidInputError, NotFoundError
from notebook_artifacts.storage.sessions import manifest_path
from store_fixtures import BOTH_STORES, backing, blob_files, clock, store  # noqa: F401

FIELDS = {"attachment_id", "name", "mime_type", "size", "sha256", "source", "workspace_path", "storage"}

pytestmark = BOTH_STORES


def _manifest(store, sid, ns="default"):
    return json.loads(manifest_path(backing(store).root, ns, sid).read_text())


def test_manifest_tracks_puts_updates_and_deletes(store):
    a = store.put("alpha", "a.txt", session_id="s1", source="upload")
    doc = _manifest(store, "s1")
    assert doc["session_id"] == "s1" and len(doc["attachments"]) == 1
    entry = doc["attachments"][0]
    assert FIELDS <= set(entry)
    assert entry["attachment_id"] == a.attachment_id and entry["size"] == 5
    assert entry["source"] == "upload" and entry["mime_type"] == "text/plain"
    assert (backing(store).root / entry["storage"]).is_file()
    store.put("alpha2", "a.txt", session_id="s1")
    assert [e["version"] for e in _manifest(store, "s1")["attachments"]] == [1, 2]
    store.delete("a.txt", session_id="s1")
    assert _manifest(store, "s1")["attachments"] == []
    assert store.manifest("s1")["attachments"] == []
    # no temp files are left beside it
    assert [p.name for p in manifest_path(backing(store).root, "default", "s1").parent.iterdir()
            if p.name.endswith(".tmp")] == []


def test_sessions_in_namespaces_are_separate(store):
    store.put("x", "x.txt", namespace="app/u1", session_id="s1")
    store.put("y", "y.txt", namespace="app", session_id="s1")
    assert [e["name"] for e in _manifest(store, "s1", "app/u1")["attachments"]] == ["x.txt"]
    assert [e["name"] for e in _manifest(store, "s1", "app")["attachments"]] == ["y.txt"]


def test_register_file_records_workspace_path(store, tmp_path):
    ws = tmp_path / "code_workspace"
    ws.mkdir()
    f = ws / "result.json"
    f.write_text('{"ok": true}')
    a = store.register_file(f, session_id="run-7", source_tool="python_runner")
    assert a.name == "result.json" and a.source == "workspace" and a.source_tool == "python_runner"
    entry = _manifest(store, "run-7")["attachments"][0]
    assert entry["workspace_path"] == str(f.resolve()) and entry["source"] == "workspace"
    assert store.load("result.json", session_id="run-7") == {"ok": True}
    with pytest.raises(NotFoundError):
        store.register_file(ws / "missing.txt", session_id="run-7")


def test_close_session_keeps_files_by_default(store, monkeypatch):
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_AUTO_CLEAN", raising=False)
    monkeypatch.delenv("MAC_AUTO_CLEAN_ATTACHMENTS", raising=False)
    store.put("x", "x.txt", session_id="s1")
    r = store.close_session("s1")
    assert r["cleaned"] is False and store.names(session_id="s1") == ["x.txt"]
    assert _manifest(store, "s1")["closed_at"] is not None


@pytest.mark.parametrize("var", ["NOTEBOOK_ARTIFACTS_AUTO_CLEAN", "MAC_AUTO_CLEAN_ATTACHMENTS"])
def test_auto_clean_removes_session_files(store, monkeypatch, var):
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_AUTO_CLEAN", raising=False)
    monkeypatch.delenv("MAC_AUTO_CLEAN_ATTACHMENTS", raising=False)
    monkeypatch.setenv(var, "1")
    store.put(b"one", "a.bin", session_id="s1")
    store.put(b"two", "a.bin", session_id="s1")
    store.put(b"kept", "keep.bin", session_id="s1", pinned=True)
    store.put(b"other", "o.bin", session_id="s2")
    before = store.latest_cursor()
    r = store.close_session("s1")
    assert r["cleaned"] is True and r["removed_versions"] == 2
    assert store.names(session_id="s1") == ["keep.bin"]
    assert store.names(session_id="s2") == ["o.bin"]
    assert [e.type for e in store.events(after=before).events] == ["deleted", "deleted"]
    assert [e["name"] for e in _manifest(store, "s1")["attachments"]] == ["keep.bin"]
    assert len(blob_files(store)) == 2


def test_close_session_validates(store):
    with pytest.raises(InvalidInputError, match="session id"):
        store.close_session("bad id!")


def test_manifest_missed_by_a_killed_writer_is_rewritten_on_open(tmp_path):
    import subprocess
    import sys

    from notebook_artifacts import ArtifactStore

    root = tmp_path / "s"
    with ArtifactStore(root, index=False) as s:
        s.put("first", "a.txt", session_id="s1")
    # a writer that commits its put and dies before it rewrites the manifest
    code = ("import os, sys; from notebook_artifacts import ArtifactStore; "
            "import notebook_artifacts.store as m; "
            "m.ArtifactStore._write_manifest = lambda *a: os._exit(9); "
            "ArtifactStore(sys.argv[1], index=False).put('second', 'b.txt', session_id='s1')")
    subprocess.run([sys.executable, "-c", code, str(root)], check=False)
    stale = json.loads(manifest_path(root, "default", "s1").read_text())
    assert [e["name"] for e in stale["attachments"]] == ["a.txt"]
    with ArtifactStore(root, index=False) as s:
        fresh = json.loads(manifest_path(root, "default", "s1").read_text())
        assert [e["name"] for e in fresh["attachments"]] == ["a.txt", "b.txt"]
        assert s.fsck().ok


def test_shared_store_manifests_name_the_object_and_follow_other_machines(
        tmp_path, pg_url, s3_bucket, s3_client):
    """On PostgreSQL + S3 each machine keeps its own manifest copy: ``storage`` is the
    object's URL (not a path under a root where the content never is), a copy another
    machine's writes left behind is rebuilt when read, and fsck finds nothing wrong."""
    from notebook_artifacts import ArtifactStore

    blobs = f"s3://{s3_bucket}/team"
    with ArtifactStore(tmp_path / "a", index=False, catalog=pg_url, blobs=blobs) as a, \
            ArtifactStore(tmp_path / "b", index=False, catalog=pg_url, blobs=blobs) as b:
        art = a.put("alpha", "a.txt", session_id="s1", source="upload")
        entry = _manifest(a, "s1")["attachments"][0]
        assert entry["storage"] == f"{blobs}/sha256/{art.sha256[:2]}/{art.sha256}"
        s3_client.head_object(Bucket=s3_bucket, Key=entry["storage"].split("/", 3)[3])
        assert not (a.root / "blobs" / "sha256").exists()
        assert [e["artifact_id"] for e in b.manifest("s1")["attachments"]] == [art.artifact_id]
        second = a.put("beta", "b.txt", session_id="s1")
        # b's copy on disk lags behind a's write until b reads it
        assert len(_manifest(b, "s1")["attachments"]) == 1
        assert [e["artifact_id"] for e in b.manifest("s1")["attachments"]] == [
            art.artifact_id, second.artifact_id]
        assert _manifest(b, "s1") == b.manifest("s1")
        a.put("gamma", "c.txt", session_id="s1")
        assert b.fsck().ok and a.fsck().ok
