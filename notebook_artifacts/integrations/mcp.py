"""MCP: the store as a Model Context Protocol server (``notebook-artifacts mcp``).

Tools: ``put_artifact``, ``get_artifact``, ``list_artifacts``, ``query_artifacts`` (ranked
results and ``combined_context``), ``artifact_versions``. Resource template
``notebook-artifacts://artifacts/{artifact_id}``: one version's content (text, or bytes).
A bad argument or a missing artifact answers a tool error (``is_error``), never a crash.

Over streamable HTTP the server takes the same token as ``serve``: ``Authorization: Bearer
<token>`` or ``?token=<token>``, a random one printed when none is given, ``--no-auth`` only on
loopback; content larger than ``max_upload_bytes`` (1 GiB by default, as ``serve``) is refused.
"""

# no `from __future__ import annotations`: MCP builds each tool's schema from its signature

import base64
import binascii
import functools
import hmac
import inspect
import json
import secrets
import socket
from collections.abc import Callable
from typing import Any, Literal

from ..errors import ArtifactError
from . import hit_metadata, missing_extra

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("mcp", "mcp", exc) from exc

__all__ = ["build_server", "http_app", "run_stdio", "run_http", "RESOURCE_TEMPLATE",
           "DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_MAX_READ_BYTES"]

RESOURCE_TEMPLATE = "notebook-artifacts://artifacts/{artifact_id}"
#: the largest content ``put_artifact`` accepts (the same default as ``serve``'s uploads)
DEFAULT_MAX_UPLOAD_BYTES = 1 << 30
#: ``get_artifact`` returns content up to this size inline; larger: read the resource
DEFAULT_MAX_READ_BYTES = 1 << 20
UNAUTHORIZED = ("missing or invalid token: send 'Authorization: Bearer <token>' or add "
                "'?token=<token>' (the token is printed by `notebook-artifacts mcp`)")


def _record(a: Any) -> dict[str, Any]:
    """The fields of an artifact version an agent needs (the full record stays in the store)."""
    return {k: getattr(a, k) for k in (
        "artifact_id", "name", "version", "namespace", "session_id", "mime_type", "size_bytes",
        "tags", "metadata", "description", "status", "is_latest", "created_at", "expires_at")}


def _tool_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a store error (bad input, not found) into an MCP tool error the model can read."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ArtifactError, ValueError, LookupError, TypeError, OSError) as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from exc

    wrapper.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return wrapper


def build_server(store: Any, *, name: str = "notebook-artifacts",
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
                 max_read_bytes: int = DEFAULT_MAX_READ_BYTES) -> "MCPServer":
    """An ``MCPServer`` whose tools and resources call ``store``'s public API."""
    server = MCPServer(name, log_level="WARNING", instructions=(
        "Versioned artifacts with semantic search. query_artifacts answers ranked chunks with "
        "citations and a combined_context ready for a prompt; put_artifact stores a tool "
        "output as the next version of a name."))

    @server.tool()
    @_tool_errors
    def put_artifact(name: str, content: str, namespace: str = "default",
                     session_id: str | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, description: str | None = None,
                     encoding: Literal["text", "base64"] = "text",
                     mime_type: str | None = None) -> dict[str, Any]:
        """Store content as the next version of NAME (text, or base64 with encoding="base64")."""
        if encoding == "base64":
            try:
                data = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise ToolError("content is not valid base64 (or pass encoding='text')") from None
        else:
            data = content.encode("utf-8")
            mime_type = mime_type or ("text/plain" if "." not in name.rsplit("/", 1)[-1] else None)
        if len(data) > max_upload_bytes:
            raise ToolError(f"content is {len(data)} bytes; the limit is {max_upload_bytes}")
        a = store.put(data, name=name, namespace=namespace, session_id=session_id,
                      tags=tags or (), metadata=metadata, description=description,
                      mime_type=mime_type, source_tool="mcp")
        return _record(a)

    @server.tool()
    @_tool_errors
    def get_artifact(name: str, version: int | None = None, namespace: str = "default",
                     session_id: str | None = None) -> dict[str, Any]:
        """One version of NAME (the latest by default) with its content: text, or base64."""
        a = store.get(name, version, namespace=namespace, session_id=session_id)
        out = _record(a) | {"resource_uri": RESOURCE_TEMPLATE.format(artifact_id=a.artifact_id)}
        if a.size_bytes > max_read_bytes:
            return out | {"content": None, "truncated": True,
                          "note": f"larger than {max_read_bytes} bytes: read resource_uri"}
        data = store.read_bytes(a)
        try:
            return out | {"content": data.decode("utf-8"), "encoding": "text"}
        except UnicodeDecodeError:
            return out | {"content": base64.b64encode(data).decode(), "encoding": "base64"}

    @server.tool()
    @_tool_errors
    def list_artifacts(namespace: str | None = None, session_id: str | None = None,
                       tags: list[str] | None = None, limit: int = 50,
                       cursor: str | None = None) -> dict[str, Any]:
        """The latest version of each artifact, newest first (pass next_cursor back as cursor)."""
        page = store.list(namespace=namespace, session_id=session_id, tags=tags, limit=limit,
                          cursor=cursor)
        return {"artifacts": [_record(a) for a in page.artifacts], "total": page.total,
                "has_more": page.has_more, "next_cursor": page.next_cursor}

    @server.tool()
    @_tool_errors
    def query_artifacts(query: str, k: int = 5, namespace: str | None = None,
                        session_id: str | None = None, tags: list[str] | None = None,
                        mode: Literal["hybrid", "dense", "keyword"] = "hybrid") -> dict[str, Any]:
        """Semantic + keyword search: ranked chunks with citations, and combined_context."""
        res = store.query(query, k=k, namespace=namespace, session_id=session_id, tags=tags,
                          mode=mode, progress=False)  # no bars: a service, nobody watches
        return {"query": res.query, "total_results": res.total_results,
                "combined_context": res.combined_context,
                "results": [hit_metadata(h) | {"matched_chunk": h.matched_chunk}
                            for h in res.results]}

    @server.tool()
    @_tool_errors
    def artifact_versions(name: str, namespace: str = "default",
                          session_id: str | None = None) -> list[dict[str, Any]]:
        """Every version of NAME, oldest first."""
        return [_record(a) for a in store.versions(name, namespace=namespace,
                                                   session_id=session_id)]

    @server.resource(RESOURCE_TEMPLATE, name="artifact",
                     description="The content of one artifact version (by artifact_id).")
    def artifact_content(artifact_id: str) -> str | bytes:
        try:
            a = store.get(artifact_id)
        except ArtifactError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        data = store.read_bytes(a)
        if a.mime_type.startswith("text/") or a.mime_type in ("application/json",):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return data

    return server


# -- transports ---------------------------------------------------------------------------------
def run_stdio(store: Any, **kwargs: Any) -> None:
    """Serve over stdin/stdout until the client closes them."""
    import anyio

    anyio.run(build_server(store, **kwargs).run_stdio_async)


class _TokenAuth:
    """ASGI middleware: the same token check as ``serve`` (Bearer header or ``?token=``)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token.encode("utf-8")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._ok(scope):
            body = json.dumps({"detail": UNAUTHORIZED}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

    def _ok(self, scope: Any) -> bool:
        from urllib.parse import parse_qs

        given = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        if given is None:
            qs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = qs["token"][0].encode("utf-8") if qs.get("token") else None
        return bool(given) and hmac.compare_digest(given, self.token)


def http_app(store: Any, *, token: str | None, host: str = "127.0.0.1",
             max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, **kwargs: Any) -> Any:
    """The streamable-HTTP ASGI app at ``/mcp``, behind the token when one is given."""
    server = build_server(store, max_upload_bytes=max_upload_bytes, **kwargs)
    # base64 grows content by 4/3; leave room for the JSON-RPC envelope
    app = server.streamable_http_app(host=host,
                                     max_request_body_size=max_upload_bytes * 4 // 3 + 65536)
    return _TokenAuth(app, token) if token else app


def run_http(store: Any, *, host: str = "127.0.0.1", port: int = 8766, token: str | None = None,
             auth: bool = True, echo: Callable[[str], None] = print, **kwargs: Any) -> None:
    """Serve streamable HTTP at ``http://HOST:PORT/mcp`` until interrupted."""
    import uvicorn

    if not auth and not _is_loopback(host):
        raise ValueError(f"refusing --no-auth on {host}: --no-auth is allowed only on loopback")
    generated = auth and token is None
    token = (secrets.token_urlsafe(32) if generated else token) if auth else None
    app = http_app(store, token=token, host=host, **kwargs)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    shown = f"[{host}]" if ":" in host else host
    echo(f"notebook-artifacts MCP (streamable HTTP) on http://{shown}:{sock.getsockname()[1]}/mcp")
    if generated:
        echo(f"token: {token}")
    elif token:
        echo("token: the one given with --token / $NOTEBOOK_ARTIFACTS_TOKEN")
    else:
        echo("auth: off (loopback only)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
