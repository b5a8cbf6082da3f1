"""`notebook-artifacts mcp`: the store as an MCP server, driven by the `mcp` package's client
over stdio and over streamable HTTP (a real subprocess each, a real store, the real model)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"put_artifact", "get_artifact", "list_artifacts", "query_artifacts", "artifact_versions"}
CLI = [sys.executable, "-c", "from notebook_artifacts.cli import main; main()"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop("NOTEBOOK_ARTIFACTS_TOKEN", None)
    return env


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    """A store indexed before the server starts (the server process loads the model itself)."""
    path = tmp_path_factory.mktemp("mcp") / "store"
    with ArtifactStore(path) as s:
        s.put("The calibration drift of probe P-7 is 0.3% per week; recalibrate monthly.",
              name="calibration.txt", namespace="lab")
        s.put("Lunch menu: soup, bread and apples.", name="menu.txt", namespace="lab")
        assert s.wait_indexed(300)
    return path


@pytest.fixture
def root(indexed, tmp_path):
    """A fresh copy of the indexed store for each test."""
    return Path(shutil.copytree(indexed, tmp_path / "store"))


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        sc = result.structured_content
        return sc.get("result", sc) if set(sc) == {"result"} else sc
    return json.loads(result.content[0].text)


async def _exercise(client: Client) -> None:
    """Every tool, a resource, and bad arguments answered as tool errors on one connection."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) >= TOOLS
    assert "query" in tools["query_artifacts"].input_schema["properties"]

    put = _data(await client.call_tool("put_artifact", {
        "name": "tool-output.txt", "content": "first run", "namespace": "lab",
        "session_id": "run1", "tags": ["agent"], "metadata": {"step": 1}}))
    assert put["version"] == 1 and put["namespace"] == "lab" and put["tags"] == ["agent"]
    put2 = _data(await client.call_tool("put_artifact", {
        "name": "tool-output.txt", "content": "second run", "namespace": "lab",
        "session_id": "run1"}))
    assert put2["version"] == 2
    blob = bytes(range(256))
    _data(await client.call_tool("put_artifact", {
        "name": "raw.bin", "content": base64.b64encode(blob).decode(), "encoding": "base64",
        "namespace": "lab"}))

    got = _data(await client.call_tool("get_artifact", {
        "name": "tool-output.txt", "namespace": "lab", "session_id": "run1"}))
    assert got["content"] == "second run" and got["version"] == 2
    old = _data(await client.call_tool("get_artifact", {
        "name": "tool-output.txt", "version": 1, "namespace": "lab", "session_id": "run1"}))
    assert old["content"] == "first run"
    raw = _data(await client.call_tool("get_artifact", {"name": "raw.bin", "namespace": "lab"}))
    assert raw["encoding"] == "base64" and base64.b64decode(raw["content"]) == blob

    listed = _data(await client.call_tool("list_artifacts", {"namespace": "lab"}))
    assert {a["name"] for a in listed["artifacts"]} == {
        "calibration.txt", "menu.txt", "tool-output.txt", "raw.bin"}
    versions = _data(await client.call_tool("artifact_versions", {
        "name": "tool-output.txt", "namespace": "lab", "session_id": "run1"}))
    assert [v["version"] for v in versions] == [1, 2]

    found = _data(await client.call_tool("query_artifacts", {
        "query": "how often should probe P-7 be recalibrated", "k": 2, "namespace": "lab"}))
    assert found["results"][0]["name"] == "calibration.txt"
    assert found["results"][0]["citation"].startswith("calibration.txt v1")
    assert "recalibrate monthly" in found["combined_context"]
    assert found["combined_context"].startswith("[1] calibration.txt v1")

    res = await client.read_resource(got["resource_uri"])
    assert res.contents[0].text == "second run"

    # bad arguments: tool errors the model can read, and the server keeps answering
    for name, args, says in (
        ("get_artifact", {"name": "nope.txt", "namespace": "lab"}, "nope.txt"),
        ("get_artifact", {"name": "tool-output.txt", "version": 9, "namespace": "lab",
                          "session_id": "run1"}, "version 9"),
        ("put_artifact", {"name": "../escape", "content": "x"}, "name"),
        ("put_artifact", {"name": "b.bin", "content": "%%%", "encoding": "base64"}, "base64"),
        ("put_artifact", {"content": "no name"}, "name"),
        ("list_artifacts", {"session_id": "not a session!"}, "session"),
        ("query_artifacts", {"query": "x", "k": "many"}, "k"),
        ("query_artifacts", {"query": "x", "mode": "psychic"}, "mode"),
        ("artifact_versions", {"name": "nope.txt"}, "nope.txt"),
    ):
        result = await client.call_tool(name, args)
        assert result.is_error, (name, args)
        assert says in result.content[0].text, (name, result.content[0].text)
    assert _data(await client.call_tool("list_artifacts", {"namespace": "lab"}))["total"] == 4


def test_stdio(root):
    params = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "--root", str(root), "mcp"],
                                   env=_env(), cwd=str(root))

    async def main() -> None:
        async with Client(params, read_timeout_seconds=240) as client:
            await _exercise(client)

    asyncio.run(main())
    with ArtifactStore(root, index=False) as s:  # what the agent put is in the store
        assert s.read_text("tool-output.txt", namespace="lab", session_id="run1") == "second run"
        assert s.get("tool-output.txt", namespace="lab", session_id="run1").source_tool == "mcp"


class _Server:
    """`notebook-artifacts mcp --transport http` on a free port, stdout read by a thread."""

    def __init__(self, root: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "--root", str(root), "mcp", "--transport", "http", "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(x) for x in self.proc.stdout], daemon=True).start()
        self.url = self._wait("notebook-artifacts MCP").rsplit(" ", 1)[-1].strip()

    def _wait(self, prefix: str) -> str:
        while True:
            line = self.lines.get(timeout=60)
            if line.startswith(prefix):
                return line

    def token(self) -> str:
        return self._wait("token:").split(":", 1)[1].strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def test_streamable_http_with_token(root):
    server = _Server(root)
    try:
        token = server.token()
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/mcp")
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}}
        hdrs = {"Accept": "application/json, text/event-stream"}
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = httpx.post(server.url, json=init, headers=hdrs | headers, timeout=30)
            assert r.status_code == 401 and "token" in r.json()["detail"]
        r = httpx.post(f"{server.url}?token={token}", json=init, headers=hdrs, timeout=30)
        assert r.status_code == 200

        async def main() -> None:
            http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
            async with http, Client(streamable_http_client(server.url, http_client=http),
                                    read_timeout_seconds=240) as client:
                await _exercise(client)

        asyncio.run(main())
        assert server.proc.poll() is None  # bad arguments never took it down
    finally:
        server.stop()


def test_http_no_auth_only_on_loopback(root):
    out = subprocess.run([*CLI, "--root", str(root), "mcp", "--transport", "http",
                          "--host", "0.0.0.0", "--no-auth"], capture_output=True, text=True,
                         env=_env(), timeout=60)
    assert out.returncode == 2 and "loopback" in out.stderr


def test_content_over_the_upload_limit_is_a_tool_error_and_stores_nothing(tmp_path):
    from notebook_artifacts.integrations.mcp import build_server

    with ArtifactStore(tmp_path / "s", index=False) as s:
        async def main() -> tuple[Any, Any]:
            async with Client(build_server(s, max_upload_bytes=16)) as client:
                big = await client.call_tool("put_artifact", {"name": "big.txt", "content": "x" * 17})
                small = await client.call_tool("put_artifact", {"name": "ok.txt", "content": "x" * 16})
                return big, small

        big, small = asyncio.run(main())
        assert big.is_error and "limit is 16" in big.content[0].text
        assert not small.is_error
        assert [a.name for a in s.list().artifacts] == ["ok.txt"]
