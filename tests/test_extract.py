"""Text extraction: structure (headings, pages, functions, row groups), skips and clear failures."""

from __future__ import annotations

import io
import json

import pytest

from index_fixtures import DATA
from notebook_artifacts.index.extract import (
    ExtractionError,
    SkipExtraction,
    detect_kind,
    extract,
)


def seg_texts(doc):
    return [(s.heading_path, s.page, doc.text[s.start:s.end]) for s in doc.segments]


def test_markdown_sections_carry_heading_paths_and_ignore_fenced_hashes():
    md = "# Title\nintro\n\n## Setup\nstep one\n```\n# not a heading\n```\n### Deep\ndeep text\n## Other\nx\n"
    doc = extract(md.encode(), "text/markdown", "notes.md")
    paths = [s.heading_path for s in doc.segments]
    assert paths == [("Title",), ("Title", "Setup"), ("Title", "Setup", "Deep"), ("Title", "Other")]
    setup = doc.text[doc.segments[1].start:doc.segments[1].end]
    assert "# not a heading" in setup and "step one" in setup


def test_pdf_is_extracted_page_by_page_with_page_numbers():
    doc = extract((DATA / "field_report.pdf").read_bytes(), "application/pdf", "field_report.pdf")
    assert doc.kind == "pdf"
    assert [s.page for s in doc.segments] == [1, 2, 3]
    pages = {s.page: doc.text[s.start:s.end] for s in doc.segments}
    assert "BUOY-7731" in pages[3] and "BUOY-7731" not in pages[1]
    assert "Salinity probes drifted" in pages[2]


def test_html_text_skips_scripts_and_keeps_heading_structure():
    doc = extract((DATA / "runbook.html").read_bytes(), "text/html", "runbook.html")
    assert "console.log" not in doc.text and "font-family" not in doc.text
    by_path = {s.heading_path: doc.text[s.start:s.end] for s in doc.segments}
    key = ("Inference Service Runbook", "Alerts", "High latency")
    assert key in by_path and "p99 latency exceeds 800 ms" in by_path[key]


def test_csv_row_groups_keep_the_header_as_context():
    rows = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(25))
    doc = extract(rows.encode(), "text/csv", "t.csv")
    assert [s.heading_path for s in doc.segments] == [("rows 1-10",), ("rows 11-20",), ("rows 21-25",)]
    assert all(s.context == "a,b" for s in doc.segments)
    assert doc.text[doc.segments[2].start:doc.segments[2].end].startswith("20,40")


def test_malformed_csv_and_json_fail_with_a_clear_error():
    with pytest.raises(ExtractionError, match="row 3 has 3 fields, header has 2"):
        extract(b"a,b\n1,2\n1,2,3\n", "text/csv", "bad.csv")
    with pytest.raises(ExtractionError, match="invalid JSON at line 2 column"):
        extract(b'{"a": 1,\n  oops}', "application/json", "bad.json")


def test_json_top_level_keys_become_sections():
    doc = extract((DATA / "experiment_config.json").read_bytes(), "application/json", "c.json")
    paths = [s.heading_path for s in doc.segments]
    assert ("metrics",) in paths and ("model",) in paths
    metrics = next(doc.text[s.start:s.end] for s in doc.segments if s.heading_path == ("metrics",))
    assert "validation_auc" in metrics


def test_python_code_is_split_by_top_level_functions_and_classes():
    doc = extract((DATA / "feature_pipeline.py").read_bytes(), "text/x-python", "feature_pipeline.py")
    labels = [s.heading_path for s in doc.segments]
    assert ("def impute_tenure",) in labels and ("class ContractEncoder",) in labels
    enc = next(doc.text[s.start:s.end] for s in doc.segments if s.heading_path == ("class ContractEncoder",))
    assert enc.startswith("class ContractEncoder") and "def transform" in enc


def test_binary_and_images_are_skipped_not_failed():
    with pytest.raises(SkipExtraction):
        extract(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "x.png")
    with pytest.raises(SkipExtraction):
        extract(b"\x00\x01\x02binary", None, "blob.bin")
    assert detect_kind("application/octet-stream", "x.bin") == "binary"


def test_broken_pdf_fails_permanently():
    with pytest.raises(ExtractionError, match="PDF"):
        extract(b"%PDF-1.4\nthis is not really a pdf", "application/pdf", "broken.pdf")
    with pytest.raises(ExtractionError, match="no %PDF header"):
        extract(b"hello", "application/pdf", "fake.pdf")


def test_parquet_is_indexed_as_rows():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    buf = io.BytesIO()
    pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3, 19]}).to_parquet(buf)
    doc = extract(buf.getvalue(), "application/vnd.apache.parquet", "t.parquet")
    assert "Oslo,3" in doc.text and doc.segments[0].context == "city,temp"


def test_notebook_json_indexes_cell_sources():
    # a bare cells list (no nbformat keys) is still read as a notebook, cell by cell
    nb = {"cells": [{"cell_type": "markdown", "source": ["# Analysis\n", "of churn"]},
                    {"cell_type": "code", "source": "df.describe()"}], "metadata": {}}
    doc = extract(json.dumps(nb).encode(), "application/json", "a.ipynb")
    assert doc.kind == "notebook"
    assert [(s.heading_path, s.location) for s in doc.segments] == [
        (("Analysis",), {"cell": 1}), (("Analysis",), {"cell": 2})]
    assert "of churn" in doc.text
