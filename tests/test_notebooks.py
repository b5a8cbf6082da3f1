"""The example notebooks run top to bottom in a real kernel and match their checked outputs.

Each notebook runs under nbval (``pytest --nbval-lax``): every cell must run without error, and
cells marked ``# NBVAL_CHECK_OUTPUT`` must print what the stored notebook shows. The same
command works by hand: ``.venv/bin/python -m pytest --nbval-lax notebooks/``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from notebook_fixtures import NOTEBOOKS

pytest.importorskip("nbval", reason="needs the nbval package (test extra)")

NAMES = ["widgets.ipynb", "quickstart.ipynb", "rag_agent.ipynb"]


def _listing() -> set[str]:
    return {str(p.relative_to(NOTEBOOKS)) for p in NOTEBOOKS.rglob("*") if ".ipynb_checkpoints" not in p.parts}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_under_nbval(name, tmp_path):
    if name != "widgets.ipynb":
        pytest.importorskip("sentence_transformers", reason="needs the index extra (model)")
    before = _listing()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               ANONYMIZED_TELEMETRY="False", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", name, "-q", "-p", "no:cacheprovider",
         "-o", "addopts=", "--nbval-cell-timeout=300"],
        cwd=NOTEBOOKS, env=env, capture_output=True, text=True, timeout=590,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert _listing() == before, "the notebook left files behind in notebooks/"


# The stored notebooks read well on GitHub: executed, and without large embedded blobs.
MAX_OUTPUT_CHARS = 64 * 1024


@pytest.mark.parametrize("name", NAMES)
def test_stored_notebook_is_executed_without_large_blobs(name):
    import json
    import re

    nb = json.loads((NOTEBOOKS / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert all(counts) and counts == sorted(counts), f"{name}: run it top to bottom before saving"
    assert any(c.get("outputs") for c in code)
    text = json.dumps(nb)
    for match in re.finditer(r"base64,([A-Za-z0-9+/=]+)", text):
        assert len(match.group(1)) < 4096, f"{name}: a {len(match.group(1))}-character data URI"
    for cell in code:
        for out in cell.get("outputs", []):
            assert len(json.dumps(out)) < MAX_OUTPUT_CHARS, f"{name}: an output over 64 KiB"
            assert "image/png" not in out.get("data", {}) or len(out["data"]["image/png"]) < 200_000
