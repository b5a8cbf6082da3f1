"""The catalog: versions, lineages, events, sessions, on SQLite (default) or PostgreSQL.

One :class:`Catalog` per store, over a :class:`~notebook_artifacts.storage._sql.Database`:
``<root>/catalog.sqlite3`` (WAL; one connection guarded by a lock, other processes open
their own) or a PostgreSQL URL (a connection pool; many machines). Every write runs in one
transaction that serialises writers (``BEGIN IMMEDIATE``, or an advisory lock), so concurrent
writers (kernels, servers, the CLI) queue instead of failing and version numbers stay
contiguous. Other components (the index) keep their own tables in the same database through
:meth:`Catalog.component_db`; the catalog never reads them.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from ..models import ARTIFACT_FIELDS, Artifact, Event, Page
from . import events as _events
from ._sql import BUSY_TIMEOUT_MS, Conn, SqliteDB, connect, open_database
from .blobs import SMALL_FILE, BlobStore, StagedBlob
from .events import append_event
from .ttl import iso_utc
from .writer_gate import WriterGate

__all__ = ["Catalog", "connect", "new_artifact_id", "BUSY_TIMEOUT_MS", "SCHEMA_VERSION"]

SCHEMA_VERSION = 6

#: the columns of a version that a session manifest lists (storage/sessions.py)
_MANIFEST_COLUMNS = ("artifact_id, name, version, is_latest, mime_type, size_bytes, sha256, source, "
                     "workspace_path, created_at")
_JSON_FIELDS = ("keywords", "tags", "metadata")
_BOOL_FIELDS = ("is_latest", "has_file", "is_pinned", "is_expired", "is_indexed")
_EXTRA_COLUMNS = ("seq", "session_key", "ext", "expires_ts", "created_ts", "workspace_path",
                  "index_claimed_by", "index_claim_until")
#: how long a claimed index job stays with its claimer before another process may take it
CLAIM_SECONDS = 600.0

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE IF NOT EXISTS lineages (
            root_artifact_id TEXT PRIMARY KEY,
            namespace TEXT NOT NULL,
            session_key TEXT NOT NULL,
            name TEXT NOT NULL,
            last_version INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (namespace, session_key, name))""",
        """CREATE TABLE IF NOT EXISTS artifact_versions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            artifact_id TEXT NOT NULL UNIQUE,
            root_artifact_id TEXT NOT NULL,
            namespace TEXT NOT NULL,
            session_key TEXT NOT NULL,
            session_id TEXT,
            workspace_id TEXT, namespace_id TEXT, thread_id TEXT,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            description TEXT, artifact_type TEXT NOT NULL,
            is_latest INTEGER NOT NULL DEFAULT 1, replaced_by_version INTEGER,
            content TEXT, content_preview TEXT, content_text TEXT,
            file_name TEXT, mime_type TEXT NOT NULL, ext TEXT NOT NULL DEFAULT '',
            size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, has_file INTEGER NOT NULL,
            summary TEXT, keywords TEXT NOT NULL DEFAULT '[]', tags TEXT NOT NULL DEFAULT '[]',
            metadata TEXT NOT NULL DEFAULT '{}',
            source TEXT, source_execution_id TEXT, source_step_id TEXT, source_tool TEXT,
            scope TEXT NOT NULL, status TEXT NOT NULL,
            ttl_seconds INTEGER, expires_at TEXT, expires_ts REAL,
            is_pinned INTEGER NOT NULL DEFAULT 0, is_expired INTEGER NOT NULL DEFAULT 0,
            is_indexed INTEGER NOT NULL DEFAULT 0, indexed_at TEXT, index_collection TEXT,
            index_error TEXT, index_attempts INTEGER NOT NULL DEFAULT 0,
            embedding_model_id TEXT, chunk_count INTEGER NOT NULL DEFAULT 0,
            promoted_to_source_id TEXT, created_by TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, created_ts REAL NOT NULL,
            workspace_path TEXT,
            UNIQUE (namespace, session_key, name, version))""",
        "CREATE INDEX IF NOT EXISTS av_root ON artifact_versions(root_artifact_id, version)",
        "CREATE INDEX IF NOT EXISTS av_scope ON artifact_versions(namespace, session_key, is_latest)",
        "CREATE INDEX IF NOT EXISTS av_sha ON artifact_versions(sha256)",
        "CREATE INDEX IF NOT EXISTS av_expiry ON artifact_versions(expires_ts) WHERE expires_ts IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS av_status ON artifact_versions(status, seq)",
        """CREATE TABLE IF NOT EXISTS events (
            cursor INTEGER PRIMARY KEY AUTOINCREMENT,
            type TEXT NOT NULL,
            artifact_id TEXT, root_artifact_id TEXT, name TEXT, version INTEGER,
            namespace TEXT NOT NULL, session_id TEXT,
            mime_type TEXT, ext TEXT, size_bytes INTEGER, sha256 TEXT,
            timestamp REAL NOT NULL, source_tool TEXT, data TEXT NOT NULL DEFAULT '{}')""",
        """CREATE TABLE IF NOT EXISTS sessions (
            namespace TEXT NOT NULL, session_id TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            closed_at TEXT, cleaned INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (namespace, session_id))""",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ],
    # 2: manifest generations, so a manifest left stale by a killed writer is rewritten on open
    2: [
        "ALTER TABLE sessions ADD COLUMN manifest_gen INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN synced_gen INTEGER NOT NULL DEFAULT 0",
        """CREATE TRIGGER IF NOT EXISTS av_manifest_ins AFTER INSERT ON artifact_versions
           WHEN NEW.session_key != '' BEGIN
             UPDATE sessions SET manifest_gen = manifest_gen + 1
             WHERE namespace = NEW.namespace AND session_id = NEW.session_key; END""",
        """CREATE TRIGGER IF NOT EXISTS av_manifest_del AFTER DELETE ON artifact_versions
           WHEN OLD.session_key != '' BEGIN
             UPDATE sessions SET manifest_gen = manifest_gen + 1
             WHERE namespace = OLD.namespace AND session_id = OLD.session_key; END""",
        """CREATE TRIGGER IF NOT EXISTS av_manifest_upd
           AFTER UPDATE OF is_latest, is_expired, source ON artifact_versions
           WHEN NEW.session_key != '' BEGIN
             UPDATE sessions SET manifest_gen = manifest_gen + 1
             WHERE namespace = NEW.namespace AND session_id = NEW.session_key; END""",
        "UPDATE sessions SET manifest_gen = 1",
    ],
    # 3: blob pins (content other components keep alive, e.g. promoted sources) and index
    # job claims (many processes share the indexing on a shared catalog)
    3: [
        "CREATE TABLE IF NOT EXISTS blob_pins (owner TEXT PRIMARY KEY, sha256 TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS blob_pins_sha ON blob_pins(sha256)",
        "ALTER TABLE artifact_versions ADD COLUMN index_claimed_by TEXT",
        "ALTER TABLE artifact_versions ADD COLUMN index_claim_until REAL",
    ],
    # 4: versions by size, so a put of a large file checks cheaply whether identical content
    # may be stored already (then it is hashed first and, when it is, never written)
    4: ["CREATE INDEX IF NOT EXISTS av_size ON artifact_versions(size_bytes)"],
    # 5: the size and status indexes hold only the rows they are searched for (files large
    # enough to be hashed before they are written; versions waiting for the indexer), so a
    # small put, or one not indexed, updates two B-trees fewer (two WAL pages of 14)
    5: ["DROP INDEX IF EXISTS av_size",
        f"CREATE INDEX IF NOT EXISTS av_size_large ON artifact_versions(size_bytes) "
        f"WHERE size_bytes > {SMALL_FILE}",
        "DROP INDEX IF EXISTS av_status",
        "CREATE INDEX IF NOT EXISTS av_pending ON artifact_versions(seq) WHERE status = 'pending'"],
    # 6: a lineage is found by its name, so it is kept in one B-tree keyed by the name
    # (WITHOUT ROWID): a put of a new name wrote three B-trees (the rows, the root id key, the
    # name key), now one; a lineage is deleted by its name too
    6: ["""CREATE TABLE lineages_by_name (
            root_artifact_id TEXT NOT NULL,
            namespace TEXT NOT NULL,
            session_key TEXT NOT NULL,
            name TEXT NOT NULL,
            last_version INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (namespace, session_key, name)) WITHOUT ROWID""",
        "INSERT INTO lineages_by_name SELECT root_artifact_id, namespace, session_key, name, "
        "last_version, created_at FROM lineages",
        "DROP TABLE lineages",
        "ALTER TABLE lineages_by_name RENAME TO lineages"],
}

# PostgreSQL: the manifest-generation triggers as one trigger function, and the event counter
_PG_TRIGGER_FN = """CREATE OR REPLACE FUNCTION na_manifest_bump() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.session_key <> '' THEN
      UPDATE sessions SET manifest_gen = manifest_gen + 1
      WHERE namespace = OLD.namespace AND session_id = OLD.session_key;
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.session_key <> '' THEN
    UPDATE sessions SET manifest_gen = manifest_gen + 1
    WHERE namespace = NEW.namespace AND session_id = NEW.session_key;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql"""
_PG_TRIGGERS = {
    "av_manifest_ins": "AFTER INSERT ON artifact_versions",
    "av_manifest_del": "AFTER DELETE ON artifact_versions",
    "av_manifest_upd": "AFTER UPDATE OF is_latest, is_expired, source ON artifact_versions",
}


def _pg_statements(stmt: str) -> list[str]:
    """One migration statement as PostgreSQL runs it."""
    from .postgres import pg_ddl

    if stmt.lstrip().startswith("CREATE TRIGGER"):
        name = stmt.split("EXISTS", 1)[1].split()[0]
        return [_PG_TRIGGER_FN, f"DROP TRIGGER IF EXISTS {name} ON artifact_versions",
                f"CREATE TRIGGER {name} {_PG_TRIGGERS[name]} FOR EACH ROW "
                "EXECUTE FUNCTION na_manifest_bump()"]
    if stmt.startswith("CREATE TABLE IF NOT EXISTS events"):
        # the cursor is assigned from the counter row, in commit order (see events.py)
        return [pg_ddl(stmt).replace(
            "cursor BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "cursor BIGINT PRIMARY KEY"),
            "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO counters(key, value) VALUES ('events', 0) ON CONFLICT (key) DO NOTHING"]
    return [pg_ddl(stmt)]


#: a new version's row before its own values: every column but ``seq``, as the schema's
#: defaults would fill it
_NEW_ROW: dict[str, Any] = {
    **{k: None for k in ARTIFACT_FIELDS + _EXTRA_COLUMNS if k != "seq"},
    "ext": "", "index_attempts": 0, "chunk_count": 0, "is_pinned": 0, "is_expired": 0,
    "is_indexed": 0, "is_latest": 1}


@functools.lru_cache(maxsize=8)
def _insert_version_sql(cols: tuple[str, ...]) -> str:
    return (f"INSERT INTO artifact_versions({','.join(cols)}) "
            f"VALUES ({','.join('?' * len(cols))})")


def new_artifact_id() -> str:
    """``art_`` + 12 hex digits of the time in milliseconds + 12 random ones: ids made later
    sort later, so a new version's id and lineage keys are appended to their indexes (one
    page written) instead of landing on a random page that must be written and often split."""
    return f"art_{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def session_key(session_id: str | None) -> str:
    return session_id or ""


class Catalog:
    """Artifact versions, lineages, the event log and sessions in one database."""

    def __init__(self, root: str | os.PathLike[str], catalog: str | None = None):
        self.root = Path(root)
        self.db = open_database(self.root, catalog)
        #: the SQLite file (None on PostgreSQL)
        self.path: Path | None = self.db.path
        #: True when many machines share this catalog (PostgreSQL)
        self.shared: bool = self.db.shared
        #: called after each committed write (the store pokes its event watcher)
        self.on_commit: Callable[[], None] | None = None
        #: puts in progress in this process; the background indexer yields to them
        self.writers = WriterGate()
        self._component_db: Any = None
        try:
            self._migrate()
        except BaseException:
            self.db.close()
            raise

    @property
    def location(self) -> str:
        """The catalog's file or URL (without a password), for messages."""
        return self.db.location

    # -- plumbing ----------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.write(notify=False) as c:
            c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise InvalidInputError(
                    f"{self.location} has catalog schema {current}, newer than this version of "
                    f"notebook-artifacts understands ({SCHEMA_VERSION}); upgrade the package"
                )
            for v in range(current + 1, SCHEMA_VERSION + 1):
                for stmt in _MIGRATIONS[v]:
                    for s in (_pg_statements(stmt) if c.dialect == "postgresql" else [stmt]):
                        c.execute(s)
                if v == 3 and self.db.has_table(c, "idx_sources"):
                    # stores made before pins: promoted sources' content stays alive
                    c.execute("INSERT INTO blob_pins(owner, sha256) SELECT source_id, sha256 "
                              "FROM idx_sources WHERE true ON CONFLICT (owner) DO NOTHING")
                self._set_meta(c, "schema_version", str(v))

    @staticmethod
    def _set_meta(c: Conn, key: str, value: str) -> None:
        c.execute("INSERT INTO meta(key, value) VALUES (?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET value=excluded.value", (key, value))

    def component_db(self) -> Any:
        """A database for another component's own tables (the index), beside the catalog's:
        per-thread connections to the same SQLite file, or the same PostgreSQL pool."""
        if self.db.shared:
            return self.db
        return SqliteDB(self.db.path, per_thread=True)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """A consistent snapshot for several SELECTs."""
        with self.db.read() as c:
            yield c

    @contextmanager
    def write(self, notify: bool = True) -> Iterator[Conn]:
        """One write transaction; rolled back on any exception."""
        with self.db.write() as c:
            yield c
            if notify:
                _events.notify(c)
        if notify and self.on_commit is not None:
            self.on_commit()

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.db.query(sql, params)

    # -- records -----------------------------------------------------------------------
    @staticmethod
    def to_artifact(row: Any | dict[str, Any]) -> Artifact:
        if not isinstance(row, dict):  # a row looks a name up by scanning its columns
            row = dict(zip(row.keys(), row))
        d = {k: row[k] for k in ARTIFACT_FIELDS}
        for k in _JSON_FIELDS:
            empty = "{}" if k == "metadata" else "[]"
            d[k] = json.loads(d[k]) if d[k] and d[k] != empty else ({} if k == "metadata" else [])
        for k in _BOOL_FIELDS:
            d[k] = bool(d[k])
        return Artifact(**d)

    def get(self, artifact_id: str) -> Artifact | None:
        rows = self._query("SELECT * FROM artifact_versions WHERE artifact_id=?", (artifact_id,))
        return self.to_artifact(rows[0]) if rows else None

    def get_row(self, artifact_id: str) -> Any | None:
        rows = self._query("SELECT * FROM artifact_versions WHERE artifact_id=?", (artifact_id,))
        return rows[0] if rows else None

    def get_many(self, artifact_ids: Iterable[str]) -> dict[str, Artifact]:
        ids = list(dict.fromkeys(artifact_ids))
        out: dict[str, Artifact] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            q = ",".join("?" * len(part))
            for r in self._query(f"SELECT * FROM artifact_versions WHERE artifact_id IN ({q})", part):
                out[r["artifact_id"]] = self.to_artifact(r)
        return out

    def find_version(
        self, namespace: str, session_id: str | None, name: str, version: int | None,
        include_expired: bool = False,
    ) -> Artifact | None:
        sql = "SELECT * FROM artifact_versions WHERE namespace=? AND session_key=? AND name=?"
        params: list[Any] = [namespace, session_key(session_id), name]
        if version is not None:
            sql += " AND version=?"
            params.append(version)
        if not include_expired:
            sql += " AND is_expired=0"
        sql += " ORDER BY version DESC LIMIT 1"
        rows = self._query(sql, params)
        return self.to_artifact(rows[0]) if rows else None

    def lineage_versions(self, root_artifact_id: str, include_expired: bool = False) -> list[Artifact]:
        sql = "SELECT * FROM artifact_versions WHERE root_artifact_id=?"
        if not include_expired:
            sql += " AND is_expired=0"
        rows = self._query(sql + " ORDER BY version", (root_artifact_id,))
        return [self.to_artifact(r) for r in rows]

    def version_in_lineage(self, root_artifact_id: str, version: int) -> Artifact | None:
        rows = self._query(
            "SELECT * FROM artifact_versions WHERE root_artifact_id=? AND version=?",
            (root_artifact_id, version),
        )
        return self.to_artifact(rows[0]) if rows else None

    # -- writing versions ----------------------------------------------------------------
    def add_version(
        self, fields: dict[str, Any], *, staged: StagedBlob, blobs: BlobStore, now: float,
        workspace_path: str | None = None,
    ) -> Artifact:
        """Insert the next version of ``(namespace, session_id, name)`` and its event.

        ``fields`` holds the record's own values; this assigns ``artifact_id``, ``version``,
        ``root_artifact_id``, ``is_latest`` and the times, moves the staged blob into place
        and relinks the previous latest version, all in one transaction.
        """
        return self.add_versions([(fields, staged, workspace_path)], blobs=blobs, now=now)[0]

    def add_versions(
        self, items: list[tuple[dict[str, Any], StagedBlob, str | None]], *, blobs: BlobStore,
        now: float, flush: bool = False, before_links: Callable[[], None] | None = None,
    ) -> list[Artifact]:
        """:meth:`add_version` for each ``(fields, staged, workspace_path)``, in order, in ONE
        transaction: all are stored or none. Two items with one name become two versions.
        The rows are written first, then the staged blobs moved into place, then the commit:
        ``before_links`` is called in between (``put_many`` waits there for the flush of its
        content, which ran while the rows were written); ``flush``: make the blobs' renames
        durable (``blobs.flush``) before the commit."""
        stamp = iso_utc(now)
        out: list[Artifact] = []
        with self.write() as c:
            touched: set[tuple[str, str]] = set()
            for fields, staged, workspace_path in items:
                ns, sid, name = fields["namespace"], fields["session_id"], fields["name"]
                skey = session_key(sid)
                artifact_id = new_artifact_id()
                # one statement finds or starts the lineage and takes its next version number
                root, version = c.execute(
                    "INSERT INTO lineages(root_artifact_id, namespace, session_key, name, "
                    "last_version, created_at) VALUES (?,?,?,?,1,?) "
                    "ON CONFLICT (namespace, session_key, name) "
                    "DO UPDATE SET last_version = lineages.last_version + 1 "
                    "RETURNING root_artifact_id, last_version",
                    (artifact_id, ns, skey, name, stamp),
                ).fetchone()
                if version > 1:
                    # the new version replaces the latest live one (the one relink would move)
                    c.execute(
                        "UPDATE artifact_versions SET is_latest=0, replaced_by_version=? "
                        "WHERE root_artifact_id=? AND is_latest=1 AND is_expired=0",
                        (version, root))
                if sid is not None and (ns, sid) not in touched:
                    touched.add((ns, sid))
                    self._touch_session(c, ns, sid, stamp)
                # every column is given (none left to a default), so the row stored is ``rec``:
                # read back only its seq (a RETURNING of the row cost SQLite a third of the insert)
                rec = {**_NEW_ROW, **fields}
                rec.update(
                    artifact_id=artifact_id, root_artifact_id=root, version=version, is_latest=1,
                    replaced_by_version=None, created_at=stamp, updated_at=stamp, created_ts=now,
                    session_key=skey, workspace_path=workspace_path,
                )
                for k in _JSON_FIELDS:
                    value = rec[k]
                    rec[k] = json.dumps(value) if value else ("{}" if k == "metadata" else "[]")
                for k in _BOOL_FIELDS:
                    rec[k] = int(bool(rec[k]))
                sql = _insert_version_sql(tuple(rec))
                if c.dialect == "sqlite":
                    rec["seq"] = c.execute(sql, tuple(rec.values())).lastrowid
                else:
                    rec["seq"] = c.execute(sql + " RETURNING seq", tuple(rec.values())).fetchone()[0]
                append_event(c, "created" if version == 1 else "version_created", rec, now)
                out.append(self.to_artifact(rec))
            if before_links is not None:
                before_links()
            for _, staged, _ in items:
                blobs.commit(staged)
            if flush:
                blobs.flush([s for _, s, _ in items])
        return out

    def has_size(self, size: int) -> bool:
        """Whether any version has exactly ``size`` bytes (identical content may be stored);
        known only for files larger than ``SMALL_FILE`` (smaller ones are hashed anyway)."""
        if size <= SMALL_FILE:
            raise ValueError(f"has_size answers for sizes over {SMALL_FILE} bytes only")
        return bool(self._query(
            f"SELECT 1 FROM artifact_versions WHERE size_bytes=? AND size_bytes > {SMALL_FILE} "
            "LIMIT 1", (size,)))

    @staticmethod
    def _relink(c: Conn, root: str) -> None:
        """Recompute ``is_latest`` / ``replaced_by_version`` over a lineage's live versions."""
        rows = c.execute(
            "SELECT artifact_id, version, is_latest, replaced_by_version FROM artifact_versions "
            "WHERE root_artifact_id=? AND is_expired=0 ORDER BY version",
            (root,),
        ).fetchall()
        for i, r in enumerate(rows):
            last = i == len(rows) - 1
            want = (1 if last else 0, None if last else rows[i + 1]["version"])
            if (r["is_latest"], r["replaced_by_version"]) != want:
                c.execute(
                    "UPDATE artifact_versions SET is_latest=?, replaced_by_version=? WHERE artifact_id=?",
                    (*want, r["artifact_id"]),
                )
        c.execute(
            "UPDATE artifact_versions SET is_latest=0 WHERE root_artifact_id=? AND is_expired=1 "
            "AND is_latest=1",
            (root,),
        )

    @staticmethod
    def _drop_lineage(c: Conn, row: Any) -> None:
        """Forget the lineage of ``row`` (a version's row), so its name starts again at 1."""
        c.execute("DELETE FROM lineages WHERE namespace=? AND session_key=? AND name=?",
                  (row["namespace"], row["session_key"], row["name"]))

    @staticmethod
    def _touch_session(c: Conn, ns: str, sid: str, stamp: str) -> None:
        c.execute(
            "INSERT INTO sessions(namespace, session_id, created_at, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(namespace, session_id) DO UPDATE SET updated_at=excluded.updated_at",
            (ns, sid, stamp, stamp),
        )

    def update_version(
        self, artifact_id: str, changes: dict[str, Any], *, now: float,
        event_data: dict[str, Any] | None = None, event_type: str | None = "updated",
    ) -> Artifact:
        """Apply column ``changes`` to one version (and relink), emitting ``event_type``."""
        with self.write() as c:
            return self._update_one(c, artifact_id, changes, now, event_data, event_type)

    def update_versions(
        self, updates: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]], *,
        now: float,
    ) -> list[Artifact | None]:
        """:meth:`update_version` of each ``(artifact_id, changes, event_data, event_type)`` in
        ONE transaction; None for a version deleted meanwhile."""
        out: list[Artifact | None] = []
        with self.write() as c:
            for artifact_id, changes, event_data, event_type in updates:
                try:
                    out.append(self._update_one(c, artifact_id, changes, now, event_data, event_type))
                except NotFoundError:
                    out.append(None)
        return out

    def _update_one(self, c: Conn, artifact_id: str, changes: dict[str, Any], now: float,
                    event_data: dict[str, Any] | None, event_type: str | None) -> Artifact:
        row = c.execute(
            "SELECT * FROM artifact_versions WHERE artifact_id=?", (artifact_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no artifact version {artifact_id!r}; it may have been deleted")
        if changes:
            vals = dict(changes)
            for k in _JSON_FIELDS:
                if k in vals:
                    vals[k] = json.dumps(vals[k])
            for k in _BOOL_FIELDS:
                if k in vals:
                    vals[k] = int(bool(vals[k]))
            vals["updated_at"] = iso_utc(now)
            sets = ", ".join(f"{k}=?" for k in vals)
            c.execute(
                f"UPDATE artifact_versions SET {sets} WHERE artifact_id=?",
                [*vals.values(), artifact_id],
            )
            self._relink(c, row["root_artifact_id"])
            row = c.execute(
                "SELECT * FROM artifact_versions WHERE artifact_id=?", (artifact_id,)
            ).fetchone()
            if event_type:
                append_event(c, event_type, row, now, event_data)
        return self.to_artifact(row)

    def delete_versions(
        self, root_artifact_id: str, version: int | None, *, now: float, blobs: BlobStore,
        event_data: dict[str, Any] | None = None,
    ) -> list[Artifact]:
        """Delete one version or the whole lineage; remove blobs no remaining version uses."""
        with self.write() as c:
            sql = "SELECT * FROM artifact_versions WHERE root_artifact_id=?"
            params: list[Any] = [root_artifact_id]
            if version is not None:
                sql += " AND version=?"
                params.append(version)
            rows = c.execute(sql + " ORDER BY version", params).fetchall()
            if not rows:
                return []
            for r in rows:
                c.execute("DELETE FROM artifact_versions WHERE artifact_id=?", (r["artifact_id"],))
                append_event(c, "deleted", r, now, event_data)
            left = c.execute(
                "SELECT COUNT(*) FROM artifact_versions WHERE root_artifact_id=?", (root_artifact_id,)
            ).fetchone()[0]
            if left == 0:
                self._drop_lineage(c, rows[0])
            else:
                self._relink(c, root_artifact_id)
        # content goes only once the deletion is committed (in a second write transaction
        # that re-checks references): a crash in between leaves an orphan blob that fsck/gc
        # reclaim, never a version whose blob is missing
        self.remove_orphan_blobs(blobs, {r["sha256"] for r in rows})
        return [self.to_artifact(r) for r in rows]

    @staticmethod
    def _remove_unreferenced(c: Conn, blobs: BlobStore, digests: Iterable[str]) -> tuple[int, int]:
        removed = freed = 0
        for sha in digests:
            used = c.execute("SELECT 1 FROM artifact_versions WHERE sha256=? LIMIT 1", (sha,)).fetchone()
            if used is None:  # a pin (a promoted source) keeps its content alive
                used = c.execute("SELECT 1 FROM blob_pins WHERE sha256=? LIMIT 1", (sha,)).fetchone()
            if used is None:
                n = blobs.remove(sha)
                if n or not blobs.exists(sha):
                    removed += 1 if n else 0
                    freed += n
        return removed, freed

    # -- expiry --------------------------------------------------------------------------
    def sweep_expired(self, now: float) -> list[Artifact]:
        """Mark versions whose TTL has passed as expired (one ``expired`` event each)."""
        due = self._query(
            "SELECT 1 FROM artifact_versions WHERE expires_ts IS NOT NULL AND expires_ts<=? "
            "AND is_expired=0 AND is_pinned=0 LIMIT 1",
            (now,),
        )
        if not due:
            return []
        out = []
        with self.write() as c:
            rows = c.execute(
                "SELECT artifact_id, root_artifact_id FROM artifact_versions WHERE expires_ts IS NOT NULL "
                "AND expires_ts<=? AND is_expired=0 AND is_pinned=0",
                (now,),
            ).fetchall()
            roots = set()
            for r in rows:
                c.execute(
                    "UPDATE artifact_versions SET is_expired=1, is_latest=0 WHERE artifact_id=?",
                    (r["artifact_id"],),
                )
                roots.add(r["root_artifact_id"])
            for root in roots:
                self._relink(c, root)
            for r in rows:
                row = c.execute(
                    "SELECT * FROM artifact_versions WHERE artifact_id=?", (r["artifact_id"],)
                ).fetchone()
                append_event(c, "expired", row, now)
                out.append(self.to_artifact(row))
        return out

    def purge_expired(self, blobs: BlobStore) -> tuple[int, int, int]:
        """Drop expired version records and blobs nothing else uses: (versions, blobs, bytes)."""
        with self.write() as c:
            rows = c.execute(
                "SELECT artifact_id, root_artifact_id, sha256, namespace, session_key, name "
                "FROM artifact_versions WHERE is_expired=1"
            ).fetchall()
            roots: dict[str, Any] = {}
            for r in rows:
                c.execute("DELETE FROM artifact_versions WHERE artifact_id=?", (r["artifact_id"],))
                roots[r["root_artifact_id"]] = r
            for root, r in roots.items():
                left = c.execute(
                    "SELECT COUNT(*) FROM artifact_versions WHERE root_artifact_id=?", (root,)
                ).fetchone()[0]
                if left == 0:
                    self._drop_lineage(c, r)
        # as in delete_versions: blobs go only after the records' removal is committed
        removed, freed = self.remove_orphan_blobs(blobs, {r["sha256"] for r in rows})
        return len(rows), removed, freed

    def remove_orphan_blobs(self, blobs: BlobStore, digests: Iterable[str]) -> tuple[int, int]:
        """Under the write lock, delete those of ``digests`` that no version references."""
        with self.write(notify=False) as c:
            return self._remove_unreferenced(c, blobs, digests)

    def referenced_digests(self) -> set[str]:
        """Digests that live versions or pins (promoted sources) still use."""
        with self.read() as c:
            refs = {r[0] for r in c.execute("SELECT DISTINCT sha256 FROM artifact_versions")}
            refs |= {r[0] for r in c.execute("SELECT DISTINCT sha256 FROM blob_pins")}
        return refs

    def pin_blob(self, owner: str, sha256: str) -> None:
        """Keep ``sha256`` alive for ``owner`` (another component's record, e.g. a source)
        even when no version references it any more."""
        with self.write(notify=False) as c:
            c.execute("INSERT INTO blob_pins(owner, sha256) VALUES (?, ?) "
                      "ON CONFLICT (owner) DO UPDATE SET sha256=excluded.sha256", (owner, sha256))

    def unpin_blob(self, owner: str) -> None:
        with self.write(notify=False) as c:
            c.execute("DELETE FROM blob_pins WHERE owner=?", (owner,))

    # -- listing -------------------------------------------------------------------------
    def list_latest(
        self, *, namespace: str | None, session_id: str | None, tags: list[str] | None,
        types: list[str] | None, include_expired: bool, limit: int, cursor: str | None,
        name_prefix: str | None = None,
    ) -> Page:
        """Latest live version of each name (plus expired versions when asked), newest first."""
        where = ["(is_latest=1 OR is_expired=1)" if include_expired else "is_latest=1"]
        params: list[Any] = []
        if namespace is not None:
            where.append("namespace=?")
            params.append(namespace)
        if session_id is not None:
            where.append("session_key=?")
            params.append(session_id)
        for tag in tags or ():
            where.append(_events.tag_condition(self.db.dialect))
            params.append(tag)
        if types:
            where.append(f"artifact_type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if name_prefix:
            where.append("substr(name, 1, ?)=?")
            params.extend([len(name_prefix), name_prefix])
        cond = " AND ".join(where)
        after: int | None = None
        if cursor not in (None, ""):
            if not str(cursor).isdigit():
                raise InvalidInputError(
                    f"invalid cursor {cursor!r}: pass the next_cursor of a previous page"
                )
            after = int(cursor)
        with self.read() as c:
            total = c.execute(f"SELECT COUNT(*) FROM artifact_versions WHERE {cond}", params).fetchone()[0]
            q = f"SELECT * FROM artifact_versions WHERE {cond}"
            qp = list(params)
            if after is not None:
                q += " AND seq<?"
                qp.append(after)
            rows = c.execute(q + " ORDER BY seq DESC LIMIT ?", [*qp, limit + 1]).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            artifacts=[self.to_artifact(r) for r in rows], total=total, has_more=has_more,
            next_cursor=str(rows[-1]["seq"]) if has_more else None,
        )

    def iter_latest(self, namespace: str | None, session_id: str | None,
                    exact_session: bool = False) -> list[Any]:
        """Rows of the latest live versions in a scope (``exact_session``: None means no session)."""
        sql = "SELECT * FROM artifact_versions WHERE is_latest=1"
        params: list[Any] = []
        if namespace is not None:
            sql += " AND namespace=?"
            params.append(namespace)
        if session_id is not None or exact_session:
            sql += " AND session_key=?"
            params.append(session_key(session_id))
        return self._query(sql + " ORDER BY session_key, name", params)

    def session_rows(self, namespace: str, session_id: str) -> list[Any]:
        return self._query(
            "SELECT * FROM artifact_versions WHERE namespace=? AND session_key=? AND is_expired=0 "
            "ORDER BY seq",
            (namespace, session_id),
        )

    def session_snapshot(self, namespace: str, session_id: str) -> tuple[int, list[Any], dict[str, Any]]:
        """``(manifest generation, live version rows, session row)`` read in one snapshot (the
        rows hold the columns a manifest lists, not the stored text)."""
        with self.read() as c:
            srow = c.execute(
                "SELECT * FROM sessions WHERE namespace=? AND session_id=?", (namespace, session_id)
            ).fetchone()
            rows = c.execute(
                f"SELECT {_MANIFEST_COLUMNS} FROM artifact_versions WHERE namespace=? "
                "AND session_key=? AND is_expired=0 ORDER BY seq",
                (namespace, session_id),
            ).fetchall()
        info = dict(srow) if srow else {}
        return int(info.get("manifest_gen", 0)), rows, info

    def manifest_gens(self, namespace: str, session_id: str) -> tuple[int, int]:
        """``(manifest_gen, synced_gen)`` of a session: changes counted, and reflected in its
        manifest file; ``(0, -1)`` when the session has no row (so a manifest is written)."""
        rows = self._query("SELECT manifest_gen, synced_gen FROM sessions WHERE namespace=? "
                           "AND session_id=?", (namespace, session_id))
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, -1)

    def manifest_generation(self, namespace: str, session_id: str) -> int:
        """How many changes the session has seen (what an up-to-date manifest records)."""
        return self.manifest_gens(namespace, session_id)[0]

    def mark_manifest_synced(self, namespace: str, session_id: str, gen: int) -> None:
        with self.write(notify=False) as c:
            c.execute(
                "UPDATE sessions SET synced_gen=CASE WHEN synced_gen > ? THEN synced_gen ELSE ? END "
                "WHERE namespace=? AND session_id=?",
                (gen, gen, namespace, session_id),
            )

    def stale_manifests(self) -> list[tuple[str, str]]:
        """Sessions whose manifest misses a committed change (a writer died before writing it)."""
        rows = self._query("SELECT namespace, session_id FROM sessions WHERE manifest_gen > synced_gen")
        return [(r[0], r[1]) for r in rows]

    def names(self, namespace: str, session_id: str | None) -> list[str]:
        rows = self._query(
            "SELECT name FROM artifact_versions WHERE namespace=? AND session_key=? AND is_latest=1 "
            "ORDER BY name",
            (namespace, session_key(session_id)),
        )
        return [r[0] for r in rows]

    def sessions(self, namespace: str | None) -> list[dict[str, Any]]:
        sql = (
            "SELECT s.namespace, s.session_id, s.created_at, s.updated_at, s.closed_at, s.cleaned, "
            "(SELECT COUNT(*) FROM artifact_versions v WHERE v.namespace=s.namespace AND "
            " v.session_key=s.session_id AND v.is_latest=1) AS artifacts, "
            "(SELECT COUNT(*) FROM artifact_versions v WHERE v.namespace=s.namespace AND "
            " v.session_key=s.session_id AND v.is_expired=0) AS versions, "
            "(SELECT CAST(COALESCE(SUM(size_bytes),0) AS BIGINT) FROM artifact_versions v WHERE v.namespace=s.namespace "
            " AND v.session_key=s.session_id AND v.is_latest=1) AS size_bytes "
            "FROM sessions s"
        )
        params: list[Any] = []
        if namespace is not None:
            sql += " WHERE s.namespace=?"
            params.append(namespace)
        rows = self._query(sql + " ORDER BY s.updated_at DESC", params)
        return [dict(r) | {"cleaned": bool(r["cleaned"])} for r in rows]

    def get_session(self, namespace: str, session_id: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT * FROM sessions WHERE namespace=? AND session_id=?", (namespace, session_id)
        )
        return dict(rows[0]) if rows else None

    def close_session(self, namespace: str, session_id: str, now: float, cleaned: bool) -> None:
        stamp = iso_utc(now)
        with self.write(notify=False) as c:
            self._touch_session(c, namespace, session_id, stamp)
            c.execute(
                "UPDATE sessions SET closed_at=?, cleaned=?, manifest_gen=manifest_gen+1 "
                "WHERE namespace=? AND session_id=?",
                (stamp, int(cleaned), namespace, session_id),
            )

    def count_versions(self) -> int:
        return self._query("SELECT COUNT(*) FROM artifact_versions")[0][0]

    def all_version_rows(self) -> list[Any]:
        return self._query(
            "SELECT artifact_id, sha256, size_bytes, name, namespace, session_id FROM artifact_versions"
        )

    def expired_roots(self, namespace: str, session_id: str,
                      sources: Collection[str] | None = None) -> list[Any]:
        """Rows (``root_artifact_id``) of lineages with an expired version in one session
        (only versions whose ``source`` is one of ``sources``, when given)."""
        sql = ("SELECT root_artifact_id FROM artifact_versions WHERE namespace=? AND session_key=? "
               "AND is_expired=1")
        params: list[Any] = [namespace, session_id]
        if sources is not None:
            sql += f" AND source IN ({','.join('?' * len(sources))})"
            params += list(sources)
        return self._query(sql + " GROUP BY root_artifact_id", params)

    def expired_sessions(self) -> set[tuple[str, str]]:
        """``(namespace, session_id)`` of sessions holding expired versions."""
        return {(r[0], r[1]) for r in self._query(
            "SELECT DISTINCT namespace, session_id FROM artifact_versions "
            "WHERE is_expired=1 AND session_id IS NOT NULL")}

    def integrity_problems(self) -> list[str]:
        """What the database's own consistency check reports (empty when healthy)."""
        return self.db.integrity_problems()

    # -- events ----------------------------------------------------------------------------
    def latest_cursor(self) -> int:
        """The cursor of the newest committed event (0 when there is none)."""
        with self.read() as c:
            return _events.latest_cursor(c)

    def fetch_events(self, after: int, flt: _events.EventFilter, limit: int
                     ) -> tuple[list[Event], int, bool, bool]:
        """``(events, next_cursor, has_more, gap)`` read in one snapshot."""
        with self.read() as c:
            return _events.fetch_events(c, after, flt, limit)

    def trim_events(self, keep: int) -> int:
        """Delete all but the newest ``keep`` events; returns how many went."""
        with self.write(notify=False) as c:
            return _events.trim_events(c, keep)

    def change_feed(self, interval: float) -> Any:
        """A feed that wakes a watcher thread when any process commits (see events.py)."""
        return self.db.change_feed(interval)

    # -- index seams ---------------------------------------------------------------------
    def live_artifact_ids(self) -> list[str]:
        """Ids of every version that has not expired."""
        return [r[0] for r in self._query(
            "SELECT artifact_id FROM artifact_versions WHERE is_expired=0")]

    def pending_count(self) -> int:
        """Versions waiting for the indexer (claimed or not)."""
        return int(self._query("SELECT COUNT(*) FROM artifact_versions "
                               "WHERE status='pending' AND is_expired=0")[0][0])

    def claim_index_jobs(self, worker: str, limit: int, now: float) -> list[Artifact]:
        """Pending versions for ``worker`` to index, oldest first.

        Embedded, one process indexes at a time (it holds the index lock), so this is
        :meth:`pending_index_jobs`. On a shared catalog each returned version is claimed for
        :data:`CLAIM_SECONDS` (rows taken ``FOR UPDATE SKIP LOCKED``): concurrent workers on
        any machine get disjoint jobs. A claim is recorded as ``<client id>/<worker>``; one
        whose client has no connection to the server any more (the claimer was killed) is
        taken over at once, and any other lapses after :data:`CLAIM_SECONDS`.
        """
        if not self.shared:
            return self.pending_index_jobs(limit)
        claimer = f"{self.db.client_id}/{worker}"
        with self.db.transaction() as c:
            rows = c.execute(
                "UPDATE artifact_versions SET index_claimed_by=?, index_claim_until=? "
                "WHERE artifact_id IN (SELECT artifact_id FROM artifact_versions "
                "  WHERE status='pending' AND is_expired=0 AND (index_claim_until IS NULL "
                "  OR index_claim_until<? OR index_claimed_by=? "
                "  OR split_part(index_claimed_by, '/', 1) NOT IN "
                "    (SELECT application_name FROM pg_stat_activity WHERE application_name "
                "     IS NOT NULL)) "
                "  ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                (claimer, now + CLAIM_SECONDS, now, claimer, limit)).fetchall()
        return [self.to_artifact(r) for r in sorted(rows, key=lambda r: r["seq"])]

    def release_index_claim(self, artifact_id: str) -> None:
        """Give a claimed job back (a transient failure: any worker may retry it)."""
        if self.shared:
            with self.db.transaction() as c:
                c.execute("UPDATE artifact_versions SET index_claimed_by=NULL, "
                          "index_claim_until=NULL WHERE artifact_id=?", (artifact_id,))

    def pending_index_jobs(self, limit: int = 100) -> list[Artifact]:
        """Versions waiting for the indexer (status pending, not expired), oldest first."""
        rows = self._query(
            "SELECT * FROM artifact_versions WHERE status='pending' AND is_expired=0 "
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [self.to_artifact(r) for r in rows]

    def set_index_state(
        self, artifact_id: str, *, status: str, is_indexed: bool, indexed_at: str | None,
        index_collection: str | None, index_error: str | None, index_attempts: int,
        embedding_model_id: str | None, chunk_count: int, content_text: str | None = None,
        event_type: str | None = None, now: float | None = None,
    ) -> Artifact:
        """Record the indexer's outcome for one version in one transaction (and its event)."""
        import time

        changes: dict[str, Any] = dict(
            status=status, is_indexed=is_indexed, indexed_at=indexed_at,
            index_collection=index_collection, index_error=index_error,
            index_attempts=index_attempts, embedding_model_id=embedding_model_id,
            chunk_count=chunk_count, index_claimed_by=None, index_claim_until=None,
        )
        if content_text is not None:
            changes["content_text"] = content_text
        return self.update_version(
            artifact_id, changes, now=time.time() if now is None else now,
            event_type=event_type,
            event_data={"status": status, "chunk_count": chunk_count, "error": index_error}
            if event_type else None,
        )

    def set_index_states(self, states: list[tuple[str, dict[str, Any]]], *, now: float) -> None:
        """:meth:`set_index_state` of each ``(artifact_id, its keywords)`` in ONE transaction
        (a batch of binary puts skipped at once: one commit, not one per version)."""
        updates = []
        for artifact_id, kw in states:
            changes: dict[str, Any] = dict(
                status=kw["status"], is_indexed=kw["is_indexed"], indexed_at=kw["indexed_at"],
                index_collection=kw["index_collection"], index_error=kw["index_error"],
                index_attempts=kw["index_attempts"], embedding_model_id=kw["embedding_model_id"],
                chunk_count=kw["chunk_count"], index_claimed_by=None, index_claim_until=None)
            event_type = kw.get("event_type")
            data = {"status": kw["status"], "chunk_count": kw["chunk_count"],
                    "error": kw["index_error"]} if event_type else None
            updates.append((artifact_id, changes, data, event_type))
        self.update_versions(updates, now=now)

    def mark_pending(self, artifact_ids: Iterable[str]) -> int:
        """Queue versions for (re)indexing; returns how many were marked."""
        ids = list(artifact_ids)
        n = 0
        with self.write() as c:
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                q = ",".join("?" * len(part))
                n += c.execute(
                    f"UPDATE artifact_versions SET status='pending', index_error=NULL "
                    f"WHERE artifact_id IN ({q}) AND is_expired=0",
                    part,
                ).rowcount
        return n

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else default
