"""Bad input across faces: fuzzed names, session ids, namespaces, metadata, tags and TTLs.

Each property: a valid input round-trips exactly; an invalid one raises InvalidInputError
(whose message says what is allowed) and writes nothing: no listing entry, no event, no blob,
no file anywhere outside the store. Also: zip exports whose entries never escape, malformed
documents that fail alone in the index, mutated PDFs and fuzzed text formats that extract or
fail cleanly, the CLI and HTTP faces under fuzzed input, HTML reprs that escape user content,
and secrets that never reach logs or events.

Bounded for CI; more examples with ``NA_FUZZ_EXAMPLES`` (store properties, default 200),
``NA_FUZZ_HTTP_EXAMPLES`` (500), ``NA_FUZZ_ZIP_EXAMPLES`` (40), ``NA_FUZZ_CLI_EXAMPLES`` (150)
and ``NA_FUZZ_DOC_EXAMPLES`` (150).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, assume, example, given, settings
from hypothesis import strategies as st

from notebook_artifacts import ArtifactStore, InvalidInputError
from index_fixtures import embedder  # noqa: F401  (the real model, loaded once)
from reliability_fixtures import stray_files

#: no "explain" phase: it re-runs a failing example under a line tracer, which in the full
#: suite's process took tens of minutes to report one failure (the failure itself is enough)
FUZZ = settings(max_examples=int(os.environ.get("NA_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])

#: figures printed at the end of the module (fuzzed inputs tried, per property)
TRIED: dict[str, int] = {}


def _count(what: str) -> None:
    TRIED[what] = TRIED.get(what, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzzed inputs tried: {sum(TRIED.values())} {TRIED}")


def _files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


class Witness:
    """Everything a rejected call must leave unchanged."""

    def __init__(self, store: ArtifactStore, root: Path, outside: Path):
        self.store, self.root, self.outside = store, root, outside
        self.before = self._state()

    def _state(self):
        s = self.store
        page = s.list(include_expired=True, limit=200)
        blobs = sorted(p.name for p in (self.root / "blobs" / "sha256").rglob("*") if p.is_file())
        return (page.total, sorted(a.artifact_id for a in page.artifacts), s.latest_cursor(),
                blobs, _files_under(self.outside))

    def assert_unchanged(self, what):
        after = self._state()
        assert after == self.before, f"rejected {what!r} still wrote something"
        assert not stray_files(self.root)


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------

_SPECIAL = ["..", ".", "/", "\\", "\x00", "\n", "\r", "\t", ":", "~", "%2e%2e", "C:", "\u202e",
            "\u2028", "\ufeff", "\U0001f600", "é", "ß", "名", " ", "'", '"', ";", "--", "*", "?",
            "<script>", "&amp;", "$(id)", "`", "e\u0301", "\u2066"]

names = st.one_of(
    st.text(min_size=0, max_size=40),
    st.lists(st.sampled_from(_SPECIAL + ["a", "b", "x.txt", "dir"]), min_size=1, max_size=8).map("".join),
    st.lists(st.sampled_from(["a", "..", ".", "", "b.txt", "~", "ü"]), min_size=1, max_size=5).map("/".join),
    st.lists(st.sampled_from(["a", "..", "b.txt"]), min_size=1, max_size=4).map("\\".join),
    st.integers(500, 530).map(lambda n: "n" * n),
    st.sampled_from(["../../etc/passwd", "/etc/passwd", "C:\\Windows\\x", "a/../../b", "..\\..\\x",
                     "a/./b", "a//b", "ok.txt", "dir/ok.txt", "...", "..a", "a..", "a/.../b",
                     "\\\\server\\share", "file:///etc/passwd"]),
)


def name_is_clearly_valid(name: str) -> bool:
    """A strict subset of DESIGN.md's rule: names every implementation must accept."""
    if not name or len(name) > 512 or name.startswith("/"):
        return False
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "\\" in name or ":" in name:
        return False
    if any(c in _BIDI for c in name) or len(unicodedata.normalize("NFC", name)) > 512:
        return False  # bidirectional controls are refused (SECURITY.md row 1)
    return all(seg not in ("", ".", "..") for seg in name.split("/"))


_BIDI = set("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def name_is_clearly_invalid(name) -> bool:
    """DESIGN.md: no NUL, no empty or '..' segments, no leading '/', at most 512 characters."""
    if not isinstance(name, str) or not name or len(name) > 512 or "\x00" in name:
        return True
    if name.startswith("/"):
        return True
    return any(seg in ("", "..") for seg in name.split("/"))


SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")

session_ids = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_-]{1,128}\Z"),
    st.text(max_size=20),
    st.from_regex(r"\A[A-Za-z0-9_-]{1,8}\Z").map(lambda s: s + "\n"),
    st.sampled_from(["", "..", "a/b", "a b", "x" * 129, "x" * 128, "../etc", "s1\x00", "ok-1_2",
                     "é", "s\n", "\ns"]),
)

namespaces = st.one_of(
    st.lists(st.from_regex(r"\A[A-Za-z0-9_.@+-]{1,12}\Z"), min_size=1, max_size=4).map("/".join),
    st.text(max_size=30),
    st.sampled_from(["default", "myapp/u1", "org/ws/ns", "..", "a/../b", "/abs", "a//b", "a/",
                     "ns\n", "a\n/b", ".", "a/./b", "x" * 257, "x/" * 100 + "x", "...", "a@b+c.d-e"]),
)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**62), 2**62),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=30,
)
non_json_values = st.sampled_from([
    float("nan"), float("inf"), -float("inf"), {1, 2}, b"bytes", object(), dt.datetime(2026, 1, 1),
    complex(1, 2), {(1, 2): "tuple key"}, Path("/tmp"), print,
])

ttl_strings = st.one_of(
    st.from_regex(r"\A\s?\d{1,6}(\.\d{1,3})?\s?[smhdwSMHDW]?\s?\Z"),
    st.text(max_size=12),
    st.sampled_from(["0", "0s", "-1", "-5m", "1e3", "nan", "inf", "1y", "1 h", "1hh", "h", "",
                     "99999999999999999999d", "30m", "1h", "7d", "2w", "1.5h", "90", " 5m ",
                     "\u0661\u0662", "１２"]),
)


def ttl_oracle(text: str):
    """Seconds for a TTL string per DESIGN/issue: digits, or a number with s/m/h/d/w."""
    m = re.fullmatch(r"[ \t\n\r\f\v]*([0-9]+(?:\.[0-9]+)?)[ \t\n\r\f\v]*([smhdwSMHDW]?)[ \t\n\r\f\v]*", text)
    if not m:
        return None
    secs = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2).lower()]
    if not math.isfinite(secs) or secs <= 0 or secs > 100 * 365 * 86400:
        return None
    return math.ceil(secs)


# --------------------------------------------------------------------------------------
# properties against the store
# --------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("do not touch")
    root = outside / "inner" / "store"
    store = ArtifactStore(root, index=False)
    old = os.getcwd()
    os.chdir(outside)  # a relative path escaping the root would land here
    try:
        yield store, root, outside
    finally:
        os.chdir(old)


def test_fuzzed_names_round_trip_or_reject_cleanly(env):
    store, root, outside = env

    @FUZZ
    @given(name=names, data=st.binary(max_size=64))
    @example(name="../../outside.txt", data=b"x")
    @example(name="a" * 512, data=b"x")
    @example(name="a" * 513, data=b"x")
    def check(name, data):
        _count("names")
        w = Witness(store, root, outside)
        try:
            a = store.put(data, name)
        except InvalidInputError as exc:
            assert not name_is_clearly_valid(name), f"valid name {name!r} rejected: {exc}"
            assert "name" in str(exc).lower()
            w.assert_unchanged(name)
            return
        assert not name_is_clearly_invalid(name), f"invalid name {name!r} accepted"
        assert a.name == unicodedata.normalize("NFC", name)  # stored in NFC
        assert store.get(name).artifact_id == a.artifact_id
        assert store.read_bytes(name) == data
        assert store.get(a.artifact_id).name == a.name
        # nothing anywhere but inside the store's own directory
        assert sorted(p.name for p in outside.iterdir()) == ["canary.txt", "inner"]
        assert [p.name for p in (outside / "inner").iterdir()] == ["store"]
        assert sorted(p.name for p in outside.parent.iterdir()) == ["outside"]

    check()
    assert (outside / "canary.txt").read_text() == "do not touch"


def test_fuzzed_session_ids(env):
    store, root, outside = env

    @FUZZ
    @given(session=session_ids)
    @example(session="abc\n")
    def check(session):
        _count("session_ids")
        w = Witness(store, root, outside)
        valid = SESSION_RE.fullmatch(session) is not None
        try:
            a = store.put(b"payload", "f.txt", session_id=session)
        except InvalidInputError as exc:
            assert not valid, f"valid session id {session!r} rejected: {exc}"
            assert "session" in str(exc).lower()
            w.assert_unchanged(session)
            return
        assert valid, f"invalid session id {session!r} accepted"
        assert a.session_id == session
        assert store.read_bytes("f.txt", session_id=session) == b"payload"
        assert any(x.artifact_id == a.artifact_id for x in store.list(session_id=session).artifacts)

    check()


def test_fuzzed_namespaces(env):
    store, root, outside = env

    @FUZZ
    @given(ns=namespaces)
    @example(ns="ns\n")
    def check(ns):
        _count("namespaces")
        w = Witness(store, root, outside)
        segs = ns.split("/") if isinstance(ns, str) else []
        valid = (0 < len(ns) <= 256 and all(
            re.fullmatch(r"[A-Za-z0-9_.@+-]{1,128}", s) and s not in (".", "..") for s in segs))
        try:
            a = store.put(b"payload", "f.txt", namespace=ns)
        except InvalidInputError as exc:
            assert not valid, f"valid namespace {ns!r} rejected: {exc}"
            assert "namespace" in str(exc).lower()
            w.assert_unchanged(ns)
            return
        assert valid, f"invalid namespace {ns!r} accepted"
        assert a.namespace == ns
        assert store.read_bytes("f.txt", namespace=ns) == b"payload"

    check()


def test_fuzzed_metadata_round_trip_or_reject_cleanly(env):
    store, root, outside = env

    @FUZZ
    @given(meta=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
           bad=st.one_of(st.none(), non_json_values))
    def check(meta, bad):
        _count("metadata")
        if bad is not None:
            meta = {**meta, "bad": {"deep": [bad]}}
        w = Witness(store, root, outside)
        try:
            a = store.put(b"m", "meta.json.txt", metadata=meta)
        except InvalidInputError as exc:
            assert bad is not None, f"JSON metadata rejected: {exc}"
            assert "metadata" in str(exc).lower()
            w.assert_unchanged(meta)
            return
        assert bad is None, f"non-JSON metadata value {bad!r} accepted"
        assert a.metadata == meta
        assert store.get(a.artifact_id).metadata == meta
        # update with the same rules
        b = store.update(a.artifact_id, metadata={"k": meta})
        assert store.get(a.artifact_id).metadata.get("k") == meta or b.metadata.get("k") == meta

    check()


@pytest.mark.parametrize("meta", [
    {"huge": "x" * (2 * 1024 * 1024)},
    {"many": list(range(200_000))},
    "deep",
    "circular",
    ["not", "a", "dict"],
    {1: "int key"},
    {"k": "lone \ud800 surrogate"},
    {"\udfff": "surrogate key"},
    {"deep": [{"x": "\udc00"}]},
])
def test_huge_and_deep_metadata_rejected_without_writing(env, meta):
    store, root, outside = env
    if meta == "deep":
        meta = {}
        cur = meta
        for _ in range(5000):
            cur["a"] = {}
            cur = cur["a"]
    elif meta == "circular":
        meta = {}
        meta["self"] = meta
    w = Witness(store, root, outside)
    _count("metadata_extreme")
    with pytest.raises(InvalidInputError) as info:
        store.put(b"x", "m.txt", metadata=meta)
    assert "metadata" in str(info.value).lower()
    w.assert_unchanged("metadata")
    base = store.put(b"x", "m.txt")
    w2 = Witness(store, root, outside)
    with pytest.raises(InvalidInputError):
        store.update(base.artifact_id, metadata=meta)
    w2.assert_unchanged("metadata update")
    assert store.get(base.artifact_id).metadata == {}


def test_fuzzed_tags_round_trip(env):
    store, root, outside = env

    @FUZZ
    @given(tags=st.lists(st.one_of(st.text(max_size=20),
                                   st.sampled_from(["a,b", "", " ", "x" * 129, "\x00", "ok",
                                                    "'; DROP TABLE artifacts;--", "%", "_", "\\"])),
                         max_size=8))
    def check(tags):
        _count("tags")
        w = Witness(store, root, outside)
        # the documented rule: an item holding ',' is split on it (empty parts dropped); each
        # tag is stripped and must be 1-128 characters, no control character, valid Unicode
        parts: list[str] = []
        for item in tags:
            parts += [p.strip() for p in item.split(",") if p.strip()] if "," in item else [item.strip()]
        bad = any(not t or len(t) > 128 or any(ord(c) < 32 or ord(c) == 127 for c in t)
                  or any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in parts)
        try:
            a = store.put(b"t", "tagged.txt", tags=tags)
        except InvalidInputError as exc:
            assert "tag" in str(exc).lower()
            w.assert_unchanged(tags)
            assert bad, f"valid tags {tags!r} rejected: {exc}"
            return
        assert not bad, f"invalid tags {tags!r} accepted as {a.tags!r}"
        expected = list(dict.fromkeys(parts))
        assert a.tags == expected
        assert store.get(a.artifact_id).tags == expected
        for t in expected:  # a tag filter finds it, whatever characters it holds
            assert a.artifact_id in [x.artifact_id for x in store.list(tags=[t], limit=200).artifacts]
        assert store.list(tags=["%"]).total == sum(1 for x in store.list(limit=200).artifacts if "%" in x.tags)

    check()


def test_sql_like_names_are_plain_data(env):
    store, root, outside = env
    evil = ["x'); DROP TABLE artifacts; --", "%", "_", "a%b", "' OR '1'='1", "\"; --"]
    for i, name in enumerate(evil):
        store.put(f"v{i}".encode(), name)
    for i, name in enumerate(evil):
        assert store.read_bytes(name) == f"v{i}".encode()
        assert store.get(name).name == name
    assert {a.name for a in store.list(limit=200).artifacts} == set(evil)


def test_fuzzed_ttl_strings(env):
    store, root, outside = env
    clock_now = [1_800_000_000.0]

    @FUZZ
    @given(ttl=ttl_strings)
    def check(ttl):
        _count("ttl")
        expected = ttl_oracle(ttl)
        w = Witness(store, root, outside)
        try:
            a = store.put(b"ttl", "ttl.txt", ttl=ttl)
        except InvalidInputError as exc:
            assert expected is None, f"valid ttl {ttl!r} rejected: {exc}"
            assert "ttl" in str(exc).lower()
            w.assert_unchanged(ttl)
            return
        assert expected is not None, f"invalid ttl {ttl!r} accepted as {a.ttl_seconds}"
        assert a.ttl_seconds == expected
        assert a.expires_at is not None

    check()


def test_traversal_names_never_touch_outside_root(env):
    store, root, outside = env
    for name in ["../escape.txt", "../../escape.txt", "/etc/passwd", "..\\escape.txt", "a/../../x"]:
        with pytest.raises(InvalidInputError):
            store.put(b"x", name)
        with pytest.raises(InvalidInputError):
            store.get(name)
    for sid in ["../x", "a/b", ".."]:
        with pytest.raises(InvalidInputError):
            store.put(b"x", "f.txt", session_id=sid)
    for ns in ["../x", "/abs", "a/../../b"]:
        with pytest.raises(InvalidInputError):
            store.put(b"x", "f.txt", namespace=ns)
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt", "inner"]
    assert not (outside.parent / "escape.txt").exists()


# --------------------------------------------------------------------------------------
# zip exports
# --------------------------------------------------------------------------------------

zip_names = st.one_of(
    st.lists(st.sampled_from(["a", "b.txt", "...", "..a", "a..", "ü", "名前", "x y", "C", "c:d",
                              "%2e%2e", "~", ".hidden", "con", "nul.txt", "\u202etxt.exe"]),
             min_size=1, max_size=4).map("/".join),
    st.text(min_size=1, max_size=20),
)


def _entry_escapes(entry: str) -> bool:
    if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or "\x00" in entry:
        return True
    return any(seg == ".." for seg in re.split(r"[/\\]", entry))


def test_export_zip_entries_never_escape(tmp_path):
    @settings(max_examples=int(os.environ.get("NA_FUZZ_ZIP_EXAMPLES", "40")), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(entries=st.lists(st.tuples(zip_names, st.sampled_from([None, "s1", "s-2"]),
                                      st.binary(max_size=32)), min_size=1, max_size=8))
    def check(entries):
        _count("zip_exports")
        import tempfile

        with tempfile.TemporaryDirectory(dir=tmp_path) as d:
            d = Path(d)
            store = ArtifactStore(d / "store", index=False)
            stored = {}
            for name, session, data in entries:
                try:
                    a = store.put(data, name, session_id=session)
                except InvalidInputError:
                    continue
                stored[(session, name)] = a.sha256
            for session in [None, "s1"]:
                dest = d / f"export-{session}.zip"
                store.export_zip(dest, namespace="default", session_id=session)
                with zipfile.ZipFile(dest) as zf:
                    infos = zf.infolist()
                    for info in infos:
                        assert not _entry_escapes(info.filename), f"unsafe entry {info.filename!r}"
                    target = d / f"x-{session}"
                    zf.extractall(target)
                    for info in infos:  # also what a naive extractor would do
                        p = (target / info.filename).resolve()
                        assert target.resolve() in p.parents or p == target.resolve()
                    digests = {__import__("hashlib").sha256(zf.read(i)).hexdigest()
                               for i in infos if not i.is_dir()}
                expect = {sha for (s, _), sha in stored.items() if session is None or s == session}
                assert expect <= digests, "an artifact is missing from its export"
            for p in d.rglob("*"):
                assert d in p.parents

    check()


# --------------------------------------------------------------------------------------
# HTML reprs escape user content
# --------------------------------------------------------------------------------------


def test_html_reprs_escape_user_content(env):
    store, root, outside = env
    evil = "<script>alert(1)</script>"
    a = store.put(b"<img src=x onerror=alert(2)>", "x<script>.txt", tags=[evil],
                  metadata={evil: evil}, description=evil)
    for html_text in [a._repr_html_(), store.list()._repr_html_(), store.events()._repr_html_()]:
        assert "<script>alert" not in html_text
        assert "<img" not in html_text  # escaped as &lt;img ...: shown as text, never a tag


# --------------------------------------------------------------------------------------
# secrets never reach logs or the event log
# --------------------------------------------------------------------------------------


def test_secrets_never_in_logs_or_events(tmp_path):
    """The API token (Bearer and ?token=), a signed URL's signature and the WebSocket token
    never appear in the real server's output (access and error logs) nor in any event."""
    import httpx
    from websockets.sync.client import connect

    from test_concurrency import TOKEN, _start_server, _stop_server

    root = tmp_path / "store"
    ArtifactStore(root, index=False).close()
    proc, url, output = _start_server(root, "--no-index")
    secrets_seen = [TOKEN]
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            base = "/v1/orgs/o/workspaces/w/namespaces/n"
            r = c.post(f"{base}/artifacts", params={"token": TOKEN},
                       json={"name": "secret-test.txt", "content": "hello"})
            assert r.status_code in (200, 201), r.text
            aid = r.json()["artifact_id"]
            r = c.get(f"{base}/artifacts/{aid}/download", headers={"Authorization": f"Bearer {TOKEN}"},
                      params={"expires_in": 60})
            assert r.status_code == 200, r.text
            signed = r.json()["download_url"]
            sig = re.search(r"sig=([^&]+)", signed).group(1)
            secrets_seen.append(sig)
            path = signed.split("://", 1)[-1].split("/", 1)[-1] if "://" in signed else signed.lstrip("/")
            r = c.get("/" + path)
            assert r.status_code == 200 and r.content == b"hello"
            assert c.get("/api/uploads/s1", params={"token": "wrong-" + TOKEN}).status_code == 401
            r = c.post("/api/uploads/s1", params={"token": TOKEN},
                       files={"file": ("a.txt", b"x", "text/plain")})
            assert r.status_code in (200, 201), r.text
        ws_url = url.replace("http://", "ws://") + f"/ws?token={TOKEN}&session_id=s1"
        with connect(ws_url, open_timeout=10) as ws:
            ws.recv(timeout=10)
        time.sleep(0.5)
    finally:
        _stop_server(proc)
    time.sleep(0.2)
    text = "".join(output)
    # the check means something only if the requests were logged at all
    assert "/artifacts" in text and "/ws" in text, f"no access log captured:\n{text[-2000:]}"
    for secret in secrets_seen:
        assert secret not in text, f"a secret leaked into the server's output:\n{text[-2000:]}"
    store = ArtifactStore(root, index=False)
    events, _ = __import__("reliability_fixtures").all_events(store)
    dumped = json.dumps([e.to_dict() for e in events])
    for secret in secrets_seen:
        assert secret not in dumped, "a secret was written into the event log"
    _count("secret_checks")


# --------------------------------------------------------------------------------------
# malformed documents fail alone in the index
# --------------------------------------------------------------------------------------


_GARBAGE = os.urandom(4000)


@__import__("functools").lru_cache(maxsize=1)
def _malformed_documents() -> dict[str, bytes]:
    good_pdf = (Path(__file__).parent.parent / "data" / "field_report.pdf").read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape.txt", "zip slip inside an upload")
        zf.writestr("a.txt", "x" * 10000)
    bad_zip = bytearray(buf.getvalue())
    bad_zip[len(bad_zip) // 2] ^= 0xFF
    return {
        "truncated.pdf": good_pdf[: len(good_pdf) // 3],
        "garbage.pdf": b"%PDF-1.7\n" + _GARBAGE,
        "header-only.pdf": b"%PDF-1.4\n%%EOF\n",
        "empty.pdf": b"",
        "xref-loop.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\n"
                         b"xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \n"
                         b"trailer << /Root 1 0 R /Size 2 >>\nstartxref\n58\n%%EOF\n",
        "broken.zip": bytes(bad_zip),
        "notes.json": b'{"unterminated": [1, 2',
        "latin1.md": "caf\xe9 cr\xe8me".encode("latin-1") + b"\xff\xfe\x00",
    }


@pytest.mark.model
def test_malformed_documents_fail_alone(tmp_path, embedder):
    """Malformed PDFs, archives and text never stop the indexer: each ends failed (with an
    error and an attempt count) or skipped, and well-formed documents beside them index."""
    store = ArtifactStore(tmp_path / "store")
    try:
        good = store.put("# Heron\n\nThe grey heron waits in the shallows.", "heron.md")
        bad = {name: store.put(data, name) for name, data in _malformed_documents().items()}
        good2 = store.put("# Kestrel\n\nA kestrel hovers above the verge.", "kestrel.md")
        assert store.wait_indexed(180), "the indexer stalled on malformed input"
        for name, a in bad.items():
            _count("malformed_documents")
            rec = store.get(a.artifact_id)
            assert rec.status in ("failed", "skipped", "indexed"), (name, rec.status)
            if rec.status == "failed":
                assert rec.index_error and rec.index_attempts >= 1, (name, rec)
                assert not rec.is_indexed
            # whatever the indexer thought of it, the bytes are still served as stored
            assert store.read_bytes(a.artifact_id) == _malformed_documents()[name]
        statuses = {n: store.get(a.artifact_id).status for n, a in bad.items()}
        assert statuses["garbage.pdf"] == "failed" and statuses["truncated.pdf"] in ("failed", "indexed")
        assert statuses["broken.zip"] == "skipped"
        for g, q in ((good, "heron in the shallows"), (good2, "kestrel hovering")):
            assert store.get(g.artifact_id).status == "indexed"
            hits = store.query(q, k=1)
            assert hits.results and hits.results[0].artifact.artifact_id == g.artifact_id
        failed_events = [e for e in store.events(after=0, limit=100, types="index_failed").events]
        assert {e.artifact_id for e in failed_events} == {
            a.artifact_id for n, a in bad.items() if statuses[n] == "failed"}
    finally:
        store.close()


# --------------------------------------------------------------------------------------
# the HTTP face: fuzzed names, ids, text and metadata never give a 5xx nor escape the root
# --------------------------------------------------------------------------------------

_NASTY_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\ud800", "a\udfffb", "..", "../../x", "/abs", "a\x00b", "ok.txt", "user:x.txt",
                     "user:../x", "C:\\x", "%2e%2e/x", "\u202e", "x" * 600, "", " ", "a/b/c.txt"]),
)


def _no_surrogates(s: str) -> str:
    """For query parameters: an HTTP client cannot put a lone surrogate in a URL at all."""
    return "".join("?" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def _raw_json(obj) -> bytes:
    """JSON with \\uXXXX escapes, so lone surrogates travel as a real client would send them."""
    return json.dumps(obj, ensure_ascii=True).encode("ascii")


def test_server_fuzzed_requests_never_5xx(tmp_path):
    from fastapi.testclient import TestClient
    from urllib.parse import quote

    from notebook_artifacts.server import create_app

    root = tmp_path / "outside" / "store"
    store = ArtifactStore(root, index=False)
    token = "fuzz-token"
    client = TestClient(create_app(store, token=token, max_upload_bytes=1 << 16),
                        headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)
    base = "/v1/orgs/o/workspaces/w/namespaces/n"

    @settings(FUZZ, max_examples=int(os.environ.get("NA_FUZZ_HTTP_EXAMPLES", "500")))
    @given(name=_NASTY_TEXT, text=_NASTY_TEXT, session=_NASTY_TEXT,
           meta=st.one_of(st.none(), st.dictionaries(_NASTY_TEXT, _NASTY_TEXT, max_size=3)),
           route=st.sampled_from(["platform_create", "platform_update", "web_save_text",
                                  "web_save_b64", "upload", "go_load", "events", "list_thread"]))
    def check(name, text, session, meta, route):
        _count("http_requests")
        q = lambda s: quote(s.encode("utf-8", "surrogatepass"), safe="")  # noqa: E731
        if route == "platform_create":
            body = {"name": name, "content": text, "thread_id": session or None, "metadata": meta}
            r = client.post(f"{base}/artifacts", content=_raw_json(body),
                            headers={"Content-Type": "application/json"})
        elif route == "platform_update":
            a = store.put(b"seed", "seed.txt", namespace="o/w/n")
            body = {"content": text, "description": name, "tags": [session], "metadata": meta}
            r = client.put(f"{base}/artifacts/{a.artifact_id}", content=_raw_json(body),
                           headers={"Content-Type": "application/json"})
        elif route in ("web_save_text", "web_save_b64"):
            part = ({"text": text} if route == "web_save_text" else
                    {"inline_data": {"mime_type": session or "text/plain",
                                     "data": __import__("base64").b64encode(b"x").decode()}})
            body = {"filename": name, "artifact": part, "custom_metadata": meta}
            r = client.post(f"/apps/app/users/u1/sessions/{q(session or 's')}/artifacts",
                            content=_raw_json(body), headers={"Content-Type": "application/json"})
        elif route == "upload":
            r = client.post(f"/api/uploads/{q(session or 's')}",
                            files={"file": (name.encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                                            b"data", "text/plain")})
        elif route == "go_load":
            r = client.get(f"/api/sessions/app/u1/{q(session or 's')}/artifacts/{q(name or 'x')}",
                           params={"version": _no_surrogates(text[:5])})
        elif route == "events":
            r = client.get(f"/api/sessions/{q(session or 's')}/artifact-events",
                           params={"after": _no_surrogates(text[:8]), "wait_seconds": 0,
                                   "include_ext": _no_surrogates(name[:20])})
        else:
            r = client.get(f"{base}/threads/{q(session or 't')}/artifacts", params={"limit": _no_surrogates(text[:4]) or 1})
        assert r.status_code < 500, f"{route}: {r.status_code} {r.text[:300]}"
        assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["store"]

    check()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside"]


def test_http_text_naming_a_server_file_is_stored_as_text(tmp_path):
    """``store.put`` reads a ``str`` naming an existing file as that file (a notebook
    convenience); text sent over HTTP that names a file on the server's disk must be stored as
    the text itself, never as the server's file (a local file disclosure)."""
    from fastapi.testclient import TestClient

    from notebook_artifacts.server import create_app

    secret = tmp_path / "server-secret.txt"
    secret.write_text("server-side secret, never to be served")
    store = ArtifactStore(tmp_path / "store", index=False)
    client = TestClient(create_app(store, token="t"), headers={"Authorization": "Bearer t"},
                        raise_server_exceptions=False)
    base = "/v1/orgs/o/workspaces/w/namespaces/n"
    path_text = str(secret)
    r = client.post(f"{base}/artifacts", json={"name": "p.txt", "content": path_text})
    assert r.status_code == 200, r.text
    aid = r.json()["artifact_id"]
    r = client.put(f"{base}/artifacts/{aid}", json={"content": path_text})
    assert r.status_code == 200, r.text
    r = client.post("/apps/app/users/u1/sessions/s1/artifacts",
                    json={"filename": "q.txt", "artifact": {"text": path_text}})
    assert r.status_code in (200, 201), r.text
    stored = [a for a in store.list(include_expired=True, limit=50).artifacts]
    stored += store.list(namespace="o/w/n", limit=50).artifacts
    stored += store.list(namespace="app/u1", session_id="s1", limit=50).artifacts
    versions = {v.artifact_id: v for a in stored for v in store.versions(a.artifact_id)}
    assert len(versions) == 3, versions
    for v in versions.values():
        _count("path_like_text")
        assert store.read_bytes(v.artifact_id) == path_text.encode(), v.name


def test_cli_fuzzed_options_error_cleanly(tmp_path):
    """The CLI face with fuzzed names, session ids, namespaces, tags, TTLs and metadata: each
    call either stores exactly what it was given or exits non-zero with one ``error:`` line
    (never an unexpected exception, never a traceback) and writes nothing."""
    from click.testing import CliRunner

    from notebook_artifacts.cli import cli

    root = tmp_path / "outside" / "store"
    store = ArtifactStore(root, index=False)
    runner = CliRunner()
    outcomes = {"stored": 0, "rejected": 0}
    opt_text = st.one_of(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                                 max_size=20), st.sampled_from(_SPECIAL))

    @settings(FUZZ, max_examples=int(os.environ.get("NA_FUZZ_CLI_EXAMPLES", "150")))
    @given(name=opt_text, session=st.one_of(st.none(), opt_text),
           namespace=st.one_of(st.none(), opt_text), tag=st.one_of(st.none(), opt_text),
           ttl=st.one_of(st.none(), opt_text, ttl_strings.filter(lambda s: "\x00" not in s)),
           metadata=st.one_of(st.none(), opt_text, st.just('{"a": [1, {"b": null}]}')))
    @example(name="e\u0301", session=None, namespace=None, tag=None, ttl=None, metadata=None)
    def check(name, session, namespace, tag, ttl, metadata):
        _count("cli_calls")
        args = ["--root", str(root), "put", "--text", "payload", "--name", name, "--no-index", "--json"]
        for flag, value in (("-s", session), ("-n", namespace), ("-t", tag), ("--ttl", ttl),
                            ("--metadata", metadata)):
            if value is not None:
                args += [flag, value]
        w = Witness(store, root, tmp_path / "outside")
        r = runner.invoke(cli, args, catch_exceptions=True)
        out = (r.output or "") + (getattr(r, "stderr", "") if r.stderr_bytes is not None else "")
        assert r.exception is None or isinstance(r.exception, SystemExit), \
            f"{args}: unhandled {r.exception!r}"
        assert "Traceback" not in out and "unexpected" not in out, f"{args}: {out[-500:]}"
        if r.exit_code != 0:
            assert "error" in out.lower(), f"{args}: exit {r.exit_code} without an error: {out!r}"
            w.assert_unchanged(args)
            outcomes["rejected"] += 1
            return
        outcomes["stored"] += 1
        rec = json.loads(r.stdout)
        rec = rec[0] if isinstance(rec, list) else rec
        a = store.get(rec["artifact_id"])
        assert a.name == unicodedata.normalize("NFC", name)  # stored in NFC ("e\u0301" -> "é")
        assert a.session_id == session
        assert a.namespace == (namespace if namespace is not None else "default")
        assert store.read_bytes(a.artifact_id) == b"payload"

    check()
    print(f"\nCLI outcomes: {outcomes}")
    assert outcomes["stored"] and outcomes["rejected"], outcomes
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["store"]


def test_mutated_documents_extract_or_fail_cleanly():
    """Extraction of mutated PDFs (truncated, bytes flipped, spliced) and fuzzed JSON, CSV,
    HTML, Markdown and code ends in text or in a clean Skip/ExtractionError, never another
    exception and never a hang (a 60 s alarm per document marks a stall)."""
    import signal

    from notebook_artifacts.index.extract import ExtractionError, SkipExtraction, extract

    good_pdf = (Path(__file__).parent.parent / "data" / "field_report.pdf").read_bytes()

    @st.composite
    def mutated_pdfs(draw):
        data = bytearray(good_pdf)
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["truncate", "flip", "insert", "splice", "zero"]))
            pos = draw(st.integers(0, max(0, len(data) - 1)))
            if op == "truncate":
                data = data[:pos]
            elif op == "flip" and data:
                data[pos] ^= draw(st.integers(1, 255))
            elif op == "insert":
                data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
            elif op == "splice":
                end = draw(st.integers(pos, min(len(data), pos + 4096)))
                data[pos:pos] = data[pos:end]
            else:
                end = draw(st.integers(pos, min(len(data), pos + 512)))
                data[pos:end] = bytes(end - pos)
        return bytes(data), "application/pdf", "report.pdf"

    texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
    docs = st.one_of(
        mutated_pdfs(),
        mutated_pdfs(),
        st.tuples(texts.map(str.encode), st.sampled_from([
            ("application/json", "a.json"), ("text/csv", "a.csv"), ("text/html", "a.html"),
            ("text/markdown", "a.md"), ("text/x-python", "a.py"), ("text/plain", "a.txt"),
            ("text/tab-separated-values", "a.tsv")])).map(lambda t: (t[0], *t[1])),
        st.tuples(st.binary(max_size=300), st.sampled_from([
            ("application/json", "a.json"), ("text/csv", "a.csv"), ("application/pdf", "a.pdf"),
            (None, "a.bin"), ("application/zip", "a.zip"), ("application/vnd.apache.parquet", "a.parquet")]
        )).map(lambda t: (t[0], *t[1])),
    )

    def stall(*_):
        raise TimeoutError("extraction stalled")

    outcomes: dict[str, int] = {}

    @settings(FUZZ, max_examples=int(os.environ.get("NA_FUZZ_DOC_EXAMPLES", "150")))
    @given(doc=docs)
    def check(doc):
        _count("mutated_documents")
        data, mime, fname = doc
        old = signal.signal(signal.SIGALRM, stall)
        signal.alarm(60)
        try:
            got = extract(data, mime, fname)
        except (SkipExtraction, ExtractionError) as exc:
            assert str(exc), "an extraction error must say why"
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
        else:
            assert isinstance(got.text, str)
            outcomes["text"] = outcomes.get("text", 0) + 1
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)

    check()
    print(f"\nmutated document outcomes: {outcomes}")
