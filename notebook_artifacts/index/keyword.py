"""Keyword search: SQLite FTS5 (BM25) over the same chunks as the vector index.

The FTS table indexes each chunk's embedded text (context prefix + body) with Porter stemming
and ``_`` kept inside words, so ``max_retry_budget`` and ``ERR-4471`` (two tokens, matched as
a phrase) are findable. A second one indexes each chunk's fields (artifact name and heading
path); a match there adds its BM25 times :data:`HEAD_WEIGHT`. A query becomes an OR of its
words plus, for multi-word queries, the whole phrase, so exact identifiers and codes rank first.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Sequence

__all__ = ["fts_expression", "keyword_search", "HEAD_WEIGHT", "STOPWORDS"]

#: Weight of a match in a chunk's fields (artifact name, heading path: ``idx_heads_fts``)
#: added to its BM25 over the whole chunk text; tuned on the tune half of the known-item set
#: (``benchmarks/eval_known_item.py``). 0 turns the field search off.
HEAD_WEIGHT = 0.0

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with do does did can could should would you your "
    "we our they their my me there these those into about".split())

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for free text (None when it has no searchable word)."""
    words = [w.lower() for w in _WORD.findall(text)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or list(dict.fromkeys(words))
    if not terms:
        return None
    parts = [f'"{t}"' for t in terms]
    # an identifier split by punctuation (ERR-4471, v2.3.1) is also searched as a phrase
    for token in re.findall(r"\S+", text):
        sub = [w.lower() for w in _WORD.findall(token)]
        if len(sub) > 1:
            parts.append('"' + " ".join(sub) + '"')
    return " OR ".join(dict.fromkeys(parts))


def keyword_search(conn: sqlite3.Connection, text: str, limit: int,
                   filters: dict[str, Any] | None = None, *, body_weight: float = 1.0,
                   head_weight: float | None = None) -> list[tuple[int, float]]:
    """``(chunk id, bm25 relevance >= 0)``, best first, within ``filters``: the BM25 of the
    chunk text plus ``head_weight`` (default :data:`HEAD_WEIGHT`) times that of its fields.

    ``filters``: ``scope`` (list), ``namespace`` (str), ``session_id`` (str),
    ``mime_type`` (list) - the immutable columns of ``idx_chunks``.
    """
    expr = fts_expression(text)
    if expr is None:
        return []
    where, params = _filter_sql(filters or {})
    scores: dict[int, float] = {}
    head = HEAD_WEIGHT if head_weight is None else head_weight
    for table, weight in (("idx_chunks_fts", body_weight), ("idx_heads_fts", head)):
        if weight <= 0:
            continue
        sql = (f"SELECT c.id, bm25({table}) AS r FROM {table} "
               f"JOIN idx_chunks c ON c.id = {table}.rowid "
               f"WHERE {table} MATCH ? {where} ORDER BY r LIMIT ?")
        try:
            rows = conn.execute(sql, [expr, *params, limit]).fetchall()
        except sqlite3.OperationalError:  # pathological input; the expression is quoted, so rare
            continue
        for cid, r in rows:
            scores[int(cid)] = scores.get(int(cid), 0.0) - weight * float(r)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _filter_sql(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column in ("scope", "mime_type"):
        values: Sequence[str] | None = filters.get(column)
        if values:
            clauses.append(f"c.{column} IN ({','.join('?' * len(values))})")
            params.extend(values)
    for column in ("namespace", "session_id"):
        if filters.get(column) is not None:
            clauses.append(f"c.{column} = ?")
            params.append(filters[column])
    return "".join(" AND " + c for c in clauses), params
