"""The HTTP face: a FastAPI app over one ArtifactStore (REST for the three seed APIs, WebSocket).

    from notebook_artifacts.server import create_app, serve_in_thread
    handle = serve_in_thread(store)          # handle.url, handle.token, handle.stop()
"""

from __future__ import annotations

from .app import DEFAULT_DATA_URI_MAX_BYTES, DEFAULT_MAX_UPLOAD_BYTES, create_app
from .routes_workflow import WorkflowContext
from .runner import ServerHandle, run_server, serve_in_thread

__all__ = [
    "create_app",
    "serve_in_thread",
    "run_server",
    "ServerHandle",
    "WorkflowContext",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "DEFAULT_DATA_URI_MAX_BYTES",
]
