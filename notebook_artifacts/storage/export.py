"""Streamed zip export of a session or a namespace, with safe names inside."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from .blobs import CHUNK_SIZE, BlobStore
from .catalog import Catalog
from .mime import is_text_mime
from .ttl import parse_iso

__all__ = ["write_zip", "safe_arcname", "INDEX_NAME", "WORKSPACE_DIR", "ATTACHMENTS_DIR", "workspace_arcname"]

#: The seed-001 session layout (``WareHouse/<session>/``): uploads under ``code_workspace/attachments/``
#: beside ``attachments_manifest.json``, everything else under ``code_workspace/``.
WORKSPACE_DIR = "code_workspace"
ATTACHMENTS_DIR = f"{WORKSPACE_DIR}/attachments"

INDEX_NAME = "_export_index.json"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f:*?"<>|\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]')
_STORED = ("image/", "video/", "audio/", "application/zip", "application/gzip",
           "application/vnd.apache.parquet", "application/pdf")
#: Device names Windows refuses as a file name, with any extension ("AUX.txt", "con.tar.gz").
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
                      | {f"{d}{i}" for d in ("COM", "LPT") for i in (*"123456789", "¹", "²", "³")})
MAX_SEGMENT_BYTES = 255  # ext4, APFS, NTFS (in UTF-16 units, fewer than these bytes)


def _fit(segment: str, suffix: str = "") -> str:
    """``segment`` + ``suffix`` (before the extension) cut to :data:`MAX_SEGMENT_BYTES` bytes
    of UTF-8, keeping a short extension."""
    stem, dot, ext = segment.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8")) > 16:
        stem, ext = segment, ""
    tail = suffix + ("." + ext if ext else "")
    room = MAX_SEGMENT_BYTES - len(tail.encode("utf-8"))
    raw = stem.encode("utf-8")
    if len(raw) > room:
        stem = raw[:room].decode("utf-8", "ignore")
    return stem + tail


def _safe_segment(segment: str) -> str:
    seg = _UNSAFE.sub("_", unicodedata.normalize("NFC", segment)).rstrip(". ")
    if not seg:
        return "_"
    if seg.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        seg = "_" + seg
    return _fit(seg)


def safe_arcname(name: str) -> str:
    """A relative POSIX path that cannot escape the extraction directory and that every
    common filesystem accepts: NFC, no control, bidi-control or Windows-invalid characters,
    no trailing dots or spaces, no Windows device names, at most 255 bytes per segment."""
    parts = [p for p in re.split(r"[/\\]+", name) if p not in ("", ".", "..")]
    parts = [_safe_segment(p) for p in parts]
    return "/".join(parts) or "unnamed"


def _key(arc: str) -> str:
    """What two entry names must differ in to be two files everywhere: case, normalisation."""
    return unicodedata.normalize("NFC", arc).casefold()


class _Names:
    """Entry names already used in a zip: no duplicate, and no name that is both a file and
    a folder ("a" and "a/b"), compared without case and Unicode normalisation, so any
    extractor on any filesystem unpacks every entry."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        for r in reserved:
            self._claim(r)

    def _conflicts(self, arc: str) -> bool:
        low = _key(arc)
        if low in self.files or low in self.dirs:
            return True
        parts = low.split("/")
        return any("/".join(parts[:i]) in self.files for i in range(1, len(parts)))

    def _claim(self, arc: str) -> None:
        low = _key(arc)
        self.files.add(low)
        parts = low.split("/")
        self.dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))

    def place(self, arc: str) -> str:
        """``arc`` itself, or (on a clash) a flattened ``a_b~2.ext`` variant that is free."""
        if not self._conflicts(arc):
            self._claim(arc)
            return arc
        flat = arc.replace("/", "_")
        cand, i = _fit(flat), 2
        while self._conflicts(cand):
            cand = _fit(flat, f"~{i}")
            i += 1
        self._claim(cand)
        return cand


@functools.lru_cache(maxsize=8192)  # a session manifest asks again for every file on each rewrite
def workspace_arcname(name: str, source: str | None) -> str:
    """Where an artifact lies in the seed-001 session layout: an upload under
    ``code_workspace/attachments/`` (by its base name), anything else under ``code_workspace/``."""
    if source == "upload":
        return f"{ATTACHMENTS_DIR}/{safe_arcname(name.replace(chr(92), '/').rsplit('/', 1)[-1])}"
    return f"{WORKSPACE_DIR}/{safe_arcname(name)}"


def write_zip(root: Path, catalog: Catalog, blobs: BlobStore, dest: Any, namespace: str,
              session_id: str | None, manifest: dict[str, Any] | None = None) -> Any:
    """Zip the latest live version of each artifact in the scope into ``dest``.

    A session export holds the session's names at the top level; a namespace export holds
    namespace-level artifacts at the top and each session's under ``sessions/<id>/``. An
    ``_export_index.json`` lists what went where. With ``manifest`` (a session's
    ``attachments_manifest.json`` content) the session is laid out as seed 001's workspace
    (see :func:`workspace_arcname`), the manifest beside the attachments.
    """
    rows = catalog.iter_latest(namespace, session_id, exact_session=session_id is not None)
    if dest is None:
        label = quote(namespace, safe="") + (f"__{session_id}" if session_id else "")
        dest = Path(root) / "exports" / f"{label}.zip"
    if isinstance(dest, (str, os.PathLike)):
        path = Path(dest)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                _write(f, rows, blobs, session_id, manifest)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path
    _write(dest, rows, blobs, session_id, manifest)
    return dest


def _write(out: IO[bytes], rows: list[Any], blobs: BlobStore, session_id: str | None,
           manifest: dict[str, Any] | None = None) -> None:
    manifest_arc = f"{ATTACHMENTS_DIR}/attachments_manifest.json"
    used = _Names((INDEX_NAME,) + ((manifest_arc,) if manifest is not None else ()))
    index = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for r in rows:
            arc = safe_arcname(r["name"])
            if manifest is not None:
                arc = workspace_arcname(r["name"], r["source"])
            elif session_id is None and r["session_key"]:
                arc = f"sessions/{r['session_key']}/{arc}"
            arc = used.place(arc)
            info = zipfile.ZipInfo(arc, date_time=_date_time(r["created_at"]))
            mime = r["mime_type"] or ""
            info.compress_type = (
                zipfile.ZIP_STORED if mime.startswith(_STORED) and not is_text_mime(mime)
                else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            with blobs.open(r["sha256"]) as src, zf.open(
                info, "w", force_zip64=r["size_bytes"] >= 2**31 - CHUNK_SIZE
            ) as dst:
                shutil.copyfileobj(src, dst, CHUNK_SIZE)
            index.append({
                "path": arc, "name": r["name"], "artifact_id": r["artifact_id"],
                "version": r["version"], "session_id": r["session_id"],
                "mime_type": mime, "size_bytes": r["size_bytes"], "sha256": r["sha256"],
                "tags": json.loads(r["tags"] or "[]"),
            })
        if manifest is not None:
            zf.writestr(manifest_arc, json.dumps(manifest, indent=2))
        zf.writestr(INDEX_NAME, json.dumps({"artifacts": index}, indent=2))


def _date_time(created_at: str | None) -> tuple[int, int, int, int, int, int]:
    import datetime as dt

    ts = parse_iso(created_at) or 315532800.0
    d = dt.datetime.fromtimestamp(max(ts, 315532800.0), tz=dt.timezone.utc)
    return (d.year, d.month, d.day, d.hour, d.minute, d.second)
