"""What one put writes to the catalog. Every B-tree a commit touches is one whole page in the
WAL and again at the checkpoint, so: the size and status indexes hold only the rows they are
searched for (schema 5); a lineage is one B-tree keyed by its name (schema 6); a new catalog
has 2 KiB pages; artifact ids sort by time, so new ones are appended to their indexes. Stores
made before are migrated when opened (and keep their page size)."""

from __future__ import annotations

import re
import sqlite3

from notebook_artifacts import ArtifactStore
from notebook_artifacts.storage._sql import PAGE_SIZE
from notebook_artifacts.storage.blobs import SMALL_FILE
from notebook_artifacts.storage.catalog import SCHEMA_VERSION, new_artifact_id

from store_fixtures import FakeClock

WAL_HEADER, FRAME_HEADER = 32, 24


def _indexes(db) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='artifact_versions' "
            "AND sql IS NOT NULL")}


def _plan(db, sql: str, params=()) -> str:
    with sqlite3.connect(db) as c:
        return " ".join(r[-1] for r in c.execute("EXPLAIN QUERY PLAN " + sql, params))


def _page_size(db) -> int:
    with sqlite3.connect(db) as c:
        return c.execute("PRAGMA page_size").fetchone()[0]


def test_a_small_put_writes_at_most_26_kib_to_the_wal(tmp_path):
    """A binary put of 1 KiB wrote 14.3 pages of 4 KiB before schema 5 (59 KiB), 12.5 before
    schema 6 and 2 KiB pages (51 KiB); the checkpoint writes them out again."""
    with ArtifactStore(tmp_path / "store", index=False) as store:
        for i in range(200):  # B-trees of a store in use, not of an empty one
            store.put(bytes([i % 256]) * 1024 + i.to_bytes(4, "big"), f"item/a{i:04d}.bin")
        db = store.root / "catalog.sqlite3"
        wal = db.with_name("catalog.sqlite3-wal")
        with sqlite3.connect(db) as c:  # empty the WAL: what follows is these puts' alone
            assert c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        assert wal.stat().st_size == 0
        for i in range(50):  # 50 puts stay under SQLite's 1,000-page checkpoint
            store.put(bytes([i]) * 1000 + b"payload" * 4, f"item/b{i:04d}.bin")
        assert _page_size(db) == PAGE_SIZE == 2048
        frames = (wal.stat().st_size - WAL_HEADER) / (PAGE_SIZE + FRAME_HEADER) / 50
    assert frames * PAGE_SIZE <= 26 * 1024, f"{frames:.1f} WAL pages of {PAGE_SIZE} bytes a put"


def test_a_lineage_is_one_btree_keyed_by_its_name(tmp_path):
    with ArtifactStore(tmp_path / "store", index=False) as store:
        store.put(b"x", "x.bin")
        with sqlite3.connect(store.root / "catalog.sqlite3") as c:
            sql = c.execute("SELECT sql FROM sqlite_master WHERE name='lineages'").fetchone()[0]
            extra = c.execute("SELECT name FROM sqlite_master WHERE tbl_name='lineages' "
                              "AND type='index'").fetchall()
    assert "WITHOUT ROWID" in sql and "PRIMARY KEY (namespace, session_key, name)" in sql
    assert extra == []  # no second key to write


def test_a_name_deleted_or_expired_and_collected_starts_again_at_version_1(tmp_path):
    clock = FakeClock()
    with ArtifactStore(tmp_path / "store", index=False, clock=clock) as store:
        for _ in range(3):
            store.put(b"a", "gone.txt", session_id="s1")
            store.put(b"b", "brief.txt", ttl=60)
            store.put(b"c", "kept.txt")
        store.delete("gone.txt", session_id="s1")
        clock.advance(61)
        assert store.gc().expired_versions == 3
        assert store.put(b"a2", "gone.txt", session_id="s1").version == 1
        assert store.put(b"b2", "brief.txt").version == 1
        assert store.put(b"c2", "kept.txt").version == 4
        assert store.fsck().ok
        with sqlite3.connect(store.root / "catalog.sqlite3") as c:
            assert c.execute("SELECT COUNT(*) FROM lineages").fetchone()[0] == 3


def test_artifact_ids_made_later_sort_later(tmp_path):
    ids = [new_artifact_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"art_[0-9a-f]{24}", i) for i in ids)
    assert [i[:16] for i in ids] == sorted(i[:16] for i in ids)  # the time part never goes back
    with ArtifactStore(tmp_path / "store", index=False) as store:
        made = [store.put(f"v{i}".encode(), f"n{i % 7}.txt").artifact_id for i in range(40)]
        assert [a.artifact_id for a in store.list(limit=100)]  # found by id as before
        assert all(store.get(i).artifact_id == i for i in made)


def test_a_catalog_with_4_kib_pages_keeps_them_and_works(tmp_path):
    root = tmp_path / "store"
    with ArtifactStore(root, index=False) as store:
        store.put(b"v0", "doc.txt")
    db = root / "catalog.sqlite3"
    c = sqlite3.connect(db, isolation_level=None)  # as a store made before 2 KiB pages
    c.execute("PRAGMA journal_mode=DELETE")
    c.execute("PRAGMA page_size=4096")
    c.execute("VACUUM")
    c.execute("PRAGMA journal_mode=WAL")
    c.close()
    assert _page_size(db) == 4096
    with ArtifactStore(root, index=False) as store:
        assert store.put(b"v1", "doc.txt").version == 2
        assert store.read_bytes("doc.txt") == b"v1"
        assert store.fsck().ok
    assert _page_size(db) == 4096


def test_the_searches_use_the_partial_indexes(tmp_path):
    with ArtifactStore(tmp_path / "store", index=False) as store:
        store.put(b"x", "x.bin")
        db = store.root / "catalog.sqlite3"
        assert {"av_size_large", "av_pending"} <= _indexes(db)
        assert not {"av_size", "av_status"} & _indexes(db)
        # the queries the catalog runs: a large file's possible twin, and pending index jobs
        assert "av_size_large" in _plan(
            db, f"SELECT 1 FROM artifact_versions WHERE size_bytes=? AND size_bytes > {SMALL_FILE} "
            "LIMIT 1", (SMALL_FILE + 10,))
        assert "av_pending" in _plan(
            db, "SELECT * FROM artifact_versions WHERE status='pending' AND is_expired=0 "
            "ORDER BY seq LIMIT ?", (10,))


def test_large_twins_are_still_found_and_pending_jobs_listed(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x07" * (SMALL_FILE + 4096))
    with ArtifactStore(tmp_path / "store", index=False) as store:
        assert not store._catalog.has_size(SMALL_FILE + 4096)
        store.put(big, "big.bin")
        assert store._catalog.has_size(SMALL_FILE + 4096)
        assert not store._catalog.has_size(SMALL_FILE + 4095)
        a = store.put(b"notes", "notes.txt")
        assert store._catalog.pending_index_jobs() == []  # stored without the index: skipped
        assert store._catalog.mark_pending([a.artifact_id]) == 1
        assert [j.artifact_id for j in store._catalog.pending_index_jobs()] == [a.artifact_id]


def test_a_store_of_schema_4_is_migrated_when_opened(tmp_path):
    root = tmp_path / "store"
    with ArtifactStore(root, index=False) as store:
        kept = [store.put(f"v{i}".encode(), "doc.txt") for i in range(3)]
    db = root / "catalog.sqlite3"
    with sqlite3.connect(db) as c:  # as version 4 left it
        c.executescript(
            "DROP INDEX av_size_large; DROP INDEX av_pending;"
            "CREATE INDEX av_size ON artifact_versions(size_bytes);"
            "CREATE INDEX av_status ON artifact_versions(status, seq);"
            "UPDATE meta SET value='4' WHERE key='schema_version';")
    with ArtifactStore(root, index=False) as store:
        assert store._catalog.get_meta("schema_version") == str(SCHEMA_VERSION) == "6"
        assert [v.artifact_id for v in store.versions("doc.txt")] == [a.artifact_id for a in kept]
        assert store.read_bytes("doc.txt") == b"v2"
        assert store.put(b"v3", "doc.txt").version == 4
        assert store.fsck().ok
    assert {"av_size_large", "av_pending"} <= _indexes(db)
    assert not {"av_size", "av_status"} & _indexes(db)


def test_a_store_of_schema_5_gets_lineages_keyed_by_name(tmp_path):
    root = tmp_path / "store"
    with ArtifactStore(root, index=False) as store:
        kept = [store.put(f"v{i}".encode(), "doc.txt", session_id="s1") for i in range(3)]
        other = store.put(b"o", "other.bin")
    db = root / "catalog.sqlite3"
    with sqlite3.connect(db) as c:  # lineages as version 5 left them
        c.executescript(
            "CREATE TABLE old_lineages (root_artifact_id TEXT PRIMARY KEY, namespace TEXT NOT NULL,"
            " session_key TEXT NOT NULL, name TEXT NOT NULL, last_version INTEGER NOT NULL,"
            " created_at TEXT NOT NULL, UNIQUE (namespace, session_key, name));"
            "INSERT INTO old_lineages SELECT root_artifact_id, namespace, session_key, name,"
            " last_version, created_at FROM lineages;"
            "DROP TABLE lineages; ALTER TABLE old_lineages RENAME TO lineages;"
            "UPDATE meta SET value='5' WHERE key='schema_version';")
    with ArtifactStore(root, index=False) as store:
        assert store._catalog.get_meta("schema_version") == "6"
        assert [v.artifact_id for v in store.versions("doc.txt", session_id="s1")] == [
            a.artifact_id for a in kept]
        nxt = store.put(b"v3", "doc.txt", session_id="s1")
        assert (nxt.version, nxt.root_artifact_id) == (4, kept[0].root_artifact_id)
        store.delete("other.bin")
        assert store.put(b"o2", "other.bin").root_artifact_id != other.root_artifact_id
        assert store.fsck().ok
    with sqlite3.connect(db) as c:
        assert "WITHOUT ROWID" in c.execute(
            "SELECT sql FROM sqlite_master WHERE name='lineages'").fetchone()[0]
        assert c.execute("SELECT name, last_version FROM lineages ORDER BY name").fetchall() == [
            ("doc.txt", 4), ("other.bin", 1)]
