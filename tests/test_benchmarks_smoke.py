"""The benchmark harness runs end to end on a tiny workload and writes its results.

No timing is asserted: figures depend on the machine.  What users rely on is that
``python -m benchmarks`` produces the table, the JSON and the plots, with every system
measured (no system silently erroring out) on the same data.
"""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.corpus import build_corpus, edit_documents
from benchmarks.scoring import latency_summary, retrieval_metrics


def test_retrieval_metrics_scores_ranked_documents():
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "c": 1}}
    ranked = {"q1": ["x", "a", "a", "y"], "q2": ["b", "z"]}  # repeated chunk hits collapse
    m = retrieval_metrics(ranked, qrels)
    assert m["queries"] == 2
    assert m["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert m["recall@10"] == pytest.approx((1 + 0.5) / 2)
    assert m["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    ideal_q2 = 2 + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 2 / ideal_q2) / 2)


def test_latency_summary_percentiles():
    s = latency_summary([i / 1000 for i in range(1, 101)])
    assert s["n"] == 100
    assert s["p50_ms"] == pytest.approx(50.5)
    assert s["p95_ms"] == pytest.approx(95.05)


def test_corpus_is_deterministic_and_edits_change_files(tmp_path):
    a = build_corpus(tmp_path / "a", 20)
    b = build_corpus(tmp_path / "b", 20)
    assert [p.read_bytes() for p in a.files] == [p.read_bytes() for p in b.files]
    assert a.total_chars >= 20 * 1000
    assert a.eval_set.queries and all(a.eval_set.qrels[q] for q in a.eval_set.queries)
    for rel in a.eval_set.qrels.values():
        assert all((a.root / d).is_file() for d in rel)
    before = {p: p.read_text() for p in a.files}
    edited = edit_documents(a, 0.01)
    assert edited and all(p.read_text() != before[p] for p in edited)


@pytest.mark.model
def test_harness_tiny_run_writes_results(tmp_path):
    from benchmarks import run
    from benchmarks.systems import SYSTEMS

    out = tmp_path / "results"
    doc = run("tiny", out, in_process=True, workdir=tmp_path / "work", log=lambda *_: None)

    assert {"meta", "config", "results", "summary"} <= set(doc)
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["results"]) == {"put_large", "small_puts", "index", "query"}
    errors = {(g, s): v["error"] for g, d in saved["results"].items() for s, v in d.items() if "error" in v}
    assert not errors, errors
    assert set(saved["results"]["index"]) == {"raw", "ours", "langchain", "folder"}
    assert set(saved["results"]["put_large"]) == {"raw", "ours", "folder", "file_service"}
    # the interleaved latency group reopened every indexed system in one process
    assert set(saved["results"]["query"]) == {"raw", "ours", "langchain", "folder"}
    assert all(v["n"] == doc["config"]["query_count"] for v in saved["results"]["query"].values())
    ours = saved["results"]["index"]["ours"]
    for key in ("load", "ingest", "reingest", "reingest_changed", "query", "quality"):
        assert key in ours
    assert ours["ingest"]["chunks"] > 0
    assert set(ours["quality"]["default"]) >= {"recall@1", "recall@10", "mrr@10", "ndcg@10"}
    assert {r["metric"] for r in saved["summary"]} >= {
        "put large file: seconds", "small puts per second", "ingest document set: seconds",
        "query latency p50, reopened, all systems interleaved", "nDCG@10"}
    md = (out / "results.md").read_text()
    assert md.startswith("# Benchmark results (tiny)")
    for label in doc["meta"]["systems"].values():
        assert label in md
    for png in ("throughput.png", "latency.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(doc["meta"]["systems"]) == set(SYSTEMS)
