"""The README's Python and CLI tours run as written (so the first thing users copy works)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent


def _block(heading: str, lang: str) -> str:
    section = README.split(f"## {heading}\n", 1)[1]
    m = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert m, f"no {lang} block under '## {heading}'"
    return m.group(1)


@pytest.fixture
def workdir(tmp_path):
    shutil.copytree(REPO / "data", tmp_path / "data", ignore=shutil.ignore_patterns("eval"))
    return tmp_path


@pytest.mark.model
def test_python_tour_runs_and_prints_what_it_says(workdir):
    pytest.importorskip("sentence_transformers", reason="needs the index extra (model)")
    code = _block("Python tour", "python")
    p = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                       env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=400)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert lines[0] == "2 [1, 2]"
    assert lines[1] == "{'lr': 0.05, 'trees': 500}"
    assert lines[2].split()[1:3] == ["project_notes.md", "v1,"], lines  # best hit, cited
    assert (workdir / "demo.zip").stat().st_size > 0


def _run_cli_tour(workdir, with_query: bool) -> dict[str, str]:
    """Run the tour's commands as printed; returns each command's stdout."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HF_HUB_OFFLINE="1")
    out: dict[str, str] = {}
    for line in _block("CLI tour", "bash").splitlines():
        cmd = line.split("#", 1)[0].strip()
        if not cmd or "--follow" in cmd or " serve" in cmd or (" query " in cmd and not with_query):
            continue  # long-running ones (and query, which loads the model, when not asked)
        if cmd.startswith("export "):
            key, _, value = cmd[len("export "):].partition("=")
            env[key] = str(workdir / value)
            continue
        for part in cmd.split("&&"):
            argv = shlex.split(part)
            globbed = [str(p.relative_to(workdir)) for a in argv if "*" in a
                       for p in sorted(workdir.glob(a))]
            argv = [a for a in argv if "*" not in a] + globbed
            p = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                               timeout=400)
            assert p.returncode == 0, f"{part}: {p.stderr}"
            out[part.strip()] = p.stdout
    return out


def test_cli_tour_runs(workdir):
    _run_cli_tour(workdir, with_query=False)
    assert (workdir / "notes.md").read_bytes() == (workdir / "data" / "project_notes.md").read_bytes()


def test_connect_tour_runs_and_prints_what_it_says(workdir):
    code = _block("Connect from anywhere", "python")
    p = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.splitlines() == ["{'lr': 0.01} [1, 2]"]


JUPYTER_TOUR = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
for line in json.loads(sys.argv[1]):
    result = ip.run_cell(line, store_history=True)
    if not result.success:
        raise SystemExit(f"failed: {line}: {result.error_in_exec or result.error_before_exec!r}")
print("ok", type(ip.user_ns["hits"]).__name__)
"""


@pytest.mark.model
def test_jupyterlab_tour_runs_in_ipython(workdir):
    pytest.importorskip("sentence_transformers", reason="needs the index extra (model)")
    lines = [ln for ln in _block("In JupyterLab", "python").splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("%artifact watch")]  # needs cells after it
    p = subprocess.run([sys.executable, "-c", JUPYTER_TOUR, json.dumps(lines)], cwd=workdir,
                       capture_output=True, text=True, timeout=400,
                       env=dict(os.environ, HF_HUB_OFFLINE="1", NOTEBOOK_ARTIFACTS_HOME=str(workdir / "store")))
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert p.stdout.strip().endswith("ok QueryResult")


@pytest.mark.model
def test_cli_tour_query_asks_about_something_it_stored(workdir):
    pytest.importorskip("sentence_transformers", reason="needs the index extra (model)")
    out = _run_cli_tour(workdir, with_query=True)
    stored = {line.split()[0] for line in next(v for k, v in out.items()
                                                if k.endswith(" ls")).splitlines()[1:] if line.strip()}
    query_cmd, printed = next((k, v) for k, v in out.items() if " query " in k)
    about = re.search(r"the (\w+) say", query_cmd)
    rows = [line for line in printed.splitlines() if re.match(r"^\d+\s", line)]
    assert rows, printed
    top = rows[0].split()[2]  # "#  score  citation ..."
    assert top in stored, (top, stored)
    if about:  # "what does the runbook say ...": the runbook was stored and comes first
        assert about.group(1) in top, (top, printed)
    assert "[1] " + top in printed  # --context printed the passages
