"""``combined_context``: the top chunks as one citation-headed text for an LLM prompt."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

__all__ = ["ContextChunk", "citation", "format_location", "combined_context",
           "DEFAULT_CONTEXT_BUDGET"]

#: Default size of ``combined_context`` in characters (about 1,500 tokens).
DEFAULT_CONTEXT_BUDGET = 6000


@dataclass
class ContextChunk:
    name: str
    version: int
    text: str
    page: int | None = None
    section: str | None = None
    location: dict[str, Any] = field(default_factory=dict)


def format_location(location: Mapping[str, Any] | None) -> str:
    """``cell 12``, ``slide 7``, ``sheet "Q3", rows 40-80``: the parts of a location in order
    (``rows`` as a ``[first, last]`` span), or ``""``."""
    parts = []
    for key, value in (location or {}).items():
        if value is None or value == "":
            continue
        if key == "sheet":
            parts.append(f'sheet "{value}"')
        elif key == "rows" and isinstance(value, (list, tuple)) and len(value) == 2:
            parts.append(f"row {value[0]}" if value[0] == value[1]
                         else f"rows {value[0]}-{value[1]}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def citation(name: str, version: int, page: int | None = None, section: str | None = None,
             location: Mapping[str, Any] | None = None) -> str:
    """``name v2, p. 3``, ``notes.md v1, § Setup``, ``deck.pptx v1, slide 7`` or ``name v1``:
    a location (cell, slide, sheet and rows) wins over a page, a page over a section."""
    out = f"{name} v{version}"
    where = format_location(location)
    if where:
        out += f", {where}"
    elif page is not None:
        out += f", p. {page}"
    elif section:
        out += f", § {section}"
    return out


def combined_context(chunks: Sequence[ContextChunk], budget: int = DEFAULT_CONTEXT_BUDGET
                     ) -> tuple[str, list[int]]:
    """Join chunks (already in rank order) as ``[n] citation\\ntext`` blocks.

    Chunks with the same text are kept once (the first, best ranked). The result is at most
    ``budget`` characters: a block that does not fit is cut at a word boundary with ``...``
    if at least 200 characters of room remain, otherwise left out. Returns the text and,
    for each input chunk, its citation number (0 when it was dropped).
    """
    if budget <= 0:
        return "", [0] * len(chunks)
    seen: set[str] = set()
    blocks: list[str] = []
    numbers: list[int] = []
    used = 0
    for ch in chunks:
        body = " ".join(ch.text.split()) if "\n\n\n" in ch.text else ch.text.strip()
        key = hashlib.sha256(" ".join(body.split()).encode()).hexdigest()
        if key in seen or not body:
            numbers.append(0)
            continue
        cite = citation(ch.name, ch.version, ch.page, ch.section, ch.location)
        head = f"[{len(blocks) + 1}] {cite}\n"
        sep = "\n\n" if blocks else ""
        room = budget - used - len(sep) - len(head)
        if room < len(body):
            if room < 200:
                numbers.append(0)
                continue
            cut = body[:room - 3]
            cut = cut[:cut.rfind(" ")] if " " in cut[-40:] else cut
            body = cut.rstrip() + "..."
        seen.add(key)
        block = sep + head + body
        blocks.append(head + body)
        used += len(block)
        numbers.append(len(blocks))
    return "\n\n".join(blocks), numbers
