"""Small content is staged in an unnamed file (O_TMPFILE) in its final directory and linked
in by the commit: no temp name in ``blobs/tmp``, nothing left by a killed writer, and the same
results as the named temp files used where unnamed ones are not available."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore
from notebook_artifacts.storage.blobs import BlobStore

pytestmark = pytest.mark.skipif(not BlobStore.unnamed_temps,
                                reason="needs O_TMPFILE and /proc (Linux)")

HERE = Path(__file__).resolve().parent


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_staged_content_has_no_name_until_its_commit(tmp_path):
    blobs = BlobStore(tmp_path)
    data = b"measured values\n" * 40
    staged = blobs.stage_bytes(data)
    try:
        assert staged.unnamed and staged.tmp_path is None
        assert _files_under(tmp_path / "blobs") == []  # nothing in tmp/, nothing in place yet
        assert blobs.commit(staged) is True
    finally:
        blobs.discard(staged)
    final = blobs.path(_digest(data))
    assert final.read_bytes() == data
    assert stat.S_IMODE(final.stat().st_mode) == 0o444  # read-only, as renamed blobs are
    assert _files_under(tmp_path / "blobs") == [f"sha256/{final.parent.name}/{final.name}"]


def test_discarded_content_leaves_nothing(tmp_path):
    blobs = BlobStore(tmp_path)
    staged = blobs.stage_bytes(b"never committed")
    blobs.discard(staged)
    assert _files_under(tmp_path / "blobs") == []
    assert not blobs.exists(_digest(b"never committed"))


def test_content_staged_in_a_directory_removed_meanwhile_is_still_linked_in(tmp_path, monkeypatch):
    """Another writer's delete or gc removes a fan-out directory once its last blob goes; a
    file staged there before is linked into the directory made again (the crash suite's two
    writers met this: ``FileNotFoundError`` from the link, and the put failed)."""
    with ArtifactStore(tmp_path / "store", index=False) as store:
        real = type(store._blobs).stage_bytes

        def stage_then_lose_the_directory(self, content, **kw):
            st = real(self, content, **kw)
            os.rmdir(self.path(st.sha256).parent)  # empty: the staged file has no name there
            return st

        monkeypatch.setattr(type(store._blobs), "stage_bytes", stage_then_lose_the_directory)
        a = store.put(b"new content", "new.bin")
        many = store.put_many([(b"first of many", "m1.bin"), (b"second of many", "m2.bin")])
        monkeypatch.undo()
        assert a.sha256 == _digest(b"new content") and store.read_bytes("new.bin") == b"new content"
        assert [store.read_bytes(m.name) for m in many] == [b"first of many", b"second of many"]
        assert store.fsck().ok


def test_a_damaged_copy_is_replaced_by_the_verified_bytes(tmp_path):
    data = b"the real content " * 30
    with ArtifactStore(tmp_path / "store", index=False) as store:
        first = store.put(data, "a.bin")
        final = store._blobs.path(first.sha256)
        os.chmod(final, 0o644)
        final.write_bytes(b"bit rot" + data[7:])  # same size, other bytes
        assert not store.fsck().ok
        again = store.put(data, "b.bin")  # same digest: staged, linked over the damaged copy
        assert again.sha256 == first.sha256
        assert final.read_bytes() == data
        assert store.read_bytes("a.bin") == data
        assert store.fsck().ok
        assert os.listdir(store.root / "blobs" / "tmp") == []


def test_named_temp_files_where_unnamed_ones_are_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(BlobStore, "unnamed_temps", False)
    with ArtifactStore(tmp_path / "store", index=False) as store:
        staged = store._blobs.stage_bytes(b"fallback")
        assert not staged.unnamed and staged.tmp_path.parent == store.root / "blobs" / "tmp"
        store._blobs.discard(staged)
        items = store.put_many([(f"row {i}".encode(), f"r{i}.txt") for i in range(10)])
        one = store.put(b"single", "single.bin")
        assert [store.read_bytes(a.artifact_id) for a in items] == [f"row {i}".encode() for i in range(10)]
        assert store.read_bytes(one.artifact_id) == b"single"
        assert os.listdir(store.root / "blobs" / "tmp") == []
        assert store.fsck().ok


def test_put_many_links_every_item_in(tmp_path):
    payloads = [(os.urandom(100) + bytes([i]), f"many/{i:03d}.bin") for i in range(40)]
    with ArtifactStore(tmp_path / "store", index=False) as store:
        got = store.put_many(payloads)
        assert [a.version for a in got] == [1] * 40
        for (data, _), a in zip(payloads, got):
            assert a.sha256 == _digest(data)
            assert store.read_bytes(a.artifact_id) == data
        assert os.listdir(store.root / "blobs" / "tmp") == []
        assert store.fsck().ok


KILLED_WHILE_STAGED = r"""
import os, sys
from notebook_artifacts import ArtifactStore
store = ArtifactStore(sys.argv[1], index=False)
store.put(b"kept", "kept.txt")
staged = [store._blobs.stage_bytes(os.urandom(2048)) for _ in range(20)]  # written, not committed
print("staged", flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_writer_killed_with_staged_content_leaves_no_file(tmp_path):
    root = tmp_path / "store"
    p = subprocess.run([sys.executable, "-c", KILLED_WHILE_STAGED, str(root)], capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(HERE.parent)}, timeout=120)
    assert p.returncode == -signal.SIGKILL and b"staged" in p.stdout, p.stderr.decode()[-2000:]
    kept = _digest(b"kept")
    assert _files_under(root / "blobs") == [f"sha256/{kept[:2]}/{kept}"]
    with ArtifactStore(root, index=False) as store:
        report = store.fsck()
        assert report.ok, report.problems
        assert store.read_bytes("kept.txt") == b"kept"


def test_unwritten_data_is_read_from_meminfo(tmp_path):
    from notebook_artifacts.storage.blobs import _SYNCFS_BESIDE_UP_TO, _much_else_unwritten

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nDirty:  2048 kB\nWriteback:  1024 kB\nOther: 5 kB\n")
    assert not _much_else_unwritten(0, str(meminfo))
    assert _much_else_unwritten(0, str(meminfo)) is (3 * 1024 * 1024 > _SYNCFS_BESIDE_UP_TO)
    meminfo.write_text(f"Dirty: {(_SYNCFS_BESIDE_UP_TO >> 10) + 4096} kB\nWriteback: 0 kB\n")
    assert _much_else_unwritten(0, str(meminfo))
    assert not _much_else_unwritten(8 << 20, str(meminfo))  # the batch's own data
    assert not _much_else_unwritten(0, str(tmp_path / "missing"))  # not Linux: unknown


@pytest.mark.parametrize("unwritten", [False, True])
def test_put_many_flushes_once_unless_much_else_waits_to_be_written(tmp_path, monkeypatch,
                                                                   unwritten):
    """A syncfs writes out everything on the file system: with a gigabyte another program
    left unwritten it would make put_many wait for that too, so the files are fsynced."""
    from notebook_artifacts.storage import blobs as blobs_module

    calls = {"syncfs": 0, "fsync": 0}
    real_syncfs, real_fsync = blobs_module._syncfs, os.fsync

    def counting_syncfs(fd):
        calls["syncfs"] += 1
        return real_syncfs(fd)

    def counting_fsync(fd):
        calls["fsync"] += 1
        return real_fsync(fd)

    monkeypatch.setattr(blobs_module, "_syncfs", counting_syncfs)
    monkeypatch.setattr(blobs_module, "_much_else_unwritten", lambda own: unwritten)
    with ArtifactStore(tmp_path / "store", index=False) as store:
        monkeypatch.setattr(blobs_module.os, "fsync", counting_fsync)
        got = store.put_many([(f"item {i}".encode(), f"i/{i:02d}.txt") for i in range(30)])
        monkeypatch.setattr(blobs_module.os, "fsync", real_fsync)
        assert [store.read_bytes(a.artifact_id) for a in got] == [f"item {i}".encode() for i in range(30)]
        assert store.fsck().ok
    if unwritten:  # each file, then each directory it was linked into
        assert calls["syncfs"] == 0 and calls["fsync"] >= 30 + len({a.sha256[:2] for a in got})
    else:
        assert calls["syncfs"] == 2 and calls["fsync"] == 0
