"""A running `notebook-artifacts serve` indexes work recorded by other processes: files put
before it started, files put by the CLI while it runs, all without a put of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

TOKEN = "indexing-test-token-3b7e"
NS = "/v1/orgs/acme/workspaces/ml/namespaces/docs"


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


def _cli_put(root: Path, path: Path) -> str:
    """Store ``path`` with the CLI (a process of its own); returns the artifact id."""
    p = subprocess.run(_cli() + ["--root", str(root), "put", str(path), "-n", "acme/ml/docs",
                                 "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    import json

    return json.loads(p.stdout)[0]["artifact_id"]


def _start(root: Path):
    proc = subprocess.Popen(
        _cli() + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"})
    url = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "serving on" in line:
            url = line.rsplit(" ", 1)[-1].strip()
            break
    assert url, f"server did not start: {proc.stderr.read() if proc.poll() is not None else ''}"
    for stream in (proc.stdout, proc.stderr):  # drained, so a full pipe never blocks the server
        threading.Thread(target=lambda s=stream: [None for _ in s], daemon=True).start()
    return proc, url


def _status(http: httpx.Client, artifact_id: str) -> str:
    r = http.get(f"{NS}/artifacts/{artifact_id}")
    assert r.status_code == 200, r.text
    return r.json()["status"]


def _wait_status(http: httpx.Client, artifact_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = _status(http, artifact_id)
    while status == "pending" and time.monotonic() < deadline:
        time.sleep(0.25)
        status = _status(http, artifact_id)
    return status


@pytest.mark.model
def test_serve_drains_work_put_by_other_processes_without_a_put_of_its_own(tmp_path):
    root = tmp_path / "store"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text(
        "# Lighthouse\n\nThe lighthouse keepers' association meets every second Tuesday.\n")
    (docs / "tides.md").write_text(
        "# Tides\n\nTide tables for the northern harbour are printed each spring.\n")
    (docs / "osprey.md").write_text(
        "# Osprey\n\nField notes on the osprey nesting platform by the estuary.\n")
    before = _cli_put(root, docs / "lighthouse.md")  # recorded while no process held the index
    proc, url = _start(root)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=300) as http:
            # drained at start: no query, no put by the server
            assert _wait_status(http, before, 240) == "indexed"
            # a put by another process while the server runs: the event log wakes the indexer
            during = _cli_put(root, docs / "tides.md")
            assert _wait_status(http, during, 120) == "indexed"
            # a put immediately followed by a query: the query drains pending work first
            last = _cli_put(root, docs / "osprey.md")
            r = http.post(f"{NS}/artifacts/query", json={"query": "osprey nesting platform",
                                                         "limit": 3})
            assert r.status_code == 200, r.text
            ids = [h["artifact"]["artifact_id"] for h in r.json()["results"]]
            assert ids and ids[0] == last, r.json()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
