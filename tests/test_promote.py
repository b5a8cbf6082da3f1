"""promote(): durable sources that outlive TTL, deletion and gc, queryable with scope=."""

from __future__ import annotations

import pytest

from index_fixtures import DATA, ManualClock, embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore, NotFoundError, Source

pytestmark = pytest.mark.model


@pytest.fixture
def store(tmp_path, embedder, catalog):
    s = ArtifactStore(tmp_path / "store", clock=ManualClock(), catalog=catalog)
    yield s
    s.close()


def test_promoted_source_survives_ttl_delete_and_gc(store):
    a = store.put(DATA / "field_report.pdf", session_id="run-7", ttl=60)
    other = store.put("Harbour crane maintenance intervals.", name="crane.txt")
    assert store.wait_indexed(120)
    src = store.promote("field_report.pdf", session_id="run-7")
    assert isinstance(src, Source) and src.source_id.startswith("src_")
    assert (src.artifact_id, src.version, src.sha256) == (a.artifact_id, 1, a.sha256)
    assert store.get(a.artifact_id).promoted_to_source_id == src.source_id
    assert store.promote(a.artifact_id).source_id == src.source_id  # idempotent
    assert [e.data for e in store.events(after=0, limit=100).events if e.type == "promoted"] == [
        {"source_id": src.source_id}]
    assert store.wait_indexed(120)

    hits = store.query("moisture sensor error code", k=3, scope="sources").results
    assert [h.location["source_id"] for h in hits] == [src.source_id]
    assert hits[0].location["scope"] == "sources" and hits[0].location["page"] == 3
    assert other.artifact_id not in [h.artifact.artifact_id for h in hits]
    both = store.query("moisture sensor error code", k=5, scope="all").results
    assert {h.location["scope"] for h in both if h.artifact.artifact_id == a.artifact_id} == {
        "artifacts", "sources"}

    # the version expires and is collected, then the whole lineage is deleted: the source stays
    store.clock.advance(120)
    store.gc()
    assert store._blobs.exists(a.sha256)
    assert "field_report.pdf" not in [h.artifact.name for h in store.query("moisture sensor").results]
    still = store.query("moisture sensor error code", k=3, scope="sources").results
    assert [h.location["source_id"] for h in still] == [src.source_id]
    assert still[0].artifact.artifact_id == a.artifact_id  # the record as promoted
    assert [s.source_id for s in store.sources()] == [src.source_id]
    report = store.fsck()
    assert not [p for p in report.problems if p.kind == "orphan_blob"]


def test_promote_of_a_deleted_version_and_unknown_ref(store):
    store.put("Short lived.", name="tmp.txt")
    store.delete("tmp.txt")
    with pytest.raises(NotFoundError):
        store.promote("tmp.txt")
    with pytest.raises(NotFoundError):
        store.promote("art_000000000000000000000000")


def test_deleting_a_promoted_artifact_keeps_its_content(store):
    a = store.put("Protocol for the seagrass transect survey.", name="protocol.txt")
    src = store.promote(a.artifact_id)
    store.delete("protocol.txt")
    assert store._blobs.exists(a.sha256)
    assert store.wait_indexed(120)
    hits = store.query("seagrass transect protocol", k=1, scope="sources").results
    assert [h.location["source_id"] for h in hits] == [src.source_id]
    assert store.sources(namespace="default")[0].source_name == "protocol.txt"


def test_sources_promoted_before_blob_pins_keep_their_content(tmp_path):
    """A store from before schema 3 (promoted sources only in the index's idx_sources) is
    migrated on open: gc keeps the content of a source whose version was deleted."""
    import sqlite3

    root = tmp_path / "old"
    with ArtifactStore(root, background_index=False) as s:
        a = s.put("durable findings", "findings.txt")
        s.promote("findings.txt")
    conn = sqlite3.connect(root / "catalog.sqlite3")
    conn.executescript("DROP TABLE blob_pins; "
                       "ALTER TABLE artifact_versions DROP COLUMN index_claimed_by; "
                       "ALTER TABLE artifact_versions DROP COLUMN index_claim_until; "
                       "UPDATE meta SET value='2' WHERE key='schema_version';")
    conn.close()
    with ArtifactStore(root, index=False) as s:
        s.delete("findings.txt")
        s.gc()
        assert s.fsck().ok
    with ArtifactStore(root, background_index=False) as s:
        assert [x.sha256 for x in s.sources()] == [a.sha256]
        assert (root / "blobs" / "sha256" / a.sha256[:2] / a.sha256).is_file()
