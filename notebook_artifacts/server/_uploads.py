"""Streamed multipart uploads: the file part is kept in memory up to a small size, else spooled
to a temp file, stopped at a size limit.

The request body is never held in memory whole: a file part of up to :data:`SPOOL_BYTES` stays
in memory (a small upload costs no temp file), a larger one is written to a temporary file as
it arrives, and reading stops as soon as it passes ``max_bytes`` (413, nothing stored).
A body of up to :data:`INLINE_PARSE_BYTES` is parsed on the event loop in one go (microseconds;
a thread hop would cost more than the parse); a larger one is parsed (and its temp file written)
on a worker thread, a batch of up to 1 MiB at a time, never on the event loop. A body with more
than :data:`MAX_PARTS` parts, :data:`MAX_FIELDS` form fields or :data:`MAX_HEADER_BYTES` of
headers in one part is refused with 400. The temp file is always removed
(:meth:`ParsedUpload.cleanup`, called by :func:`store_upload`).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

__all__ = ["ParsedUpload", "read_multipart", "store_upload", "too_large", "validation_error",
           "multipart_body_schema"]

MAX_FIELD_BYTES = 1 << 20  # all non-file fields together
MAX_PARTS = 64  # parts of any kind in one body
MAX_FIELDS = 32  # non-file form fields in one body
MAX_HEADER_BYTES = 16 * 1024  # headers of one part
PARSE_BATCH = 1 << 20  # bytes handed to the parser (on a worker thread) at a time
#: A file part up to this size stays in memory; a larger one is spooled to a temp file.
SPOOL_BYTES = 256 * 1024
#: A whole body up to this size is parsed on the event loop (never touches a file there).
INLINE_PARSE_BYTES = 64 * 1024


def validation_error(loc: list[Any], msg: str, value: Any, kind: str = "value_error") -> HTTPException:
    """A 422 in FastAPI's shape: ``detail[{loc, msg, type, input, ctx}]``."""
    return HTTPException(422, detail=[{"loc": loc, "msg": msg, "type": kind, "input": value, "ctx": {}}])


def too_large(max_bytes: int) -> HTTPException:
    return HTTPException(
        413,
        f"upload exceeds the server limit of {max_bytes} bytes; nothing was stored "
        "(start the server with a larger --max-upload-bytes)",
    )


@dataclass
class ParsedUpload:
    """Form fields and the file of one multipart request: in memory (``data``) when small,
    else spooled to ``file_path``."""

    fields: dict[str, str] = field(default_factory=dict)
    file_path: Optional[str] = None
    data: Optional[bytes] = None
    filename: Optional[str] = None
    content_type: Optional[str] = None
    size: int = 0

    def content(self) -> Union[bytes, Path]:
        """What ``store.put`` takes for the file: its bytes, or the spooled file's path."""
        if self.data is not None:
            return self.data
        if self.file_path is None:
            raise RuntimeError("the upload has no file (already cleaned up)")
        return Path(self.file_path)

    def to_file(self, tmp_dir: Optional[str] = None) -> str:
        """The file's path, writing an in-memory file to a temp file first (removed by cleanup)."""
        if self.file_path is None:
            if self.data is None:
                raise RuntimeError("the upload has no file (already cleaned up)")
            fd, path = tempfile.mkstemp(prefix="na-upload-", suffix=".part", dir=tmp_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(self.data)
            self.file_path, self.data = path, None
        return self.file_path

    def cleanup(self) -> None:
        self.data = None
        if self.file_path is not None:
            try:
                os.unlink(self.file_path)
            except FileNotFoundError:
                pass
            self.file_path = None


class _Collector:
    def __init__(self, result: ParsedUpload, file_field: str, max_bytes: int, tmp_dir: Optional[str]):
        self.r = result
        self.file_field = file_field
        self.max_bytes = max_bytes
        self.tmp_dir = tmp_dir
        self.headers: dict[bytes, bytes] = {}
        self.h_name = b""
        self.h_value = b""
        self.kind: Optional[str] = None  # "file" | "field" | "skip"
        self.name = ""
        self.buf = bytearray()
        self.field_bytes = 0
        self.fh: Any = None
        self.mem: Optional[bytearray] = None  # the file part while it fits in SPOOL_BYTES
        self.error: Optional[HTTPException] = None
        self.parts = 0
        self.fields = 0
        self.header_bytes = 0

    # parser callbacks -----------------------------------------------------------
    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise HTTPException(400, f"the multipart body has more than {MAX_PARTS} parts; send one "
                                     f"'{self.file_field}' part and at most {MAX_FIELDS} form fields")
        self.headers = {}
        self.kind = None
        self.buf = bytearray()
        self.header_bytes = 0

    def _count_header(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > MAX_HEADER_BYTES:
            raise HTTPException(400, f"a multipart part has more than {MAX_HEADER_BYTES} bytes of headers")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.h_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.h_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.h_name.strip().lower()] = self.h_value.strip()
        self.h_name = b""
        self.h_value = b""

    def on_headers_finished(self) -> None:
        _, opts = parse_options_header(self.headers.get(b"content-disposition", b""))
        if b"name" not in opts:
            raise HTTPException(400, 'a multipart part lacks Content-Disposition "name"')
        self.name = opts[b"name"].decode("utf-8", "replace")
        if b"filename" in opts and self.name == self.file_field:
            if self.fh is not None or self.mem is not None or self.r.file_path is not None \
                    or self.r.data is not None:
                raise HTTPException(400, f"send exactly one file in the '{self.file_field}' field")
            self.kind = "file"
            self.r.filename = opts[b"filename"].decode("utf-8", "replace")
            ctype = self.headers.get(b"content-type")
            self.r.content_type = ctype.decode("latin-1") if ctype else None
            self.mem = bytearray()
        elif b"filename" in opts:
            self.kind = "skip"  # other file fields are ignored
        else:
            self.kind = "field"
            self.fields += 1
            if self.fields > MAX_FIELDS:
                raise HTTPException(400, f"the multipart body has more than {MAX_FIELDS} form fields")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self.kind == "file":
            self.r.size += n
            if self.r.size > self.max_bytes:
                raise too_large(self.max_bytes)
            if self.mem is not None:
                self.mem += data[start:end]
                if len(self.mem) > SPOOL_BYTES:
                    self._spill()
            else:
                self.fh.write(data[start:end])
        elif self.kind == "field":
            self.field_bytes += n
            if self.field_bytes > MAX_FIELD_BYTES:
                raise HTTPException(413, f"form fields exceed {MAX_FIELD_BYTES} bytes")
            self.buf += data[start:end]

    def _spill(self) -> None:
        """The file part outgrew memory: continue it in a temp file (on a worker thread: only
        bodies over INLINE_PARSE_BYTES get here)."""
        fd, path = tempfile.mkstemp(prefix="na-upload-", suffix=".part", dir=self.tmp_dir)
        self.r.file_path = path
        self.fh = os.fdopen(fd, "wb")
        assert self.mem is not None
        self.fh.write(self.mem)
        self.mem = None

    def on_part_end(self) -> None:
        if self.kind == "file":
            if self.mem is not None:
                self.r.data = bytes(self.mem)
                self.mem = None
            else:
                self.fh.close()
                self.fh = None
        elif self.kind == "field":
            self.r.fields[self.name] = self.buf.decode("utf-8", "replace")


async def read_multipart(
    request: Request, *, max_bytes: int, file_field: str = "file", tmp_dir: Optional[str] = None
) -> ParsedUpload:
    """Parse a multipart body from the request stream; raises 413/400/422 HTTPExceptions."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise validation_error(["body"], "send the file as multipart/form-data with a 'file' field",
                               request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES + 65536:
        raise too_large(max_bytes)
    result = ParsedUpload()
    c = _Collector(result, file_field, max_bytes, tmp_dir)
    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": c.on_part_begin,
            "on_part_data": c.on_part_data,
            "on_part_end": c.on_part_end,
            "on_header_field": c.on_header_field,
            "on_header_value": c.on_header_value,
            "on_header_end": c.on_header_end,
            "on_headers_finished": c.on_headers_finished,
        },
    )
    try:
        batch = bytearray()
        total = 0
        async for chunk in request.stream():
            batch += chunk
            total += len(chunk)
            if len(batch) >= PARSE_BATCH:  # parse (and write the file) off the event loop
                data = bytes(batch)
                batch.clear()
                await run_in_threadpool(parser.write, data)
        if total <= INLINE_PARSE_BYTES:  # small: parse here, no file I/O (SPOOL_BYTES is larger)
            parser.write(bytes(batch))
            parser.finalize()
        else:
            if batch:
                await run_in_threadpool(parser.write, bytes(batch))
            await run_in_threadpool(parser.finalize)
    except FormParserError as exc:
        _abort(c, result)
        raise HTTPException(400, f"malformed multipart body: {exc}") from None
    except BaseException:
        _abort(c, result)
        raise
    if c.fh is not None or c.mem is not None:  # body ended inside the file part
        _abort(c, result)
        raise HTTPException(400, "malformed multipart body: the file part is incomplete")
    if result.file_path is None and result.data is None:
        raise validation_error(["body", file_field], "Field required", None, "missing")
    return result


def _abort(c: _Collector, result: ParsedUpload) -> None:
    c.mem = None
    if c.fh is not None:
        try:
            c.fh.close()
        finally:
            c.fh = None
    result.cleanup()


async def store_upload(upload: ParsedUpload, put: Callable[[Union[bytes, Path]], Any]) -> Any:
    """Run ``put(content)`` in a worker thread (``content``: the file's bytes, or the path of
    its temp file; :meth:`ParsedUpload.content`), then remove the temp file whatever happens."""
    try:
        return await run_in_threadpool(put, upload.content())
    finally:
        upload.cleanup()


def multipart_body_schema(extra_fields: dict[str, dict[str, Any]] | None = None,
                          required: tuple[str, ...] = ("file",)) -> dict[str, Any]:
    """An OpenAPI ``requestBody`` for a streamed multipart route (FastAPI cannot infer it)."""
    props: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    props.update(extra_fields or {})
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": props, "required": list(required)}
                }
            },
        }
    }
