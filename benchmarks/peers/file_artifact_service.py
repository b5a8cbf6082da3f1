"""The agent framework's file-based artifact service, as its users run it.

Layout (one folder per version, seed 002's app/user/session scoping)::

    <root>/<app>/<user>/<session>/<filename>/versions/<n>/<basename>
    <root>/<app>/<user>/<session>/<filename>/versions/<n>/metadata.json

Names prefixed ``user:`` live under ``<root>/<app>/<user>/user/``.  Like the framework's
``save_artifact(filename, Part)``, the artifact arrives as bytes in memory (a Part's
``inline_data``); the next version number comes from listing the existing versions.
There is no content hashing, deduplication, search or index.
"""

from __future__ import annotations

import json
import mimetypes
import os
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["FileArtifactService"]


class FileArtifactService:
    """Versioned artifacts in plain folders, scoped by app, user and session."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _artifact_dir(self, app_name: str, user_id: str, session_id: str, filename: str) -> Path:
        if filename.startswith("user:"):
            return self.root / app_name / user_id / "user" / filename[len("user:"):]
        return self.root / app_name / user_id / session_id / filename

    def list_versions(self, *, app_name: str, user_id: str, session_id: str, filename: str) -> list[int]:
        versions = self._artifact_dir(app_name, user_id, session_id, filename) / "versions"
        if not versions.is_dir():
            return []
        return sorted(int(p.name) for p in versions.iterdir() if p.name.isdigit())

    def save_artifact(self, *, app_name: str, user_id: str, session_id: str, filename: str,
                      data: bytes, mime_type: str | None = None,
                      custom_metadata: dict | None = None) -> int:
        """Store ``data`` as the next version of ``filename``; returns the version (from 0)."""
        existing = self.list_versions(app_name=app_name, user_id=user_id,
                                      session_id=session_id, filename=filename)
        version = existing[-1] + 1 if existing else 0
        vdir = self._artifact_dir(app_name, user_id, session_id, filename) / "versions" / str(version)
        vdir.mkdir(parents=True, exist_ok=False)
        content = vdir / Path(filename).name
        content.write_bytes(data)
        meta = {
            "fileName": filename,
            "mimeType": mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream",
            "version": version,
            "canonicalUri": content.resolve().as_uri(),
            "createTime": datetime.now(timezone.utc).isoformat(),
            "customMetadata": custom_metadata or {},
        }
        (vdir / "metadata.json").write_text(json.dumps(meta))
        return version

    def load_artifact(self, *, app_name: str, user_id: str, session_id: str, filename: str,
                      version: int | None = None) -> bytes | None:
        versions = self.list_versions(app_name=app_name, user_id=user_id,
                                      session_id=session_id, filename=filename)
        if not versions:
            return None
        v = versions[-1] if version is None else version
        vdir = self._artifact_dir(app_name, user_id, session_id, filename) / "versions" / str(v)
        return (vdir / Path(filename).name).read_bytes()

    def list_artifact_keys(self, *, app_name: str, user_id: str, session_id: str) -> list[str]:
        keys = []
        for base, prefix in ((self.root / app_name / user_id / session_id, ""),
                             (self.root / app_name / user_id / "user", "user:")):
            if base.is_dir():
                keys += [prefix + p.parent.relative_to(base).as_posix()
                         for p in base.rglob("versions") if p.is_dir()]
        return sorted(keys)
