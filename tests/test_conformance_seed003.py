"""Seed 003 (the artifact platform API reference), checked line by line against a real
``notebook-artifacts serve`` process. Each test quotes the part of the seed it checks.

Deliberate choices (docs/seed-differences.md): creates answer 200 as the seed shows; a
successful delete answers 204 (the seed documents no body)."""

from __future__ import annotations

import httpx
import pytest

from process_fixtures import AUTH, serve_process

P = "/v1/orgs/acme/workspaces/ml/namespaces/churn"
SEED_FIELDS = {
    "artifact_id", "workspace_id", "namespace_id", "thread_id", "name", "description", "artifact_type",
    "version", "root_artifact_id", "is_latest", "replaced_by_version", "content", "content_preview",
    "content_text", "file_name", "mime_type", "size_bytes", "has_file", "summary", "keywords", "tags",
    "metadata", "source", "source_execution_id", "source_step_id", "source_tool", "scope", "status",
    "ttl_seconds", "expires_at", "is_pinned", "is_expired", "is_indexed", "indexed_at", "index_collection",
    "index_error", "index_attempts", "embedding_model_id", "chunk_count", "promoted_to_source_id",
    "created_by", "created_at", "updated_at",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_process(tmp_path_factory.mktemp("seed003")) as srv:
        yield srv


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server["url"], headers=AUTH, timeout=30) as c:
        yield c


def test_create_artifact(http):
    """Create Artifact: 'curl -X POST ".../artifacts" -d '{ "name": "string" }'' answers the
    artifact object (every field of the sample, HTTP 200 as shown)."""
    r = http.post(f"{P}/artifacts", json={"name": "plan.md", "content": "# plan", "thread_id": "t1"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert SEED_FIELDS <= set(a), SEED_FIELDS - set(a)
    assert (a["name"], a["version"], a["thread_id"], a["is_latest"]) == ("plan.md", 1, "t1", True)


def test_workspace_and_namespace_ids_are_the_url_segments(http):
    """Path parameters '/v1/orgs/{org}/workspaces/{workspace}/namespaces/{namespace}' and the
    sample's '"workspace_id": "string", "namespace_id": "string"': the ids a client put in the URL."""
    a = http.post(f"{P}/artifacts", json={"name": "ids.txt", "content": "x"}).json()
    assert (a["workspace_id"], a["namespace_id"]) == ("ml", "churn")
    listed = http.get(f"{P}/artifacts").json()["artifacts"]
    assert {(x["workspace_id"], x["namespace_id"]) for x in listed} == {("ml", "churn")}
    got = http.get(f"{P}/artifacts/{a['artifact_id']}").json()
    assert (got["workspace_id"], got["namespace_id"], got["namespace"]) == ("ml", "churn", "acme/ml/churn")


def test_create_artifact_with_file(http):
    """Create Artifact With File: 'curl -X POST ".../artifacts/upload" -F file="string" -F name="string"'"""
    r = http.post(f"{P}/artifacts/upload", files={"file": ("data.csv", b"a,b\n1,2\n", "text/csv")},
                  data={"name": "data.csv"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["has_file"] is True and a["file_name"] == "data.csv" and a["size_bytes"] == 8


def test_list_artifacts_page(http):
    """List Artifacts: '{ "total": 0, "has_more": false, "next_cursor": "string", "artifacts": [...] }'
    and 'Maximum number of items to return (1-200)'."""
    for i in range(3):
        http.post(f"{P}/artifacts", json={"name": f"page{i}.txt", "content": str(i), "thread_id": "pg"})
    first = http.get(f"{P}/artifacts?thread_id=pg&limit=2").json()
    assert first["total"] == 3 and first["has_more"] is True and len(first["artifacts"]) == 2
    rest = http.get(f"{P}/artifacts?thread_id=pg&limit=2&cursor={first['next_cursor']}").json()
    assert {a["name"] for a in first["artifacts"] + rest["artifacts"]} == {"page0.txt", "page1.txt", "page2.txt"}
    assert rest["has_more"] is False


def test_validation_error_shape(http):
    """'{ "detail": [ { "loc": [...], "msg": "string", "type": "string", "input": null, "ctx": {} } ] }'
    for 'Maximum number of items to return (1-200)'."""
    r = http.get(f"{P}/artifacts?limit=201")
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert set(item) == {"loc", "msg", "type", "input", "ctx"} and item["loc"] == ["query", "limit"]


def test_list_thread_artifacts(http):
    """List Thread Artifacts: 'curl -X GET ".../threads/string/artifacts"'"""
    http.post(f"{P}/artifacts", json={"name": "th.txt", "content": "x", "thread_id": "thr9"})
    page = http.get(f"{P}/threads/thr9/artifacts").json()
    assert [a["name"] for a in page["artifacts"]] == ["th.txt"] and page["total"] == 1


def test_update_makes_a_version_and_versions_lists_them(http):
    """Update Artifact: 'curl -X PUT ".../artifacts/string" -d '{}'' and List Artifact Versions."""
    a = http.post(f"{P}/artifacts", json={"name": "upd.txt", "content": "v1"}).json()
    assert http.put(f"{P}/artifacts/{a['artifact_id']}", json={}).status_code == 200
    b = http.put(f"{P}/artifacts/{a['artifact_id']}", json={"content": "v2"}).json()
    assert b["version"] == 2 and b["root_artifact_id"] == a["root_artifact_id"]
    versions = http.get(f"{P}/artifacts/{b['artifact_id']}/versions").json()
    assert sorted(v["version"] for v in versions) == [1, 2]


def test_download_url(http):
    """Get artifact download URL: 'URL expiration in seconds (1 min to 24 hours)' and
    '{ "artifact_id", "download_url", "expires_in", "file_name", "content_type", "file_size_bytes" }'"""
    a = http.post(f"{P}/artifacts/upload", files={"file": ("d.bin", b"\x00\x01", "application/octet-stream")},
                  data={"name": "d.bin"}).json()
    r = http.get(f"{P}/artifacts/{a['artifact_id']}/download?expires_in=60").json()
    assert set(r) >= {"artifact_id", "download_url", "expires_in", "file_name", "content_type", "file_size_bytes"}
    assert r["expires_in"] == 60 and r["file_size_bytes"] == 2
    assert httpx.get(http.base_url.join(r["download_url"])).content == b"\x00\x01"  # no token needed
    for bad in (59, 86401):
        assert http.get(f"{P}/artifacts/{a['artifact_id']}/download?expires_in={bad}").status_code == 422


def test_delete(http):
    """Delete Artifact: 'curl -X DELETE ".../artifacts/string"'"""
    a = http.post(f"{P}/artifacts", json={"name": "gone.txt", "content": "x"}).json()
    assert http.delete(f"{P}/artifacts/{a['artifact_id']}").status_code == 204
    assert http.get(f"{P}/artifacts/{a['artifact_id']}").status_code == 404


def test_rejected_values_use_the_one_documented_error_shape(http):
    """Every operation documents one error answer: '{ "detail": [ { "loc": [...], "msg": "string",
    "type": "string", "input": null, "ctx": {} } ] }' (a 422, never a 400 with a string)."""
    for body in ({"name": "../escape.txt", "content": "x"}, {"name": "a", "content": "x", "ttl_seconds": -5}):
        r = http.post(f"{P}/artifacts", json=body)
        assert r.status_code == 422, (body, r.status_code, r.text)
        detail = r.json()["detail"]
        assert isinstance(detail, list) and set(detail[0]) == {"loc", "msg", "type", "input", "ctx"}
    spec = http.get("/openapi.json").json()
    assert "400" not in spec["paths"]["/v1/orgs/{org}/workspaces/{workspace}/namespaces/{namespace}/artifacts"]["post"]["responses"]


def test_has_file_is_false_for_json_content(http):
    """Sample: '"content": "string", ... "has_file": false' for Create Artifact (JSON content);
    Create Artifact With File stores a file (has_file true, checked above)."""
    a = http.post(f"{P}/artifacts", json={"name": "note.md", "content": "# note"}).json()
    assert a["has_file"] is False and a["content"] == "# note"
    b = http.put(f"{P}/artifacts/{a['artifact_id']}", json={"content": "# note v2"}).json()
    assert b["has_file"] is False and b["version"] == 2
    # text that names a file on the server is stored as that text, never read from disk
    c = http.post(f"{P}/artifacts", json={"name": "p.txt", "content": "/etc/hostname"}).json()
    assert c["content"] == "/etc/hostname" and c["size_bytes"] == len("/etc/hostname")
