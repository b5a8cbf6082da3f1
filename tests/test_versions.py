"""Versioning: numbers, lineage ids, is_latest / replaced_by_version."""

from __future__ import annotations

import pytest

from notebook_artifacts import NotFoundError
from store_fixtures import BOTH_STORES, backing, clock, store  # noqa: F401

# every store test locally and over HTTP, on local and on S3 blobs
pytestmark = [BOTH_STORES, pytest.mark.blob_backends]


def test_versions_count_from_one_and_link(store):
    a1 = store.put("one", "n.txt")
    a2 = store.put("two", "n.txt")
    a3 = store.put("three", "n.txt")
    vs = store.versions("n.txt")
    assert [v.version for v in vs] == [1, 2, 3]
    assert {v.root_artifact_id for v in vs} == {a1.artifact_id}
    assert [v.is_latest for v in vs] == [False, False, True]
    assert [v.replaced_by_version for v in vs] == [2, 3, None]
    assert store.get("n.txt").artifact_id == a3.artifact_id
    assert store.read_text("n.txt", version=2) == "two"
    assert store.get(a1.artifact_id, version=3).artifact_id == a3.artifact_id
    assert store.versions(a2.artifact_id) == vs


def test_missing_version_is_not_found(store):
    store.put("one", "n.txt")
    with pytest.raises(NotFoundError, match="no version 7"):
        store.get("n.txt", version=7)


def test_events_for_first_and_later_versions(store):
    store.put("one", "n.txt")
    store.put("two", "n.txt")
    assert [e.type for e in store.events().events] == ["created", "version_created"]
