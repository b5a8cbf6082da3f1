"""A real ``notebook-artifacts serve`` process on loopback (port 0: the OS picks a free one).

``serve_process(root, *extra_args, env=...)`` is a context manager yielding a dict with
``url``, ``root``, ``proc`` and ``output`` (both streams, drained so a full pipe never blocks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import httpx

TOKEN = "conformance-token-5d1e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("notebook-artifacts")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "notebook_artifacts.cli"]


@contextmanager
def serve_process(root: Path, *extra: str, env: Optional[dict[str, str]] = None,
                  launcher: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """``launcher``: words put before the command (e.g. a private-mount wrapper)."""
    proc = subprocess.Popen(
        [*launcher] + cli() + ["serve", "--root", str(root), "--port", "0", "--token", TOKEN, "--no-index", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
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
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    output: list[str] = []
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=lambda s=stream: output.extend(s), daemon=True).start()
    try:
        yield {"url": url, "root": root, "proc": proc, "output": output}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
