"""The real `notebook-artifacts query / reindex / promote` commands, run as subprocesses.

A CLI process is short-lived (``background_index=False``): ``put`` leaves the version pending,
and ``query`` (``--wait``, on by default) indexes the pending work before it searches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from index_fixtures import DATA

pytestmark = pytest.mark.model

_SCRIPT = Path(sys.executable).with_name("notebook-artifacts")
CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


def cli(root, *args, check=True):
    env = dict(os.environ)
    env.pop("NOTEBOOK_ARTIFACTS_HOME", None)
    p = subprocess.run(CMD + ["--root", str(root), *args], capture_output=True, text=True,
                       env=env, timeout=240)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_cli_put_query_reindex_promote(tmp_path):
    root = tmp_path / "root"
    cli(root, "put", str(DATA / "field_report.pdf"), "--json")
    cli(root, "put", str(DATA / "runbook.html"), "--json")
    listed = json.loads(cli(root, "ls", "--json").stdout)
    rows = listed["artifacts"] if isinstance(listed, dict) else listed
    assert {r["status"] for r in rows} == {"pending"}  # the CLI put did not index
    src = json.loads(cli(root, "promote", "field_report.pdf", "--json").stdout)
    assert src["source_id"].startswith("src_") and src["source_name"] == "field_report.pdf"

    # query waits for the pending work (indexing it in this process), then searches
    out = json.loads(cli(root, "query", "moisture sensor error code BUOY-7731", "-k", "2",
                         "--json").stdout)
    assert set(out) >= {"results", "combined_context", "total_results", "query"}
    top = out["results"][0]
    assert top["artifact"]["name"] == "field_report.pdf" and top["artifact"]["is_indexed"]
    assert 0 < top["score"] <= 1 and top["location"]["page"] == 3
    assert "BUOY-7731" in top["matched_chunk"]
    assert out["combined_context"].startswith("[1] field_report.pdf v1, p. 3\n")
    assert out["total_results"] == len(out["results"]) <= 2

    # keyword mode needs no model; the table shows citations and, with --context, the context
    table = cli(root, "query", "p99 latency threshold", "--mode", "keyword", "-k", "1",
                "--context").stdout
    assert "runbook.html v1" in table and "[1] runbook.html v1, \u00a7 " in table
    hits = json.loads(cli(root, "query", "salinity probes recalibrated", "--mode", "keyword",
                          "--scope", "sources", "--json").stdout)["results"]
    assert [h["location"]["source_id"] for h in hits] == [src["source_id"]]

    one = json.loads(cli(root, "reindex", "runbook.html", "--json").stdout)
    assert one == {"queued": 1, "drained": None}  # just queued
    done = json.loads(cli(root, "reindex", "--wait", "120", "--json").stdout)
    assert done == {"queued": 2, "drained": True}
    rows = json.loads(cli(root, "ls", "--json").stdout)
    rows = rows["artifacts"] if isinstance(rows, dict) else rows
    assert {(r["status"], r["index_attempts"]) for r in rows} == {("indexed", 2)}

    bad = cli(root, "query", "x", "--where", "run", check=False)
    assert bad.returncode != 0 and "KEY=VALUE" in bad.stderr and "Traceback" not in bad.stderr
