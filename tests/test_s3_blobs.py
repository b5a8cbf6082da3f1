"""Blobs on S3 (moto's server on loopback, real s3fs/boto3 clients): large streamed puts,
ranged reads (from the store and over HTTP from the server), a writer killed mid-upload,
presigned URLs, the gc race, configuration errors; and file:// through the same code.

The store's public-API suites also run on S3 blobs (``pytestmark = blob_backends``)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore, InvalidInputError, NotFoundError
from notebook_artifacts.storage.fsspec_blobs import FsspecBlobStore
from store_fixtures import FakeClock

MiB = 1 << 20


def _s3_store(tmp_path: Path, bucket: str, **kw) -> ArtifactStore:
    return ArtifactStore(tmp_path / "root", index=False, clock=FakeClock(),
                         blobs=f"s3://{bucket}/store", **kw)


def _big_file(path: Path, mib: int) -> bytes:
    """A file of ``mib`` MiB of distinct 1 MiB blocks; returns its first MiB."""
    with open(path, "wb") as f:
        for i in range(mib):
            f.write(hashlib.sha256(str(i).encode()).digest() * (MiB // 32))
    with open(path, "rb") as f:
        return f.read(MiB)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def _keys(s3_client, bucket: str, prefix: str = "store/sha256/") -> list[str]:
    out = s3_client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


def test_large_put_streams_as_multipart_with_flat_memory(tmp_path, s3_bucket, s3_client):
    src = tmp_path / "big.bin"
    _big_file(src, 64)
    with _s3_store(tmp_path, s3_bucket) as store:
        b = store._blobs
        tracemalloc.start()
        a = store.put(src)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # about two copies of the parts in flight (botocore keeps one), never the 64 MiB file
        bound = 2.5 * b.part_size * b.upload_concurrency + 4 * MiB
        assert peak < bound < 64 * MiB, f"put held {peak / MiB:.1f} MiB at once"
        assert a.size_bytes == 64 * MiB and a.sha256 == _sha256(src)
        head = s3_client.head_object(Bucket=s3_bucket, Key=f"store/sha256/{a.sha256[:2]}/{a.sha256}")
        assert head["ContentLength"] == 64 * MiB and "-" in head["ETag"]  # a multipart upload
        assert list(b.tmp.iterdir()) == []  # the local spool is gone
        with store.open(a) as f, open(src, "rb") as want:  # ranged reads: seek, then read
            f.seek(50 * MiB + 123)
            want.seek(50 * MiB + 123)
            assert f.read(4096) == want.read(4096)
        with store.open(a) as f:  # a whole read checks the digest on the way
            h = hashlib.sha256()
            while chunk := f.read(MiB):
                h.update(chunk)
        assert h.hexdigest() == a.sha256


_WRITER = """
import sys
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1], index=False, blobs=sys.argv[2],
                  blobs_options={"part_size": 5 << 20, "upload_concurrency": 1})
s.put(sys.argv[3])
print("finished", flush=True)
"""


def test_kill_9_mid_upload_leaves_no_partial_blob_and_fsck_clean(tmp_path, s3_bucket, s3_client):
    src = tmp_path / "big.bin"
    _big_file(src, 48)
    root, url = tmp_path / "root", f"s3://{s3_bucket}/store"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), url, str(src)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until a part of the multipart upload has been sent
            ups = s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
            if ups and s3_client.list_parts(Bucket=s3_bucket, Key=ups[0]["Key"],
                                            UploadId=ups[0]["UploadId"]).get("Parts"):
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert _keys(s3_client, s3_bucket) == []  # nothing partial under the digest key
    with ArtifactStore(root, index=False, blobs=url) as store:
        assert store.list().total == 0
        report = store.fsck()
        # only leftovers of the interrupted write: the local spool file, and the unfinished
        # upload where the server reports it as old (moto dates every upload in the past)
        assert report.problems and {p.kind for p in report.problems} == {"temp_file"}
        assert any("unfinished upload" in p.detail and "uploadId=" in p.path
                   for p in report.problems), report.problems
        assert store.fsck(repair=True).ok
        after = store.fsck()
        assert after.ok and after.problems == []
        assert s3_client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
        a = store.put(src)  # the same content goes in whole afterwards
        assert store.fsck().ok and store.get(a.artifact_id).sha256 == _sha256(src)


_KILLED_AFTER_UPLOAD = """
import os, sys
from notebook_artifacts import ArtifactStore
from notebook_artifacts.storage.fsspec_blobs import FsspecBlobStore
upload = FsspecBlobStore.prepare
def prepare_then_die(self, staged):
    upload(self, staged)
    os.kill(os.getpid(), 9)  # the object is up, the catalog never hears of it
FsspecBlobStore.prepare = prepare_then_die
ArtifactStore(sys.argv[1], index=False, blobs=sys.argv[2]).put(b"uploaded, never recorded", "x.bin")
"""


def test_kill_9_between_upload_and_catalog_leaves_an_orphan_fsck_reclaims(tmp_path, s3_bucket,
                                                                         s3_client):
    root, url = tmp_path / "root", f"s3://{s3_bucket}/store"
    p = subprocess.run([sys.executable, "-c", _KILLED_AFTER_UPLOAD, str(root), url],
                       capture_output=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    assert len(_keys(s3_client, s3_bucket)) == 1
    with ArtifactStore(root, index=False, blobs=url) as store:
        assert store.list().total == 0
        report = store.fsck()
        assert {p.kind for p in report.problems} == {"orphan_blob", "temp_file"}
        assert store.fsck(repair=True).ok and store.fsck().problems == []
        assert _keys(s3_client, s3_bucket) == []


def test_range_reads_over_http_from_the_server(tmp_path, s3_bucket):
    httpx = pytest.importorskip("httpx")
    from notebook_artifacts.server import serve_in_thread

    data = os.urandom(3 * MiB + 17)
    with _s3_store(tmp_path, s3_bucket) as store:
        a = store.put(data, "data.bin", session_id="s1")
        with serve_in_thread(store, token="t0k") as srv:
            url = f"{srv.url}/api/sessions/s1/artifacts/{a.artifact_id}?mode=stream"
            with httpx.Client(headers={"Authorization": "Bearer t0k"}, timeout=30) as c:
                r = c.get(url, headers={"Range": f"bytes={2 * MiB}-{2 * MiB + 999}"})
                assert r.status_code == 206 and r.content == data[2 * MiB:2 * MiB + 1000]
                assert r.headers["content-range"] == f"bytes {2 * MiB}-{2 * MiB + 999}/{len(data)}"
                r = c.get(url, headers={"Range": "bytes=-100"})
                assert r.status_code == 206 and r.content == data[-100:]
                r = c.get(url)
                assert r.status_code == 200 and r.content == data


def test_serve_process_with_blobs_on_s3_and_presigned_downloads(tmp_path, s3_bucket, s3_client):
    httpx = pytest.importorskip("httpx")
    exe = Path(sys.executable).with_name("notebook-artifacts")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]
    root, url = tmp_path / "served", f"s3://{s3_bucket}/store"
    proc = subprocess.Popen(
        cli + ["serve", "--root", str(root), "--port", "0", "--token", "tok", "--no-index",
               "--blobs", url, "--presigned-downloads"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        base = None
        deadline = time.monotonic() + 90
        while base is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "serve exited before listening"
            if "serving on" in line:
                base = line.rsplit(" ", 1)[-1].strip()
        assert base, "serve did not start"
        data = os.urandom(200_000)
        api = f"{base}/v1/orgs/acme/workspaces/ml/namespaces/churn/artifacts"
        with httpx.Client(headers={"Authorization": "Bearer tok"}, timeout=30) as c:
            for _ in range(100):
                try:
                    if c.get(base + "/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            r = c.post(f"{api}/upload", files={"file": ("model.bin", data)})
            assert r.status_code == 200, r.text  # seed 003 answers 200 (docs/seed-differences.md)
            art = r.json()
            sha = hashlib.sha256(data).hexdigest()
            assert _keys(s3_client, s3_bucket) == [f"store/sha256/{sha[:2]}/{sha}"]
            signed = c.get(f"{api}/{art['artifact_id']}/download").json()["download_url"]
        r = httpx.get(signed)  # no token: the signature is the grant, and S3 serves the bytes
        assert r.status_code == 307 and r.headers["location"].startswith(os.environ["AWS_ENDPOINT_URL"])
        r = httpx.get(signed, follow_redirects=True, headers={"Range": "bytes=1000-1999"})
        assert r.status_code == 206 and r.content == data[1000:2000]
        # a kernel on the same store reads what the server stored
        with ArtifactStore(root, index=False, blobs=url) as kernel:
            got = kernel.get(art["artifact_id"])
            assert kernel.read_bytes(got) == data and kernel.fsck().ok
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()


def test_presigned_url_is_the_object_stores_own(tmp_path, s3_bucket, s3_server):
    httpx = pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from notebook_artifacts.server import create_app

    data = b"0123456789" * 1000
    with _s3_store(tmp_path, s3_bucket) as store:
        a = store.put(data, "reports/r\u00e9sum\u00e9.csv", mime_type="text/csv")
        url = store.presigned_url(a, expires_in=120)
        assert url.startswith(s3_server) and "Signature" in url
        req = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(req) as r:  # no credentials: the URL itself is the grant
            assert r.status == 206 and r.read() == data[10:20]
            assert "r_sum_.csv" in r.headers["Content-Disposition"]
            assert r.headers["Content-Type"] == "text/csv"
        with pytest.raises(InvalidInputError, match="expires_in"):
            store.presigned_url(a, expires_in=0)

        app = create_app(store, token="t", presigned_downloads=True)
        path, _ = app.state.settings.signer.sign(a.artifact_id, 300)
        with TestClient(app) as client:
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"].startswith(s3_server)
            assert httpx.get(r.headers["location"]).content == data
            assert client.get(path + "x", follow_redirects=False).status_code == 403
        plain = create_app(store, token="t")  # without the option the server streams itself
        path, _ = plain.state.settings.signer.sign(a.artifact_id, 300)
        with TestClient(plain) as client:
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 200 and r.content == data
    with ArtifactStore(tmp_path / "local", index=False) as local:
        assert local.presigned_url(local.put(b"x", "x.bin")) is None


def test_commit_uploads_again_what_gc_removed_after_prepare(tmp_path, s3_bucket, s3_client):
    b = FsspecBlobStore(f"s3://{s3_bucket}/store", tmp_path / "root", {"part_size": 5 * MiB})
    staged = b.stage_bytes(b"raced content")
    b.prepare(staged)
    assert b.exists(staged.sha256)
    assert b.remove(staged.sha256) == len(b"raced content")  # gc found it unreferenced
    assert b.commit(staged) is True  # inside the catalog's write transaction
    with b.open(staged.sha256) as f:
        assert f.read() == b"raced content"
    large = os.urandom(5 * MiB + 1)
    for expect_upload in (True, False):  # identical large content: a HEAD, no second upload
        again = b.stage_bytes(large)
        b.prepare(again)
        assert b.commit(again) is expect_upload
    assert len(_keys(s3_client, s3_bucket)) == 2 and list(b.tmp.iterdir()) == []


def test_both_backends_implement_the_blob_interface(tmp_path, s3_bucket):
    from notebook_artifacts.storage.blobs import Blobs, BlobStore

    assert isinstance(BlobStore(tmp_path / "local"), Blobs)
    assert isinstance(FsspecBlobStore(f"s3://{s3_bucket}/x", tmp_path / "s3"), Blobs)
    assert isinstance(FsspecBlobStore(f"file://{tmp_path}/files", tmp_path / "f"), Blobs)


def test_blobs_configuration_errors_say_what_to_do(tmp_path, s3_server):
    with pytest.raises(NotFoundError, match="does not exist: create it"):
        ArtifactStore(tmp_path / "a", index=False, blobs="s3://no-such-bucket-here/x")
    with pytest.raises(InvalidInputError, match="fsspec URL"):
        ArtifactStore(tmp_path / "b", index=False, blobs="just-a-name")
    with pytest.raises(InvalidInputError, match="blobs=URL"):
        ArtifactStore(tmp_path / "c", index=False, blobs_options={"anon": True})
    for bad in ({"part_size": 1024}, {"upload_concurrency": "many"}):
        with pytest.raises(InvalidInputError, match="part_size"):
            ArtifactStore(tmp_path / "d", index=False, blobs="s3://whatever/x", blobs_options=bad)
    with pytest.raises(InvalidInputError, match="blobs URL"):
        ArtifactStore(tmp_path / "e", index=False, blobs="nosuchproto://x/y")


def test_environment_and_cli_flag_choose_the_blobs(tmp_path, s3_bucket, s3_client, monkeypatch):
    from click.testing import CliRunner

    from notebook_artifacts.cli import cli

    url = f"s3://{s3_bucket}/store"
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_BLOBS", url)
    with ArtifactStore(tmp_path / "env", index=False) as s:
        a = s.put(b"from the environment", "e.bin")
        assert s.blobs_url == url
    assert _keys(s3_client, s3_bucket) == [f"store/sha256/{a.sha256[:2]}/{a.sha256}"]
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_BLOBS")

    src = tmp_path / "cli.txt"
    src.write_text("from the command line")
    root = str(tmp_path / "cli")
    other = f"s3://{s3_bucket}/other"
    r = CliRunner().invoke(cli, ["--root", root, "--blobs", other, "put", str(src), "--json"])
    assert r.exit_code == 0, r.output
    assert len(_keys(s3_client, s3_bucket, "other/sha256/")) == 1
    r = CliRunner().invoke(cli, ["--root", root, "--blobs", other, "get", "cli.txt", "-o", "-"])
    assert r.exit_code == 0 and r.output == "from the command line"
    r = CliRunner().invoke(cli, ["--root", root, "--blobs", other, "fsck"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["--root", root, "--blobs", "s3://no-such-bucket-here", "ls"])
    assert r.exit_code == 1 and "does not exist" in r.output


def test_file_urls_go_through_the_same_code(tmp_path):
    url = f"file://{tmp_path}/remote"
    with ArtifactStore(tmp_path / "root", index=False, blobs=url) as store:
        a = store.put(b"one", "a.bin")
        store.put(b"one", "b.bin")
        assert store.read_bytes("b.bin") == b"one"
        files = [p for p in (tmp_path / "remote").rglob("*") if p.is_file()]
        assert [p.name for p in files] == [a.sha256]
        assert store.presigned_url(a) is None  # local files cannot be signed
        store.delete("a.bin")
        store.delete("b.bin")
        assert not files[0].exists() and store.fsck().ok
        (tmp_path / "remote" / "sha256" / "junk").write_bytes(b"?")
        r = store.fsck()
        assert [p.kind for p in r.problems] == ["stray_file"] and not r.ok
