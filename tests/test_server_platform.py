"""Seed 003 over HTTP: records, JSON and multipart create, update, versions, delete, pagination,
signed download URLs (expiry and scope), the 422 shape, and query/promote when the index exists."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from server_fixtures import AUTH, MAX_UPLOAD, TOKEN, app, client, spool_files, store  # noqa: F401

from notebook_artifacts import ArtifactStore
from notebook_artifacts.models import ARTIFACT_FIELDS
from notebook_artifacts.server import create_app

P = "/v1/orgs/acme/workspaces/research/namespaces/papers"
NS = "acme/research/papers"


def create(client, name, content="hello", **fields):
    r = client.post(f"{P}/artifacts", json={"name": name, "content": content, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def test_create_get_and_record_fields(client, store):
    rec = create(client, "notes.md", "# Notes\nsome text", tags=["a", "b"], metadata={"k": 1},
                 description="d", thread_id="t1", source_tool="writer")
    assert set(rec) == set(ARTIFACT_FIELDS)
    assert rec["namespace"] == NS and rec["thread_id"] == "t1" and rec["session_id"] == "t1"
    assert rec["tags"] == ["a", "b"] and rec["metadata"] == {"k": 1} and rec["version"] == 1
    assert rec["mime_type"] == "text/markdown"
    got = client.get(f"{P}/artifacts/{rec['artifact_id']}").json()
    assert got == rec
    assert store.read_text("notes.md", namespace=NS, session_id="t1") == "# Notes\nsome text"


def test_create_never_reads_a_server_path(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("server secret")
    rec = create(client, "p.txt", str(secret))
    assert client.get(f"{P}/artifacts/{rec['artifact_id']}").json()["size_bytes"] == len(str(secret).encode())


def test_upload_multipart_with_fields(client, store, tmp_path):
    r = client.post(f"{P}/artifacts/upload", files={"file": ("data.csv", b"a,b\n1,2\n", "text/csv")},
                    data={"name": "tables/data.csv", "tags": "x, y", "metadata": '{"rows": 1}',
                          "thread_id": "t2", "ttl_seconds": "3600", "description": "table"})
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["name"] == "tables/data.csv" and rec["tags"] == ["x", "y"] and rec["metadata"] == {"rows": 1}
    assert rec["session_id"] == "t2" and rec["ttl_seconds"] == 3600 and rec["expires_at"]
    assert rec["file_name"] == "data.csv" and rec["size_bytes"] == 8
    assert store.read_bytes(rec["artifact_id"]) == b"a,b\n1,2\n"
    bad = client.post(f"{P}/artifacts/upload", files={"file": ("x.bin", b"1")}, data={"metadata": "[1]"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "metadata"]
    assert client.post(f"{P}/artifacts/upload", data={"name": "nofile"}, files={"other": ("a", b"1")}).status_code == 422
    assert spool_files(tmp_path) == []


def test_list_paginates_and_filters_by_thread_and_type(client):
    for i in range(5):
        create(client, f"doc{i}.txt", f"text {i}", thread_id="t1" if i % 2 else None)
    seen, cursor = [], None
    while True:
        url = f"{P}/artifacts?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        assert page["total"] == 5 and len(page["artifacts"]) <= 2
        seen += [a["name"] for a in page["artifacts"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == [f"doc{i}.txt" for i in range(5)]
    thread = client.get(f"{P}/artifacts?thread_id=t1").json()
    assert sorted(a["name"] for a in thread["artifacts"]) == ["doc1.txt", "doc3.txt"]
    assert client.get(f"{P}/threads/t1/artifacts").json()["total"] == 2
    other_ns = client.get("/v1/orgs/acme/workspaces/research/namespaces/other/artifacts").json()
    assert other_ns["total"] == 0
    types = {a["artifact_type"] for a in client.get(f"{P}/artifacts").json()["artifacts"]}
    t = sorted(types)[0]
    assert all(a["artifact_type"] == t for a in client.get(f"{P}/artifacts?types={t}").json()["artifacts"])


def test_validation_errors_have_the_422_shape(client):
    for r in (client.get(f"{P}/artifacts?limit=201"), client.post(f"{P}/artifacts", json={"content": "x"}),
              client.get(f"{P}/artifacts/x/download?expires_in=10")):
        assert r.status_code == 422
        for d in r.json()["detail"]:
            assert set(d) == {"loc", "msg", "type", "input", "ctx"}
    assert client.get("/v1/orgs/acme/workspaces/..%2F/namespaces/x/artifacts").status_code in (404, 422)


def test_update_tags_ttl_pin_and_content(client, store):
    rec = create(client, "u.txt", "one", tags=["old"])
    aid = rec["artifact_id"]
    r = client.put(f"{P}/artifacts/{aid}", json={"add_tags": ["new"], "remove_tags": ["old"],
                                                 "ttl_seconds": 60, "is_pinned": True, "description": "x"})
    assert r.status_code == 200, r.text
    up = r.json()
    assert up["tags"] == ["new"] and up["ttl_seconds"] == 60 and up["is_pinned"] is True and up["description"] == "x"
    cleared = client.put(f"{P}/artifacts/{aid}", json={"clear_ttl": True}).json()
    assert cleared["ttl_seconds"] is None and cleared["expires_at"] is None
    v2 = client.put(f"{P}/artifacts/{aid}", json={"content": "two"}).json()
    assert v2["version"] == 2 and v2["root_artifact_id"] == rec["root_artifact_id"]
    assert store.read_text("u.txt", namespace=NS) == "two"
    versions = client.get(f"{P}/artifacts/{aid}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    assert client.put(f"{P}/artifacts/{aid}", json={"bogus": 1}).status_code == 422


def test_delete_one_version_or_all(client, store):
    v1 = create(client, "d.txt", "1")
    v2 = create(client, "d.txt", "2")
    assert client.delete(f"{P}/artifacts/{v2['artifact_id']}").status_code == 204
    assert client.get(f"{P}/artifacts/{v2['artifact_id']}").status_code == 404
    assert store.read_text("d.txt", namespace=NS) == "1"
    create(client, "d.txt", "3")
    assert client.delete(f"{P}/artifacts/{v1['artifact_id']}?all_versions=true").status_code == 204
    assert client.get(f"{P}/artifacts").json()["total"] == 0
    assert client.delete(f"{P}/artifacts/{v1['artifact_id']}").status_code == 404


def test_ids_from_another_namespace_are_404(client, store):
    other = store.put(b"private", "p.txt", namespace="acme/research/secret")
    for method, suffix in (("get", ""), ("get", "/versions"), ("get", "/download"), ("delete", ""),
                           ("post", "/promote")):
        r = getattr(client, method)(f"{P}/artifacts/{other.artifact_id}{suffix}")
        assert r.status_code == 404, (method, suffix, r.status_code)
    assert store.read_bytes(other.artifact_id) == b"private"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_signed_url_works_without_token_for_one_artifact_until_expiry(tmp_path):
    clock = Clock()
    st = ArtifactStore(tmp_path / "s", index=False, clock=clock)
    try:
        app = create_app(st, token=TOKEN)
        a = st.put(b"file body", "f.bin", namespace=NS)
        b = st.put(b"other body", "g.bin", namespace=NS)
        with TestClient(app, headers=AUTH) as authed, TestClient(app) as anon:
            info = authed.get(f"{P}/artifacts/{a.artifact_id}/download?expires_in=120").json()
            assert info["expires_in"] == 120 and info["file_size_bytes"] == 9 and info["file_name"] == "f.bin"
            url = urlsplit(info["download_url"])
            path = url.path + "?" + url.query
            assert "token" not in url.query
            r = anon.get(path)
            assert r.status_code == 200 and r.content == b"file body"
            assert "f.bin" in r.headers["content-disposition"]
            assert anon.get(path, headers={"Range": "bytes=5-"}).content == b"body"
            # the signature is for this artifact only
            assert anon.get(path.replace(a.artifact_id, b.artifact_id)).status_code == 403
            # a tampered expiry fails, and the real one expires on the store's clock
            assert anon.get(path.replace("expires=", "expires=9")).status_code == 403
            clock.now += 121
            assert anon.get(path).status_code == 403
            # other routes still need the token
            assert anon.get(f"{P}/artifacts").status_code == 401
    finally:
        st.close()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A store with the real index (real model, real Chroma) and a client over it."""
    st = ArtifactStore(tmp_path_factory.mktemp("indexed"))
    app = create_app(st, token=TOKEN)
    with TestClient(app, headers=AUTH) as c:
        for name, text, thread in (
            ("pandas.md", "# Pandas\nDataFrames hold tabular data in rows and columns.", "t1"),
            ("rockets.md", "# Rockets\nRockets burn propellant to produce thrust.", None),
            ("secret.md", "# Pandas\nTabular data in another namespace.", None),
        ):
            path = P if name != "secret.md" else "/v1/orgs/acme/workspaces/research/namespaces/other"
            r = c.post(f"{path}/artifacts", json={"name": name, "content": text, "thread_id": thread})
            assert r.status_code == 200, r.text
        assert st.wait_indexed(180)
        yield c
    st.close()


@pytest.mark.model
def test_query_returns_ranked_records_and_combined_context(indexed):
    r = indexed.post(f"{P}/artifacts/query", json={"query": "tabular data with columns", "k": 5})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["query"] == "tabular data with columns" and out["total_results"] == len(out["results"])
    names = [h["artifact"]["name"] for h in out["results"]]
    assert names[0] == "pandas.md" and "secret.md" not in names  # scoped to the path's namespace
    assert 0 <= out["results"][-1]["score"] <= out["results"][0]["score"] <= 1
    assert "DataFrames" in out["results"][0]["matched_chunk"]
    assert "[1] pandas.md" in out["combined_context"]
    thread = indexed.post(f"{P}/artifacts/query", json={"query": "thrust", "thread_id": "t1"}).json()
    assert [h["artifact"]["name"] for h in thread["results"]] in ([], ["pandas.md"])
    kw = indexed.post(f"{P}/artifacts/query", json={"query": "propellant", "mode": "keyword"}).json()
    assert [h["artifact"]["name"] for h in kw["results"]] == ["rockets.md"]
    assert indexed.post(f"{P}/artifacts/query", json={"query": ""}).status_code == 422


@pytest.mark.model
def test_promote_returns_a_source(indexed):
    rec = indexed.get(f"{P}/artifacts?limit=200").json()["artifacts"]
    rockets = next(a for a in rec if a["name"] == "rockets.md")
    r = indexed.post(f"{P}/artifacts/{rockets['artifact_id']}/promote", json={"message": "keep"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["artifact_id"] == rockets["artifact_id"] and out["source_id"] and out["source_name"]
    assert out["message"]
    assert indexed.get(f"{P}/artifacts/{rockets['artifact_id']}").json()["promoted_to_source_id"] == out["source_id"]
