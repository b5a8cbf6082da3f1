"""Inline previews in cards, the dashboard and ``%artifact show``: useful, and never active."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from notebook_artifacts import Artifact, ArtifactStore
from notebook_artifacts.notebook.previews import ArtifactView, preview_html

EVIL = '<script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.fixture()
def store(tmp_path):
    s = ArtifactStore(tmp_path / "store", index=False)
    yield s
    s.close()


def _png(width=800, height=600) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _active(html: str) -> list[str]:
    """Elements and attributes that would run or load something (parsed, not grepped)."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in ("script", "svg", "iframe", "object", "embed", "link", "meta", "base", "form"):
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                    found.append(f"{tag}[{name}]")
                if name in ("src", "href", "srcset") and not (value or "").startswith("data:image/png;base64,"):
                    found.append(f"{tag}[{name}={value}]")

    Finder().feed(html)
    return found


def test_image_preview_is_a_small_png_thumbnail(store):
    pytest.importorskip("PIL")
    a = store.put(_png(), "plot.png")
    html = preview_html(store, a)
    assert '<img src="data:image/png;base64,' in html and "800\u00d7600 px" in html
    assert len(html) < 20_000  # a thumbnail, not the picture
    assert not _active(html)


def test_a_fake_image_or_svg_is_shown_as_text(store):
    fake = store.put(b"<svg onload=alert(1)><script>x</script></svg>", "x.png", mime_type="image/png")
    svg = store.put(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
                    "logo.svg")
    page = store.put(EVIL.encode(), "page.html")
    for art in (fake, svg, page):
        html = ArtifactView(store, art)._repr_html_()
        assert not _active(html), (art.name, _active(html))
        assert "&lt;script&gt;" in html or "&lt;svg" in html


def test_table_preview_shows_the_head_escaped(store):
    df = pd.DataFrame({"id": range(100), "label": [EVIL] + ["ok"] * 99})
    csv = store.put(df, "data.csv")
    html = preview_html(store, csv)
    assert "<table" in html and "<td>0</td>" in html and "first rows" in html
    assert html.count("<tr>") <= 10 and not _active(html) and "&lt;script&gt;" in html
    pytest.importorskip("pyarrow")
    pq = store.put(df, "data.parquet")
    html = preview_html(store, pq)
    assert "100 rows, 2 columns" in html and not _active(html)


def test_pdf_preview_is_the_first_page_text(store):
    pypdf = pytest.importorskip("pypdf")
    from pathlib import Path

    pdf = next(Path(__file__).resolve().parent.parent.glob("data/*.pdf"), None)
    if pdf is None:
        pytest.skip("no sample PDF in data/")
    a = store.put(pdf)
    html = preview_html(store, a)
    reader = pypdf.PdfReader(str(pdf))
    first_words = " ".join(reader.pages[0].extract_text().split())[:20]
    assert f"page 1 of {len(reader.pages)}" in html and first_words[:12] in html.replace("&#x27;", "'")


def test_json_preview_is_a_collapsible_tree_without_scripts(store):
    a = store.put({"model": {"name": EVIL, "layers": [1, 2, 3]}, "auc": 0.87}, "run.json")
    html = preview_html(store, a)
    assert html.count("<details") >= 3 and "<summary>{2 keys}</summary>" in html
    assert "<b>auc</b>: <code>0.87</code>" in html and not _active(html)


def test_show_magic_returns_the_card_with_its_preview(store, tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    pytest.importorskip("PIL")
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "notebook_artifacts")
    from notebook_artifacts.notebook.extension import current_magics

    try:
        s = ip.run_line_magic("artifact", f"use {tmp_path / 'm'} --no-index")
        s.put(_png(40, 30), "tiny.png", tags=["fig"])
        view = ip.run_line_magic("artifact", "show tiny.png")
        assert view.name == "tiny.png" and view.version == 1 and view.tags == ["fig"]
        assert isinstance(view, Artifact) and view.to_dict() == s.get("tiny.png").to_dict()
        (tmp_path / "chart.png").write_bytes(_png(50, 20))
        put = ip.run_line_magic("artifact", "put chart.png")  # a put shows its preview too
        assert isinstance(put, Artifact) and put.name == "chart.png"
        assert '<img src="data:image/png;base64,' in ip.display_formatter.format(put)[0]["text/html"]
        data, _ = ip.display_formatter.format(view)
        assert "<img src=\"data:image/png;base64," in data["text/html"] and "tiny.png" in data["text/html"]
        assert data["text/plain"].startswith("tiny.png v1")
    finally:
        current_magics().close()


def test_dashboard_listing_filters_sorts_and_shows_preview_and_lineage(store):
    from notebook_artifacts.widgets import DownloadPanel

    store.put("alpha notes", "a-notes.md", tags=["notes"], source_tool="agent", source_execution_id="run-7")
    store.put(b"x" * 5000, "big.bin")
    store.put({"k": 1}, "conf.json")
    panel = DownloadPanel(store, live=False)
    try:
        assert [a.name for a in panel.shown()] == ["conf.json", "big.bin", "a-notes.md"]  # newest
        panel.sort.value = "largest"
        assert panel.shown()[0].name == "big.bin"
        panel.sort.value = "name"
        assert [o[1] for o in panel.artifacts.options] == ["a-notes.md", "big.bin", "conf.json"]
        panel.filter.value = "notes"  # matches a name or a tag
        assert [a.name for a in panel.shown()] == ["a-notes.md"]
        assert "big.bin" not in panel.listing.value and "a-notes.md" in panel.listing.value
        assert panel.artifacts.value == "a-notes.md"
        detail = panel.detail.value
        assert "alpha notes" in detail and "source_tool=agent" in detail and "run-7" in detail
        panel.filter.value = "agent"  # or its tool
        assert [a.name for a in panel.shown()] == ["a-notes.md"]
        panel.filter.value = ""
        panel.artifacts.value = "conf.json"
        assert "<details" in panel.detail.value  # the JSON tree
    finally:
        panel.close()
