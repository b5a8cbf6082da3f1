"""Stored names are NFC with no bidirectional controls, and exported zip entry names are unique
and valid on every common filesystem (issue 19, finding 5)."""

from __future__ import annotations

import json
import unicodedata
import zipfile

import pytest
from server_fixtures import app, client  # noqa: F401
from store_fixtures import clock, store  # noqa: F401

from notebook_artifacts import InvalidInputError
from notebook_artifacts.storage.export import safe_arcname

NFC = "caf\u00e9.txt"
NFD = "cafe\u0301.txt"


def test_a_name_is_stored_in_nfc_so_both_spellings_are_one_artifact(store):
    a = store.put(b"one", NFC, session_id="s1")
    b = store.put(b"two", NFD, session_id="s1")
    assert b.name == NFC and b.root_artifact_id == a.root_artifact_id and b.version == 2
    assert store.read_bytes(NFD, session_id="s1") == b"two"  # either spelling finds it
    assert store.names("default", "s1") == [NFC]


@pytest.mark.parametrize("name", ["lead\u202eevil.txt", "a\u2066b.txt", "x\u200f.csv", "r\u061c.md"])
def test_bidi_controls_in_a_name_are_refused_clearly(store, name):
    with pytest.raises(InvalidInputError, match="bidirectional control"):
        store.put(b"x", name)
    assert store.list().total == 0


def _export(store, tmp_path):
    out = store.export_zip(tmp_path / "o.zip", session_id="s1")
    with zipfile.ZipFile(out) as zf:
        return zf.namelist(), {e["name"]: e["path"] for e in json.loads(zf.read("_export_index.json"))["artifacts"]}, out


def test_zip_entry_names_are_unique_and_valid_everywhere(store, tmp_path):
    names = ["Report.txt", "report.txt", "trailing.", "trailing", "trailing .", "CON", "nul",
             "AUX.txt", "COM1", "lpt9.tar.gz", "x" * 300 + ".txt", "\u00e9" * 200 + ".md",
             "d/" + "y" * 400]
    for i, n in enumerate(names):
        store.put(f"content {i}".encode(), n, session_id="s1")
    entries, where, out = _export(store, tmp_path)
    assert len(entries) == len(names) + 1
    keys = [unicodedata.normalize("NFC", e).casefold() for e in entries]
    assert len(set(keys)) == len(keys), entries  # unique under case and normalisation
    for e in entries:
        for seg in e.split("/"):
            assert len(seg.encode("utf-8")) <= 255, seg
            assert not seg.endswith((".", " ")), seg
            assert seg.split(".", 1)[0].upper() not in {"CON", "NUL", "AUX", "COM1", "LPT9"}, seg
    assert where["CON"] == "_CON" and where["AUX.txt"] == "_AUX.txt" and where["trailing"] in ("trailing", "trailing~2")
    assert where["x" * 300 + ".txt"].endswith(".txt")
    # a real extractor on this (Linux) filesystem unpacks every entry with its own content
    dest = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(dest)
    for i, n in enumerate(names):
        assert (dest / where[n]).read_bytes() == f"content {i}".encode()


@pytest.mark.parametrize("name,safe", [
    (NFD, NFC), ("a/lead\u202eevil.txt", "a/lead_evil.txt"), ("CON/x", "_CON/x"), ("a./b ", "a/b"),
    ("...", "_"), ("com\u00b9.log", "_com\u00b9.log"),
])
def test_safe_arcname_normalises_each_segment(name, safe):
    assert safe_arcname(name) == safe


def test_an_upload_named_with_a_backslash_is_not_a_version_of_the_slash_name(client):
    r1 = client.post("/api/uploads/s1", files={"file": ("a/b", b"slash", "text/plain")})
    r2 = client.post("/api/uploads/s1", files={"file": ("a\\b", b"backslash", "text/plain")})
    assert r1.status_code == 200 and r2.status_code == 200, (r1.text, r2.text)
    assert r2.json()["version"] == 1 and r2.json()["artifact_id"] != r1.json()["artifact_id"]
    assert sorted(a["name"] for a in client.get("/api/uploads/s1").json()["attachments"]) == ["a/b", "a\\b"]
    r = client.post("/api/uploads/s1", files={"file": ("..\\..\\x", b"x", "text/plain")})
    assert r.status_code == 400
