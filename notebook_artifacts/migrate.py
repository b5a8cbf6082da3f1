"""``notebook-artifacts migrate``: move an embedded store onto shared backends.

Each part is copied and then verified, in the order that keeps a failed run harmless:

1. ``to_blobs`` (an fsspec URL such as ``s3://bucket/prefix``): every blob, uploaded under its
   digest (running again uploads only what is missing); each one the catalog references is
   then read back and hashed.
2. ``to_index_url`` (a Chroma server): the vectors of the embedded index (``<root>/index``),
   ids and metadata as they are; each is then read back and compared. Nothing is embedded.
3. ``to_catalog`` (a PostgreSQL URL naming an empty database): versions, lineages, tags,
   sessions, events (same cursors), blob pins and the index's tables (chunks, keyword
   entries, cached vectors, sources) in one transaction, then every row is compared.

Nothing under ``root`` is changed or removed: the embedded store still works as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import IndexUnavailableError, InvalidInputError
from .storage.blobs import BlobStore, open_blobs
from .storage.catalog import Catalog
from .storage.migrate import MigrationReport, copy_blobs, migrate_catalog

__all__ = ["migrate_store", "migrate_to_catalog"]


def migrate_store(root: str | os.PathLike[str], *, to_catalog: str | None = None,
                  to_blobs: str | None = None, to_index_url: str | None = None
                  ) -> MigrationReport:
    """Copy the embedded store at ``root`` to the shared backends given, verifying each;
    returns the rows (and blobs, vectors) copied."""
    if not (to_catalog or to_blobs or to_index_url):
        raise InvalidInputError("give where to migrate: --to-catalog URL, --to-blobs URL "
                                "and/or --to-index-url URL")
    root = Path(root).expanduser()
    if not (root / "catalog.sqlite3").is_file():
        raise InvalidInputError(f"no embedded store at {root} (no catalog.sqlite3): give --root")
    report = MigrationReport()
    if to_blobs:
        src = Catalog(root)
        try:
            referenced = src.referenced_digests()
        finally:
            src.close()
        dst = open_blobs(root, to_blobs)
        report.rows["blobs"], report.rows["blob_bytes"] = copy_blobs(BlobStore(root), dst,
                                                                     referenced)
    if to_index_url:
        report.rows["vectors"] = _copy_vectors(root, to_index_url)
    if to_catalog:
        copied = migrate_to_catalog(root, to_catalog)
        report.rows.update(copied.rows)
    report.verified = True
    return report


def _copy_vectors(root: Path, url: str) -> int:
    if not (root / "index").is_dir():
        return 0
    from .index.vectors import IndexLock, copy_collections

    lock = IndexLock(root / "index.lock")
    if not lock.try_acquire():
        raise IndexUnavailableError(
            f"another process (a kernel or `serve`) holds the index of {root}: stop it, "
            "then run migrate again")
    try:
        return sum(copy_collections(root / "index", url).values())
    finally:
        lock.release()


def migrate_to_catalog(root: str | os.PathLike[str], to_catalog: str) -> MigrationReport:
    """Copy the embedded catalog of the store at ``root`` into ``to_catalog`` (a PostgreSQL
    URL naming an empty database) and verify it; returns the rows copied per table."""
    root = Path(root).expanduser()
    if not (root / "catalog.sqlite3").is_file():
        raise InvalidInputError(f"no embedded store at {root} (no catalog.sqlite3): give --root")
    src = Catalog(root)
    try:
        dst = Catalog(root, to_catalog)
        try:
            extra = []
            with src.read() as c:
                has_index = src.db.has_table(c, "idx_chunks")
            if has_index:
                from .index._db import IndexDB

                source_index = IndexDB(src.component_db())
                IndexDB(dst.component_db())  # creates the index's tables in the target
                extra = source_index.table_copies()
                source_index.close()
            return migrate_catalog(src, dst, extra)
        finally:
            dst.close()
    finally:
        src.close()
