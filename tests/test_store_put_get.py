"""put() of every supported source kind, and reading the content back."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from notebook_artifacts import ArtifactStore, InvalidInputError, NotFoundError
from store_fixtures import BOTH_STORES, backing, blob_files, clock, store  # noqa: F401

# every store test locally and over HTTP, on local and on S3 blobs
pytestmark = [BOTH_STORES, pytest.mark.blob_backends]


def test_put_path_keeps_file_name_content_and_digest(store, tmp_path):
    src = tmp_path / "report.md"
    src.write_text("# Title\n\nSome findings.\n")
    a = store.put(src, tags=["run-1"], description="weekly")
    assert a.name == "report.md" and a.file_name == "report.md"
    assert a.version == 1 and a.is_latest and a.root_artifact_id == a.artifact_id
    assert a.artifact_id.startswith("art_")
    assert a.mime_type == "text/markdown" and a.artifact_type == "document"
    assert a.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert a.size_bytes == src.stat().st_size and a.has_file
    assert a.content == src.read_text() and a.content_preview.startswith("# Title")
    assert a.tags == ["run-1"] and a.description == "weekly"
    assert store.read_bytes("report.md") == src.read_bytes()
    with store.open(a.artifact_id) as f:
        assert f.read() == src.read_bytes()


def test_str_path_is_a_file_and_other_str_is_text(store, tmp_path):
    src = tmp_path / "data.txt"
    src.write_text("file body")
    a = store.put(str(src))
    assert a.name == "data.txt" and store.read_text("data.txt") == "file body"
    t = store.put("not a path at all", "note.txt")
    assert t.has_file is False and store.read_text("note.txt") == "not a path at all"
    assert t.content == "not a path at all" and t.mime_type == "text/plain"


def test_missing_pathlib_path_is_file_not_found_and_writes_nothing(store, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file") as err:
        store.put(tmp_path / "nope.csv")
    assert isinstance(err.value, NotFoundError)  # still the project's error for a missing thing
    assert err.value.filename == str(tmp_path / "nope.csv")
    assert store.list().total == 0 and blob_files(store) == []


@pytest.mark.parametrize("mistyped", ["data/nope.csv", "nope.csv", "results\\run1.json",
                                      "./missing", "reports/2024 summary.md"])
def test_str_that_looks_like_a_missing_path_is_file_not_found(store, mistyped):
    with pytest.raises(FileNotFoundError) as err:
        store.put(mistyped)
    msg = str(err.value)
    assert repr(mistyped) in msg and "text=" in msg  # names the path, says how to store text
    assert err.value.filename == mistyped
    assert store.list().total == 0 and blob_files(store) == []


def test_text_that_looks_like_a_path_is_stored_on_purpose(store):
    a = store.put(text="data/nope.csv")
    assert store.read_text(a.artifact_id) == "data/nope.csv" and a.name.endswith(".txt")
    b = store.put("data/nope.csv", "typo.txt")  # a name says it is text on purpose
    assert store.read_text("typo.txt") == "data/nope.csv" and not b.has_file
    c = store.put(text="two\nlines", name="n.txt")
    assert store.read_text("n.txt") == "two\nlines"
    for plain in ("plain words", "Done.", "The value is 3.5", "two\nlines/with a slash"):
        assert store.read_text(store.put(plain).artifact_id) == plain
    with pytest.raises(InvalidInputError, match="not both"):
        store.put("x", text="y")
    with pytest.raises(InvalidInputError, match="text="):
        store.put(text=b"bytes")


def test_bytes_dict_list_and_generated_names(store):
    b = store.put(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert b.name.startswith("artifact-") and b.name.endswith(".png")
    assert b.mime_type == "image/png" and b.has_file and b.content is None
    d = store.put({"a": 1, "b": [1, 2]})
    assert d.name.endswith(".json") and d.mime_type == "application/json" and not d.has_file
    assert store.load(d.artifact_id) == {"a": 1, "b": [1, 2]}
    lst = store.put([1, "x"], "items.json")
    assert store.load("items.json") == [1, "x"]
    t = store.put("plain words")
    assert t.name.endswith(".txt") and store.load(t.artifact_id) == "plain words"


def test_dict_that_is_not_json_is_rejected(store):
    with pytest.raises(InvalidInputError, match="JSON"):
        store.put({"when": object()}, "x.json")
    with pytest.raises(InvalidInputError, match="JSON"):
        store.put({"bad": float("nan")}, "x.json")
    assert store.list().total == 0 and blob_files(store) == []


def test_dataframe_round_trips_as_csv_and_parquet(store):
    df = pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.5, 19.0]})
    a = store.put(df, "weather.csv")
    assert a.mime_type == "text/csv" and a.artifact_type == "table"
    pd.testing.assert_frame_equal(store.load("weather.csv"), df)
    p = store.put(df, "weather.parquet")
    assert p.mime_type == "application/vnd.apache.parquet"
    pd.testing.assert_frame_equal(store.load("weather.parquet"), df)
    indexed = df.set_index("city")
    store.put(indexed, "by_city.csv")
    assert list(store.load("by_city.csv").columns) == ["city", "temp"]


def test_binary_stream_and_its_name(store, tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(bytes(range(256)) * 1000)
    with open(src, "rb") as f:
        a = store.put(f)
    assert a.name == "blob.bin" and a.size_bytes == 256000
    assert store.read_bytes("blob.bin") == src.read_bytes()
    s = store.put(io.BytesIO(b"%PDF-1.7 tiny"), "doc.pdf")
    assert s.mime_type == "application/pdf" and s.artifact_type == "document"
    assert isinstance(store.load("doc.pdf"), bytes)


def test_unsupported_source_type_names_what_is_allowed(store):
    with pytest.raises(InvalidInputError, match="give a path"):
        store.put(12345, "n.txt")


def test_identical_content_is_stored_once(store):
    store.put(b"same bytes", "a.bin")
    store.put(b"same bytes", "b.bin")
    store.put(b"same bytes", "a.bin")
    assert len(blob_files(store)) == 1


def test_large_file_is_streamed_in_chunks(store, tmp_path, blob_backend):
    import tracemalloc

    limit = 8 << 20
    if blob_backend == "s3":  # one 5 MiB part in flight, and botocore's copy of it
        backing(store)._blobs.part_size, backing(store)._blobs.upload_concurrency = 5 << 20, 1
        limit = 16 << 20

    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for i in range(24):
            f.write(bytes([i]) * (1 << 20))
    tracemalloc.start()
    a = store.put(src)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert a.size_bytes == 24 << 20
    assert peak < limit, f"put held {peak} bytes at once"
    h = hashlib.sha256()
    with store.open("big.bin") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    assert h.hexdigest() == a.sha256


def test_get_by_attachment_id_and_artifact_record(store):
    a = store.put("x", "x.txt")
    assert store.get(a.attachment_id).artifact_id == a.artifact_id
    assert store.get(a).artifact_id == a.artifact_id
    with pytest.raises(NotFoundError, match="no artifact 'missing.txt'"):
        store.get("missing.txt")


def test_scope_fields_derive_from_namespace_and_session(store):
    a = store.put("x", "x.txt", namespace="org/ws/ns", session_id="t-1")
    assert (a.namespace, a.session_id, a.thread_id, a.scope) == ("org/ws/ns", "t-1", "t-1", "session")
    assert (a.workspace_id, a.namespace_id) == ("org/ws", "org/ws/ns")
    b = store.put("y", "y.txt")
    assert (b.scope, b.thread_id, b.workspace_id, b.namespace_id) == ("namespace", None, "default", "default")
    # names are scoped: same name in another session is another artifact
    c = store.put("z", "x.txt", namespace="org/ws/ns", session_id="t-2")
    assert c.version == 1 and c.root_artifact_id != a.root_artifact_id
    assert store.read_text("x.txt", namespace="org/ws/ns", session_id="t-1") == "x"


def test_index_flag_sets_status(tmp_path):
    with ArtifactStore(tmp_path / "s2", index=False) as s:
        assert s.put("x", "a.txt").status == "skipped"
    # "pending" (indexing requested, the default) is covered by the index tests: it starts
    # the embedding model, which this file keeps out of its tests.


def test_content_only_for_small_text(store):
    big = "word " * 5000
    a = store.put(big, "big.txt")
    assert a.content is None and len(a.content_preview) == 300


def test_reopen_sees_everything(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as s:
        a = s.put("persist me", "p.txt", metadata={"k": [1, 2]})
    with ArtifactStore(tmp_path / "s", index=False) as s:
        b = s.get("p.txt")
        assert b == a and s.read_text("p.txt") == "persist me"


def test_import_stays_light():
    import subprocess

    code = ("import sys, notebook_artifacts; "
            "print(sorted(m for m in ('pandas','torch','chromadb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _Upload:
    """Shaped like starlette's UploadFile: a spooled file and the client's file name."""

    def __init__(self, data: bytes, filename: str):
        self.file = io.BytesIO(data)
        self.filename = filename


def test_upload_objects_stream_their_file(store):
    a = store.put(_Upload(b"a,b\n1,2\n", "../../client/table.csv"), session_id="s1")
    assert a.name == "table.csv" and a.mime_type == "text/csv" and a.has_file
    assert store.load("table.csv", session_id="s1").to_dict("list") == {"a": [1], "b": [2]}


def test_stream_returning_non_bytes_is_rejected(store):
    class AsyncLike:
        async def _r(self):
            return b""

        def read(self, n=-1):
            coro = self._r()
            coro.close()
            return coro

    with pytest.raises(InvalidInputError, match="binary file object"):
        store.put(AsyncLike(), "x.bin")
    assert list(backing(store)._blobs.tmp.iterdir()) == []


def test_default_store_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_HOME", str(tmp_path / "home"))
    s = ArtifactStore.default()
    try:
        assert s is ArtifactStore.default() and s.root == (tmp_path / "home").resolve()
        assert s.index is True  # the default store indexes; nothing is put here
    finally:
        s.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NOTEBOOK_ARTIFACTS_HOME")
    with ArtifactStore(index=False) as s2:
        assert s2.root == (tmp_path / ".artifacts").resolve()


def test_what_put_returns_is_what_is_stored(store, tmp_path):
    """The record put() returns is built from the values it inserted (not read back): it
    must equal what get() reads then, for every kind of content and option."""
    src = tmp_path / "table.csv"
    src.write_text("a,b\n1,2\n")
    puts = [
        lambda: [store.put(src, tags=["t1", "t2"], metadata={"run": 3, "ok": True}, description="csv")],
        lambda: [store.put("plain text", "notes.txt", ttl="1h", pinned=True, source="cell 4")],
        lambda: [store.put({"k": [1, 2]}, "cfg.json", session_id="s1", source_tool="tool")],
        lambda: [store.put(b"\x00\x01\x02", "raw.bin", index=False, mime_type="application/x-thing")],
        lambda: [store.put("second version", "notes.txt")],
        lambda: store.put_many([(b"one", "m/1.bin"), ("two", "m/2.txt"), (b"three", "m/3.bin")],
                               tags=["batch"]),
    ]
    for put in puts:
        for a in put():
            assert store.get(a.artifact_id) == a
    assert store.get("notes.txt").version == 2
