"""Keyword search over the same chunks as the vector index: SQLite FTS5 (BM25) or
PostgreSQL full-text search (``tsvector`` + GIN, ``ts_rank_cd``).

FTS5 indexes each chunk's embedded text (context prefix + body) with Porter stemming and ``_``
kept inside words; PostgreSQL with its English configuration. A query becomes an OR of its
words plus, for identifiers split by punctuation, the whole phrase, so ``max_retry_budget``
and ``ERR-4471`` (two tokens, matched as a phrase) are findable and exact codes rank first.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

__all__ = ["fts_expression", "keyword_sql", "query_terms", "STOPWORDS"]

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with do does did can could should would you your "
    "we our they their my me there these those into about".split())

_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> tuple[list[str], list[str]]:
    """``(words, phrases)`` of free text: its words without stop words (all words when only
    stop words are left) and the identifiers split by punctuation (``ERR-4471``)."""
    words = [w.lower() for w in _WORD.findall(text)]
    terms = list(dict.fromkeys(w for w in words if w not in STOPWORDS)) or list(dict.fromkeys(words))
    phrases: list[str] = []
    for token in re.findall(r"\S+", text):
        sub = [w.lower() for w in _WORD.findall(token)]
        if len(sub) > 1:
            phrases.append(" ".join(sub))
    return terms, list(dict.fromkeys(phrases))


def fts_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for free text (None when it has no searchable word)."""
    terms, phrases = query_terms(text)
    if not terms:
        return None
    parts = [f'"{t}"' for t in terms] + [f'"{p}"' for p in phrases]
    return " OR ".join(dict.fromkeys(parts))


def keyword_sql(dialect: str, text: str, limit: int, filters: dict[str, Any] | None = None
                ) -> tuple[str, list[Any]] | None:
    """The statement (and parameters) of a keyword search returning ``(chunk id, relevance
    >= 0)`` best first within ``filters``; None when ``text`` has no searchable word.

    ``filters``: ``scope`` (list), ``namespace`` (str), ``session_id`` (str),
    ``mime_type`` (list) - the immutable columns of ``idx_chunks``.
    """
    where, params = _filter_sql(filters or {})
    if dialect == "postgresql":
        terms, phrases = query_terms(text)
        if not terms:
            return None
        # phraseto_tsquery quotes any input safely; a word splits like the indexed text did
        q = " || ".join(["phraseto_tsquery('english', ?)"] * (len(terms) + len(phrases)))
        sql = (f"SELECT c.id, ts_rank_cd(c.tsv, q.q) AS r FROM idx_chunks c, (SELECT {q} AS q) q "
               f"WHERE c.tsv @@ q.q {where} ORDER BY r DESC, c.id LIMIT ?")
        return sql, [*terms, *phrases, *params, limit]
    expr = fts_expression(text)
    if expr is None:
        return None
    sql = ("SELECT c.id, -bm25(idx_chunks_fts) AS r FROM idx_chunks_fts "
           "JOIN idx_chunks c ON c.id = idx_chunks_fts.rowid "
           f"WHERE idx_chunks_fts MATCH ? {where} ORDER BY r DESC LIMIT ?")
    return sql, [expr, *params, limit]


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
