"""The main job (`notebook-artifacts demo`) and how the CLI shares index work with a holder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore

pytest.importorskip("sentence_transformers", reason="needs the index extra (model)")
pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("notebook-artifacts")
CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


def run(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("NOTEBOOK_ARTIFACTS_HOME", None)
    p = subprocess.run(CMD + ["--root", str(root), *args], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=300)
    assert p.returncode == 0, p.stderr
    return p


def test_demo_stores_indexes_and_answers_with_citations(tmp_path):
    root = tmp_path / "store"
    out = run(root, "demo", cwd=tmp_path).stdout
    assert "stored     project_notes.md v1" in out
    assert "stored     field_report.pdf v1" in out
    # the drift question is answered from the runbook's "Model drift" section, cited
    first_hit = next(line for line in out.splitlines() if line.strip().startswith("[1] 0."))
    assert "runbook.html v1" in first_hit and "Model drift" in first_hit
    assert "combined_context (ready for an LLM prompt)" in out
    assert "population stability index" in out.split("combined_context")[1]
    with ArtifactStore(root, index=False) as store:
        arts = store.list(namespace="demo").artifacts
        assert {a.name for a in arts} >= {"project_notes.md", "runbook.html", "field_report.pdf",
                                          "measurements.csv", "feature_pipeline.py"}
        assert all(a.status in ("indexed", "skipped") for a in arts), [(a.name, a.status) for a in arts]
        assert any(a.chunk_count > 0 for a in arts)
    # a second run stores nothing new: unchanged content keeps its version
    again = run(root, "demo", cwd=tmp_path).stdout
    assert "stored " not in again and "unchanged  project_notes.md v1" in again


def test_demo_rejects_a_missing_folder(tmp_path):
    env = dict(os.environ)
    p = subprocess.run(CMD + ["--root", str(tmp_path / "s"), "demo", "--data", str(tmp_path / "nope")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode != 0
    assert "no such folder" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "s" / "index").exists()


def test_cli_put_leaves_indexing_pending_and_query_drains_it(tmp_path):
    root = tmp_path / "store"
    doc = tmp_path / "notes.md"
    doc.write_text("# Espresso\n\nA ristretto uses half the water of a normal shot.\n")
    put = run(root, "put", str(doc), "--json")
    assert json.loads(put.stdout)[0]["status"] == "pending"
    # put did not open the vector index or load the model: no Chroma directory yet
    assert not (root / "index").exists()
    listed = json.loads(run(root, "ls", "--json").stdout)
    assert [a["status"] for a in listed["artifacts"]] == ["pending"]
    # query waits for pending work (this process takes the index lock) and then finds it
    res = json.loads(run(root, "query", "how much water in a ristretto", "--json").stdout)
    assert res["results"] and res["results"][0]["artifact"]["name"] == "notes.md"
    assert json.loads(run(root, "ls", "--json").stdout)["artifacts"][0]["status"] == "indexed"
