"""A real ``notebook-artifacts serve`` process on loopback that a test can kill and restart."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from process_fixtures import cli




class ServerProcess:
    """``notebook-artifacts serve --root ROOT`` in a child process (port 0 picks a free one the
    first time; a restart binds the same port again)."""

    def __init__(self, root: Path, *args: str, port: int = 0, index: bool = False) -> None:
        self.root = root
        self.index = index
        self.args = list(args)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self.url = ""

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.proc = subprocess.Popen(
            cli() + ["serve", "--root", str(self.root), "--port", str(self.port),
                     *([] if self.index else ["--no-index"]), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "serving on" in line:
                self.url = line.rsplit(" ", 1)[-1].strip()
                break
        assert self.url and self.proc.poll() is None, "server did not start:\n" + "".join(self.output)
        self.port = int(self.url.rsplit(":", 1)[1])
        threading.Thread(target=lambda p=self.proc: self.output.extend(p.stdout), daemon=True).start()
        for _ in range(200):
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        return self

    def kill(self) -> None:
        """Kill it at once (no graceful shutdown): connections drop mid-stream."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
