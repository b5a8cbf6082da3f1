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

__all__ = ["fts_expression", "keyword_sql", "pg_document", "query_terms", "STOPWORDS"]

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with do does did can could should would you your "
    "we our they their my me there these those into about".split())

_WORD = re.compile(r"\w+", re.UNICODE)


_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)


def pg_document(text: str) -> str:
    """The text PostgreSQL indexes: punctuation as spaces, so words split as FTS5's
    tokenizer and :func:`query_terms` split them (PostgreSQL's parser would read the
    ``-7731`` of ``BUOY-7731`` as a negative number, and paths and URLs as single tokens)."""
    return _PUNCT.sub(" ", text)


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
        # BM25 in SQL: PostgreSQL's ts_rank_cd has no IDF, so a rare code (ERR-4471) would rank
        # no higher than a common word. Each word or phrase (phraseto_tsquery quotes any input)
        # gets its IDF over all chunks; ts_rank_cd (~0.1 per match) is the term frequency,
        # saturated as BM25 does (k1 = 1.2).
        values = ", ".join(["(phraseto_tsquery('english', ?))"] * (len(terms) + len(phrases)))
        tf = "(CAST(ts_rank_cd(c.tsv, w.q) AS float8) * 10)"
        sql = (f"WITH parts(q) AS (VALUES {values}), "
               "n AS (SELECT count(*) AS total FROM idx_chunks), "
               "w AS (SELECT p.q, CAST(ln(1 + (n.total - d.df + 0.5) / (d.df + 0.5)) AS float8) AS idf "
               "  FROM parts p CROSS JOIN n CROSS JOIN LATERAL "
               "  (SELECT count(*) AS df FROM idx_chunks c WHERE c.tsv @@ p.q) d "
               "  WHERE numnode(p.q) > 0) "
               f"SELECT c.id, SUM(w.idf * {tf} * 2.2 / ({tf} + 1.2)) AS r "
               f"FROM idx_chunks c JOIN w ON c.tsv @@ w.q WHERE 1=1 {where} "
               "GROUP BY c.id ORDER BY r DESC, c.id LIMIT ?")
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
