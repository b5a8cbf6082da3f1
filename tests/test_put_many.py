"""``put_many``: several items in one transaction, all or none, the records in order.

Runs on the three configurations of the ``store`` fixture: embedded (SQLite + local files),
shared (PostgreSQL + S3) and remote (a RemoteStore over loopback HTTP: one request).
"""

from __future__ import annotations

import io
import threading
import time
import os

import pytest

from notebook_artifacts import InvalidInputError
from store_fixtures import BOTH_STORES, backing, blob_files, clock, store  # noqa: F401

pytestmark = [BOTH_STORES, pytest.mark.blob_backends]


def _events(store, after: int) -> list:
    return store.events(after=after, limit=100).events


def test_put_many_returns_the_records_in_order_as_put_would(store, tmp_path):
    f = tmp_path / "table.csv"
    f.write_text("a,b\n1,2\n")
    before = store.latest_cursor()
    arts = store.put_many(
        [f, (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "pic.png"), ("some notes", "notes.txt"),
         {"src": {"k": [1, 2]}, "name": "cfg.json", "tags": ["own"]},
         {"text": "data/x.csv", "name": "not-a-path.txt"}],
        namespace="proj", session_id="s1", tags=["batch"], metadata={"run": 7})
    assert [a.name for a in arts] == ["table.csv", "pic.png", "notes.txt", "cfg.json",
                                      "not-a-path.txt"]
    assert [a.version for a in arts] == [1] * 5
    assert arts[0].mime_type == "text/csv" and arts[0].has_file
    assert arts[1].mime_type == "image/png"
    assert arts[2].content == "some notes" and not arts[2].has_file
    assert arts[3].tags == ["own"] and arts[0].tags == ["batch"]
    assert all(a.metadata == {"run": 7} and a.namespace == "proj" and a.session_id == "s1"
               for a in arts)
    assert store.read_text("not-a-path.txt", namespace="proj", session_id="s1") == "data/x.csv"
    assert store.load("cfg.json", namespace="proj", session_id="s1") == {"k": [1, 2]}
    # the same records a put of each would make: what get returns now
    for a in arts:
        assert store.get(a.artifact_id) == a
    # one created event per item, in order
    ev = [e for e in _events(store, before) if e.type == "created"]
    assert [e.artifact_id for e in ev] == [a.artifact_id for a in arts]
    # and the session's manifest lists them
    listed = {e["artifact_id"] for e in store.manifest("s1", "proj")["attachments"]}
    assert {a.artifact_id for a in arts} <= listed


def test_put_many_with_one_name_twice_makes_consecutive_versions(store):
    store.put(b"v1", "doc.txt")
    arts = store.put_many([(b"v2", "doc.txt"), (b"v3", "doc.txt")])
    assert [a.version for a in arts] == [2, 3]
    versions = store.versions("doc.txt")
    assert [(v.version, v.is_latest, v.replaced_by_version) for v in versions] == \
        [(1, False, 2), (2, False, 3), (3, True, None)]
    assert store.read_bytes("doc.txt") == b"v3"


def test_a_bad_item_stores_nothing_and_names_the_item(store, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("fine")
    before = store.latest_cursor()
    with pytest.raises(FileNotFoundError) as err:
        store.put_many([good, tmp_path / "missing.csv", b"also fine"])
    assert "item 1" in str(err.value) and "missing.csv" in str(err.value)
    with pytest.raises(InvalidInputError) as err:
        store.put_many([(b"x", "ok.txt"), (b"y", "../escape.txt")])
    assert "item 1" in str(err.value)
    with pytest.raises(InvalidInputError) as err:
        store.put_many([b"x", {"src": b"y", "colour": "red"}])
    assert "item 1" in str(err.value) and "colour" in str(err.value)
    with pytest.raises(InvalidInputError):
        store.put_many([b"x"], tgs=["typo"])
    assert store.list(namespace=None).total == 0
    assert _events(store, before) == []
    assert blob_files(store) == []


@pytest.mark.local_only
def test_a_failure_inside_the_transaction_rolls_every_item_back(store, monkeypatch):
    """The catalog write fails at the third item (here: its blob cannot be placed): the first
    two items, already written in the same transaction, are not stored either."""
    local = backing(store)
    store.put(b"old", "keep.txt")
    real = type(local._blobs).commit
    calls = []

    def failing(self, staged):
        calls.append(staged.sha256)
        if len(calls) == 3:
            raise OSError("simulated I/O error while placing a blob")
        return real(self, staged)

    monkeypatch.setattr(type(local._blobs), "commit", failing)
    before = store.latest_cursor()
    with pytest.raises(Exception, match="simulated I/O error"):
        store.put_many([(b"a", "a.txt"), (b"b", "keep.txt"), (b"c", "c.txt"), (b"d", "d.txt")])
    monkeypatch.undo()
    assert store.names() == ["keep.txt"] and store.read_bytes("keep.txt") == b"old"
    assert [v.version for v in store.versions("keep.txt")] == [1]
    assert _events(store, before) == []
    assert local.fsck().ok
    # and the store takes writes again: the next version number is 2, not 3
    assert store.put(b"new", "keep.txt").version == 2


def test_put_many_of_nothing_and_of_streams(store):
    assert store.put_many([]) == []
    arts = store.put_many([(io.BytesIO(b"streamed " * 1000), "s.bin"),
                           (io.BytesIO(b""), "empty.bin")])
    assert store.read_bytes("s.bin") == b"streamed " * 1000
    assert arts[1].size_bytes == 0 and store.read_bytes("empty.bin") == b""


def test_put_many_of_large_files_and_stored_content(store, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))
    small = tmp_path / "small.bin"
    small.write_bytes(b"tiny")
    first = store.put(big, "big.bin")
    again = store.put_many([(big, "big-copy.bin"), small])
    assert again[0].sha256 == first.sha256 and again[0].size_bytes == 3 << 20
    assert store.read_bytes("big-copy.bin") == big.read_bytes()
    assert store.read_bytes("small.bin") == b"tiny"
    assert backing(store).fsck().ok


@pytest.mark.local_only
def test_a_repeat_put_of_a_large_file_reads_it_and_writes_nothing(store, tmp_path, monkeypatch):
    """Content already stored costs one read of the source and no write: the blob file and
    the staging area are untouched."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 << 20))
    a = store.put(big, "one.bin")
    b = store._blobs
    if not hasattr(b, "path"):
        pytest.skip("object storage: the check of identical content is the upload's own")
    blob = b.path(a.sha256)
    st = blob.stat()
    written = []
    real = type(b).reserve_temp
    monkeypatch.setattr(type(b), "reserve_temp", lambda self: written.append(1) or real(self))
    again = store.put(big, "two.bin")
    monkeypatch.undo()
    assert again.sha256 == a.sha256 and written == []
    assert (blob.stat().st_ino, blob.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    # a file of that size with other bytes is still stored as itself
    other = tmp_path / "other.bin"
    other.write_bytes(os.urandom(4 << 20))
    c = store.put(other, "three.bin")
    assert c.sha256 != a.sha256 and store.read_bytes("three.bin") == other.read_bytes()
    assert store.fsck().ok


def test_put_many_refuses_a_single_item_as_the_list(store):
    with pytest.raises(InvalidInputError, match="list of items"):
        store.put_many(b"one thing")
    assert store.list(namespace=None).total == 0


@pytest.mark.local_only
def test_the_flush_runs_while_the_rows_are_written_and_content_is_linked_after_it(
        store, monkeypatch):
    """``put_many`` flushes its staged content on a helper thread while the catalog rows are
    written; nothing is linked into place before that flush has returned."""
    local = backing(store)
    cls = type(local._blobs)
    real_flush, real_commit = cls.make_durable, cls.commit
    seen: dict = {"commits": []}

    def slow_flush(self, staged):
        seen["thread"] = threading.current_thread()
        time.sleep(0.2)
        seen["placed_while_flushing"] = blob_files(store)
        real_flush(self, staged)
        seen["flushed_at"] = time.monotonic()

    def commit(self, staged):
        seen["commits"].append(time.monotonic())
        return real_commit(self, staged)

    monkeypatch.setattr(cls, "make_durable", slow_flush)
    monkeypatch.setattr(cls, "commit", commit)
    arts = store.put_many([(f"item {i}".encode(), f"i{i}.bin") for i in range(20)])
    assert seen["thread"] is not threading.main_thread()
    if local.blobs_url is None:  # (object storage: uploaded before the transaction, by design)
        assert seen["placed_while_flushing"] == []
    assert len(seen["commits"]) == 20 and min(seen["commits"]) > seen["flushed_at"]
    assert [store.read_bytes(a.name) for a in arts] == [f"item {i}".encode() for i in range(20)]
    assert local.fsck().ok


@pytest.mark.local_only
def test_a_failed_flush_stores_nothing(store, monkeypatch):
    local = backing(store)
    store.put(b"old", "keep.txt")

    def failing(self, staged):
        raise OSError(5, "simulated I/O error while flushing")

    monkeypatch.setattr(type(local._blobs), "make_durable", failing)
    before = store.latest_cursor()
    with pytest.raises(OSError, match="simulated I/O error while flushing"):
        store.put_many([(b"a", "a.txt"), (b"b", "keep.txt"), (b"c", "c.txt")])
    monkeypatch.undo()
    assert store.names() == ["keep.txt"] and _events(store, before) == []
    assert len(blob_files(store)) == 1 and local.fsck().ok
    assert store.put(b"new", "keep.txt").version == 2


@pytest.mark.local_only
def test_a_failure_while_the_flush_runs_waits_for_it_before_dropping_the_content(
        store, monkeypatch):
    """The rows fail while the helper thread still flushes: the staged files it works on are
    dropped only once it has returned."""
    local = backing(store)
    cls = type(local._blobs)
    real_flush = cls.make_durable
    seen = {}

    def slow_flush(self, staged):
        time.sleep(0.3)
        seen["open_at_the_end"] = all(os.fstat(s.lock_fd) for s in staged if s.lock_fd is not None)
        real_flush(self, staged)

    def failing_session(*args):
        raise RuntimeError("simulated failure while writing the rows")

    monkeypatch.setattr(cls, "make_durable", slow_flush)
    monkeypatch.setattr(type(local._catalog), "_touch_session", staticmethod(failing_session))
    with pytest.raises(RuntimeError, match="simulated failure"):
        store.put_many([(b"a", "a.txt"), (b"b", "b.txt")], session_id="s1")
    assert seen == {"open_at_the_end": True}
    monkeypatch.undo()
    assert store.names(session_id="s1") == [] and blob_files(store) == []
    assert local.fsck().ok
