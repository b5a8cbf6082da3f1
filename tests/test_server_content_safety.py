"""Stored XSS from the server's own origin (issue 19, finding 1): every download is served with
nosniff and a sandbox CSP, active types as attachments unless a header-authenticated caller asks
for inline, never more active than the name says, and signed URLs sign every parameter."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from server_fixtures import AUTH, TOKEN, app, client, store  # noqa: F401

P = "/v1/orgs/o/workspaces/w/namespaces/n"
PAGE = b"<script>alert(document.domain)</script>"


def _upload(client, name, data=PAGE, mime="application/octet-stream", session="s1"):
    r = client.post(f"/api/uploads/{session}", files={"file": (name, data, mime)})
    assert r.status_code == 200, r.text
    return r.json()["artifact_id"]


def _stream(session="s1"):
    return f"/api/sessions/{session}/artifacts/{{}}?mode=stream"


def _assert_guarded(r):
    assert r.headers.get("x-content-type-options") == "nosniff", dict(r.headers)
    assert r.headers.get("content-security-policy", "").split(";")[0].strip() == "sandbox", dict(r.headers)


def _signed_path(client, aid):
    info = client.get(f"{P}/artifacts/{aid}/download").json()
    u = urlsplit(info["download_url"])
    return u.path + "?" + u.query


def test_every_download_route_carries_nosniff_and_a_sandbox_csp(client, store):
    aid = _upload(client, "x.html", mime="text/html")
    for url in (_stream().format(aid), _stream().format(aid) + "&download=true",
                _stream().format(aid) + "&download=false", f"/api/sessions/s1/artifacts/{aid}",
                f"/api/sessions/s1/artifacts/{aid}?download=true", "/api/sessions/s1/download"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text)
        _assert_guarded(r)
    # seed 002: both route families
    r = client.post("/apps/a/users/u/sessions/s/artifacts",
                    json={"filename": "p.html", "artifact": {"inline_data": {"mime_type": "text/html",
                                                                            "data": "PHNjcmlwdD4="}}})
    assert r.status_code == 200, r.text
    for url in ("/apps/a/users/u/sessions/s/artifacts/p.html", "/api/sessions/a/u/s/artifacts/p.html"):
        _assert_guarded(client.get(url))
    # seed 003 / native, and the signed URL (no token)
    a = store.put(PAGE, "n.html", namespace="o/w/n")
    _assert_guarded(client.get(f"{P}/artifacts/{a.artifact_id}"))
    with TestClient(client.app) as anon:
        r = anon.get(_signed_path(client, a.artifact_id))
        assert r.status_code == 200 and r.content == PAGE
        _assert_guarded(r)
        assert r.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize("name,mime", [
    ("x.html", "text/html"), ("x.svg", "image/svg+xml"), ("x.xml", "application/xml"),
    ("x.js", "application/javascript"), ("x.weird", "application/x-unknown-active"),
])
def test_active_types_are_attachments_unless_header_authenticated_caller_asks_inline(client, name, mime):
    aid = _upload(client, name, mime=mime)
    url = _stream().format(aid)
    r = client.get(url)  # header token, but no explicit ask
    assert r.headers["content-disposition"].startswith("attachment"), dict(r.headers)
    r = client.get(url + "&download=false")  # header token and an explicit ask: inline
    assert "content-disposition" not in r.headers and r.content == PAGE
    with TestClient(client.app) as anon:  # the token in the link: a page could read it
        r = anon.get(url + f"&download=false&token={TOKEN}")
        assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
        # both header and query token: still a link that hands the token over
        r = anon.get(url + f"&download=false&token={TOKEN}", headers=AUTH)
        assert r.headers["content-disposition"].startswith("attachment")


def test_safe_types_stay_inline(client):
    for name, mime, data in (("a.txt", "text/plain", b"hi"), ("a.png", "image/png", b"\x89PNG\r\n\x1a\n"),
                             ("a.csv", "text/csv", b"a,b\n")):
        aid = _upload(client, name, data, mime)
        r = client.get(_stream().format(aid))
        assert r.headers["content-type"].startswith(mime) and "content-disposition" not in r.headers
        _assert_guarded(r)


def test_the_uploader_cannot_make_a_txt_render_as_html(client, store):
    aid = _upload(client, "note.txt", mime="text/html")  # multipart part type
    r = client.get(_stream().format(aid) + "&download=false")
    assert r.headers["content-type"].startswith("text/plain"), r.headers["content-type"]
    r = client.post(f"{P}/artifacts", json={"name": "y.txt", "content": PAGE.decode(), "mime_type": "text/html"})
    assert r.status_code == 200
    a = store.get(r.json()["artifact_id"])
    # the native route hands out a signed URL: served as the name's type
    with TestClient(client.app) as anon:
        r = anon.get(_signed_path(client, a.artifact_id))
        assert r.headers["content-type"].startswith("text/plain")
    # a type the name does not back, and no safe type from the name: opaque bytes
    aid = _upload(client, "pic.svg", mime="text/html")
    r = client.get(_stream().format(aid) + "&download=false")
    assert r.headers["content-type"] == "application/octet-stream"
    # the meta answer's data URI follows the served type too
    meta = client.get(f"/api/sessions/s1/artifacts/{_upload(client, 'm.txt', mime='text/html')}").json()
    assert meta["data_uri"].startswith("data:text/plain")


def test_signed_urls_sign_every_parameter(client, store):
    a = store.put(PAGE, "n.html", namespace="o/w/n")
    path = _signed_path(client, a.artifact_id)
    with TestClient(client.app) as anon:
        assert anon.get(path).status_code == 200
        for extra in ("&download=false", "&download=true", "&x=1", "&expires=1", "&sig=00"):
            r = anon.get(path + extra)
            assert r.status_code == 403, (extra, r.status_code)
        # a URL signed with download=false still never shows active content inline without a token
        signer = client.app.state.settings.signer
        inline_path, _ = signer.sign(a.artifact_id, 60, {"download": "false"})
        r = anon.get(inline_path)
        assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
        txt = store.put(b"plain", "t.txt", namespace="o/w/n")
        r = anon.get(signer.sign(txt.artifact_id, 60, {"download": "false"})[0])
        assert r.status_code == 200 and "content-disposition" not in r.headers


def test_docs_and_openapi_need_the_token_and_load_no_third_party_script(app):
    with TestClient(app) as anon:
        for url in ("/docs", "/openapi.json", "/redoc"):
            assert anon.get(url).status_code in (401, 404), url
        assert anon.get("/docs").status_code == 401 and anon.get("/openapi.json").status_code == 401
        r = anon.get("/docs", headers=AUTH)
        assert r.status_code == 200 and "/api/uploads/{session_id}" in r.text
        assert "<script" not in r.text.lower() and "cdn" not in r.text.lower()
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert anon.get("/openapi.json", headers=AUTH).json()["info"]["title"] == "notebook-artifacts"
