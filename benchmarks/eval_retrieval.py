"""Retrieval quality on data/eval: Recall@1, Recall@10, MRR@10, nDCG@10 per query mode.

    python benchmarks/eval_retrieval.py            # keyword, dense, hybrid (+ RRF for comparison)
    python benchmarks/eval_retrieval.py --sweep    # also the hybrid dense weight from 0.1 to 0.9

Builds a fresh store in a temporary directory, puts every document of data/eval/docs, waits
for indexing with the real model, then runs each query of data/eval/queries.jsonl with k=10.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notebook_artifacts import ArtifactStore  # noqa: E402

EVAL = ROOT / "data" / "eval"


def metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    top = ranked[:10]
    rr = next((1.0 / (i + 1) for i, name in enumerate(top) if name in relevant), 0.0)
    dcg = sum(1.0 / math.log2(i + 2) for i, name in enumerate(top) if name in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return {
        "R@1": len(set(ranked[:1]) & relevant) / len(relevant),
        "R@10": len(set(top) & relevant) / len(relevant),
        "MRR@10": rr,
        "nDCG@10": dcg / idcg,
    }


def evaluate(store: ArtifactStore, queries: list[dict], mode: str) -> dict[str, dict[str, float]]:
    """Mean metrics over all queries and per query kind."""
    groups: dict[str, list[dict[str, float]]] = {}
    for q in queries:
        res = store.query(q["query"], k=10, mode=mode, context_budget=0)
        m = metrics([h.artifact.name for h in res.results], set(q["relevant"]))
        for g in ("all", q.get("kind", "other")):
            groups.setdefault(g, []).append(m)
    return {g: {k: sum(m[k] for m in ms) / len(ms) for k in ms[0]} for g, ms in groups.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="also sweep the hybrid dense weight")
    args = ap.parse_args()
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").read_text().splitlines() if line.strip()]
    docs = sorted((EVAL / "docs").iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        store = ArtifactStore(tmp)
        t0 = time.perf_counter()
        for path in docs:
            store.put(path)
        assert store.wait_indexed(600), "indexing did not finish"
        print(f"{len(docs)} documents, {len(queries)} queries; indexed in "
              f"{time.perf_counter() - t0:.1f} s (model load included)\n")
        svc = store._index()
        rows = [(mode, evaluate(store, queries, mode)) for mode in ("keyword", "dense", "hybrid")]
        svc.fusion = "rrf"
        rows.append(("hybrid-rrf", evaluate(store, queries, "hybrid")))
        svc.fusion = "convex"
        header = f"{'mode':<12}{'R@1':>8}{'R@10':>8}{'MRR@10':>9}{'nDCG@10':>9}   by kind (nDCG@10)"
        print(header)
        print("-" * len(header))
        for mode, res in rows:
            a = res["all"]
            kinds = "  ".join(f"{k}={v['nDCG@10']:.3f}" for k, v in sorted(res.items()) if k != "all")
            print(f"{mode:<12}{a['R@1']:>8.3f}{a['R@10']:>8.3f}{a['MRR@10']:>9.3f}{a['nDCG@10']:>9.3f}   {kinds}")
        if args.sweep:
            print("\nhybrid dense weight sweep (nDCG@10 / MRR@10):")
            for w in [x / 10 for x in range(1, 10)]:
                svc.dense_weight = w
                a = evaluate(store, queries, "hybrid")["all"]
                print(f"  w={w:.1f}  nDCG@10={a['nDCG@10']:.3f}  MRR@10={a['MRR@10']:.3f}  R@1={a['R@1']:.3f}")
        store.close()


if __name__ == "__main__":
    main()
