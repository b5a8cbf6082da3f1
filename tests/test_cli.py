"""The real `notebook-artifacts` CLI, run as a subprocess against a real root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore

_SCRIPT = Path(sys.executable).with_name("notebook-artifacts")
CMD = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


def run(*args, root=None, input=None, check=True, env_root=None):
    env = dict(os.environ)
    env.pop("NOTEBOOK_ARTIFACTS_HOME", None)
    if env_root is not None:
        env["NOTEBOOK_ARTIFACTS_HOME"] = str(env_root)
    argv = CMD + (["--root", str(root)] if root is not None else []) + list(args)
    p = subprocess.run(argv, input=input, capture_output=True, env=env, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


def test_put_ls_get_roundtrip(root, tmp_path):
    f = tmp_path / "report.md"
    f.write_text("# Report\n")
    out = run("put", str(f), "-t", "draft,q3", "--no-index", "--json", root=root)
    made = json.loads(out.stdout)
    assert made[0]["name"] == "report.md" and made[0]["tags"] == ["draft", "q3"]
    table = run("ls", root=root).stdout.decode()
    assert table.splitlines()[0].split()[:3] == ["NAME", "VER", "SESSION"]
    assert "report.md" in table
    assert run("get", "report.md", root=root).stdout == b"# Report\n"
    dest = tmp_path / "outdir"
    dest.mkdir()
    run("get", "report.md", "-o", str(dest), root=root)
    assert (dest / "report.md").read_text() == "# Report\n"
    info = json.loads(run("get", made[0]["artifact_id"], "--info", root=root).stdout)
    assert info["sha256"] == made[0]["sha256"]
    # the same root through the environment variable, seen by the Python API too
    listing = json.loads(run("ls", "--json", env_root=root).stdout)
    assert listing["total"] == 1
    with ArtifactStore(root, index=False) as s:
        assert s.read_text("report.md") == "# Report\n"


def test_put_text_that_looks_like_a_path_and_a_missing_path(root):
    made = json.loads(run("put", "--text", "data/nope.csv", "--no-index", "--json",
                          root=root).stdout)
    with ArtifactStore(root, index=False) as s:
        assert s.read_text(made[0]["artifact_id"]) == "data/nope.csv"
    p = run("put", "data/nope.csv", "--no-index", root=root, check=False)
    err = p.stderr.decode()
    assert p.returncode == 1 and "no such file: data/nope.csv" in err and "--text" in err
    assert "Traceback" not in err


def test_versions_tag_rm_and_text_and_stdin(root):
    run("put", "--text", "one", "--name", "n.txt", "--no-index", root=root)
    run("put", "-", "--name", "n.txt", "--no-index", root=root, input=b"two")
    vs = json.loads(run("versions", "n.txt", "--json", root=root).stdout)
    assert [v["version"] for v in vs] == [1, 2]
    assert "*" in run("versions", "n.txt", root=root).stdout.decode()
    tagged = json.loads(run("tag", "n.txt", "+final", "keep", "--json", root=root).stdout)
    assert tagged["tags"] == ["final", "keep"]
    tagged = json.loads(run("tag", "n.txt", "-final", "--json", root=root).stdout)
    assert tagged["tags"] == ["keep"]
    run("rm", "n.txt", "--version", "2", root=root)
    assert run("get", "n.txt", root=root).stdout == b"one"
    run("rm", "n.txt", root=root)
    assert json.loads(run("ls", "--json", root=root).stdout)["total"] == 0


def test_errors_are_one_line_with_exit_codes(root, tmp_path):
    p = run("get", "missing.txt", root=root, check=False)
    assert p.returncode == 1 and p.stdout == b""
    err = p.stderr.decode().strip()
    assert err.startswith("error: no artifact 'missing.txt'") and "\n" not in err
    p = run("put", "--text", "x", "--name", "../up.txt", root=root, check=False)
    assert p.returncode == 2 and p.stderr.decode().count("\n") == 1
    assert "Traceback" not in p.stderr.decode()
    p = run("put", str(tmp_path / "nope.csv"), root=root, check=False)
    assert p.returncode == 1 and "no such file" in p.stderr.decode()
    p = run("events", "--limit", "1000", root=root, check=False)
    assert p.returncode == 2 and "1 to 100" in p.stderr.decode()
    p = run("frobnicate", root=root, check=False)
    assert p.returncode == 2


def test_events_and_follow(root):
    run("put", "--text", "a", "--name", "a.txt", "--no-index", root=root)
    lines = run("events", "--json", root=root).stdout.decode().splitlines()
    assert [json.loads(x)["type"] for x in lines] == ["created"]
    assert json.loads(lines[0])["source_tool"] == "cli"  # the tool column is filled
    assert "tool=cli" in run("events", root=root).stdout.decode()
    follower = subprocess.Popen(CMD + ["--root", str(root), "events", "--follow", "--json",
                                       "--after", "1"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        run("put", "--text", "b", "--name", "b.txt", "--no-index", root=root)
        line = follower.stdout.readline()
        assert json.loads(line)["name"] == "b.txt"
    finally:
        follower.terminate()
        follower.wait(10)


def test_gc_fsck_sessions_export(root, tmp_path):
    run("put", "--text", "s", "--name", "s.txt", "-s", "sess1", "--no-index", root=root)
    run("put", "--text", "t", "--name", "t.txt", "--ttl", "1", "--no-index", root=root)
    time.sleep(1.2)
    gc = json.loads(run("gc", "--json", root=root).stdout)
    assert gc["expired_versions"] == 1
    assert "ok:" in run("fsck", root=root).stdout.decode()
    sessions = json.loads(run("sessions", "--json", root=root).stdout)
    assert [s["session_id"] for s in sessions] == ["sess1"]
    dest = tmp_path / "s.zip"
    run("export", str(dest), "-s", "sess1", root=root)
    with zipfile.ZipFile(dest) as zf:
        assert zf.read("s.txt") == b"s"
    # fsck exits 1 when a problem remains
    blob = next(p for p in (root / "blobs" / "sha256").rglob("*") if p.is_file())
    blob.unlink()
    p = run("fsck", root=root, check=False)
    assert p.returncode == 1 and "missing_blob" in p.stdout.decode()


def test_help_lists_commands():
    out = run("--help").stdout.decode()
    for cmd in ("put", "ls", "get", "versions", "tag", "rm", "events", "gc", "fsck", "sessions",
                "export"):
        assert cmd in out


def test_put_names_files_by_the_one_rule_and_refuses_clashes(root, tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    (tmp_path / "d1" / "notes.md").write_text("one")
    (tmp_path / "d2" / "notes.md").write_text("two")
    (tmp_path / "d1" / "x.csv").write_text("a\n1\n")
    out = run("put", str(tmp_path / "d1" / "notes.md"), str(tmp_path / "d1" / "x.csv"),
              "--no-index", "--json", root=root)
    assert sorted(a["name"] for a in json.loads(out.stdout)) == ["notes.md", "x.csv"]
    p = run("put", str(tmp_path / "d1" / "notes.md"), str(tmp_path / "d2" / "notes.md"),
            "--no-index", root=root, check=False)
    assert p.returncode != 0 and b"both be stored as 'notes.md'" in p.stderr
    listed = json.loads(run("ls", "--json", root=root).stdout)
    assert [a["version"] for a in listed["artifacts"] if a["name"] == "notes.md"] == [1]
