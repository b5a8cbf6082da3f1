"""Disk and resource faults: a full disk mid-put, corrupt and missing blobs, a lost index.

The full-disk test uses a real tmpfs of a few MiB when this process may mount one (root on
Linux); a second test injects ENOSPC at the blob writer's fsync, which is where delayed
allocation reports a full disk on real filesystems, so the behaviour is covered everywhere.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore, IntegrityError
from reliability_fixtures import check_store, stray_files


def _blob_path(root: Path, sha256: str) -> Path:
    return Path(root) / "blobs" / "sha256" / sha256[:2] / sha256


def _snapshot(store: ArtifactStore) -> tuple:
    page = store.list(include_expired=True, limit=200)
    return (sorted((a.artifact_id, a.sha256) for a in page.artifacts), page.total,
            store.latest_cursor())


def _is_clear_disk_full_error(exc: BaseException) -> bool:
    """A disk-full error is clear when it is ENOSPC or says 'space' in its message."""
    seen = exc
    for _ in range(5):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if "space" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 6 MiB tmpfs, or skip when this process cannot mount one."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.parametrize("kind", ["bytes", "path", "stream"])
def test_full_disk_put_leaves_nothing(small_tmpfs, tmp_path, kind):
    root = small_tmpfs / "store"
    store = ArtifactStore(root, index=False)
    kept = store.put(b"small and safe", "kept.txt")
    before = _snapshot(store)

    big = os.urandom(8 * 1024 * 1024)  # larger than the whole filesystem
    src = tmp_path / "big.bin"  # outside the tmpfs
    src.write_bytes(big)
    with pytest.raises(Exception) as info:
        if kind == "bytes":
            store.put(big, "big.bin")
        elif kind == "path":
            store.put(src, "big.bin")
        else:
            with open(src, "rb") as f:
                store.put(f, "big.bin")
    assert _is_clear_disk_full_error(info.value), f"unclear error for a full disk: {info.value!r}"

    assert _snapshot(store) == before, "a failed put changed the listing or the event log"
    assert not stray_files(root), f"partial files left: {stray_files(root)}"
    assert store.read_bytes(kept.artifact_id) == b"small and safe"
    # the space is back: the store keeps working, and a reopened store agrees
    again = store.put(b"after the fault", "after.txt")
    assert store.read_bytes(again.artifact_id) == b"after the fault"
    report = ArtifactStore(root, index=False).fsck()
    assert report.ok, report.problems
    check_store(root, repair=False)


def test_disk_filling_at_every_step_of_a_put_leaves_nothing(small_tmpfs):
    """Puts sized to fill a real tmpfs to within a few KiB (or to just around the store's
    free-space reserve): every failure raises a clear error and leaves the listing, the blobs
    and the event log as they were; a put that succeeds can still be deleted (the reserve
    leaves SQLite room), and small puts keep working."""
    root = small_tmpfs / "store"
    store = ArtifactStore(root, index=False)
    for i in range(20):
        store.put(os.urandom(100), f"m{i}.txt", metadata={"pad": "x" * 2000})
    outcomes: dict[str, int] = {}
    for slack in list(range(0, 48 * 1024, 4096)) + list(range(900 * 1024, 1400 * 1024, 50 * 1024)):
        st = os.statvfs(small_tmpfs)
        size = max(1, st.f_bavail * st.f_frsize - slack - 8192)
        before = _snapshot(store)
        try:
            store.put(os.urandom(size), "big.bin", metadata={"pad": "y" * 3000})
        except Exception as exc:
            assert _is_clear_disk_full_error(exc) or "full" in str(exc), repr(exc)
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            assert _snapshot(store) == before, "a failed put changed the listing or events"
            assert not stray_files(root), stray_files(root)
            report = store.fsck()
            assert report.ok, report.problems  # no orphan blob keeps the disk full
        else:
            outcomes["stored"] = outcomes.get("stored", 0) + 1
            store.delete("big.bin")
            store.gc()
        a = store.put(b"small", "small.txt")
        assert store.read_bytes(a.artifact_id) == b"small"
    print(f"\nfull-disk outcomes by size: {outcomes}")
    assert outcomes.get("stored") and sum(v for k, v in outcomes.items() if k != "stored")


def test_enospc_at_fsync_leaves_nothing(tmp_path, monkeypatch):
    """ENOSPC raised by the blob writer's fsync (delayed allocation) loses nothing."""
    import notebook_artifacts.storage.blobs as blobs_mod

    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    kept = store.put(b"kept", "kept.txt")
    before = _snapshot(store)

    real_fsync = os.fsync

    class FailingOs:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fsync(fd):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs_mod, "os", FailingOs())
    with pytest.raises(Exception) as info:
        store.put(os.urandom(3 * 1024 * 1024), "big.bin")
    assert _is_clear_disk_full_error(info.value), repr(info.value)
    monkeypatch.setattr(blobs_mod, "os", os)
    assert os.fsync is real_fsync

    assert _snapshot(store) == before
    assert not stray_files(root), stray_files(root)
    assert store.read_bytes(kept.artifact_id) == b"kept"
    assert store.fsck().ok


# --------------------------------------------------------------------------------------
# corrupt and missing blobs
# --------------------------------------------------------------------------------------


def _corrupt(path: Path, how: str) -> None:
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "append":
        data += b"x"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate", "append", "missing"])
def test_damaged_blob_is_integrity_error_never_wrong_bytes(tmp_path, how):
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    payload = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    bad = store.put(payload, "victim.bin")
    good = store.put(b"untouched", "other.txt")
    blob = _blob_path(root, bad.sha256)
    assert blob.is_file()
    if how == "missing":
        os.chmod(blob, 0o644)
        blob.unlink()
    else:
        _corrupt(blob, how)

    with pytest.raises(IntegrityError) as info:
        store.read_bytes(bad.artifact_id)
    assert "fsck" in str(info.value) or bad.sha256[:12] in str(info.value) or "victim" in str(info.value)
    with pytest.raises(IntegrityError):
        store.read_bytes("victim.bin")
    # streaming: whatever is served before the end, the stream must fail rather than end cleanly
    with pytest.raises(IntegrityError):
        with store.open(bad.artifact_id) as f:
            while f.read(1 << 16):
                pass
    # other artifacts are unaffected
    assert store.read_bytes(good.artifact_id) == b"untouched"

    report = store.fsck()
    assert not report.ok
    kinds = {(p.kind, p.artifact_id) for p in report.problems}
    expected_kind = "missing_blob" if how == "missing" else "corrupt_blob"
    assert any(k == expected_kind for k, _ in kinds), report.problems
    assert any(p.artifact_id == bad.artifact_id or (p.path and bad.sha256 in p.path)
               for p in report.problems), report.problems

    # repair may not launder the damage: afterwards the bad version is either gone or still
    # reported, and reading it is still never the wrong bytes
    store.fsck(repair=True)
    after = store.fsck()
    try:
        data = store.read_bytes(bad.artifact_id)
    except Exception as exc:  # IntegrityError or NotFoundError
        assert type(exc).__name__ in ("IntegrityError", "NotFoundError"), repr(exc)
        if type(exc).__name__ == "IntegrityError":
            assert not after.ok, "fsck says ok while a version's blob is damaged"
    else:
        assert hashlib.sha256(data).hexdigest() == bad.sha256
    assert store.read_bytes(good.artifact_id) == b"untouched"


def test_damaged_blob_every_reader_raises(tmp_path):
    """read_bytes, read_text and load (JSON, text, a DataFrame stored as Parquet) all raise
    IntegrityError on a damaged blob: no reader parses damaged bytes into a wrong value."""
    import pandas as pd

    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    arts = [store.put({"k": "v" * 5000}, "x.json"), store.put("hello world " * 1000, "t.txt"),
            store.put(pd.DataFrame({"a": range(5000)}), "frame")]
    for a in arts:
        _corrupt(_blob_path(root, a.sha256), "flip")
    for a in arts:
        for reader in (store.read_bytes, store.read_text, store.load):
            with pytest.raises(IntegrityError):
                reader(a.artifact_id)


def test_putting_the_same_content_again_heals_a_damaged_blob(tmp_path):
    """Content addressing must not keep serving a damaged blob when the good bytes arrive again."""
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    payload = b"precious bytes " * 1000
    a = store.put(payload, "a.txt")
    _corrupt(_blob_path(root, a.sha256), "flip")
    b = store.put(payload, "b.txt")
    assert b.sha256 == a.sha256
    assert store.read_bytes(b.artifact_id) == payload
    assert store.read_bytes(a.artifact_id) == payload
    assert store.fsck().ok


# --------------------------------------------------------------------------------------
# a lost index directory
# --------------------------------------------------------------------------------------

from index_fixtures import embedder  # noqa: E402,F401  (the real model, loaded once)


@pytest.mark.model
def test_deleted_chroma_dir_rebuilt_by_reindex(tmp_path, embedder):
    root = tmp_path / "store"
    store = ArtifactStore(root)
    a = store.put("# Lighthouse\n\nThe keeper logs the fog signal every night.", "lighthouse.md")
    b = store.put("# Orchard\n\nApple trees need pruning in late winter.", "orchard.md")
    assert store.wait_indexed(120)
    before = store.query("when to prune apple trees", k=1, mode="dense")
    assert before.results and before.results[0].artifact.artifact_id == b.artifact_id
    store.close()

    shutil.rmtree(root / "index")
    store = ArtifactStore(root)
    queued = store.reindex()
    assert queued >= 2
    assert store.wait_indexed(120)
    assert (root / "index").is_dir()
    for ref, question in ((a, "fog signal at night"), (b, "when to prune apple trees")):
        got = store.query(question, k=1, mode="dense")
        assert got.results and got.results[0].artifact.artifact_id == ref.artifact_id
        rec = store.get(ref.artifact_id)
        assert rec.status == "indexed" and rec.chunk_count >= 1
    # the rebuilt Chroma collection holds the vectors again (dense answers come from it)
    from index_fixtures import chroma_ids

    assert chroma_ids(store, a.artifact_id) and chroma_ids(store, b.artifact_id)
    store.close()


def test_export_of_a_damaged_blob_fails_and_leaves_no_zip(tmp_path):
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    store.put(b"fine " * 100, "fine.txt", session_id="s1")
    bad = store.put(os.urandom(200_000), "bad.bin", session_id="s1")
    _corrupt(_blob_path(root, bad.sha256), "flip")
    dest = tmp_path / "out" / "s1.zip"
    with pytest.raises(IntegrityError):
        store.export_zip(dest, session_id="s1")
    assert not dest.exists()
    out_dir = tmp_path / "out"
    assert not out_dir.exists() or not list(out_dir.iterdir()), list(out_dir.iterdir())
    assert not stray_files(root)


def test_damaged_blob_never_served_whole_over_http(tmp_path):
    """Over HTTP a damaged blob is never delivered as a complete, successful download."""
    from fastapi.testclient import TestClient

    from notebook_artifacts.server import create_app

    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    payload = os.urandom(3 * 1024 * 1024)
    bad = store.put(payload, "bad.bin", session_id="s1")
    store.put(payload, "bad.bin", namespace="a/u", session_id="s1")  # same blob, seed-002 scope
    _corrupt(_blob_path(root, bad.sha256), "flip")
    client = TestClient(create_app(store, token="t"), headers={"Authorization": "Bearer t"},
                        raise_server_exceptions=False)
    routes = [f"/api/sessions/s1/artifacts/{bad.artifact_id}?mode=stream",
              f"/apps/a/users/u/sessions/s1/artifacts/bad.bin"]
    outcomes = []
    for url in routes:
        try:
            r = client.get(url)
        except Exception:  # the stream was cut mid-body: the client never got a clean answer
            outcomes.append((url, "cut"))
            continue
        outcomes.append((url, r.status_code))
        if r.status_code == 200:
            body = r.content
            if url.startswith("/apps"):
                body = __import__("base64").b64decode(r.json()["inline_data"]["data"]) \
                    if "inline_data" in r.json() else b""
            assert body != _blob_path(root, bad.sha256).read_bytes(), \
                f"{url}: served the damaged bytes as a complete download"
        else:  # a plain error that says what is wrong
            assert r.status_code == 500 and "fsck" in r.json()["detail"], (url, r.status_code, r.text)
    print(f"\ndamaged blob over HTTP: {outcomes}")


def test_catalog_full_after_the_blob_landed_leaves_nothing(tmp_path, monkeypatch):
    """SQLite reports a full disk (SQLITE_FULL) on the version's insert or at COMMIT, after the
    blob was renamed into place: the put raises that error, no orphan blob keeps the disk
    full, and the same store object goes on working (no transaction left open)."""
    import sqlite3

    import notebook_artifacts.storage.catalog as catalog_mod

    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    kept = store.put(b"kept", "kept.txt")
    before = _snapshot(store)
    real_append = catalog_mod.append_event

    def full(*a, **k):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(catalog_mod, "append_event", full)
    payload = os.urandom(500_000)
    with pytest.raises(Exception) as info:
        store.put(payload, "big.bin")
    assert _is_clear_disk_full_error(info.value) or "full" in str(info.value)
    monkeypatch.setattr(catalog_mod, "append_event", real_append)
    assert not _blob_path(root, hashlib.sha256(payload).hexdigest()).exists(), \
        "the failed put left its blob behind"
    assert _snapshot(store) == before
    assert store.fsck().ok
    again = store.put(b"after", "after.txt")  # the same store object still writes
    assert store.read_bytes(again.artifact_id) == b"after"
    assert store.read_bytes(kept.artifact_id) == b"kept"


def test_commit_failure_does_not_leave_a_transaction_open(tmp_path):
    """A COMMIT that fails (disk full, I/O error) must not leave the connection inside a
    transaction, or every later write of this process would fail."""
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    cat = store._catalog.db  # the SQLite catalog's one connection
    real = cat._conn

    class CommitFails:
        def __init__(self, conn):
            self._c = conn

        def execute(self, sql, *a):
            if sql == "COMMIT":
                raise __import__("sqlite3").OperationalError("disk I/O error")
            return self._c.execute(sql, *a)

        def __getattr__(self, name):
            return getattr(self._c, name)

    cat._conn = CommitFails(real)
    with pytest.raises(Exception):
        store.put(b"x", "x.txt")
    cat._conn = real
    assert not real.in_transaction, "a failed COMMIT left the transaction open"
    a = store.put(b"y", "y.txt")
    assert store.read_bytes(a.artifact_id) == b"y"
    assert [x.name for x in store.list().artifacts] == ["y.txt"]


class _FailingSource:
    """A binary file object that yields a few MiB, then raises (a network share or an
    upload that breaks mid-copy, or Ctrl-C in the notebook)."""

    def __init__(self, exc: BaseException):
        self.calls, self.exc = 0, exc

    def readinto(self, b) -> int:
        self.calls += 1
        if self.calls > 3:
            raise self.exc
        b[:] = os.urandom(len(b))
        return len(b)

    def read(self, n: int = -1) -> bytes:
        buf = bytearray(1 << 20 if n is None or n < 0 else n)
        return bytes(buf[: self.readinto(buf)])


@pytest.mark.parametrize("exc", [OSError(errno.EIO, "Input/output error"), KeyboardInterrupt(),
                                 ValueError("source broke")], ids=["EIO", "KeyboardInterrupt", "ValueError"])
def test_source_failing_mid_copy_leaves_nothing(tmp_path, exc):
    root = tmp_path / "store"
    store = ArtifactStore(root, index=False)
    kept = store.put(b"kept", "kept.txt")
    before = _snapshot(store)
    with pytest.raises(BaseException) as info:
        store.put(_FailingSource(exc), "broken.bin")
    assert info.type is type(exc) or "read" in str(info.value).lower(), repr(info.value)
    assert _snapshot(store) == before
    assert not stray_files(root), stray_files(root)
    assert store.read_bytes(kept.artifact_id) == b"kept"
    check_store(root, repair=False)
