"""Shared helpers for the store's tests: a fake clock and a store on a tmp dir, its content
on local files or (in modules marked ``blob_backends``) on S3 too."""

from __future__ import annotations

import os

import pytest

from notebook_artifacts import ArtifactStore


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
def store(tmp_path, clock, blobs_url):
    s = ArtifactStore(tmp_path / "store", clock=clock, index=False, blobs=blobs_url)
    yield s
    s.close()


def blob_files(where) -> list:
    """The blobs a store holds (its locations); ``where``: the store, or a local store's root."""
    if isinstance(where, ArtifactStore):
        return [e.location for e in where._blobs.iter_blobs()]
    return [p for p in (where / "blobs" / "sha256").rglob("*") if p.is_file()]


def write_raw_blob(store: ArtifactStore, name: str, data: bytes) -> str:
    """Write ``data`` under blob name ``name`` behind the store's back; returns its location."""
    b = store._blobs
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
    b = store._blobs
    if hasattr(b, "fs"):
        b.fs.rm_file(b.key(name))
    else:
        b.path(name).unlink()


def raw_blob_exists(store: ArtifactStore, name: str) -> bool:
    b = store._blobs
    return b.fs.exists(b.key(name)) if hasattr(b, "fs") else b.path(name).exists()
