"""Crash consistency: writer processes killed with SIGKILL at random points, many rounds.

After every kill the store must open, ``fsck`` must be clean (or ``fsck(repair=True)`` must make
it clean, and only crash residue such as temp files and orphan blobs may need repair), every
version's bytes must match its sha256, every acknowledged put must still be there, no temp file
may remain and the event log must have no holes.

Rounds are bounded for CI: ``NA_CRASH_ROUNDS`` (default 24) rounds of one or two concurrent
writers, each killed after a random delay, and ``NA_CRASH_INDEX_ROUNDS`` (default 3) rounds of
a kernel killed while it indexes. A longer campaign:
``NA_CRASH_ROUNDS=120 NA_CRASH_INDEX_ROUNDS=8 .venv/bin/python -m pytest -s -o timeout=0 tests/test_crash.py``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index_fixtures import embedder  # noqa: F401  (the real model, loaded once)
from reliability_fixtures import acknowledged_live, check_store, read_journal

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ROUNDS = int(os.environ.get("NA_CRASH_ROUNDS", "24"))


def _start_writer(root: Path, seed: int, journal: Path, scratch: Path, index: bool = False):
    cmd = [sys.executable, str(HERE / "reliability_fixtures.py"), "writer", str(root), str(seed),
           str(journal), str(scratch)] + (["index"] if index else [])
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(HERE.parent)})


def _wait_for_begin(journal: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the writer has started its first operation (imports take a while)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if journal.exists() and journal.stat().st_size > 0:
            return
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")
            pytest.fail(f"writer exited early (rc={proc.returncode}):\n{err[-3000:]}")
        time.sleep(0.02)
    pytest.fail("writer never started an operation")


def _kill_round(root: Path, tmp: Path, rnd: random.Random, round_no: int, writers: int,
                index: bool = False) -> dict:
    procs = []
    for w in range(writers):
        seed = round_no * 100 + w
        journal = tmp / f"journal-{seed}.jsonl"
        p = _start_writer(root, seed, journal, tmp / "scratch", index=index)
        procs.append((p, journal))
    for p, journal in procs:
        _wait_for_begin(journal, p)
    time.sleep(rnd.uniform(0.0, 2.5))
    died = [p for p, _ in procs if p.poll() is not None]
    for p, _ in procs:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)  # (all of them, so none outlives a failure here)
    if died:
        err = died[0].stderr.read().decode(errors="replace")
        pytest.fail(f"writer died on its own (rc={died[0].returncode}) before the kill:\n{err[-3000:]}")
    for p, _ in procs:
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL
        p.stderr.close()
    return {"journals": [j for _, j in procs]}


def test_kill9_writers_store_stays_consistent(tmp_path):
    """ROUNDS rounds of 1-2 writers killed with SIGKILL; the store holds after every one."""
    root = tmp_path / "store"
    rnd = random.Random(20261123)
    journals: list[Path] = []
    figures = {"rounds": 0, "writers_killed": 0, "acked_puts": 0, "repairs": 0}
    kinds_seen: set[str] = set()
    for round_no in range(ROUNDS):
        writers = 1 if round_no % 3 == 0 else 2
        res = _kill_round(root, tmp_path, rnd, round_no, writers)
        journals.extend(res["journals"])
        records = [r for j in journals for r in read_journal(j)]
        must_exist = acknowledged_live(records)
        stats = check_store(root, expect_present=must_exist)
        figures["rounds"] += 1
        figures["writers_killed"] += writers
        figures["repairs"] += bool(stats["fsck_kinds"])
        kinds_seen.update(stats["fsck_kinds"])
        figures["acked_puts"] = sum(1 for r in records if r.get("phase") == "done" and r["op"] == "put")
        figures["versions"] = stats["versions"]
        figures["events"] = stats["events"]
        # scratch files of killed writers are theirs, not the store's
        for f in (tmp_path / "scratch").glob("*"):
            f.unlink()
    print(f"\ncrash figures: {figures}, residue repaired: {sorted(kinds_seen)}")
    assert figures["acked_puts"] > 0, "writers never completed a put: the test proved nothing"


def test_reopen_after_kill_during_large_put_has_no_partial_artifact(tmp_path):
    """A writer killed while copying a large file leaves neither a record nor a partial blob."""
    root = tmp_path / "store"
    from notebook_artifacts import ArtifactStore

    ArtifactStore(root, index=False).put(b"seed", "seed.txt")
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        f.write(os.urandom(64 * 1024 * 1024))
    code = (
        "import sys; from notebook_artifacts import ArtifactStore;"
        "s = ArtifactStore(sys.argv[1], index=False); print('ready', flush=True);"
        "s.put(sys.argv[2], 'big.bin')"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(root), str(src)], stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == b"ready"
    # kill somewhere inside the copy: wait for a partly written file to appear in the store
    saw_partial = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not saw_partial:
        for f in root.rglob("*"):
            try:
                size = f.stat().st_size if f.is_file() else 0
            except FileNotFoundError:
                continue
            if "catalog" not in f.name and 1024 * 1024 < size < 64 * 1024 * 1024:
                saw_partial = True
                break
        time.sleep(0.001)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert saw_partial, "never caught the put mid-copy; the kill proved nothing"
    store = ArtifactStore(root, index=False)
    names = {a.name for a in store.list(include_expired=True).artifacts}
    assert names <= {"seed.txt", "big.bin"} and "seed.txt" in names
    check_store(root)


#: a child that prepares a store, arms a SIGKILL at one chosen point of the code, then runs
#: one operation: the point is hit deterministically, not by a lucky timer
CRASH_POINT = """
import os, signal, sys
from notebook_artifacts import ArtifactStore
import notebook_artifacts.storage.blobs as blobs_mod
import notebook_artifacts.storage.sessions as sessions_mod
root, point = sys.argv[1], sys.argv[2]
clock = [1_800_000_000.0]
store = ArtifactStore(root, index=False, clock=lambda: clock[0])
for i in range(3):
    store.put(f"v{i}".encode() * 100, "doc.txt", session_id="s1", ttl=60 if point == "gc_purge" else None)
store.put(b"kept", "kept.txt", session_id="s1")

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

def after(obj, attr):
    real = getattr(obj, attr)
    def wrapper(*a, **k):
        out = real(*a, **k)
        die()
        return out
    setattr(obj, attr, wrapper)

print("armed", flush=True)
if point == "delete_blob_removed":
    after(blobs_mod.BlobStore, "remove")
    store.delete("doc.txt", session_id="s1")
elif point == "gc_purge":
    clock[0] += 120
    after(blobs_mod.BlobStore, "remove")
    store.gc()
elif point == "put_blob_committed":
    after(blobs_mod.BlobStore, "commit")
    store.put(b"new content", "doc.txt", session_id="s1")
elif point == "put_before_manifest":
    sessions_mod.write_manifest = die
    import notebook_artifacts.store as store_mod
    store.put(b"new content 2", "doc.txt", session_id="s1")
elif point == "delete_one_version_blob_removed":
    after(blobs_mod.BlobStore, "remove")
    store.delete("doc.txt", version=2, session_id="s1")
elif point.startswith("put_many_"):
    import itertools
    where, nth = {"put_many_staged": (blobs_mod.StagingArea, "make_durable"),
                  "put_many_committing": (blobs_mod.BlobStore, "commit"),
                  "put_many_flushed": (blobs_mod.BlobStore, "flush")}[point], 3
    counter = itertools.count(1)
    real = getattr(*where)
    def counting(*a, **k):
        out = real(*a, **k)
        if next(counter) >= (nth if where[1] == "commit" else 1):
            die()
        return out
    setattr(where[0], where[1], counting)
    store.put_many([(f"item {i}".encode() * 50, f"many-{i}.txt") for i in range(8)]
                   + [(b"doc v4", "doc.txt")], session_id="s1")
print("point never reached", flush=True)
"""


def _killed_at(root, point: str) -> dict:
    """Run CRASH_POINT on ``root`` until SIGKILL at ``point``; what ``check_store`` found."""
    p = subprocess.run([sys.executable, "-c", CRASH_POINT, str(root), point], capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(HERE.parent)}, timeout=120)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stdout, p.stderr.decode()[-2000:])
    assert b"armed" in p.stdout and b"never reached" not in p.stdout
    return check_store(root)


@pytest.mark.parametrize("point", ["delete_blob_removed", "delete_one_version_blob_removed",
                                   "gc_purge", "put_blob_committed", "put_before_manifest"])
def test_kill_at_chosen_points(tmp_path, point):
    """SIGKILL at the riskiest instants: right after a blob is removed by delete or gc, right
    after a put's blob lands, and between a put's commit and its manifest rewrite."""
    root = tmp_path / "store"
    stats = _killed_at(root, point)
    from notebook_artifacts import ArtifactStore

    store = ArtifactStore(root, index=False)
    assert store.read_bytes("kept.txt", session_id="s1") == b"kept"
    # the session manifest matches the catalog again after repair
    doc = store.manifest("s1")
    live = {a.artifact_id for n in store.names(session_id="s1")
            for a in store.versions(n, session_id="s1")}
    assert {e["artifact_id"] for e in doc["attachments"]} == live
    print(f"\n{point}: residue repaired {stats['fsck_kinds']}")


@pytest.mark.parametrize("point", ["put_many_staged", "put_many_committing", "put_many_flushed"])
def test_kill9_during_put_many_leaves_none_of_its_items(tmp_path, point):
    """SIGKILL in the middle of a put_many: after its content is written and flushed, after
    three of its nine blobs are placed inside the catalog transaction, and right before that
    transaction commits. None of its items is visible afterwards (not even the new version of
    an existing name), no event of it was recorded, and fsck is clean once crash residue
    (orphan blobs, temp files) is repaired."""
    root = tmp_path / "store"
    stats = _killed_at(root, point)
    from notebook_artifacts import ArtifactStore

    store = ArtifactStore(root, index=False)
    try:
        assert store.names(session_id="s1") == ["doc.txt", "kept.txt"]
        assert [v.version for v in store.versions("doc.txt", session_id="s1")] == [1, 2, 3]
        assert store.read_bytes("doc.txt", session_id="s1") == b"v2" * 100
        names = {e.name for e in store.events(after=0, limit=100).events}
        assert not any(n.startswith("many-") for n in names)
        doc = store.manifest("s1")
        assert not any(e["name"].startswith("many-") for e in doc["attachments"])
        assert store.fsck().ok
    finally:
        store.close()
    print(f"\n{point}: residue repaired {stats['fsck_kinds']}")


INDEX_ROUNDS = int(os.environ.get("NA_CRASH_INDEX_ROUNDS", "3"))


@pytest.mark.model
def test_kill9_during_background_indexing(tmp_path, embedder):
    """A kernel indexing in the background is killed mid-work (embedding, Chroma and FTS
    writes); afterwards the store is consistent, a new holder finishes every pending version
    and each surviving document is found by its marker word, in keyword and dense modes."""
    from notebook_artifacts import ArtifactStore

    from index_fixtures import chroma_ids

    root = tmp_path / "store"
    journals = []
    rnd = random.Random(7)
    indexed_cursor = 0
    for round_no in range(INDEX_ROUNDS):
        journal = tmp_path / f"ijournal-{round_no}.jsonl"
        journals.append(journal)
        p = subprocess.Popen([sys.executable, str(HERE / "reliability_fixtures.py"), "indexwriter",
                              str(root), str(1000 + round_no), str(journal)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        # wait until this writer has indexed something, so the kill lands in indexing work
        probe = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if p.poll() is not None:
                pytest.fail(f"index writer died: {p.stderr.read().decode()[-3000:]}")
            if root.exists() and (root / "catalog.sqlite3").exists():
                probe = probe or ArtifactStore(root, index=False)
                if probe.events(after=indexed_cursor, limit=1, types="indexed").events:
                    break
            time.sleep(0.2)
        time.sleep(rnd.uniform(0.0, 1.5))
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        p.stderr.close()
        if probe:
            probe.close()
        records = [r for j in journals for r in read_journal(j)]
        check_store(root, expect_present=acknowledged_live(records))

        store = ArtifactStore(root)  # the new holder
        try:
            assert store.wait_indexed(240), "pending versions were never indexed after the crash"
            live = [a for a in store.list(namespace="crash", limit=200).artifacts]
            markers = {r["artifact_id"]: r["marker"] for r in records
                       if r.get("phase") == "done" and r["op"] == "put"}
            for a in live:
                assert a.status == "indexed" and a.chunk_count >= 1, (a.name, a.status, a.index_error)
                marker = markers.get(a.artifact_id)
                if marker is None:
                    continue  # put committed but never acknowledged before the kill
                hits = store.query(marker, k=3, namespace="crash", mode="keyword")
                assert a.artifact_id in [h.artifact.artifact_id for h in hits.results], marker
                assert chroma_ids(store, a.artifact_id), f"{a.name}: no vectors in Chroma"
            indexed_cursor = store.latest_cursor()
        finally:
            store.close()
    print(f"\nindex crash rounds survived: {INDEX_ROUNDS}")
