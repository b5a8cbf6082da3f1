"""Seed 003, the artifact platform API (also this server's native routes).

Under ``/v1/orgs/{org}/workspaces/{workspace}/namespaces/{namespace}``: namespace
``ORG/WORKSPACE/NS`` in the store, ``thread_id`` is the store's ``session_id``. ``{artifact_id}``
is an ``art_`` id (one version); an id outside the path's namespace is 404.
``workspace_id`` and ``namespace_id`` in answers are the path segments the client used
(``ml``, ``churn``); ``namespace`` holds the full ``ORG/WORKSPACE/NS``. Creates answer 200, as
the seed shows (docs/seed-differences.md).
The signed download route ``/v1/signed/{artifact_id}`` needs no token, only a valid signature.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Optional

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from ..errors import InvalidInputError, NotFoundError
from ..models import Artifact
from ..store import TextContent
from . import _schemas as S
from ._common import Segment, check_scope, platform_namespace, settings_of, split_csv
from ._docs import NOT_RETURNED
from ._downloads import content_response
from ._uploads import multipart_body_schema, read_multipart, store_upload, validation_error

__all__ = ["router", "signed_router"]

class _Seed003Route(APIRoute):
    """Seed 003 documents one error shape, 422 with ``detail[{loc, msg, type, input, ctx}]``:
    a rejected value (``InvalidInputError``, a 400 elsewhere) answers that way here too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses = {k: v for k, v in self.responses.items() if k != 400}
        self.openapi_extra = {**(self.openapi_extra or {}), NOT_RETURNED: [400]}

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def seed003_handler(request: Request) -> Any:
            try:
                return await handler(request)
            except (InvalidInputError, HTTPException) as exc:
                if isinstance(exc, HTTPException) and (exc.status_code != 400 or not isinstance(exc.detail, str)):
                    raise
                msg = exc.detail if isinstance(exc, HTTPException) else str(exc)
                return JSONResponse({"detail": [{"loc": ["body"], "msg": msg, "type": "value_error",
                                                 "input": None, "ctx": {}}]}, status_code=422)

        return seed003_handler


router = APIRouter(prefix="/v1/orgs/{org}/workspaces/{workspace}/namespaces/{namespace}", tags=["platform (seed 003)"],
                   route_class=_Seed003Route)
signed_router = APIRouter(tags=["platform (seed 003)"])

ThreadQuery = Annotated[Optional[str], Query(pattern=r"^[A-Za-z0-9_-]{1,128}$", description="Filter by thread")]
TypesQuery = Annotated[Optional[str], Query(max_length=1000, description="Comma-separated types")]
TagsQuery = Annotated[Optional[str], Query(max_length=1000, description="Comma-separated tags (all must match)")]
LimitQuery = Annotated[int, Query(ge=1, le=200, description="Maximum number of items to return (1-200)")]
CursorQuery = Annotated[Optional[str], Query(max_length=1000, description="Cursor for pagination (from previous response's next_cursor)")]

_BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


def _artifact(store: Any, ns: str, artifact_id: str) -> Artifact:
    a: Artifact = store.get(artifact_id, namespace=ns)
    if not check_scope(a, ns):
        raise NotFoundError(f"no artifact {artifact_id!r} in namespace {ns!r}")
    return a


def _out(a: Artifact) -> dict[str, Any]:
    """The seed-003 wire form: ``workspace_id``/``namespace_id`` as the URL's segments."""
    d = a.to_dict()
    parts = a.namespace.split("/")
    if len(parts) == 3:
        d["workspace_id"], d["namespace_id"] = parts[1], parts[2]
    return d


def _page(page: Any) -> dict[str, Any]:
    return {
        "total": page.total, "has_more": page.has_more, "next_cursor": page.next_cursor,
        "artifacts": [_out(a) for a in page.artifacts],
    }


@router.get("/artifacts", response_model=S.ArtifactListOut, summary="List Artifacts")
def list_artifacts(org: Segment, workspace: Segment, namespace: Segment, request: Request,
                   thread_id: ThreadQuery = None, types: TypesQuery = None, tags: TagsQuery = None,
                   include_expired: bool = False, limit: LimitQuery = 50, cursor: CursorQuery = None) -> dict[str, Any]:
    store = settings_of(request).store
    return _page(store.list(namespace=platform_namespace(org, workspace, namespace), session_id=thread_id,
                            types=split_csv(types), tags=split_csv(tags), include_expired=include_expired,
                            limit=limit, cursor=cursor))


@router.get("/threads/{thread_id}/artifacts", response_model=S.ArtifactListOut, summary="List Thread Artifacts")
def list_thread_artifacts(org: Segment, workspace: Segment, namespace: Segment, thread_id: Segment, request: Request,
                          include_expired: bool = False, limit: LimitQuery = 50, cursor: CursorQuery = None) -> dict[str, Any]:
    store = settings_of(request).store
    return _page(store.list(namespace=platform_namespace(org, workspace, namespace), session_id=thread_id,
                            include_expired=include_expired, limit=limit, cursor=cursor))


def _put_kwargs(body: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "description": body.get("description"),
        "tags": body.get("tags") or (),
        "metadata": body.get("metadata") or None,
        "ttl": body.get("ttl_seconds"),
        "pinned": bool(body.get("is_pinned")),
        "source": body.get("source"),
        "source_tool": body.get("source_tool"),
        "source_execution_id": body.get("source_execution_id"),
        "source_step_id": body.get("source_step_id"),
        "artifact_type": body.get("artifact_type"),
        "mime_type": body.get("mime_type"),
        "file_name": body.get("file_name"),
    }
    return {k: v for k, v in kw.items() if v is not None}


@router.post("/artifacts", response_model=S.ArtifactOut, summary="Create Artifact")
def create_artifact(org: Segment, workspace: Segment, namespace: Segment, body: S.ArtifactCreate,
                    request: Request) -> dict[str, Any]:
    s = settings_of(request)
    data = _text_content(body.content or "", s.max_upload_bytes)
    kwargs = _put_kwargs(body.model_dump())
    a = s.store.put(data, body.name, namespace=platform_namespace(org, workspace, namespace),
                    session_id=body.thread_id, **kwargs)
    return _out(a)


def _text_content(text: str, max_bytes: int) -> TextContent:
    """Text from a client, marked so ``store.put`` stores it as text (``has_file`` false) and
    never reads a server file it happens to name."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a "\ud800" escape in the JSON)
        raise validation_error(["body", "content"], "content is not valid Unicode text", None) from None
    if len(data) > max_bytes:
        raise HTTPException(413, f"content exceeds the server limit of {max_bytes} bytes; nothing was stored")
    return TextContent(text)



_UPLOAD_FIELDS = {
    "name": {"type": "string", "maxLength": 512},
    "description": {"type": "string"},
    "thread_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,128}$"},
    "artifact_type": {"type": "string"},
    "tags": {"type": "string", "description": "Comma-separated tags, or a JSON list."},
    "metadata": {"type": "string", "description": "A JSON object."},
    "ttl_seconds": {"type": "integer", "minimum": 1},
    "is_pinned": {"type": "boolean"},
    "source": {"type": "string"},
    "source_tool": {"type": "string"},
    "source_execution_id": {"type": "string"},
    "source_step_id": {"type": "string"},
}


def _form_value_error(field: str, msg: str, value: Any) -> HTTPException:
    return validation_error(["body", field], msg, value)


def _upload_kwargs(fields: dict[str, str]) -> dict[str, Any]:
    """Parse the optional form fields of ``/artifacts/upload`` (422 on bad values)."""
    body: dict[str, Any] = {k: v for k, v in fields.items() if k in _UPLOAD_FIELDS and v != ""}
    if "tags" in body:
        raw = body["tags"].strip()
        if raw.startswith("["):
            try:
                tags = json.loads(raw)
            except ValueError:
                raise _form_value_error("tags", "tags must be comma-separated or a JSON list of strings", raw) from None
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise _form_value_error("tags", "tags must be a JSON list of strings", raw)
            body["tags"] = tags
        else:
            body["tags"] = split_csv(raw) or []
    if "metadata" in body:
        try:
            meta = json.loads(body["metadata"])
        except ValueError:
            raise _form_value_error("metadata", "metadata must be a JSON object", body["metadata"]) from None
        if not isinstance(meta, dict):
            raise _form_value_error("metadata", "metadata must be a JSON object", body["metadata"])
        body["metadata"] = meta
    if "ttl_seconds" in body:
        try:
            ttl = int(body["ttl_seconds"])
        except ValueError:
            raise _form_value_error("ttl_seconds", "ttl_seconds must be an integer", body["ttl_seconds"]) from None
        if ttl < 1:
            raise _form_value_error("ttl_seconds", "ttl_seconds must be at least 1", ttl)
        body["ttl_seconds"] = ttl
    if "is_pinned" in body:
        body["is_pinned"] = body["is_pinned"].strip().lower() in ("1", "true", "yes", "on")
    if "thread_id" in body:
        if not re.match(r"^[A-Za-z0-9_-]{1,128}$", body["thread_id"]):
            raise _form_value_error("thread_id", "thread_id may hold letters, digits, '_' and '-' (1-128)", body["thread_id"])
    return body


@router.post("/artifacts/upload", response_model=S.ArtifactOut, summary="Create Artifact With File",
             openapi_extra=multipart_body_schema(_UPLOAD_FIELDS))
async def upload_artifact(org: Segment, workspace: Segment, namespace: Segment, request: Request) -> dict[str, Any]:
    """Multipart ``file`` (streamed, limited by the server's max upload size), ``name`` (default:
    the file name) and the optional fields of Create Artifact as form fields."""
    s = settings_of(request)
    up = await read_multipart(request, max_bytes=s.max_upload_bytes, tmp_dir=s.tmp_dir)
    try:
        body = _upload_kwargs(up.fields)
        name = (body.get("name") or up.filename or "").strip()
        if not name:
            raise _form_value_error("name", "give a 'name' field or a file name", None)
        if up.content_type and up.content_type != "application/octet-stream" and "mime_type" not in body:
            body["mime_type"] = up.content_type
        if up.filename and "file_name" not in body:
            body["file_name"] = up.filename.replace("\\", "/").rsplit("/", 1)[-1]
        ns = platform_namespace(org, workspace, namespace)
        kwargs = _put_kwargs(body)
        a: Artifact = await store_upload(
            up, lambda content: s.puts.put(s.store, content, name, namespace=ns, session_id=body.get("thread_id"), **kwargs)
        )
    finally:
        up.cleanup()
    return _out(a)


@router.post("/artifacts/query", response_model=S.QueryResultOut, summary="Query Artifacts")
def query_artifacts(org: Segment, workspace: Segment, namespace: Segment, body: S.QueryRequest,
                    request: Request) -> dict[str, Any]:
    store = settings_of(request).store
    res = store.query(body.query, k=body.k, namespace=platform_namespace(org, workspace, namespace),
                      session_id=body.thread_id, tags=body.tags, mime_types=body.mime_types, where=body.where,
                      mode="dense" if body.mode == "semantic" else body.mode, versions=body.versions,
                      scope=body.scope, context_budget=body.context_budget, progress=False)
    return {
        "results": [{**S.query_hit_out(h), "artifact": _out(h.artifact)} for h in res.results],
        "combined_context": res.combined_context,
        "total_results": res.total_results,
        "query": res.query,
    }


@router.get("/artifacts/{artifact_id}", response_model=S.ArtifactOut, summary="Get Artifact")
def get_artifact(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, request: Request) -> dict[str, Any]:
    store = settings_of(request).store
    return _out(_artifact(store, platform_namespace(org, workspace, namespace), artifact_id))


@router.put("/artifacts/{artifact_id}", response_model=S.ArtifactOut, summary="Update Artifact")
def update_artifact(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, body: S.ArtifactUpdate,
                    request: Request) -> dict[str, Any]:
    s = settings_of(request)
    ns = platform_namespace(org, workspace, namespace)
    a = _artifact(s.store, ns, artifact_id)
    if body.content is not None:
        a = s.store.put(_text_content(body.content, s.max_upload_bytes), a.name, namespace=a.namespace, session_id=a.session_id,
                        tags=a.tags, metadata=a.metadata, description=a.description,
                        artifact_type=a.artifact_type, mime_type=a.mime_type, file_name=a.file_name)
    kw: dict[str, Any] = {}
    if body.tags is not None:
        kw["tags"] = body.tags
    if body.add_tags:
        kw["add_tags"] = body.add_tags
    if body.remove_tags:
        kw["remove_tags"] = body.remove_tags
    if body.metadata is not None:
        kw["metadata"] = body.metadata
    if body.description is not None:
        kw["description"] = body.description
    if body.ttl_seconds is not None:
        kw["ttl"] = body.ttl_seconds
    elif body.clear_ttl:
        kw["ttl"] = None
    if body.is_pinned is not None:
        kw["pinned"] = body.is_pinned
    if kw:
        a = s.store.update(a.artifact_id, **kw)
    return _out(a)


@router.delete("/artifacts/{artifact_id}", status_code=204, response_class=Response, summary="Delete Artifact")
def delete_artifact(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, request: Request,
                    all_versions: Annotated[bool, Query(description="Delete every version of this artifact's lineage.")] = False) -> Response:
    store = settings_of(request).store
    a = _artifact(store, platform_namespace(org, workspace, namespace), artifact_id)
    if all_versions:
        store.delete(a.name, namespace=a.namespace, session_id=a.session_id)
    else:
        store.delete(a.artifact_id, version=a.version)
    return Response(status_code=204)


@router.get("/artifacts/{artifact_id}/versions", response_model=list[S.ArtifactOut], summary="List Artifact Versions")
def list_versions(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, request: Request) -> list[dict[str, Any]]:
    store = settings_of(request).store
    a = _artifact(store, platform_namespace(org, workspace, namespace), artifact_id)
    return [_out(v) for v in store.versions(a.artifact_id)]


@router.get("/artifacts/{artifact_id}/download", response_model=S.DownloadUrlOut, summary="Get artifact download URL")
def download_url(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, request: Request,
                 expires_in: Annotated[int, Query(ge=60, le=86400, description="URL expiration in seconds (1 min to 24 hours)")] = 3600) -> dict[str, Any]:
    s = settings_of(request)
    a = _artifact(s.store, platform_namespace(org, workspace, namespace), artifact_id)
    path, _ = s.signer.sign(a.artifact_id, expires_in)
    return {
        "artifact_id": a.artifact_id,
        "download_url": str(request.base_url).rstrip("/") + path,
        "expires_in": expires_in,
        "file_name": a.file_name or a.name.rsplit("/", 1)[-1],
        "content_type": a.mime_type,
        "file_size_bytes": a.size_bytes,
    }


@router.post("/artifacts/{artifact_id}/promote", response_model=S.PromoteOut, summary="Promote Artifact To Source")
def promote_artifact(org: Segment, workspace: Segment, namespace: Segment, artifact_id: str, request: Request,
                     body: Optional[S.PromoteRequest] = None) -> dict[str, Any]:
    store = settings_of(request).store
    a = _artifact(store, platform_namespace(org, workspace, namespace), artifact_id)
    body = body or S.PromoteRequest()
    if body.version is not None and body.version != a.version:
        a = store.get(a.artifact_id, version=body.version)
    return S.promote_out(store.promote(a.artifact_id, message=body.message or ""))


@signed_router.get("/v1/signed/{artifact_id}", summary="Download through a signed URL (no token needed)",
                   response_class=Response,
                   responses={200: {"description": "The content.", **_BINARY},
                              206: {"description": "Partial content.", **_BINARY},
                              307: {"description": "Redirect to the object store's presigned URL "
                                                   "(servers started with presigned downloads)."},
                              403: {"description": "Invalid or expired signature."}})
def signed_download(artifact_id: str, request: Request,
                    expires: Annotated[int, Query(ge=0, le=2**53)],
                    sig: Annotated[str, Query(min_length=1, max_length=128)],
                    download: Annotated[Optional[bool], Query(description=(
                        "Signed with the URL: false shows safe types inline (active types are "
                        "always attachments here, since no token is sent)."))] = None) -> Response:
    s = settings_of(request)
    reason = s.signer.check(artifact_id, request.query_params.multi_items())
    if reason is not None:
        raise HTTPException(403, reason)
    a: Artifact = s.store.get(artifact_id)
    if a.artifact_id != artifact_id:
        raise NotFoundError(f"no artifact {artifact_id!r}")
    download = True if download is None else download
    if s.presigned_downloads and download:
        left = max(1, int(expires - s.signer.now()))
        url = s.store.presigned_url(a.artifact_id, expires_in=min(left, 7 * 86400))
        if url is not None:  # the object store serves the bytes (and any Range) itself
            return RedirectResponse(url, status_code=307)
    return content_response(lambda: s.store.open(a.artifact_id), a, request, download=download)
