"""Token auth: ``Authorization: Bearer <token>`` or ``?token=<token>``; 401 without.

The server's own token is the admin token. A scoped token (``notebook-artifacts token create``,
looked up on every request, so revoking or expiry takes effect at once) gives the request a
:class:`~notebook_artifacts.scoped.ScopedStore`: ``settings_of(request).store`` then sees only
the namespaces under the token's prefixes, on every route family.

Tokens are compared in constant time and never logged: :class:`RedactingFilter` removes
``token=`` and ``sig=`` values (however their names are percent-encoded) from log lines.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import re
import secrets
import time
from typing import Any, Callable, Optional
from urllib.parse import unquote_plus

from fastapi import HTTPException, Request, Security
from starlette.requests import HTTPConnection
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

__all__ = ["new_token", "token_matches", "given_token", "make_auth_dependency", "scoped_store_for",
           "RedactingFilter", "redact_secrets", "SECRET_PARAMS"]

_bearer = HTTPBearer(auto_error=False, description="The server token (printed by `serve`).")
_query = APIKeyQuery(name="token", auto_error=False, description="The server token, as a query parameter.")

UNAUTHORIZED = (
    "missing or invalid token: send 'Authorization: Bearer <token>' or add '?token=<token>' "
    "(the token is printed by `notebook-artifacts serve`)"
)


def new_token() -> str:
    """A fresh random token (URL-safe, 32 bytes of entropy)."""
    return secrets.token_urlsafe(32)


def token_matches(given: Optional[str], expected: str) -> bool:
    """Constant-time comparison; ``None`` never matches."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def given_token(conn: HTTPConnection) -> Optional[str]:
    """The token a request or WebSocket carries: ``Authorization: Bearer <token>`` (scheme in
    any case), else ``?token=``."""
    scheme, _, credentials = conn.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return conn.query_params.get("token") or None


def scoped_store_for(settings: Any, given: Optional[str]) -> Optional[Any]:
    """The :class:`ScopedStore` of an active scoped token, else None (unknown, revoked,
    expired, or the server keeps no token registry)."""
    from ..scoped import ScopedStore

    if settings.tokens is None or not given:
        return None
    rec = settings.tokens.lookup(given, time.time())
    if rec is None:
        return None
    return ScopedStore(settings.store, rec.prefixes, rec.read_only)


def make_auth_dependency(expected: str) -> Callable[..., Any]:
    """A FastAPI dependency that raises 401 unless the request carries ``expected`` (the admin
    token) or an active scoped token; a scoped token scopes the request's store."""

    async def require_token(
        request: Request,
        bearer: Optional[HTTPAuthorizationCredentials] = Security(_bearer),
        token: Optional[str] = Security(_query),
    ) -> None:
        # bearer/token are declared for the OpenAPI security schemes; the check is the one
        # the WebSocket uses. Async: the admin token is checked on the loop (a sync dependency
        # costs every request a worker-thread hop, and waits for a free worker when uploads
        # fill the pool); only a scoped token's lookup (a catalog query) goes to a thread.
        given = given_token(request)
        if token_matches(given, expected):
            return
        settings = request.app.state.settings
        scoped = await run_in_threadpool(scoped_store_for, settings, given) if given else None
        if scoped is None:
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        request.state.settings = dataclasses.replace(settings, store=scoped)

    return require_token


#: Query parameters whose values never reach a log, matched on the decoded, lower-cased name
#: (Starlette decodes names, so ``%74oken=`` and ``tok%65n=`` are the token too).
SECRET_PARAMS = frozenset({"token", "sig", "access_token", "api_key"})
_QUERY = re.compile(r"\?([^\s\"]*)")


def _redact_query(match: "re.Match[str]") -> str:
    out = []
    for piece in match.group(1).split("&"):
        name, eq, _ = piece.partition("=")
        if eq and unquote_plus(name).strip().lower() in SECRET_PARAMS:
            piece = f"{name}=***"
        out.append(piece)
    return "?" + "&".join(out)


def redact_secrets(text: str) -> str:
    """``text`` with the value of every secret query parameter (by decoded name) as ``***``."""
    return _QUERY.sub(_redact_query, text) if "?" in text else text


class RedactingFilter(logging.Filter):
    """Replaces the values of ``token``, ``sig`` (and other :data:`SECRET_PARAMS`) query
    parameters in log records (uvicorn access and WebSocket lines) with ``***``, whatever
    percent-encoding spells their names."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        return True
