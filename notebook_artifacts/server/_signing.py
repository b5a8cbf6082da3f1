"""HMAC-signed download URLs: valid for one artifact version, until an expiry time.

Format: ``/v1/signed/{artifact_id}?expires=<unix seconds>[&download=...]&sig=<hex>``. ``sig`` is
HMAC-SHA256(key, "download\\n{artifact_id}\\n" + JSON of every other query parameter, sorted),
so no parameter can be added, removed or changed (``download=false`` included) without
invalidating it. No token is needed while it is valid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Callable, Iterable, Mapping, Optional
from urllib.parse import urlencode

from ..errors import InvalidInputError

__all__ = ["UrlSigner", "SIGNED_PATH"]

SIGNED_PATH = "/v1/signed/{artifact_id}"
INVALID = "invalid signature: this URL is not valid for this artifact (every parameter is signed)"


class UrlSigner:
    """Signs and checks download URLs with a secret key (random per server when not given)."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if not key:
            raise InvalidInputError("signing key must not be empty: give a non-empty signing_key or leave it None")
        self._key = key
        self._clock = clock

    def _sig(self, artifact_id: str, params: Iterable[tuple[str, str]]) -> str:
        canon = json.dumps(sorted(params), ensure_ascii=True, separators=(",", ":"))
        msg = f"download\n{artifact_id}\n{canon}".encode("utf-8", "replace")
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def now(self) -> float:
        return float(self._clock())

    def sign(self, artifact_id: str, expires_in: int,
             params: Optional[Mapping[str, str]] = None) -> tuple[str, int]:
        """Return (path with query, expires_at) for ``artifact_id``; ``params`` (e.g.
        ``{"download": "false"}``) are signed with the expiry."""
        expires = int(self._clock()) + int(expires_in)
        items = sorted({**(params or {}), "expires": str(expires)}.items())
        path = SIGNED_PATH.format(artifact_id=artifact_id)
        query = urlencode(items + [("sig", self._sig(artifact_id, items))])
        return f"{path}?{query}", expires

    def check(self, artifact_id: str, query: Iterable[tuple[str, str]]) -> Optional[str]:
        """None when the (decoded) query parameters carry a valid signature, else the reason."""
        items = list(query)
        sigs = [v for k, v in items if k == "sig"]
        params = [(k, v) for k, v in items if k != "sig"]
        expires = [v for k, v in params if k == "expires"]
        if len(sigs) != 1 or len(expires) != 1 or not expires[0].isdigit():
            return INVALID
        given = sigs[0].encode("utf-8", "replace")
        if not hmac.compare_digest(self._sig(artifact_id, params).encode("ascii"), given):
            return INVALID
        if self._clock() > int(expires[0]):
            return "this download URL has expired: ask for a new one"
        return None
