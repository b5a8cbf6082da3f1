"""update() of tags/metadata/description/TTL/pin, and delete() of one version or all."""

from __future__ import annotations

import pytest

from notebook_artifacts import InvalidInputError, NotFoundError
from store_fixtures import BOTH_STORES, backing, blob_files, clock, store  # noqa: F401

# every store test locally and over HTTP, on local and on S3 blobs
pytestmark = [BOTH_STORES, pytest.mark.blob_backends]


def test_update_tags_metadata_description_emits_updated(store):
    a = store.put("x", "x.txt", tags=["a", "b"], metadata={"k": 1})
    before = store.latest_cursor()
    b = store.update("x.txt", add_tags=["c"], remove_tags="a", description="hi",
                     metadata={"z": True})
    assert b.tags == ["b", "c"] and b.metadata == {"z": True} and b.description == "hi"
    assert b.artifact_id == a.artifact_id and b.version == 1
    ev = store.events(after=before).events
    assert [e.type for e in ev] == ["updated"]
    assert ev[0].data["changed"] == ["description", "metadata", "tags"]
    c = store.update("x.txt", tags=["only"])
    assert c.tags == ["only"] and store.get("x.txt").tags == ["only"]


def test_update_without_changes_emits_nothing(store):
    store.put("x", "x.txt", tags=["a"])
    before = store.latest_cursor()
    store.update("x.txt", add_tags=["a"])
    assert store.latest_cursor() == before


def test_update_one_version_leaves_others(store):
    store.put("1", "n.txt")
    store.put("2", "n.txt")
    store.update("n.txt", version=1, add_tags="old")
    assert store.get("n.txt", version=1).tags == ["old"] and store.get("n.txt").tags == []


def test_rejected_update_changes_nothing(store):
    store.put("x", "x.txt", tags=["a"])
    before = store.latest_cursor()
    with pytest.raises(InvalidInputError):
        store.update("x.txt", add_tags=["ok"], metadata={"bad": {1, 2}})
    with pytest.raises(InvalidInputError):
        store.update("x.txt", ttl="soon")
    assert store.get("x.txt").tags == ["a"] and store.latest_cursor() == before


def test_delete_latest_version_relinks(store):
    store.put("1", "n.txt")
    store.put("2", "n.txt")
    store.put("3", "n.txt")
    gone = store.delete("n.txt", version=3)
    assert [a.version for a in gone] == [3]
    vs = store.versions("n.txt")
    assert [(v.version, v.is_latest, v.replaced_by_version) for v in vs] == [(1, False, 2), (2, True, None)]
    assert store.read_text("n.txt") == "2"
    # numbers are never reused within a lineage
    assert store.put("4", "n.txt").version == 4


def test_delete_middle_version_relinks(store):
    for i in (1, 2, 3):
        store.put(str(i), "n.txt")
    store.delete("n.txt", version=2)
    vs = store.versions("n.txt")
    assert [(v.version, v.replaced_by_version) for v in vs] == [(1, 3), (3, None)]


def test_delete_all_versions_and_content(store):
    a = store.put("one", "n.txt")
    store.put("two", "n.txt")
    store.put("keep", "other.txt")
    before = store.latest_cursor()
    gone = store.delete(a.artifact_id)
    assert sorted(g.version for g in gone) == [1, 2]
    assert [e.type for e in store.events(after=before).events] == ["deleted", "deleted"]
    with pytest.raises(NotFoundError):
        store.get("n.txt")
    assert len(blob_files(store)) == 1  # only other.txt's content is left
    assert store.put("new", "n.txt").version == 1


def test_delete_keeps_content_another_version_uses(store):
    store.put(b"shared", "a.bin")
    store.put(b"shared", "b.bin")
    store.delete("a.bin")
    assert store.read_bytes("b.bin") == b"shared"


def test_delete_missing(store):
    store.put("x", "x.txt")
    with pytest.raises(NotFoundError):
        store.delete("nope.txt")
    with pytest.raises(NotFoundError, match="no version 5"):
        store.delete("x.txt", version=5)
