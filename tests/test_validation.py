"""Every validation: the rejected call writes nothing and its message says what is allowed."""

from __future__ import annotations

import os

import pytest

from notebook_artifacts import InvalidInputError
from store_fixtures import BOTH_STORES, backing, clock, store  # noqa: F401

pytestmark = BOTH_STORES


def _snapshot(store):
    files = sorted(str(p.relative_to(backing(store).root)) for p in backing(store).root.rglob("*")
                   if p.is_file() and not p.name.startswith("catalog.sqlite3"))
    return files, store.latest_cursor(), store.list(include_expired=True, limit=200).total


@pytest.fixture
def seeded(store):
    store.put("seed", "seed.txt", session_id="s1")
    return store


BAD_PUTS = [
    (dict(name=""), "1-512 characters"),
    (dict(name="/abs.txt"), "no leading '/'"),
    (dict(name="a/../b.txt"), "'..'"),
    (dict(name="a//b.txt"), "empty"),
    (dict(name="./a.txt"), "'.'"),
    (dict(name="nul\x00.txt"), "control"),
    (dict(name="x" * 513), "1-512"),
    (dict(name=42), "expected a string"),
    (dict(namespace=""), "namespace is one or more"),
    (dict(namespace="a/../b"), "namespace is one or more"),
    (dict(namespace="has space"), "letters, digits"),
    (dict(namespace="/lead"), "namespace is one or more"),
    (dict(session_id="has space"), "letters, digits, '_' or '-'"),
    (dict(session_id="x" * 129), "1-128"),
    (dict(session_id=""), "1-128"),
    (dict(tags=["ok", ""]), "1-128 characters"),
    (dict(tags=["x" * 129]), "1-128 characters"),
    (dict(tags=[3]), "tag is"),
    (dict(tags=["a\tb"]), "tag is"),
    (dict(metadata=[1, 2]), "dict of JSON values"),
    (dict(metadata={1: "a"}), "keys must be strings"),
    (dict(metadata={"a": object()}), "JSON data"),
    (dict(metadata={"a": float("inf")}), "JSON data"),
    (dict(ttl="forever"), "30m"),
    (dict(ttl=-1), "30m"),
    (dict(description=123), "string"),
    (dict(mime_type="nonsense"), "text/csv"),
    (dict(pinned="yes"), "True or False"),
]


@pytest.mark.parametrize("kwargs,message", BAD_PUTS)
def test_rejected_put_writes_nothing(seeded, kwargs, message):
    before = _snapshot(seeded)
    kwargs = dict(kwargs)
    name = kwargs.pop("name", "fine.txt")
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace("?", r"\?")):
        seeded.put("content", name, **kwargs)
    assert _snapshot(seeded) == before


def test_rejected_file_put_writes_nothing(seeded, tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"x" * 10_000)
    before = _snapshot(seeded)
    with pytest.raises(InvalidInputError):
        seeded.put(f, "../escape.bin")
    with pytest.raises(InvalidInputError, match="directory"):
        seeded.put(tmp_path, "dir.bin")
    assert _snapshot(seeded) == before
    assert os.listdir(backing(seeded).root / "blobs" / "tmp") == []


@pytest.mark.parametrize("call,message", [
    (lambda s: s.get(""), "artifact id"),
    (lambda s: s.get(None), "artifact id"),
    (lambda s: s.get("seed.txt", version=0), "counting from 1"),
    (lambda s: s.get("seed.txt", version="two"), "counting from 1"),
    (lambda s: s.get("seed.txt", namespace="a b"), "namespace"),
    (lambda s: s.get("../seed.txt"), "'..'"),
    (lambda s: s.list(limit=500), "1 to 200"),
    (lambda s: s.list(namespace="bad ns"), "namespace"),
    (lambda s: s.list(session_id="bad id"), "session id"),
    (lambda s: s.events(limit=0), "1 to 100"),
    (lambda s: s.events(wait_seconds=-1), "0 to 60"),
    (lambda s: s.events(after="x"), "cursor"),
    (lambda s: s.events(max_size=-5), "max_size"),
    (lambda s: s.events(types=["made_up"]), "created"),
    (lambda s: s.update("seed.txt", session_id="s1", add_tags=[""]), "tag is"),
    (lambda s: s.update("seed.txt", session_id="s1", pinned="no"), "True, False or None"),
    (lambda s: s.update("seed.txt", session_id="s1", metadata="x"), "dict"),
    (lambda s: s.delete("seed.txt", version=-1, session_id="s1"), "counting from 1"),
    (lambda s: s.close_session("bad id"), "session id"),
    (lambda s: s.export_zip(session_id="no way"), "session id"),
    (lambda s: s.subscribe("not callable"), "callable"),
    (lambda s: s.names("x/../y"), "namespace"),
])
def test_rejected_calls_write_nothing(seeded, call, message):
    before = _snapshot(seeded)
    with pytest.raises(InvalidInputError, match=message):
        call(seeded)
    assert _snapshot(seeded) == before
    assert seeded.get("seed.txt", session_id="s1").tags == []


def test_valid_edge_names_are_accepted(store):
    for name in ("a.txt", "dir/sub/file.csv", "spaces are fine.md", "ünïcode.txt", "x" * 512):
        assert store.put("ok", name).name == name
    assert store.put("ok", "n.txt", namespace="org/ws_1/ns-2.x@y").namespace == "org/ws_1/ns-2.x@y"
    assert store.put("ok", "n.txt", session_id="A-b_9").session_id == "A-b_9"
