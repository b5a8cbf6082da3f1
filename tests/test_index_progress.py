"""Indexing progress a person sees: the model load, then a bar by chunks embedded, from
``wait_indexed`` and ``query``; nothing at all where nobody watches. Real store, real model."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from notebook_artifacts import ArtifactStore
from notebook_artifacts.index.service import EMBED_SLICE

pytestmark = pytest.mark.model

#: one chunk per Markdown section: 80 short chunks, three slices of embedding
SECTIONS = 80
LONG_DOC = "\n\n".join(
    f"## Well {i}\n\nWell {i} yields {i * 3} litres per minute; drawdown {i % 7} metres in "
    f"the {('clay', 'gravel', 'sand')[i % 3]} layer." for i in range(SECTIONS))


def screens(err: str) -> list[str]:
    """Each state a terminal bar was drawn in (tqdm redraws with carriage returns)."""
    return [s.strip() for s in err.replace("\r", "\n").splitlines() if s.strip()]


def run_in_terminal(code: str, timeout: float = 600) -> tuple[int, str, str]:
    """Run ``code`` in a fresh Python whose stderr is a terminal (a pty), as a person runs a
    script; returns the exit status, stdout and what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # rows, columns
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    os.close(slave)
    shown: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        reader.join(10)
        os.close(master)
    return proc.returncode, out, b"".join(shown).decode("utf-8", "replace")


def test_wait_indexed_shows_the_model_load_then_counts_chunks(tmp_path, capsys):
    with ArtifactStore(tmp_path / "s", background_index=False) as s:
        s.put(LONG_DOC, "wells.md")
        s.put("Buoy 4 reported a low battery.", "field.txt")
        service = s._index()
        seen = []  # the counters, read as often as a bar could read them

        def watch() -> None:
            while not stop.is_set():
                seen.append(service.indexing_progress())
                time.sleep(0.002)

        stop = threading.Event()
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            assert s.wait_indexed(timeout=600, progress=True) is True
        finally:
            stop.set()
            watcher.join()
        chunks = sum(a.chunk_count for a in s.list().artifacts)
        assert {a.status for a in s.list().artifacts} == {"indexed"}
    out, err = capsys.readouterr()
    assert chunks >= SECTIONS > 2 * EMBED_SLICE
    shown = screens(err)
    # the model load is its own phase, before any chunk is counted
    assert shown[0].startswith("loading the embedding model: 00:")
    # then one bar by chunks, whose total is the chunk count from its first drawing on
    totals = {int(t) for t in re.findall(r"\| *\d+/(\d+) \[", err)}
    assert totals == {chunks}
    assert re.match(rf"embedding: 100%\|.*\| {chunks}/{chunks} \[[^]]*chunk[^]]*, 2/2 artifacts\]",
                    [line for line in shown if line.startswith("embedding:")][-1])
    # it moves within the long document, not once per file
    assert any(0 < p.chunks_done < p.chunks_total for p in seen)
    assert {"chunking", "embedding"} <= {p.phase for p in seen}
    assert seen[-1].chunks_done == seen[-1].chunks_total == chunks
    assert re.fullmatch(rf"Indexed 2 artifacts \({chunks} chunks\) in \d+ s; the embedding "
                        r"model loaded in \d+ s\n", out)


def test_query_shows_progress_in_a_terminal(tmp_path, capsys):
    root = tmp_path / "s"
    with ArtifactStore(root) as s:  # indexed here, where nobody watches: no output at all
        s.query_drain_seconds = 600  # however slow the machine, the query waits for both
        s.put("Buoy 4 reported a low battery during the May field survey.", "field.txt")
        s.put(LONG_DOC, "wells.md")
        assert s.query("which buoy had a low battery", k=1).results[0].artifact.name == "field.txt"
        assert s.pending_count() == 0
    assert capsys.readouterr() == ("", "")
    code = f"""
from notebook_artifacts import ArtifactStore
with ArtifactStore({str(root)!r}) as s:
    s.query_drain_seconds = 600
    print("A", s.query("which buoy had a low battery", k=1).results[0].artifact.name, flush=True)
    s.put({LONG_DOC.replace("Well", "Bore")!r}, "bores.md")
    print("B", s.query("bore 12 drawdown", k=1).results[0].artifact.name, flush=True)
"""
    rc, out, shown = run_in_terminal(code)
    assert rc == 0, shown
    lines = out.splitlines()
    # the first query in a fresh process loads the model: the time it takes is shown
    assert lines[0] == "A field.txt"
    assert "querying (loading the embedding model): 00:" in shown
    # the second waits for the new document, chunk by chunk, then answers from it
    assert re.fullmatch(r"Indexed 1 artifact \(\d+ chunks\) in \d+ s", lines[1])
    assert lines[2] == "B bores.md"
    chunks = int(re.search(r"\((\d+) chunks\)", lines[1]).group(1))
    assert chunks >= SECTIONS
    assert re.search(rf"embedding: 100%\|.*\| {chunks}/{chunks} \[[^]]*chunk[^]]*, 1/1 artifacts\]",
                     shown)


def test_where_another_process_indexes_the_bar_counts_artifacts(tmp_path, capsys):
    root = tmp_path / "s"
    with ArtifactStore(root) as holder:  # indexes in the background and holds the index
        holder.put("Contract type and tenure matter most.", "a.md")
        assert holder.wait_indexed(timeout=600) is True
        with ArtifactStore(root) as other:  # cannot take the index: the holder drains its work
            other.put(LONG_DOC, "wells.md")
            other.put("Scale out when p99 latency is high.", "b.md")
            assert other.wait_indexed(timeout=600, progress=True) is True
            assert not other._index().indexing_progress().holder
            chunks = sum(other.get(n).chunk_count for n in ("wells.md", "b.md"))
    out, err = capsys.readouterr()
    # a holder quick enough to finish within the first polls leaves the bar at "waiting for
    # the indexer"; either way it counts this process's artifacts, never chunks
    assert re.search(r"indexing in another process: 100%\|.*\| 2/2 \[[^]]*artifact", err) or \
        re.search(r"waiting for the indexer: [^\r]*2/2 artifacts", err), err
    assert "chunk/s" not in err and "s/chunk" not in err  # it embedded nothing: no chunk bar
    assert re.fullmatch(rf"Indexed 2 artifacts \({chunks} chunks\) in \d+ s(; .*)?\n", out)


def test_remote_query_and_wait_show_the_servers_pending_artifacts(tmp_path, capsys):
    from notebook_artifacts import RemoteStore
    from remote_fixtures import ServerProcess

    with ServerProcess(tmp_path / "served", "--token", "progress-token", index=True) as srv:
        client = RemoteStore(srv.url, "progress-token")
        client.query_drain_seconds = 600
        try:
            client.put("Buoy 4 reported a low battery during the May field survey.", "field.txt")
            client.put(LONG_DOC, "wells.md")
            res = client.query("which buoy had a low battery", k=1, progress=True)
            assert res.results[0].artifact.name == "field.txt"
            out, err = capsys.readouterr()
            assert re.search(r"indexing: 100%\|.*\| 2/2 \[[^]]*artifact", err)
            assert re.fullmatch(r"Indexed 2 artifacts \(\d+ chunks\) in \d+ s\n", out)
            client.put("Scale out when p99 latency is high.", "b.md")
            assert client.wait_indexed(timeout=600, progress=False) is True
            client.query("latency", k=1)  # nobody watches: nothing shown
            assert capsys.readouterr() == ("", "")
        finally:
            client.close()


def test_cli_query_json_in_a_terminal_prints_only_json(tmp_path):
    """A person pipes ``query --json`` into jq from a terminal: stdout holds the JSON alone,
    though the query first indexes what ``put`` left pending."""
    root = tmp_path / "s"
    with ArtifactStore(root, background_index=False) as s:  # as the CLI's put leaves it
        s.put("Buoy 4 reported a low battery during the May field survey.", "field.txt")
        assert s.pending_count() == 1
    code = ("from notebook_artifacts.cli import main\n"
            f"main(['--root', {str(root)!r}, 'query', 'which buoy had a low battery', '--json'])")
    rc, out, shown = run_in_terminal(code)
    assert rc == 0, shown
    assert json.loads(out)["results"][0]["artifact"]["name"] == "field.txt"
