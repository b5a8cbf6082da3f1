"""Time-to-live parsing and time formatting.

A TTL is seconds (int/float > 0), a :class:`datetime.timedelta`, or a string: digits
(seconds) or a number with a unit ``s``, ``m``, ``h``, ``d``, ``w`` ("30m", "1h", "7d",
"1.5h"). Clocks are callables returning epoch seconds (``time.time`` by default).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import time
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInputError

__all__ = ["Clock", "system_clock", "parse_ttl", "iso_utc", "parse_iso", "TTL_RULE"]

Clock = Callable[[], float]
system_clock: Clock = time.time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TTL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*\Z", re.IGNORECASE | re.ASCII)
MAX_TTL_SECONDS = 100 * 365 * 86400
TTL_RULE = 'a TTL is seconds > 0, a timedelta, or a string like "90", "30m", "1h", "7d", "2w"'


def parse_ttl(value: Any) -> int | None:
    """Seconds (rounded up to a whole second) for ``value``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidInputError(f"invalid ttl {value!r}: {TTL_RULE}")
    if isinstance(value, _dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        m = _TTL_RE.match(value)
        if not m:
            raise InvalidInputError(f"invalid ttl {value!r}: {TTL_RULE}")
        seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    else:
        raise InvalidInputError(f"invalid ttl {value!r}: {TTL_RULE}")
    if not math.isfinite(seconds) or seconds <= 0 or seconds > MAX_TTL_SECONDS:
        raise InvalidInputError(f"invalid ttl {value!r}: {TTL_RULE} (at most 100 years)")
    return int(math.ceil(seconds))


def iso_utc(ts: float | None) -> str | None:
    """Epoch seconds -> ``2026-01-02T03:04:05.678Z``."""
    if ts is None:
        return None
    d = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return d.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> float | None:
    if not text:
        return None
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
