"""store.diff and %artifact diff: text, tables and binaries."""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from notebook_artifacts import ArtifactStore, NotFoundError


@pytest.fixture()
def store(tmp_path):
    s = ArtifactStore(tmp_path / "store", index=False)
    yield s
    s.close()


def test_text_diff_is_unified(store):
    store.put("# Notes\nalpha\nbeta\n", "notes.md")
    store.put("# Notes\nalpha\ngamma\nbeta <b>\n", "notes.md")
    d = store.diff("notes.md", 1, 2)
    assert d.kind == "text" and not d.identical
    assert "-beta" in d.unified and "+gamma" in d.unified and "+beta <b>" in d.unified
    assert d.unified.startswith("--- notes.md v1\n+++ notes.md v2")
    assert "+2 -1 lines" in d.summary()
    html = d._repr_html_()
    assert "beta &lt;b&gt;" in html and "<b>\n" not in html
    assert store.diff("notes.md", 1).b == 2  # b defaults to the latest


def test_table_diff_matches_rows_by_id(store):
    store.put(pd.DataFrame({"id": [1, 2, 3], "v": [10, 20, 30]}), "m.csv")
    store.put(pd.DataFrame({"id": [2, 3, 4], "v": [20, 31, 40], "note": ["a", "b", "c"]}), "m.csv")
    d = store.diff("m.csv", 1, 2)
    assert d.kind == "table" and d.key == "id"
    assert (d.rows_added, d.rows_removed, d.rows_changed) == (1, 1, 1)
    assert d.columns_added == ["note"] and d.columns_removed == []
    assert d.examples == [{"id": 3, "v": "30 -> 31"}]
    assert "1 rows added; 1 removed; 1 changed; columns added: note" in d.summary()


def test_binary_diff_and_identical_versions(store):
    store.put(b"\x00\x01\x02", "b.bin")
    store.put(b"\x00\x01\x02\x03", "b.bin")
    d = store.diff("b.bin", 1, 2)
    assert d.kind == "binary" and (d.size_a, d.size_b) == (3, 4) and d.sha256_a != d.sha256_b
    assert d.sha256_b[:12] in d.summary()
    store.put(b"\x00\x01\x02", "b.bin")
    assert store.diff("b.bin", 1, 3).identical
    with pytest.raises(NotFoundError):
        store.diff("b.bin", 1, 9)


def test_diff_magic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "notebook_artifacts")
    from notebook_artifacts.notebook.extension import current_magics

    try:
        s = ip.run_line_magic("artifact", f"use {tmp_path / 's'} --no-index")
        s.put("one\n", "t.txt")
        s.put("two\n", "t.txt")
        d = ip.run_line_magic("artifact", "diff t.txt 1 2")
        assert "-one" in d.unified and "+two" in d.unified
        assert ip.display_formatter.format(d)[0]["text/plain"].startswith("t.txt: v1 -> v2")
        with pytest.raises(UsageError, match="no version 7"):
            ip.run_line_magic("artifact", "diff t.txt 1 7")
    finally:
        current_magics().close()
