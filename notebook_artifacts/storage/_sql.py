"""The database under the catalog and the index: one interface, two engines.

SQL is written once, with ``?`` placeholders, in the subset both engines agree on
(``ON CONFLICT ... DO UPDATE``, ``RETURNING``, ``CASE``, ``CAST``); the few places where the
dialects differ are named methods of the database object (event cursors, tag filters,
wake-ups, job claims, integrity checks). :class:`SqliteDB` is the embedded default (one file,
WAL); :class:`~notebook_artifacts.storage.postgres.PostgresDB` serves many machines.

A :class:`Database` hands out connections only inside ``read()`` (one snapshot),
``write()`` (one write transaction; writers serialise, as ``BEGIN IMMEDIATE`` does) and
``transaction()`` (a transaction that does not take the writers' lock: the index's own
tables, job claims). Rows support ``row["column"]``, ``row[0]`` and ``dict(row)``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Conn", "Database", "SqliteDB", "open_database", "connect", "BUSY_TIMEOUT_MS",
           "ChangeFeed", "is_catalog_url"]

BUSY_TIMEOUT_MS = 15000
#: the page size of a new SQLite file. Each B-tree a commit touches is one whole page in the
#: WAL and again at the checkpoint, and a put touches about a dozen (versions, their indexes,
#: the lineage, the event): 2 KiB pages halve those bytes against SQLite's 4 KiB, which cost
#: a small put a fifth of its time; a file made before keeps its page size
PAGE_SIZE = 2048


class Conn(Protocol):
    """A connection inside one transaction: ``execute`` returns a DB-API cursor."""

    dialect: str

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...


class ChangeFeed(Protocol):
    """Tells a watcher thread that another writer (in any process) may have committed."""

    def wait(self, timeout: float) -> bool: ...

    def poke(self) -> None: ...

    @contextmanager
    def reading(self) -> Iterator[Conn]: ...

    def close(self) -> None: ...


class Database(Protocol):
    """What the catalog and the index need from an engine (SqliteDB, PostgresDB)."""

    dialect: str  # "sqlite" | "postgresql"
    #: True when many machines share it (no per-machine lock file, jobs claimed row by row)
    shared: bool
    #: what error messages and reports name (a file path, or a URL without its password)
    location: str
    #: the SQLite file (None on PostgreSQL)
    path: Path | None
    #: errors worth a retry (busy, unreachable)
    transient_errors: tuple[type[BaseException], ...]

    def read(self) -> Any: ...

    def write(self) -> Any: ...

    def transaction(self) -> Any: ...

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[Any]: ...

    def has_table(self, c: Conn, name: str) -> bool: ...

    def integrity_problems(self) -> list[str]: ...

    def change_feed(self, interval: float) -> ChangeFeed: ...

    def close(self) -> None: ...


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A SQLite connection in autocommit mode (explicit BEGIN), WAL, with a long busy timeout."""
    conn = sqlite3.connect(
        os.fspath(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
        check_same_thread=False,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new, empty file only: then WAL fixes it
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:  # another connection is switching it; WAL is sticky
        pass
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _SqliteConn:
    """A sqlite3 connection seen through :class:`Conn`."""

    dialect = "sqlite"
    __slots__ = ("raw",)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        return self.raw.executemany(sql, rows)


class SqliteDB:
    """One SQLite file. ``per_thread=False`` (the catalog): one connection behind a lock;
    ``per_thread=True`` (the index): one connection per thread, so a query on one thread
    does not wait for a write on another."""

    dialect = "sqlite"
    shared = False
    transient_errors: tuple[type[BaseException], ...] = (sqlite3.OperationalError,)

    def __init__(self, path: str | os.PathLike[str], *, per_thread: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.per_thread = per_thread
        self._lock = threading.RLock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._conn = None if per_thread else self._open()

    def _open(self) -> sqlite3.Connection:
        conn = connect(self.path)
        with self._lock:
            self._all.append(conn)
        return conn

    def _raw(self) -> sqlite3.Connection:
        if not self.per_thread:
            return self._conn  # type: ignore[return-value]
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        if self.per_thread:
            yield
        else:
            with self._lock:
                yield

    @contextmanager
    def read(self) -> Iterator[Conn]:
        """A consistent snapshot for several SELECTs."""
        with self._guard():
            raw = self._raw()
            raw.execute("BEGIN")
            try:
                yield _SqliteConn(raw)
            finally:
                raw.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Conn]:
        """One write transaction (``BEGIN IMMEDIATE``); rolled back on any exception."""
        with self._guard():
            raw = self._raw()
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteConn(raw)
                raw.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (SQLITE_FULL, I/O errors); never leave
                # the connection inside a transaction, or every later write here would fail
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise

    transaction = write  # SQLite has one writer at a time anyway

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._guard():
            return self._raw().execute(sql, tuple(params)).fetchall()

    def change_feed(self, interval: float) -> "_SqliteFeed":
        return _SqliteFeed(self.path, interval)

    def integrity_problems(self) -> list[str]:
        result = [r[0] for r in self.query("PRAGMA integrity_check")]
        return [] if result == ["ok"] else ["SQLite integrity_check: " + "; ".join(result[:5])]

    def has_table(self, c: Conn, name: str) -> bool:
        return c.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                         (name,)).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.ProgrammingError:  # pragma: no cover - closed by its thread
                pass
        self._local = threading.local()


class _SqliteFeed:
    """Polls ``PRAGMA data_version`` on its own connection: it changes when any other
    connection (in any process) commits."""

    def __init__(self, path: Path, interval: float) -> None:
        self.interval = interval
        self._conn = connect(path)
        self._last = self._conn.execute("PRAGMA data_version").fetchone()[0]
        self._tick = threading.Event()

    def poke(self) -> None:
        self._tick.set()

    def wait(self, timeout: float) -> bool:
        self._tick.wait(min(timeout, self.interval))
        self._tick.clear()
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        changed, self._last = version != self._last, version
        return changed

    @contextmanager
    def reading(self) -> Iterator[Conn]:
        yield _SqliteConn(self._conn)

    def close(self) -> None:
        self._conn.close()


def is_catalog_url(value: str | None) -> bool:
    return bool(value) and str(value).split(":", 1)[0].lower() in ("postgresql", "postgres")


def open_database(root: Path, catalog: str | None) -> Any:
    """The catalog's database: ``<root>/catalog.sqlite3``, or PostgreSQL at ``catalog``."""
    if catalog is None or catalog == "":
        return SqliteDB(root / "catalog.sqlite3")
    if not is_catalog_url(catalog):
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"invalid catalog {catalog!r}: give a PostgreSQL URL like "
            "postgresql://user@host:5432/dbname, or leave it unset for the embedded catalog")
    from .postgres import PostgresDB

    return PostgresDB(catalog)
