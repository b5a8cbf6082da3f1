"""Uploads arriving together are stored together (server/_group_commit.py): one put_many for
the puts that queued while another was being stored, each request still getting its own
record or its own error, nothing lost, versions contiguous."""

from __future__ import annotations

import io
import threading
import time

import pytest

from notebook_artifacts import ArtifactStore, InvalidInputError
from notebook_artifacts.server._group_commit import GroupCommit
from notebook_artifacts.storage.sessions import read_manifest


class _HeldStream(io.BytesIO):
    """A seekable upload whose first read waits for ``release``: the put that reads it holds
    the lead while the others queue behind it."""

    def __init__(self, data: bytes, started: threading.Event, release: threading.Event):
        super().__init__(data)
        self.started, self.release = started, release

    def read(self, n: int = -1) -> bytes:
        self.started.set()
        assert self.release.wait(30)
        return super().read(n)

    def readinto(self, b) -> int:  # type: ignore[override]
        self.started.set()
        assert self.release.wait(30)
        return super().readinto(b)


def _run_behind_a_held_put(store, group, puts):
    """Start one put that holds the lead, queue ``puts`` (callables) behind it in threads,
    release it; returns ``(held record, [record or exception per put])``."""
    started, release = threading.Event(), threading.Event()
    held: dict = {}
    leader = threading.Thread(target=lambda: held.setdefault("a", group.put(
        store, _HeldStream(b"first", started, release), "held.bin", session_id="s")))
    leader.start()
    assert started.wait(30)
    results: list = [None] * len(puts)

    def run(i):
        try:
            results[i] = puts[i]()
        except Exception as exc:  # noqa: BLE001 - the test looks at each outcome
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(puts))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while sum(len(q) for q in group._queues.values()) < len(puts) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in threads + [leader]:
        t.join(60)
    return held["a"], results


def test_puts_that_queue_are_stored_in_one_transaction_each_with_its_record(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as store:
        group = GroupCommit()
        puts = [lambda i=i: group.put(store, f"body {i}".encode(), "same.txt", session_id="s",
                                      tags=[f"t{i}"]) for i in range(30)]
        held, results = _run_behind_a_held_put(store, group, puts)
        assert held.name == "held.bin" and store.read_bytes(held.artifact_id) == b"first"
        assert group.batches == 1 and group.puts == 30  # the 30 queued puts: one put_many
        assert all(not isinstance(r, Exception) for r in results)
        versions = store.versions("same.txt", session_id="s")
        assert [v.version for v in versions] == list(range(1, 31))
        for i, r in enumerate(results):  # each caller got the record of its own content
            assert r.tags == [f"t{i}"]
            assert store.read_bytes(r.artifact_id) == f"body {i}".encode()
        created = store.events(types=["created", "version_created"], limit=100)
        assert len(created.events) == 31
        manifest = read_manifest(store.root, "default", "s")
        assert len(manifest["attachments"]) == 31
        assert store.fsck().ok


def test_a_bad_upload_gets_its_own_error_and_the_others_are_stored(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as store:
        group = GroupCommit()
        good = [lambda i=i: group.put(store, io.BytesIO(f"stream {i}".encode()), f"f{i}.bin",
                                      session_id="s") for i in range(5)]
        bad = lambda: group.put(store, b"x", "bad.bin", session_id="s", ttl="soon")  # noqa: E731
        held, results = _run_behind_a_held_put(store, group, good[:3] + [bad] + good[3:])
        errors = [r for r in results if isinstance(r, Exception)]
        assert len(errors) == 1 and isinstance(errors[0], InvalidInputError)
        assert "ttl" in str(errors[0]).lower()
        stored = [r for r in results if not isinstance(r, Exception)]
        assert len(stored) == 5 and group.batches == 0  # the batch failed as a whole...
        for r in stored:  # ...and each stream was stored again from its start, whole
            assert store.read_bytes(r.artifact_id) == f"stream {r.name[1]}".encode()
        names = sorted(a.name for a in store.list(session_id="s"))
        assert names == sorted([f"f{i}.bin" for i in range(5)] + ["held.bin"])  # no bad.bin
        assert store.fsck().ok


def test_a_lone_put_is_stored_at_once(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as store:
        group = GroupCommit()
        a = group.put(store, b"alone", "alone.bin")
        assert a.version == 1 and store.read_bytes(a.artifact_id) == b"alone"
        assert group.batches == 0 and not group._queues and not group._leading
        with pytest.raises(InvalidInputError):
            group.put(store, b"x", "../escape.bin")
        assert not group._queues and not group._leading
