"""``POST /api/workflow/execute`` (seed 001, 1.3): run a workflow registered from Python.

A workflow is a callable ``fn(ctx: WorkflowContext)`` (plain or ``async``) registered with
``create_app(store, workflows={"name": fn})``, ``handle.workflows["name"] = fn`` or
``notebook-artifacts serve --workflow module:function``. The seed's body is ``task_prompt`` +
``attachments``; without a ``session_id`` a new session is created and named in the answer. It gets the
prompt and the attachment records; artifacts written through ``ctx.put`` carry the session and
``source_execution_id``. The answer names the execution and the artifacts produced.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidInputError, NotFoundError
from ..models import Artifact
from . import _schemas as S
from ._autoclean import clean_finished_session
from ._common import ServerSettings, check_scope, seed001_scope, settings_of
from ._uploads import validation_error

__all__ = ["router", "WorkflowContext", "run_workflow", "load_workflow"]

log = logging.getLogger("notebook_artifacts.server")
router = APIRouter(tags=["workflow (seed 001)"])


@dataclass
class WorkflowContext:
    """What a workflow receives: the request, its attachments, and a ``put`` that records outputs."""

    execution_id: str
    workflow: str
    session_id: str
    namespace: str
    task_prompt: str
    attachments: list[Artifact]
    parameters: dict[str, Any]
    store: Any
    produced: list[Artifact] = field(default_factory=list)

    def put(self, src: Any, name: Optional[str] = None, **kwargs: Any) -> Artifact:
        """``store.put`` into this session, tagged with this execution's id."""
        kwargs.setdefault("namespace", self.namespace)
        kwargs.setdefault("session_id", self.session_id)
        kwargs.setdefault("source_execution_id", self.execution_id)
        kwargs.setdefault("source_tool", self.workflow)
        a: Artifact = self.store.put(src, name, **kwargs)
        self.produced.append(a)
        return a

    def read_text(self, attachment: Artifact) -> str:
        return self.store.read_text(attachment.artifact_id)

    def read_bytes(self, attachment: Artifact) -> bytes:
        return self.store.read_bytes(attachment.artifact_id)


def load_workflow(spec: str) -> tuple[str, Any]:
    """``[name=]module:function`` -> (name, callable); the name defaults to the function's.

    Raises :class:`InvalidInputError` saying what is wrong (bad form, module or attribute)."""
    name, eq, target = spec.partition("=")
    if not eq:
        name, target = "", spec
    module_name, colon, attr = target.partition(":")
    if not colon or not module_name or not attr:
        raise InvalidInputError(f"workflow {spec!r}: write it as module:function or name=module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"workflow {spec!r}: cannot import {module_name!r} ({exc}); "
                                "is it on PYTHONPATH?") from None
    fn = module
    for part in attr.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise InvalidInputError(f"workflow {spec!r}: {module_name!r} has no {attr!r}")
    if not callable(fn):
        raise InvalidInputError(f"workflow {spec!r}: {attr!r} is not callable")
    return (name.strip() or attr.rsplit(".", 1)[-1]), fn


def _pick(workflows: dict[str, Any], name: Optional[str]) -> tuple[str, Any]:
    if name is not None:
        if name not in workflows:
            raise HTTPException(404, f"no workflow named {name!r}; registered: {sorted(workflows) or 'none'}")
        return name, workflows[name]
    if len(workflows) == 1:
        return next(iter(workflows.items()))
    if not workflows:
        raise HTTPException(404, "no workflow is registered: pass workflows={'name': fn} to create_app "
                                 "(or register one from the kernel after %artifact serve)")
    raise validation_error(["body", "workflow"], f"name one of {sorted(workflows)}", None, "missing")


def _produced_record(a: Artifact) -> dict[str, Any]:
    return {"artifact_id": a.artifact_id, "attachment_id": a.attachment_id, "name": a.name,
            "version": a.version, "mime": a.mime_type, "size": a.size_bytes,
            "source_execution_id": a.source_execution_id}


@router.post("/api/workflow/execute", response_model=S.WorkflowResultOut, summary="Run a registered workflow")
async def execute(body: S.WorkflowRequest, request: Request) -> dict[str, Any]:
    """Runs the workflow to completion. A workflow that raises answers ``status: failed`` with
    the error message (HTTP 200: the request itself was fine). Without ``session_id`` the run
    gets a new session, named in the answer."""
    return await run_workflow(settings_of(request), body)


async def run_workflow(s: ServerSettings, body: S.WorkflowRequest) -> dict[str, Any]:
    """Run ``body`` (the REST route and the WebSocket ``human_input`` message share this)."""
    name, fn = _pick(s.workflows, body.workflow)
    if body.session_id is None:
        body = body.model_copy(update={"session_id": "sess_" + uuid.uuid4().hex[:20]})
    assert body.session_id is not None
    ns, sid = seed001_scope(body.session_id)

    def resolve() -> list[Artifact]:
        out = []
        for ref in body.attachments:
            a = s.store.get(ref, namespace=ns, session_id=sid)
            if not check_scope(a, ns, sid):
                raise NotFoundError(f"attachment {ref!r} is not in session {body.session_id!r}")
            out.append(a)
        return out

    attachments = await run_in_threadpool(resolve)
    ctx = WorkflowContext(
        execution_id="exec_" + uuid.uuid4().hex[:20], workflow=name, session_id=body.session_id,
        namespace=ns, task_prompt=body.task_prompt, attachments=attachments, parameters=body.parameters,
        store=s.store,
    )
    started = time.time()
    status, result, error = "completed", None, None
    try:
        if inspect.iscoroutinefunction(fn):
            result = await fn(ctx)
        else:
            result = await run_in_threadpool(fn, ctx)
            if inspect.isawaitable(result):
                result = await result
    except Exception as exc:  # the workflow's own failure, reported to the caller
        log.warning("workflow %s (%s) failed: %s", name, ctx.execution_id, exc)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    await run_in_threadpool(clean_finished_session, s.store, ns, body.session_id)  # when auto-clean is on
    produced = list(ctx.produced)
    if isinstance(result, Artifact) and all(p.artifact_id != result.artifact_id for p in produced):
        produced.append(result)
    if isinstance(result, Artifact):
        result = {"artifact_id": result.artifact_id, "name": result.name}
    try:
        result = jsonable_encoder(result)
    except Exception:
        result = repr(result)
    return {
        "execution_id": ctx.execution_id, "session_id": body.session_id, "workflow": name,
        "status": status, "result": result, "error": error,
        "artifacts": [_produced_record(a) for a in produced],
        "started_at": started, "finished_at": time.time(),
    }
