"""HMAC-signed download URLs: valid for one artifact version, until an expiry time.

Format: ``/v1/signed/{artifact_id}?expires=<unix seconds>&sig=<hex>`` where ``sig`` is
HMAC-SHA256(key, "download\\n{artifact_id}\\n{expires}"). No token is needed while it is valid.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable

__all__ = ["UrlSigner", "SIGNED_PATH"]

SIGNED_PATH = "/v1/signed/{artifact_id}"


class UrlSigner:
    """Signs and checks download URLs with a secret key (random per server when not given)."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if not key:
            raise ValueError("signing key must not be empty")
        self._key = key
        self._clock = clock

    def _sig(self, artifact_id: str, expires: int) -> str:
        msg = f"download\n{artifact_id}\n{expires}".encode("utf-8")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def now(self) -> float:
        return float(self._clock())

    def sign(self, artifact_id: str, expires_in: int) -> tuple[str, int]:
        """Return (path with query, expires_at) for ``artifact_id``."""
        expires = int(self._clock()) + int(expires_in)
        path = SIGNED_PATH.format(artifact_id=artifact_id)
        return f"{path}?expires={expires}&sig={self._sig(artifact_id, expires)}", expires

    def check(self, artifact_id: str, expires: int, sig: str) -> str | None:
        """None when valid, else the reason it is refused."""
        given = (sig or "").encode("utf-8", "replace")
        if not hmac.compare_digest(self._sig(artifact_id, expires).encode("ascii"), given):
            return "invalid signature: this URL is not valid for this artifact"
        if self._clock() > expires:
            return "this download URL has expired: ask for a new one"
        return None
