"""gc() and fsck(): orphans, temp files, missing and corrupt content, repair."""

from __future__ import annotations

import os
import time
from pathlib import Path

from notebook_artifacts import ArtifactStore, IntegrityError, InvalidInputError
from store_fixtures import (blob_files, clock, delete_raw_blob, raw_blob_exists,  # noqa: F401
                            store, write_raw_blob)

import pytest


pytestmark = pytest.mark.blob_backends  # every store test on local and on S3 blobs


def _old(path):
    t = time.time() - 7200
    os.utime(path, (t, t))


def test_clean_store_is_ok(store):
    store.put("a", "a.txt", session_id="s1")
    store.put(b"b", "b.bin")
    r = store.fsck()
    assert r.ok and r.problems == [] and r.checked_versions == 2 and r.checked_blobs == 2


def test_orphan_blob_and_temp_file_are_found_and_repaired(store):
    store.put("keep", "k.txt")
    orphan = "ab" + "0" * 62
    write_raw_blob(store, orphan, b"nobody uses me")
    tmp = store._blobs.tmp / "dead.tmp"
    tmp.write_bytes(b"half written")
    _old(tmp)
    r = store.fsck()
    assert not r.ok and {p.kind for p in r.problems} == {"orphan_blob", "temp_file"}
    fixed = store.fsck(repair=True)
    assert fixed.ok and all(p.repaired for p in fixed.problems)
    assert not raw_blob_exists(store, orphan) and not tmp.exists()
    assert store.fsck().problems == [] and store.read_text("k.txt") == "keep"


def test_missing_and_corrupt_blobs_are_reported_not_hidden(store):
    a = store.put(b"will vanish", "gone.bin")
    b = store.put(b"will rot", "rot.bin")
    delete_raw_blob(store, a.sha256)
    write_raw_blob(store, b.sha256, b"changed!")
    r = store.fsck(repair=True)
    kinds = {(x.kind, x.artifact_id, x.repaired) for x in r.problems}
    assert ("missing_blob", a.artifact_id, False) in kinds
    assert ("corrupt_blob", b.artifact_id, False) in kinds
    assert not r.ok
    with pytest.raises(IntegrityError, match="fsck"):
        store.read_bytes("gone.bin")


def test_stale_manifest_is_rewritten(store):
    store.put("x", "x.txt", session_id="s1")
    from notebook_artifacts.storage.sessions import manifest_path

    mp = manifest_path(store.root, "default", "s1")
    mp.write_text("{broken")
    r = store.fsck()
    assert [p.kind for p in r.problems] == ["manifest"]
    assert store.fsck(repair=True).ok and store.fsck().problems == []


def test_gc_removes_orphans_and_dead_writers_temp_files_only(store):
    store.put(b"live", "l.bin")
    busy, busy_fd = store._blobs.reserve_temp()  # a put in progress holds its temp file
    _old(busy)
    old = store._blobs.tmp / "old.tmp"
    old.write_bytes(b"crashed")
    _old(old)
    orphan = "cd" + "1" * 62
    write_raw_blob(store, orphan, b"12345")
    try:
        assert [p.kind for p in store.fsck().problems].count("temp_file") == 1
        r = store.gc()
        assert r.temp_files_removed == 1 and r.blobs_removed == 1 and r.bytes_freed == 5
        assert busy.exists() and not old.exists() and not raw_blob_exists(store, orphan)
        assert store.read_bytes("l.bin") == b"live"
    finally:
        os.close(busy_fd)


def test_temp_file_of_a_killed_writer_is_found_at_once(tmp_path):
    import subprocess
    import sys

    root = tmp_path / "s"
    ArtifactStore(root, index=False).close()
    code = ("import sys, os; from notebook_artifacts.storage.blobs import BlobStore; "
            "p, fd = BlobStore(sys.argv[1]).reserve_temp(); os.write(fd, b'partial'); "
            "print(p, flush=True); os.kill(os.getpid(), 9)")
    p = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True)
    leftover = Path(p.stdout.strip())
    assert leftover.exists()
    time.sleep(0.3)
    with ArtifactStore(root, index=False) as s:
        r = s.fsck(repair=True)
        assert [(x.kind, x.repaired) for x in r.problems] == [("temp_file", True)]
        assert not leftover.exists() and s.fsck().ok


def test_stale_manifest_temp_file_is_cleaned(store):
    store.put("x", "x.txt", session_id="s1")
    from notebook_artifacts.storage.sessions import manifest_path

    stale = manifest_path(store.root, "default", "s1").with_name(
        ".attachments_manifest.json.999999999.tmp")
    stale.write_text("{")
    assert [p.kind for p in store.fsck().problems] == ["temp_file"]
    assert store.gc().temp_files_removed == 1 and not stale.exists()


def test_failed_put_leaves_no_temp_file(store):
    class Exploding:
        def __init__(self):
            self.n = 0

        def read(self, size=-1):
            self.n += 1
            if self.n > 2:
                raise OSError("disk went away")
            return b"x" * 1000

    with pytest.raises(InvalidInputError, match="cannot read the file object"):
        store.put(Exploding(), "boom.bin")
    assert list(store._blobs.tmp.iterdir()) == [] and blob_files(store) == []
    assert store.list().total == 0


def test_cli_level_fsck_on_reopened_store(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as s:
        s.put("x", "x.txt")
    with ArtifactStore(tmp_path / "s", index=False) as s:
        assert s.fsck().ok
