"""Scoped tokens: a token for one namespace prefix never sees or changes another's artifacts,
on every route family, the WebSocket, events and listings (a property test over generated
namespaces and routes); read-only tokens get 403 on writes; revoked and expired tokens are
refused at once; the server's own token stays admin."""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notebook_artifacts import Artifact, ArtifactStore, NotFoundError, ReadOnlyError
from notebook_artifacts.scoped import ScopedStore, namespace_allowed
from notebook_artifacts.server import create_app

ADMIN = "admin-token-0e6f"


def _peek(ctx: Any) -> list[str]:
    return [a.name for a in ctx.attachments]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = ArtifactStore(tmp_path_factory.mktemp("scoped"), index=False)
    app = create_app(store, token=ADMIN, workflows={"peek": _peek})
    with TestClient(app) as client:
        yield store, client
    store.close()


# ---------------------------------------------------------------- probes: one per route


class Foreign:
    """An artifact outside the token's prefix and the route coordinates that point at it."""

    def __init__(self, a: Artifact, secret: str) -> None:
        self.a, self.secret = a, secret
        parts = a.namespace.split("/")
        self.org, self.ws, self.ns = parts if len(parts) == 3 else ("o", "w", "n")
        self.app, self.user = parts if len(parts) == 2 else ("a", "u")
        self.sid = a.session_id or "s1"


Probe = tuple[str, Callable[[TestClient, dict[str, str], Foreign], Any], set[str]]


def _plat(f: Foreign) -> str:
    return f"/v1/orgs/{f.org}/workspaces/{f.ws}/namespaces/{f.ns}"


def _go(f: Foreign) -> str:
    return f"/api/sessions/{f.app}/{f.user}/{f.sid}/artifacts"


def _web(f: Foreign) -> str:
    return f"/apps/{f.app}/users/{f.user}/sessions/{f.sid}/artifacts"


def _scope(f: Foreign) -> dict[str, Any]:
    return {"namespace": f.a.namespace, "session_id": f.a.session_id}


# (name, request, which of {"id", "name"} the request itself carries)
PROBES: list[Probe] = [
    ("native get by id", lambda c, h, f: c.get("/v1/store/artifact", params={"ref": f.a.artifact_id}, headers=h), {"id"}),
    ("native get by name", lambda c, h, f: c.get("/v1/store/artifact", params={"ref": f.a.name, **_scope(f)}, headers=h), {"name"}),
    ("native content", lambda c, h, f: c.get("/v1/store/content", params={"ref": f.a.artifact_id}, headers=h), {"id"}),
    ("native versions", lambda c, h, f: c.get("/v1/store/versions", params={"ref": f.a.name, **_scope(f)}, headers=h), {"name"}),
    ("native list all", lambda c, h, f: c.get("/v1/store/artifacts", params={"limit": 200}, headers=h), set()),
    ("native list ns", lambda c, h, f: c.get("/v1/store/artifacts", params=_scope(f), headers=h), set()),
    ("native names", lambda c, h, f: c.get("/v1/store/names", params=_scope(f), headers=h), set()),
    ("native events", lambda c, h, f: c.get("/v1/store/events", params={"after": 0, "limit": 100}, headers=h), set()),
    ("native events wait", lambda c, h, f: c.get("/v1/store/events", params={"after": 0, "limit": 100, "wait_seconds": 0.05, **_scope(f)}, headers=h), set()),
    ("native sessions", lambda c, h, f: c.get("/v1/store/sessions", headers=h), set()),
    ("native manifest", lambda c, h, f: c.get(f"/v1/store/sessions/{f.sid}/manifest", params={"namespace": f.a.namespace}, headers=h), set()),
    ("native export", lambda c, h, f: c.get("/v1/store/export", params=_scope(f), headers=h), set()),
    ("native update", lambda c, h, f: c.patch("/v1/store/artifact", json={"ref": f.a.artifact_id, "add_tags": ["pwned"]}, headers=h), {"id"}),
    ("native delete", lambda c, h, f: c.delete("/v1/store/artifact", params={"ref": f.a.artifact_id}, headers=h), {"id"}),
    ("native put", lambda c, h, f: c.post("/v1/store/artifacts", files={"file": ("x", b"overwrite")}, data={"options": json.dumps({"name": f.a.name, "kind": "stream", **_scope(f)})}, headers=h), {"name"}),
    ("native close session", lambda c, h, f: c.post(f"/v1/store/sessions/{f.sid}/close", params={"namespace": f.a.namespace, "clean": True}, headers=h), set()),
    ("native promote", lambda c, h, f: c.post("/v1/store/promote", json={"ref": f.a.artifact_id}, headers=h), {"id"}),
    ("native gc", lambda c, h, f: c.post("/v1/store/gc", params={"events_keep": 0}, headers=h), set()),
    ("native fsck repair", lambda c, h, f: c.post("/v1/store/fsck", params={"repair": True}, headers=h), set()),
    ("platform list", lambda c, h, f: c.get(_plat(f) + "/artifacts", headers=h), set()),
    ("platform get", lambda c, h, f: c.get(_plat(f) + f"/artifacts/{f.a.artifact_id}", headers=h), {"id"}),
    ("platform versions", lambda c, h, f: c.get(_plat(f) + f"/artifacts/{f.a.artifact_id}/versions", headers=h), {"id"}),
    ("platform download url", lambda c, h, f: c.get(_plat(f) + f"/artifacts/{f.a.artifact_id}/download", headers=h), {"id"}),
    ("platform update", lambda c, h, f: c.put(_plat(f) + f"/artifacts/{f.a.artifact_id}", json={"add_tags": ["pwned"], "content": "x"}, headers=h), {"id"}),
    ("platform delete", lambda c, h, f: c.delete(_plat(f) + f"/artifacts/{f.a.artifact_id}", params={"all_versions": True}, headers=h), {"id"}),
    ("platform create", lambda c, h, f: c.post(_plat(f) + "/artifacts", json={"name": f.a.name, "content": "x", "thread_id": f.sid}, headers=h), {"name"}),
    ("platform upload", lambda c, h, f: c.post(_plat(f) + "/artifacts/upload", files={"file": (f.a.name, b"x")}, data={"thread_id": f.sid}, headers=h), {"name"}),
    ("platform promote", lambda c, h, f: c.post(_plat(f) + f"/artifacts/{f.a.artifact_id}/promote", headers=h), {"id"}),
    ("apps list", lambda c, h, f: c.get(_go(f), headers=h), set()),
    ("apps load", lambda c, h, f: c.get(_go(f) + f"/{f.a.name}", headers=h), {"name"}),
    ("apps delete", lambda c, h, f: c.delete(_go(f) + f"/{f.a.name}", headers=h), {"name"}),
    ("apps web list", lambda c, h, f: c.get(_web(f), headers=h), set()),
    ("apps web load", lambda c, h, f: c.get(_web(f) + f"/{f.a.name}", headers=h), {"name"}),
    ("apps web versions", lambda c, h, f: c.get(_web(f) + f"/{f.a.name}/versions", headers=h), {"name"}),
    ("apps web save", lambda c, h, f: c.post(_web(f), json={"filename": f.a.name, "artifact": {"text": "x"}}, headers=h), {"name"}),
    ("apps web delete", lambda c, h, f: c.delete(_web(f) + f"/{f.a.name}", headers=h), {"name"}),
    ("sessions list", lambda c, h, f: c.get(f"/api/uploads/{f.sid}", headers=h), set()),
    ("sessions meta", lambda c, h, f: c.get(f"/api/sessions/{f.sid}/artifacts/{f.a.attachment_id}", params={"mode": "meta"}, headers=h), {"id"}),
    ("sessions stream", lambda c, h, f: c.get(f"/api/sessions/{f.sid}/artifacts/{f.a.attachment_id}", params={"mode": "stream"}, headers=h), {"id"}),
    ("sessions events", lambda c, h, f: c.get(f"/api/sessions/{f.sid}/artifact-events", params={"wait_seconds": 0, "after": 0}, headers=h), set()),
    ("sessions manifest", lambda c, h, f: c.get(f"/api/sessions/{f.sid}/manifest", headers=h), set()),
    ("sessions zip", lambda c, h, f: c.get(f"/api/sessions/{f.sid}/download", headers=h), set()),
    ("sessions close", lambda c, h, f: c.post(f"/api/sessions/{f.sid}/close", headers=h), set()),
    ("sessions upload", lambda c, h, f: c.post(f"/api/uploads/{f.sid}", files={"file": (f.a.name, b"x")}, headers=h), {"name"}),
    ("workflow attachments", lambda c, h, f: c.post("/api/workflow/execute", json={"workflow": "peek", "session_id": f.sid, "attachments": [f.a.attachment_id], "task_prompt": "x"}, headers=h), {"id"}),
    ("websocket replay", lambda c, h, f: _ws_replay(c, h), set()),
]


class _Answer:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content


def _ws_replay(c: TestClient, h: dict[str, str]) -> _Answer:
    token = h["Authorization"].split(" ", 1)[1]
    got: list[Any] = []
    with c.websocket_connect(f"/ws?token={token}&after=0") as ws:
        while True:
            msg = ws.receive_json()
            got.append(msg)
            if msg["type"] == "connected":
                break
    return _Answer(200, json.dumps(got).encode())


def _snapshot(store: ArtifactStore, f: Foreign) -> Any:
    vs = store.versions(f.a.artifact_id, include_expired=True)
    sessions = [s for s in store.sessions(f.a.namespace) if s["session_id"] == f.a.session_id]
    return ([(v.artifact_id, v.version, v.tags, v.metadata, v.description, v.is_pinned,
              v.promoted_to_source_id, v.sha256) for v in vs],
            store.names(f.a.namespace, f.a.session_id),
            [(s["artifacts"], s["closed_at"]) for s in sessions])


# ---------------------------------------------------------------- the property

_seg = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(prefix=st.lists(_seg, min_size=1, max_size=2).map("/".join),
       other=st.tuples(_seg, _seg, _seg),
       probes=st.lists(st.sampled_from(PROBES), min_size=1, max_size=6, unique_by=lambda p: p[0]),
       pick=st.integers(0, 3))
def test_a_scoped_token_never_sees_or_changes_another_namespace(world, prefix, other, probes, pick):
    store, client = world
    org, ws_, ns = other
    tag = secrets.token_hex(4)
    near = prefix + "z"  # shares the prefix's characters but not its path: outside
    spaces = [(f"{org}/{ws_}/{ns}", f"t{tag}"), (f"{org}/{ws_}", f"s{tag}"), ("default", f"d{tag}"),
              (f"{near}/w/n", f"n{tag}")]
    foreign = []
    for space, sid in spaces:
        if namespace_allowed(space, [prefix]):
            continue  # drawn inside the prefix: not foreign
        secret = f"SECRET-{secrets.token_hex(8)}"
        a = store.put(secret, f"secret-{secrets.token_hex(6)}.txt", namespace=space, session_id=sid)
        store.update(a.artifact_id, description="before")
        foreign.append(Foreign(store.get(a.artifact_id), secret))
    mine = store.put(f"mine {tag}", f"mine-{tag}.txt", namespace=f"{prefix}/w/n", session_id=f"m{tag}")
    token, _ = store.tokens.create([prefix], now=time.time())
    h = {"Authorization": f"Bearer {token}"}
    # the token works inside its prefix (so the checks below can fail)
    own = client.get("/v1/store/artifact", params={"ref": mine.artifact_id}, headers=h)
    assert own.status_code == 200 and own.json()["name"] == mine.name
    f = foreign[pick % len(foreign)]
    before = _snapshot(store, f)
    for name, send, carries in probes:
        r = send(client, h, f)
        body = r.content
        assert r.status_code < 500, (name, r.status_code, body[:300])
        assert f.secret.encode() not in body, name
        if "id" not in carries:
            assert f.a.artifact_id.encode() not in body and f.a.attachment_id.encode() not in body, name
        if "name" not in carries:
            assert f.a.name.encode() not in body, name
        assert _snapshot(store, f) == before, name


# ---------------------------------------------------------------- read-only, revoke, expiry


def test_read_only_tokens_get_403_on_writes_of_every_family(world):
    store, client = world
    a = store.put("keep", "ro.txt", namespace="ro/w/n", session_id="r1")
    token, _ = store.tokens.create(["ro"], read_only=True, now=time.time())
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/store/artifact", params={"ref": a.artifact_id}, headers=h).status_code == 200
    assert client.get("/v1/store/content", params={"ref": a.artifact_id}, headers=h).content == b"keep"
    f = Foreign(a, "keep")
    f.app, f.user = "ro", "w"
    writes = [p for p in PROBES if p[0] in (
        "native update", "native delete", "native put", "native close session", "native promote",
        "platform update", "platform delete", "platform create", "platform upload",
        "platform promote", "apps web save")]
    for name, send, _ in writes:
        r = send(client, h, f)
        assert r.status_code == 403, (name, r.status_code, r.text)
        assert r.json()["error"] == "read_only"
    assert store.versions(a.artifact_id) == [store.get(a.artifact_id)] and store.get(a.artifact_id).tags == []


def test_revoked_and_expired_tokens_are_refused_at_once(world):
    store, client = world
    store.put("x", "x.txt", namespace="rev")
    token, rec = store.tokens.create(["rev"], now=time.time())
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/store/artifacts", headers=h).status_code == 200
    with client.websocket_connect(f"/ws?token={token}") as ws:
        assert ws.receive_json()["type"] == "connected"
    store.tokens.revoke(rec.token_id, now=time.time())
    assert client.get("/v1/store/artifacts", headers=h).status_code == 401
    assert client.get("/v1/store/artifacts", params={"token": token}).status_code == 401
    with pytest.raises(Exception):
        with client.websocket_connect(f"/ws?token={token}") as ws:
            ws.receive_json()
    short, _ = store.tokens.create(["rev"], expires_in=0.5, now=time.time())
    hs = {"Authorization": f"Bearer {short}"}
    assert client.get("/v1/store/artifacts", headers=hs).status_code == 200
    time.sleep(0.6)
    assert client.get("/v1/store/artifacts", headers=hs).status_code == 401
    # the server's own token is unaffected and sees every namespace
    assert client.get("/v1/store/artifacts", params={"namespace": "rev"},
                      headers={"Authorization": f"Bearer {ADMIN}"}).json()["total"] == 1
    assert [r.token_id for r in store.tokens.list() if r.revoked_at] == [rec.token_id]


def test_only_a_hash_is_stored(world):
    store, _ = world
    token, rec = store.tokens.create(["h"], now=time.time())
    raw = (store.root / "catalog.sqlite3").read_bytes()
    wal = store.root / "catalog.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    secret = token.partition(f"{rec.token_id}_")[2]  # (it may itself hold "_")
    assert len(secret) >= 40 and token.encode() not in raw and secret.encode() not in raw
    assert store.tokens.lookup(token, time.time()).prefixes == ["h"]


def test_scoped_store_in_python_has_the_same_boundary(tmp_path):
    with ArtifactStore(tmp_path / "s", index=False) as store:
        other = store.put("theirs", "t.txt", namespace="team/ab")
        mine = store.put("mine", "m.txt", namespace="team/a/x")
        view = ScopedStore(store, ["team/a"], read_only=False)
        assert [a.name for a in view.list()] == ["m.txt"] and view.get(mine.artifact_id).name == "m.txt"
        with pytest.raises(NotFoundError, match="no artifact"):
            view.get(other.artifact_id)
        with pytest.raises(NotFoundError):
            view.put("x", "t.txt", namespace="team/ab")
        assert [e.name for e in view.events(after=0).events] == ["m.txt"]
        # put_many: every item's namespace (its own or the common one) must be in scope
        with pytest.raises(NotFoundError):
            view.put_many([("x", "a.txt")], namespace="team/ab")
        with pytest.raises(NotFoundError):
            view.put_many([("x", "a.txt"), {"text": "y", "name": "b.txt", "namespace": "team/ab"}],
                          namespace="team/a")
        assert store.list(namespace="team/ab").total == 1
        assert [a.namespace for a in view.put_many([("x", "a.txt")], namespace="team/a")] == ["team/a"]
        with pytest.raises(ReadOnlyError):
            ScopedStore(store, ["team/a"], read_only=True).put_many([("x", "a.txt")], namespace="team/a")
        with pytest.raises(ReadOnlyError):
            ScopedStore(store, ["team/a"], read_only=True).delete(mine.artifact_id)
