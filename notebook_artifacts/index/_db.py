"""The index's own tables, in the catalog's database (all prefixed ``idx_``).

- ``idx_chunks``: one row per chunk of an indexed artifact version (scope ``artifacts``) or of a
  promoted source (scope ``sources``): text, location (heading, page, and ``location``: JSON
  such as ``{"cell": 12}``), the sha256 of its embedded text.
- keyword index over the embedded text: on SQLite the FTS5 table ``idx_chunks_fts`` (porter
  stemming, ``_`` kept inside words, ``rowid`` = ``idx_chunks.id``); on PostgreSQL a
  ``tsvector`` column of ``idx_chunks`` with a GIN index. Names are searched by substring too
  (see ``keyword.py``): on SQLite the trigram FTS5 table ``idx_names_fts`` (``rowid`` =
  ``idx_chunks.id``), filled from ``idx_chunks`` when a store from before it is opened; on
  PostgreSQL ``strpos`` over ``idx_chunks.name`` (no extra table).
- ``idx_embeddings``: the embedding cache, ``(model_id, sha256) -> float32 vector``, shared by
  every process (and, on PostgreSQL, every machine). It also serves dense queries in processes
  that do not use Chroma.
- ``idx_sources``: promoted sources (durable; outlive TTL, deletion and session cleanup).
- ``idx_state``: key/value (event cursor, a generation counter bumped on every chunk change).

The catalog's own tables belong to storage; the index reads them only through ``Catalog``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..storage._sql import SqliteDB
from . import keyword as _keyword

__all__ = ["IndexDB"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idx_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_key TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    artifact_id TEXT NOT NULL,
    root_artifact_id TEXT,
    version INTEGER,
    name TEXT,
    namespace TEXT,
    session_id TEXT,
    mime_type TEXT,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    heading TEXT,
    page INTEGER,
    char_start INTEGER,
    char_end INTEGER,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    location TEXT
);
CREATE INDEX IF NOT EXISTS idx_chunks_owner ON idx_chunks(owner_id);
CREATE INDEX IF NOT EXISTS idx_chunks_artifact ON idx_chunks(artifact_id);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_chunks_fts USING fts5(
    body, tokenize = "porter unicode61 tokenchars '_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_names_fts USING fts5(
    name, tokenize = "trigram"
);
CREATE TABLE IF NOT EXISTS idx_embeddings (
    model_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, sha256)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idx_sources (
    source_id TEXT PRIMARY KEY,
    source_name TEXT NOT NULL,
    artifact_id TEXT NOT NULL UNIQUE,
    root_artifact_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    namespace TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    record_json TEXT NOT NULL,
    index_status TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS idx_sources_sha ON idx_sources(sha256);
CREATE TABLE IF NOT EXISTS idx_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


#: PostgreSQL's keyword index: a tsvector column (English stemming) with a GIN index
_PG_EXTRA = [
    "ALTER TABLE idx_chunks ADD COLUMN IF NOT EXISTS location TEXT",  # a catalog from before
    "ALTER TABLE idx_chunks ADD COLUMN IF NOT EXISTS tsv tsvector",
    "CREATE INDEX IF NOT EXISTS idx_chunks_tsv ON idx_chunks USING GIN (tsv)",
    # who is indexing a promoted source, and until when (see claim_pending_sources)
    "ALTER TABLE idx_sources ADD COLUMN IF NOT EXISTS claimed_by TEXT",
    "ALTER TABLE idx_sources ADD COLUMN IF NOT EXISTS claim_until DOUBLE PRECISION",
]


def _statements(dialect: str) -> list[str]:
    stmts = [x.strip() for x in _SCHEMA.split(";") if x.strip()]
    if dialect == "sqlite":
        return stmts
    from ..storage.postgres import pg_ddl

    return [pg_ddl(x) for x in stmts if "USING fts5" not in x] + _PG_EXTRA


#: ``idx_state`` key recording which keyword tables a SQLite catalog has filled
_KEYWORD_SCHEMA_KEY = "keyword_schema"
#: 2: ``idx_names_fts`` (chunk names by trigram) exists and holds every chunk's name
KEYWORD_SCHEMA = "2"


def _fill_name_index(c: Any) -> None:
    """A SQLite catalog indexed before the name table gets it filled from ``idx_chunks``
    (names only: nothing is extracted or embedded again). Runs inside the opening write
    transaction, so two processes opening one old store fill it once."""
    row = c.execute("SELECT value FROM idx_state WHERE key = ?", (_KEYWORD_SCHEMA_KEY,)).fetchone()
    if row is not None and row[0] == KEYWORD_SCHEMA:
        return
    c.execute("DELETE FROM idx_names_fts")
    c.execute("INSERT INTO idx_names_fts(rowid, name) "
              "SELECT id, coalesce(name, '') FROM idx_chunks")
    c.execute("INSERT INTO idx_state(key, value) VALUES (?, ?) "
              "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
              (_KEYWORD_SCHEMA_KEY, KEYWORD_SCHEMA))


def _add_location_column(c: Any) -> None:
    """A SQLite catalog indexed before chunks had a ``location`` gains the column."""
    if "location" not in {r[1] for r in c.execute("PRAGMA table_info(idx_chunks)")}:
        try:
            c.execute("ALTER TABLE idx_chunks ADD COLUMN location TEXT")
        except sqlite3.OperationalError as exc:  # another process added it just now
            if "duplicate column" not in str(exc).lower():
                raise


class IndexDB:
    """The ``idx_`` tables over a database from :meth:`Catalog.component_db` (or a SQLite
    file path); every statement the index runs is a method here or in ChunkStore."""

    def __init__(self, db: Any) -> None:
        self._owns = isinstance(db, (str, os.PathLike))
        self.db = SqliteDB(Path(db), per_thread=True) if self._owns else db
        self.dialect: str = self.db.dialect
        self.shared: bool = self.db.shared
        try:
            with (self.db.write() if self.shared else self.db.transaction()) as c:
                for stmt in _statements(self.dialect):
                    c.execute(stmt)
                if self.dialect == "sqlite":
                    _add_location_column(c)
                    _fill_name_index(c)
        except Exception as exc:  # pragma: no cover - sqlite without FTS5 or its trigrams
            msg = str(exc).lower()
            if "fts5" in msg or "tokenizer" in msg:
                from ..errors import IndexUnavailableError

                raise IndexUnavailableError(
                    f"this Python's sqlite3 (SQLite {sqlite3.sqlite_version}) lacks FTS5 or its "
                    "trigram tokenizer (SQLite 3.34+); install a Python built with a newer "
                    "SQLite") from exc
            raise

    # -- plumbing ---------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return self.db.query(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One transaction on the index's tables (rolled back on error)."""
        with self.db.transaction() as c:
            yield c

    @property
    def transient_errors(self) -> tuple[type[BaseException], ...]:
        """Errors worth a retry (a busy or unreachable database)."""
        return self.db.transient_errors

    def get_state(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM idx_state WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_state(self, key: str, value: str, conn: Any = None) -> None:
        sql = ("INSERT INTO idx_state(key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        if conn is not None:
            conn.execute(sql, (key, value))
        else:
            with self.transaction() as c:
                c.execute(sql, (key, value))

    def bump_generation(self, conn: Any) -> None:
        conn.execute(
            "INSERT INTO idx_state(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(idx_state.value AS INTEGER) + 1 AS TEXT)")

    def generation(self) -> int:
        return int(self.get_state("generation", "0") or 0)

    # -- chunk rows and the keyword index ------------------------------------------------------
    _CHUNK_COLS = ("chunk_key, scope, owner_id, artifact_id, root_artifact_id, version, name, "
                   "namespace, session_id, mime_type, ordinal, text, heading, page, char_start, "
                   "char_end, sha256, model_id, location")
    _NAME_AT = 6  # position of ``name`` in _CHUNK_COLS

    def insert_chunk(self, conn: Any, values: Sequence[Any], embed_text: str) -> None:
        """One chunk row (``values`` in :attr:`_CHUNK_COLS` order) and its keyword entry."""
        marks = ",".join("?" * len(values))
        if self.dialect == "postgresql":
            conn.execute(f"INSERT INTO idx_chunks({self._CHUNK_COLS}, tsv) "
                         f"VALUES ({marks}, to_tsvector('english', ?))",
                         (*values, _keyword.pg_document(embed_text)))
            return
        cur = conn.execute(f"INSERT INTO idx_chunks({self._CHUNK_COLS}) VALUES ({marks})", values)
        conn.execute("INSERT INTO idx_chunks_fts(rowid, body) VALUES (?, ?)",
                     (cur.lastrowid, embed_text))
        conn.execute("INSERT INTO idx_names_fts(rowid, name) VALUES (?, ?)",
                     (cur.lastrowid, values[self._NAME_AT] or ""))

    def delete_owner_rows(self, conn: Any, owner_id: str) -> int:
        if self.dialect == "sqlite":
            for table in ("idx_chunks_fts", "idx_names_fts"):
                conn.execute(f"DELETE FROM {table} WHERE rowid IN "
                             "(SELECT id FROM idx_chunks WHERE owner_id = ?)", (owner_id,))
        return conn.execute("DELETE FROM idx_chunks WHERE owner_id = ?", (owner_id,)).rowcount

    def keyword_search(self, text: str, limit: int, filters: dict[str, Any] | None = None
                       ) -> list[tuple[int, float]]:
        """``(chunk id, relevance >= 0)``, best first (FTS5 BM25, or PostgreSQL ts_rank)."""
        built = _keyword.keyword_sql(self.dialect, text, limit, filters)
        if built is None:
            return []
        sql, params = built
        try:
            rows = self.query(sql, params)
        except sqlite3.OperationalError:  # pathological FTS5 input; it is quoted, so rare
            return []
        return [(int(cid), float(r)) for cid, r in rows]

    # -- sources ------------------------------------------------------------------------------
    def add_source(self, values: dict[str, Any]) -> None:
        cols = list(values)
        with self.transaction() as c:
            c.execute(f"INSERT INTO idx_sources({', '.join(cols)}) "
                      f"VALUES ({','.join('?' * len(cols))})", [values[k] for k in cols])

    def delete_source(self, source_id: str) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM idx_sources WHERE source_id = ?", (source_id,))

    def source_by_artifact(self, artifact_id: str) -> Any | None:
        rows = self.query("SELECT * FROM idx_sources WHERE artifact_id = ?", (artifact_id,))
        return rows[0] if rows else None

    def source_rows(self, namespace: str | None = None) -> list[Any]:
        sql, params = "SELECT * FROM idx_sources", []
        if namespace is not None:
            sql, params = sql + " WHERE namespace = ?", [namespace]
        return self.query(sql + " ORDER BY created_at, source_id", params)

    def source_digests(self) -> set[str]:
        return {r[0] for r in self.query("SELECT DISTINCT sha256 FROM idx_sources")}

    def pending_sources(self, limit: int) -> list[Any]:
        return self.query(
            "SELECT * FROM idx_sources WHERE index_status = 'pending' ORDER BY created_at LIMIT ?",
            (limit,))

    def claim_pending_sources(self, limit: int) -> list[Any]:
        """Pending sources for this worker. On a shared database each is marked ``indexing``
        and claimed as versions are (``<client id>/sources`` for ``CLAIM_SECONDS``, rows taken
        ``FOR UPDATE SKIP LOCKED``), so no two workers embed one; a claim whose client has no
        connection any more (a killed process) or whose time ran out is taken over."""
        if not self.shared:
            return self.pending_sources(limit)
        from ..storage.catalog import CLAIM_SECONDS

        now = time.time()
        with self.transaction() as c:
            return c.execute(
                "UPDATE idx_sources SET index_status = 'indexing', claimed_by = ?, "
                "claim_until = ? WHERE source_id IN "
                "(SELECT source_id FROM idx_sources WHERE index_status = 'pending' "
                " OR (index_status = 'indexing' AND (claim_until IS NULL OR claim_until < ? "
                "  OR split_part(claimed_by, '/', 1) NOT IN (SELECT application_name "
                "  FROM pg_stat_activity WHERE application_name IS NOT NULL))) "
                " ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING *",
                (f"{self.db.client_id}/sources", now + CLAIM_SECONDS, now, limit)).fetchall()

    def set_source_status(self, source_id: str, status: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE idx_sources SET index_status = ? WHERE source_id = ?",
                      (status, source_id))

    def requeue_sources(self) -> None:
        with self.transaction() as c:
            c.execute("UPDATE idx_sources SET index_status = 'pending'")

    def pending_source_count(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM idx_sources "
                              "WHERE index_status IN ('pending', 'indexing')")[0][0])

    def has_pending_sources(self) -> bool:
        return bool(self.query(
            "SELECT 1 FROM idx_sources WHERE index_status = 'pending' LIMIT 1"))

    def table_copies(self) -> list[Any]:
        """How ``notebook-artifacts migrate`` copies these tables into PostgreSQL (chunks,
        keyword entries, cached vectors, sources, state: nothing is embedded again)."""
        from ..storage.migrate import TableCopy

        cols = [c.strip() for c in self._CHUNK_COLS.split(",")]
        chunk_cols = ["id", *cols]
        n = len(chunk_cols)
        return [
            TableCopy("idx_chunks", "id",
                      source_sql=f"SELECT {', '.join('c.' + c for c in chunk_cols)}, f.body "
                                 "FROM idx_chunks c LEFT JOIN idx_chunks_fts f ON f.rowid = c.id",
                      insert_sql=f"INSERT INTO idx_chunks({', '.join(chunk_cols)}, tsv) "
                                 f"VALUES ({','.join('?' * n)}, to_tsvector('english', ?))",
                      transform=lambda r: (*r[:n], _keyword.pg_document(r[n] or "")),
                      compare=chunk_cols),
            TableCopy("idx_embeddings", "model_id, sha256"),
            TableCopy("idx_sources", "source_id"),
            TableCopy("idx_state", "key", source_sql="SELECT * FROM idx_state WHERE key = 'generation'"),
        ]

    def close(self) -> None:
        """Close the connections this object opened (a shared pool belongs to the catalog)."""
        if self._owns or not self.shared:
            self.db.close()
