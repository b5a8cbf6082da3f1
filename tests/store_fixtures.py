"""Shared helpers for the store's tests: a fake clock and a store on a tmp dir."""

from __future__ import annotations

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
def store(tmp_path, clock, catalog):
    """A store on the embedded catalog, then on PostgreSQL (the ``catalog`` fixture)."""
    s = ArtifactStore(tmp_path / "store", clock=clock, index=False, catalog=catalog)
    yield s
    s.close()


def blob_files(root) -> list:
    return [p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file()]
