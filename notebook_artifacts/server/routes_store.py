"""Native store routes ``/v1/store/...``: the public Python API of the store, one route per method.

:class:`~notebook_artifacts.remote.RemoteStore` speaks only this family. Refs travel as the
``ref`` query parameter (an ``art_``/``att_`` id or a name resolved in ``namespace`` and
``session_id``), so names with slashes need no escaping. Arguments are checked by the store
itself, so a bad value gets the same message here as in Python (400, ``error: invalid_input``).
Content goes both ways as a stream: uploads are multipart (spooled to a temp file, limited by
the server's upload limit), downloads honour ``Range``.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional, Union

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from ..errors import InvalidInputError
from .._frames import ItemReader, item_frames
from ..store import PUT_KEYWORDS, TextContent
from ..models import Artifact, FsckReport, GcReport, QueryResult, Source
from . import _schemas as S
from ._common import long_poll, settings_of
from ._content_policy import served_type
from ._downloads import content_disposition, content_response
from ._uploads import multipart_body_schema, read_multipart, store_upload

__all__ = ["router", "WAIT_INDEXED_MAX_SECONDS", "PUT_OPTIONS", "SMALL_CONTENT_BYTES"]

router = APIRouter(prefix="/v1/store", tags=["store (native)"])

#: Content up to this size is answered in one piece rather than streamed.
SMALL_CONTENT_BYTES = 256 * 1024
#: One ``wait-indexed`` request waits at most this long; clients ask again.
WAIT_INDEXED_MAX_SECONDS = 20.0

#: Keywords of ``store.put`` an upload may carry in its ``options`` field.
PUT_OPTIONS = ("namespace", "session_id", "tags", "metadata", "description", "ttl", "pinned",
               "source", "source_tool", "source_execution_id", "source_step_id", "artifact_type",
               "mime_type", "file_name", "index", "workspace_path")

Ref = Annotated[str, Query(min_length=1, max_length=4096, description="An art_/att_ id, or a name.")]
Version = Annotated[Optional[str], Query(max_length=32, description="A version number (default: the latest live one).")]
Namespace = Annotated[str, Query(max_length=1024, description="Namespace a name resolves in.")]
OptNamespace = Annotated[Optional[str], Query(max_length=1024, description="Namespace filter (default: any).")]
SessionQ = Annotated[Optional[str], Query(max_length=128, description="Session id (default: none / any).")]
ListQ = Annotated[Optional[list[str]], Query(description="Repeat the parameter for several values.")]

_BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


class EventPageOut(BaseModel):
    events: list[dict[str, Any]]
    next_cursor: int
    has_more: bool
    timed_out: bool
    gap: bool = False


class PageOut(BaseModel):
    artifacts: list[S.ArtifactOut]  # type: ignore[valid-type]
    total: int
    has_more: bool
    next_cursor: Optional[str] = None


class UpdateIn(BaseModel):
    """Arguments of ``store.update``; leave ``ttl`` out to keep it, send ``null`` to clear it."""

    model_config = ConfigDict(extra="forbid")
    ref: str
    version: Any = None
    namespace: Any = "default"
    session_id: Any = None
    tags: Any = None
    add_tags: Any = ()
    remove_tags: Any = ()
    metadata: Any = None
    description: Any = None
    ttl: Any = Field(None, description="Seconds or '7d'; null clears; omit to keep.")
    pinned: Any = None


class QueryIn(BaseModel):
    """Arguments of ``store.query``."""

    model_config = ConfigDict(extra="forbid")
    text: Any
    k: Any = 10
    namespace: Any = None
    session_id: Any = None
    tags: Any = None
    mime_types: Any = None
    where: Any = None
    mode: Any = "hybrid"
    versions: Any = "latest"
    scope: Any = "artifacts"
    context_budget: Any = 6000
    min_score: Any = None


class RefIn(BaseModel):
    """A ref and where it resolves (``promote`` adds ``version`` and ``message``)."""

    model_config = ConfigDict(extra="forbid")
    ref: Any = None
    version: Any = None
    namespace: Any = "default"
    session_id: Any = None
    message: Any = ""


def _store(request: Request) -> Any:
    return settings_of(request).store


class _NamedReader:
    """A read-only binary stream with the client's file name (``put`` suggests names from it)."""

    def __init__(self, f: Any, name: Optional[str]) -> None:
        self._f = f
        if name:
            self.name = name

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)


def _options_field(fields: Any) -> Any:
    """The parsed ``options`` field of an upload (``{}`` when absent)."""
    try:
        return json.loads(fields.get("options") or "{}")
    except ValueError:
        raise InvalidInputError("the 'options' field must be a JSON object") from None


def _put_source(kind: str, content: Union[bytes, Path], suggested: Optional[str]) -> Any:
    """What ``store.put`` gets for an upload of ``kind`` (text, json or stream) whose file is
    ``content`` (its bytes, or the path of its temp file)."""
    if kind == "stream":
        f = io.BytesIO(content) if isinstance(content, bytes) else open(content, "rb")
        return _NamedReader(f, suggested)
    return _decoded(kind, content if isinstance(content, bytes) else content.read_bytes())


def _decoded(kind: str, data: bytes) -> Any:
    """The content of a ``json`` or ``text`` upload as ``put`` takes it."""
    if kind == "json":
        try:
            return json.loads(data)
        except ValueError as exc:
            raise InvalidInputError(f"the JSON body is not valid JSON: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError("text uploads must be UTF-8") from None
    # text from a client is text: never opened as a path on the server, never refused as one
    return TextContent(text)


def _register(store: Any, path: str, name: Optional[str], suggested: Any, opts: dict[str, Any]) -> Artifact:
    """``store.register_file`` of an upload, named as the client's file was."""
    base = os.path.basename(suggested) if isinstance(suggested, str) and suggested else "upload"
    with tempfile.TemporaryDirectory(prefix="na-register-", dir=os.path.dirname(path)) as d:
        named = os.path.join(d, base)
        os.link(path, named)
        return store.register_file(named, name, **opts)


@router.post("/artifacts", response_model=S.ArtifactOut, status_code=201, summary="Put",
             openapi_extra=multipart_body_schema({
                 "options": {"type": "string", "description": (
                     "JSON object: name, kind (stream|text|json), suggested_name, and the "
                     "keywords of put: " + ", ".join(PUT_OPTIONS))}}))
async def put(request: Request) -> dict[str, Any]:
    """``store.put``: a multipart ``file`` (streamed) and an ``options`` JSON field."""
    s = settings_of(request)
    up = await read_multipart(request, max_bytes=s.max_upload_bytes, tmp_dir=s.tmp_dir)
    try:
        opts = _options_field(up.fields)
        if not isinstance(opts, dict):
            raise InvalidInputError("the 'options' field must be a JSON object")
        kind = opts.pop("kind", "stream")
        if kind not in ("stream", "text", "json"):
            raise InvalidInputError(f"invalid kind {kind!r}: one of stream, text, json")
        name = opts.pop("name", None)
        suggested = opts.pop("suggested_name", None)
        unknown = sorted(set(opts) - set(PUT_OPTIONS))
        if unknown:
            raise InvalidInputError(f"unknown put option {unknown[0]!r}: one of {', '.join(PUT_OPTIONS)}")

        def do_put(content: Union[bytes, Path]) -> Artifact:
            if "workspace_path" in opts:  # register_file: recorded with the client's path
                return _register(s.store, up.to_file(s.tmp_dir), name, suggested, opts)
            src = _put_source(kind, content, suggested if isinstance(suggested, str) else None)
            try:
                return s.puts.put(s.store, src, name, **opts)
            finally:
                if isinstance(src, _NamedReader):
                    src._f.close()

        a: Artifact = await store_upload(up, do_put)
    finally:
        up.cleanup()
    return a.to_dict()


@router.post("/artifacts/many", response_model=list[S.ArtifactOut], status_code=201,
             summary="Put many",
             openapi_extra=multipart_body_schema({
                 "options": {"type": "string", "description": (
                     "JSON object: common (put's keywords for every item) and items (a list: "
                     "kind (stream|text|json), name, suggested_name, options: the item's own "
                     "keywords). The file part holds the items' contents one after another, "
                     "each as frames <8-byte big-endian length><bytes> ended by an empty frame.")}}))
async def put_many(request: Request) -> list[dict[str, Any]]:
    """``store.put_many``: several items in one request, stored in one transaction (all of
    them or none); the records in order."""
    s = settings_of(request)
    up = await read_multipart(request, max_bytes=s.max_upload_bytes, tmp_dir=s.tmp_dir)
    try:
        opts = _options_field(up.fields)
        common, specs = (opts.get("common") or {}, opts.get("items")) if isinstance(opts, dict) \
            else (None, None)
        if not isinstance(common, dict) or not isinstance(specs, list) \
                or not all(isinstance(x, dict) for x in specs):
            raise InvalidInputError("the 'options' field must be a JSON object with 'common' "
                                    "(an object) and 'items' (a list of objects)")
        unknown = sorted(set(common) - set(PUT_KEYWORDS))
        if unknown:
            raise InvalidInputError(f"unknown put option {unknown[0]!r}: one of {', '.join(PUT_KEYWORDS)}")

        def do_put(body: Union[bytes, Path]) -> list[Artifact]:
            frames = item_frames(body, len(specs))
            items = []
            for i, (spec, item_frames_) in enumerate(zip(specs, frames)):
                kind = spec.get("kind", "stream")
                own = spec.get("options") or {}
                if kind not in ("stream", "text", "json") or not isinstance(own, dict):
                    raise InvalidInputError(f"put_many item {i}: invalid kind {kind!r} or options")
                suggested = spec.get("suggested_name")
                reader = ItemReader(body, item_frames_, suggested if isinstance(suggested, str) else None)
                if kind == "stream":
                    src: Any = reader
                else:
                    src = _decoded(kind, reader.read())
                items.append(dict(own, src=src, name=spec.get("name")))
            return s.store.put_many(items, **common)

        arts: list[Artifact] = await store_upload(up, do_put)
    finally:
        up.cleanup()
    return [a.to_dict() for a in arts]


@router.get("/artifact", response_model=S.ArtifactOut, summary="Get")
def get(request: Request, ref: Ref, version: Version = None, namespace: Namespace = "default",
        session_id: SessionQ = None) -> dict[str, Any]:
    return _store(request).get(ref, version, namespace=namespace, session_id=session_id).to_dict()


@router.get("/content", summary="Open (streamed content)", response_class=Response,
            responses={200: {"description": "The content.", **_BINARY},
                       206: {"description": "Partial content.", **_BINARY}})
def content(request: Request, ref: Ref, version: Version = None, namespace: Namespace = "default",
            session_id: SessionQ = None) -> Response:
    """The content of one version, streamed; headers name its ``X-Artifact-Id`` and type."""
    store = _store(request)
    a: Artifact = store.get(ref, version, namespace=namespace, session_id=session_id)
    rng = request.headers.get("range")
    if a.size_bytes <= SMALL_CONTENT_BYTES and not rng:
        # one response write: a streamed small body (headers, then data) waits on delayed ACKs;
        # the same content policy as every download (_content_policy.py): an attachment
        return Response(store.read_bytes(a.artifact_id), media_type=served_type(a), headers={
            "X-Artifact-Id": a.artifact_id, "ETag": f'"{a.sha256}"', "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition(a.file_name or a.name.rsplit("/", 1)[-1])})
    resp = content_response(lambda: store.open(a.artifact_id), a, request, download=True)
    resp.headers["X-Artifact-Id"] = a.artifact_id
    return resp


@router.get("/versions", response_model=list[S.ArtifactOut], summary="Versions")
def versions(request: Request, ref: Ref, namespace: Namespace = "default", session_id: SessionQ = None,
             include_expired: bool = False) -> list[dict[str, Any]]:
    vs = _store(request).versions(ref, namespace=namespace, session_id=session_id,
                                  include_expired=include_expired)
    return [v.to_dict() for v in vs]


@router.get("/artifacts", response_model=PageOut, summary="List")
def list_artifacts(request: Request, namespace: OptNamespace = None, session_id: SessionQ = None,
                   tags: ListQ = None, types: ListQ = None, include_expired: bool = False,
                   limit: int = 50, cursor: Annotated[Optional[str], Query(max_length=1000)] = None) -> dict[str, Any]:
    page = _store(request).list(namespace, session_id, tags, types, include_expired, limit, cursor)
    return page.to_dict()


@router.get("/names", response_model=list[str], summary="Names")
def names(request: Request, namespace: Namespace = "default", session_id: SessionQ = None) -> list[str]:
    return _store(request).names(namespace, session_id)


@router.patch("/artifact", response_model=S.ArtifactOut, summary="Update")
def update(request: Request, body: UpdateIn) -> dict[str, Any]:
    kw = body.model_dump(exclude={"ref", "ttl"})
    if "ttl" in body.model_fields_set:
        kw["ttl"] = body.ttl
    return _store(request).update(body.ref, **kw).to_dict()


@router.delete("/artifact", response_model=list[S.ArtifactOut], summary="Delete")
def delete(request: Request, ref: Ref, version: Version = None, namespace: Namespace = "default",
           session_id: SessionQ = None) -> list[dict[str, Any]]:
    gone = _store(request).delete(ref, version, namespace=namespace, session_id=session_id)
    return [a.to_dict() for a in gone]


@router.get("/cursor", summary="Latest event cursor")
def cursor(request: Request) -> dict[str, int]:
    return {"cursor": int(_store(request).latest_cursor())}


@router.get("/events", response_model=EventPageOut, summary="Events (long-poll)")
async def events(request: Request, after: Annotated[str, Query(max_length=32)] = "0", wait_seconds: float = 0, namespace: OptNamespace = None,
                 session_id: SessionQ = None, include_mime: ListQ = None, include_ext: ListQ = None,
                 max_size: Optional[int] = None, limit: int = 25, types: ListQ = None) -> dict[str, Any]:
    """``store.events``; a wait parks on the server's loop (no thread) and wakes on any write."""
    store = _store(request)
    filters = dict(include_mime=include_mime, include_ext=include_ext, max_size=max_size,
                   limit=limit, types=types)
    cursor: Any = int(after) if after.isdigit() else after
    if not isinstance(cursor, int) or not 0 <= wait_seconds <= 60:  # the store words the error
        store.events(after=cursor, wait_seconds=wait_seconds, namespace=namespace,
                     session_id=session_id, **filters)
    if wait_seconds <= 0:
        page = await run_in_threadpool(lambda: store.events(
            after=cursor, wait_seconds=0, namespace=namespace, session_id=session_id, **filters))
    else:
        page = await long_poll(request, namespace=namespace, session_id=session_id, after=cursor,
                               wait_seconds=wait_seconds, **filters)
    return page.to_dict()


@router.get("/sessions", response_model=list[dict[str, Any]], summary="Sessions")
def sessions(request: Request, namespace: OptNamespace = None) -> list[dict[str, Any]]:
    return _store(request).sessions(namespace)


@router.post("/sessions/{session_id}/close", summary="Close session")
def close_session(request: Request, session_id: str, namespace: Namespace = "default",
                  clean: Optional[bool] = None,
                  sources: Annotated[Optional[list[str]], Query()] = None) -> dict[str, Any]:
    return _store(request).close_session(session_id, namespace, clean=clean, sources=sources)


@router.get("/sessions/{session_id}/manifest", summary="Session manifest")
def manifest(request: Request, session_id: str, namespace: Namespace = "default") -> dict[str, Any]:
    return _store(request).manifest(session_id, namespace)


@router.post("/query", response_model=QueryResult, summary="Query")
def query(request: Request, body: QueryIn) -> dict[str, Any]:
    return _store(request).query(**body.model_dump(), progress=False).to_dict()


@router.post("/wait-indexed", summary="Wait until nothing is pending indexing")
def wait_indexed(request: Request, timeout: Annotated[float, Query(ge=0)] = WAIT_INDEXED_MAX_SECONDS) -> dict[str, bool]:
    """Waits at most ``min(timeout, 20)`` seconds; ``done`` false means ask again."""
    return {"done": bool(_store(request).wait_indexed(min(timeout, WAIT_INDEXED_MAX_SECONDS),
                                                      progress=False))}


@router.get("/pending", summary="How much is waiting for the indexer")
def pending(request: Request) -> dict[str, int]:
    return {"pending": int(_store(request).pending_count())}


@router.post("/reindex", summary="Reindex")
def reindex(request: Request, body: RefIn) -> dict[str, int]:
    n = _store(request).reindex(body.ref, namespace=body.namespace, session_id=body.session_id)
    return {"queued": int(n)}


@router.post("/promote", response_model=Source, summary="Promote")
def promote(request: Request, body: RefIn) -> dict[str, Any]:
    src = _store(request).promote(body.ref, body.version, namespace=body.namespace,
                                  session_id=body.session_id, message=body.message)
    return src.to_dict()


@router.get("/sources", response_model=list[Source], summary="Promoted sources")
def sources(request: Request, namespace: OptNamespace = None) -> list[dict[str, Any]]:
    return [src.to_dict() for src in _store(request).sources(namespace)]


@router.get("/export", summary="Export zip", response_class=Response,
            responses={200: {"description": "A zip of the latest versions.",
                             "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
def export(request: Request, namespace: OptNamespace = None, session_id: SessionQ = None,
           workspace_layout: bool = False) -> Response:
    """``store.export_zip``, written to a temp file first so an error is an answer, not a cut stream."""
    s = settings_of(request)
    fd, path = tempfile.mkstemp(prefix="na-export-", suffix=".zip", dir=s.tmp_dir)
    os.close(fd)
    try:
        s.store.export_zip(path, namespace=namespace, session_id=session_id,
                           workspace_layout=workspace_layout)
    except BaseException:
        os.unlink(path)
        raise
    label = (namespace or "default").replace("/", "_") + (f"__{session_id}" if session_id else "")
    return FileResponse(path, media_type="application/zip", background=BackgroundTask(os.unlink, path),
                        headers={"Content-Disposition": content_disposition(f"{label}.zip")})



@router.post("/gc", response_model=GcReport, summary="Garbage-collect (admin token)")
def gc(request: Request, events_keep: int = 100_000, temp_age: float = 0.0) -> dict[str, Any]:
    return _store(request).gc(events_keep=events_keep, temp_age=temp_age).to_dict()


@router.post("/fsck", response_model=FsckReport, summary="Check the store (admin token)")
def fsck(request: Request, repair: bool = False, verify_content: bool = True) -> dict[str, Any]:
    return _store(request).fsck(repair, verify_content=verify_content).to_dict()
