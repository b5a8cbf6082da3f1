"""Chunking: structural segments -> chunks that fit the embedding model's token window.

Two levels:

1. Structure first. Each :class:`~.extract.Segment` (a Markdown section, a PDF page, a Python
   function, a CSV row group) is chunked on its own, so a chunk never mixes two sections.
2. Tokens inside a segment, counted with the model's own tokenizer. Paragraphs are packed into
   chunks of at most ``budget`` tokens, where ``budget`` is the window (256 for
   all-MiniLM-L6-v2) minus the special tokens and the context prefix. A paragraph longer than
   the budget is cut into token windows that overlap by ``overlap`` tokens.

Boundaries are *content defined*: besides the size limit, a chunk also ends after an "anchor"
paragraph (one whose hash has a fixed property) once it holds half a budget. So an edit in one
paragraph moves at most the boundaries up to the next anchor: the chunks after it keep the same
text, hence the same sha256, and their embeddings come from the cache. This is what makes a
one-line change to a long document cheap to re-index.

The text that is embedded is prefixed with its context (artifact name, heading path, CSV header)
so that short chunks ("Returns None.") stay findable; ``text`` is the raw span. A table chunk
(CSV, TSV, DataFrame, Parquet) is labelled with the rows it holds (``rows 11-17``) and its
``passage``, what a query returns and ``combined_context`` shows, starts with the header row.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .extract import Extracted, Segment

__all__ = ["Chunk", "chunk_document", "context_prefix", "TokenOffsets"]

#: ``texts -> for each text, the (start, end) character offsets of its tokens``.
TokenOffsets = Callable[[Sequence[str]], list[list[tuple[int, int]]]]

_PARA = re.compile(r"\n[ \t]*\n+")


@dataclass
class Chunk:
    """One chunk of one artifact version."""

    ordinal: int
    text: str  # the raw span of the extracted text
    embed_text: str  # prefix + text: what is embedded and keyword-indexed
    start: int  # character span in Extracted.text
    end: int
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    tokens: int = 0
    location: dict[str, Any] = field(default_factory=dict)  # the segment's, rows narrowed
    lead: str = ""  # a line shown before the text (a table's header row)

    @property
    def passage(self) -> str:
        """What a reader sees: the lead line (a table's header) then the text."""
        return f"{self.lead}\n{self.text}" if self.lead else self.text

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()

    @property
    def section(self) -> str:
        return " > ".join(self.heading_path)


def context_prefix(name: str, segment: Segment) -> str:
    """``name > heading > sub-heading`` (+ a CSV header line), ending in a newline."""
    head = " > ".join([name, *[h for h in segment.heading_path if h]])
    if segment.context:
        head += "\n" + segment.context
    return head + "\n"


def _narrow_rows(text: str, seg: Segment, start: int, end: int) -> dict[str, Any]:
    """The segment's location; a ``rows: [first, last]`` span (one text line per row) is
    narrowed to the rows of ``text[start:end]``."""
    loc = seg.location
    if "rows" not in loc or (start, end) == (seg.start, seg.end):
        return dict(loc)
    first = loc["rows"][0] + text.count("\n", seg.start, start)
    return dict(loc, rows=[first, first + text.count("\n", start, end)])


def _is_anchor(text: str) -> bool:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=2).digest()[0] % 3 == 0


def chunk_document(
    doc: Extracted,
    name: str,
    token_offsets: TokenOffsets,
    window: int = 256,
    overlap: int = 32,
    max_chunks: int | None = None,
) -> list[Chunk]:
    """Chunk ``doc`` for a model with a ``window``-token input (special tokens included)."""
    chunks: list[Chunk] = []
    for seg in doc.segments:
        prefix = context_prefix(name, seg)
        prefix_tokens = len(token_offsets([prefix])[0])
        if prefix_tokens > window // 3:  # an absurdly long heading: keep the name only
            prefix = name[:200] + "\n"
            prefix_tokens = len(token_offsets([prefix])[0])
        slack = _ROW_LABEL_SLACK if seg.first_row is not None else 0
        budget = max(16, window - 2 - prefix_tokens - slack)
        for start, end, ntok in _split_segment(doc.text, seg, token_offsets, budget, overlap):
            body = doc.text[start:end]
            path, head, lead, extra = seg.heading_path, prefix, "", 0
            if seg.first_row is not None and prefix != name[:200] + "\n":
                first = seg.first_row + doc.text.count("\n", seg.start, start)
                last = first + body.count("\n")
                path = (*seg.heading_path[:-1], f"rows {first}-{last}")
                head = context_prefix(name, Segment(seg.start, seg.end, path, seg.page,
                                                    seg.context))
                lead = seg.context
                extra = len(token_offsets([head])[0]) - prefix_tokens
            chunks.append(Chunk(len(chunks), body, head + body, start, end, path, seg.page,
                                ntok + prefix_tokens + extra,
                                location=_narrow_rows(doc.text, seg, start, end), lead=lead))
            if max_chunks and len(chunks) >= max_chunks:
                return chunks
    return chunks


#: tokens kept free in a table chunk for its row label, which names the chunk's own rows
_ROW_LABEL_SLACK = 4


def _paragraphs(text: str, seg: Segment) -> list[tuple[int, int]]:
    spans, pos = [], seg.start
    body = text[seg.start:seg.end]
    for m in _PARA.finditer(body):
        spans.append((pos, seg.start + m.start()))
        pos = seg.start + m.end()
    spans.append((pos, seg.end))
    out = []
    for s, e in spans:  # trim whitespace, drop empty paragraphs
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _split_segment(text, seg, token_offsets, budget, overlap):
    """Yield ``(start, end, n_tokens)`` spans of one segment.

    Units are paragraphs; a paragraph over the budget is split into lines, and a line over
    the budget into token windows overlapping by ``overlap`` tokens. Units are packed into
    chunks; when a size boundary falls inside a paragraph, the next chunk repeats the last
    line if it is at most ``overlap`` tokens, so a sentence cut at the boundary keeps context.
    """
    paras = _paragraphs(text, seg)
    if not paras:
        return
    # unit: (start, end, tokens, anchor, paragraph index)
    units: list[tuple[int, int, int, bool, int]] = []
    offsets = token_offsets([text[s:e] for s, e in paras])
    for p_i, ((s, e), offs) in enumerate(zip(paras, offsets)):
        if len(offs) <= budget:
            units.append((s, e, len(offs), _is_anchor(text[s:e]), p_i))
            continue
        lines = _lines(text, s, e)
        line_offs = token_offsets([text[a:b] for a, b in lines])
        for (a, b), loffs in zip(lines, line_offs):
            if len(loffs) <= budget:
                units.append((a, b, len(loffs), _is_anchor(text[a:b]), p_i))
                continue
            step = max(1, budget - overlap)  # sliding token windows with overlap
            for i in range(0, len(loffs), step):
                win = loffs[i:i + budget]
                units.append((a + win[0][0], a + win[-1][1], len(win), False, p_i))
                if i + budget >= len(loffs):
                    break
    cur: list[tuple[int, int, int, bool, int]] = []
    cur_tokens = 0
    for unit in units:
        s, e, n, anchor, p_i = unit
        if cur and cur_tokens + n > budget:
            yield cur[0][0], max(u[1] for u in cur), cur_tokens
            last = cur[-1]
            carry = last[4] == p_i and last[2] <= overlap and last[2] + n <= budget \
                and last[1] <= s
            cur = [last] if carry else []
            cur_tokens = last[2] if carry else 0
        cur.append(unit)
        cur_tokens += n
        if anchor and cur_tokens >= budget // 2:
            yield cur[0][0], max(u[1] for u in cur), cur_tokens
            cur, cur_tokens = [], 0
    if cur:
        yield cur[0][0], max(u[1] for u in cur), cur_tokens


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out, pos = [], start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        a, b = pos, stop
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
        pos = stop + 1
    return out
