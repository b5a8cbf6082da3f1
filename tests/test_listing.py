"""list(): latest versions, filters, paging; frame(); names(); sessions()."""

from __future__ import annotations

import pytest

from notebook_artifacts import InvalidInputError
from store_fixtures import BOTH_STORES, backing, clock, store  # noqa: F401

pytestmark = BOTH_STORES


def test_list_shows_latest_version_newest_first(store):
    store.put("a1", "a.txt")
    store.put("b1", "b.txt")
    store.put("a2", "a.txt")
    page = store.list()
    assert [(a.name, a.version) for a in page] == [("a.txt", 2), ("b.txt", 1)]
    assert page.total == 2 and not page.has_more and page.next_cursor is None


def test_filters_by_scope_tags_and_types(store):
    store.put("x", "x.txt", namespace="app/u1", session_id="s1", tags=["keep", "red"])
    store.put("y", "y.txt", namespace="app/u1", tags="keep")
    store.put({"z": 1}, "z.json", namespace="app/u2", tags=["red"])
    assert {a.name for a in store.list(namespace="app/u1")} == {"x.txt", "y.txt"}
    assert [a.name for a in store.list(session_id="s1")] == ["x.txt"]
    assert {a.name for a in store.list(tags=["red"])} == {"x.txt", "z.json"}
    assert [a.name for a in store.list(tags=["keep", "red"])] == ["x.txt"]
    assert [a.name for a in store.list(types="json")] == ["z.json"]
    assert store.names("app/u1") == ["y.txt"]
    assert store.names("app/u1", "s1") == ["x.txt"]


def test_paging_visits_every_artifact_once(store):
    for i in range(23):
        store.put(str(i), f"f{i:02d}.txt")
    seen, cursor = [], None
    while True:
        page = store.list(limit=10, cursor=cursor)
        assert page.total == 23
        seen += [a.name for a in page]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert len(seen) == 23 and len(set(seen)) == 23


def test_bad_limit_and_cursor(store):
    with pytest.raises(InvalidInputError, match="from 1 to 200"):
        store.list(limit=0)
    with pytest.raises(InvalidInputError, match="next_cursor"):
        store.list(cursor="abc")
    with pytest.raises(InvalidInputError, match="next_cursor"):
        store.list(cursor=str(2**63))  # was an OverflowError (HTTP 500)


def test_frame_has_one_row_per_artifact(store):
    store.put("a", "a.txt", tags=["t"])
    store.put("b", "b.txt")
    df = store.frame()
    assert list(df["name"]) == ["b.txt", "a.txt"]
    assert {"artifact_id", "version", "size_bytes", "tags"} <= set(df.columns)


def test_sessions_lists_counts(store):
    store.put("a", "a.txt", session_id="s1")
    store.put("b", "b.txt", session_id="s1")
    store.put("c", "c.txt", session_id="s2", namespace="other")
    rows = {s["session_id"]: s for s in store.sessions()}
    assert rows["s1"]["artifacts"] == 2 and rows["s1"]["namespace"] == "default"
    assert [s["session_id"] for s in store.sessions("other")] == ["s2"]
