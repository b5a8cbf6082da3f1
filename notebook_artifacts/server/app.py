"""``create_app(store)``: the FastAPI app serving one :class:`ArtifactStore` over HTTP and WebSocket.

Error mapping (every route; the table is :data:`notebook_artifacts.http_errors.ERROR_TABLE`,
which the RemoteStore reads back): ``NotFoundError`` -> 404,
``InvalidInputError`` -> 400 (``{"detail": message}``), request validation -> 422
(``detail[{loc, msg, type, input, ctx}]``), too large -> 413 (nothing stored), no/bad token ->
401, ``IndexUnavailableError`` -> 503, ``IntegrityError`` -> 500, a full disk
(``StorageFullError``, or any ENOSPC / SQLite "disk is full") -> 507. Seed 002's controller
routes answer 400 for every client mistake (``routes_apps``).
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Union

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from .. import __version__
from ..errors import ArtifactError, InvalidInputError, is_disk_full
from ..http_errors import status_and_code
from ..store import ArtifactStore
from . import routes_apps, routes_platform, routes_sessions, routes_store, routes_workflow, ws
from ._auth import make_auth_dependency, new_token
from ._autoclean import DEFAULT_IDLE_SECONDS, run_idle_cleaner
from ._common import ServerSettings
from ._content_policy import SecurityHeaders
from ._docs import add_docs_routes
from ._hosts import HostCheck
from ._hub import EventHub
from ._signing import UrlSigner

__all__ = ["create_app", "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_DATA_URI_MAX_BYTES",
           "add_error_handlers"]

#: Default upload limit (1 GiB); ``serve --max-upload-bytes`` changes it.
DEFAULT_MAX_UPLOAD_BYTES = 1 << 30
#: Files up to this size get a ``data_uri`` in seed-001 ``mode=meta`` answers.
DEFAULT_DATA_URI_MAX_BYTES = 256 * 1024


class ErrorOut(BaseModel):
    """An error answer: a message saying what went wrong and what to do."""

    detail: Union[str, list[Any]]


#: Status of each error the store raises on purpose (most specific class first wins by MRO).
_ERRORS: dict[Union[int, str], dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Rejected input (the message says what is allowed)."},
    401: {"model": ErrorOut, "description": "Missing or invalid token."},
    404: {"model": ErrorOut, "description": "No such artifact, version or session."},
    413: {"model": ErrorOut, "description": "Body larger than the server's limit; nothing stored."},
    507: {"model": ErrorOut, "description": "The server's disk is full; nothing stored."},
}

_DISK_FULL = ("the server's disk is full; nothing was stored. Ask its operator to free space "
              "(delete artifacts, run `notebook-artifacts gc`) and retry")


def add_error_handlers(app: FastAPI) -> None:
    """One handler for the whole error tree, plus disk-full errors raised as bare OSError or
    SQLite 'disk is full' (any other OSError stays a 500)."""

    async def _artifact_error(request: Request, exc: Exception) -> JSONResponse:
        # one table (http_errors.ERROR_TABLE) gives the status and a code a client maps back;
        # IntegrityError (stored content missing or damaged) is a 500 said plainly
        status, code = status_and_code(exc)
        return JSONResponse({"detail": str(exc), "error": code}, status_code=status)

    async def _os_error(request: Request, exc: Exception) -> Response:
        if is_disk_full(exc):
            return JSONResponse({"detail": _DISK_FULL, "error": "storage_full"}, status_code=507)
        raise exc

    app.add_exception_handler(ArtifactError, _artifact_error)
    app.add_exception_handler(OSError, _os_error)
    app.add_exception_handler(sqlite3.OperationalError, _os_error)


class _BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413 (streamed check)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        msg = f"request body exceeds the server limit of {self.limit} bytes; nothing was stored"
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > self.limit:
                await JSONResponse({"detail": msg}, status_code=413)(scope, receive, send)
                return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, msg)
            return message

        await self.app(scope, limited, send)


def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    detail = []
    for err in exc.errors():
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", ""),
                "input": err.get("input"), "ctx": err.get("ctx") or {}}
        detail.append(item)
    payload = {"detail": jsonable_encoder(detail, custom_encoder={Exception: str, bytes: repr})}
    # ASCII-escaped JSON: a rejected input may hold a lone surrogate, which UTF-8 cannot encode
    return Response(json.dumps(payload, ensure_ascii=True), status_code=422,
                    media_type="application/json")


def _clock_of(store: Any) -> Callable[[], float]:
    """Signed URLs expire on the store's clock (the same one TTLs use)."""
    clock = getattr(store, "clock", None)
    return (lambda: float(clock())) if callable(clock) else time.time


def create_app(
    store: Any,
    *,
    token: Optional[str] = None,
    auth: bool = True,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    data_uri_max_bytes: int = DEFAULT_DATA_URI_MAX_BYTES,
    signing_key: Optional[Union[bytes, str]] = None,
    workflows: Optional[dict[str, Callable[..., Any]]] = None,
    tmp_dir: Optional[str] = None,
    presigned_downloads: bool = False,
    allowed_hosts: Optional[list[str]] = None,
    session_idle_seconds: float = DEFAULT_IDLE_SECONDS,
) -> FastAPI:
    """Build the app over ``store``.

    With ``auth=True`` (default) every route except the signed download and ``/health`` needs
    the token; one is generated when ``token`` is None (read it from ``app.state.token``).
    ``signing_key`` signs download URLs (random per app when None). ``workflows`` maps names
    to callables run by ``POST /api/workflow/execute``; ``app.state.settings.workflows`` is
    the live dict. Uploads are spooled to ``tmp_dir`` (default: the system temp dir).
    ``presigned_downloads``: a signed download URL, once checked, redirects (307) to the object
    store's own presigned URL when the content is on object storage, so the bytes do not pass
    through this server (clients must reach the object store's endpoint).
    Without auth, only requests whose ``Host`` is a loopback name or one of ``allowed_hosts``
    are answered (DNS rebinding; ``_hosts.py``).
    With auto-clean on, a seed-001 session idle for ``session_idle_seconds`` has its uploads
    deleted (see ``_autoclean``).
    """
    if max_upload_bytes < 1:
        raise InvalidInputError("max_upload_bytes must be at least 1")
    if session_idle_seconds <= 0:
        raise InvalidInputError("session_idle_seconds must be positive")
    if auth and token is None:
        token = new_token()
    if not auth:
        token = None
    if isinstance(signing_key, str):
        signing_key = signing_key.encode("utf-8")
    hub = EventHub(store)
    settings = ServerSettings(
        store=store, token=token, max_upload_bytes=int(max_upload_bytes),
        data_uri_max_bytes=int(data_uri_max_bytes), signer=UrlSigner(signing_key or os.urandom(32), clock=_clock_of(store)),
        hub=hub, workflows=dict(workflows or {}), tmp_dir=tmp_dir,
        presigned_downloads=bool(presigned_downloads),
        tokens=store.tokens if isinstance(store, ArtifactStore) and auth else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.ensure_started()
        cleaner = asyncio.ensure_future(run_idle_cleaner(store, "default", float(session_idle_seconds),
                                                             _clock_of(store)))
        store.start_indexing()  # drain work other processes left pending, and follow new work
        try:
            yield
        finally:
            cleaner.cancel()
            hub.stop()

    app = FastAPI(
        title="notebook-artifacts",
        version=__version__,
        description=(
            "Versioned artifacts with tags, TTL and semantic query. Native routes follow the artifact "
            "platform API (/v1/...); the session attachment API (/api/uploads, /api/sessions/{id}/...) "
            "and the app/user/session API (/api/sessions/{app}/{user}/{session}/artifacts, /apps/...) "
            "are served over the same store. WebSocket: /ws?token=...&session_id=..."
        ),
        lifespan=lifespan,
        docs_url=None, redoc_url=None, openapi_url=None,  # served below, behind the token
    )
    app.state.settings = settings
    app.state.token = token
    app.add_middleware(_BodyLimit, limit=int(max_upload_bytes) * 4 // 3 + (2 << 20))
    app.add_middleware(SecurityHeaders)
    if token is None:
        app.add_middleware(HostCheck, allowed=list(allowed_hosts or ()))

    deps = [Depends(make_auth_dependency(token))] if token is not None else []
    add_docs_routes(app, deps)
    for module in (routes_sessions, routes_apps, routes_platform, routes_workflow, routes_store):
        app.include_router(module.router, dependencies=deps, responses=_ERRORS)
    app.include_router(routes_platform.signed_router, responses=_ERRORS)
    app.include_router(ws.router)

    @app.get("/health", tags=["server"], summary="Liveness check (no token needed)")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    add_error_handlers(app)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    return app
