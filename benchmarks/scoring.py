"""Latency percentiles and retrieval metrics (Recall@1, Recall@10, MRR@10, nDCG@10)."""

from __future__ import annotations

import math

__all__ = ["latency_summary", "retrieval_metrics", "dedupe"]


def _percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile of already-sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_summary(seconds: list[float]) -> dict:
    s = sorted(seconds)
    return {"n": len(s), "p50_ms": _percentile(s, 50) * 1e3, "p95_ms": _percentile(s, 95) * 1e3,
            "mean_ms": sum(s) / len(s) * 1e3, "max_ms": s[-1] * 1e3}


def dedupe(ids: list[str]) -> list[str]:
    """Document ids in first-seen order (chunk hits collapse to their document)."""
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def retrieval_metrics(ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]],
                      k: int = 10) -> dict:
    """Mean metrics over the judged queries; ``ranked`` maps query id to hit doc ids."""
    r1 = rk = mrr = ndcg = 0.0
    n = 0
    for qid, rel in qrels.items():
        if not rel:
            continue
        n += 1
        docs = dedupe(ranked.get(qid, []))[:k]
        hits = [d for d in docs if rel.get(d, 0) > 0]
        r1 += sum(1 for d in docs[:1] if rel.get(d, 0) > 0) / len(rel)
        rk += len(hits) / len(rel)
        first = next((i for i, d in enumerate(docs) if rel.get(d, 0) > 0), None)
        mrr += 0.0 if first is None else 1.0 / (first + 1)
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs))
        ideal = sorted(rel.values(), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        ndcg += dcg / idcg if idcg else 0.0
    n = max(n, 1)
    return {"queries": n, "recall@1": r1 / n, f"recall@{k}": rk / n, f"mrr@{k}": mrr / n,
            f"ndcg@{k}": ndcg / n}
