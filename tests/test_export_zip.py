"""export_zip(): streamed zips of a session or a namespace with safe names inside."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from notebook_artifacts import InvalidInputError
from notebook_artifacts.storage.export import safe_arcname
from store_fixtures import BOTH_STORES, backing, clock, store  # noqa: F401

# every store test locally and over HTTP, on local and on S3 blobs
pytestmark = [BOTH_STORES, pytest.mark.blob_backends]


def test_session_zip_has_latest_versions(store, tmp_path):
    store.put("v1", "notes/a.txt", session_id="s1")
    store.put("v2", "notes/a.txt", session_id="s1")
    store.put(b"\x00\x01", "b.bin", session_id="s1")
    store.put("elsewhere", "c.txt", session_id="s2")
    out = store.export_zip(tmp_path / "s1.zip", session_id="s1")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["_export_index.json", "b.bin", "notes/a.txt"]
        assert zf.read("notes/a.txt") == b"v2" and zf.read("b.bin") == b"\x00\x01"
        index = json.loads(zf.read("_export_index.json"))
        assert {e["path"]: e["version"] for e in index["artifacts"]} == {"notes/a.txt": 2, "b.bin": 1}


def test_namespace_zip_puts_sessions_in_folders(store, tmp_path):
    store.put("top", "top.txt", namespace="app/u1")
    store.put("in s", "x.txt", namespace="app/u1", session_id="s9")
    store.put("other ns", "y.txt", namespace="app/u2")
    out = store.export_zip(tmp_path / "ns.zip", namespace="app/u1")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["_export_index.json", "sessions/s9/x.txt", "top.txt"]


def test_zip_to_a_stream(store):
    store.put("hello", "h.txt", session_id="s1")
    buf = io.BytesIO()
    store.export_zip(buf, session_id="s1")
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        assert zf.read("h.txt") == b"hello"


class _NoSeek(io.RawIOBase):
    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.data += b
        return len(b)


def test_zip_to_an_unseekable_stream(store):
    store.put(b"x" * 100_000, "big.bin", session_id="s1")
    sink = _NoSeek()
    store.export_zip(sink, session_id="s1")
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as zf:
        assert zf.read("big.bin") == b"x" * 100_000


@pytest.mark.parametrize("name,safe", [
    ("a/b.txt", "a/b.txt"), ("..\\..\\evil.txt", "evil.txt"), ("/etc/passwd", "etc/passwd"),
    ("c:evil", "c_evil"), ("a/./b", "a/b"), ("", "unnamed"), ('q"?*.txt', "q___.txt"),
])
def test_safe_arcname_never_escapes(name, safe):
    assert safe_arcname(name) == safe


def test_zip_names_from_odd_artifact_names_stay_inside(store, tmp_path):
    store.put("1", "weird:name?.txt", session_id="s1")
    store.put("2", "weird_name_.txt", session_id="s1")
    out = store.export_zip(tmp_path / "o.zip", session_id="s1")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    assert len(set(names)) == 3  # a clash after sanitising gets a distinct name


def test_export_needs_a_scope(store):
    with pytest.raises(InvalidInputError, match="namespace"):
        store.export_zip()


@pytest.mark.local_only
def test_default_destination_under_root(store):
    store.put("x", "x.txt", session_id="s1")
    p = store.export_zip(session_id="s1")
    assert p.parent == store.root / "exports" and zipfile.is_zipfile(p)


def test_file_and_folder_with_one_name_both_extract(store, tmp_path):
    store.put("file a", "a", session_id="s1")
    store.put("inside a", "a/b.txt", session_id="s1")
    store.put("case", "A", session_id="s1")
    out = store.export_zip(tmp_path / "o.zip", session_id="s1")
    target = tmp_path / "x"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(target)
        names = zf.namelist()
    assert len(names) == 4
    bodies = sorted(p.read_text() for p in target.rglob("*") if p.is_file() and p.suffix != ".json")
    assert bodies == ["case", "file a", "inside a"]
