"""Browser downloads of artifacts, with nothing copied into the user's project.

* Small files (up to :data:`DATA_URI_LIMIT`) are ``data:`` links: one click, and they still
  work in a saved notebook.
* Larger ones, in a Jupyter kernel: a download button (:func:`download_button`) that streams
  the file over the widget comm in pieces; one click saves it, nothing is written on disk.
* With ``%artifact serve`` running: a signed download URL of that server.
* Elsewhere (plain IPython): a copy in the user's cache folder (:func:`cache_dir`), never in
  the working directory.
"""

from __future__ import annotations

import base64
import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import Artifact
from ..protocol import Store

if TYPE_CHECKING:  # pragma: no cover
    from ..server.runner import ServerHandle
    from ._transfer import ChunkedDownload, OutgoingFile

__all__ = ["DATA_URI_LIMIT", "DownloadLink", "artifact_link", "zip_link", "cache_dir",
           "download_button", "zip_button", "in_kernel"]

#: Files up to this size are embedded as data URIs; larger ones go through a URL. Kept small:
#: a data URI is stored in the .ipynb with the cell output (about 4/3 of the file's size).
DATA_URI_LIMIT = 64 * 1024
#: Lifetime of a signed download URL from ``%artifact serve``.
SIGNED_URL_SECONDS = 3600


def cache_dir() -> Path:
    """``$NOTEBOOK_ARTIFACTS_CACHE``, else ``$XDG_CACHE_HOME/notebook-artifacts``, else
    ``~/.cache/notebook-artifacts``: outside the user's project, so ``git status`` stays clean."""
    env = os.environ.get("NOTEBOOK_ARTIFACTS_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "notebook-artifacts"


@dataclass
class DownloadLink:
    """An HTML anchor for one download; ``kind`` is ``data``, ``signed`` or ``path``."""

    file_name: str
    href: str | None
    kind: str
    size_bytes: int
    path: str | None = None

    def to_html(self) -> str:
        from ..reprs import format_size

        name = html.escape(self.file_name, quote=True)
        size = format_size(self.size_bytes)
        if self.href is None:
            where = html.escape(self.path or "", quote=True)
            return f'<span class="na-download">saved to <code>{where}</code> ({size})</span>'
        href = html.escape(self.href, quote=True)
        return (
            f'<a class="na-download" href="{href}" download="{name}" target="_blank" '
            f'data-kind="{self.kind}">Download {name}</a> ({size})'
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        from ..reprs import format_size

        where = self.path if self.href is None else f"{self.kind} link"
        return f"Download {self.file_name} ({format_size(self.size_bytes)}): {where}"


def in_kernel() -> bool:
    """True in a Jupyter kernel (widgets can talk to a browser), False in plain IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _signed_url(server: ServerHandle | None, artifact_id: str,
                expires_in: int = SIGNED_URL_SECONDS) -> str | None:
    """A signed download URL of a running ``%artifact serve`` server, or None."""
    if server is None or not server.running:
        return None
    return server.signed_url(artifact_id, expires_in)


def _scope_kw(namespace: str | None, session_id: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"session_id": session_id}
    if namespace is not None:
        kw["namespace"] = namespace
    return kw


def _file_name(art: Artifact) -> str:
    return art.file_name or Path(art.name.replace("\\", "/")).name or art.artifact_id


def artifact_link(
    store: Store,
    ref: str,
    *,
    version: int | None = None,
    namespace: str | None = None,
    session_id: str | None = None,
    data_uri_limit: int = DATA_URI_LIMIT,
    server: ServerHandle | None = None,
) -> DownloadLink | ChunkedDownload:
    """One click to download a version: a data-URI link up to ``data_uri_limit`` bytes; above
    it a signed URL of ``server`` (a running ``%artifact serve``), else in a kernel a
    :func:`download_button`, else a copy in :func:`cache_dir`."""
    art = store.get(ref, version=version, **_scope_kw(namespace, session_id))
    file_name = _file_name(art)
    if art.size_bytes <= data_uri_limit:
        data = store.read_bytes(art.artifact_id)
        mime = art.mime_type or "application/octet-stream"
        href = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        return DownloadLink(file_name, href, "data", art.size_bytes)
    signed = _signed_url(server, art.artifact_id)
    if signed is not None:
        return DownloadLink(file_name, signed, "signed", art.size_bytes)
    if in_kernel():
        return download_button(store, art.artifact_id)
    folder = cache_dir() / "downloads" / art.artifact_id
    folder.mkdir(parents=True, exist_ok=True)
    dest = store.download(art.artifact_id, folder / file_name)
    return DownloadLink(file_name, None, "path", art.size_bytes, str(dest))


def download_button(store: Store, ref: str, **scope: Any) -> ChunkedDownload:
    """A one-click button streaming ``ref`` (an artifact id, or a name in ``scope``)."""
    from ..reprs import format_size
    from ._transfer import ChunkedDownload, OutgoingFile

    art = store.get(ref, **scope)

    def request() -> OutgoingFile:
        return OutgoingFile(_file_name(art), art.mime_type or "application/octet-stream",
                            art.size_bytes, store.open(art.artifact_id))

    return ChunkedDownload(
        request, description=f"Download {_file_name(art)} ({format_size(art.size_bytes)})")


def _zip_name(namespace: str | None, session_id: str | None) -> str:
    scope = "-".join(p for p in ((namespace or "all").replace("/", "_"), session_id) if p)
    return f"artifacts-{scope}.zip"


def zip_request(store: Store, namespace: str | None, session_id: str | None) -> OutgoingFile:
    """An :class:`OutgoingFile` of a zip of the scope, built in a temp file removed after."""
    from ._transfer import OutgoingFile

    fd, tmp = tempfile.mkstemp(prefix="na-zip-", suffix=".zip")
    os.close(fd)
    try:
        store.export_zip(tmp, namespace=namespace, session_id=session_id)
        size = os.path.getsize(tmp)
        stream = open(tmp, "rb")
    except BaseException:
        os.unlink(tmp)
        raise
    return OutgoingFile(_zip_name(namespace, session_id), "application/zip", size, stream,
                        cleanup=lambda: os.unlink(tmp))


def zip_button(store: Store, *, namespace: str | None = None, session_id: str | None = None,
               description: str = "Download all (zip)") -> ChunkedDownload:
    """A one-click button streaming a zip of every artifact in the scope."""
    from ._transfer import ChunkedDownload

    return ChunkedDownload(lambda: zip_request(store, namespace, session_id),
                           description=description, primary=False)


def zip_link(
    store: Store,
    *,
    namespace: str | None = None,
    session_id: str | None = None,
    data_uri_limit: int = DATA_URI_LIMIT,
) -> DownloadLink | ChunkedDownload:
    """A zip of every artifact in the scope: a data-URI link when small, else in a kernel a
    :func:`zip_button`, else a copy in :func:`cache_dir`."""
    out = zip_request(store, namespace, session_id)
    try:
        if out.size <= data_uri_limit:
            href = "data:application/zip;base64," + base64.b64encode(out.stream.read()).decode("ascii")
            return DownloadLink(out.name, href, "data", out.size)
    finally:
        out.stream.close()
        if out.cleanup:
            out.cleanup()
    if in_kernel():
        return zip_button(store, namespace=namespace, session_id=session_id,
                          description=f"Download {out.name}")
    folder = cache_dir() / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / out.name
    store.export_zip(dest, namespace=namespace, session_id=session_id)
    return DownloadLink(out.name, None, "path", dest.stat().st_size, str(dest))
