"""What one put writes to the catalog: every B-tree it touches is a 4 KiB page in the WAL and
again in the checkpoint, so the size and status indexes hold only the rows they are searched
for (schema 5), and stores made before are migrated when opened."""

from __future__ import annotations

import sqlite3

from notebook_artifacts import ArtifactStore
from notebook_artifacts.storage.blobs import SMALL_FILE
from notebook_artifacts.storage.catalog import SCHEMA_VERSION

WAL_HEADER, FRAME = 32, 4096 + 24


def _indexes(db) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='artifact_versions' "
            "AND sql IS NOT NULL")}


def _plan(db, sql: str, params=()) -> str:
    with sqlite3.connect(db) as c:
        return " ".join(r[-1] for r in c.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_a_small_put_writes_at_most_twelve_wal_pages(tmp_path):
    """Before schema 5 a binary put of 1 KiB wrote 14.3 pages on average (two of them to
    indexes no query of it needs)."""
    with ArtifactStore(tmp_path / "store", index=False) as store:
        for i in range(200):  # B-trees of a store in use, not of an empty one
            store.put(bytes([i % 256]) * 1024 + i.to_bytes(4, "big"), f"warm/{i:04d}.bin")
        db = store.root / "catalog.sqlite3"
        wal = db.with_name("catalog.sqlite3-wal")
        with sqlite3.connect(db) as c:  # empty the WAL: what follows is these puts' alone
            assert c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
        assert wal.stat().st_size == 0
        for i in range(50):  # 50 x 12 pages stay under SQLite's 1,000-page checkpoint
            store.put(bytes([i]) * 1000 + b"payload" * 4, f"item/{i:04d}.bin")
        pages = (wal.stat().st_size - WAL_HEADER) / FRAME / 50
    assert pages <= 12.5, f"{pages:.1f} WAL pages per small put"


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
        assert store._catalog.get_meta("schema_version") == str(SCHEMA_VERSION) == "5"
        assert [v.artifact_id for v in store.versions("doc.txt")] == [a.artifact_id for a in kept]
        assert store.read_bytes("doc.txt") == b"v2"
        assert store.put(b"v3", "doc.txt").version == 4
        assert store.fsck().ok
    assert {"av_size_large", "av_pending"} <= _indexes(db)
    assert not {"av_size", "av_status"} & _indexes(db)
