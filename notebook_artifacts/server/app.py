"""``create_app(store)``: the FastAPI app serving one :class:`ArtifactStore` over HTTP and WebSocket.

Error mapping (every route): ``NotFoundError`` -> 404, ``InvalidInputError`` -> 400
(``{"detail": message}``), request validation -> 422 (``detail[{loc, msg, type, input, ctx}]``),
too large -> 413 (nothing stored), no/bad token -> 401, ``IndexUnavailableError`` -> 503.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional, Union

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from .. import __version__
from ..errors import IndexUnavailableError, IntegrityError, InvalidInputError, NotFoundError
from . import routes_apps, routes_platform, routes_sessions, routes_workflow, ws
from ._auth import make_auth_dependency, new_token
from ._common import ServerSettings
from ._hub import EventHub
from ._signing import UrlSigner

__all__ = ["create_app", "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_DATA_URI_MAX_BYTES"]

#: Default upload limit (1 GiB); ``serve --max-upload-bytes`` changes it.
DEFAULT_MAX_UPLOAD_BYTES = 1 << 30
#: Files up to this size get a ``data_uri`` in seed-001 ``mode=meta`` answers.
DEFAULT_DATA_URI_MAX_BYTES = 256 * 1024


class ErrorOut(BaseModel):
    """An error answer: a message saying what went wrong and what to do."""

    detail: Union[str, list[Any]]


_ERRORS: dict[Union[int, str], dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Rejected input (the message says what is allowed)."},
    401: {"model": ErrorOut, "description": "Missing or invalid token."},
    404: {"model": ErrorOut, "description": "No such artifact, version or session."},
    413: {"model": ErrorOut, "description": "Body larger than the server's limit; nothing stored."},
}


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
) -> FastAPI:
    """Build the app over ``store``.

    With ``auth=True`` (default) every route except the signed download and ``/health`` needs
    the token; one is generated when ``token`` is None (read it from ``app.state.token``).
    ``signing_key`` signs download URLs (random per app when None). ``workflows`` maps names
    to callables run by ``POST /api/workflow/execute``; ``app.state.settings.workflows`` is
    the live dict. Uploads are spooled to ``tmp_dir`` (default: the system temp dir).
    """
    if max_upload_bytes < 1:
        raise ValueError("max_upload_bytes must be at least 1")
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
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.ensure_started()
        store.start_indexing()  # drain work other processes left pending, and follow new work
        try:
            yield
        finally:
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
    )
    app.state.settings = settings
    app.state.token = token
    app.add_middleware(_BodyLimit, limit=int(max_upload_bytes) * 4 // 3 + (2 << 20))

    deps = [Depends(make_auth_dependency(token))] if token is not None else []
    for module in (routes_sessions, routes_apps, routes_platform, routes_workflow):
        app.include_router(module.router, dependencies=deps, responses=_ERRORS)
    app.include_router(routes_platform.signed_router, responses=_ERRORS)
    app.include_router(ws.router)

    @app.get("/health", tags=["server"], summary="Liveness check (no token needed)")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(InvalidInputError)
    async def _invalid(request: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(IndexUnavailableError)
    async def _no_index(request: Request, exc: IndexUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(IntegrityError)
    async def _damaged(request: Request, exc: IntegrityError) -> JSONResponse:
        # stored content is missing or damaged: a server fault, said plainly (never wrong bytes)
        return JSONResponse({"detail": str(exc)}, status_code=500)

    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    return app
