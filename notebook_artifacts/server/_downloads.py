"""Streamed downloads of artifact content: HTTP Range, Content-Disposition, data URIs, zips."""

from __future__ import annotations

import base64
import queue
import re
import threading
import zipfile
from typing import IO, Any, Callable, Iterator, Optional
from urllib.parse import quote

from fastapi import HTTPException, Request
from starlette.responses import Response, StreamingResponse

from ..models import Artifact
from ._content_policy import disposition, served_type

__all__ = ["content_response", "data_uri", "content_disposition", "zip_stream_response"]

CHUNK = 1 << 20
STALL_SECONDS = 300.0  # a zip writer whose reader is gone gives up after this long
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def content_disposition(filename: str, *, attachment: bool = True) -> str:
    """RFC 6266 header value with an ASCII fallback and a UTF-8 ``filename*``."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1] or "download"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in base)
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(base, safe='')}"


def _file_name(a: Artifact) -> str:
    return a.file_name or a.name


def _iter_stream(f: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        if start:
            f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        f.close()


def _parse_range(header: str, size: int) -> Optional[tuple[int, int]]:
    """(start, end inclusive) for one ``bytes=`` range; None to serve the whole file."""
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # multi-range or malformed: ignore (RFC 9110 allows serving 200)
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
    else:  # suffix range: the last N bytes
        n = int(last)
        if n == 0:
            raise HTTPException(416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
        start, end = max(size - n, 0), size - 1
    if start >= size:
        raise HTTPException(416, "range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


def content_response(
    open_stream: Callable[[], IO[bytes]],
    a: Artifact,
    request: Request,
    *,
    download: Optional[bool] = None,
) -> Response:
    """Stream the content of ``a`` (opened lazily), honouring one ``Range`` if given.

    The type and disposition follow :mod:`._content_policy` (``download`` is the caller's
    explicit choice, None when not given); safe inline content gets no Content-Disposition.
    """
    size = a.size_bytes
    mime = served_type(a)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{a.sha256}"'}
    if disposition(a, request, download) == "attachment":
        headers["Content-Disposition"] = content_disposition(_file_name(a))
    range_header = request.headers.get("range")
    rng = _parse_range(range_header, size) if range_header and size > 0 else None
    f = open_stream()
    if rng is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_iter_stream(f, 0, size), media_type=mime, headers=headers)
    start, end = rng
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        _iter_stream(f, start, end - start + 1), status_code=206, media_type=mime, headers=headers
    )


def data_uri(content: bytes, mime: str) -> str:
    return f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(content).decode('ascii')}"


# ---------------------------------------------------------------- zip streaming


class _Closed(Exception):
    pass


class _PipeWriter:
    """A write-only, non-seekable file object feeding a bounded queue (backpressure)."""

    def __init__(self, q: "queue.Queue[Any]", cancelled: threading.Event) -> None:
        self._q = q
        self._cancelled = cancelled
        self._buf = bytearray()
        self._pos = 0

    def write(self, b: Any) -> int:
        if self._cancelled.is_set():
            raise _Closed()
        self._buf += b
        self._pos += len(b)
        if len(self._buf) >= CHUNK:
            self._put(bytes(self._buf))
            self._buf.clear()
        return len(b)

    def _put(self, item: Any) -> None:
        stalled = 0.0
        while True:
            if self._cancelled.is_set() or stalled >= STALL_SECONDS:
                raise _Closed()  # the client went away (or stopped reading): stop writing
            try:
                self._q.put(item, timeout=0.5)
                return
            except queue.Full:
                stalled += 0.5

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def seekable(self) -> bool:
        return False

    def close_out(self) -> None:
        if self._buf:
            self._put(bytes(self._buf))
            self._buf.clear()


def zip_stream_response(
    write_zip: Callable[[Any], None], filename: str
) -> StreamingResponse:
    """Stream a zip that ``write_zip(fileobj)`` writes into a non-seekable file object.

    The writer runs on its own thread feeding a bounded queue; nothing touches the disk and
    a client that goes away stops the writer.
    """
    q: "queue.Queue[Any]" = queue.Queue(maxsize=8)
    cancelled = threading.Event()
    done = object()

    def produce() -> None:
        w = _PipeWriter(q, cancelled)
        try:
            write_zip(w)
            w.close_out()
            w._put(done)
        except _Closed:
            pass
        except BaseException as exc:  # surfaced to the consumer
            try:
                w._put(exc)
            except _Closed:
                pass

    def consume() -> Iterator[bytes]:
        t = threading.Thread(target=produce, name="na-zip-stream", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()

    return StreamingResponse(
        consume(),
        media_type="application/zip",
        headers={"Content-Disposition": content_disposition(filename)},
    )

