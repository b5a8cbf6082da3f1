"""Host header checks for a server without auth (``--no-auth`` on loopback).

A web page in the user's browser can point its own domain at 127.0.0.1 (DNS rebinding) and
then read and write a loopback server without a token. Like Jupyter, such a server answers only
requests whose ``Host`` names it: loopback names and addresses, the address it is bound to,
and names given with ``--allowed-host``. Anything else gets 403 (a WebSocket is closed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, Optional

__all__ = ["HostCheck", "host_allowed", "LOOPBACK_NAMES"]

LOOPBACK_NAMES = frozenset({"localhost"})

_REFUSED = (b'{"detail":"this server (started with --no-auth) answers only its own host names; '
            b'add this one with --allowed-host NAME","error":"forbidden"}')


def _host_only(value: str) -> str:
    """``example.org:8765`` -> ``example.org``; ``[::1]:80`` -> ``::1``."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def host_allowed(header: Optional[str], allowed: Iterable[str]) -> bool:
    """True when a ``Host`` header names this server (a missing header is allowed)."""
    if header is None:
        return True
    host = _host_only(header)
    if host in LOOPBACK_NAMES or host in {_host_only(a) for a in allowed}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostCheck:
    """ASGI middleware refusing requests whose ``Host`` is not one of the server's names."""

    def __init__(self, app: Any, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = tuple(a for a in allowed if a)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            host = None
            for k, v in scope.get("headers", ()):
                if k == b"host":
                    host = v.decode("latin-1")
                    break
            if not host_allowed(host, self.allowed):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(_REFUSED)).encode())]})
                await send({"type": "http.response.body", "body": _REFUSED})
                return
        await self.app(scope, receive, send)
