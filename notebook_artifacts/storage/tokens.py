"""Scoped access tokens for a served store: only a SHA-256 hash of each token is kept.

One table, ``access_tokens``, in the catalog's database (embedded SQLite or the shared
PostgreSQL, through :meth:`Catalog.component_db`, so every server replica sees the same tokens;
nothing else reads it). A token is ``nat_<id>_<secret>``; ``<id>`` names it in ``token list`` / ``token revoke``.
:meth:`TokenRegistry.lookup` runs on every request, so a revoked or expired token is refused
at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import InvalidInputError, NotFoundError
from . import _validate as V
from ._sql import SqliteDB
from .postgres import pg_ddl
from .ttl import iso_utc

__all__ = ["TokenRegistry", "TokenRecord", "TOKEN_PREFIX"]

TOKEN_PREFIX = "nat_"
_TOKEN = re.compile(r"^nat_([0-9a-f]{12})_[A-Za-z0-9_-]{20,}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_tokens (
    token_id    TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    prefixes    TEXT NOT NULL,
    read_only   INTEGER NOT NULL,
    label       TEXT,
    created_at  REAL NOT NULL,
    expires_at  REAL,
    revoked_at  REAL
)"""


@dataclass
class TokenRecord:
    """What a token may do: the namespaces under ``prefixes``, read-only or not."""

    token_id: str
    prefixes: list[str] = field(default_factory=list)
    read_only: bool = False
    label: Optional[str] = None
    created_at: float = 0.0
    expires_at: Optional[float] = None
    revoked_at: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id, "prefixes": list(self.prefixes), "read_only": self.read_only,
            "label": self.label, "created_at": iso_utc(self.created_at),
            "expires_at": iso_utc(self.expires_at) if self.expires_at is not None else None,
            "revoked_at": iso_utc(self.revoked_at) if self.revoked_at is not None else None,
        }

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenRegistry:
    """Create, look up, list and revoke scoped tokens of the store at ``root``."""

    def __init__(self, db: Any) -> None:
        """``db``: a database from :meth:`Catalog.component_db` (or a SQLite file's path)."""
        self._owns = isinstance(db, (str, os.PathLike))
        self.db = SqliteDB(Path(db), per_thread=True) if self._owns else db
        with self.db.transaction() as c:
            c.execute(_SCHEMA if self.db.dialect == "sqlite" else pg_ddl(_SCHEMA))

    def close(self) -> None:
        """Close connections this registry opened (a shared pool belongs to the catalog)."""
        if self._owns or not self.db.shared:
            self.db.close()

    def create(self, prefixes: list[str] | tuple[str, ...] | str, *, read_only: bool = False,
               expires_in: Optional[float] = None, label: Optional[str] = None,
               now: float) -> tuple[str, TokenRecord]:
        """A new token for ``prefixes`` (namespace paths); returns ``(token, record)``. The
        token itself is returned only here: the registry keeps its hash."""
        items = [prefixes] if isinstance(prefixes, str) else list(prefixes or ())
        if not items:
            raise InvalidInputError("a scoped token needs at least one --namespace prefix")
        clean = [V.validate_namespace(p.strip().strip("/")) for p in items]
        if expires_in is not None and expires_in <= 0:
            raise InvalidInputError("expires must be a positive duration such as 30d")
        V.validate_optional_text(label, "label", 200)
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        rec = TokenRecord(token_id, sorted(set(clean)), bool(read_only), label, now,
                          None if expires_in is None else now + float(expires_in))
        with self.db.transaction() as c:
            c.execute(
                "INSERT INTO access_tokens(token_id, token_hash, prefixes, read_only, label, "
                "created_at, expires_at) VALUES (?,?,?,?,?,?,?)",
                (token_id, _hash(token), json.dumps(rec.prefixes), int(rec.read_only), label,
                 now, rec.expires_at))
        return token, rec

    def lookup(self, token: Optional[str], now: float) -> Optional[TokenRecord]:
        """The record of an active token, else None (unknown, revoked or expired)."""
        if not token or not _TOKEN.match(token):
            return None
        rows = self.db.query("SELECT * FROM access_tokens WHERE token_hash=?", (_hash(token),))
        rec = self._record(rows[0]) if rows else None
        return rec if rec is not None and rec.active(now) else None

    def list(self) -> list[TokenRecord]:
        rows = self.db.query("SELECT * FROM access_tokens ORDER BY created_at")
        return [self._record(r) for r in rows]

    def revoke(self, token_id: str, *, now: float) -> TokenRecord:
        with self.db.transaction() as c:
            c.execute(
                "UPDATE access_tokens SET revoked_at=? WHERE token_id=? AND revoked_at IS NULL",
                (now, token_id))
        rows = self.db.query("SELECT * FROM access_tokens WHERE token_id=?", (token_id,))
        if not rows:
            raise NotFoundError(f"no token {token_id!r}; see `notebook-artifacts token list`")
        return self._record(rows[0])  # revoking twice keeps the first time

    @staticmethod
    def _record(row: Any) -> TokenRecord:
        return TokenRecord(row["token_id"], json.loads(row["prefixes"]), bool(row["read_only"]),
                           row["label"], row["created_at"], row["expires_at"], row["revoked_at"])
