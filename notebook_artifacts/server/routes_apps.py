"""Seed 002, the app/user/session artifact API, in both of its route families.

Scope: ``APP/USER`` namespace, session ``SESSION``; a name starting ``user:`` is user-scoped
(namespace ``APP/USER``, no session) and shows in every session's listing of that user.
Version numbers are the store's (counting from 1).

- ``/api/sessions/{app}/{user}/{session}/artifacts``: list names, load (``?version=``),
  ``/versions/{version}``, delete (the controller routes). As the seed's handlers do, these
  answer 400 for every client mistake: a bad parameter, and a missing artifact or version
  (404 and 422 elsewhere in this server). ``version`` 0 is Go's unset value: the latest.
- ``/apps/{app}/users/{user}/sessions/{session}/artifacts``: list, save (``POST`` base64
  ``inline_data``), load, ``/versions``, ``/versions/metadata``, ``/versions/{v}``,
  ``/versions/{v}/metadata``, delete (the web-server routes).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ..errors import NotFoundError
from ..models import Artifact
from . import _schemas as S
from ._docs import NOT_RETURNED
from ._common import Segment, SessionId, app_scope, check_scope, settings_of
from ._uploads import too_large, validation_error

__all__ = ["router"]

router = APIRouter()
GO_TAG = ["app sessions (seed 002, controller)"]
WEB_TAG = ["app sessions (seed 002, web server)"]

_NULL = {200: {"description": "Deleted (the body is JSON null).",
               "content": {"application/json": {"schema": {"type": "null"}}}}}

Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="Version number (from 1).")]
VersionQuery = Annotated[Optional[int], Query(ge=1, le=2**31 - 1, description="Version (default: latest).")]
GoVersion = Annotated[int, Path(ge=0, le=2**31 - 1, description="Version number (from 1; 0 means the latest).")]
GoVersionQuery = Annotated[Optional[int], Query(ge=0, le=2**31 - 1, description="Version (omitted or 0: latest).")]

_GO_400 = ("Missing or invalid input: a malformed parameter (e.g. version=abc), or no such artifact "
           "or version. Seed 002 answers 400 for both, so this API does too (the message says which).")


def _sentence(errors: Any) -> str:
    """Request validation errors as one line: ``path.version: Input should be a valid integer``."""
    parts = []
    for e in errors:
        loc = ".".join(str(x) for x in e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg', '')} (got {e.get('input')!r})")
    return "invalid input: " + "; ".join(parts)


class _Seed002Route(APIRoute):
    """A controller route: every client mistake is a 400 with a string ``detail`` (seed 002:
    '400 Bad Request for missing or invalid inputs'); the OpenAPI lists 400, not 404/422."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses = {k: v for k, v in self.responses.items() if k != 404}  # never a shared dict
        self.responses[400] = {**self.responses.get(400, {}), "description": _GO_400}
        self.openapi_extra = {**(self.openapi_extra or {}), NOT_RETURNED: [404, 422]}

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def seed002_handler(request: Request) -> Any:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _sentence(exc.errors())}, status_code=400)
            except NotFoundError as exc:
                return JSONResponse({"detail": str(exc)}, status_code=400)

        return seed002_handler


go_router = APIRouter(route_class=_Seed002Route)


def _names(store: Any, app: str, user: str, session: str) -> list[str]:
    ns, sid = app_scope(app, user, session)
    names = list(store.names(ns, sid))
    names += [n for n in store.names(ns, None) if n.startswith("user:")]
    return sorted(set(names))


def _get(store: Any, app: str, user: str, session: str, name: str, version: Optional[int] = None) -> Artifact:
    ns, sid = app_scope(app, user, session, name)
    a: Artifact = store.get(name, namespace=ns, session_id=sid, version=version)
    if not check_scope(a, ns, sid):
        raise NotFoundError(f"no artifact {name!r} in {ns} session {sid}")
    return a


def _loaded(store: Any, a: Artifact) -> dict[str, Any]:
    data = store.read_bytes(a.artifact_id)
    return {
        "name": a.name, "version": a.version, "size": a.size_bytes, "mime_type": a.mime_type,
        "data": base64.b64encode(data).decode("ascii"),
    }


def _part(store: Any, a: Artifact) -> dict[str, Any]:
    data = store.read_bytes(a.artifact_id)
    return {"inline_data": {"mime_type": a.mime_type, "data": base64.b64encode(data).decode("ascii")}}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _version_record(app: str, user: str, session: str, a: Artifact) -> dict[str, Any]:
    sess = "" if a.session_id is None else f"/sessions/{session}"
    return {
        "version": a.version,
        "canonical_uri": f"artifact://apps/{app}/users/{user}{sess}/artifacts/{a.name}/versions/{a.version}",
        "custom_metadata": dict(a.metadata),
        "create_time": _epoch(a.created_at),
        "mime_type": a.mime_type,
    }


# ---------------------------------------------------------------- controller routes

GO = "/api/sessions/{app_name}/{user_id}/{session_id}/artifacts"


@go_router.get(GO, response_model=list[str], tags=GO_TAG, summary="List artifact names in a session")
def go_list(app_name: Segment, user_id: Segment, session_id: SessionId, request: Request) -> list[str]:
    return _names(settings_of(request).store, app_name, user_id, session_id)


@go_router.get(GO + "/{artifact_name}/versions/{version}", response_model=S.LoadedArtifactOut, tags=GO_TAG,
            summary="Load one version of an artifact")
def go_load_version(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
                    version: GoVersion, request: Request) -> dict[str, Any]:
    store = settings_of(request).store
    return _loaded(store, _get(store, app_name, user_id, session_id, artifact_name, version or None))


@go_router.get(GO + "/{artifact_name}", response_model=S.LoadedArtifactOut, tags=GO_TAG,
            summary="Load an artifact (latest, or ?version=)")
def go_load(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
            request: Request, version: GoVersionQuery = None) -> dict[str, Any]:
    store = settings_of(request).store
    return _loaded(store, _get(store, app_name, user_id, session_id, artifact_name, version or None))


@go_router.delete(GO + "/{artifact_name}", response_model=None, tags=GO_TAG, responses=_NULL, summary="Delete an artifact (all versions)")
def go_delete(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
              request: Request) -> None:
    store = settings_of(request).store
    a = _get(store, app_name, user_id, session_id, artifact_name)
    store.delete(a.name, namespace=a.namespace, session_id=a.session_id)
    return None


# ---------------------------------------------------------------- web-server routes

WEB = "/apps/{app_name}/users/{user_id}/sessions/{session_id}/artifacts"


@router.get(WEB, response_model=list[str], tags=WEB_TAG, summary="List artifact names")
def web_list(app_name: Segment, user_id: Segment, session_id: SessionId, request: Request) -> list[str]:
    return _names(settings_of(request).store, app_name, user_id, session_id)


def _decode(part: S.PartModel, max_bytes: int) -> tuple[bytes, str]:
    if part.inline_data is not None:
        raw = part.inline_data.data.strip().replace("-", "+").replace("_", "/")
        raw += "=" * (-len(raw) % 4)
        if len(raw) * 3 // 4 > max_bytes + 3:
            raise too_large(max_bytes)
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise validation_error(["body", "artifact", "inline_data", "data"], "data is not valid base64",
                                   part.inline_data.data[:100]) from None
        return data, part.inline_data.mime_type or "application/octet-stream"
    if part.text is not None:
        try:
            data = part.text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a "\ud800" escape in the JSON)
            raise validation_error(["body", "artifact", "text"], "text is not valid Unicode",
                                   None) from None
        return data, "text/plain"
    raise validation_error(["body", "artifact"], "the part needs 'inline_data' {mime_type, data} or 'text'",
                           None, "missing")


@router.post(WEB, response_model=S.ArtifactVersionOut, tags=WEB_TAG, summary="Save an artifact (next version)")
def web_save(app_name: Segment, user_id: Segment, session_id: SessionId, body: S.SaveArtifactRequest,
             request: Request) -> dict[str, Any]:
    s = settings_of(request)
    data, mime = _decode(body.artifact, s.max_upload_bytes)
    if len(data) > s.max_upload_bytes:
        raise too_large(s.max_upload_bytes)
    ns, sid = app_scope(app_name, user_id, session_id, body.filename)
    a = s.store.put(data, body.filename, namespace=ns, session_id=sid, metadata=body.custom_metadata or {},
                    mime_type=mime, file_name=body.filename.rsplit("/", 1)[-1].removeprefix("user:"))
    return _version_record(app_name, user_id, session_id, a)


@router.get(WEB + "/{artifact_name}/versions/metadata", response_model=list[S.ArtifactVersionOut], tags=WEB_TAG,
            summary="Metadata of every version")
def web_versions_metadata(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
                          request: Request) -> list[dict[str, Any]]:
    store = settings_of(request).store
    a = _get(store, app_name, user_id, session_id, artifact_name)
    return [_version_record(app_name, user_id, session_id, v)
            for v in store.versions(a.name, namespace=a.namespace, session_id=a.session_id)]


@router.get(WEB + "/{artifact_name}/versions/{version}/metadata", response_model=S.ArtifactVersionOut,
            tags=WEB_TAG, summary="Metadata of one version")
def web_version_metadata(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
                         version: Version, request: Request) -> dict[str, Any]:
    store = settings_of(request).store
    return _version_record(app_name, user_id, session_id,
                           _get(store, app_name, user_id, session_id, artifact_name, version))


@router.get(WEB + "/{artifact_name}/versions", response_model=list[int], tags=WEB_TAG,
            summary="Version numbers of an artifact")
def web_versions(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
                 request: Request) -> list[int]:
    store = settings_of(request).store
    a = _get(store, app_name, user_id, session_id, artifact_name)
    return sorted(v.version for v in store.versions(a.name, namespace=a.namespace, session_id=a.session_id))


@router.get(WEB + "/{artifact_name}/versions/{version}", response_model=S.PartModel, tags=WEB_TAG,
            response_model_exclude_none=True, summary="Load one version")
def web_load_version(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
                     version: Version, request: Request) -> dict[str, Any]:
    store = settings_of(request).store
    return _part(store, _get(store, app_name, user_id, session_id, artifact_name, version))


@router.get(WEB + "/{artifact_name}", response_model=S.PartModel, tags=WEB_TAG,
            response_model_exclude_none=True, summary="Load an artifact (latest, or ?version=)")
def web_load(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str, request: Request,
             version: VersionQuery = None) -> dict[str, Any]:
    store = settings_of(request).store
    return _part(store, _get(store, app_name, user_id, session_id, artifact_name, version))


@router.delete(WEB + "/{artifact_name}", response_model=None, tags=WEB_TAG, responses=_NULL, summary="Delete an artifact")
def web_delete(app_name: Segment, user_id: Segment, session_id: SessionId, artifact_name: str,
               request: Request) -> None:
    store = settings_of(request).store
    a = _get(store, app_name, user_id, session_id, artifact_name)
    store.delete(a.name, namespace=a.namespace, session_id=a.session_id)
    return None


router.include_router(go_router)
