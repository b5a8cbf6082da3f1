"""A real Chroma server (``chroma run``) on a free loopback port, for ``index_url`` tests.

``chroma_process(path)`` is the start as a context manager (also used by
``benchmarks/bench_shared.py``); it yields a :class:`ChromaServer` (``url``, ``port``,
``proc``). The ``chroma_server`` fixture runs one per test on ``tmp_path``,
``module_chroma_server`` one per module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["CHROMA", "ChromaServer", "chroma_process", "chroma_server", "module_chroma_server"]

CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ChromaServer:
    url: str
    port: int
    proc: subprocess.Popen


@contextmanager
def chroma_process(path: Path) -> Iterator[ChromaServer]:
    """``chroma run --path <path>/chroma-data --host 127.0.0.1 --port <free>`` until it answers
    a heartbeat; its output goes to ``<path>/chroma.log``. Stopped on exit."""
    if not os.path.exists(CHROMA):
        raise FileNotFoundError("the `chroma` CLI is not installed (pip install chromadb)")
    import chromadb

    path.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(path / "chroma.log", "w")
    proc = subprocess.Popen([CHROMA, "run", "--path", str(path / "chroma-data"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        deadline = time.monotonic() + 180  # its imports alone take ~10 s on a busy machine
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chroma server did not start: "
                                       + (path / "chroma.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        yield ChromaServer(f"http://127.0.0.1:{port}", port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _start(path: Path) -> Iterator[ChromaServer]:
    if not os.path.exists(CHROMA):
        pytest.skip("the `chroma` CLI is not installed (pip install chromadb)")
    with chroma_process(path) as server:
        yield server


@pytest.fixture
def chroma_server(tmp_path) -> Iterator[ChromaServer]:
    """A Chroma server of this test alone."""
    yield from _start(tmp_path / "chroma")


@pytest.fixture(scope="module")
def module_chroma_server(tmp_path_factory) -> Iterator[ChromaServer]:
    """A Chroma server shared by the tests of one module."""
    yield from _start(tmp_path_factory.mktemp("chroma"))
