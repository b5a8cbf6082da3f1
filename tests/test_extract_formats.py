"""Notebooks, spreadsheets, Word and PowerPoint: segments, locations, citations, failures.

Every file is made by the format's own library (see format_fixtures.py); no model is loaded.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

import format_fixtures as F
from notebook_artifacts.index import extract_sheets, formats
from notebook_artifacts.index.chunk import chunk_document
from notebook_artifacts.index.context import citation, format_location
from notebook_artifacts.index.extract import ExtractionError, detect_kind, extract

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def segs(doc):
    return [(s.location, s.heading_path, s.context, doc.text[s.start:s.end]) for s in doc.segments]


def by_cell(doc) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for s in doc.segments:
        out.setdefault(s.location["cell"], []).append(doc.text[s.start:s.end])
    return out


def whitespace_tokens(texts):
    """A stand-in tokenizer for the chunker: one token per run of non-space characters."""
    return [[m.span() for m in re.finditer(r"\S+", t)] for t in texts]


# --- notebooks ----------------------------------------------------------------------------

def test_notebook_cells_keep_text_outputs_and_skip_images_widgets_and_huge_outputs():
    doc = extract(F.notebook(), "application/x-ipynb+json", "churn_analysis.ipynb")
    assert doc.kind == "notebook"
    cells = by_cell(doc)
    assert sorted(cells) == list(range(1, 11))
    assert cells[2][1] == "rows loaded: 7043"  # the stream output, beside its source
    assert cells[4][1] == "validation accuracy 0.912"
    assert "month-to-month    0.427" in cells[5][1]  # a small table's text/plain
    assert "<table>" not in doc.text
    assert len(cells[6]) == 1 and "Figure size" not in doc.text and "iVBOR" not in doc.text
    assert len(cells[7]) == 1 and "FloatSlider(value=0.5)" not in "".join(cells[7][1:])
    assert len(cells[8]) == 1 and "verbose trace line" not in doc.text  # over the output cap
    assert cells[9][1] == "KeyError: 'tenure_bucket'" and "\x1b" not in doc.text
    assert cells[10][1] == "epoch 3/3 done"  # a progress bar's last state
    outputs = [s for s in doc.segments if s.context.startswith("output of:")]
    assert outputs[1].context == "output of: model.fit(X_train, y_train)"


def test_markdown_headings_give_every_cell_its_section_path():
    doc = extract(F.notebook(), "application/x-ipynb+json", "churn_analysis.ipynb")
    paths = {s.location["cell"]: s.heading_path for s in doc.segments}
    assert paths[1] == paths[2] == ("Churn analysis",)
    assert paths[3] == paths[4] == paths[10] == ("Churn analysis", "Model")


def test_a_rerun_notebook_changes_only_the_text_of_cells_whose_outputs_changed():
    first = extract(F.notebook(), None, "churn_analysis.ipynb")
    rerun_same = extract(F.notebook(counts_from=40), None, "churn_analysis.ipynb")
    assert segs(rerun_same) == segs(first)  # execution counts are not part of the text
    rerun = extract(F.notebook(accuracy="0.925", counts_from=80), None, "churn_analysis.ipynb")
    changed = [(a[0], b[3]) for a, b in zip(segs(first), segs(rerun)) if a != b]
    assert changed == [({"cell": 4}, "validation accuracy 0.925")]


def test_the_projects_own_notebooks_are_indexed_cell_by_cell_under_their_headings():
    data = (NOTEBOOKS / "quickstart.ipynb").read_bytes()
    doc = extract(data, "application/x-ipynb+json", "quickstart.ipynb")
    n_cells = len(json.loads(data)["cells"])
    assert {s.location["cell"] for s in doc.segments} <= set(range(1, n_cells + 1))
    versions = [s for s in doc.segments if s.heading_path[-1:] == ("Versions",)]
    assert versions and any("store.versions" in doc.text[s.start:s.end] for s in versions)


@pytest.mark.parametrize("data, message", [
    (b'{"cells": [', "not valid JSON"),
    (b"[1, 2]", "not a Jupyter notebook"),
    (b'{"metadata": {}}', "no list of cells"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "cells": "nope", "metadata": {}}', "no list of cells"),
    (b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": 7}', "could not be read by nbformat"),
])
def test_malformed_notebooks_fail_with_a_clear_error(data, message):
    with pytest.raises(ExtractionError, match=message):
        extract(data, "application/x-ipynb+json", "broken.ipynb")


@pytest.mark.parametrize("nbformat_keys", [{}, {"nbformat": 4, "nbformat_minor": 5}])
def test_odd_notebook_shapes_keep_the_cells_that_make_sense(nbformat_keys):
    nb = {"metadata": {}, **nbformat_keys, "cells": [
        7,
        {"cell_type": "code", "source": "a = 1", "outputs": 5},
        {"cell_type": "code", "source": "b", "outputs": [
            {"output_type": "execute_result", "data": ["not", "a", "dict"]}, "junk",
            {"output_type": "stream", "text": ["kept ", "output"]}]}]}
    doc = extract(json.dumps(nb).encode(), None, "odd.ipynb")
    assert [(s.location, doc.text[s.start:s.end]) for s in doc.segments] == [
        ({"cell": 2}, "a = 1"), ({"cell": 3}, "b"), ({"cell": 3}, "kept output")]


# --- spreadsheets -------------------------------------------------------------------------

def test_xlsx_is_indexed_sheet_by_sheet_with_the_header_in_every_group():
    doc = extract(F.xlsx(), None, "budget.xlsx")
    assert doc.kind == "xlsx"
    assert {s.location["sheet"] for s in doc.segments} == {"Q2", "Q3"}
    assert all(s.context == "line_item,department,amount" for s in doc.segments)
    assert all(s.heading_path == (s.location["sheet"],) for s in doc.segments)
    q3 = [s for s in doc.segments if s.location["sheet"] == "Q3"]
    assert q3[0].location["rows"][0] == 2 and q3[-1].location["rows"][1] == 61
    lease = next(s for s in q3 if "Satellite" in doc.text[s.start:s.end])
    lines = doc.text[lease.start:lease.end].split("\n")
    first, last = lease.location["rows"]
    assert len(lines) == last - first + 1
    # the spreadsheet's own row number: header on row 1, data frame row 40 on row 42
    assert lines[42 - first] == "Satellite ground station lease,Operations,48200"


def test_ods_and_xls_read_with_their_own_engines():
    doc = extract(F.ods(), "application/vnd.oasis.opendocument.spreadsheet", "budget.ods")
    assert doc.kind == "ods" and {s.location["sheet"] for s in doc.segments} == {"Q2", "Q3"}
    assert "Satellite ground station lease,Operations,48200" in doc.text
    assert all(s.context == "line_item,department,amount" for s in doc.segments)

    doc = extract(F.xls(), None, "buoys.xls")
    assert doc.kind == "xls"
    title, *groups = doc.segments
    assert doc.text[title.start:title.end] == "Buoy readings 2024" and title.context == ""
    assert all(g.context == "date,buoy,salinity" for g in groups)
    assert groups[0].location == {"sheet": "Readings", "rows": [4, 33]}
    assert "2024-01-18,BUOY-7731,36.7" in doc.text  # dates as ISO dates, not serial numbers


def test_a_sheet_without_a_header_row_has_no_header_context_and_a_bare_header_is_kept():
    import pandas as pd

    buf = io.BytesIO()
    pd.DataFrame([[1, 2.5], [3, 4.5]]).to_excel(buf, index=False, header=False)
    doc = extract(buf.getvalue(), None, "numbers.xlsx")
    assert [(s.context, s.location["rows"]) for s in doc.segments] == [("", [1, 2])]
    buf = io.BytesIO()  # and one that is only a header row is indexed by its header
    pd.DataFrame(columns=["sample_id", "assay"]).to_excel(buf, index=False)
    doc = extract(buf.getvalue(), None, "empty.xlsx")
    assert [(doc.text[s.start:s.end], s.location) for s in doc.segments] == [
        ("sample_id,assay", {"sheet": "Sheet1", "rows": [1, 1]})]


def test_chunks_of_a_long_row_group_cite_their_own_rows():
    import pandas as pd

    df = pd.DataFrame({"id": range(40), "text": [" ".join(["word"] * 30) + f" item{i}"
                                                  for i in range(40)]})
    doc = extract(F.xlsx({"Wide": df}), None, "wide.xlsx")
    chunks = chunk_document(doc, "wide.xlsx", whitespace_tokens, window=128)
    assert len(chunks) > len(doc.segments)  # groups were split across chunks
    for c in chunks:
        first, last = c.location["rows"]
        ids = [int(line.split(",")[0]) for line in c.text.split("\n")]
        assert ids == list(range(first - 2, last - 1)), c.location  # header on row 1
    assert citation("wide.xlsx", 2, location=chunks[1].location).startswith(
        'wide.xlsx v2, sheet "Wide", rows ')


@pytest.mark.parametrize("name, data, message", [
    ("broken.xlsx", b"PK\x03\x04 this is no workbook", "not a valid Excel workbook"),
    ("notes.xlsx", None, "Excel workbook could not be read"),
    ("broken.xls", b"\xd0\xcf\x11\xe0 not really", "Excel 97-2003 workbook could not be read"),
    ("broken.ods", b"not a zip", "not a valid OpenDocument spreadsheet"),
])
def test_malformed_spreadsheets_fail_with_a_clear_error(name, data, message):
    if data is None:  # a real zip, but not a workbook
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("notes.txt", "hello")
        data = buf.getvalue()
    with pytest.raises(ExtractionError, match=message):
        extract(data, None, name)


def test_a_workbook_over_the_cell_cap_fails_instead_of_indexing_for_hours(monkeypatch):
    monkeypatch.setattr(extract_sheets, "MAX_CELLS", 100)
    with pytest.raises(ExtractionError, match="over 100 non-empty cells"):
        extract(F.xlsx(), None, "budget.xlsx")


# --- Word and PowerPoint ------------------------------------------------------------------

def test_docx_sections_follow_heading_styles_and_tables_keep_their_header():
    doc = extract(F.docx(), None, "report.docx")
    assert doc.kind == "docx"
    got = {(s.heading_path, s.context): doc.text[s.start:s.end] for s in doc.segments}
    root = ("Annual field report",)
    assert "coastal monitoring network" in got[(root, "")]
    assert "drifted by 0.3 PSU" in got[(root + ("Results", "Buoy calibration"), "")]
    table = got[(root + ("Results", "Costs"), "item | cost (EUR)")]
    assert table.split("\n") == ["replacement anemometers | 12,400", "vessel charter | 31,000",
                                 "spare batteries | 2,150"]
    assert "Hire two field technicians" in got[(root + ("Next steps",), "")]
    assert (root + ("Results",), "") not in got  # a heading alone is not a section


def test_pptx_is_indexed_slide_by_slide_with_title_and_notes():
    doc = extract(F.pptx(), None, "deck.pptx")
    assert doc.kind == "pptx"
    slides = {s.location["slide"]: (s.heading_path, doc.text[s.start:s.end])
              for s in doc.segments}
    assert sorted(slides) == list(range(1, 9))
    heading, text = slides[7]
    assert heading == ("Pricing experiment",)
    assert text.split("\n\n") == ["Pricing experiment",
                                  "A 15% discount raised conversion by 2.4 points",
                                  "Notes: Mention that the holdout group saw no change."]
    assert "metric | value\nAUC | 0.91" in slides[8][1]
    assert "Grouped caption about recall" in slides[8][1]


@pytest.mark.parametrize("name, label", [("report.docx", "Word document"),
                                         ("deck.pptx", "PowerPoint deck")])
def test_malformed_office_files_fail_with_a_clear_error(name, label):
    good = F.docx() if name.endswith("docx") else F.pptx()
    with pytest.raises(ExtractionError, match=f"not a valid {label}"):
        extract(good[: len(good) // 2], None, name)  # a truncated download
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("word/document.xml", "<not-xml")
    with pytest.raises(ExtractionError, match=f"{label} could not be read"):
        extract(buf.getvalue(), None, name)


# --- caps and registration ----------------------------------------------------------------

def test_zip_documents_that_unpack_past_the_cap_fail_before_parsing(monkeypatch):
    for kind, name, data in (("docx", "report.docx", F.docx()), ("pptx", "deck.pptx", F.pptx()),
                             ("xlsx", "budget.xlsx", F.xlsx()), ("ods", "budget.ods", F.ods())):
        small = dataclasses.replace(formats.FORMATS[kind], max_unzipped=10_000)
        monkeypatch.setitem(formats.FORMATS, kind, small)
        with pytest.raises(ExtractionError, match="unpacks to .* over the 10,000 bytes"):
            extract(data, None, name)
    # a real zip bomb: 300 MB of zeros in a 300 KB .docx fails before anything is inflated
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("word/document.xml", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(300):
                member.write(block)
    monkeypatch.undo()
    with pytest.raises(ExtractionError, match="Word document unpacks to 300.0 MB, over the 200.0"):
        extract(buf.getvalue(), None, "bomb.docx")


def test_files_over_their_kinds_size_cap_fail_before_they_are_read(monkeypatch):
    with pytest.raises(ExtractionError, match=r"Excel workbook of 200\.0 MB is over the 100\.0 MB"):
        formats.check_size(None, "budget.xlsx", 200 * formats.MB)
    formats.check_size(None, "budget.xlsx", 1000)  # under the cap
    formats.check_size("text/plain", "notes.txt", 10**12)  # not a registered kind
    small = dataclasses.replace(formats.FORMATS["pptx"], max_bytes=1000)
    monkeypatch.setitem(formats.FORMATS, "pptx", small)
    with pytest.raises(ExtractionError, match="PowerPoint deck of .* over the 1,000 bytes"):
        extract(F.pptx(), None, "deck.pptx")


@pytest.mark.parametrize("mime, name, kind", [
    ("application/x-ipynb+json", "a.ipynb", "notebook"),
    ("application/json", "a.ipynb", "notebook"),
    ("application/vnd.ms-excel", "old.xls", "xls"),
    ("application/vnd.ms-excel", None, "xls"),
    ("application/octet-stream", "budget.xlsx", "xlsx"),
    ("application/vnd.ms-excel.sheet.macroEnabled.12", "m.xlsm", "xlsx"),
    ("application/vnd.oasis.opendocument.spreadsheet", None, "ods"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", None, "docx"),
    (None, "deck.pptx", "pptx"),
    ("application/json", "data.json", "json"),
])
def test_detect_kind_recognises_the_registered_formats(mime, name, kind):
    assert detect_kind(mime, name) == kind


def test_locations_format_as_citations():
    assert format_location({"cell": 12}) == "cell 12"
    assert format_location({"sheet": "Q3", "rows": [40, 80]}) == 'sheet "Q3", rows 40-80'
    assert format_location({"sheet": "Q3", "rows": [7, 7]}) == 'sheet "Q3", row 7'
    assert citation("analysis.ipynb", 3, None, "Model", {"cell": 12}) == "analysis.ipynb v3, cell 12"
    assert citation("deck.pptx", 1, location={"slide": 7}) == "deck.pptx v1, slide 7"
    assert citation("report.docx", 1, None, "Results > Costs", {}) == "report.docx v1, § Results > Costs"
    assert citation("r.pdf", 2, 3, "Intro") == "r.pdf v2, p. 3"


def test_a_catalog_indexed_before_locations_gains_the_column_and_keeps_its_chunks(tmp_path):
    import sqlite3

    from notebook_artifacts.index._db import IndexDB

    path = tmp_path / "catalog.sqlite3"
    old = sqlite3.connect(path)  # idx_chunks as it was before the location column
    old.execute("CREATE TABLE idx_chunks (id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_key TEXT "
                "NOT NULL UNIQUE, scope TEXT NOT NULL, owner_id TEXT NOT NULL, artifact_id TEXT "
                "NOT NULL, root_artifact_id TEXT, version INTEGER, name TEXT, namespace TEXT, "
                "session_id TEXT, mime_type TEXT, ordinal INTEGER NOT NULL, text TEXT NOT NULL, "
                "heading TEXT, page INTEGER, char_start INTEGER, char_end INTEGER, "
                "sha256 TEXT NOT NULL, model_id TEXT NOT NULL)")
    old.execute("INSERT INTO idx_chunks(chunk_key, scope, owner_id, artifact_id, ordinal, text, "
                "sha256, model_id) VALUES ('a:0', 'artifacts', 'a', 'a', 0, 'hello', 'x', 'm')")
    old.commit()
    old.close()
    db = IndexDB(path)
    (row,) = db.query("SELECT text, location FROM idx_chunks")
    assert tuple(row) == ("hello", None)
    IndexDB(path).close()  # a second open finds the column already there
    db.close()


# --- fuzzing ------------------------------------------------------------------------------

_GOOD = {"budget.xlsx": F.xlsx, "budget.ods": F.ods, "buoys.xls": F.xls, "report.docx": F.docx,
         "deck.pptx": F.pptx, "churn.ipynb": F.notebook}


def test_mutated_documents_of_every_format_extract_or_fail_cleanly():
    """Truncated, bit-flipped, spliced and zeroed workbooks, documents, decks and notebooks,
    and notebooks of random JSON shapes, end in text or a clean ExtractionError/Skip: never
    another exception (the indexer would call it transient and retry it)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from notebook_artifacts.index.extract import SkipExtraction

    good = {name: make() for name, make in _GOOD.items()}

    @st.composite
    def mutated(draw):
        name = draw(st.sampled_from(sorted(good)))
        data = bytearray(good[name])
        for _ in range(draw(st.integers(1, 3))):
            op = draw(st.sampled_from(["truncate", "flip", "insert", "zero"]))
            pos = draw(st.integers(0, max(0, len(data) - 1)))
            if op == "truncate":
                data = data[:pos]
            elif op == "flip" and data:
                data[pos] ^= draw(st.integers(1, 255))
            elif op == "insert":
                data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
            else:
                end = draw(st.integers(pos, min(len(data), pos + 256)))
                data[pos:end] = bytes(end - pos)
        return name, bytes(data)

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
            st.sampled_from(["cells", "cell_type", "source", "outputs", "output_type", "data",
                             "text", "text/plain", "ename", "evalue", "nbformat", "metadata",
                             "worksheets", "name"]), kids, max_size=5), max_leaves=20)
    shapes = st.builds(lambda v: ("fuzz.ipynb", json.dumps(v).encode()), json_values)

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(doc=st.one_of(mutated(), shapes))
    def check(doc):
        name, data = doc
        try:
            got = extract(data, None, name)
        except (ExtractionError, SkipExtraction) as exc:
            assert str(exc)
        else:
            assert isinstance(got.text, str)
            for s in got.segments:
                assert 0 <= s.start <= s.end <= len(got.text)

    check()


# --- web pages ----------------------------------------------------------------------------

WEB_PAGE = """<!DOCTYPE html><html><head><title>Tide gauges | Coastal Notes</title>
<style>body {font-family: serif}</style></head><body>
<header><a href="/">Coastal Notes</a> <nav><ul><li><a href="/a">Archive</a></li>
<li><a href="/s">Subscribe to our newsletter</a></li><li><a href="/t">Tags</a></li></ul></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<main><article><h1>Tide gauges</h1>
<p>Tide gauges on the harbour wall record the sea level every six minutes. The readings are
corrected for the settling of the wall, which sank by four millimetres a year since 1990.</p>
<h2>Calibration</h2>
<p>Each gauge is levelled against the benchmark bolt BM-2217 twice a year, and the offset is
applied to the whole series before it is published to the national archive.</p>
<p>Gauges that drift by more than a centimetre between levellings are replaced, not adjusted.</p>
</article></main>
<aside class="sidebar"><h3>Related posts</h3><ul><li><a href="/w">Wave buoys explained</a></li>
<li><a href="/r">Rain radar for beginners</a></li></ul></aside>
<footer>Copyright 2026 Coastal Notes. All rights reserved. Privacy policy. Terms of use.</footer>
</body></html>"""


def test_a_web_page_is_indexed_without_its_navigation_and_boilerplate():
    doc = extract(WEB_PAGE.encode(), "text/html", "tides.html")
    for boilerplate in ("Subscribe to our newsletter", "Related posts", "All rights reserved",
                        "Rain radar"):
        assert boilerplate not in doc.text
    by_path = {s.heading_path: doc.text[s.start:s.end] for s in doc.segments}
    root = ("Tide gauges | Coastal Notes", "Tide gauges")
    assert "every six minutes" in by_path[root]
    assert "BM-2217" in by_path[root + ("Calibration",)]
    assert "replaced, not adjusted" in by_path[root + ("Calibration",)]


def test_pages_without_boilerplate_landmarks_keep_every_word():
    import pandas as pd

    from notebook_artifacts.index.extract_html_main import main_content

    runbook = (Path(__file__).resolve().parents[1] / "data" / "runbook.html").read_text()
    table = pd.DataFrame({"city": ["Oslo", "Lima"] * 30, "temp": range(60)}).to_html()
    assert main_content(runbook) == runbook and main_content(table) == table
    doc = extract(table.encode(), "text/html", "t.html")
    assert doc.text.count("Oslo") == 30
    # a page whose main content the extractor cannot find keeps its whole text
    tiny = "<html><body><nav><a href='/'>Home</a></nav><p>Only a short note.</p></body></html>"
    assert main_content(tiny) == tiny
