"""The registered document formats: Jupyter notebooks, spreadsheets, Word and PowerPoint.

Each kind names the extractor module that reads it and a size cap. :mod:`.extract` asks
:func:`kind_for` first in ``detect_kind`` and hands these kinds to :func:`extract`; the
extractor modules are imported only when a file of their kind is indexed, so importing the
index never imports openpyxl, python-docx or python-pptx.

A file over its kind's cap is ``failed`` before it is read (:func:`check_size`): these
formats are parsed whole (a notebook's JSON, a document's XML), so the cap bounds the memory
and time one file can take. Zip-based formats also have their unpacked size checked before
parsing (:func:`check_zip`, ``max_unzipped``), so a small zip that inflates to gigabytes
fails alone too.
"""

from __future__ import annotations

import importlib
import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .extract import Extracted

__all__ = ["KINDS", "FORMATS", "Format", "kind_for", "extract", "check_size", "check_zip"]

MB = 1024 * 1024


@dataclass(frozen=True)
class Format:
    """One registered kind: how it is recognised, which function extracts it, its cap."""

    kind: str
    label: str  # for messages: "Jupyter notebook", "Excel workbook", ...
    mimes: tuple[str, ...]
    exts: tuple[str, ...]
    extractor: str  # "module:function" inside notebook_artifacts.index
    max_bytes: int
    #: zip-based kinds: most bytes the archive's members may unpack to (the XML that is
    #: parsed; .xlsx is streamed, the others are parsed whole)
    max_unzipped: int = 0


FORMATS: dict[str, Format] = {f.kind: f for f in (
    Format("notebook", "Jupyter notebook", ("application/x-ipynb+json",), (".ipynb",),
           "extract_notebook:extract_notebook", 50 * MB),
    Format("xlsx", "Excel workbook",
           ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.ms-excel.sheet.macroenabled.12"), (".xlsx", ".xlsm"),
           "extract_sheets:extract_xlsx", 100 * MB, 1024 * MB),
    Format("xls", "Excel 97-2003 workbook", ("application/vnd.ms-excel",), (".xls",),
           "extract_sheets:extract_xls", 50 * MB),
    Format("ods", "OpenDocument spreadsheet", ("application/vnd.oasis.opendocument.spreadsheet",),
           (".ods",), "extract_sheets:extract_ods", 20 * MB, 100 * MB),
    Format("docx", "Word document",
           ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
           (".docx",), "extract_office:extract_docx", 50 * MB, 200 * MB),
    Format("pptx", "PowerPoint deck",
           ("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
           (".pptx",), "extract_office:extract_pptx", 100 * MB, 200 * MB),
)}
KINDS = frozenset(FORMATS)
_BY_MIME = {m: f.kind for f in FORMATS.values() for m in f.mimes}
_BY_EXT = {e: f.kind for f in FORMATS.values() for e in f.exts}


def kind_for(mime: str, ext: str) -> str | None:
    """The registered kind for a lower-case MIME type (no parameters) or extension (with the
    dot), or None. The extension wins: ``.xlsx`` stored as ``application/octet-stream`` is
    still a workbook."""
    return _BY_EXT.get(ext) or _BY_MIME.get(mime)


def extract(kind: str, data: bytes) -> "Extracted":
    """Run the extractor registered for ``kind`` (after the size checks)."""
    fmt = FORMATS[kind]
    _raise_if_over(fmt, len(data))
    module, func = fmt.extractor.split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), func)(data)


def check_size(mime_type: str | None, file_name: str | None, size: int | None) -> None:
    """Raise :class:`~.extract.ExtractionError` when a registered kind is over its cap, so
    the indexer fails it without reading the blob."""
    import os

    mime = (mime_type or "").split(";")[0].strip().lower()
    kind = kind_for(mime, os.path.splitext(file_name or "")[1].lower())
    if kind is not None and size is not None:
        _raise_if_over(FORMATS[kind], size)


def _raise_if_over(fmt: Format, size: int) -> None:
    if size > fmt.max_bytes:
        from .extract import ExtractionError

        raise ExtractionError(
            f"{fmt.label} of {_human(size)} is over the {_human(fmt.max_bytes)} indexing cap "
            f"for .{fmt.kind} files; it is stored but not searchable (split it, or export the "
            "part you need to search, e.g. a sheet as CSV)")


def _human(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{size:,} bytes"


def check_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """Open ``data`` as a zip, refusing a broken archive or one whose members unpack to more
    than the kind's ``max_unzipped`` (a zip bomb, or XML too large to parse)."""
    from .extract import ExtractionError

    fmt = FORMATS[kind]
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ExtractionError(
            f"not a valid {fmt.label} (the file is not a readable zip archive: {exc}); "
            "re-save it from its application") from None
    total = sum(i.file_size for i in zf.infolist())
    if fmt.max_unzipped and total > fmt.max_unzipped:
        raise ExtractionError(
            f"{fmt.label} unpacks to {_human(total)}, over the {_human(fmt.max_unzipped)} "
            f"indexing cap for .{fmt.kind} files; it is stored but not searchable")
    return zf
