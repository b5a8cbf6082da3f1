"""MIME types from a file name and the first bytes of its content."""

from __future__ import annotations

import functools
import json
import mimetypes
import posixpath

__all__ = ["guess_mime", "is_text_mime", "extension_of", "artifact_type_for", "decode_text",
           "SPREADSHEET_MIMES"]

_BY_EXT = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".log": "text/plain",
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".ipynb": "application/x-ipynb+json",
    ".py": "text/x-python",
    ".r": "text/x-r",
    ".sql": "application/sql",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".pdf": "application/pdf",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".npy": "application/octet-stream",
    ".pkl": "application/octet-stream",
}

#: Spreadsheet workbooks: ``store.load`` reads them with pandas, their type is "table".
SPREADSHEET_MIMES = frozenset({
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12",
    "application/vnd.ms-excel",
    "application/vnd.oasis.opendocument.spreadsheet",
})

_MAGIC = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PAR1", "application/vnd.apache.parquet"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
]

_TEXT_APPLICATION = {
    "application/json",
    "application/x-ndjson",
    "application/x-ipynb+json",
    "application/xml",
    "application/yaml",
    "application/toml",
    "application/sql",
    "application/javascript",
    "image/svg+xml",
}


def extension_of(name: str | None) -> str:
    """Lower-case extension without the dot (``"report.PDF"`` -> ``"pdf"``), or ``""``."""
    if not name:
        return ""
    return posixpath.splitext(name.replace("\\", "/"))[1].lower().lstrip(".")


def is_text_mime(mime: str | None) -> bool:
    if not mime:
        return False
    base = mime.split(";", 1)[0].strip().lower()
    return base.startswith("text/") or base in _TEXT_APPLICATION or base.endswith("+json")


def decode_text(head: bytes) -> str | None:
    """UTF-8 text of ``head`` (tolerating a character cut at the end), or None if binary."""
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            try:
                return head[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None


def guess_mime(name: str | None, head: bytes = b"") -> str:
    """The MIME type for ``name`` and its first bytes ``head``.

    Magic numbers win for binary formats; then the extension; then content: JSON if the
    whole head parses, text/plain if it is UTF-8, else application/octet-stream.
    """
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            ext_mime = _by_name(name)
            # .docx/.xlsx etc. are zips: keep the more specific type the name gives
            if mime == "application/zip" and ext_mime and ext_mime != "application/octet-stream":
                return ext_mime
            return mime
    by_name = _by_name(name)
    if by_name:
        return by_name
    text = decode_text(head)
    if text is None:
        return "application/octet-stream"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            json.loads(text)
            return "application/json"
        except ValueError:
            pass
    if stripped.startswith("<!DOCTYPE html") or stripped[:6].lower() == "<html>":
        return "text/html"
    return "text/plain"


def _by_name(name: str | None) -> str | None:
    ext = extension_of(name)
    return _by_extension(ext) if ext else None


@functools.lru_cache(maxsize=1024)
def _by_extension(ext: str) -> str | None:
    if "." + ext in _BY_EXT:
        return _BY_EXT["." + ext]
    guessed, _ = mimetypes.guess_type("x." + ext, strict=False)
    return guessed


def artifact_type_for(mime: str, source_kind: str | None = None) -> str:
    """A coarse artifact type: table, json, image, document, code, text or file."""
    if source_kind == "dataframe":
        return "table"
    base = mime.split(";", 1)[0].lower()
    if base in ("text/csv", "text/tab-separated-values", "application/vnd.apache.parquet") \
            or base in SPREADSHEET_MIMES:
        return "table"
    if base in ("application/json", "application/x-ndjson"):
        return "json"
    if base.startswith("image/"):
        return "image"
    if base in ("application/pdf", "text/markdown", "text/html",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"):
        return "document"
    if base in ("text/x-python", "text/x-r", "application/sql", "application/javascript",
                "application/x-ipynb+json"):
        return "code"
    if is_text_mime(base):
        return "text"
    return "file"
