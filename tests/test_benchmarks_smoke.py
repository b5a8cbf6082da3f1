"""The benchmark harness runs end to end on a tiny workload and writes its results.

No timing is asserted: figures depend on the machine.  What users rely on is that
``python -m benchmarks`` produces the table, the JSON and the plots, with every system
measured (no system silently erroring out) on the same data, and figures that make sense.
"""

from __future__ import annotations

import json
import math
import struct

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


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.model
def test_harness_tiny_run_writes_results(tmp_path):
    from benchmarks import run
    from benchmarks.systems import SYSTEMS

    out = tmp_path / "results"
    doc = run("tiny", out, in_process=True, workdir=tmp_path / "work", log=lambda *_: None)

    assert {"meta", "config", "results", "summary"} <= set(doc)
    assert set(doc["meta"]["systems"]) == set(SYSTEMS)
    saved = json.loads((out / "results.json").read_text())
    res = saved["results"]
    assert set(res) == {"put_large", "small_puts", "index", "query", "long_ingest"}
    errors = {(g, s): v["error"] for g, d in res.items() for s, v in d.items() if "error" in v}
    assert not errors, errors
    # every system ran every workload it supports, on the same data
    assert set(res["put_large"]) == set(res["small_puts"]) == {"raw", "ours", "folder", "file_service"}
    assert set(res["index"]) == {"raw", "ours", "langchain", "folder"}
    assert set(res["query"]) == {"raw", "ours", "langchain", "folder"}  # reopened, interleaved
    cfg = doc["config"]
    for s, v in res["put_large"].items():
        assert v["bytes"] == cfg["large_mb"] << 20 and v["seconds"] > 0 and v["mb_per_s"] > 0, s
    for s, v in res["small_puts"].items():
        assert v["count"] == cfg["small_count"] and v["puts_per_s"] > 0, s
    # put_many and a put of stored content, each against its raw limit (issue 17)
    for s in ("raw", "ours"):
        assert res["small_puts"][s]["many"]["count"] == cfg["small_count"], s
        assert res["put_large"][s]["again"]["seconds"] > 0, s
    metrics = {r["metric"]: r for r in doc["summary"]}
    assert metrics["put_many of as many small files: per second"]["ours_vs_raw"] > 0
    chars = {v["chars"] for v in res["index"].values()}
    assert len(chars) == 1  # same corpus for everyone
    for s, v in res["index"].items():
        assert v["ingest"]["seconds"] > 0 and v["ingest"]["chunks"] > 0, s
        assert v["reingest"]["edited_docs"] >= 1 and v["reingest"]["seconds"] > 0, s
        assert v["ingest"]["peak_rss_mb"] > 0, s
    for s, v in res["query"].items():
        assert v["n"] == cfg["query_count"] and 0 < v["p50_ms"] <= v["p95_ms"], s
    # long documents: ours against its own forward pass over the same chunk texts
    assert set(res["long_ingest"]) == {"raw", "ours", "langchain"}
    long = res["long_ingest"]["ours"]
    assert long["documents"] == cfg["long_docs"] == res["long_ingest"]["langchain"]["documents"]
    assert long["ingest"]["chunks"] == long["chunk_texts"]["chunks"] > 0  # the texts it embeds
    assert long["chunk_texts"]["over_window"] == 0  # no chunk is cut off by the model's window
    assert long["forward_pass"]["seconds"] > 0 and long["vs_forward_pass"] > 0
    assert res["long_ingest"]["raw"]["ingest"]["seconds"] == long["forward_pass"]["seconds"]
    assert res["long_ingest"]["langchain"]["ingest"]["chunks"] > 0
    ours = res["index"]["ours"]
    for key in ("load", "ingest", "reingest", "reingest_changed", "query", "quality"):
        assert key in ours
    # the whole-folder sync re-put only the edited documents (unchanged ones get no version)
    assert ours["reingest"]["put"] == ours["reingest"]["edited_docs"]
    assert set(ours["quality"]) == {"default", "dense", "keyword"}
    for system in ("ours", "langchain", "folder"):
        q = res["index"][system]["quality"]["default"]
        assert q["queries"] == cfg["quality_queries"]
        assert all(0 <= q[m] <= 1 for m in ("recall@1", "recall@10", "mrr@10", "ndcg@10")), system
    assert ours["quality"]["default"]["recall@10"] > 0.5  # the eval docs are findable

    rows = {r["metric"]: r for r in saved["summary"]}
    assert set(rows) >= {
        "put large file: seconds", "small puts per second", "ingest document set: seconds",
        "re-ingest after editing 1% (re-run over whole folder): seconds",
        "query latency p50, reopened, all systems interleaved", "nDCG@10",
        "ingest long documents: seconds"}
    for r in rows.values():
        assert r["values"]["ours"] is not None, r["metric"]
        if r["ours_vs_best_peer"] is not None:
            assert math.isfinite(r["ours_vs_best_peer"]) and r["ours_vs_best_peer"] >= 0

    md = (out / "results.md").read_text()
    assert md.startswith("# Benchmark results (tiny)")
    header = next(line for line in md.splitlines() if line.startswith("| Metric |"))
    for label in doc["meta"]["systems"].values():
        assert label in header
    table = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| Metric")]
    for metric in rows:
        assert any(line.startswith(f"| {metric}") for line in table), metric
    for png in ("throughput.png", "latency.png"):
        w, h = _png_size((out / png).read_bytes())
        assert w >= 600 and h >= 200, (png, w, h)
        assert f"]({png})" in md


def test_blob_benchmark_runs_on_local_and_s3_with_raw_limits(tmp_path):
    from benchmarks.bench_blobs import main

    out = tmp_path / "blobs.md"
    lines = main(["--size-mb", "2", "--small", "3", "--runs", "1", "--out", str(out)])
    rows = [ln.split() for ln in lines if ln.startswith(("large", "small"))]
    for op in ("large put", "large get", "small put", "small get"):
        backends = {" ".join(r[2:-4]) for r in rows if " ".join(r[:2]) == op}
        assert {"store (local)", "store (s3)"} <= backends and any(b.startswith("raw") for b in backends)
    assert all(float(r[-1].rstrip("x")) > 0 for r in rows)
    assert "peak Python allocations" in out.read_text()


def test_remote_benchmark_runs_against_a_served_store_and_writes_its_figures(tmp_path):
    from benchmarks.bench_remote import main

    out = tmp_path / "remote.md"
    lines = main(["--large-mb", "1", "--repeat", "2", "--no-query", "--out", str(out)])
    rows = {ln[:16].strip(): ln[16:].split() for ln in lines[2:]}
    assert set(rows) == {"put 1 KiB", "put 1 MiB", "get 1 KiB", "get 1 MiB", "list 50", "event wake-up"}
    for cells in rows.values():  # local, remote and raw httpx: median (best), then the difference
        assert len(cells) == 7 and all(float(c.strip("()")) > 0 for c in cells[:6])
    text = out.read_text()
    assert text.startswith("# RemoteStore against ArtifactStore") and "load average" in text
    assert "--large-mb 1" in text and lines[-1] in text


def test_long_documents_are_man_page_sized_installed_text_and_deterministic():
    from benchmarks.long_docs import MAX_BYTES, MIN_BYTES, build_long_docs

    docs = build_long_docs(40)
    assert len(docs) == 40
    assert all(MIN_BYTES <= len(t.encode("utf-8")) <= MAX_BYTES for t in docs.values())
    assert {n.split("-", 1)[0] for n in docs} == {"stdlib", "pkg", "ref"}  # all three sources
    assert "pkg-notebook-artifacts.md" not in build_long_docs(None)  # never our own text
    assert build_long_docs(40) == docs  # the same installation gives the same bytes
    smaller = build_long_docs(10)
    assert smaller.items() <= docs.items()  # a smaller set is a subset of a larger one


def test_known_item_set_is_built_from_installed_text_with_one_answer_per_query():
    from benchmarks.known_item import DOC_CHARS, build_known_item_set

    kis = build_known_item_set()
    assert len(kis.queries) >= 500 and set(kis.source.values()) == {"packages", "stdlib"}
    assert len(set(q.lower() for q in kis.queries.values())) == len(kis.queries)  # unique
    for qid, query in kis.queries.items():
        (doc,) = kis.qrels[qid]  # exactly one relevant document, and it is in the corpus
        assert doc in kis.docs and query not in kis.docs[doc]  # never copied from its answer
        assert len(kis.docs[doc]) <= DOC_CHARS
    tune, test = set(kis.half("tune")), set(kis.half("test"))
    assert tune and test and not tune & test and tune | test == set(kis.queries)
    again = build_known_item_set()  # the same installation gives the same set
    assert again.queries == kis.queries and again.docs == kis.docs


@pytest.mark.model
def test_shared_benchmark_runs_against_its_own_engines_with_raw_limits(tmp_path):
    from benchmarks.bench_shared import main

    doc = main(["--repeat", "2", "--out", str(tmp_path / "shared.md")])
    ops = doc["operations"]
    assert list(ops) == ["put 1 KiB", "get 1 KiB", "list 50", "query k=5", "event wake-up"]
    for figures in ops.values():
        assert figures["raw_limit_ms"] == pytest.approx(sum(figures["raw_parts_ms"].values()),
                                                        abs=0.01)
        assert figures["shared_over_raw"] > 0 and figures["shared_over_embedded"] > 0
    assert "shared/raw" in (tmp_path / "shared.md").read_text()
    assert json.loads((tmp_path / "shared.json").read_text()) == doc


def test_the_large_put_runs_every_system_in_every_position_and_reports_the_median_round():
    """On a disk (and memory) where the second 256 MiB written in a row is slower, whichever
    system came second lost; each now writes once in each position."""
    from benchmarks.harness import _median_round, _schedule

    order = _schedule("put_large", ["raw", "ours", "folder"])
    assert len(order) == 9
    for name in ("raw", "ours", "folder"):
        positions = sorted([n for n, r in order if r == rnd].index(name) for rnd in range(3))
        assert positions == [0, 1, 2]
    assert _schedule("small_puts", ["raw", "ours"]) == [("raw", 0), ("ours", 0)]
    picked = _median_round([{"seconds": 0.9, "x": 1}, {"seconds": 0.5, "x": 2},
                            {"seconds": 0.6, "x": 3}])
    assert picked["x"] == 3 and picked["rounds_seconds"] == [0.9, 0.5, 0.6]
