"""The index's own tables inside ``catalog.sqlite3`` (all prefixed ``idx_``).

- ``idx_chunks``: one row per chunk of an indexed artifact version (scope ``artifacts``) or of a
  promoted source (scope ``sources``): text, location, the sha256 of its embedded text.
- ``idx_chunks_fts``: FTS5 (porter stemming, ``_`` kept inside words) over the embedded text,
  ``rowid`` = ``idx_chunks.id``.
- ``idx_heads_fts``: FTS5 over each chunk's fields: the artifact name and the heading path
  (:func:`head_text`), so a query naming a file or a section can weigh that match apart.
- ``idx_embeddings``: the embedding cache, ``(model_id, sha256) -> float32 vector``. It also
  serves dense queries in processes that do not hold the Chroma lock.
- ``idx_sources``: promoted sources (durable; outlive TTL, deletion and session cleanup).
- ``idx_state``: key/value (event cursor, a generation counter bumped on every chunk change).

The catalog's own tables belong to storage; this module never writes them.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator
from pathlib import Path

__all__ = ["IndexDB", "head_text"]


def head_text(name: str | None, heading: str | None) -> str:
    """The field text of a chunk: its artifact name and heading path (``a > b``)."""
    return " ".join(x for x in (name or "", (heading or "").replace(" > ", " ")) if x)

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
    model_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_chunks_owner ON idx_chunks(owner_id);
CREATE INDEX IF NOT EXISTS idx_chunks_artifact ON idx_chunks(artifact_id);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_chunks_fts USING fts5(
    body, tokenize = "porter unicode61 tokenchars '_'"
);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_heads_fts USING fts5(
    head, tokenize = "porter unicode61 tokenchars '_'"
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


class IndexDB:
    """Thread-local connections to the catalog file; creates the ``idx_`` tables."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        conn = self.conn()
        try:
            conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:  # pragma: no cover - sqlite without FTS5
            if "fts5" in str(exc).lower():
                from ..errors import IndexUnavailableError

                raise IndexUnavailableError(
                    "this Python's sqlite3 lacks FTS5; install a Python built with FTS5") from exc
            raise
        self._fill_heads(conn)

    def _fill_heads(self, conn: sqlite3.Connection) -> None:
        """Give chunks indexed before ``idx_heads_fts`` existed their field rows (once)."""
        if self.get_state("heads_filled") == "1":
            return
        with self.transaction() as tx:
            tx.execute("DELETE FROM idx_heads_fts")
            for cid, name, heading in tx.execute("SELECT id, name, heading FROM idx_chunks").fetchall():
                tx.execute("INSERT INTO idx_heads_fts(rowid, head) VALUES (?, ?)",
                           (cid, head_text(name, heading)))
            self.set_state("heads_filled", "1", tx)

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:  # another connection holds it; WAL is sticky
                pass
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get_state(self, key: str, default: str | None = None) -> str | None:
        row = self.conn().execute("SELECT value FROM idx_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        (conn or self.conn()).execute(
            "INSERT INTO idx_state(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def bump_generation(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO idx_state(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def generation(self) -> int:
        return int(self.get_state("generation", "0") or 0)

    def close(self) -> None:
        """Close every connection this object opened (from any thread)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # pragma: no cover - closed by its thread
                pass
        self._local = threading.local()
