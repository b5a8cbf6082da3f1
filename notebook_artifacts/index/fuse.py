"""Rank fusion of dense (cosine) and keyword (BM25) results into one 0..1 score.

Why a convex combination and not reciprocal rank fusion (RRF): RRF throws the scores away
and keeps only ranks, so a chunk that is a near-exact keyword hit for a rare identifier
(``ERR-4471``) and a chunk that merely shares a common word get the same credit for being
first in their lists. A convex combination of normalized scores keeps that strength, is
bounded in 0..1, and needs a single weight, which is tuned on ``data/eval`` (see
``benchmarks/eval_retrieval.py``, which prints RRF alongside it). This matches the findings of
Bruch, Gai and Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval" (TOIS 2023):
a tuned convex combination beats RRF in and out of domain and needs few judged queries.

Normalization: cosine similarity of unit vectors is clipped to 0..1 (its theoretical range
for these models; negative means unrelated). BM25 is unbounded and corpus dependent, so it is
divided by the best BM25 of the query's candidates (the best keyword hit gets 1). Cosines are
used as they are: stretching them over the candidates (min-max, z-scores) ranked the known-item
set's tune half about as well or slightly better, but makes scores relative to whatever else
was a candidate, so in a small store a fair match scored under the relevance floor
(``MIN_SCORE``) only because it was the weakest of three.
In ``mode="keyword"`` alone, BM25 is squashed with ``s / (s + KEYWORD_HALF)`` so a weak match
does not look perfect just because it is the best one.
"""

from __future__ import annotations

__all__ = ["doc_score", "fuse", "rrf", "DENSE_WEIGHT", "DOC_BONUS", "KEYWORD_HALF", "MIN_SCORE",
           "MODES"]

MODES = ("hybrid", "dense", "keyword")

#: Weight of the dense score in ``hybrid`` (1 - it for keyword); tuned on data/eval, where
#: 0.6-0.8 are all within 0.01 nDCG@10 of each other (0.7: the middle of that plateau).
DENSE_WEIGHT = 0.7
#: BM25 value that maps to 0.5 in keyword-only mode.
KEYWORD_HALF = 5.0
#: Relevance floor per mode: results scoring below it are not returned (``query(min_score=)``
#: overrides it; 0 returns every candidate). Chosen on ``data/eval``: in hybrid mode no judged
#: relevant document scores below 0.32 while the median unrelated top-10 hit scores 0.09; a
#: dense cosine under 0.05 is noise. Keyword mode has none: every keyword hit contains a
#: searched word, and BM25's scale depends on the corpus (one word in three small files
#: scores low only because the corpus is small).
MIN_SCORE = {"hybrid": 0.2, "dense": 0.05, "keyword": 0.0}


#: Document-level aggregation: an artifact scores its best chunk plus this share of the room
#: left above it times its second-best chunk (0: the best chunk alone). A document whose
#: several chunks match is more likely the one asked for than one with a single lucky chunk.
DOC_BONUS = 0.0


def doc_score(chunk_scores: list[float], bonus: float | None = None) -> float:
    """One artifact's score from its chunks' fused scores (best first), in 0..1."""
    if not chunk_scores:
        return 0.0
    b = DOC_BONUS if bonus is None else bonus
    best = chunk_scores[0]
    second = chunk_scores[1] if len(chunk_scores) > 1 else 0.0
    return _clip(best + b * (1.0 - best) * second)


def _clip(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def fuse(dense: dict[int, float], keyword: dict[int, float], mode: str = "hybrid",
         dense_weight: float = DENSE_WEIGHT) -> list[tuple[int, float]]:
    """``[(chunk id, score 0..1)]`` best first (ties by id, so the order is stable).

    ``dense``: chunk id -> cosine similarity; ``keyword``: chunk id -> BM25 (>= 0).
    In hybrid mode every candidate of either list should have its cosine in ``dense``
    (the caller computes it exactly); a candidate missing from ``keyword`` has BM25 0.
    """
    if mode == "dense":
        scored = {cid: _clip(s) for cid, s in dense.items()}
    elif mode == "keyword":
        scored = {cid: s / (s + KEYWORD_HALF) for cid, s in keyword.items() if s > 0}
    elif mode == "hybrid":
        top = max(keyword.values(), default=0.0)
        scored = {}
        for cid in set(dense) | set(keyword):
            kw = keyword.get(cid, 0.0) / top if top > 0 else 0.0
            scored[cid] = _clip(dense_weight * _clip(dense.get(cid, 0.0)) + (1 - dense_weight) * kw)
    else:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))


def rrf(dense: dict[int, float], keyword: dict[int, float], k: int = 60
        ) -> list[tuple[int, float]]:
    """Reciprocal rank fusion, scaled to 0..1 (kept for the evaluation's comparison)."""
    scores: dict[int, float] = {}
    for ranking in (dense, keyword):
        ordered = sorted(ranking.items(), key=lambda kv: (-kv[1], kv[0]))
        for rank, (cid, _) in enumerate(ordered, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    best = 2.0 / (k + 1)
    return sorted(((c, s / best) for c, s in scores.items()), key=lambda kv: (-kv[1], kv[0]))
