"""Seed 001 auto-clean: with ``MAC_AUTO_CLEAN_ATTACHMENTS=1`` (or ``NOTEBOOK_ARTIFACTS_AUTO_CLEAN=1``)
a session's uploaded attachments (the seed's ``code_workspace/attachments/``) are deleted when
the session completes: when a workflow run in it finishes, when it has been idle for
``idle_seconds`` (``serve --session-idle-seconds``, default 3600), or on
``POST /api/sessions/{id}/close``. Workflow outputs and pinned versions stay for download.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Callable, Optional

from starlette.concurrency import run_in_threadpool

from ..storage.sessions import auto_clean_enabled

__all__ = ["UPLOAD_SOURCES", "DEFAULT_IDLE_SECONDS", "clean_finished_session", "idle_sweep", "run_idle_cleaner"]

log = logging.getLogger("notebook_artifacts.server")

#: What "the attachments/ directory" holds: files uploaded to the session.
UPLOAD_SOURCES = frozenset({"upload"})
DEFAULT_IDLE_SECONDS = 3600.0


def clean_finished_session(store: Any, namespace: str, session_id: str) -> Optional[dict[str, Any]]:
    """Close the session and delete its uploads when auto-clean is on; None when it is off."""
    if not auto_clean_enabled():
        return None
    return store.close_session(session_id, namespace, clean=True, sources=UPLOAD_SOURCES)


def _epoch(stamp: Optional[str]) -> float:
    if not stamp:
        return 0.0
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def idle_sweep(store: Any, namespace: str, idle_seconds: float, now: Optional[float] = None) -> list[str]:
    """Clean every session of ``namespace`` untouched for ``idle_seconds`` and not closed since
    its last change; returns their ids."""
    if not auto_clean_enabled():
        return []
    now = time.time() if now is None else now
    done = []
    for s in store.sessions(namespace):
        updated, closed = _epoch(s.get("updated_at")), _epoch(s.get("closed_at"))
        if closed >= updated or now - updated < idle_seconds:
            continue
        store.close_session(s["session_id"], namespace, clean=True, sources=UPLOAD_SOURCES)
        done.append(s["session_id"])
    return done


async def run_idle_cleaner(store: Any, namespace: str, idle_seconds: float,
                           clock: Callable[[], float] = time.time) -> None:
    """Sweep every ``min(idle_seconds / 4, 60)`` seconds until cancelled (``clock``: the store's)."""
    period = max(0.2, min(idle_seconds / 4, 60.0))
    while True:
        await asyncio.sleep(period)
        try:
            cleaned = await run_in_threadpool(idle_sweep, store, namespace, idle_seconds, clock())
        except Exception as exc:  # a sweep that fails is retried next period, never kills the server
            log.warning("idle session clean-up failed: %s", exc)
            continue
        if cleaned:
            log.info("auto-clean: idle sessions %s", ", ".join(cleaned))
