"""Shared helpers for the index tests: sample data paths, the real model, a controllable clock."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


class ManualClock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once per test process (shared by every store)."""
    from notebook_artifacts.index.embed import Embedder

    e = Embedder()
    e.load()
    return e


def chunk_rows(store, artifact_id: str) -> int:
    """Rows of one version in the keyword index (idx_chunks with their keyword entries)."""
    db = store._index().db
    if db.dialect == "postgresql":
        sql = "SELECT COUNT(*) FROM idx_chunks c WHERE c.tsv IS NOT NULL AND c.owner_id = ?"
    else:
        sql = ("SELECT COUNT(*) FROM idx_chunks c JOIN idx_chunks_fts f ON f.rowid = c.id "
               "WHERE c.owner_id = ?")
    return db.query(sql, (artifact_id,))[0][0]


def chroma_ids(store, owner_id: str) -> list[str]:
    """Ids of one owner's vectors in the Chroma collection (this process must hold it)."""
    vec = store._index().vectors()
    got = vec.collection.get(where={"owner_id": owner_id}, include=[])
    return sorted(got["ids"])
