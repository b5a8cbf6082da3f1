"""Multi-part questions: "How good is the model, and what do we do when its inputs drift?"
asks two things. One embedding of the whole sentence lands between the two answers and can
miss both; so the query retrieves for the whole question and for each part, and a document's
score is its best over them (see ``IndexService.query``).

A question is split after ``?`` or ``;`` and before a coordinated clause that starts a new
question (", and what ...", " and how ..."). A part needs at least two content words, and at
most :data:`MAX_PARTS` parts are searched; anything else is one question.
"""

from __future__ import annotations

import re

from .keyword import STOPWORDS

__all__ = ["MAX_PARTS", "split_question"]

#: at most this many parts of one question are searched (plus the whole question)
MAX_PARTS = 4

_ASK = ("what|how|when|where|why|which|who|whom|whose|is|are|was|were|does|do|did|can|could|"
        "should|would|will|has|have")
_SPLIT = re.compile(
    rf"(?<=[?;])\s+|[,;]?\s+(?:and|but|also|plus|then)\s+(?=(?:{_ASK})\b)|,\s+(?=(?:{_ASK})\b)",
    re.IGNORECASE)
_WORD = re.compile(r"\w+")


def _content_words(text: str) -> int:
    return sum(1 for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


def split_question(text: str) -> list[str]:
    """``[text]`` for a single question; ``[text, part1, part2, ...]`` for a multi-part one."""
    parts = [p.strip(" ,;") for p in _SPLIT.split(text.strip())]
    parts = [p for p in parts if _content_words(p) >= 2]
    if len(parts) < 2 or len(parts) > MAX_PARTS:
        return [text]
    return [text, *parts]
