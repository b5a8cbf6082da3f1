"""Text extraction: bytes of one artifact version -> plain text split into structural segments.

Every extractor returns an :class:`Extracted`: the full text (``text``) and its segments, each
with a heading path, an optional page number and its character span within ``text``. Chunking
works per segment, so chunks never straddle a heading, a page, a function or a row group.

Errors say what kind of failure it was:

- :class:`SkipExtraction` - binary or image content: stored and listed, never embedded.
- :class:`ExtractionError` - permanent: the file is malformed (bad JSON, broken PDF); retrying
  would give the same answer.
- :class:`TransientIndexError` - worth retrying with backoff (I/O hiccup, database busy).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from . import formats as _formats
from .extract_html_main import main_content

__all__ = [
    "Segment",
    "Extracted",
    "SkipExtraction",
    "ExtractionError",
    "TransientIndexError",
    "extract",
    "detect_kind",
    "is_embedded",
]


class SkipExtraction(Exception):
    """Content with no text to index (binary, image, audio...)."""


class ExtractionError(Exception):
    """Permanent failure: the content is malformed for its declared type."""


class TransientIndexError(Exception):
    """A failure that may pass on retry (I/O error, database busy)."""


@dataclass
class Segment:
    """A structural piece of the extracted text: ``text[start:end]`` of the document."""

    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    context: str = ""  # extra context for every chunk of this segment (a CSV header)
    #: where the segment is in its file, for citations: ``{"cell": 12}``, ``{"slide": 7}``,
    #: ``{"sheet": "Q3", "rows": [40, 80]}`` (see :func:`.context.format_location`)
    location: dict[str, Any] = field(default_factory=dict)
    #: tables: the 1-based row number of the segment's first line (chunks label their rows)
    first_row: int | None = None


@dataclass
class Extracted:
    """Extracted text and its structure. ``kind`` names the extractor that ran."""

    kind: str
    text: str
    segments: list[Segment] = field(default_factory=list)


CSV_ROWS_PER_GROUP = 10
JSON_ITEMS_PER_GROUP = 10

_CODE_EXT = {
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".go", ".rs", ".c", ".h",
    ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php", ".sh", ".bash", ".sql", ".r", ".jl",
    ".scala", ".kt", ".swift", ".lua", ".pl", ".m",
}
_TEXT_EXT = {".txt", ".text", ".log", ".rst", ".ini", ".cfg", ".toml", ".yaml", ".yml", ".tex"}
_BINARY_MIME_PREFIX = ("image/", "audio/", "video/", "font/")
_BINARY_MIME = {
    "application/zip", "application/gzip", "application/x-tar", "application/octet-stream",
    "application/x-7z-compressed", "application/vnd.ms-excel", "application/x-hdf5",
    "application/x-npy", "application/x-pickle", "application/x-sqlite3", "application/wasm",
}


def is_embedded(mime_type: str | None, file_name: str | None) -> bool:
    """False for content the index never embeds (images, archives, octet streams): it is
    stored ``skipped`` with nothing for the index worker to do."""
    return detect_kind(mime_type, file_name) != "binary"


def detect_kind(mime_type: str | None, file_name: str | None) -> str:
    """The extractor to use: pdf, markdown, html, json, csv, parquet, code, text, binary, or
    one of :data:`.formats.KINDS` (notebook, xlsx, xls, ods, docx, pptx)."""
    mime = (mime_type or "").split(";")[0].strip().lower()
    ext = os.path.splitext(file_name or "")[1].lower()
    registered = _formats.kind_for(mime, ext)  # notebooks, spreadsheets, Word, PowerPoint
    if registered:
        return registered
    if mime == "application/pdf" or ext == ".pdf":
        return "pdf"
    if mime in ("text/markdown", "text/x-markdown") or ext in (".md", ".markdown"):
        return "markdown"
    if mime in ("text/html", "application/xhtml+xml") or ext in (".html", ".htm"):
        return "html"
    if mime in ("application/json", "application/ld+json") or ext in (".json", ".ipynb", ".jsonl"):
        return "jsonl" if ext == ".jsonl" else "json"
    if mime in ("text/csv", "text/tab-separated-values") or ext in (".csv", ".tsv"):
        return "csv"
    if mime == "application/vnd.apache.parquet" or ext == ".parquet":
        return "parquet"
    if ext in _CODE_EXT or mime in ("text/x-python", "application/x-python-code",
                                    "text/javascript", "application/javascript",
                                    "application/sql"):
        return "code"
    if mime.startswith(_BINARY_MIME_PREFIX) or mime in _BINARY_MIME:
        return "binary"
    if mime.startswith("text/") or ext in _TEXT_EXT or mime in (
            "application/xml", "application/x-yaml", "application/toml"):
        return "text"
    return "sniff"  # unknown: decide from the bytes


def extract(data: bytes, mime_type: str | None = None, file_name: str | None = None) -> Extracted:
    """Extract indexable text from ``data`` declared as ``mime_type`` / ``file_name``."""
    kind = detect_kind(mime_type, file_name)
    if kind == "binary":
        raise SkipExtraction(f"binary content ({mime_type or 'unknown type'}) is not embedded")
    if kind in _formats.KINDS:
        return _formats.extract(kind, data)
    if kind == "pdf":
        return _extract_pdf(data)
    if kind == "parquet":
        return _extract_parquet(data)
    text = _decode(data, sniff=kind == "sniff")
    if kind == "sniff":
        kind = "text"
    if kind == "markdown":
        return _extract_markdown(text)
    if kind == "html":
        return _extract_html(main_content(text))  # boilerplate of web pages left out
    if kind == "json":
        return _extract_json(text, file_name)
    if kind == "jsonl":
        return _extract_plain(text, "jsonl")
    if kind == "csv":
        delim = "\t" if (file_name or "").lower().endswith(".tsv") or "tab-separated" in (mime_type or "") else ","
        return _extract_csv(text, delim)
    if kind == "code":
        return _extract_code(text, file_name)
    return _extract_plain(text, "text")


# --- helpers ------------------------------------------------------------------------------

def _decode(data: bytes, sniff: bool) -> str:
    head = data[:8192]
    if b"\x00" in head:
        raise SkipExtraction("binary content (NUL bytes) is not embedded")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if sniff:
            raise SkipExtraction("content is not UTF-8 text; stored but not embedded") from None
        text = data.decode("latin-1")
    if sniff:
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])
        if text and printable / min(len(text), 4096) < 0.9:
            raise SkipExtraction("content does not look like text; stored but not embedded")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _whole(kind: str, text: str) -> Extracted:
    return Extracted(kind, text, [Segment(0, len(text))] if text.strip() else [])


def _extract_plain(text: str, kind: str) -> Extracted:
    return _whole(kind, text)


_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _extract_markdown(text: str) -> Extracted:
    """Sections between ATX headings (outside code fences), each with its heading path."""
    segments: list[Segment] = []
    path: list[tuple[int, str]] = []
    start, current = 0, ()
    pos, in_fence = 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            in_fence = not in_fence
        m = None if in_fence else _MD_HEADING.match(line.rstrip("\n"))
        if m:
            if _has_body(text[start:pos], bool(current)):
                segments.append(Segment(start, pos, current))
            level, title = len(m.group(1)), m.group(2).strip()
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
            current = tuple(t for _, t in path)
            start = pos  # the heading line belongs to its own section
        pos += len(line)
    if _has_body(text[start:], bool(current)):
        segments.append(Segment(start, len(text), current))
    return Extracted("markdown", text, segments)


def _has_body(section: str, starts_with_heading: bool) -> bool:
    """False for an empty section or one that is only its heading line (its sub-sections
    carry the heading in their path)."""
    if starts_with_heading:
        section = section.split("\n", 1)[1] if "\n" in section else ""
    return bool(section.strip())


_HEADING_TAGS = frozenset(f"h{i}" for i in range(1, 7))
_WS_RUN = re.compile(r"[ \t\n]+")


def _squeeze(raw: str, offsets: list[int]) -> tuple[str, list[int]]:
    """``raw`` with each whitespace run cut to its first space or tab (if it starts with one)
    plus at most two newlines; and ``offsets`` (ascending, into ``raw``) mapped to the result.
    Linear in ``len(raw) + len(offsets)``."""
    out: list[str] = []
    mapped: list[int] = []
    size = 0  # characters in ``out``
    pos = 0  # next character of ``raw`` not yet copied
    it = iter(offsets)
    nxt = next(it, None)
    for m in _WS_RUN.finditer(raw):
        a, b = m.span()
        while nxt is not None and nxt < a:  # inside the text before this run
            mapped.append(size + (nxt - pos))
            nxt = next(it, None)
        out.append(raw[pos:a])
        size += a - pos
        run = m.group()
        lead = 0 if run[0] == "\n" else 1  # a first space or tab is kept
        first = run.find("\n")
        second = run.find("\n", first + 1) if first >= 0 else -1
        while nxt is not None and nxt < b:  # inside this run: what its kept part holds so far
            k = nxt - a
            mapped.append(size + min(lead, k) + (0 <= first < k) + (0 <= second < k))
            nxt = next(it, None)
        nl = min(run.count("\n"), 2)
        piece = ("" if run[0] == "\n" else run[0]) + "\n" * nl
        out.append(piece)
        size += len(piece)
        pos = b
    while nxt is not None:
        mapped.append(size + min(nxt, len(raw)) - pos)
        nxt = next(it, None)
    out.append(raw[pos:])
    return "".join(out), mapped


class _HTMLText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg"}
    _BLOCK = {"p", "div", "li", "tr", "br", "section", "article", "table", "ul", "ol", "pre",
              "blockquote", "header", "footer", "main", "nav", "dd", "dt", "figcaption"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0  # len("".join(parts)), kept as parts are added (linear, not a re-sum)
        self.headings: list[tuple[int, int, str]] = []  # (offset, level, title)
        self._skip = 0
        self._heading: tuple[int, int, list[str]] | None = None
        self.title = ""
        self._in_title = False

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def updatepos(self, i: int, j: int) -> int:
        return j  # line/column tracking (getpos) is never used: skip counting newlines

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _HEADING_TAGS:
            self._add("\n\n")
            self._heading = (self.size, int(tag[1]), [])
        elif tag in self._BLOCK:
            self._add("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _HEADING_TAGS and self._heading:
            off, level, words = self._heading
            self.headings.append((off, level, " ".join("".join(words).split())))
            self._heading = None
            self._add("\n")
        elif tag in self._BLOCK:
            self._add("\n")

    def handle_data(self, data):
        if self._skip:
            return
        if self._in_title:
            self.title += data
            return
        if self._heading is not None:
            self._heading[2].append(data)
        self._add(data)


_COMMENT_CLOSE = re.compile(r"--\s*>")  # what html.parser (3.11) ends a comment with
_SECTION_CLOSE = re.compile(r"]\s*]\s*>")  # ... and a <![CDATA[ marked section


def _last_end(pattern: "re.Pattern[str]", text: str) -> int:
    end = 0
    for m in pattern.finditer(text):
        end = m.end()
    return end


def _defuse_unclosed(text: str) -> str:
    """Escape each ``<`` that opens what can never be closed: after the last ``>``, a ``<!--``
    after the last comment end, a ``<![`` after the last ``]]>``. Python's html.parser
    (before 3.13.4) rescans to the end of the document for each of them (quadratic), and at
    the end shows them as text, which ``&lt;`` gives at once."""
    cut = text.rfind(">") + 1
    head, tail = text[:cut], text[cut:].replace("<", "&lt;")
    if "<!--" in head:
        c = _last_end(_COMMENT_CLOSE, head)
        head = head[:c] + head[c:].replace("<!--", "&lt;!--")
    if "<![" in head:
        c = _last_end(_SECTION_CLOSE, head)
        head = head[:c] + head[c:].replace("<![", "&lt;![")
    return head + tail


def _extract_html(text: str) -> Extracted:
    parser = _HTMLText()
    try:
        parser.feed(_defuse_unclosed(text))
        parser.close()
    except Exception as exc:  # html.parser is lenient; this is a truly broken document
        raise ExtractionError(f"HTML could not be parsed: {exc}") from exc
    squeezed, mapped = _squeeze("".join(parser.parts), [off for off, _, _ in parser.headings])
    body = squeezed.strip("\n")
    shift = len(squeezed) - len(squeezed.lstrip("\n"))
    segments: list[Segment] = []
    bounds = [(max(0, m - shift), level, title)
              for m, (_, level, title) in zip(mapped, parser.headings)]
    path: list[tuple[int, str]] = []
    title = " ".join(parser.title.split())
    if bounds and bounds[0][2] == title:
        title = ""  # the first heading repeats the <title>
    start, current = 0, ((title,) if title else ())
    base = current
    for off, level, heading in bounds:
        off = min(off, len(body))
        if _has_body(body[start:off], len(current) > len(base)):
            segments.append(Segment(start, off, current))
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, heading)]
        current = base + tuple(t for _, t in path)
        start = off
    if _has_body(body[start:], len(current) > len(base)):
        segments.append(Segment(start, len(body), current))
    return Extracted("html", body, segments)


def _extract_json(text: str, file_name: str | None) -> Extracted:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExtractionError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; "
            "fix the file or store it with a non-JSON MIME type") from None
    if isinstance(value, dict):
        parts = [(str(k), _json_text(v, k)) for k, v in value.items()]
    elif isinstance(value, list):
        parts = []
        for i in range(0, len(value), JSON_ITEMS_PER_GROUP):
            group = value[i:i + JSON_ITEMS_PER_GROUP]
            parts.append((f"items {i + 1}-{i + len(group)}",
                          "\n".join(json.dumps(v, ensure_ascii=False) for v in group)))
    else:
        parts = [("", json.dumps(value, ensure_ascii=False))]
    return _join_sections("json", parts)


def _json_text(v, key) -> str:
    if isinstance(v, str):
        return f"{key}: {v}"
    return f"{key}: " + json.dumps(v, ensure_ascii=False, indent=1)


def _join_sections(kind: str, parts: list[tuple[str, str]]) -> Extracted:
    text, segments = "", []
    for heading, body in parts:
        if not body.strip():
            continue
        start = len(text)
        text += body + "\n\n"
        segments.append(Segment(start, start + len(body), (heading,) if heading else ()))
    return Extracted(kind, text, segments)


def _extract_csv(text: str, delimiter: str) -> Extracted:
    """Row groups of ``CSV_ROWS_PER_GROUP`` rows; each group is one segment."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return Extracted("csv", text, [])
    try:
        header = next(csv.reader([lines[0]], delimiter=delimiter))
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise ExtractionError(f"malformed CSV: {exc}") from None
    width = len(header)
    if width > 1 and any(len(r) not in (0, width) for r in rows[1:50]):
        bad = next(i for i, r in enumerate(rows[1:50], start=2) if len(r) not in (0, width))
        raise ExtractionError(
            f"malformed CSV: row {bad} has {len(rows[bad - 1])} fields, header has {width}")
    segments, pos = [], len(lines[0])
    row_lines = lines[1:]
    for i in range(0, len(row_lines), CSV_ROWS_PER_GROUP):
        group = row_lines[i:i + CSV_ROWS_PER_GROUP]
        size = sum(len(x) for x in group)
        if "".join(group).strip():
            segments.append(Segment(pos, pos + size, (f"rows {i + 1}-{i + len(group)}",),
                                    context=lines[0].strip(), first_row=i + 1))
        pos += size
    if not segments and lines[0].strip():
        segments.append(Segment(0, len(lines[0]), ()))
    return Extracted("csv", text, segments)


def _extract_parquet(data: bytes) -> Extracted:
    try:
        import pandas as pd

        df = pd.read_parquet(io.BytesIO(data))
    except ImportError as exc:  # pragma: no cover - parquet extra missing
        raise SkipExtraction(f"parquet needs pyarrow to be indexed ({exc})") from None
    except Exception as exc:
        raise ExtractionError(f"parquet file could not be read: {exc}") from None
    return _extract_csv(df.to_csv(index=False), ",")


_DEF_LINE = re.compile(
    r"^(?:export\s+)?(?:pub\s+)?(?:async\s+)?(?:def|class|function|func|fn|interface|struct|impl)\s+(\w+)")


def _extract_code(text: str, file_name: str | None) -> Extracted:
    """Python: top-level functions and classes (via ``ast``); others: definition lines."""
    starts = _line_starts(text)
    blocks: list[tuple[int, str]] = []  # (line index 0-based, label)
    if (file_name or "").endswith((".py", ".pyi")):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = None  # still text; fall back to the regex below
        if tree is not None:
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
                    kw = "class" if isinstance(node, ast.ClassDef) else "def"
                    blocks.append((first, f"{kw} {node.name}"))
    if not blocks:
        for i, line in enumerate(text.split("\n")):
            m = _DEF_LINE.match(line)
            if m:
                blocks.append((i, line.strip().rstrip("{:").strip()[:80]))
    segments, prev, label = [], 0, ()
    for line_no, name in blocks:
        off = starts[min(line_no, len(starts) - 1)]
        if text[prev:off].strip():
            segments.append(Segment(prev, off, label))
        prev, label = off, (name,)
    if text[prev:].strip():
        segments.append(Segment(prev, len(text), label))
    return Extracted("code", text, segments)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def _extract_pdf(data: bytes) -> Extracted:
    """One segment per page (1-based ``page``), text from pypdf."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover
        raise SkipExtraction(f"PDF text extraction needs pypdf ({exc})") from None
    if not data.lstrip().startswith(b"%PDF"):
        raise ExtractionError("not a PDF file (no %PDF header); store it with its real type")
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [(p.extract_text() or "") for p in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ExtractionError(f"PDF could not be read: {exc}") from None
    except Exception as exc:  # pypdf raises a variety of errors on broken files
        raise ExtractionError(f"PDF could not be read: {type(exc).__name__}: {exc}") from None
    text, segments = "", []
    for number, page_text in enumerate(pages, start=1):
        page_text = page_text.replace("\r\n", "\n").strip()
        if not page_text:
            continue
        start = len(text)
        text += page_text + "\n\n"
        segments.append(Segment(start, start + len(page_text), (), number))
    if not segments and pages:
        raise SkipExtraction("PDF has no extractable text (scanned images?); not embedded")
    return Extracted("pdf", text, segments)
