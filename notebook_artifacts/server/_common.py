"""Shared pieces of the routes: server settings, scope mapping, path parameter types, long-poll."""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Optional

from fastapi import Path, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool

from ..models import Artifact, Event, EventPage
from ._group_commit import GroupCommit
from ._hub import EventHub
from ._signing import UrlSigner

__all__ = [
    "ServerSettings",
    "settings_of",
    "SessionId",
    "Segment",
    "SESSION_PATTERN",
    "SEGMENT_PATTERN",
    "seed001_scope",
    "app_scope",
    "platform_namespace",
    "long_poll",
    "ws_message",
    "split_csv",
    "mime_prefixes",
    "ext_filters",
    "DEFAULT_SESSION_EVENT_TYPES",
]

SESSION_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
SEGMENT_PATTERN = r"^[A-Za-z0-9_@+-][A-Za-z0-9_.@+-]{0,127}$"

SessionId = Annotated[str, Path(pattern=SESSION_PATTERN, description="Letters, digits, '_' and '-' (1-128).")]
Segment = Annotated[
    str, Path(pattern=SEGMENT_PATTERN, description="Letters, digits and '_.@+-' (1-128), not starting with '.'.")
]

#: Event types the seed-001 ``artifact-events`` route returns unless ``types`` says otherwise.
DEFAULT_SESSION_EVENT_TYPES = ("created", "version_created")


@dataclass
class ServerSettings:
    """Everything a route needs, kept on ``app.state.settings``."""

    store: Any
    token: Optional[str]
    max_upload_bytes: int
    data_uri_max_bytes: int
    signer: UrlSigner
    hub: EventHub
    workflows: dict[str, Callable[..., Any]] = field(default_factory=dict)
    tmp_dir: Optional[str] = None
    #: a valid signed download answers 307 to the blob store's own presigned URL when it has one
    presigned_downloads: bool = False
    #: scoped tokens (storage/tokens.py); None: only the admin token
    tokens: Any = None
    #: single uploads arriving together are stored together (_group_commit.py)
    puts: GroupCommit = field(default_factory=GroupCommit)


def settings_of(request: Request) -> ServerSettings:
    """The server's settings; for a scoped token, a copy whose ``store`` is scoped (_auth.py)."""
    scoped = getattr(request.state, "settings", None)
    return scoped if scoped is not None else request.app.state.settings


# ---------------------------------------------------------------- scope mapping (DESIGN.md)


def seed001_scope(session_id: str) -> tuple[str, str]:
    """Session attachment API: session S -> namespace ``default``, session S."""
    return "default", session_id


def app_scope(app_name: str, user_id: str, session_id: str, name: Optional[str] = None) -> tuple[str, Optional[str]]:
    """App/user/session API: -> ``APP/USER``, SESSION; ``user:`` names are user-scoped (no session)."""
    ns = f"{app_name}/{user_id}"
    if name is not None and name.startswith("user:"):
        return ns, None
    return ns, session_id


def platform_namespace(org: str, workspace: str, namespace: str) -> str:
    """Platform API: org/workspace/namespace -> ``ORG/WORKSPACE/NS``."""
    return f"{org}/{workspace}/{namespace}"


_MIME_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
_MIME_FILTER = re.compile(rf"^(\*(/\*)?|{_MIME_TOKEN}/(\*|{_MIME_TOKEN})?)$")
_EXT_FILTER = re.compile(r"^\.?[A-Za-z0-9][A-Za-z0-9_+-]*(\.[A-Za-z0-9][A-Za-z0-9_+-]*)*$")


def mime_prefixes(value: Optional[str], loc: str = "include_mime") -> Optional[list[str]]:
    """``include_mime`` as MIME prefixes: ``image/*`` and ``image/`` -> ``image/``,
    ``text/csv`` -> itself, ``*`` or ``*/*`` -> no filter. Anything else is a 422 naming the
    bad item (never an empty page)."""
    items = split_csv(value)
    if items is None:
        return None
    out = []
    for item in items:
        low = item.lower()
        if not _MIME_FILTER.match(low):
            raise RequestValidationError([{
                "loc": ("query", loc), "type": "value_error", "input": item, "ctx": {},
                "msg": f"{item!r} is not a MIME filter: write 'type/subtype', 'type/*' or 'type/'"}])
        if low in ("*", "*/*"):
            return None
        out.append(low[:-1] if low.endswith("/*") else low)
    return out


def ext_filters(value: Optional[str], loc: str = "include_ext") -> Optional[list[str]]:
    """``include_ext`` items (``.csv`` or ``csv``); a malformed one is a 422."""
    items = split_csv(value)
    for item in items or ():
        if not _EXT_FILTER.match(item):
            raise RequestValidationError([{
                "loc": ("query", loc), "type": "value_error", "input": item, "ctx": {},
                "msg": f"{item!r} is not a file extension: write '.csv' or 'csv'"}])
    return items


def split_csv(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


# ---------------------------------------------------------------- events


def ws_message(e: Event) -> dict[str, Any]:
    """A WebSocket message: seed-001 fields, ``type`` ``artifact_created`` for new versions
    (``artifact_<type>`` otherwise) and the native type in ``event_type``."""
    msg = e.to_seed001()
    native = e.type
    msg["type"] = "artifact_created" if native in ("created", "version_created") else f"artifact_{native}"
    msg.update(
        event_type=native,
        name=e.name,
        namespace=e.namespace,
        session_id=e.session_id,
        root_artifact_id=e.root_artifact_id,
        data=e.data,
    )
    return msg


async def long_poll(
    request: Request,
    *,
    namespace: Optional[str],
    session_id: Optional[str],
    after: int,
    wait_seconds: float,
    **filters: Any,
) -> EventPage:
    """``store.events`` with a wait that parks a future on the loop instead of a thread.

    A waiter is armed before each look at the log, so a write landing between the look and
    the wait still wakes it; a slow safety re-check runs every 5 s.
    """
    s = settings_of(request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    while True:
        fut = s.hub.arm(namespace, session_id)
        try:
            page = await _coalesced_events(s, after, namespace, session_id, filters)
            if page.events or page.gap:
                page.timed_out = False
                return page
            remaining = deadline - loop.time()
            if remaining <= 0:
                page.timed_out = True
                return page
            await s.hub.wait(fut, min(remaining, 5.0))
            if await request.is_disconnected():
                page.timed_out = True
                return page
            after = max(after, page.next_cursor) if page.next_cursor is not None else after
        finally:
            s.hub.disarm(fut, namespace, session_id)


_inflight: dict[Any, "asyncio.Future[EventPage]"] = {}


async def _coalesced_events(s: ServerSettings, after: int, namespace: Optional[str],
                            session_id: Optional[str], filters: dict[str, Any]) -> EventPage:
    """One ``store.events`` call shared by every waiter asking the same question at once
    (200 long-polls woken by one write make one catalog query, not 200)."""
    key = (id(s), after, namespace, session_id,
           tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in filters.items())))
    shared = _inflight.get(key)
    if shared is None:
        shared = asyncio.ensure_future(run_in_threadpool(
            lambda: s.store.events(after=after, wait_seconds=0, namespace=namespace,
                                   session_id=session_id, **filters)))
        _inflight[key] = shared
        shared.add_done_callback(lambda _f: _inflight.pop(key, None))
    page: EventPage = await asyncio.shield(shared)
    return copy.copy(page)  # each caller may set its own timed_out


def check_scope(a: Artifact, namespace: str, session_id: Optional[str] | type[Ellipsis] = ...) -> bool:  # type: ignore[valid-type]
    """True when ``a`` lies in ``namespace`` (and ``session_id`` unless it is ``...``)."""
    if a.namespace != namespace:
        return False
    if session_id is not ... and a.session_id != session_id:
        return False
    return True
