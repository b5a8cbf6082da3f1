"""Token auth: ``Authorization: Bearer <token>`` or ``?token=<token>``; 401 without.

The server's own token is the admin token. A scoped token (``notebook-artifacts token create``,
looked up on every request, so revoking or expiry takes effect at once) gives the request a
:class:`~notebook_artifacts.scoped.ScopedStore`: ``settings_of(request).store`` then sees only
the namespaces under the token's prefixes, on every route family.

Tokens are compared in constant time and never logged: :class:`RedactingFilter` removes
``token=`` and ``sig=`` values from access-log lines.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import re
import secrets
import time
from typing import Any, Callable, Optional

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["new_token", "token_matches", "make_auth_dependency", "scoped_store_for",
           "RedactingFilter"]

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


def make_auth_dependency(expected: str) -> Callable[..., None]:
    """A FastAPI dependency that raises 401 unless the request carries ``expected`` (the admin
    token) or an active scoped token; a scoped token scopes the request's store."""

    def require_token(
        request: Request,
        bearer: Optional[HTTPAuthorizationCredentials] = Security(_bearer),
        token: Optional[str] = Security(_query),
    ) -> None:
        given = bearer.credentials if bearer is not None else token
        if token_matches(given, expected):
            return
        settings = request.app.state.settings
        scoped = scoped_store_for(settings, given)
        if scoped is None:
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        request.state.settings = dataclasses.replace(settings, store=scoped)

    return require_token


_SECRET_PARAM = re.compile(r"((?:^|[?&])(?:token|sig)=)[^&\s\"]*")


class RedactingFilter(logging.Filter):
    """Replaces ``token=...`` and ``sig=...`` in log records (uvicorn access lines) with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PARAM.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SECRET_PARAM.sub(r"\1***", record.msg)
        return True
