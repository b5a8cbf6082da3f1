"""Word (``.docx``, python-docx) and PowerPoint (``.pptx``, python-pptx) documents.

- Word: sections by heading style (``Title``, ``Heading 1`` ... ``Heading 9``), each with its
  heading path, so citations read ``report.docx v1, § Results > Churn``. A table is its own
  segment: one line per row (cells joined with `` | ``), the header row as the context of
  every chunk, like a CSV file.
- PowerPoint: one segment per slide, located at ``{"slide": n}`` (``deck.pptx v1, slide 7``):
  the title (also the segment's heading), the text of every shape (groups and tables
  included) in order, then the speaker notes.

Both are zip archives whose unpacked size is checked first (:func:`.formats.check_zip`).
"""

from __future__ import annotations

import io
import re
from typing import Any, Iterable

from .extract import ExtractionError, Extracted, Segment
from .formats import check_zip

__all__ = ["extract_docx", "extract_pptx"]

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


class _Builder:
    """Accumulates text and segments."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.parts: list[str] = []
        self.size = 0
        self.segments: list[Segment] = []

    def add(self, body: str, heading: tuple[str, ...] = (), context: str = "",
            location: dict[str, Any] | None = None) -> None:
        body = body.strip()
        if not body:
            return
        self.segments.append(Segment(self.size, self.size + len(body), heading,
                                     context=context, location=location or {}))
        self.parts.append(body + "\n\n")
        self.size += len(body) + 2

    def done(self) -> Extracted:
        return Extracted(self.kind, "".join(self.parts), self.segments)


def _open_failed(label: str, exc: Exception) -> ExtractionError:
    return ExtractionError(f"{label} could not be read: {type(exc).__name__}: {exc}; "
                           "re-save it from its application")


# --- Word ---------------------------------------------------------------------------------

def extract_docx(data: bytes) -> Extracted:
    """Sections by heading, tables as rows with their header."""
    check_zip(data, "docx")
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
        levels = _heading_levels(document)
        out = _Builder("docx")
        path: list[tuple[int, str]] = []
        section: list[str] = []  # the heading line (if any) and the paragraphs under it
        body = False  # whether the section has more than its heading line

        def flush() -> None:
            if body:  # a heading alone is in its sub-sections' paths
                out.add("\n\n".join(section), tuple(t for _, t in path))

        for block in document.iter_inner_content():
            if isinstance(block, Table):
                flush()
                section, body = [], False
                _add_table(out, _table_rows(block), tuple(t for _, t in path))
                continue
            text = block.text.strip()
            if not text:
                continue
            level = levels.get(block._p.style)  # the paragraph's style id (None: Normal)
            if level is None:
                section.append(text)
                body = True
                continue
            flush()
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, " ".join(text.split()))]
            section, body = [text], False
        flush()
        return out.done()
    except ExtractionError:
        raise
    except Exception as exc:
        raise _open_failed("Word document", exc) from None


def _heading_levels(document) -> dict[str, int]:
    """Style id -> heading level (``Title`` 0, ``Heading n`` n), read once: a paragraph's
    ``.style`` looks the style up among all of them, which made long documents slow."""
    levels: dict[str, int] = {}
    for style in document.styles:
        try:
            name = (style.name or "").strip()
            style_id = style.style_id
        except Exception:  # a style element without a name or id
            continue
        m = _HEADING_STYLE.match(name)
        if name.lower() == "title":
            levels[style_id] = 0
        elif m:
            levels[style_id] = int(m.group(1))
    return levels


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats across the columns it spans
                continue
            last = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(cells)
    return rows


def _add_table(out: _Builder, rows: list[list[str]], heading: tuple[str, ...]) -> None:
    if len(rows) == 1:
        out.add(" | ".join(rows[0]), heading)
    elif rows:
        out.add("\n".join(" | ".join(r) for r in rows[1:]), heading, context=" | ".join(rows[0]))


# --- PowerPoint ---------------------------------------------------------------------------

def extract_pptx(data: bytes) -> Extracted:
    """One segment per slide: title, shape text and tables in order, speaker notes."""
    check_zip(data, "pptx")
    try:
        from pptx import Presentation

        deck = Presentation(io.BytesIO(data))
        out = _Builder("pptx")
        for number, slide in enumerate(deck.slides, start=1):
            title_shape = slide.shapes.title
            title = " ".join(title_shape.text_frame.text.split()) \
                if title_shape is not None and title_shape.has_text_frame else ""
            parts = [title] if title else []
            title_id = title_shape.shape_id if title_shape is not None else None
            parts.extend(_shape_texts(slide.shapes, title_id))
            if slide.has_notes_slide:
                frame = slide.notes_slide.notes_text_frame
                notes = frame.text.strip() if frame is not None else ""
                if notes:
                    parts.append("Notes: " + notes)
            out.add("\n\n".join(p for p in parts if p.strip()), (title,) if title else (),
                    location={"slide": number})
        return out.done()
    except ExtractionError:
        raise
    except Exception as exc:
        raise _open_failed("PowerPoint deck", exc) from None


def _shape_texts(shapes: Iterable[Any], skip_id: int | None) -> Iterable[str]:
    for shape in shapes:
        if skip_id is not None and shape.shape_id == skip_id:
            continue
        if getattr(shape, "shapes", None) is not None:  # a group shape
            yield from _shape_texts(shape.shapes, None)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[" ".join(c.text.split()) for c in row.cells] for row in shape.table.rows]
            yield "\n".join(" | ".join(r) for r in rows if any(r))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            text = shape.text_frame.text.strip()
            if text:
                yield text
