"""Copy an embedded catalog (SQLite) into a shared one (PostgreSQL), and local blobs to
object storage, then verify the copies.

Everything goes in one transaction on the target, so a failed copy leaves it as it was:
the catalog's tables (lineages, versions with their ``seq``, sessions, events with their
cursors, blob pins, meta) and the tables other components registered (the index's chunks,
cached vectors, sources and state: nothing is embedded again). The target must be empty.
Verification re-reads both sides: every row of every table, compared as values.
Blobs (:func:`copy_blobs`) are uploaded under their digest, so copying again converges; the
check then reads every referenced blob back from the target and hashes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError, InvalidInputError
from .blobs import Blobs
from .catalog import Catalog
from .events import notify

__all__ = ["CATALOG_TABLES", "TableCopy", "MigrationReport", "migrate_catalog", "copy_blobs"]

#: copied in this order (sessions after versions: the target's triggers then find no session
#: to bump, and the copied generations stay as they were)
CATALOG_TABLES = ("lineages", "artifact_versions", "sessions", "events", "blob_pins", "meta")
#: identity columns whose sequence must continue after the copied values
_IDENTITY = {"artifact_versions": "seq", "idx_chunks": "id"}
_SKIP_META = {"schema_version"}


@dataclass
class TableCopy:
    """How one table is copied and checked.

    ``order_by``: columns that order the rows on both sides. A component whose target table
    differs (the index computes a tsvector from text kept elsewhere in SQLite) gives
    ``source_sql`` (what to read), ``insert_sql`` and ``transform`` (row -> parameters), and
    ``compare``: the columns verified (default: all read).
    """

    name: str
    order_by: str
    source_sql: str | None = None
    insert_sql: str | None = None
    transform: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None
    compare: Sequence[str] | None = None


@dataclass
class MigrationReport:
    rows: dict[str, int] = field(default_factory=dict)
    verified: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"rows": dict(self.rows), "verified": self.verified}


def _catalog_copies() -> list[TableCopy]:
    keys = {"lineages": "root_artifact_id", "artifact_versions": "seq",
            "sessions": "namespace, session_id", "events": "cursor", "blob_pins": "owner",
            "meta": "key"}
    return [TableCopy(t, keys[t]) for t in CATALOG_TABLES]


def _rows(c: Any, copy: TableCopy) -> tuple[list[str], list[tuple[Any, ...]]]:
    sql = copy.source_sql or f"SELECT * FROM {copy.name}"
    cur = c.execute(f"{sql} ORDER BY {copy.order_by}")
    cols = [d[0] for d in cur.description]
    rows = [tuple(r) for r in cur.fetchall()]
    if copy.name == "meta":
        rows = [r for r in rows if r[0] not in _SKIP_META]
    return cols, rows


def _plain(v: Any) -> Any:
    return bytes(v) if isinstance(v, (bytes, bytearray, memoryview)) else v


def migrate_catalog(src: Catalog, dst: Catalog, extra: Sequence[TableCopy] = ()) -> MigrationReport:
    """Copy ``src`` into the empty ``dst`` (one transaction), then verify every row."""
    if src.shared or not dst.shared:
        raise InvalidInputError("migrate copies an embedded catalog into a PostgreSQL one")
    copies = _catalog_copies() + list(extra)
    report = MigrationReport()
    with src.read() as s, dst.db.write() as d:
        if d.execute("SELECT COUNT(*) FROM artifact_versions").fetchone()[0]:
            raise InvalidInputError(
                f"the catalog at {dst.location} already holds artifacts; migrate into an empty "
                "database (nothing was copied)")
        for copy in copies:
            cols, rows = _rows(s, copy)
            sql = copy.insert_sql or (f"INSERT INTO {copy.name}({', '.join(cols)}) "
                                      f"VALUES ({', '.join('?' * len(cols))})")
            if copy.name == "meta":
                sql += " ON CONFLICT (key) DO UPDATE SET value=excluded.value"
            shape = copy.transform or (lambda r: r)
            if rows:
                d.executemany(sql, [tuple(_plain(v) for v in shape(r)) for r in rows])
            report.rows[copy.name] = len(rows)
            ident = _IDENTITY.get(copy.name)
            if ident and rows:
                d.execute(f"SELECT setval(pg_get_serial_sequence('{copy.name}', '{ident}'), "
                          f"(SELECT MAX({ident}) FROM {copy.name}))")
        top = s.execute("SELECT seq FROM sqlite_sequence WHERE name='events'").fetchone()
        d.execute("UPDATE counters SET value=? WHERE key='events'", (int(top[0]) if top else 0,))
        notify(d)
    _verify(src, dst, copies)
    report.verified = True
    return report


def _verify(src: Catalog, dst: Catalog, copies: Sequence[TableCopy]) -> None:
    with src.read() as s, dst.read() as d:
        for copy in copies:
            cols, want = _rows(s, copy)
            check = list(copy.compare or cols)
            idx = [cols.index(c) for c in check]
            sel = ", ".join(check)
            got = [tuple(r) for r in d.execute(
                f"SELECT {sel} FROM {copy.name} ORDER BY {copy.order_by}").fetchall()]
            if copy.name == "meta":
                got = [r for r in got if r[check.index("key")] not in _SKIP_META]
            want = [tuple(_plain(r[i]) for i in idx) for r in want]
            got = [tuple(_plain(v) for v in r) for r in got]
            if got != want:
                bad = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
                raise IntegrityError(
                    f"migration check failed on table {copy.name}: {len(want)} rows in the source, "
                    f"{len(got)} in the target, first difference at row {bad}; the target "
                    "transaction committed, so drop that database and run migrate again")


def copy_blobs(src: Blobs, dst: Blobs, referenced: set[str]) -> tuple[int, int]:
    """Copy every blob of ``src`` to ``dst`` (skipping those already there with the same
    size), then check each ``referenced`` digest on ``dst`` by reading and hashing it;
    returns ``(blobs uploaded, bytes uploaded)``. Nothing is removed from ``src``."""
    uploaded = nbytes = 0
    for entry in src.iter_blobs():
        digest = entry.digest
        if digest is None or dst.size(digest) == src.size(digest):
            continue
        with src.open(digest) as f:  # checked against its digest as it is read
            staged = dst.stage_stream(f)
        try:
            dst.commit(staged)
        finally:
            dst.discard(staged)
        uploaded += 1
        nbytes += staged.size
    for digest in sorted(referenced):
        if not dst.verify(digest):
            raise IntegrityError(
                f"blob copy check failed: {digest[:12]}... is missing or differs at "
                f"{dst.location(digest)}; run migrate again (copied blobs are kept)")
    return uploaded, nbytes
