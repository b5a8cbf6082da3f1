"""Seed 001 over HTTP: upload, list, long-polled artifact events, meta/stream download, zip."""

from __future__ import annotations

import base64
import io
import threading
import time
import zipfile

import pytest

from server_fixtures import MAX_UPLOAD, TOKEN, app, client, spool_files, store  # noqa: F401


def upload(client, session, name, data, mime="application/octet-stream"):
    r = client.post(f"/api/uploads/{session}", files={"file": (name, data, mime)})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.blob_backends  # also with the content on S3
def test_upload_then_list_and_python_sees_it(client, store, tmp_path):
    up = upload(client, "s9", "spec.md", b"# Spec\nhello", "text/markdown")
    assert up["name"] == "spec.md" and up["size"] == 12 and up["mime"] == "text/markdown"
    assert up["attachment_id"].startswith("att_")
    # the cross-face contract: POST /api/uploads/s9 is store.get(name, session_id="s9")
    a = store.get("spec.md", session_id="s9")
    assert a.artifact_id == up["artifact_id"] and store.read_bytes(a.artifact_id) == b"# Spec\nhello"
    listing = client.get("/api/uploads/s9").json()
    assert [x["attachment_id"] for x in listing["attachments"]] == [up["attachment_id"]]
    assert listing["attachments"][0]["source"] == "upload"
    assert client.get("/api/uploads/other").json()["attachments"] == []
    assert spool_files(tmp_path) == []  # the streamed temp file is gone


def test_second_upload_of_a_name_is_a_new_version(client):
    upload(client, "s1", "a.txt", b"one")
    second = upload(client, "s1", "a.txt", b"two!")
    assert second["version"] == 2
    listing = client.get("/api/uploads/s1").json()["attachments"]
    assert len(listing) == 1 and listing[0]["size"] == 4


def test_meta_mode_has_data_uri_only_for_small_files(client):
    small = upload(client, "s1", "small.json", b'{"a": 1}', "application/json")
    meta = client.get(f"/api/sessions/s1/artifacts/{small['attachment_id']}").json()
    assert meta["data_uri"] == "data:application/json;base64," + base64.b64encode(b'{"a": 1}').decode()
    assert meta["hash"].startswith("sha256:") and meta["size"] == 8 and meta["path"] == "code_workspace/attachments/small.json"
    big = upload(client, "s1", "big.bin", b"x" * 5000)  # over the fixture's 1024-byte data_uri limit
    meta = client.get(f"/api/sessions/s1/artifacts/{big['artifact_id']}?mode=meta").json()
    assert meta["data_uri"] is None
    assert meta["download_url"].endswith("mode=stream&download=true")


@pytest.mark.blob_backends  # also with the content on S3
def test_stream_mode_range_and_content_disposition(client):
    data = bytes(range(256)) * 40
    up = upload(client, "s1", "blob.bin", data)
    url = f"/api/sessions/s1/artifacts/{up['artifact_id']}?mode=stream"
    r = client.get(url)
    assert r.status_code == 200 and r.content == data and "content-disposition" not in r.headers
    assert r.headers["accept-ranges"] == "bytes"
    r = client.get(url + "&download=true")
    assert r.headers["content-disposition"].startswith('attachment; filename="blob.bin"')
    r = client.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = client.get(url, headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416


def test_download_refuses_other_sessions_and_missing_ids(client):
    up = upload(client, "s1", "a.txt", b"x")
    assert client.get(f"/api/sessions/s2/artifacts/{up['artifact_id']}").status_code == 404
    assert client.get("/api/sessions/s1/artifacts/art_doesnotexist").status_code == 404
    assert client.get("/api/sessions/bad%20id/artifacts/x").status_code == 404  # seed 001 FAQ
    # the artifact name works as a ref too
    assert client.get("/api/sessions/s1/artifacts/a.txt?mode=stream").content == b"x"


def test_artifact_events_filters_cursor_and_paging(client, store):
    upload(client, "s1", "a.csv", b"a,b\n1,2", "text/csv")
    upload(client, "s1", "b.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
    upload(client, "s1", "c.json", b"{}", "application/json")
    store.put(b"elsewhere", "d.txt", session_id="s2")
    r = client.get("/api/sessions/s1/artifact-events?wait_seconds=0").json()
    assert [e["path"].removeprefix("code_workspace/attachments/") for e in r["events"]] == ["a.csv", "b.png", "c.json"]
    assert r["timed_out"] is False and r["has_more"] is False
    e = r["events"][0]
    assert set(e) >= {"artifact_id", "attachment_id", "node_id", "path", "size", "mime", "hash", "timestamp"}
    only_images = client.get("/api/sessions/s1/artifact-events?wait_seconds=0&include_mime=image/").json()
    assert [e["path"].removeprefix("code_workspace/attachments/") for e in only_images["events"]] == ["b.png"]
    by_ext = client.get("/api/sessions/s1/artifact-events?wait_seconds=0&include_ext=.csv,json").json()
    assert [e["path"].removeprefix("code_workspace/attachments/") for e in by_ext["events"]] == ["a.csv", "c.json"]
    small = client.get("/api/sessions/s1/artifact-events?wait_seconds=0&max_size=10").json()
    assert [e["path"].removeprefix("code_workspace/attachments/") for e in small["events"]] == ["a.csv", "c.json"]
    page1 = client.get("/api/sessions/s1/artifact-events?wait_seconds=0&limit=2").json()
    assert len(page1["events"]) == 2 and page1["has_more"] is True
    page2 = client.get(f"/api/sessions/s1/artifact-events?wait_seconds=0&after={page1['next_cursor']}").json()
    assert [e["path"] for e in page2["events"]] == ["code_workspace/attachments/c.json"]
    empty = client.get(f"/api/sessions/s1/artifact-events?wait_seconds=0&after={page2['next_cursor']}").json()
    assert empty["events"] == [] and empty["timed_out"] is True


def test_artifact_events_long_poll_wakes_on_a_write(client, store):
    cursor = client.get("/api/sessions/s1/artifact-events?wait_seconds=0").json()["next_cursor"]

    def later():
        time.sleep(0.4)
        store.put(b"late", "late.txt", session_id="s1")

    t = threading.Thread(target=later)
    t.start()
    start = time.monotonic()
    r = client.get(f"/api/sessions/s1/artifact-events?after={cursor}&wait_seconds=20").json()
    elapsed = time.monotonic() - start
    t.join()
    assert [e["path"].removeprefix("code_workspace/attachments/") for e in r["events"]] == ["late.txt"]
    assert r["timed_out"] is False and elapsed < 10


def test_artifact_events_times_out_and_validates(client):
    start = time.monotonic()
    r = client.get("/api/sessions/s1/artifact-events?wait_seconds=0.3").json()
    assert r["events"] == [] and r["timed_out"] is True and time.monotonic() - start >= 0.25
    bad = client.get("/api/sessions/s1/artifact-events?wait_seconds=61")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "wait_seconds"]
    assert client.get("/api/sessions/s1/artifact-events?limit=101").status_code == 422


@pytest.mark.blob_backends  # also with the content on S3
def test_session_zip_is_streamed_with_every_artifact(client, tmp_path):
    upload(client, "z1", "a.txt", b"alpha")
    upload(client, "z1", "sub/b.bin", b"\x00" * 3000)
    r = client.get("/api/sessions/z1/download")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "z1.zip" in r.headers["content-disposition"]
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    contents = {n.rsplit("/", 1)[-1]: zf.read(n) for n in zf.namelist() if not n.endswith(".json")}
    assert contents["a.txt"] == b"alpha" and contents["b.bin"] == b"\x00" * 3000
    assert client.get("/api/sessions/nobody/download").status_code == 404
    assert spool_files(tmp_path) == []


def test_manifest_and_close_with_auto_clean(client, store, monkeypatch):
    up = upload(client, "m1", "kept.txt", b"k")
    man = client.get("/api/sessions/m1/manifest").json()
    assert man["session_id"] == "m1" and [a["attachment_id"] for a in man["attachments"]] == [up["attachment_id"]]
    assert client.post("/api/sessions/m1/close").json()["cleaned"] is False  # default: keep everything
    assert client.get("/api/uploads/m1").json()["total"] == 1
    monkeypatch.setenv("MAC_AUTO_CLEAN_ATTACHMENTS", "1")
    upload(client, "m2", "temp.txt", b"t")
    closed = client.post("/api/sessions/m2/close").json()
    assert closed["cleaned"] is True and closed["removed_versions"] == 1
    assert client.get("/api/uploads/m2").json()["total"] == 0
