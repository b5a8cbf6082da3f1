"""How stored content is served: one policy for every route that returns an artifact's bytes.

Uploaded content is hostile, and the server's origin holds the token, so:

- every answer carries ``X-Content-Type-Options: nosniff`` (the browser never guesses a more
  active type), and every answer but the docs page ``Content-Security-Policy: sandbox`` (an
  HTML or SVG page that does render runs no script and gets an opaque origin) and
  ``Referrer-Policy: no-referrer`` (:class:`SecurityHeaders`, installed on the app);
- the served type is never more active than the artifact's names give (:func:`served_type`):
  an uploader cannot make ``x.txt`` render as ``text/html``;
- active types (HTML, SVG, XML, JavaScript, anything not on :data:`SAFE_TYPES`) are sent as
  attachments unless the caller sent the token in the ``Authorization`` header (never a
  ``?token=`` link, whose page could read it) and explicitly asked for ``download=false``
  (:func:`disposition`).
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import Request

from ..models import Artifact
from ..storage.mime import guess_mime
from ._auth import token_matches

__all__ = ["SAFE_TYPES", "OCTET", "is_active", "served_type", "header_authenticated", "disposition",
           "SecurityHeaders", "SECURITY_HEADERS"]

OCTET = "application/octet-stream"

#: Types a browser shows inertly (text, data, raster images, media) or only downloads.
SAFE_TYPES = frozenset({
    "text/plain", "text/csv", "text/tab-separated-values", "text/markdown", "text/x-python",
    "text/x-r", "application/json", "application/x-ndjson", "application/x-ipynb+json",
    "application/sql", "application/yaml", "application/toml", "application/pdf", OCTET,
    "application/zip", "application/gzip", "application/vnd.apache.parquet",
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
})
_SAFE_PREFIXES = ("audio/", "video/")

#: Headers on every answer (the docs page sets its own Content-Security-Policy).
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"sandbox"),
    (b"referrer-policy", b"no-referrer"),
)


def _base(mime: Optional[str]) -> str:
    return (mime or "").split(";", 1)[0].strip().lower()


def is_active(mime: Optional[str]) -> bool:
    """True unless ``mime`` is on the known-safe list (unknown types count as active)."""
    base = _base(mime)
    return not (base in SAFE_TYPES or base.startswith(_SAFE_PREFIXES))


def served_type(a: Artifact) -> str:
    """The Content-Type to serve ``a`` with: its stored type when that is safe, or active and
    exactly what its name (and file name) say; else the name's type if safe; else octet-stream."""
    stored = (a.mime_type or "").strip() or OCTET
    if not is_active(stored):
        return stored
    by_names = {_base(guess_mime(n)) for n in (a.name, a.file_name) if n}
    if by_names == {_base(stored)}:
        return _base(stored)  # x.html stored as text/html: active, but what the name says
    by_name = guess_mime(a.file_name or a.name)
    return by_name if not is_active(by_name) else OCTET


def header_authenticated(request: Request) -> bool:
    """True when the request carries the server token in ``Authorization: Bearer`` and no
    ``?token=`` (a link with the token in it must never open active content)."""
    token = getattr(request.app.state.settings, "token", None)
    if token is None or "token" in request.query_params:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and token_matches(given.strip(), token)


def disposition(a: Artifact, request: Request, download: Optional[bool]) -> str:
    """``"attachment"`` or ``"inline"`` for serving ``a``.

    ``download`` is the caller's explicit choice (None when not given). Safe types are inline
    unless asked for as a download; active ones (stored or served) are attachments unless the
    caller is header-authenticated and sent ``download=false``.
    """
    if download:
        return "attachment"
    if not is_active(a.mime_type) and not is_active(served_type(a)):
        return "inline"
    if download is False and header_authenticated(request):
        return "inline"
    return "attachment"


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every HTTP answer, unless already set."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
