"""``combined_context``: the top chunks as one citation-headed text for an LLM prompt."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

__all__ = ["ContextChunk", "citation", "combined_context", "DEFAULT_CONTEXT_BUDGET"]

#: Default size of ``combined_context`` in characters (about 1,500 tokens).
DEFAULT_CONTEXT_BUDGET = 6000


@dataclass
class ContextChunk:
    name: str
    version: int
    text: str
    page: int | None = None
    section: str | None = None


def citation(name: str, version: int, page: int | None = None, section: str | None = None) -> str:
    """``name v2, p. 3`` or ``notes.md v1, § Setup`` or ``name v1``."""
    out = f"{name} v{version}"
    if page is not None:
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
        head = f"[{len(blocks) + 1}] {citation(ch.name, ch.version, ch.page, ch.section)}\n"
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
