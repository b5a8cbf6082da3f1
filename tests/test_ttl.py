"""TTL parsing, expiry through an injectable clock, pins, expired events, gc."""

from __future__ import annotations

import datetime as dt

import pytest

from notebook_artifacts import InvalidInputError, NotFoundError
from notebook_artifacts.storage.ttl import parse_ttl
from store_fixtures import blob_files, clock, store  # noqa: F401


@pytest.mark.parametrize("value,seconds", [
    (90, 90), (1.2, 2), ("90", 90), ("30m", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600),
    ("1.5h", 5400), (dt.timedelta(minutes=5), 300), (None, None),
])
def test_parse_ttl(value, seconds):
    assert parse_ttl(value) == seconds


@pytest.mark.parametrize("value", [0, -5, "soon", "10y", "", True, dt.timedelta(0), [1]])
def test_bad_ttl_says_what_is_allowed(value):
    with pytest.raises(InvalidInputError, match="30m"):
        parse_ttl(value)


def test_expiry_hides_emits_and_gc_reclaims(store, clock):
    a = store.put(b"temporary", "tmp.bin", ttl="1h")
    store.put(b"durable", "keep.bin")
    assert a.ttl_seconds == 3600 and a.expires_at is not None and not a.is_expired
    clock.advance(3599)
    assert {x.name for x in store.list()} == {"tmp.bin", "keep.bin"}
    clock.advance(2)
    assert [x.name for x in store.list()] == ["keep.bin"]
    hidden = store.list(include_expired=True)
    assert {x.name for x in hidden} == {"tmp.bin", "keep.bin"}
    assert [x.is_expired for x in hidden if x.name == "tmp.bin"] == [True]
    expired = store.events(types="expired").events
    assert [e.name for e in expired] == ["tmp.bin"]
    store.list()  # a second sweep does not emit again
    assert len(store.events(types="expired").events) == 1
    with pytest.raises(NotFoundError, match="expired"):
        store.get("tmp.bin")
    assert store.get(a.artifact_id).is_expired  # by id the record is still there until gc
    assert len(blob_files(store.root)) == 2
    report = store.gc()
    assert report.expired_versions == 1 and report.blobs_removed == 1 and report.bytes_freed == 9
    assert len(blob_files(store.root)) == 1
    with pytest.raises(NotFoundError):
        store.get(a.artifact_id)


def test_expired_latest_falls_back_to_previous_version(store, clock):
    store.put("v1", "n.txt")
    store.put("v2", "n.txt", ttl=60)
    clock.advance(61)
    a = store.get("n.txt")
    assert a.version == 1 and a.is_latest and a.replaced_by_version is None
    assert store.read_text("n.txt") == "v1"


def test_pinned_never_expires(store, clock):
    store.put("x", "p.txt", ttl="1m", pinned=True)
    clock.advance(10**6)
    assert store.get("p.txt").is_pinned and not store.get("p.txt").is_expired
    store.update("p.txt", pinned=False)
    assert store.names() == []  # unpinned with a past expiry: expires on the next access


def test_update_ttl_and_clear(store, clock):
    store.put("x", "t.txt", ttl="1m")
    store.update("t.txt", ttl=None)
    clock.advance(3600)
    assert store.get("t.txt").ttl_seconds is None
    store.update("t.txt", ttl="10s")
    clock.advance(11)
    assert store.names() == []


def test_gc_keeps_blob_shared_with_live_version(store, clock):
    store.put(b"same", "a.bin", ttl=10)
    store.put(b"same", "b.bin")
    clock.advance(11)
    r = store.gc()
    assert r.expired_versions == 1 and r.blobs_removed == 0
    assert store.read_bytes("b.bin") == b"same"
