"""Seed 001, the session attachment API: session ``S`` is namespace ``default``, session ``S``.

- ``POST /api/uploads/{session_id}`` (multipart ``file``), ``GET /api/uploads/{session_id}``
- ``GET /api/sessions/{session_id}/artifact-events`` (long-poll with filters)
- ``GET /api/sessions/{session_id}/artifacts/{artifact_id}?mode=meta|stream&download=``
- ``GET /api/sessions/{session_id}/download`` (the session as a streamed zip)
- ``GET /api/sessions/{session_id}/manifest`` (``attachments_manifest.json``) and
  ``POST /api/sessions/{session_id}/close`` (session end: auto-clean when enabled)
"""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse
from starlette.responses import Response

from ..errors import NotFoundError
from ..models import Artifact
from ..storage.export import workspace_arcname
from . import _schemas as S
from ._common import (
    DEFAULT_SESSION_EVENT_TYPES,
    SessionId,
    check_scope,
    ext_filters,
    long_poll,
    mime_prefixes,
    seed001_scope,
    settings_of,
    split_csv,
)
from ._content_policy import served_type
from ._downloads import content_disposition, content_response, data_uri, zip_stream_response
from ._uploads import multipart_body_schema, read_multipart, store_upload

__all__ = ["router", "attachment_record"]

_BAD_SESSION = ("no session {sid!r}: session ids hold letters, digits, '_' and '-' (1-128 characters); "
                "check its spelling")


class _Seed001Route(APIRoute):
    """Seed 001's FAQ pairs a misspelt session id with 404 ('Download link 404 | Check
    `session_id` spelling'): a malformed ``session_id`` in the path is 404, not 422."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def seed001_handler(request: Request) -> Any:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                if any(tuple(e.get("loc", ()))[:2] == ("path", "session_id") for e in exc.errors()):
                    sid = request.path_params.get("session_id", "")
                    return JSONResponse({"detail": _BAD_SESSION.format(sid=sid)}, status_code=404)
                raise

        return seed001_handler


router = APIRouter(tags=["sessions (seed 001)"], route_class=_Seed001Route)


def attachment_record(a: Artifact) -> dict[str, Any]:
    return {
        "attachment_id": a.attachment_id,
        "artifact_id": a.artifact_id,
        "name": a.name,
        "file_name": a.file_name,
        "mime": a.mime_type,
        "size": a.size_bytes,
        "version": a.version,
        "sha256": a.sha256,
        "source": a.source,
        "tags": list(a.tags),
        "created_at": a.created_at,
    }


@router.post(
    "/api/uploads/{session_id}",
    response_model=S.UploadOut,
    summary="Upload a file to a session",
    openapi_extra=multipart_body_schema(),
)
async def upload(session_id: SessionId, request: Request) -> dict[str, Any]:
    """Stream a multipart ``file`` into the session; the file name becomes the artifact name."""
    s = settings_of(request)
    ns, sid = seed001_scope(session_id)
    up = await read_multipart(request, max_bytes=s.max_upload_bytes, tmp_dir=s.tmp_dir)
    try:
        name = (up.filename or "").strip()  # as sent: a backslash is not a "/" (validated by the store)
        if not name:
            raise HTTPException(400, "the uploaded file has no file name: send a filename in the 'file' part")
        mime = up.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or mime
        a: Artifact = await store_upload(
            up,
            lambda content: s.puts.put(
                s.store, content, name, namespace=ns, session_id=sid, source="upload", source_tool="upload", mime_type=mime,
                file_name=name.replace("\\", "/").rsplit("/", 1)[-1],
            ),
        )
    finally:
        up.cleanup()
    return {
        "attachment_id": a.attachment_id, "artifact_id": a.artifact_id, "name": a.name,
        "mime": a.mime_type, "mime_type": a.mime_type, "size": a.size_bytes, "version": a.version,
        "sha256": a.sha256, "hash": f"sha256:{a.sha256}", "path": _workspace_path(a),
        "session_id": session_id,
    }


def _workspace_path(a: Artifact) -> str:
    """An upload's path in the seed's session workspace; the name for anything else."""
    return workspace_arcname(a.name, "upload") if a.source == "upload" else a.name


@router.get("/api/uploads/{session_id}", response_model=S.AttachmentListOut, summary="List a session's attachments")
def list_uploads(session_id: SessionId, request: Request) -> dict[str, Any]:
    """The latest version of every artifact in the session (all pages)."""
    s = settings_of(request)
    ns, sid = seed001_scope(session_id)
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = s.store.list(namespace=ns, session_id=sid, limit=200, cursor=cursor)
        out.extend(attachment_record(a) for a in page.artifacts)
        if not page.has_more or not page.next_cursor:
            break
        cursor = page.next_cursor
    return {"session_id": session_id, "attachments": out, "total": len(out)}


@router.get(
    "/api/sessions/{session_id}/artifact-events",
    response_model=S.SessionEventsOut,
    summary="Long-poll the session's artifact events",
)
async def artifact_events(
    session_id: SessionId,
    request: Request,
    after: Annotated[int, Query(ge=0, description="Return events after this cursor.")] = 0,
    wait_seconds: Annotated[float, Query(ge=0, le=60, description="Wait up to this long for an event.")] = 25,
    include_mime: Annotated[Optional[str], Query(max_length=1000, description="Comma-separated MIME filters: 'image/*', 'image/' or 'text/csv' (422 for anything else).")] = None,
    include_ext: Annotated[Optional[str], Query(max_length=1000, description="Comma-separated extensions, e.g. '.csv,.json'.")] = None,
    max_size: Annotated[Optional[int], Query(ge=0, description="Only artifacts up to this many bytes.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    types: Annotated[Optional[str], Query(max_length=200, description="Comma-separated event types, or 'all' (default: created,version_created).")] = None,
) -> dict[str, Any]:
    ns, sid = seed001_scope(session_id)
    type_list = split_csv(types)
    if type_list == ["all"]:
        type_list = None
    elif type_list is None:
        type_list = list(DEFAULT_SESSION_EVENT_TYPES)
    page = await long_poll(
        request, namespace=ns, session_id=sid, after=after, wait_seconds=wait_seconds,
        include_mime=mime_prefixes(include_mime), include_ext=ext_filters(include_ext), max_size=max_size,
        limit=limit, types=type_list,
    )
    return {
        "events": [e.to_seed001() for e in page.events],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "timed_out": page.timed_out,
        "gap": page.gap,
    }


def _session_artifact(store: Any, session_id: str, artifact_id: str) -> Artifact:
    ns, sid = seed001_scope(session_id)
    a: Artifact = store.get(artifact_id, namespace=ns, session_id=sid)
    if not check_scope(a, ns, sid):
        raise NotFoundError(f"no artifact {artifact_id!r} in session {session_id!r}")
    return a


@router.get(
    "/api/sessions/{session_id}/artifacts/{artifact_id}",
    response_model=S.AttachmentMetaOut,
    summary="Download one artifact (meta or stream)",
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
              "description": "JSON metadata (mode=meta) or the content (mode=stream)."},
        206: {"description": "Partial content (mode=stream with a Range header).",
              "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        416: {"description": "Range not satisfiable."},
    },
)
def download_artifact(
    session_id: SessionId,
    artifact_id: str,
    request: Request,
    mode: Literal["meta", "stream"] = "meta",
    download: Annotated[Optional[bool], Query(description=(
        "true: send as an attachment. false: show inline; HTML, SVG and other active types are "
        "shown inline only when the token came in the Authorization header."))] = None,
) -> Any:
    """``artifact_id`` may be an ``art_`` or ``att_`` id or the artifact's name."""
    s = settings_of(request)
    a = _session_artifact(s.store, session_id, artifact_id)
    if mode == "stream":
        return content_response(lambda: s.store.open(a.artifact_id), a, request, download=download)
    meta: dict[str, Any] = {
        "artifact_id": a.artifact_id, "attachment_id": a.attachment_id, "session_id": a.session_id,
        "name": a.name, "path": _workspace_path(a), "file_name": a.file_name, "mime": a.mime_type,
        "mime_type": a.mime_type, "size": a.size_bytes, "hash": f"sha256:{a.sha256}", "sha256": a.sha256,
        "version": a.version,
        "created_at": a.created_at, "tags": list(a.tags), "metadata": dict(a.metadata),
        "download_url": f"/api/sessions/{session_id}/artifacts/{a.artifact_id}?mode=stream&download=true",
        "data_uri": None,
    }
    if a.size_bytes <= s.data_uri_max_bytes:
        meta["data_uri"] = data_uri(s.store.read_bytes(a.artifact_id), served_type(a))
    if download:
        return JSONResponse(meta, headers={"Content-Disposition": content_disposition(f"{a.name}.json")})
    return meta


@router.get(
    "/api/sessions/{session_id}/download",
    summary="Download the whole session as a zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                     "description": ("A zip of the session laid out as its workspace, streamed: uploads "
                                     "under code_workspace/attachments/ beside attachments_manifest.json, "
                                     "other artifacts under code_workspace/, and _export_index.json.")}},
)
def download_session(session_id: SessionId, request: Request) -> Response:
    s = settings_of(request)
    ns, sid = seed001_scope(session_id)
    page = s.store.list(namespace=ns, session_id=sid, limit=1)
    if page.total == 0 and not page.artifacts:
        raise NotFoundError(f"session {session_id!r} has no artifacts (check the id, or it was purged)")
    return zip_stream_response(
        lambda fileobj: _export(s.store, fileobj, ns, sid), f"{session_id}.zip"
    )


def _export(store: Any, fileobj: Any, ns: str, sid: str) -> None:
    """The session as seed 001's ``WareHouse/<session>/`` directory would be zipped."""
    store.export_zip(fileobj, namespace=ns, session_id=sid, workspace_layout=True)


@router.get("/api/sessions/{session_id}/manifest", response_model=S.ManifestOut,
            summary="The session's attachments manifest")
def manifest(session_id: SessionId, request: Request) -> dict[str, Any]:
    ns, sid = seed001_scope(session_id)
    return settings_of(request).store.manifest(sid, namespace=ns)


@router.post("/api/sessions/{session_id}/close", response_model=S.CloseSessionOut,
             summary="Mark the session complete (deletes unpinned attachments when auto-clean is on)")
def close_session(session_id: SessionId, request: Request,
                  clean: Annotated[Optional[bool], Query(description="Override MAC_AUTO_CLEAN_ATTACHMENTS / NOTEBOOK_ARTIFACTS_AUTO_CLEAN.")] = None) -> dict[str, Any]:
    ns, sid = seed001_scope(session_id)
    return settings_of(request).store.close_session(sid, namespace=ns, clean=clean)
