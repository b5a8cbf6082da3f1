"""Query finds a notebook cell, sheet rows, a Word heading and a slide, with its citation;
malformed and oversized files fail alone; a re-run notebook re-embeds only changed cells.

One store with the real model for the whole module (indexing costs the most here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import format_fixtures as F
from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore, InvalidInputError
from notebook_artifacts.index import formats

pytestmark = pytest.mark.model

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    base = tmp_path_factory.mktemp("formats")
    store = ArtifactStore(base / "store")
    files = {"churn_analysis.ipynb": F.notebook(), "budget.xlsx": F.xlsx(),
             "budget.ods": F.ods(), "buoys.xls": F.xls(), "report.docx": F.docx(),
             "deck.pptx": F.pptx(), "broken.xlsx": b"PK\x03\x04 truncated download",
             "broken.ipynb": b'{"cells": [', "broken.docx": F.docx()[:2000],
             "huge.pptx": F.pptx()}
    mp = pytest.MonkeyPatch()  # a tiny cap for PowerPoint: huge.pptx is "too large"
    mp.setitem(formats.FORMATS, "pptx", dataclasses.replace(
        formats.FORMATS["pptx"], max_bytes=len(files["deck.pptx"]) + 10))
    files["huge.pptx"] = F.pptx() + b"\0" * 100  # zip readers ignore trailing bytes
    for name, data in files.items():
        path = base / name
        path.write_bytes(data)
        store.put(path)
    store.put(NOTEBOOKS / "quickstart.ipynb")
    try:
        assert store.wait_indexed(600)
        yield store
    finally:
        mp.undo()
        store.close()


def top(store, text, **kw):
    res = store.query(text, k=3, **kw)
    assert res.results, text
    return res.results[0], res


def test_query_finds_the_notebook_cell_with_its_citation(world):
    hit, res = top(world, "validation accuracy of the churn classifier")
    assert hit.artifact.name == "churn_analysis.ipynb"
    assert hit.citation == "churn_analysis.ipynb v1, cell 4"
    assert hit.location["cell"] == 4 and hit.location["heading_path"] == ["Churn analysis", "Model"]
    assert "[1] churn_analysis.ipynb v1, cell 4\n" in res.combined_context
    # an output is found too, and cited by the cell that printed it
    hit, _ = top(world, "7043 rows loaded", mode="keyword")
    assert hit.citation == "churn_analysis.ipynb v1, cell 2" and "7043" in hit.matched_chunk


def test_query_finds_the_spreadsheet_rows_with_sheet_and_row_numbers(world):
    hit, _ = top(world, "satellite ground station lease", mime_types=[
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"])
    assert hit.artifact.name == "budget.xlsx" and hit.location["sheet"] == "Q3"
    first, last = hit.location["rows"]
    assert first <= 42 <= last  # the lease is on spreadsheet row 42
    assert hit.citation == f'budget.xlsx v1, sheet "Q3", rows {first}-{last}'
    assert "Satellite ground station lease,Operations,48200" in hit.matched_chunk
    hit, _ = top(world, "BUOY-7731 salinity reading", mode="keyword")
    assert hit.artifact.name == "buoys.xls" and hit.location["sheet"] == "Readings"
    assert hit.location["rows"][0] <= 21 <= hit.location["rows"][1]  # xlwt row 20, 0-based


def test_query_finds_the_word_section_by_its_heading_path(world):
    hit, _ = top(world, "did the salinity sensors on the buoys drift")
    assert hit.artifact.name == "report.docx"
    assert hit.citation == "report.docx v1, § Annual field report > Results > Buoy calibration"
    hit, _ = top(world, "vessel charter cost", mode="keyword")
    assert hit.citation == "report.docx v1, § Annual field report > Results > Costs"


def test_query_finds_the_slide_and_its_speaker_notes(world):
    hit, _ = top(world, "how much did the discount raise conversion")
    assert hit.citation == "deck.pptx v1, slide 7" and hit.location["slide"] == 7
    hit, _ = top(world, "holdout group", mode="keyword")
    assert hit.citation == "deck.pptx v1, slide 7"


def test_the_projects_own_notebook_is_searchable_by_cell(world):
    hit, _ = top(world, "putting a name again makes the next version", mode="keyword")
    assert hit.artifact.name == "quickstart.ipynb"
    assert hit.citation.startswith("quickstart.ipynb v1, cell ")


def test_malformed_and_oversized_files_fail_alone_with_a_clear_error(world):
    failed = {n: world.get(n) for n in ("broken.xlsx", "broken.ipynb", "broken.docx",
                                        "huge.pptx")}
    assert {a.status for a in failed.values()} == {"failed"}
    assert "not a valid Excel workbook" in failed["broken.xlsx"].index_error
    assert "notebook is not valid JSON" in failed["broken.ipynb"].index_error
    assert "Word document" in failed["broken.docx"].index_error
    assert "over the" in failed["huge.pptx"].index_error and "cap" in failed["huge.pptx"].index_error
    for name in ("churn_analysis.ipynb", "budget.xlsx", "budget.ods", "buoys.xls",
                 "report.docx", "deck.pptx", "quickstart.ipynb"):
        a = world.get(name)
        assert a.status == "indexed" and a.chunk_count > 0, (name, a.index_error)
    assert "Pricing experiment" in world.get("deck.pptx").content_text


def test_load_returns_dataframes_for_workbooks(world):
    sheets = world.load("budget.xlsx")
    assert set(sheets) == {"Q2", "Q3"}
    pd.testing.assert_frame_equal(sheets["Q3"], F.budget_frames()["Q3"])
    assert world.load("budget.ods")["Q3"].loc[40, "line_item"] == "Satellite ground station lease"
    one = world.load("buoys.xls")
    assert isinstance(one, pd.DataFrame) and one.columns[0] == "Buoy readings 2024"
    with pytest.raises(InvalidInputError, match="broken.xlsx v1 is not a readable workbook"):
        world.load("broken.xlsx")
    assert world.get("budget.xlsx").artifact_type == "table"
    assert world.get("report.docx").artifact_type == "document"


def test_a_rerun_notebook_re_embeds_only_the_cells_whose_outputs_changed(world, tmp_path):
    svc = world._index()
    v1 = world.get("churn_analysis.ipynb")
    path = tmp_path / "churn_analysis.ipynb"
    path.write_bytes(F.notebook(accuracy="0.925", counts_from=50))  # re-run: all counts change
    before = svc.cache.embedded_count
    v2 = world.put(path)
    assert v2.version == 2 and world.wait_indexed(300)
    embedded = svc.cache.embedded_count - before
    old = {r[0] for r in svc.db.query("SELECT sha256 FROM idx_chunks WHERE owner_id = ?",
                                      (v1.artifact_id,))}
    new = svc.db.query("SELECT sha256, location, text FROM idx_chunks WHERE owner_id = ?",
                       (v2.artifact_id,))
    changed = [(loc, text) for sha, loc, text in new if sha not in old]
    assert changed == [('{"cell": 4}', "validation accuracy 0.925")]
    assert embedded == 1 and len(new) == len(old)
    hit, _ = top(world, "validation accuracy 0.925", mode="keyword")
    assert hit.citation == "churn_analysis.ipynb v2, cell 4"
