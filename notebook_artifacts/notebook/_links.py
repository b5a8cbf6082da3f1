"""Browser download links for artifacts, without large base64 in the notebook.

Small files (up to :data:`DATA_URI_LIMIT`) become ``data:`` URIs. Larger ones are written
under the kernel's working directory (``artifact_downloads/``) and linked through the Jupyter
server's ``/files`` route, found from the server's runtime file; outside a Jupyter server,
when ``%artifact serve`` runs, they get a signed download URL of that server (nothing copied).
Either way no large base64 lands in the notebook's outputs.
"""

from __future__ import annotations

import base64
import glob
import html
import json
import os
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DATA_URI_LIMIT", "DOWNLOAD_DIR", "DownloadLink", "artifact_link", "zip_link"]

#: Files up to this size are embedded as data URIs; larger ones go through a URL. Kept small:
#: a data URI is stored in the .ipynb with the cell output (about 4/3 of the file's size).
DATA_URI_LIMIT = 64 * 1024
#: Lifetime of a signed download URL from ``%artifact serve``.
SIGNED_URL_SECONDS = 3600
#: Folder (under the kernel's cwd) where larger downloads are written for ``/files``.
DOWNLOAD_DIR = "artifact_downloads"


@dataclass
class DownloadLink:
    """An HTML anchor for one download; ``kind`` is ``data``, ``files``, ``signed`` or ``path``."""

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
            f'style="color:#0969da;text-decoration:underline;font-weight:600" '
            f'data-kind="{self.kind}">Download {name}</a> ({size})'
        )

    def _repr_html_(self) -> str:
        return self.to_html()


def _jupyter_server_info() -> dict[str, Any] | None:
    """The runtime info (root_dir, base_url) of the Jupyter server that started this kernel."""
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # pragma: no cover
        return None
    runtime = Path(jupyter_runtime_dir())
    candidates = [runtime / f"jpserver-{os.getppid()}.json"]
    candidates += [Path(p) for p in sorted(glob.glob(str(runtime / "jpserver-*.json")))]
    cwd = Path.cwd().resolve()
    for path in candidates:
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        root = info.get("root_dir")
        if not root:
            continue
        try:
            cwd.relative_to(Path(root).resolve())
        except ValueError:
            continue
        return info
    return None


def _files_url(path: Path) -> str | None:
    info = _jupyter_server_info()
    if info is None:
        return None
    rel = path.resolve().relative_to(Path(info["root_dir"]).resolve())
    base = info.get("base_url") or "/"
    return base.rstrip("/") + "/files/" + urllib.parse.quote(rel.as_posix())


def _unique_dest(directory: Path, file_name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    safe = Path(file_name).name or "artifact"
    return directory / safe


def _link_for_file(path: Path, file_name: str, size: int) -> DownloadLink:
    url = _files_url(path)
    if url is not None:
        return DownloadLink(file_name, url, "files", size, str(path))
    return DownloadLink(file_name, None, "path", size, str(path))


def _signed_url(server: Any, artifact_id: str, expires_in: int = SIGNED_URL_SECONDS) -> str | None:
    """A signed download URL of a running ``%artifact serve`` server, or None."""
    if server is None or not getattr(server, "running", False):
        return None
    try:
        signer = server.app.state.settings.signer
    except AttributeError:
        return None
    path, _ = signer.sign(artifact_id, expires_in)
    return str(server.url).rstrip("/") + path


def artifact_link(
    store: Any,
    ref: str,
    *,
    version: int | None = None,
    namespace: str | None = None,
    session_id: str | None = None,
    data_uri_limit: int = DATA_URI_LIMIT,
    directory: str | os.PathLike[str] | None = None,
    server: Any = None,
) -> DownloadLink:
    """A download link for one artifact version.

    A data URI up to ``data_uri_limit`` bytes; above it the Jupyter server's ``/files`` route
    when this kernel runs under one, else a signed URL of ``server`` (a running
    ``%artifact serve``), else the path of a copy under ``artifact_downloads/``.
    """
    kw: dict[str, Any] = {"session_id": session_id}
    if namespace is not None:
        kw["namespace"] = namespace
    art = store.get(ref, version=version, **kw)
    file_name = art.file_name or Path(art.name).name or art.artifact_id
    if art.size_bytes <= data_uri_limit:
        data = store.read_bytes(art.artifact_id)
        mime = art.mime_type or "application/octet-stream"
        href = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
        return DownloadLink(file_name, href, "data", art.size_bytes)
    if _jupyter_server_info() is None:
        signed = _signed_url(server, art.artifact_id)
        if signed is not None:
            return DownloadLink(file_name, signed, "signed", art.size_bytes)
    dest_dir = Path(directory) if directory else Path.cwd() / DOWNLOAD_DIR / art.artifact_id
    dest = _unique_dest(dest_dir, file_name)
    tmp = dest.with_name(dest.name + ".part")
    with store.open(art.artifact_id) as src, open(tmp, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    os.replace(tmp, dest)
    return _link_for_file(dest, file_name, art.size_bytes)


def zip_link(
    store: Any,
    *,
    namespace: str | None = None,
    session_id: str | None = None,
    data_uri_limit: int = DATA_URI_LIMIT,
    directory: str | os.PathLike[str] | None = None,
) -> DownloadLink:
    """A link to a zip of every artifact in the scope (``store.export_zip``)."""
    scope = "-".join(p for p in ((namespace or "all").replace("/", "_"), session_id) if p)
    file_name = f"artifacts-{scope}.zip"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="na-zip-") as tmpdir:
        tmp = Path(tmpdir) / file_name
        store.export_zip(tmp, namespace=namespace, session_id=session_id)
        size = tmp.stat().st_size
        if size <= data_uri_limit:
            href = "data:application/zip;base64," + base64.b64encode(tmp.read_bytes()).decode("ascii")
            return DownloadLink(file_name, href, "data", size)
        dest = _unique_dest(Path(directory) if directory else Path.cwd() / DOWNLOAD_DIR, file_name)
        shutil.move(str(tmp), dest)
    return _link_for_file(dest, file_name, size)
