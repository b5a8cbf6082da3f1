"""WebSocket ``/ws``: live events for writes made by any process.

Query: ``token`` (when auth is on), optional ``session_id`` and ``namespace`` filters, optional
``after`` cursor to replay the log first. Messages: first ``{"type": "connected", "cursor"}``,
then one per event: ``{"type": "artifact_created", "event_type": "created"|"version_created", ...}``
or ``{"type": "artifact_<event type>", "event_type": ...}`` with the seed-001 event fields plus
``name, namespace, session_id, root_artifact_id, data``. Send ``ping`` (text or
``{"type": "ping"}``) for a ``{"type": "pong"}``.

``{"type": "human_input", "task_prompt": ..., "attachments": ["att_..."]}`` (seed 001, 1.3) runs
the session's workflow exactly as ``POST /api/workflow/execute`` does (``session_id`` and
``workflow`` may be given; the connection's ``session_id`` is the default) and answers
``{"type": "workflow_result", ...}`` with that route's fields. A message the server cannot act
on is answered ``{"type": "error", "message": ...}``, never dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ..errors import ArtifactError
from . import _schemas as S
from ._auth import given_token, scoped_store_for, token_matches
from ._common import SESSION_PATTERN, ServerSettings, ws_message
from .routes_workflow import run_workflow

__all__ = ["router"]

router = APIRouter()
REPLAY_PAGE = 100


async def _catch_up(ws: WebSocket, store: Any, after: int, namespace: Optional[str], session_id: Optional[str]) -> int:
    """Send every logged event after ``after`` in scope; returns the last cursor sent."""
    while True:
        page = await run_in_threadpool(
            lambda a=after: store.events(after=a, wait_seconds=0, namespace=namespace, session_id=session_id,
                                 limit=REPLAY_PAGE)
        )
        if page.gap:
            await ws.send_json({"type": "gap", "cursor": after,
                                "message": "events before this cursor were trimmed: re-list to resynchronise"})
        for e in page.events:
            await ws.send_json(ws_message(e))
        if page.next_cursor is not None:
            after = max(after, page.next_cursor)
        if not page.has_more:
            return after


async def _human_input(s: ServerSettings, msg: dict[str, Any], session_id: Optional[str]) -> dict[str, Any]:
    """Run the workflow for a ``human_input`` message; the answer or an ``error`` message."""
    fields = {k: v for k, v in msg.items() if k != "type"}
    if session_id is not None:
        fields.setdefault("session_id", session_id)
    try:
        body = S.WorkflowRequest.model_validate(fields)
        result = await run_workflow(s, body)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}" for e in exc.errors())
        return {"type": "error", "message": f"human_input rejected: {problems}"}
    except HTTPException as exc:
        return {"type": "error", "message": f"human_input rejected: {exc.detail}"}
    except ArtifactError as exc:
        return {"type": "error", "message": f"human_input rejected: {exc}"}
    return {"type": "workflow_result", **result}


@router.websocket("/ws")
async def events_ws(ws: WebSocket) -> None:
    s = ws.app.state.settings
    q = ws.query_params
    store = s.store
    if s.token is not None:
        given = given_token(ws)
        if not token_matches(given, s.token):
            store = scoped_store_for(s, given)  # a scoped token sees only its namespaces
            if store is None:
                await ws.close(code=1008, reason="missing or invalid token: add ?token=<token>")
                return
    session_id = q.get("session_id") or None
    namespace = q.get("namespace") or None
    after_raw = q.get("after")
    if session_id is not None and not re.match(SESSION_PATTERN, session_id):
        await ws.close(code=1008, reason="session_id may hold letters, digits, '_' and '-' (1-128)")
        return
    if after_raw is not None and not after_raw.isdigit():
        await ws.close(code=1008, reason="after must be a non-negative integer cursor")
        return
    await ws.accept()
    listener = s.hub.add_listener(namespace, session_id)
    if store is not s.store:
        listener.allow = store.allows_event
    try:
        if after_raw is not None:
            last = await _catch_up(ws, store, int(after_raw), namespace, session_id)
        else:
            last = int(await run_in_threadpool(store.latest_cursor))
        await ws.send_json({"type": "connected", "cursor": last, "session_id": session_id, "namespace": namespace})

        async def sender() -> None:
            nonlocal last
            while True:
                batch = await listener.queue.get()
                if listener.overflowed:  # fell behind: drop the queue and replay from the log
                    listener.overflowed = False
                    while not listener.queue.empty():
                        listener.queue.get_nowait()
                    last = await _catch_up(ws, store, last, namespace, session_id)
                    continue
                for e in batch:
                    if e.cursor > last:
                        await ws.send_json(ws_message(e))
                        last = e.cursor

        async def receiver() -> None:
            while True:
                text = await ws.receive_text()
                if text.strip() == "ping":
                    await ws.send_json({"type": "pong"})
                    continue
                try:
                    msg = json.loads(text)
                except ValueError:
                    await ws.send_json({"type": "error", "message": "send JSON messages ('ping' is the one bare word)"})
                    continue
                kind = msg.get("type") if isinstance(msg, dict) else None
                if kind == "ping":
                    await ws.send_json({"type": "pong", "cursor": last})
                elif kind == "human_input":
                    await ws.send_json(await _human_input(s, msg, session_id))
                else:
                    await ws.send_json({"type": "error", "message": (
                        f"unknown message type {kind!r}: send 'ping' or "
                        "{'type': 'human_input', 'task_prompt': ..., 'attachments': [...]}")})

        tasks = [asyncio.ensure_future(sender()), asyncio.ensure_future(receiver())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                exc = t.exception()
                if exc is not None and not isinstance(exc, (WebSocketDisconnect, RuntimeError)):
                    raise exc
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    except WebSocketDisconnect:
        pass
    finally:
        s.hub.remove_listener(listener)
        try:
            await ws.close()
        except Exception:
            pass
