"""Connection timeouts uvicorn lacks: a client must finish a request's headers in time.

uvicorn closes a kept-alive connection that stays idle ``timeout_keep_alive`` seconds after a
response, but sets no limit on a connection that sends nothing, or that sends its headers one
line at a time (slowloris). :func:`header_timeout_protocol` wraps uvicorn's HTTP protocol class
so that the headers of every request must be complete within ``HEADER_TIMEOUT`` seconds of the
connection opening (or of the previous response ending); otherwise the connection is closed.
Bodies and WebSockets are not limited by it (uploads are streamed and may be slow).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Optional

from ..errors import InvalidInputError

__all__ = ["HEADER_TIMEOUT", "KEEP_ALIVE_TIMEOUT", "header_timeout", "header_timeout_protocol",
           "uvicorn_timeouts"]

#: Seconds a client has to send a request's headers ($NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT).
HEADER_TIMEOUT = 10.0
#: Seconds an idle kept-alive connection stays open after a response.
KEEP_ALIVE_TIMEOUT = 5


def header_timeout() -> float:
    """``$NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT`` (seconds) or :data:`HEADER_TIMEOUT`."""
    raw = os.environ.get("NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else HEADER_TIMEOUT
    except ValueError:
        raise InvalidInputError(f"$NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT={raw!r} is not a number of seconds") from None
    if not value > 0:
        raise InvalidInputError(f"$NOTEBOOK_ARTIFACTS_HEADER_TIMEOUT={raw!r} must be above 0")
    return value


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools or h11) with a header deadline per request."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    base: Any = AutoHTTPProtocol

    class HeaderTimeoutProtocol(base):  # type: ignore[misc, valid-type]
        _na_timer: Optional[asyncio.TimerHandle] = None
        _na_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._na_arm()

        def _na_arm(self) -> None:
            self._na_disarm()
            self._na_cycle = self.cycle  # headers are complete once a new cycle exists
            self._na_timer = self.loop.call_later(seconds, self._na_expire)

        def _na_disarm(self) -> None:
            if self._na_timer is not None:
                self._na_timer.cancel()
                self._na_timer = None

        def _na_expire(self) -> None:
            self._na_timer = None
            if self.cycle is self._na_cycle and not self.transport.is_closing():
                self.transport.close()  # headers not complete in time (or nothing sent)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._na_timer is not None and (
                    self.cycle is not self._na_cycle or self.transport.get_protocol() is not self):
                self._na_disarm()  # headers done, or upgraded to a WebSocket

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.timeout_keep_alive_task is not None:  # idle, waiting for the next request
                self._na_arm()

        def connection_lost(self, exc: Optional[Exception]) -> None:
            self._na_disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def uvicorn_timeouts() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config``: keep-alive and header timeouts."""
    return {"timeout_keep_alive": KEEP_ALIVE_TIMEOUT, "http": header_timeout_protocol(header_timeout())}
