"""``%artifact watch``: files a cell writes become versions; deletions delete; noise is skipped."""

from __future__ import annotations

import os

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from notebook_artifacts import ArtifactStore, NotFoundError
from notebook_artifacts.notebook.watch import DirectoryWatcher


@pytest.fixture()
def store(tmp_path):
    s = ArtifactStore(tmp_path / "work" / "store_root", index=False)
    yield s
    s.close()


@pytest.fixture()
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir(exist_ok=True)
    return d


def test_created_changed_deleted_become_versions(store, work):
    (work / "existing.txt").write_text("baseline")
    watcher = DirectoryWatcher(store, work, verbose=False)
    watcher.start()
    assert store.list().total == 0  # the baseline is not stored

    (work / "out").mkdir()
    (work / "out" / "result.csv").write_text("a,b\n1,2\n")
    report = watcher.check(step_id="3")
    assert report.created == ["out/result.csv"]
    a = store.get("out/result.csv")
    assert (a.version, a.source_tool, a.source_step_id) == (1, "notebook-cell", "3")
    assert store.read_text("out/result.csv") == "a,b\n1,2\n"

    (work / "out" / "result.csv").write_text("a,b\n1,2\n3,4\n")
    (work / "existing.txt").write_text("changed baseline")
    report = watcher.check(step_id="4")
    assert sorted(report.changed) == ["existing.txt", "out/result.csv"]
    assert store.get("out/result.csv").version == 2 and store.get("out/result.csv").source_step_id == "4"

    # rewritten with the same bytes (new mtime): no new version
    path = work / "out" / "result.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    assert not watcher.check(step_id="5")
    assert store.get("out/result.csv").version == 2

    path.unlink()
    report = watcher.check(step_id="6")
    assert report.deleted == ["out/result.csv"]
    with pytest.raises(NotFoundError):
        store.get("out/result.csv")


def test_skips_hidden_store_notebooks_and_caps(store, work):
    watcher = DirectoryWatcher(store, work, verbose=False, max_file_bytes=1000, max_files=5)
    watcher.start()
    (work / ".hidden").mkdir()
    (work / ".hidden" / "x.txt").write_text("x")
    (work / ".dotfile").write_text("x")
    (work / "analysis.ipynb").write_text("{}")
    (work / "__pycache__").mkdir()
    (work / "__pycache__" / "m.pyc").write_bytes(b"x")
    (work / "artifact_downloads").mkdir()
    (work / "artifact_downloads" / "d.bin").write_bytes(b"x")
    (work / "big.bin").write_bytes(b"x" * 2000)
    (work / "ok.txt").write_text("fine")
    with capture_output() as cap:
        report = watcher.check(step_id="1")
    assert report.created == ["ok.txt"] and report.skipped == ["big.bin"]
    assert "big.bin" in cap.stdout and cap.stderr == ""
    assert store.names() == ["ok.txt"]  # the store root (under the watched folder) is skipped

    for i in range(10):
        (work / f"many{i}.txt").write_text(str(i))
    watcher.check(step_id="2")
    assert watcher.file_count <= 5


def test_watch_magic_versions_what_each_cell_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "notebook_artifacts")
    from notebook_artifacts.notebook.extension import current_magics

    store = ip.run_line_magic("artifact", f"use {tmp_path / '.artifacts'} --no-index")
    try:
        ip.run_line_magic("artifact", "watch")
        with capture_output() as cap:
            result = ip.run_cell("open('metrics.json', 'w').write('{\"auc\": 0.87}')", store_history=True)
        # a notice in the normal output, not an error box (stderr)
        assert "artifact watch: new metrics.json" in cap.stdout and cap.stderr == ""
        a = store.get("metrics.json")
        assert a.source_step_id == str(result.execution_count) and a.source_tool == "notebook-cell"
        result = ip.run_cell("open('metrics.json', 'w').write('{\"auc\": 0.91}')", store_history=True)
        assert store.get("metrics.json").version == 2
        assert store.get("metrics.json").source_step_id == str(result.execution_count)
        ip.run_cell("import os; os.remove('metrics.json')", store_history=True)
        with pytest.raises(NotFoundError):
            store.get("metrics.json")
        ip.run_line_magic("artifact", "unwatch")
        ip.run_cell("open('after.txt', 'w').write('x')", store_history=True)
        assert store.names() == []
    finally:
        current_magics().close()
