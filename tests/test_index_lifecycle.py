"""Background indexing: status fields, skips and failures, events, removal, reindex, processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from index_fixtures import DATA, ManualClock, chroma_ids, chunk_rows, embedder  # noqa: F401
from notebook_artifacts import ArtifactStore, IndexUnavailableError

pytestmark = pytest.mark.model


@pytest.fixture
def store(tmp_path, embedder):
    s = ArtifactStore(tmp_path / "store", clock=ManualClock())
    yield s
    s.close()


def _events(store, types):
    return [e for e in store.events(after=0, limit=100).events if e.type in types]


def test_put_is_indexed_in_the_background_with_true_status_fields(store):
    a = store.put(DATA / "field_report.pdf")
    assert a.status == "pending" and not a.is_indexed
    assert store.wait_indexed(120)
    a = store.get(a.artifact_id)
    assert a.status == "indexed" and a.is_indexed and a.index_error is None
    assert a.chunk_count == 3 and a.index_attempts == 1
    assert a.embedding_model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert a.index_collection and a.indexed_at
    assert "Salinity probes drifted" in a.content_text  # PDF text made available
    assert chunk_rows(store, a.artifact_id) == 3
    assert len(chroma_ids(store, a.artifact_id)) == 3
    ev = _events(store, {"indexed"})
    assert [(e.artifact_id, e.data["status"], e.data["chunk_count"]) for e in ev] == [
        (a.artifact_id, "indexed", 3)]


def test_binary_is_skipped_malformed_fails_and_neither_stops_the_others(store):
    img = store.put(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, name="plot.png")
    bad = store.put(b'{"a": 1,', name="broken.json")
    good = store.put("Notes about the heron colony census.", name="ok.txt")
    off = store.put("Not for the index: the secret pelican plan.", name="off.txt", index=False)
    assert store.wait_indexed(120)
    img, bad, good, off = (store.get(x.artifact_id) for x in (img, bad, good, off))
    assert img.status == "skipped" and not img.is_indexed and img.chunk_count == 0
    assert bad.status == "failed" and not bad.is_indexed and bad.index_attempts == 1
    assert "invalid JSON at line 1" in bad.index_error
    assert good.status == "indexed" and good.chunk_count == 1
    assert off.status == "skipped" and off.index_attempts == 0
    assert chunk_rows(store, off.artifact_id) == 0
    assert "off.txt" not in [h.artifact.name for h in store.query("secret pelican plan").results]
    failed = _events(store, {"index_failed"})
    assert [e.artifact_id for e in failed] == [bad.artifact_id]
    assert "invalid JSON" in failed[0].data["error"]


def test_binary_puts_are_skipped_at_once_and_give_the_index_worker_no_work(tmp_path):
    """An image or an octet stream is never embedded: it is stored ``skipped`` with the reason,
    so the worker writes nothing for it (before, each one cost it a catalog transaction and an
    ``indexed`` event, competing with the puts)."""
    with ArtifactStore(tmp_path / "bin") as st:  # the index on, as by default
        one = [st.put(b"\x89PNG\r\n\x1a\n" + bytes([i]) * 64, f"plot{i}.png") for i in range(3)]
        many = st.put_many([(b"\x00\x01" + bytes([i]) * 32, f"blob{i}.bin") for i in range(5)])
        for a in one + many:
            assert a.status == "skipped" and not a.is_indexed and a.chunk_count == 0
            assert a.index_error.startswith("binary content (")
        assert st.wait_indexed(10, progress=False)
        assert {e.type for e in st.events(after=0, limit=100).events} == {"created"}
        assert st.get("plot1.png").status == "skipped"
        assert st.reindex("blob2.bin") == 1  # asked for explicitly: the worker skips it again
        assert st.wait_indexed(60, progress=False)
        assert st.get("blob2.bin").status == "skipped"


def test_delete_and_expiry_remove_chunks_from_both_indexes(store):
    gone = store.put("The albatross flight log for March.", name="albatross.txt")
    short = store.put("The kestrel nest camera notes.", name="kestrel.txt", ttl=30)
    keep = store.put("The puffin burrow survey.", name="puffin.txt")
    assert store.wait_indexed(120)
    assert chunk_rows(store, gone.artifact_id) == 1 and chroma_ids(store, short.artifact_id)
    store.delete("albatross.txt")
    store.clock.advance(60)  # past the kestrel TTL
    store.list()  # any read notices the expiry and writes the `expired` event
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (chunk_rows(store, gone.artifact_id)
                                           or chunk_rows(store, short.artifact_id)):
        time.sleep(0.1)
    for art in (gone, short):
        assert chunk_rows(store, art.artifact_id) == 0
        assert chroma_ids(store, art.artifact_id) == []
    assert chunk_rows(store, keep.artifact_id) == 1


def test_reindex_rebuilds_without_embedding_again(store):
    a = store.put(DATA / "project_notes.md")
    assert store.wait_indexed(120)
    svc = store._index()
    embedded = svc.cache.embedded_count
    # lose the keyword rows, then rebuild them from the catalog
    svc.chunks.remove([a.artifact_id])
    assert chunk_rows(store, a.artifact_id) == 0
    assert store.reindex() >= 1
    assert store.wait_indexed(120)
    a2 = store.get(a.artifact_id)
    assert a2.status == "indexed" and a2.index_attempts == 2
    assert chunk_rows(store, a.artifact_id) == a2.chunk_count == len(chroma_ids(store, a.artifact_id))
    assert svc.cache.embedded_count == embedded
    assert store.reindex("project_notes.md") == 1


def test_index_false_store_refuses_queries_with_a_clear_error(tmp_path):
    s = ArtifactStore(tmp_path / "noindex", index=False)
    try:
        a = s.put("plain text", name="a.txt")
        assert a.status == "skipped"
        assert s.wait_indexed(1)
        with pytest.raises(IndexUnavailableError, match="index=False"):
            s.query("plain")
    finally:
        s.close()


HOLDER = textwrap.dedent("""
    import sys, time
    from notebook_artifacts import ArtifactStore
    s = ArtifactStore(sys.argv[1])
    svc = s._index()
    svc.wake()
    t = time.monotonic()
    while not svc.lock.held and time.monotonic() - t < 30:
        time.sleep(0.05)
    print("holder" if svc.lock.held else "no-lock", flush=True)
    sys.stdin.readline()   # run until the test closes our stdin
    s.close()
""")


def test_pending_work_of_another_process_is_drained_by_the_lock_holder(tmp_path, embedder):
    root = tmp_path / "shared"
    ArtifactStore(root).close()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holder"
        mine = ArtifactStore(root)
        try:
            a = mine.put("Minutes of the lighthouse keepers' association.", name="minutes.txt")
            assert mine.wait_indexed(180)  # drained by the other process
            svc = mine._index()
            assert not svc.holder  # this process never opened Chroma
            a = mine.get(a.artifact_id)
            assert a.status == "indexed" and a.chunk_count == 1
            hits = mine.query("lighthouse keepers association minutes", k=1)
            assert [h.artifact.artifact_id for h in hits.results] == [a.artifact_id]
            proc.stdin.close()
            proc.wait(60)
            # the holder is gone: this process takes the lock over and indexes itself
            b = mine.put("Tide tables for the northern harbour.", name="tides.txt")
            assert mine.wait_indexed(120)
            assert svc.holder and mine.get(b.artifact_id).is_indexed
            assert chroma_ids(mine, b.artifact_id)
        finally:
            mine.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_transient_errors_are_retried_with_backoff_then_give_up(store, monkeypatch):
    import notebook_artifacts.index.service as service

    monkeypatch.setattr(service, "BACKOFF_BASE", 0.01)
    svc = store._index()
    real_read = svc._read
    calls: dict[str, int] = {}
    flaky_sha = {}

    def read(sha256):
        calls[sha256] = calls.get(sha256, 0) + 1
        if sha256 == flaky_sha.get("twice") and calls[sha256] <= 2:
            raise OSError("disk briefly unavailable")
        if sha256 == flaky_sha.get("always"):
            raise ConnectionError("blob server unreachable")
        return real_read(sha256)

    monkeypatch.setattr(svc, "_read", read)
    recovers = store.put("Field notes on the osprey nesting platform.", name="osprey.txt",
                         index=False)
    never = store.put("Field notes on the gannet colony.", name="gannet.txt", index=False)
    bad = store.put(b"a,b\n1,2\n1,2,3\n", name="bad.csv", index=False)
    flaky_sha.update(twice=recovers.sha256, always=never.sha256)
    store.reindex()
    assert store.wait_indexed(120)
    recovers, never, bad = (store.get(a.artifact_id) for a in (recovers, never, bad))
    assert recovers.status == "indexed" and recovers.index_attempts == 3
    assert recovers.index_error is None and calls[recovers.sha256] == 3
    assert never.status == "failed" and never.index_attempts == service.MAX_ATTEMPTS
    assert never.index_error.startswith(f"gave up after {service.MAX_ATTEMPTS} attempts")
    assert "ConnectionError" in never.index_error
    # a malformed file is not transient: failed on its first attempt, never retried
    assert bad.status == "failed" and bad.index_attempts == 1 and calls[bad.sha256] == 1
    assert "row 3 has 3 fields" in bad.index_error
    failed = {e.artifact_id for e in _events(store, {"index_failed"})}
    assert failed == {never.artifact_id, bad.artifact_id}


def test_chroma_writes_are_split_into_batches_within_the_client_limit(store):
    vec = store._index().vectors()
    assert vec.max_batch == vec.client.get_max_batch_size() > 0
    vec.max_batch = 2  # as if the client allowed only two records per call
    a = store.put(DATA / "field_report.pdf")
    b = store.put(DATA / "project_notes.md")
    assert store.wait_indexed(120)
    for art in (a, b):
        art = store.get(art.artifact_id)
        assert art.is_indexed and len(chroma_ids(store, art.artifact_id)) == art.chunk_count
    store.delete(b.artifact_id)
    deadline = time.monotonic() + 30
    while chroma_ids(store, b.artifact_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert chroma_ids(store, b.artifact_id) == []


def test_threads_of_one_process_share_the_index_lock(tmp_path, monkeypatch):
    """The index worker starting while a query opens the vectors: both threads acquire the
    lock for their process. Before, the second one's flock failed on the first's (two
    descriptors exclude each other even in one process), and the query found no vectors."""
    import threading

    from notebook_artifacts.index import vectors

    lock = vectors.IndexLock(tmp_path / "index.lock")
    real_ftruncate = vectors.os.ftruncate
    first_in = threading.Event()

    def slow_ftruncate(fd, length):  # widen the window between the flock and its record
        first_in.set()
        time.sleep(0.3)
        return real_ftruncate(fd, length)

    monkeypatch.setattr(vectors.os, "ftruncate", slow_ftruncate)
    got = []
    worker = threading.Thread(target=lambda: got.append(lock.try_acquire()))
    worker.start()
    assert first_in.wait(10)
    got.append(lock.try_acquire())  # while the worker's acquisition is half done
    worker.join(10)
    monkeypatch.setattr(vectors.os, "ftruncate", real_ftruncate)
    assert got == [True, True] and lock.held
    other = vectors.IndexLock(tmp_path / "index.lock")  # another holder (as another process)
    assert not other.try_acquire()
    lock.release()
    assert other.try_acquire()
    other.release()
