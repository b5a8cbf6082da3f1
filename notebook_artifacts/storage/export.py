"""Streamed zip export of a session or a namespace, with safe names inside."""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from .blobs import CHUNK_SIZE, BlobStore
from .catalog import Catalog
from .mime import is_text_mime
from .ttl import parse_iso

__all__ = ["write_zip", "safe_arcname", "INDEX_NAME"]

INDEX_NAME = "_export_index.json"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f:*?"<>|]')
_STORED = ("image/", "video/", "audio/", "application/zip", "application/gzip",
           "application/vnd.apache.parquet", "application/pdf")


def safe_arcname(name: str) -> str:
    """A relative POSIX path that cannot escape the extraction directory."""
    parts = [_UNSAFE.sub("_", p) for p in re.split(r"[/\\]+", name)]
    parts = [p for p in parts if p not in ("", ".", "..")]
    return "/".join(parts) or "unnamed"


class _Names:
    """Entry names already used in a zip: no duplicate, and no name that is both a file and
    a folder ("a" and "a/b"), compared case-insensitively, so any extractor can unpack it."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        for r in reserved:
            self._claim(r)

    def _conflicts(self, arc: str) -> bool:
        low = arc.lower()
        if low in self.files or low in self.dirs:
            return True
        parts = low.split("/")
        return any("/".join(parts[:i]) in self.files for i in range(1, len(parts)))

    def _claim(self, arc: str) -> None:
        low = arc.lower()
        self.files.add(low)
        parts = low.split("/")
        self.dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))

    def place(self, arc: str) -> str:
        """``arc`` itself, or (on a clash) a flattened ``a_b~2.ext`` variant that is free."""
        if not self._conflicts(arc):
            self._claim(arc)
            return arc
        flat = arc.replace("/", "_")
        stem, dot, ext = flat.rpartition(".")
        if not dot or not stem:
            stem, ext = flat, ""
        cand, i = flat, 2
        while self._conflicts(cand):
            cand = f"{stem}~{i}.{ext}" if ext else f"{stem}~{i}"
            i += 1
        self._claim(cand)
        return cand


def write_zip(root: Path, catalog: Catalog, blobs: BlobStore, dest: Any, namespace: str,
              session_id: str | None) -> Any:
    """Zip the latest live version of each artifact in the scope into ``dest``.

    A session export holds the session's names at the top level; a namespace export holds
    namespace-level artifacts at the top and each session's under ``sessions/<id>/``. An
    ``_export_index.json`` lists what went where.
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
                _write(f, rows, blobs, session_id)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return path
    _write(dest, rows, blobs, session_id)
    return dest


def _write(out: IO[bytes], rows: list[Any], blobs: BlobStore, session_id: str | None) -> None:
    used = _Names((INDEX_NAME,))
    index = []
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for r in rows:
            arc = safe_arcname(r["name"])
            if session_id is None and r["session_key"]:
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
        zf.writestr(INDEX_NAME, json.dumps({"artifacts": index}, indent=2))


def _date_time(created_at: str | None) -> tuple[int, int, int, int, int, int]:
    import datetime as dt

    ts = parse_iso(created_at) or 315532800.0
    d = dt.datetime.fromtimestamp(max(ts, 315532800.0), tz=dt.timezone.utc)
    return (d.year, d.month, d.day, d.hour, d.minute, d.second)
