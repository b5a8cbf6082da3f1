"""Chunking: structure first, then the model's own tokens inside its window, with overlap."""

from __future__ import annotations

import random

import pytest

from index_fixtures import DATA, embedder  # noqa: F401  (fixture)
from notebook_artifacts.index.chunk import chunk_document
from notebook_artifacts.index.extract import extract

pytestmark = pytest.mark.model


def _doc(path, mime=None):
    return extract(path.read_bytes(), mime, path.name)


def _ntokens(embedder, text):
    return len(embedder.token_offsets([text])[0]) + 2  # + [CLS] and [SEP]


def test_every_chunk_fits_the_model_window_and_maps_back_to_its_span(embedder):
    for name in ("project_notes.md", "measurements.csv", "feature_pipeline.py", "runbook.html",
                 "experiment_config.json", "field_report.pdf"):
        doc = _doc(DATA / name)
        chunks = chunk_document(doc, name, embedder.token_offsets, embedder.window)
        assert chunks, name
        for c in chunks:
            assert _ntokens(embedder, c.embed_text) <= embedder.window, (name, c.ordinal)
            assert doc.text[c.start:c.end] == c.text
            assert c.embed_text.startswith(name) and c.embed_text.endswith(c.text)


def test_chunks_keep_section_page_and_the_context_prefix(embedder):
    doc = _doc(DATA / "project_notes.md")
    chunks = chunk_document(doc, "project_notes.md", embedder.token_offsets, embedder.window)
    outliers = next(c for c in chunks if "2,000" in c.text)
    assert outliers.heading_path == ("Project Notes: Churn Model", "Data Cleaning", "Outliers")
    assert outliers.embed_text.startswith(
        "project_notes.md > Project Notes: Churn Model > Data Cleaning > Outliers\n")
    pdf = chunk_document(_doc(DATA / "field_report.pdf"), "field_report.pdf",
                         embedder.token_offsets, embedder.window)
    assert [c.page for c in pdf] == [1, 2, 3]
    csv_chunks = chunk_document(_doc(DATA / "measurements.csv"), "m.csv", embedder.token_offsets,
                                embedder.window)
    assert all("station,date,temperature_c" in c.embed_text for c in csv_chunks)


def test_a_long_paragraph_is_cut_into_overlapping_token_windows(embedder):
    words = " ".join(f"word{i}" for i in range(1500))  # one line, far over the window
    doc = extract(words.encode(), "text/plain", "long.txt")
    chunks = chunk_document(doc, "long.txt", embedder.token_offsets, embedder.window, overlap=32)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive windows must overlap"
        assert _ntokens(embedder, a.embed_text) <= embedder.window
    assert chunks[0].start == 0 and chunks[-1].end == len(doc.text.rstrip())


def test_one_line_edit_changes_only_nearby_chunks(embedder):
    rng = random.Random(7)
    vocab = "model data river signal forest metric cloud paper budget engine storm yellow".split()
    paras = [" ".join(rng.choice(vocab) for _ in range(rng.randint(20, 60))) + "." for _ in range(300)]
    text = "\n\n".join(paras)
    edited = paras[:]
    edited[150] = edited[150].replace(".", " plus one inserted clause about something new.")
    before = chunk_document(extract(text.encode(), "text/plain", "a.txt"), "a.txt",
                            embedder.token_offsets, embedder.window)
    after = chunk_document(extract("\n\n".join(edited).encode(), "text/plain", "a.txt"), "a.txt",
                           embedder.token_offsets, embedder.window)
    old = {c.sha256 for c in before}
    changed = [c for c in after if c.sha256 not in old]
    assert len(before) > 40
    assert 1 <= len(changed) <= 3, f"{len(changed)} of {len(after)} chunks changed"
