"""Token auth: ``Authorization: Bearer <token>`` or ``?token=<token>``; 401 without.

Tokens are compared in constant time and never logged: :class:`RedactingFilter` removes
``token=`` and ``sig=`` values from access-log lines.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from typing import Callable, Optional

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["new_token", "token_matches", "make_auth_dependency", "RedactingFilter"]

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


def make_auth_dependency(expected: str) -> Callable[..., None]:
    """A FastAPI dependency that raises 401 unless the request carries ``expected``."""

    def require_token(
        request: Request,
        bearer: Optional[HTTPAuthorizationCredentials] = Security(_bearer),
        token: Optional[str] = Security(_query),
    ) -> None:
        given = bearer.credentials if bearer is not None else token
        if not token_matches(given, expected):
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})

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
