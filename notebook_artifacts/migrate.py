"""``notebook-artifacts migrate``: move an embedded store's catalog to a shared PostgreSQL one.

Copies versions, lineages, tags, sessions, events (same cursors), blob pins and the index's
tables (chunks, keyword entries, cached vectors, sources: nothing is embedded again) in one
transaction, then verifies every row. The content files stay where they are (``root``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InvalidInputError
from .storage.catalog import Catalog
from .storage.migrate import MigrationReport, migrate_catalog

__all__ = ["migrate_to_catalog"]


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
