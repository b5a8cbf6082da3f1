"""A real PostgreSQL server for the shared-catalog tests, started once per test session.

Debian's PostgreSQL (``/usr/lib/postgresql/<v>/bin``, installed by .ci/run) runs as the
``postgres`` user (the server refuses root) on a temporary directory and a free loopback
port. Each test gets a fresh database (:func:`pg_url`). Without PostgreSQL on the machine the
tests that need it are skipped with the command that installs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

__all__ = ["postgres_server", "pg_url", "pg_bin", "new_database", "catalog", "module_catalog",
           "BACKENDS"]


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (None when absent)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


class PostgresServer:
    """One running server: ``url(dbname)`` and ``create_database()``."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="na-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                                     "-U", "postgres", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)
        self.start()

    def start(self) -> None:
        # -l: the server's output goes to a file (a pipe would keep pg_ctl's stdout open)
        self._ctl("start", "-w", "-l", str(self.log), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off -c max_connections=200")

    def _ctl(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]),
                       check=True, capture_output=True, timeout=120)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self) -> None:
        """Stop (disconnecting every client at once) and start again on the same port."""
        self._ctl("stop", "-w", "-m", "fast")
        self.start()

    def stop(self) -> None:
        try:
            self._ctl("stop", "-w", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """The session's PostgreSQL server (started on first use, stopped at the end)."""
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed: apt-get install -y postgresql (.ci/run does)")
    server = PostgresServer(bindir)
    yield server
    server.stop()


def new_database(server: PostgresServer) -> str:
    return server.create_database()


@pytest.fixture
def pg_url(postgres_server) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.create_database()


#: the catalogs every public-API test runs against
BACKENDS = ("embedded", "postgresql")


def _catalog_for(request) -> str | None:
    if request.param == "embedded":
        return None
    return request.getfixturevalue("postgres_server").create_database()


@pytest.fixture(params=BACKENDS)
def catalog(request) -> str | None:
    """``catalog=`` for a store: None (the embedded SQLite default) or a fresh PostgreSQL
    database's URL."""
    return _catalog_for(request)


@pytest.fixture(scope="module", params=BACKENDS)
def module_catalog(request) -> str | None:
    """:func:`catalog` for module-scoped stores."""
    return _catalog_for(request)
