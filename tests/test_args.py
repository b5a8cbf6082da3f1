"""The argument grammar the CLI, the magics and the widgets share: one parser, one meaning."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from notebook_artifacts import ArtifactStore, InvalidInputError
from notebook_artifacts.args import parse_meta, parse_tag_changes, split_list


def test_split_list_meta_and_tag_changes():
    assert split_list(" a, b,,c ") == ["a", "b", "c"]
    assert split_list(["a,b", "c"]) == ["a", "b", "c"] and split_list(None) == []
    assert parse_meta(["runs=3", "owner=ana", "f=[1, 2]", "eq=a=b"]) == {
        "runs": 3, "owner": "ana", "f": [1, 2], "eq": "a=b"}
    assert parse_meta([]) is None
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        parse_meta(["novalue"])
    ch = parse_tag_changes(["+a", "b", "-c", "--namespace", "p", "--session=s", "--json"],
                           value_options=("--namespace", "--session"), flags=("--json",))
    assert (ch.add, ch.remove) == (["a", "b"], ["c"])
    assert ch.options == {"--namespace": "p", "--session": "s", "--json": True}
    assert parse_tag_changes(["--", "--weird"]).remove == ["-weird"]
    with pytest.raises(InvalidInputError, match="unknown option '--bogus'"):
        parse_tag_changes(["+a", "--bogus"])
    with pytest.raises(InvalidInputError, match="needs a value"):
        parse_tag_changes(["+a", "--namespace"], value_options=("--namespace",))


def _cli(root, *args):
    return subprocess.run([sys.executable, "-m", "notebook_artifacts.cli", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_and_magic_read_the_same_options_the_same_way(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    root = tmp_path / "store"
    out = _cli(root, "put", "f.txt", "--meta", "runs=3", "--meta", "owner=ana", "-t", "a, b",
               "--no-index", "--json")
    assert out.returncode == 0, out.stderr
    via_cli = json.loads(out.stdout)[0]
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "notebook_artifacts")
    from notebook_artifacts.notebook.extension import current_magics

    try:
        store = ip.run_line_magic("artifact", f"use {tmp_path / 'magic'} --no-index")
        via_magic = ip.run_line_magic("artifact", "put f.txt --meta runs=3 --meta owner=ana --tags 'a, b'")
        assert via_magic.metadata == via_cli["metadata"] == {"runs": 3, "owner": "ana"}
        assert via_magic.tags == via_cli["tags"] == ["a", "b"]
        with pytest.raises(UsageError, match="KEY=VALUE"):
            ip.run_line_magic("artifact", "put f.txt --meta broken")
        bad = _cli(root, "put", "f.txt", "--meta", "broken", "--no-index")
        assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
        # tag changes, options after the tags, in both
        assert ip.run_line_magic("artifact", "tag f.txt +c -a --namespace=default").tags == ["b", "c"]
        tagged = _cli(root, "tag", "f.txt", "+c", "-a", "--json")
        assert json.loads(tagged.stdout)["tags"] == ["b", "c"]
        assert store.get("f.txt").tags == ["b", "c"]
    finally:
        current_magics().close()
        ip.run_line_magic("unload_ext", "notebook_artifacts")


def test_sizes_read_the_same_in_the_cli_and_the_notebook(tmp_path):
    root = tmp_path / "store"
    with ArtifactStore(root, index=False) as s:
        s.put(b"x" * 1536, "one.bin")
        card = s.get("one.bin")._repr_html_()
    listing = _cli(root, "ls")
    assert "1.5 KiB" in listing.stdout and "1.5 KiB" in card
