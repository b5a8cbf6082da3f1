"""Shared helpers for the store's tests: a fake clock and a store on a tmp dir.

``store`` is an :class:`ArtifactStore` on ``tmp_path``. Two markers widen a module's ``store``
tests (conftest's ``pytest_generate_tests``):

- ``pytestmark = BOTH_STORES``: ``store`` is also a :class:`RemoteStore` connected over
  loopback HTTP to a real uvicorn server serving that directory (on a thread of the test process,
  so it shares the fake clock), and the two faces cannot drift. With
  ``NA_PARITY_SERVER=process`` the server is a separate ``notebook-artifacts serve`` process on
  the same directory instead (slower: one process per test). ``backing(store)`` is the
  ArtifactStore underneath (the store itself when local); tests that look at internals mark
  themselves ``@pytest.mark.local_only``.
- ``pytest.mark.blob_backends``: the content lives on local files and, in a second run, on S3
  (moto on loopback, a fresh bucket per test).

Every ``store`` test also runs on the embedded catalog and on PostgreSQL (``catalog`` in
pg_fixtures.py), so the four face x content x catalog combinations cannot drift.
"""

from __future__ import annotations

import os

import pytest

from notebook_artifacts import ArtifactStore

REMOTE_TOKEN = "parity-token-4d1e"
#: ``pytestmark = BOTH_STORES`` runs a module's ``store`` tests locally and over HTTP
#: (conftest's ``pytest_generate_tests`` parametrizes every test there that uses ``store``)
BOTH_STORES = pytest.mark.both_stores
_BACKING: dict[int, ArtifactStore] = {}


class FakeClock:
    """An injectable clock (epoch seconds) that only moves when told to."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(request, tmp_path, clock, blobs_url, catalog):
    """A store on the embedded catalog, then on PostgreSQL (the ``catalog`` fixture); on local
    or S3 blobs and in Python or over HTTP where the module's markers ask (see above)."""
    s = ArtifactStore(tmp_path / "store", clock=clock, index=False, blobs=blobs_url,
                      catalog=catalog)
    kind = getattr(request, "param", "local")
    if kind == "local":
        yield s
        s.close()
        return
    if request.node.get_closest_marker("local_only"):
        s.close()
        pytest.skip("looks at the local store's internals")
    if os.environ.get("NA_PARITY_SERVER") == "process":
        # a `notebook-artifacts serve` process on the same root (TTL clocks are its own)
        from notebook_artifacts import connect
        from remote_fixtures import ServerProcess

        with ServerProcess(s.root, "--token", REMOTE_TOKEN) as srv:
            remote = connect(srv.url, REMOTE_TOKEN)
            _BACKING[id(remote)] = s
            yield remote
            _BACKING.pop(id(remote), None)
            remote.close()
        s.close()
        return
    with served(s) as remote:
        yield remote
    s.close()


class served:
    """``with served(store) as remote``: serve ``store`` on loopback, connect a RemoteStore."""

    def __init__(self, local: ArtifactStore, **app_kwargs):
        self.local = local
        self.app_kwargs = app_kwargs

    def __enter__(self):
        from notebook_artifacts import connect
        from notebook_artifacts.server.runner import serve_in_thread

        self.handle = serve_in_thread(self.local, token=REMOTE_TOKEN, **self.app_kwargs)
        self.remote = connect(self.handle.url, REMOTE_TOKEN)
        _BACKING[id(self.remote)] = self.local
        return self.remote

    def __exit__(self, *exc):
        _BACKING.pop(id(self.remote), None)
        self.remote.close()
        self.handle.stop()


def backing(store) -> ArtifactStore:
    """The ArtifactStore holding the data: the store itself, or the one a RemoteStore reaches."""
    return _BACKING.get(id(store), store)


def blob_files(where) -> list:
    """The blobs a store holds (their locations); ``where``: a store, or a local store's root."""
    if hasattr(where, "put"):
        return [e.location for e in backing(where)._blobs.iter_blobs()]
    return [p for p in (where / "blobs" / "sha256").rglob("*") if p.is_file()]


def write_raw_blob(store: ArtifactStore, name: str, data: bytes) -> str:
    """Write ``data`` under blob name ``name`` behind the store's back; returns its location."""
    b = backing(store)._blobs
    if hasattr(b, "fs"):
        b.fs.pipe_file(b.key(name), data)
        return b.location(name)
    p = b.path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists():
        os.chmod(p, 0o644)
    p.write_bytes(data)
    return str(p)


def delete_raw_blob(store: ArtifactStore, name: str) -> None:
    """Delete blob ``name`` behind the store's back."""
    b = backing(store)._blobs
    if hasattr(b, "fs"):
        b.fs.rm_file(b.key(name))
    else:
        b.path(name).unlink()


def raw_blob_exists(store: ArtifactStore, name: str) -> bool:
    b = backing(store)._blobs
    return b.fs.exists(b.key(name)) if hasattr(b, "fs") else b.path(name).exists()
