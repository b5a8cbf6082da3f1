"""Jupyter notebooks (``.ipynb``, read with nbformat): one segment per cell, outputs beside it.

- Each cell's source is a segment located at ``{"cell": n}`` (1-based, in notebook order), so
  citations read ``analysis.ipynb v3, cell 12``.
- A code cell's text outputs are a second segment of the same cell: ``stream`` text,
  ``text/plain`` results (a DataFrame's table included) and errors as ``Name: message``.
  Images, HTML-only results, widget views and outputs over :data:`MAX_OUTPUT_CHARS` are left
  out; ANSI colours and progress-bar redraws are cleaned.
- Markdown headings give the section path of every cell after them, as in a Markdown file.
- Nothing that changes on a plain re-run (execution counts, cell ids, metadata) is in the
  text, and the cell number is in the location only, not in the embedded text: a re-run whose
  outputs changed in two cells gives new chunk texts for those two cells alone, and the
  embedding cache re-embeds only them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .extract import ExtractionError, Extracted, Segment, _FENCE, _MD_HEADING

__all__ = ["extract_notebook", "MAX_OUTPUT_CHARS", "MAX_CELL_OUTPUT_CHARS"]

#: One output longer than this (a log dump, a huge printed frame) is left out.
MAX_OUTPUT_CHARS = 4000
#: At most this much output text is kept per cell.
MAX_CELL_OUTPUT_CHARS = 8000

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def extract_notebook(data: bytes) -> Extracted:
    """Segments of a notebook: cell sources and their text outputs, with heading paths."""
    cells = _read_cells(data)
    text, segments = "", []
    path: list[tuple[int, str]] = []

    def add(body: str, heading: tuple[str, ...], cell: int, context: str = "") -> None:
        nonlocal text
        if not body.strip():
            return
        start = len(text)
        text += body + "\n\n"
        segments.append(Segment(start, start + len(body), heading, context=context,
                                location={"cell": cell}))

    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type", "code")
        source = _joined(cell.get("source", "")).rstrip()
        if kind == "markdown":
            path = _headings(source, path)
        heading = tuple(t for _, t in path)
        add(source, heading, number)
        if kind == "code":
            first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
            outputs = cell.get("outputs")
            add(_outputs_text(outputs if isinstance(outputs, list) else ()), heading, number,
                context=f"output of: {first[:120]}" if first else "output")
    return Extracted("notebook", text, segments)


def _read_cells(data: bytes) -> list[Any]:
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ExtractionError("notebook is not UTF-8 JSON; re-save it from Jupyter") from None
    except json.JSONDecodeError as exc:
        raise ExtractionError(
            f"notebook is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
            "re-save it from Jupyter") from None
    if not isinstance(raw, dict):
        raise ExtractionError("not a Jupyter notebook: the JSON is not an object with cells")
    if "nbformat" in raw:  # nbformat converts older versions (v3 worksheets) to v4 cells
        try:
            import nbformat

            raw = nbformat.convert(nbformat.from_dict(raw), 4)
        except ImportError:  # pragma: no cover - the index extra brings nbformat
            pass
        except Exception as exc:
            raise ExtractionError(f"notebook could not be read by nbformat: {exc}") from None
    cells = raw.get("cells")
    if not isinstance(cells, list):
        raise ExtractionError("not a Jupyter notebook: no list of cells")
    return cells


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return "" if value is None else str(value)


def _headings(source: str, path: list[tuple[int, str]]) -> list[tuple[int, str]]:
    in_fence = False
    for line in source.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        m = None if in_fence else _MD_HEADING.match(line)
        if m:
            level, title = len(m.group(1)), m.group(2).strip()
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
    return path


def _outputs_text(outputs: Iterable[Any]) -> str:
    parts: list[str] = []
    used = 0
    for out in outputs:
        piece = _output_text(out)
        if not piece or len(piece) > MAX_OUTPUT_CHARS:
            continue
        if used + len(piece) > MAX_CELL_OUTPUT_CHARS:
            break
        parts.append(piece)
        used += len(piece)
    return "\n\n".join(parts)


def _output_text(out: Any) -> str:
    if not isinstance(out, dict):
        return ""
    kind = out.get("output_type")
    if kind == "stream":
        return _clean(_joined(out.get("text")))
    if kind in ("execute_result", "display_data"):
        data = out.get("data")
        if not isinstance(data, dict):
            return ""
        if _WIDGET_MIME in data or any(str(m).startswith("image/") for m in data):
            return ""  # a widget view or a figure: its text/plain is only a repr of the object
        return _clean(_joined(data.get("text/markdown") or data.get("text/plain") or ""))
    if kind == "error":
        return f"{out.get('ename', 'Error')}: {_clean(str(out.get('evalue', '')))}"
    return ""


def _clean(text: str) -> str:
    """No ANSI escapes; of each line redrawn with ``\\r`` (a progress bar), its last state."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n")).strip()
