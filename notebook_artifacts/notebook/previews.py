"""Inline previews of artifact content, safe to show in a notebook.

* Images (PNG, JPEG, GIF, WebP, recognised by their bytes, not by the declared type): a small
  thumbnail as an ``<img>`` data URI (Pillow shrinks it; without Pillow only small images).
* CSV, TSV, Parquet: the first rows as a table (pandas escapes every cell).
* PDF: the first page's text (pypdf), as escaped preformatted text.
* JSON: a collapsible tree of ``<details>`` elements: no JavaScript.
* Text of any kind, HTML and SVG included: escaped source, never rendered as markup.

Nothing from the artifact reaches the page as active content: every string is escaped, images
are re-encoded (or embedded only after their magic bytes were checked), and SVG, HTML and
anything else are shown as text.

:class:`ArtifactView` is a record card with its preview: what ``%artifact show`` returns and
what the dashboard shows for the selected artifact.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from typing import Any

from ..models import Artifact
from ..protocol import Store
from ..reprs import PRE, _e, artifact_html, artifact_text, cut_at_word, format_size

__all__ = ["preview_html", "ArtifactView", "THUMBNAIL_PX"]

#: Longest side of an image thumbnail, in pixels.
THUMBNAIL_PX = 320
#: Images up to this size are embedded as they are when Pillow is not installed.
RAW_IMAGE_LIMIT = 48 * 1024
#: Tables and PDFs larger than this are not opened for a preview.
OPEN_LIMIT = 64 * 1024 * 1024
TABLE_ROWS = 8
TEXT_CHARS = 1500
JSON_ITEMS = 50
JSON_DEPTH = 6

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _image_type(head: bytes) -> str | None:
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _note(text: str) -> str:
    return f'<div class="na-muted" style="color:var(--jp-ui-font-color2,#57606a);font-size:12px">{_e(text)}</div>'


def _pre(text: str) -> str:
    return f'<pre class="na-pre" style="{PRE}">{_e(text)}</pre>'


def _image(store: Store, art: Artifact) -> str | None:
    with store.open(art.artifact_id) as f:
        head = f.read(16)
    mime = _image_type(head)
    if mime is None:
        return None  # declared an image, but its bytes are not one we render
    try:
        from PIL import Image
    except ImportError:
        Image = None  # type: ignore[assignment]
    if Image is not None and art.size_bytes <= OPEN_LIMIT:
        try:
            with store.open(art.artifact_id) as f, Image.open(f) as img:
                width, height = img.size
                img.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
                out = io.BytesIO()
                if img.mode not in ("RGB", "RGBA", "L", "LA"):
                    img = img.convert("RGBA")
                img.save(out, format="PNG", optimize=True)
            data, mime = out.getvalue(), "image/png"
        except Exception as exc:  # a corrupt image: say so, show nothing
            return _note(f"image preview unavailable: {exc}")
        size = f"{width}\u00d7{height} px"
    elif art.size_bytes <= RAW_IMAGE_LIMIT:
        data, size = store.read_bytes(art.artifact_id), format_size(art.size_bytes)
    else:
        return _note("image too large to preview without Pillow (pip install pillow)")
    src = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return (f'<div class="na-preview na-preview-image"><img src="{src}" alt="{_e(art.name)}" '
            f'style="max-width:{THUMBNAIL_PX}px;max-height:{THUMBNAIL_PX}px;border:1px solid '
            f'var(--jp-border-color2,#d0d7de)">{_note(size)}</div>')


def _table(store: Store, art: Artifact, mime: str) -> str | None:
    import pandas as pd

    if art.size_bytes > OPEN_LIMIT and mime.endswith("parquet"):
        return _note(f"{format_size(art.size_bytes)}: too large to preview")
    with store.open(art.artifact_id) as f:
        if mime.endswith("parquet"):
            frame = pd.read_parquet(f)
            total = f"{len(frame)} rows"
            frame = frame.head(TABLE_ROWS)
        else:
            sep = "\t" if mime.endswith("tab-separated-values") else ","
            frame = pd.read_csv(f, sep=sep, nrows=TABLE_ROWS)
            total = "first rows"
    table = frame.to_html(escape=True, index=False, border=0, max_cols=20, classes="na-table")
    return (f'<div class="na-preview na-preview-table" style="overflow-x:auto">{table}'
            f"{_note(f'{total}, {len(frame.columns)} columns')}</div>")


def _pdf(store: Store, art: Artifact) -> str | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        text = art.content_text
        return _pre(cut_at_word(text, TEXT_CHARS)) if text else None
    if art.size_bytes > OPEN_LIMIT:
        return _note(f"{format_size(art.size_bytes)}: too large to preview")
    with store.open(art.artifact_id) as f:
        reader = PdfReader(io.BytesIO(f.read()))
        pages = len(reader.pages)
        text = reader.pages[0].extract_text() if pages else ""
    text = " ".join((text or "").split())
    return (f'<div class="na-preview na-preview-pdf">{_note(f"page 1 of {pages}")}'
            f"{_pre(cut_at_word(text, TEXT_CHARS) or '(no text on page 1)')}</div>")


def _json_node(value: Any, depth: int) -> str:
    if isinstance(value, dict):
        items = list(value.items())
        kind = f"{{{len(items)} keys}}"
    elif isinstance(value, list):
        items = list(enumerate(value))
        kind = f"[{len(items)} items]"
    else:
        return f"<code>{_e(json.dumps(value, ensure_ascii=False))}</code>"
    if depth >= JSON_DEPTH:
        return f"<code>{_e(kind)}</code>"
    rows = "".join(f"<li><b>{_e(k)}</b>: {_json_node(v, depth + 1)}</li>" for k, v in items[:JSON_ITEMS])
    if len(items) > JSON_ITEMS:
        rows += f"<li>\u2026 {len(items) - JSON_ITEMS} more</li>"
    opened = " open" if depth < 2 else ""
    return (f"<details{opened}><summary>{_e(kind)}</summary>"
            f'<ul style="margin:0;padding-left:18px;list-style:none">{rows}</ul></details>')


def _json(store: Store, art: Artifact) -> str | None:
    if art.size_bytes > 4 * 1024 * 1024:
        return None  # the text preview is enough
    with store.open(art.artifact_id) as f:
        value = json.load(f)
    return f'<div class="na-preview na-preview-json" style="font-size:12px">{_json_node(value, 0)}</div>'


def _text(store: Store, art: Artifact) -> str | None:
    text = art.content or art.content_preview
    if text is None:  # not stored as text (e.g. SVG, or a mislabelled file): text if it decodes
        with store.open(art.artifact_id) as f:
            head = f.read(TEXT_CHARS * 4)
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if "\x00" in text:
            return None
    if len(text) > TEXT_CHARS or art.size_bytes > len(text.encode("utf-8")):
        text = cut_at_word(text, min(TEXT_CHARS, max(1, len(text) - 1)))
    return f'<div class="na-preview na-preview-text">{_pre(text)}</div>'


def preview_html(store: Store, art: Artifact) -> str:
    """The safe inline preview of one version (an empty string when there is nothing to show)."""
    mime = (art.mime_type or "").split(";", 1)[0].strip().lower()
    try:
        if mime.startswith("image/") and mime != "image/svg+xml":
            out = _image(store, art)
        elif mime in ("text/csv", "text/tab-separated-values", "application/vnd.apache.parquet"):
            out = _table(store, art, mime)
        elif mime == "application/pdf":
            out = _pdf(store, art)
        elif mime == "application/json":
            out = _json(store, art)
        else:
            out = None
        if out is None:
            out = _text(store, art)  # text of any kind (HTML and SVG too) as escaped text
    except Exception as exc:  # a preview never breaks the card
        out = _note(f"no preview: {type(exc).__name__}: {exc}")
    return out or ""


class ArtifactView(Artifact):
    """An :class:`~notebook_artifacts.Artifact` record (it is one: same fields, ``to_dict``,
    ``isinstance``) that shows its card with an inline preview: what ``%artifact show`` and
    ``%artifact put`` return, and what the dashboard shows for the selected artifact."""

    def __init__(self, store: Store, record: Artifact) -> None:
        super().__init__(**{f.name: getattr(record, f.name) for f in dataclasses.fields(Artifact)})
        self._store = store

    @property
    def record(self) -> Artifact:
        """The plain record."""
        return Artifact(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Artifact)})

    def preview_html(self) -> str:
        return preview_html(self._store, self)

    def _repr_html_(self) -> str:
        return artifact_html(self, preview_html=self.preview_html())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(artifact_text(self))
