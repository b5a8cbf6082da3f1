"""Keyword search looks inside artifact names (substrings: ``forecast`` in
``salesforecast_q3.txt``), on both catalogs; a SQLite store from before the name index gets it
filled when opened."""

from __future__ import annotations

import sqlite3

import pytest

from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore

pytestmark = pytest.mark.model

DOCS = {
    # the compound in the name appears nowhere in the text
    "salesforecast_q3.txt": "Weekly numbers for the northern shops, with a projection per region.",
    "print_tb.txt": "Writes up to limit stack trace entries from the traceback object.",
    "getsourcelines.txt": "The lines come back as a list together with the number of the first.",
    "river_levels.txt": "Gauge readings for the river, taken every morning at six.",
    "glossary.txt": "Terms used across the team: run, sweep, holdout, baseline, ablation.",
}


@pytest.fixture(scope="module")
def named(tmp_path_factory, embedder, module_catalog):
    store = ArtifactStore(tmp_path_factory.mktemp("names"), catalog=module_catalog)
    for name, text in DOCS.items():
        store.put(text, name=name)
    assert store.wait_indexed(300)
    yield store
    store.close()


def _names(store, text: str, mode: str = "keyword", k: int = 3) -> list[str]:
    return [h.artifact.name for h in store.query(text, k=k, mode=mode).results]


def test_a_word_inside_a_name_finds_the_artifact(named):
    assert _names(named, "forecast")[0] == "salesforecast_q3.txt"
    assert _names(named, "the sales forecast")[0] == "salesforecast_q3.txt"
    # words of an identifier joined by "_", and words run together, as a user types them
    assert _names(named, "print the tb")[0] == "print_tb.txt"
    assert _names(named, "source lines of a function")[0] == "getsourcelines.txt"


def test_name_matches_count_in_hybrid_mode_too(named):
    assert _names(named, "sales forecast for the third quarter", mode="hybrid")[0] == \
        "salesforecast_q3.txt"


def test_a_long_natural_language_sentence_finds_its_document_by_keyword(named):
    # any of the words may match (OR), stop words are dropped, stems match ("readings", "taken")
    got = _names(named, "Where can I find the gauge reading that was taken each morning "
                        "for the river near the bridge?")
    assert got[0] == "river_levels.txt"


def test_short_words_and_no_match_in_names_add_nothing(named):
    assert _names(named, "zzqqxx") == []
    # "cast" is inside salesforecast_q3.txt; "ec" is too, but too short to search inside names
    assert _names(named, "cast") == ["salesforecast_q3.txt"]
    assert _names(named, "ec") == []


def test_a_deleted_artifact_leaves_the_name_index(tmp_path, embedder, catalog):
    store = ArtifactStore(tmp_path / "s", catalog=catalog)
    art = store.put("Nothing to see in this text.", name="budgetplanner_2027.txt")
    assert store.wait_indexed(120)
    assert _names(store, "planner") == ["budgetplanner_2027.txt"]
    store.delete(art.artifact_id)
    assert store.wait_indexed(120)
    assert _names(store, "planner") == []
    store.close()


def test_a_store_from_before_the_name_index_gets_it_on_open(tmp_path, embedder):
    root = tmp_path / "old"
    store = ArtifactStore(root)
    store.put(DOCS["salesforecast_q3.txt"], name="salesforecast_q3.txt")
    store.put(DOCS["river_levels.txt"], name="river_levels.txt")
    assert store.wait_indexed(120)
    store.close()
    # what an older version left behind: no name table and no keyword schema mark
    with sqlite3.connect(root / "catalog.sqlite3") as db:
        db.execute("DROP TABLE idx_names_fts")
        db.execute("DELETE FROM idx_state WHERE key = 'keyword_schema'")
    reopened = ArtifactStore(root)
    try:
        assert _names(reopened, "forecast") == ["salesforecast_q3.txt"]
        assert _names(reopened, "river gauge")[0] == "river_levels.txt"  # text search intact
        db = reopened._index().db
        assert db.query("SELECT count(*) FROM idx_names_fts")[0][0] == \
            db.query("SELECT count(*) FROM idx_chunks")[0][0] > 0
    finally:
        reopened.close()

