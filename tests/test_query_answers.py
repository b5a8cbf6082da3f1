"""What a query hands to an LLM: a context made of the returned results only, a relevance floor,
tables chunked with their header, multi-part questions answered part by part, empty stores
answered at once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from index_fixtures import DATA, embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore
from notebook_artifacts._demo import DEFAULT_QUESTION
from notebook_artifacts.index import fuse
from notebook_artifacts.index.chunk import chunk_document
from notebook_artifacts.index.extract import extract

pytestmark = pytest.mark.model

SAMPLES = ("project_notes.md", "measurements.csv", "feature_pipeline.py", "runbook.html",
           "experiment_config.json", "field_report.pdf")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, embedder):
    store = ArtifactStore(tmp_path_factory.mktemp("answers"))
    for name in SAMPLES:
        store.put(DATA / name, namespace="demo")
    assert store.wait_indexed(300)
    yield store
    store.close()


def _cited_names(context: str) -> list[str]:
    return [m.split(" v")[0] for m in re.findall(r"^\[\d+\] (.+)$", context, flags=re.M)]


def test_combined_context_holds_only_the_returned_results(demo):
    for k in (1, 3, 5):
        res = demo.query(DEFAULT_QUESTION, k=k, namespace="demo", context_budget=50_000)
        returned = {h.artifact.name for h in res.results}
        cited = _cited_names(res.combined_context)
        assert cited and set(cited) <= returned, (k, cited, returned)
        assert len(cited) <= 2 * k  # a hit's passages, not the budget filled with the corpus
    one = demo.query("what does the runbook say about model drift", k=1, namespace="demo",
                     context_budget=50_000)
    assert [h.artifact.name for h in one.results] == ["runbook.html"]
    assert "field_report.pdf" not in one.combined_context
    assert "Salinity" not in one.combined_context  # the unrelated field report stays out


def test_results_below_the_relevance_floor_are_not_returned(demo):
    res = demo.query("how is missing tenure handled?", k=5, namespace="demo")
    floor = fuse.MIN_SCORE["hybrid"]
    assert res.results and all(h.score >= floor for h in res.results)
    assert "measurements.csv" not in [h.artifact.name for h in res.results]  # buoy readings
    everything = demo.query("how is missing tenure handled?", k=5, namespace="demo",
                            min_score=0.0)
    assert len(everything.results) == 5  # the floor is tunable per query
    assert any(h.score < floor for h in everything.results)


def test_a_multi_part_question_retrieves_for_each_part(demo):
    res = demo.query(DEFAULT_QUESTION, k=5, namespace="demo")
    names = [h.artifact.name for h in res.results]
    assert {"runbook.html", "project_notes.md"} <= set(names[:2])
    assert "Validation AUC is 0.87" in res.combined_context  # how good the model is
    assert "population stability index" in res.combined_context  # what to do on drift


def test_every_csv_chunk_carries_its_header_and_an_honest_row_label(embedder):
    header = "station,date,reading_description,operator_note,calibration_reference"
    rows = [f"buoy-{i:02d},2024-05-{i % 28 + 1:02d},reading number {i} of the southern array "
            f"taken at dawn,operator {i} noted calm seas and clear skies,cal-ref-{i * 7}"
            for i in range(1, 41)]
    text = header + "\n" + "\n".join(rows) + "\n"
    doc = extract(text.encode(), "text/csv", "wide.csv")
    chunks = chunk_document(doc, "wide.csv", embedder.token_offsets, embedder.window)
    assert len(chunks) > 4  # ten wide rows do not fit one chunk: groups get split
    covered = []
    for c in chunks:
        lines = c.passage.splitlines()
        assert lines[0] == header, c.passage[:80]
        first, last = map(int, re.fullmatch(r"rows (\d+)-(\d+)", c.heading_path[-1]).groups())
        body = lines[1:]
        assert body == rows[first - 1:last], (c.heading_path, body[:1], body[-1:])
        covered += range(first, last + 1)
    assert sorted(set(covered)) == list(range(1, 41))


def test_dataframe_chunks_returned_by_a_query_carry_the_header(demo):
    import pandas as pd

    df = pd.DataFrame({"city": [f"town-{i}" for i in range(30)],
                       "rainfall_mm": [i * 3 for i in range(30)],
                       "note": ["monsoon gauge reading" if i == 17 else "dry" for i in range(30)]})
    demo.put(df, "rain.csv", namespace="tables")
    assert demo.wait_indexed(120)
    hit = demo.query("monsoon gauge reading", k=1, namespace="tables").results[0]
    assert hit.matched_chunk.splitlines()[0] == "city,rainfall_mm,note"
    assert "town-17,51,monsoon gauge reading" in hit.matched_chunk


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


def test_query_json_carries_the_chunk_and_a_preview_not_the_file(demo):
    p = subprocess.run(_cli() + ["--root", str(demo.root), "query", "churn model validation AUC",
                                 "-n", "demo", "-k", "3", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["results"]
    for hit in out["results"]:
        art = hit["artifact"]
        assert "content" not in art and "content_text" not in art
        assert art["content_preview"] is None or len(art["content_preview"]) <= 300
        assert hit["matched_chunk"] and hit["citation"]
    assert len(p.stdout) < 20_000


EMPTY = """
import sys, time
from notebook_artifacts import ArtifactStore
s = ArtifactStore(sys.argv[1])
t = time.perf_counter()
r = s.query("anything at all")
took = time.perf_counter() - t
loaded = [m for m in ('torch', 'onnxruntime', 'sentence_transformers', 'chromadb') if m in sys.modules]
print(repr(r.note)); print(len(r.results), r.combined_context == ''); print(loaded); print(took)
s.close()
"""


def test_a_query_on_an_empty_store_answers_at_once_without_the_model(tmp_path):
    p = subprocess.run([sys.executable, "-c", EMPTY, str(tmp_path / "empty")], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert p.returncode == 0, p.stderr
    note, counts, loaded, took = p.stdout.splitlines()
    # answered without loading the model or Chroma (no timing asserted: the machine varies)
    assert "empty" in note and counts == "0 True" and loaded == "[]", took
    cli = subprocess.run(_cli() + ["--root", str(tmp_path / "empty"), "query", "anything"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and "empty" in cli.stdout + cli.stderr


def test_a_query_on_an_empty_namespace_says_so(demo):
    res = demo.query("anything at all", namespace="nothing-here")
    assert res.results == [] and "nothing-here" in res.note and "empty" in res.note
    assert res.combined_context == ""
