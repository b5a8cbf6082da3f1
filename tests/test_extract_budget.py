"""Hostile text cannot stall the indexer (issue 19, finding 2): HTML extraction is linear in
the number of headings, and every extraction runs under a time budget after which that one
version is ``failed`` with a clear ``index_error`` while the others index."""

from __future__ import annotations

import threading
import time

import pytest
from index_fixtures import embedder  # noqa: F401

from notebook_artifacts import ArtifactStore
from notebook_artifacts.index._budget import BudgetExceeded, run_with_budget
from notebook_artifacts.index.extract import extract


def test_html_with_40000_headings_extracts_in_linear_time():
    """`<h1>a</h1>` x 40,000 took 90 s when every heading re-summed the text so far; linear it
    is about a second (a 30 s budget here only keeps a regression from hanging the suite)."""
    n = 40_000
    html = "".join(f"<h1>t{i}</h1><p>body {i}</p>" for i in range(n)).encode()
    doc = run_with_budget(lambda: extract(html, "text/html", "many.html"), 30)
    assert len(doc.segments) == n
    last = doc.segments[-1]
    assert last.heading_path == (f"t{n - 1}",) and doc.text[last.start:last.end].endswith(f"body {n - 1}")


@pytest.mark.parametrize("unit,n", [("<!--", 60_000), ("<!--x>", 40_000), ("<![CDATA[x]>", 60_000),
                                    ("<a", 60_000)])
def test_unclosed_constructs_extract_in_linear_time(unit, n):
    """Python's html.parser (before 3.13.4) rescans to the end of the document for every
    construct that never closes: 240 KB of `<!--` took minutes. They are shown as text."""
    doc = run_with_budget(lambda: extract((unit * n).encode(), "text/html", "bad.html"), 30)
    assert unit.strip("<") in doc.text


def test_run_with_budget_stops_a_runaway_and_leaves_nothing_pending():
    def spin() -> None:
        while True:
            pass

    t0 = time.monotonic()
    with pytest.raises(BudgetExceeded):
        run_with_budget(spin, 0.2)
    assert time.monotonic() - t0 < 5
    # a call that finishes inside its budget is untouched, and no stray exception lands later
    assert run_with_budget(lambda: sum(range(1000)), 0.2) == 499500
    time.sleep(0.4)
    # an extractor's own `except Exception` cannot swallow the stop
    def swallowing() -> None:
        while True:
            try:
                sum(range(10_000))
            except Exception:
                pass

    with pytest.raises(BudgetExceeded):
        run_with_budget(swallowing, 0.2)
    # on another thread too (the indexer's worker thread)
    out: list[object] = []
    th = threading.Thread(target=lambda: out.append(_catch(lambda: run_with_budget(spin, 0.2))))
    th.start()
    th.join(10)
    assert out == [BudgetExceeded]


def _catch(fn):
    try:
        fn()
    except BudgetExceeded as exc:
        return type(exc)
    return None


SLOW_PAGE = b"<h2>t</h2><p>x</p>" * 600_000  # 11 MB: several seconds of html.parser


def test_a_slow_extraction_fails_alone_with_a_clear_error(tmp_path, monkeypatch, embedder):  # noqa: F811
    """With a 0.5 s budget an 11 MB page (seconds of parsing) is failed, and the documents
    around it index."""
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET", "0.5")
    store = ArtifactStore(tmp_path / "store")
    try:
        good = store.put("# Heron\n\nThe grey heron waits in the shallows.", "heron.md")
        slow = store.put(SLOW_PAGE, "slow.html")
        good2 = store.put("# Kestrel\n\nA kestrel hovers above the verge.", "kestrel.md")
        t0 = time.monotonic()
        assert store.wait_indexed(120), "the indexer stalled behind the slow document"
        rec = store.get(slow.artifact_id)
        assert rec.status == "failed" and not rec.is_indexed
        assert "time budget of 0.5 s" in rec.index_error and "NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET" in rec.index_error
        for g in (good, good2):
            assert store.get(g.artifact_id).status == "indexed"
        assert store.query("kestrel hovering", k=1).results[0].artifact.artifact_id == good2.artifact_id
        assert time.monotonic() - t0 < 60
        assert store.read_bytes(slow.artifact_id) == SLOW_PAGE  # still stored as given
    finally:
        store.close()


def test_a_bad_budget_setting_is_a_clear_error(monkeypatch):
    from notebook_artifacts.errors import InvalidInputError
    from notebook_artifacts.index._budget import default_extract_budget

    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET", "soon")
    with pytest.raises(InvalidInputError, match="NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET"):
        default_extract_budget()
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_EXTRACT_BUDGET", "0")
    with pytest.raises(InvalidInputError, match="above 0"):
        default_extract_budget()
