"""The index on a real Chroma server (``index_url``) instead of the embedded directory."""

from __future__ import annotations

import time

import pytest

from chroma_fixtures import _free_port, chroma_server  # noqa: F401  (fixture)
from index_fixtures import DATA, embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore

pytestmark = pytest.mark.model


def test_index_and_query_through_a_chroma_server(tmp_path, chroma_server, embedder):
    url, port = chroma_server.url, chroma_server.port
    store = ArtifactStore(tmp_path / "store", index_url=url)
    try:
        a = store.put(DATA / "project_notes.md")
        b = store.put(DATA / "runbook.html")
        assert store.wait_indexed(180)
        a = store.get(a.artifact_id)
        assert a.is_indexed and a.index_collection
        assert not (tmp_path / "store" / "index").exists()  # nothing embedded locally

        import chromadb

        coll = chromadb.HttpClient(host="127.0.0.1", port=port).get_collection(a.index_collection)
        assert coll.metadata["hnsw:space"] == "cosine"
        assert len(coll.get(where={"owner_id": a.artifact_id}, include=[])["ids"]) == a.chunk_count

        res = store.query("what is the p99 latency threshold before scaling", k=2)
        assert res.results[0].artifact.artifact_id == b.artifact_id
        assert "Alerts > High latency" in res.results[0].location["section"]
        # above brute_force_max the dense candidates come from the server's HNSW index
        svc = store._index()
        svc.brute_force_max = 0
        for mode in ("dense", "hybrid"):
            via_server = store.query("what is the p99 latency threshold before scaling", k=2,
                                     mode=mode)
            assert via_server.results[0].artifact.artifact_id == b.artifact_id
            assert svc._matrix is None  # the in-memory matrix was never loaded
        assert store.query("churn model outliers", k=1, mode="dense",
                           mime_types=["text/markdown"]).results[0].artifact.name == "project_notes.md"

        store.delete(a.artifact_id)
        deadline = time.monotonic() + 30
        while coll.get(where={"owner_id": a.artifact_id}, include=[])["ids"]:
            assert time.monotonic() < deadline, "deleted chunks stayed on the server"
            time.sleep(0.2)
    finally:
        store.close()


def test_unreachable_server_gives_a_clear_error(tmp_path, embedder):
    from notebook_artifacts import IndexUnavailableError
    from notebook_artifacts.index.vectors import ChromaVectors

    with pytest.raises(IndexUnavailableError, match="cannot reach the Chroma server"):
        ChromaVectors(url=f"http://127.0.0.1:{_free_port()}", name="na-test-384")


def test_index_url_from_the_environment(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_INDEX_URL", url)
    with ArtifactStore(tmp_path / "s", index=False) as s:
        assert s.index_url == url
    with ArtifactStore(tmp_path / "s", index=False, index_url="http://other:8000") as s:
        assert s.index_url == "http://other:8000"
