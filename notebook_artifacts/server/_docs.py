"""``/openapi.json`` and ``/docs`` behind the token, with no third-party script.

FastAPI's own pages load Swagger UI and ReDoc from a CDN into the server's origin, where a
``?token=`` in the address is readable by that script; they are turned off. ``/docs`` is a
plain HTML list of the operations (no script at all, ``default-src 'none'``); the full spec is
at ``/openapi.json`` for any OpenAPI viewer.
"""

from __future__ import annotations

import copy
import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

__all__ = ["add_docs_routes", "DOCS_CSP", "NOT_RETURNED"]

DOCS_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
_METHODS = ("get", "post", "put", "patch", "delete")


def _page(spec: dict[str, Any]) -> str:
    rows = []
    for path, ops in spec.get("paths", {}).items():
        for method in _METHODS:
            op = ops.get(method)
            if op is None:
                continue
            params = ", ".join(p.get("name", "") for p in op.get("parameters", []))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op.get('summary', ''))}</td><td>{html.escape(params)}</td></tr>"
            )
    info = spec.get("info", {})
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(info.get('title', 'API'))} API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:2px 8px;vertical-align:top}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>{html.escape(info.get('title', ''))} {html.escape(str(info.get('version', '')))}</h1>"
        f"<p>{html.escape(info.get('description', ''))}</p>"
        "<p>The full OpenAPI document is at <code>/openapi.json</code> (same token).</p>"
        "<table><tr><th>method</th><th>path</th><th>summary</th><th>parameters</th></tr>"
        + "".join(rows) + "</table></body></html>"
    )


#: An operation's ``openapi_extra`` key listing statuses it never answers (FastAPI adds 422 to
#: every operation with parameters; routes that answer 400 instead drop it this way).
NOT_RETURNED = "x-not-returned"


def _spec(app: FastAPI) -> dict[str, Any]:
    spec = copy.deepcopy(app.openapi())
    for ops in spec.get("paths", {}).values():
        for op in ops.values():
            if isinstance(op, dict) and NOT_RETURNED in op:
                for status in op.pop(NOT_RETURNED):
                    op.get("responses", {}).pop(str(status), None)
    return spec


def add_docs_routes(app: FastAPI, dependencies: list[Any]) -> None:
    """Add ``/openapi.json`` and ``/docs`` with ``dependencies`` (the token check)."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=dependencies)
    def openapi_json() -> JSONResponse:
        return JSONResponse(_spec(app))

    @app.get("/docs", include_in_schema=False, dependencies=dependencies)
    def docs() -> HTMLResponse:
        return HTMLResponse(_page(_spec(app)), headers={"Content-Security-Policy": DOCS_CSP})
