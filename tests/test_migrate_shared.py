"""``migrate --to-catalog --to-blobs --to-index-url``: an embedded store moved onto PostgreSQL,
S3 (moto on loopback) and a Chroma server lists, reads and queries the same, embedding
nothing again."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chroma_fixtures import chroma_server  # noqa: F401  (fixture)
from index_fixtures import DATA, embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore
from notebook_artifacts.cli import cli

pytestmark = pytest.mark.model

QUESTIONS = ("what is the p99 latency threshold before scaling", "churn model outliers",
             "otter survey station")


def _answers(store: ArtifactStore) -> dict:
    return {(q, mode): [(h.artifact.artifact_id, round(h.score, 4))
                        for h in store.query(q, k=3, mode=mode).results]
            for q in QUESTIONS for mode in ("hybrid", "dense", "keyword")}


def test_migrate_an_embedded_store_to_postgres_s3_and_a_chroma_server(
        tmp_path, pg_url, s3_bucket, s3_client, chroma_server, embedder):
    root = tmp_path / "laptop"
    with ArtifactStore(root) as s:
        s.put(DATA / "project_notes.md", tags=["notes"])
        s.put(DATA / "runbook.html", session_id="ops")
        s.put("Otters were counted at station S-101 during the spring survey.", "otters.txt")
        s.put("Otters counted again: 12 more than in spring.", "otters.txt")
        s.put(b"\x00\x01binary", "raw.bin")
        assert s.wait_indexed(300)
        s.promote("otters.txt")
        assert s.wait_indexed(300)
        s._index().brute_force_max = 0  # dense candidates from Chroma, as on a large store
        before = {a.artifact_id: a for a in s.list(limit=50).artifacts}
        every = {v.artifact_id: v for a in before.values()
                 for v in s.versions(a.name, session_id=a.session_id)}
        assert len(every) == 5
        content = {aid: s.read_bytes(aid) for aid in every}
        answers = _answers(s)
    blobs = f"s3://{s3_bucket}/team"
    args = ["--root", str(root), "migrate", "--to-catalog", pg_url, "--to-blobs", blobs,
            "--to-index-url", chroma_server.url, "--json"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["verified"]
    digests = sorted({v.sha256 for v in every.values()})
    assert out["rows"]["blobs"] == len(digests)
    assert out["rows"]["vectors"] > 0 and out["rows"]["artifact_versions"] == len(every)
    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == digests

    with ArtifactStore(tmp_path / "server", catalog=pg_url, blobs=blobs,
                       index_url=chroma_server.url) as s:
        assert {a.artifact_id: a for a in s.list(limit=50).artifacts} == before
        assert {aid: s.read_bytes(aid) for aid in every} == content
        s._index().brute_force_max = 0
        assert s.wait_indexed(5)  # nothing left to index: the index came along
        after = _answers(s)
        # dense search reads the copied vectors (from the Chroma server here): the same
        # hits with the same scores; keyword scoring is PostgreSQL's own (tsvector, not
        # SQLite's FTS5), so hybrid and keyword answers agree on their best hit
        for (q, mode), hits in answers.items():
            if mode == "dense":
                assert after[q, mode] == hits, q
            else:
                assert after[q, mode][0][0] == hits[0][0], (q, mode)
        assert s._index().cache.embedded_count == 0
        assert s.fsck().ok
        assert not (tmp_path / "server" / "index").exists() and not (
            tmp_path / "server" / "blobs" / "sha256").exists()
    with ArtifactStore(root, index=False) as s:  # the laptop's store is untouched
        assert {a.artifact_id for a in s.list(limit=50).artifacts} == set(before)

    # a second run converges on the content and vectors (nothing uploaded again) and
    # refuses the now non-empty catalog
    r = CliRunner().invoke(cli, ["--root", str(root), "migrate", "--to-blobs", blobs,
                                 "--to-index-url", chroma_server.url, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rows"]["blobs"] == 0
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "already holds artifacts" in r.output


def test_migrate_needs_a_target_and_an_embedded_store(tmp_path):
    r = CliRunner().invoke(cli, ["--root", str(tmp_path), "migrate"])
    assert r.exit_code == 2 and "--to-catalog URL, --to-blobs URL" in r.output
    r = CliRunner().invoke(cli, ["--root", str(tmp_path / "none"), "migrate", "--to-blobs",
                                 "s3://bucket/x"])
    assert r.exit_code == 2 and "no embedded store" in r.output
