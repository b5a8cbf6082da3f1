"""Shared helpers of the reliability suites (crash, concurrency, faults, state machine).

Two parts:

* ``check_store(root)``: opens a store directory the way a user would after a crash and proves
  it holds: ``fsck`` is clean (or repair makes it so, fixing only what a crash may leave
  behind), every version's bytes match its sha256, version chains are right, no temp file
  is left and the event log has no holes.
* a writer process (``python tests/reliability_fixtures.py writer ROOT SEED JOURNAL``) that
  does random puts (small, some with a 1 s TTL, and large; bytes/paths/streams), updates,
  deletes and gc, and journals each operation before and after it with fsync, so a test can
  kill it with SIGKILL at any moment and then know what was acknowledged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: fsck problem kinds a SIGKILL may legitimately leave behind (a blob written whose catalog
#: row never committed, a temp file mid-write). Anything else after a crash is a bug.
CRASH_RESIDUE_KINDS = {"temp_file", "orphan_blob", "stale_lock", "pending_index"}

#: Names of files a store directory may hold outside blobs/ and index/ (catalog + WAL).
CATALOG_FILES = re.compile(r"^catalog\.sqlite3(-wal|-shm|-journal)?$")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Reading everything back through the public API
# --------------------------------------------------------------------------------------


def all_latest(store, **scope) -> list:
    """Every artifact of a listing (all pages, expired included), via the public cursor."""
    out, cursor, seen_pages = [], None, 0
    while True:
        page = store.list(include_expired=True, limit=200, cursor=cursor, **scope)
        out.extend(page.artifacts)
        seen_pages += 1
        assert seen_pages < 10_000, "listing cursor never ends"
        if not page.has_more:
            break
        assert page.next_cursor, "has_more without next_cursor"
        cursor = page.next_cursor
    return out


def all_versions(store) -> list:
    """Every stored version of every artifact in the store (expired ones included), each once.

    The listing only says which lineages exist; each lineage's versions then come from one
    ``versions(include_expired=True)`` call, a consistent snapshot of that lineage. (Records
    of the listing itself may be stale by then: a 1 s TTL can run out between the two reads.)
    """
    out, seen_roots = [], set()
    for art in all_latest(store):
        if art.root_artifact_id in seen_roots:
            continue
        seen_roots.add(art.root_artifact_id)
        out.extend(store.versions(art.artifact_id, include_expired=True))
    return out


def all_events(store, page_size: int = 100) -> tuple[list, bool]:
    """The whole retained event log, following ``next_cursor``; returns (events, gap_seen)."""
    events, after, gap = [], 0, False
    for _ in range(100_000):
        page = store.events(after=after, limit=page_size)
        gap = gap or bool(page.gap)
        events.extend(page.events)
        if page.events:
            assert page.next_cursor >= page.events[-1].cursor
        if not page.has_more:
            break
        assert page.next_cursor > after, "events cursor did not advance"
        after = page.next_cursor
    return events, gap


def stray_files(root: Path) -> list[str]:
    """Files under ``root`` that no consistent store should hold (temp files, partial blobs)."""
    bad = []
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        parts = rel.parts
        if parts[:1] == ("index",):
            continue  # Chroma's own directory; checked by reindex tests
        for fn in filenames:
            p = rel / fn
            if parts[:2] == ("blobs", "sha256") and len(parts) == 3:
                if HEX64.match(fn) and fn[:2] == parts[2]:
                    continue
                bad.append(str(p))
                continue
            low = fn.lower()
            if parts[:2] == ("blobs", "tmp") or "tmp" in low or low.endswith((".part", ".partial", ".temp")) or low.startswith(".~"):
                bad.append(str(p))
    return bad


def check_store(root, *, clock=None, repair: bool = True, allowed_kinds=CRASH_RESIDUE_KINDS,
                expect_present: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """Open ``root`` and prove it consistent; returns figures for the caller's report.

    ``expect_present``: (artifact_id, sha256) pairs that must still be readable.
    """
    from notebook_artifacts import ArtifactStore

    kwargs = {"index": False}
    if clock is not None:
        kwargs["clock"] = clock
    store = ArtifactStore(root, **kwargs)
    try:
        report = store.fsck()
        kinds = sorted({p.kind for p in report.problems})
        if not report.ok:
            unexpected = [p for p in report.problems if p.kind not in allowed_kinds]
            assert not unexpected, f"fsck after crash found real damage: {unexpected}"
            assert repair, f"fsck not clean: {report.problems}"
            store.fsck(repair=True)
            again = store.fsck()
            assert again.ok, f"fsck(repair=True) did not make the store clean: {again.problems}"
        strays = stray_files(Path(root))
        young = [Path(root) / p for p in strays if p.startswith("blobs/tmp/") and p.endswith(".new")]
        if young:
            # a writer killed between creating its temp file and locking it leaves an empty
            # "*.new" file, which gc/fsck leave alone for a grace period (a live writer holds it
            # unlocked for microseconds). Its writer is dead: let the grace pass, repair again.
            from notebook_artifacts.storage import blobs as blobs_mod

            for p in young:
                assert p.stat().st_size == 0, f"{p} holds data before its writer locked it"
                old_t = time.time() - blobs_mod._RESERVING_GRACE - 1
                os.utime(p, (old_t, old_t))
            store.fsck(repair=True)
            strays = stray_files(Path(root))
        assert not strays, f"temp/partial files left after fsck: {strays}"

        versions = all_versions(store)
        by_lineage: dict[str, list] = defaultdict(list)
        for v in versions:
            data = store.read_bytes(v.artifact_id)
            assert sha256_bytes(data) == v.sha256, f"{v.artifact_id}: bytes do not match sha256"
            assert len(data) == v.size_bytes, f"{v.artifact_id}: size_bytes wrong"
            by_lineage[v.root_artifact_id].append(v)
        for lineage in by_lineage.values():
            check_version_chain(lineage)
        ids = [v.artifact_id for v in versions]
        assert len(ids) == len(set(ids)), "a version listed twice"

        present = {v.artifact_id: v.sha256 for v in versions}
        for art_id, sha in expect_present:
            assert present.get(art_id) == sha, f"acknowledged put {art_id} lost after crash"

        events, gap = all_events(store)
        check_event_log(events, gap)
        return {"versions": len(versions), "events": len(events), "fsck_kinds": kinds,
                "lineages": len(by_lineage)}
    finally:
        close = getattr(store, "close", None)
        if close:
            close()


def check_version_chain(versions: list) -> None:
    """Versions of one lineage: distinct numbers, one latest (the highest), replaced_by right."""
    vs = sorted(versions, key=lambda a: a.version)
    nums = [a.version for a in vs]
    assert len(nums) == len(set(nums)), f"duplicate version numbers {nums}"
    assert all(n >= 1 for n in nums), nums
    names = {(a.namespace, a.session_id, a.name) for a in vs}
    assert len(names) == 1, f"one lineage spans several names: {names}"
    assert all(a.root_artifact_id == vs[0].root_artifact_id for a in vs)
    # expired versions (TTL passed, not yet collected by gc) are never the latest; the chain
    # rules hold for the live ones
    assert not any(a.is_latest for a in vs if a.is_expired), [(a.version, a.is_latest) for a in vs]
    vs = [a for a in vs if not a.is_expired]
    if not vs:
        return
    latest = [a for a in vs if a.is_latest]
    assert len(latest) == 1 and latest[0] is vs[-1], (
        f"is_latest must mark exactly the highest version: {[(a.version, a.is_latest) for a in vs]}")
    assert vs[-1].replaced_by_version is None
    for older, newer in zip(vs, vs[1:]):
        assert older.replaced_by_version is not None and older.replaced_by_version > older.version, (
            older.version, older.replaced_by_version)
    assert all(a.root_artifact_id == vs[0].root_artifact_id for a in vs)


def check_event_log(events: list, gap: bool) -> None:
    cursors = [e.cursor for e in events]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors), "cursors not increasing"
    if cursors and not gap:
        holes = [(a, b) for a, b in zip(cursors, cursors[1:]) if b != a + 1]
        assert not holes, f"event log has holes: {holes[:5]}"


# --------------------------------------------------------------------------------------
# The writer process killed by the crash test
# --------------------------------------------------------------------------------------


class Journal:
    """Append-only JSON lines, fsynced, so what was acknowledged survives our own SIGKILL."""

    def __init__(self, path: Path, writer: int = 0):
        self.f = open(path, "a", buffering=1)
        self.writer = writer
        self.seq = 0

    def write(self, **rec) -> None:
        rec.setdefault("ts", time.time())
        rec["writer"] = self.writer
        if rec.get("phase") == "begin":
            self.seq += 1
        rec["seq"] = self.seq
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())


def read_journal(path: Path) -> list[dict]:
    out = []
    if not Path(path).exists():
        return out
    for line in Path(path).read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # torn last line: the op was never acknowledged
    return out


def acknowledged_live(journal: list[dict]) -> list[tuple[str, str]]:
    """(artifact_id, sha256) of acknowledged puts that no delete (nor TTL) can have removed.

    Records come from several writers' journals (each record stamped with ``ts`` when it was
    written, ``writer`` and a per-writer ``seq``); they are put in time order first, so the
    answer does not depend on the order the journals were read in. A delete of a key may
    remove a put of that key unless the delete finished before the put began (a killed delete
    never finished). A one-version delete names its target by number and the store resolves
    the name when it runs: if another writer meanwhile deleted the lineage and a new one began,
    the same number names a new version, so it threatens every put of that key and number.
    """
    records = sorted(journal, key=lambda r: (r.get("ts", 0.0), r.get("writer", 0), r.get("seq", 0),
                                             r.get("phase") != "begin"))
    deletes: dict[tuple[int, int], dict] = {}
    for rec in records:
        if rec["op"] != "delete":
            continue
        k = (rec["writer"], rec["seq"])
        if rec.get("phase") == "begin":
            deletes[k] = dict(rec, end=float("inf"))
        elif rec.get("phase") == "done" and k in deletes:
            deletes[k]["end"] = rec["ts"]
    out = []
    for rec in records:
        if rec.get("phase") != "done" or rec["op"] != "put" or rec.get("ttl"):
            continue  # a version with a TTL may have expired and been collected by gc
        threatened = any(
            d["key"] == rec["key"] and d["end"] >= rec["t_begin"]
            and (d.get("version") is None or d.get("artifact_id") == rec["artifact_id"]
                 or d.get("version") == rec.get("version"))
            for d in deletes.values()
        )
        if not threatened:
            out.append((rec["artifact_id"], rec["sha256"]))
    return out


def _writer(root: str, seed: int, journal_path: str, scratch: str, use_index: bool) -> None:
    from notebook_artifacts import ArtifactStore

    rnd = random.Random(seed)
    journal = Journal(Path(journal_path), writer=seed)
    store = ArtifactStore(root, index=use_index)
    names = [f"doc{i}.txt" for i in range(6)] + ["data/big.bin", "report.md"]
    sessions = [None, "s1"]
    scratch_dir = Path(scratch)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    i = 0
    while True:
        i += 1
        r = rnd.random()
        name = rnd.choice(names)
        session = rnd.choice(sessions)
        key = f"{session}/{name}"
        if r < 0.45:
            data = f"{seed}-{i} ".encode() + rnd.randbytes(rnd.randint(0, 4000))
            ttl = 1 if rnd.random() < 0.2 else None  # expires soon: swept and purged by gc
            t_begin = time.time()
            journal.write(phase="begin", op="put", key=key)
            a = store.put(data, name, namespace="crash", session_id=session, ttl=ttl,
                          tags=[f"t{i % 3}"], metadata={"i": i, "seed": seed}, index=use_index)
            journal.write(phase="done", op="put", key=key, artifact_id=a.artifact_id,
                          sha256=a.sha256, version=a.version, t_begin=t_begin, ttl=ttl)
        elif r < 0.60:
            size = rnd.randint(1, 24) * 1024 * 1024 + rnd.randint(0, 4095)
            src = scratch_dir / f"big-{seed}-{i}.bin"
            with open(src, "wb") as f:
                f.write(os.urandom(size))
            t_begin = time.time()
            journal.write(phase="begin", op="put", key=key)
            if rnd.random() < 0.5:
                a = store.put(src, name, namespace="crash", session_id=session, index=False)
            else:
                with open(src, "rb") as fobj:
                    a = store.put(fobj, name, namespace="crash", session_id=session, index=False)
            journal.write(phase="done", op="put", key=key, artifact_id=a.artifact_id,
                          sha256=a.sha256, version=a.version, t_begin=t_begin)
            src.unlink()
        elif r < 0.70:
            journal.write(phase="begin", op="update", key=key)
            try:
                store.update(name, namespace="crash", session_id=session, add_tags=[f"u{i}"])
            except Exception as e:  # NotFoundError when the name is absent
                if type(e).__name__ != "NotFoundError":
                    raise
            journal.write(phase="done", op="update", key=key)
        elif r < 0.82:
            try:
                vs = store.versions(name, namespace="crash", session_id=session)
            except Exception as e:
                if type(e).__name__ != "NotFoundError":
                    raise
                continue
            if not vs:
                continue
            try:  # another writer may delete the same name first: NotFoundError is fine
                if rnd.random() < 0.5:
                    v = rnd.choice(vs)
                    journal.write(phase="begin", op="delete", key=key, version=v.version,
                                  artifact_id=v.artifact_id)
                    store.delete(name, version=v.version, namespace="crash", session_id=session)
                else:
                    journal.write(phase="begin", op="delete", key=key, version=None)
                    store.delete(name, namespace="crash", session_id=session)
            except Exception as e:
                if type(e).__name__ != "NotFoundError":
                    raise
            journal.write(phase="done", op="delete", key=key)
        elif r < 0.90:
            journal.write(phase="begin", op="gc")
            store.gc()
            journal.write(phase="done", op="gc")
        else:
            journal.write(phase="begin", op="list")
            store.list(namespace="crash", limit=20)
            store.events(after=0, limit=20)
            journal.write(phase="done", op="list")


WORDS = ("river stone lantern harvest copper meadow signal archive compass ember glacier "
         "orchard beacon canyon thistle").split()


def _index_writer(root: str, seed: int, journal_path: str) -> None:
    """Puts bursts of Markdown documents, indexed in the background by this process, until
    killed. After each burst it waits for the indexer, so the work pending at the kill stays
    bounded (a few versions) and the kill lands in indexing work or between bursts."""
    from notebook_artifacts import ArtifactStore

    rnd = random.Random(seed)
    journal = Journal(Path(journal_path), writer=seed)
    store = ArtifactStore(root)
    i = 0
    while True:
        for _ in range(rnd.randint(2, 6)):
            i += 1
            name = f"notes{i % 4}.md"
            key = f"None/{name}"
            body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(50, 400)))
            text = f"# Notes {seed} {i}\n\nMarker zq{seed}x{i}q.\n\n{body}\n"
            t_begin = time.time()
            journal.write(phase="begin", op="put", key=key)
            a = store.put(text, name, namespace="crash")
            journal.write(phase="done", op="put", key=key, artifact_id=a.artifact_id,
                          sha256=a.sha256, version=a.version, t_begin=t_begin,
                          marker=f"zq{seed}x{i}q")
            if i % 7 == 0:
                journal.write(phase="begin", op="delete", key=key, version=None)
                store.delete(name, namespace="crash")
                journal.write(phase="done", op="delete", key=key)
        store.wait_indexed(120)
        time.sleep(rnd.uniform(0, 0.2))


if __name__ == "__main__":  # python tests/reliability_fixtures.py writer ROOT SEED JOURNAL SCRATCH [index]
    if sys.argv[1] == "indexwriter":
        _index_writer(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "writer":
        _writer(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
                len(sys.argv) > 6 and sys.argv[6] == "index")
