"""Running the app: on a background thread (``%artifact serve``) or in the foreground (CLI).

``serve_in_thread(store)`` binds a loopback socket (port 0 picks a free one), starts uvicorn on
its own thread and event loop, and returns a :class:`ServerHandle` with ``url``, ``token``,
``workflows`` (a live dict) and ``stop()``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from typing import Any, Callable, Optional

from ..errors import InvalidInputError, ServerStartError
from ._auth import RedactingFilter
from ._timeouts import uvicorn_timeouts

__all__ = ["ServerHandle", "serve_in_thread", "run_server", "is_loopback"]

log = logging.getLogger("notebook_artifacts.server")

#: On stop, open requests (long-polls wait up to 60 s) get this long before they are cut.
GRACEFUL_SECONDS = 3


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _install_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in lg.filters):
            lg.addFilter(RedactingFilter())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class ServerHandle:
    """A server running on a background thread."""

    def __init__(self, app: Any, server: Any, thread: threading.Thread, sock: socket.socket, host: str) -> None:
        self.app = app
        self._server = server
        self._thread = thread
        self._sock = sock
        port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.host = host
        self.port: int = port
        self.url: str = f"http://{shown}:{port}"
        self.token: Optional[str] = app.state.token

    @property
    def workflows(self) -> dict[str, Callable[..., Any]]:
        """The live workflow registry of ``POST /api/workflow/execute``."""
        return self.app.state.settings.workflows

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def signed_url(self, artifact_id: str, expires_in: int) -> str:
        """A download URL of this server for one version, valid ``expires_in`` seconds without
        a token (``/v1/signed/...``)."""
        path, _ = self.app.state.settings.signer.sign(artifact_id, expires_in)
        return self.url.rstrip("/") + path

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        self._server.should_exit = True
        self._thread.join(timeout)
        try:
            self._sock.close()
        except OSError:
            pass

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<notebook-artifacts server {self.url} ({state})>"

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_in_thread(
    store: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    token: Optional[str] = None,
    workflows: Optional[dict[str, Callable[..., Any]]] = None,
    *,
    auth: bool = True,
    max_upload_bytes: Optional[int] = None,
    startup_timeout: float = 15.0,
    **app_kwargs: Any,
) -> ServerHandle:
    """Serve ``store`` on a background thread; returns once the socket accepts connections."""
    import uvicorn

    from .app import DEFAULT_MAX_UPLOAD_BYTES, create_app

    if not auth and not is_loopback(host):
        raise InvalidInputError(f"refusing to serve without auth on {host}: bind to 127.0.0.1 or keep auth on")
    app_kwargs["allowed_hosts"] = [host, *app_kwargs.get("allowed_hosts", ())]
    app = create_app(store, token=token, auth=auth, workflows=workflows,
                     max_upload_bytes=max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES, **app_kwargs)
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            ws="websockets-sansio" if _has_sansio() else "auto",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS, **uvicorn_timeouts())
    _install_redaction()
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=f"notebook-artifacts-server-{sock.getsockname()[1]}", daemon=True)
    thread.start()
    deadline = threading.Event()
    waited = 0.0
    while not server.started and thread.is_alive() and waited < startup_timeout:
        deadline.wait(0.02)
        waited += 0.02
    if not server.started:
        server.should_exit = True
        sock.close()
        raise ServerStartError(f"the server did not start: {errors[0] if errors else 'timed out'}")
    return ServerHandle(app, server, thread, sock, host)


def _has_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except Exception:
        return False
    return True


def run_server(
    store: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: Optional[str] = None,
    auth: bool = True,
    max_upload_bytes: Optional[int] = None,
    echo: Callable[[str], None] = print,
    **app_kwargs: Any,
) -> None:
    """Serve ``store`` in the foreground until interrupted (the ``serve`` CLI command)."""
    import uvicorn

    from .app import DEFAULT_MAX_UPLOAD_BYTES, create_app

    if not auth and not is_loopback(host):
        raise InvalidInputError(f"refusing --no-auth on {host}: --no-auth is allowed only on a loopback address")
    app_kwargs["allowed_hosts"] = [host, *app_kwargs.get("allowed_hosts", ())]
    app = create_app(store, token=token, auth=auth,
                     max_upload_bytes=max_upload_bytes or DEFAULT_MAX_UPLOAD_BYTES, **app_kwargs)
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    echo(f"notebook-artifacts serving on {url}")
    if app.state.token and token is None:  # generated: the only place it is ever shown
        echo(f"token: {app.state.token}")
        echo(f"try: curl -H 'Authorization: Bearer {app.state.token}' {url}/health")
    elif app.state.token:
        echo("token: the one given with --token / $NOTEBOOK_ARTIFACTS_TOKEN")
    else:
        echo("auth: off (loopback only)")
    config = uvicorn.Config(app, log_level="info", access_log=True, lifespan="on",
                            ws="websockets-sansio" if _has_sansio() else "auto",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS, **uvicorn_timeouts())
    _install_redaction()  # after Config, which (re)configures logging
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
