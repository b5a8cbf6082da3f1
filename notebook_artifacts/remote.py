"""``connect(url, token)``: a :class:`RemoteStore`, the public API of ``ArtifactStore`` over HTTP.

Every method takes the arguments of :class:`~notebook_artifacts.store.ArtifactStore`, returns
the same records (:class:`Artifact`, :class:`Page`, :class:`EventPage`, :class:`QueryResult`...)
and raises the same exception classes with the server's message (see
:mod:`notebook_artifacts.http_errors`). It speaks the server's native ``/v1/store`` routes with
one httpx connection pool:

* content streams both ways: ``put`` of a path or file object sends it in chunks, ``open``
  returns a stream that reads as the bytes arrive (and resumes with ``Range`` where a dropped
  connection cut it, when the content is unchanged);
* a call that could not reach the server is retried; a call cut after it was sent is retried
  only when repeating it is harmless (reads, listings, event polls), else it raises
  :class:`~notebook_artifacts.errors.ConnectionLostError` saying it may have taken effect;
* event waits use a read timeout longer than the wait, so long polls are never cut short.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import fields
from pathlib import Path
from typing import IO, Any, Optional
from urllib.parse import quote

import httpx

from ._content import ReadMethods, download_content, load_content
from .errors import ConnectionLostError, InvalidInputError, NotFoundError
from .http_errors import exception_for
from .models import (
    Artifact,
    Event,
    EventPage,
    FsckReport,
    GcReport,
    Page,
    Problem,
    QueryHit,
    QueryResult,
    Source,
)
from .storage import _validate as V
from ._frames import FramedBody
from .store import (TextContent, _is_dataframe, _item_spec, _labelled, _no_json,
                    _put_many_items)
from .store import source_file

__all__ = ["RemoteStore", "connect", "URL_ENV", "TOKEN_ENV"]

URL_ENV = "NOTEBOOK_ARTIFACTS_URL"
TOKEN_ENV = "NOTEBOOK_ARTIFACTS_TOKEN"

_UNSET: Any = ...
_ARTIFACT_FIELDS = {f.name for f in fields(Artifact)}
_EVENT_FIELDS = {f.name for f in fields(Event)}
_SOURCE_FIELDS = {f.name for f in fields(Source)}
CHUNK = 1 << 20
#: seconds between tries of a call that could not reach the server
_BACKOFF = (0.1, 0.4, 1.0)
#: the longest a subscription's long poll waits on the server before asking again
_SUBSCRIBE_WAIT = 25.0


def connect(url: str | None = None, token: str | None = None, *, timeout: float = 60.0,
            check: bool = True) -> RemoteStore:
    """A :class:`RemoteStore` for the server at ``url`` (default ``$NOTEBOOK_ARTIFACTS_URL``).

    ``token`` defaults to ``$NOTEBOOK_ARTIFACTS_TOKEN``. With ``check`` (default) one request
    is made at once, so an unreachable server or a refused token is an error here, not later.
    """
    store = RemoteStore(url, token, timeout=timeout)
    if check:
        try:
            store.latest_cursor()
        except BaseException:
            store.close()
            raise
    return store


def _artifact(d: dict[str, Any]) -> Artifact:
    return Artifact(**{k: v for k, v in d.items() if k in _ARTIFACT_FIELDS})


def _event(d: dict[str, Any]) -> Event:
    return Event(**{k: v for k, v in d.items() if k in _EVENT_FIELDS})


def _source(d: dict[str, Any]) -> Source:
    return Source(**{k: v for k, v in d.items() if k in _SOURCE_FIELDS})


def _ref(ref: Any) -> str:
    if isinstance(ref, Artifact):
        return ref.artifact_id
    if not isinstance(ref, str) or not ref:
        raise InvalidInputError(f"invalid ref {ref!r}: give an artifact id (art_...) or a name")
    return ref


def _listish(value: Any) -> Any:
    """A query value for a parameter the store splits on commas (str or iterable of str)."""
    if value is None or isinstance(value, str):
        return value
    try:
        return list(value)
    except TypeError:
        return value


def _json_body(what: str, body: dict[str, Any]) -> bytes:
    try:
        return json.dumps(body, allow_nan=False, default=_no_json).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"cannot send these {what} arguments: {exc}; values must be str, number, bool, "
            "None, list or dict") from None


class _CheckedReader:
    """Wraps a caller's file object for upload: bytes only (text encoded), clear errors."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def read(self, n: int = -1) -> bytes:
        try:
            chunk = self._f.read(n)
        except OSError as exc:
            raise InvalidInputError(f"cannot read the file object: {exc}") from None
        if isinstance(chunk, str):
            return chunk.encode("utf-8")
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            close = getattr(chunk, "close", None)
            if callable(close):  # an un-awaited coroutine: close it quietly
                close()
            raise InvalidInputError(
                f"the file object's read() returned {type(chunk).__name__}, not bytes; pass a "
                "binary file object (for an async upload, its .file)")
        return bytes(chunk)


class _ContentStream(io.RawIOBase):
    """The body of a content response, read as it arrives; resumes with ``Range`` after a drop."""

    def __init__(self, store: RemoteStore, resp: httpx.Response) -> None:
        super().__init__()
        self._store = store
        self._resp = resp
        self.artifact_id = resp.headers.get("x-artifact-id", "")
        self.mime_type = resp.headers.get("content-type", "application/octet-stream")
        self._etag = resp.headers.get("etag")
        self.size = int(resp.headers.get("content-length", "0"))
        self._pos = 0
        self._buf = memoryview(b"")
        self._chunks = resp.iter_raw(CHUNK)

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Make ``_buf`` hold the next bytes of the body; False at its end."""
        while not self._buf:
            if self._pos >= self.size:
                return False
            try:
                self._buf = memoryview(next(self._chunks, b""))
            except httpx.TransportError as exc:
                self._resume(exc)
                continue
            if not self._buf:  # ended early without an error: treat as a drop
                self._resume(None)
        return True

    def readinto(self, b: Any) -> int:
        if not self._fill():
            return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]  # a view: no copy of the rest
        self._pos += n
        return n

    def readall(self) -> bytes:
        """The rest of the body, joined once (not copied 8 KiB at a time)."""
        parts = []
        while self._fill():
            parts.append(self._buf)
            self._pos += len(self._buf)
            self._buf = memoryview(b"")
        return b"".join(parts)

    def _resume(self, exc: Optional[BaseException]) -> None:
        """Ask again for the rest of the same (immutable) version, or say the read was cut."""
        self._resp.close()
        why = f"{exc}" if exc else "the body ended early"
        for delay in _BACKOFF:
            time.sleep(delay)
            try:
                resp = self._store._send("GET", "/v1/store/content", params={"ref": self.artifact_id},
                                         headers={"Range": f"bytes={self._pos}-"}, stream=True,
                                         safe=True)
            except ConnectionLostError:
                continue
            if resp.status_code != 206 or resp.headers.get("etag") != self._etag:
                resp.close()
                break
            self._resp = resp
            self._chunks = resp.iter_raw(CHUNK)
            return
        raise ConnectionLostError(
            f"the connection to {self._store.url} dropped after {self._pos} of {self.size} bytes "
            f"of {self.artifact_id} ({why}) and could not be resumed; open it again")

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
        super().close()


class RemoteStore(ReadMethods):
    """The :class:`~notebook_artifacts.protocol.Store` API of a server's store (see :func:`connect`)."""

    #: a served store has no folder on this machine
    root: Path | None = None

    #: seconds a query with progress shows the server's pending indexing before it asks (the
    #: server's own query waits as long, see ``ArtifactStore.query_drain_seconds``)
    query_drain_seconds: float = 60.0

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 timeout: float = 60.0, retries: int = 3) -> None:
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise InvalidInputError(
                f"give the server's URL (connect('http://host:port')) or set ${URL_ENV}")
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"invalid server URL {url!r}: give http://host:port or https://...")
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = float(timeout)
        self._retries = max(0, min(int(retries), len(_BACKOFF)))
        self._client = httpx.Client(
            base_url=self.url, headers=headers,
            timeout=httpx.Timeout(self._timeout, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))
        self._subscriptions: set[threading.Event] = set()
        self._closed = False

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, safe: bool, params: dict[str, Any] | None = None,
              body: bytes | None = None, files: Any = None, data: Any = None,
              headers: dict[str, str] | None = None, stream: bool = False,
              read_timeout: float | None = None) -> httpx.Response:
        """One call, retried when it never reached the server (or when ``safe`` to repeat);
        an error answer raises the exception class the server's store raised."""
        if self._closed:
            raise InvalidInputError("this RemoteStore is closed; connect() again")
        params = {k: v for k, v in (params or {}).items() if v is not None}
        hdrs = dict(headers or {})
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        timeout = httpx.Timeout(self._timeout, connect=10.0, read=read_timeout or self._timeout)
        last: BaseException | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(_BACKOFF[attempt - 1])
            try:
                req = self._client.build_request(method, path, params=params, content=body,
                                                 files=files, data=data, headers=hdrs,
                                                 timeout=timeout)
                resp = self._client.send(req, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last = exc  # never reached the server: always safe to try again
                continue
            except httpx.TransportError as exc:
                last = exc
                if safe:
                    continue
                raise ConnectionLostError(
                    f"the connection to {self.url} dropped during {method} {path} ({exc}); the "
                    "call may or may not have taken effect: check (e.g. list or versions) "
                    "before repeating it") from None
            if resp.status_code >= 400:
                self._raise_for(resp)
            return resp
        if isinstance(last, (httpx.ConnectError, httpx.ConnectTimeout)):
            raise ConnectionLostError(
                f"cannot reach the notebook-artifacts server at {self.url} ({last}); is "
                "`notebook-artifacts serve` running there, and is the URL right?") from None
        raise ConnectionLostError(
            f"the connection to {self.url} failed during {method} {path} after "
            f"{self._retries + 1} tries ({last}); try again when the server is back") from None

    @staticmethod
    def _raise_for(resp: httpx.Response) -> None:
        try:
            resp.read()
            payload = resp.json()
        except (ValueError, httpx.HTTPError):
            payload = {"detail": resp.text[:500] if not resp.is_stream_consumed else None}
        finally:
            resp.close()
        if not isinstance(payload, dict):
            payload = {"detail": payload}
        raise exception_for(resp.status_code, payload.get("error"), payload.get("detail"))

    def _json(self, method: str, path: str, *, safe: bool, **kw: Any) -> Any:
        resp = self._send(method, path, safe=safe, **kw)
        return resp.json()

    @staticmethod
    def _scope(ref: Any, version: Any, namespace: Any, session_id: Any) -> dict[str, Any]:
        return {"ref": _ref(ref), "version": V.validate_version(version), "namespace": namespace,
                "session_id": session_id}

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop subscriptions and close the connection pool (idempotent)."""
        if not self._closed:
            self._closed = True
            for stop in list(self._subscriptions):
                stop.set()
            self._client.close()

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"

    @property
    def location(self) -> str:
        """The server's URL (``ArtifactStore.location`` is its folder)."""
        return self.url

    # -- put -------------------------------------------------------------------------------
    def put(self, src: Any = None, name: str | None = None, *, text: str | None = None,
            namespace: str = "default",
            session_id: str | None = None, tags: Iterable[str] | str | None = (),
            metadata: dict[str, Any] | None = None, description: str | None = None,
            ttl: Any = None, pinned: bool = False, source: str | None = None,
            source_tool: str | None = None, source_execution_id: str | None = None,
            source_step_id: str | None = None, artifact_type: str | None = None,
            mime_type: str | None = None, file_name: str | None = None,
            index: bool = True) -> Artifact:
        """Store ``src`` as the next version of ``name`` on the server (files are streamed);
        ``text=`` stores a string as text even when it looks like a path, as ``ArtifactStore``."""
        if text is not None or src is None:
            if src is not None:
                raise InvalidInputError("give the content as src or as text=, not both")
            if not isinstance(text, str):
                raise InvalidInputError(
                    "put needs content: put(src) with a path, bytes, str, dict, list or "
                    "DataFrame, or put(text='...') with a str" if text is None else
                    f"text= takes a str, not {type(text).__name__}; pass other content as src")
            src = TextContent(text)
        opts: dict[str, Any] = dict(
            namespace=namespace, session_id=session_id,
            tags=list(tags) if tags is not None and not isinstance(tags, str) else tags,
            metadata=metadata, description=description, ttl=ttl, pinned=pinned, source=source,
            source_tool=source_tool, source_execution_id=source_execution_id,
            source_step_id=source_step_id, artifact_type=artifact_type, mime_type=mime_type,
            file_name=file_name, index=index)
        return self._upload(src, name, opts)

    def put_many(self, items: Iterable[Any], **common: Any) -> list[Artifact]:
        """Store several items in one request and one server-side transaction: all of them
        or none; the records in order (``ArtifactStore.put_many``'s arguments). Contents are
        streamed one after another in one body (files are never read whole)."""
        items = _put_many_items(items, common)
        if not items:
            return []
        if common.get("tags") is not None and not isinstance(common["tags"], str):
            common["tags"] = list(common["tags"])
        specs, bodies, cleanups = [], [], []
        try:
            for i, item in enumerate(items):
                src, name, opts = _labelled(i, item, lambda item=item: _item_spec(item, {}))
                if opts.get("metadata") is not None:
                    _labelled(i, item, lambda opts=opts: V.validate_metadata(opts["metadata"]))
                if opts.get("tags") is not None and not isinstance(opts["tags"], str):
                    opts["tags"] = list(opts["tags"])
                kind, content, suggested, name, cleanup = _labelled(
                    i, item, lambda src=src, name=name: self._upload_source(src, name))
                cleanups.append(cleanup)
                specs.append(dict(kind=kind, name=name, suggested_name=suggested, options=opts))
                bodies.append(content)
            if common.get("metadata") is not None:
                V.validate_metadata(common["metadata"])
            payload = _json_body("put_many", {"common": common, "items": specs}).decode("utf-8")
            resp = self._send("POST", "/v1/store/artifacts/many", safe=False,
                              files={"file": ("items", FramedBody(bodies), "application/octet-stream")},
                              data={"options": payload})
        finally:
            for cleanup in cleanups:
                cleanup()
        return [_artifact(a) for a in resp.json()]

    def _upload(self, src: Any, name: str | None, opts: dict[str, Any],
                register: str | None = None) -> Artifact:
        """One streamed multipart POST; ``register``: the workspace path of a register_file."""
        if opts.get("metadata") is not None:
            V.validate_metadata(opts["metadata"])  # the store's own check, before any byte goes
        kind, content, suggested, name, cleanup = self._upload_source(src, name)
        try:
            options = dict(opts, kind=kind, name=name, suggested_name=suggested)
            if register is not None:
                options["workspace_path"] = register
            payload = _json_body("put", options).decode("utf-8")
            resp = self._send("POST", "/v1/store/artifacts", safe=False,
                              files={"file": (suggested or "upload", content, "application/octet-stream")},
                              data={"options": payload})
        finally:
            cleanup()
        return _artifact(resp.json())

    def _upload_source(self, src: Any, name: str | None) -> tuple[str, Any, str | None, str | None, Callable[[], None]]:
        """(kind, body, suggested name, name, cleanup) for ``src``, checked like a local put."""
        nothing: Callable[[], None] = lambda: None  # noqa: E731
        path = source_file(src, name)  # the local store's rule, checked before any byte goes
        if path is not None:
            f = open(path, "rb")
            return "stream", f, path.name, name, f.close
        if isinstance(src, str):
            return "text", src.encode("utf-8"), None, name, nothing
        if isinstance(src, (bytes, bytearray, memoryview)):
            return "stream", bytes(src), None, name, nothing
        if isinstance(src, (dict, list, tuple)):
            try:
                text = json.dumps(src, ensure_ascii=False, allow_nan=False, default=_no_json)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"cannot store this {type(src).__name__} as JSON: {exc}; values must be str, "
                    "number, bool, None, list or dict") from None
            return "json", text.encode("utf-8"), None, name, nothing
        if _is_dataframe(src):
            spool = self._spool_dataframe(src, name)
            return "stream", spool, None, name or f"artifact-{secrets.token_hex(4)}.csv", spool.close
        if hasattr(src, "file") and hasattr(src, "filename") and hasattr(src.file, "read"):
            upload_name = os.path.basename(str(src.filename or "")) or None
            return "stream", _CheckedReader(src.file), upload_name, name, nothing
        if hasattr(src, "read"):
            raw_name = getattr(src, "name", None)
            suggested = None
            if isinstance(raw_name, str) and raw_name and not raw_name.startswith("<"):
                suggested = os.path.basename(raw_name) or None
            return "stream", _CheckedReader(src), suggested, name, nothing
        raise InvalidInputError(
            f"cannot store a {type(src).__name__}: give a path (Path or str naming a file), "
            "bytes, str text, a dict or list (JSON), a pandas DataFrame or a binary file object")

    @staticmethod
    def _spool_dataframe(df: Any, name: str | None) -> IO[bytes]:
        """The DataFrame as CSV (Parquet for a ``.parquet`` name) in an unlinked temp file,
        index kept only when it is not a plain RangeIndex: the bytes a local put stores."""
        fd, path = tempfile.mkstemp(prefix="na-frame-")
        os.close(fd)
        try:
            if name is not None and name.lower().endswith(".parquet"):
                try:
                    import pyarrow  # noqa: F401
                except ImportError:
                    raise InvalidInputError(
                        "storing a DataFrame as .parquet needs pyarrow: "
                        "pip install 'notebook-artifacts[parquet]', or use a .csv name") from None
                df.to_parquet(path)
            else:
                import pandas as pd

                df.to_csv(path, index=not isinstance(df.index, pd.RangeIndex))
            return open(path, "rb")
        finally:
            os.unlink(path)  # the open handle keeps the data until it is closed

    def register_file(self, path: str | os.PathLike[str], name: str | None = None, *,
                      namespace: str = "default", session_id: str | None = None,
                      source: str = "workspace", workspace_path: str | None = None,
                      **kwargs: Any) -> Artifact:
        """Upload a workspace file as an artifact; the manifest records this machine's path."""
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"cannot register {os.fspath(path)!r}: no such file")
        return self._upload(p, name, dict(kwargs, namespace=namespace, session_id=session_id,
                                          source=source),
                            register=workspace_path or str(p.resolve()))

    # -- reading ---------------------------------------------------------------------------
    def get(self, ref: Any, version: int | None = None, *, namespace: str = "default",
            session_id: str | None = None) -> Artifact:
        return _artifact(self._json("GET", "/v1/store/artifact", safe=True,
                                    params=self._scope(ref, version, namespace, session_id)))

    def open(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> IO[bytes]:
        """A binary stream of the content, read from the network as you read it."""
        return io.BufferedReader(self._content(ref, version, namespace, session_id), CHUNK)  # type: ignore[return-value]

    def _content(self, ref: Any, version: Any, namespace: Any, session_id: Any) -> _ContentStream:
        resp = self._send("GET", "/v1/store/content", safe=True, stream=True,
                          params=self._scope(ref, version, namespace, session_id))
        return _ContentStream(self, resp)

    def download(self, ref: Any, dest: str | os.PathLike[str], version: int | None = None, *,
                 namespace: str = "default", session_id: str | None = None) -> Path:
        """Write a version's content to ``dest`` (a file, or a folder: then its file name),
        streamed through a ``.part`` file; returns the path."""
        a = self.get(ref, version, namespace=namespace, session_id=session_id)
        return download_content(a, lambda: self.open(a.artifact_id), dest)

    def diff(self, ref: Any, a: int, b: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any:
        """What changed from version ``a`` to ``b`` (default: the latest), as ``ArtifactStore``."""
        from .diff import compute_diff

        old = self.get(ref, a, namespace=namespace, session_id=session_id)
        new = (self.versions(old.artifact_id, namespace=namespace, session_id=session_id)[-1]
               if b is None else self.get(old.artifact_id, b, namespace=namespace,
                                          session_id=session_id))
        return compute_diff(self, old, new)

    def load(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any:
        """Content as a Python object: DataFrame (CSV/TSV/Parquet), parsed JSON, str, or bytes."""
        raw = self._content(ref, version, namespace, session_id)

        def opener() -> IO[bytes]:
            stream = io.BufferedReader(raw, CHUNK)
            if "parquet" not in raw.mime_type:
                return stream  # type: ignore[return-value]
            spool = tempfile.SpooledTemporaryFile(64 << 20)  # Parquet readers need to seek
            with stream:
                while chunk := stream.read(CHUNK):
                    spool.write(chunk)
            spool.seek(0)
            return spool  # type: ignore[return-value]

        try:
            return load_content(raw.mime_type, opener)
        finally:
            raw.close()

    def versions(self, ref: Any, *, namespace: str = "default", session_id: str | None = None,
                 include_expired: bool = False) -> list[Artifact]:
        params = dict(self._scope(ref, None, namespace, session_id), include_expired=include_expired)
        return [_artifact(d) for d in self._json("GET", "/v1/store/versions", safe=True, params=params)]

    def list(self, namespace: str | None = None, session_id: str | None = None,
             tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
             include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Page:
        params = dict(namespace=namespace, session_id=session_id, tags=_listish(tags),
                      types=_listish(types), include_expired=include_expired, limit=limit,
                      cursor=cursor)
        d = self._json("GET", "/v1/store/artifacts", safe=True, params=params)
        return Page(artifacts=[_artifact(a) for a in d["artifacts"]], total=d["total"],
                    has_more=d["has_more"], next_cursor=d.get("next_cursor"))

    def frame(self, namespace: str | None = None, session_id: str | None = None,
              tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
              include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Any:
        """The same listing as :meth:`list`, as a pandas DataFrame (one row per artifact)."""
        return self.list(namespace, session_id, tags, types, include_expired, limit, cursor).to_frame()

    def names(self, namespace: str = "default", session_id: str | None = None) -> list[str]:
        return self._json("GET", "/v1/store/names", safe=True,
                          params={"namespace": namespace, "session_id": session_id})

    # -- changing --------------------------------------------------------------------------
    def update(self, ref: Any, *, version: int | None = None, namespace: str = "default",
               session_id: str | None = None, tags: Iterable[str] | str | None = None,
               add_tags: Iterable[str] | str = (), remove_tags: Iterable[str] | str = (),
               metadata: dict[str, Any] | None = None, description: str | None = None,
               ttl: Any = _UNSET, pinned: bool | None = None) -> Artifact:
        if metadata is not None:
            V.validate_metadata(metadata)  # the store's own check (JSON would coerce keys)
        body: dict[str, Any] = dict(
            self._scope(ref, version, namespace, session_id), tags=_listish(tags),
            add_tags=_listish(add_tags), remove_tags=_listish(remove_tags), metadata=metadata,
            description=description, pinned=pinned)
        if ttl is not _UNSET:
            body["ttl"] = ttl
        # an update sets values (it never adds twice), so repeating it after a drop is harmless
        return _artifact(self._json("PATCH", "/v1/store/artifact", safe=True,
                                    body=_json_body("update", body)))

    def delete(self, ref: Any, version: int | None = None, *, namespace: str = "default",
               session_id: str | None = None) -> list[Artifact]:
        gone = self._json("DELETE", "/v1/store/artifact", safe=False,
                          params=self._scope(ref, version, namespace, session_id))
        return [_artifact(d) for d in gone]

    # -- events ----------------------------------------------------------------------------
    def latest_cursor(self) -> int:
        return int(self._json("GET", "/v1/store/cursor", safe=True)["cursor"])

    def events(self, after: int = 0, wait_seconds: float = 0, namespace: str | None = None,
               session_id: str | None = None, include_mime: Iterable[str] | str | None = None,
               include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
               limit: int = 25, types: Iterable[str] | str | None = None) -> EventPage:
        """Events after ``after``; a wait is a long poll held by the server (no busy polling)."""
        params = dict(after=after, wait_seconds=wait_seconds, namespace=namespace,
                      session_id=session_id, include_mime=_listish(include_mime),
                      include_ext=_listish(include_ext), max_size=max_size, limit=limit,
                      types=_listish(types))
        wait = float(wait_seconds) if isinstance(wait_seconds, (int, float)) else 0.0
        d = self._json("GET", "/v1/store/events", safe=True, params=params,
                       read_timeout=max(wait, 0.0) + self._timeout)
        return EventPage(events=[_event(e) for e in d["events"]], next_cursor=d["next_cursor"],
                         has_more=d["has_more"], timed_out=d["timed_out"], gap=d.get("gap", False))

    def subscribe(self, callback: Callable[[list[Event]], Any], *, after: int | None = None,
                  namespace: str | None = None, session_id: str | None = None,
                  include_mime: Iterable[str] | str | None = None,
                  include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
                  types: Iterable[str] | str | None = None) -> Callable[[], None]:
        """Call ``callback(events)`` on a background thread for new events (from ``after``,
        default: now). The thread long-polls the server and rides out restarts. Returns a
        function that unsubscribes."""
        if not callable(callback):
            raise InvalidInputError("subscribe needs a callable taking a list of events")
        filters = dict(namespace=namespace, session_id=session_id, include_mime=include_mime,
                       include_ext=include_ext, max_size=max_size, types=types)
        self.events(after=0, limit=1, **filters)  # checks the filters now, like a local store
        start = self.latest_cursor() if after is None else after
        stop = threading.Event()
        self._subscriptions.add(stop)

        def run() -> None:
            cursor = start
            failures = 0
            while not stop.is_set():
                try:
                    page = self.events(after=cursor, wait_seconds=_SUBSCRIBE_WAIT, limit=100, **filters)
                    failures = 0
                except ConnectionLostError:
                    failures += 1
                    stop.wait(min(5.0, 0.2 * failures))
                    continue
                except Exception:
                    if stop.is_set():
                        return
                    stop.wait(1.0)
                    continue
                if stop.is_set():
                    return
                if page.events:
                    try:
                        callback(page.events)
                    except Exception:  # a failing callback must not end the subscription
                        pass
                cursor = max(cursor, page.next_cursor)

        threading.Thread(target=run, name="artifact-events-remote", daemon=True).start()

        def unsubscribe() -> None:
            stop.set()
            self._subscriptions.discard(stop)

        return unsubscribe

    # -- sessions --------------------------------------------------------------------------
    def sessions(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/store/sessions", safe=True, params={"namespace": namespace})

    def close_session(self, session_id: str, namespace: str = "default", *,
                      clean: bool | None = None,
                      sources: Collection[str] | None = None) -> dict[str, Any]:
        return self._json("POST", f"/v1/store/sessions/{quote(str(session_id), safe='')}/close",
                          safe=True, params={"namespace": namespace, "clean": clean,
                                             "sources": None if sources is None else list(sources)})

    def manifest(self, session_id: str, namespace: str = "default") -> dict[str, Any]:
        return self._json("GET", f"/v1/store/sessions/{quote(str(session_id), safe='')}/manifest",
                          safe=True, params={"namespace": namespace})

    # -- index -----------------------------------------------------------------------------
    def query(self, text: str, k: int = 10, *, namespace: str | None = None,
              session_id: str | None = None, tags: Any = None, mime_types: Any = None,
              where: dict[str, Any] | None = None, mode: str = "hybrid",
              versions: str = "latest", scope: str = "artifacts",
              context_budget: int = 6000, min_score: float | None = None,
              progress: bool | None = None) -> QueryResult:
        """The server's query. ``progress`` (default: where a person watches): a bar while the
        server indexes what is pending (it answers once that is done), and the time spent
        while a slow answer (the server loading its embedding model) comes."""
        body = dict(text=text, k=k, namespace=namespace, session_id=session_id,
                    tags=_listish(tags), mime_types=_listish(mime_types), where=where, mode=mode,
                    versions=versions, scope=scope, context_budget=context_budget,
                    min_score=min_score)
        encoded = _json_body("query", body)
        if progress is None:
            from ._progress import interactive

            progress = interactive()
        if progress:
            from ._progress import while_running

            if self.pending_count():
                self.wait_indexed(self.query_drain_seconds, progress=True)
            d = while_running(lambda: self._json("POST", "/v1/store/query", safe=True,
                                                 body=encoded), "querying the server")
        else:
            d = self._json("POST", "/v1/store/query", safe=True, body=encoded)
        hits = [QueryHit(artifact=_artifact(h["artifact"]), score=h["score"],
                         matched_chunk=h["matched_chunk"], location=h.get("location") or {},
                         citation=h.get("citation", "")) for h in d["results"]]
        return QueryResult(results=hits, combined_context=d["combined_context"],
                           total_results=d["total_results"], query=d["query"],
                           note=d.get("note") or "")

    def wait_indexed(self, timeout: float | None = None, *, progress: bool | None = None) -> bool:
        """Wait until the server has nothing pending indexing; False if ``timeout`` passed.
        ``progress``: a progress bar (default: where a person watches), as ``ArtifactStore``."""
        if progress is None:
            from ._progress import interactive

            progress = interactive()
        if progress and self.pending_count():
            from ._progress import wait_with_progress

            return wait_with_progress(self, self._wait_indexed, timeout)
        return self._wait_indexed(timeout)

    def pending_count(self) -> int:
        """Versions and sources the server has waiting for its indexer."""
        return int(self._json("GET", "/v1/store/pending", safe=True)["pending"])

    def _wait_indexed(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        while True:
            left = 20.0 if deadline is None else max(0.0, min(20.0, deadline - time.monotonic()))
            d = self._json("POST", "/v1/store/wait-indexed", safe=True, params={"timeout": left},
                           read_timeout=left + self._timeout)
            if d["done"]:
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def reindex(self, ref: Any = None, *, namespace: str = "default",
                session_id: str | None = None) -> int:
        body = {"ref": None if ref is None else _ref(ref), "namespace": namespace, "session_id": session_id}
        return int(self._json("POST", "/v1/store/reindex", safe=True,
                              body=_json_body("reindex", body))["queued"])

    def promote(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                session_id: str | None = None, message: str = "") -> Source:
        body = dict(self._scope(ref, version, namespace, session_id), message=message)
        return _source(self._json("POST", "/v1/store/promote", safe=False,
                                  body=_json_body("promote", body)))

    def sources(self, namespace: str | None = None) -> list[Source]:
        return [_source(d) for d in self._json("GET", "/v1/store/sources", safe=True,
                                               params={"namespace": namespace})]

    # -- maintenance (the server's admin token) ------------------------------------------------
    def gc(self, *, events_keep: int = 100_000, temp_age: float = 0.0) -> GcReport:
        """The server's ``gc``: expire, reclaim unreferenced content, trim the event log."""
        d = self._json("POST", "/v1/store/gc", safe=True,
                       params={"events_keep": events_keep, "temp_age": temp_age},
                       read_timeout=self._timeout * 10)
        return GcReport(**d)

    def fsck(self, repair: bool = False, *, verify_content: bool = True) -> FsckReport:
        """The server's ``fsck`` (re-hashing every blob can take a while)."""
        d = self._json("POST", "/v1/store/fsck", safe=True,
                       params={"repair": repair, "verify_content": verify_content},
                       read_timeout=self._timeout * 60)
        return FsckReport(ok=d["ok"], problems=[Problem(**p) for p in d.get("problems", [])],
                          checked_versions=d.get("checked_versions", 0),
                          checked_blobs=d.get("checked_blobs", 0))

    # -- export ----------------------------------------------------------------------------
    def export_zip(self, dest: str | os.PathLike[str] | IO[bytes] | None = None, *,
                   namespace: str | None = None, session_id: str | None = None,
                   workspace_layout: bool = False) -> Path | IO[bytes]:
        """Download the zip of a session or namespace into ``dest`` (a path, written atomically,
        or a writable binary stream; default ``./exports/<scope>.zip``)."""
        resp = self._send("GET", "/v1/store/export", safe=True, stream=True,
                          params={"namespace": namespace, "session_id": session_id,
                                  "workspace_layout": workspace_layout})
        try:
            if dest is None:
                label = quote(namespace or "default", safe="") + (f"__{session_id}" if session_id else "")
                dest = Path.cwd() / "exports" / f"{label}.zip"
            if isinstance(dest, (str, os.PathLike)):
                path = Path(dest)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                try:
                    with open(tmp, "wb") as f:
                        self._copy_body(resp, f)
                    os.replace(tmp, path)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
                return path
            self._copy_body(resp, dest)
            return dest
        finally:
            resp.close()

    def _copy_body(self, resp: httpx.Response, out: Any) -> None:
        try:
            for chunk in resp.iter_raw(CHUNK):
                out.write(chunk)
        except httpx.TransportError as exc:
            raise ConnectionLostError(
                f"the connection to {self.url} dropped during the download ({exc}); try again") from None
