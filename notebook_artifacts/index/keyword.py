"""Keyword search over the same chunks as the vector index: SQLite FTS5 (BM25) or
PostgreSQL full-text search (``tsvector`` + GIN, ``ts_rank_cd``).

FTS5 indexes each chunk's embedded text (context prefix + body) with Porter stemming and ``_``
kept inside words; PostgreSQL with its English configuration. A query becomes an OR of its
words plus, for identifiers split by punctuation, the whole phrase, so ``max_retry_budget``
and ``ERR-4471`` (two tokens, matched as a phrase) are findable and exact codes rank first.

The artifact's name is also searched on its own, by substring: each query word of three or
more characters that occurs anywhere in the name (``guess_type`` in ``mimetypes.guess_type``,
``report`` in ``q3_sales_report_final.xlsx``, ``source`` and ``lines`` in
``getsourcelines.txt``) adds :data:`NAME_WEIGHT` times its name score to the chunk's relevance.
Word tokenizers cannot see inside ``print_tb`` or ``getsourcelines``; names are where such
compounds live. SQLite: a second FTS5 table with the trigram tokenizer (BM25 over the name);
PostgreSQL: ``strpos`` over the lower-cased name with the same IDF as the words (no length
normalisation: a name is one short field). On the known-item set (``benchmarks/
eval_known_item.py``, 557 queries) this took keyword MRR@10 from 0.70 to 0.76; the weight was
chosen on its tune half.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

__all__ = ["fts_expression", "keyword_sql", "name_terms", "pg_document", "query_terms",
           "NAME_WEIGHT", "STOPWORDS"]

#: weight of a chunk's name match (BM25 over the name's trigrams) against its text's BM25;
#: chosen on the tune half of the known-item set from 0.5, 1, 1.5, 2
NAME_WEIGHT = 1.5
#: a name is matched by query words at least this long (the trigram tokenizer's minimum)
NAME_MIN_CHARS = 3

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


def name_terms(text: str) -> list[str]:
    """The query words searched inside names: the non-stop words of three or more characters."""
    terms, _ = query_terms(text)
    return [t for t in terms if len(t) >= NAME_MIN_CHARS and t not in STOPWORDS]


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for free text (None when it has no searchable word)."""
    terms, phrases = query_terms(text)
    if not terms:
        return None
    parts = [_fts_quote(t) for t in terms] + [_fts_quote(p) for p in phrases]
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
        names = name_terms(text)
        values = ", ".join(["(phraseto_tsquery('english', ?))"] * (len(terms) + len(phrases)))
        tf = "(CAST(ts_rank_cd(c.tsv, w.q) AS float8) * 10)"
        idf = "CAST(ln(1 + (n.total - d.df + 0.5) / (d.df + 0.5)) AS float8)"
        ctes = [f"parts(q) AS (VALUES {values})",
                "n AS (SELECT count(*) AS total FROM idx_chunks)",
                f"w AS (SELECT p.q, {idf} AS idf FROM parts p CROSS JOIN n CROSS JOIN LATERAL "
                "(SELECT count(*) AS df FROM idx_chunks c WHERE c.tsv @@ p.q) d "
                "WHERE numnode(p.q) > 0)"]
        scored = [f"SELECT c.id, w.idf * {tf} * 2.2 / ({tf} + 1.2) AS r "
                  f"FROM idx_chunks c JOIN w ON c.tsv @@ w.q WHERE 1=1 {where}"]
        args: list[Any] = [*terms, *phrases]
        if names:  # name substrings: the same IDF, one match per name (see the docstring)
            has = "strpos(lower(coalesce(c.name, '')), t.term) > 0"
            ctes += [f"names(term) AS (VALUES {', '.join(['(CAST(? AS text))'] * len(names))})",
                     f"nw AS (SELECT t.term, {idf} AS idf FROM names t CROSS JOIN n "
                     f"CROSS JOIN LATERAL (SELECT count(*) AS df FROM idx_chunks c WHERE {has}) d)"]
            scored.append(f"SELECT c.id, {NAME_WEIGHT} * t.idf AS r FROM idx_chunks c "
                          f"JOIN nw t ON {has} WHERE 1=1 {where}")
            args += names
        sql = (f"WITH {', '.join(ctes)}, hits(id, r) AS ({' UNION ALL '.join(scored)}) "
               "SELECT id, SUM(r) AS r FROM hits GROUP BY id ORDER BY r DESC, id LIMIT ?")
        return sql, [*args, *(params * len(scored)), limit]
    expr = fts_expression(text)
    if expr is None:
        return None
    names = name_terms(text)
    parts = ["SELECT rowid AS id, -bm25(idx_chunks_fts) AS r FROM idx_chunks_fts "
             "WHERE idx_chunks_fts MATCH ?"]
    args: list[Any] = [expr]
    if names:
        parts.append(f"SELECT rowid AS id, -bm25(idx_names_fts) * {NAME_WEIGHT} AS r "
                     "FROM idx_names_fts WHERE idx_names_fts MATCH ?")
        args.append(" OR ".join(_fts_quote(t) for t in names))
    sql = (f"WITH hits(id, r) AS ({' UNION ALL '.join(parts)}) "
           "SELECT c.id, SUM(h.r) AS r FROM hits h JOIN idx_chunks c ON c.id = h.id "
           f"WHERE 1=1 {where} GROUP BY c.id ORDER BY r DESC, c.id LIMIT ?")
    return sql, [*args, *params, limit]


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
