"""Google ADK: :class:`NotebookArtifactService`, an ADK ``BaseArtifactService`` over the store.

    from google.adk.runners import Runner
    runner = Runner(agent=agent, app_name="myapp", session_service=sessions,
                    artifact_service=NotebookArtifactService(store))

An agent's ``save_artifact``/``load_artifact`` then land in the notebook's store, where the
widgets, ``store.list`` and ``store.query`` see them. Scope (seed 002, DESIGN.md): ``app_name``
and ``user_id`` -> namespace ``APP/USER``; ``session_id`` -> the store's session; a filename
starting ``user:`` is user-scoped (namespace ``APP/USER``, no session) and keeps its prefix
as the artifact's name.

Versions: ADK numbers an artifact's versions from 0, the store from 1; ADK version ``n`` is
store version ``n + 1`` (``store.get(name, version=n + 1)``). Parts: ``inline_data`` is stored
as its bytes and MIME type, ``text`` as ``text/plain``, ``file_data`` (a URI, e.g. an
``artifact://`` reference) as a small JSON record; each loads back as the same kind of Part.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError, NotFoundError
from . import missing_extra

try:
    from google.adk.artifacts import artifact_util
    from google.adk.artifacts.base_artifact_service import (
        ArtifactVersion,
        BaseArtifactService,
        ensure_part,
    )
    from google.genai import types
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise missing_extra("google-adk", "adk", exc) from exc

__all__ = ["NotebookArtifactService", "FILE_DATA_MIME"]

#: MIME type of the JSON record a ``file_data`` Part is stored as
FILE_DATA_MIME = "application/vnd.google.adk.file-data+json"
_KIND = "adk_part"  # metadata key: which Part field the artifact came from
_MAX_REF_DEPTH = getattr(artifact_util, "_MAX_ARTIFACT_REFERENCE_DEPTH", 5)


class NotebookArtifactService(BaseArtifactService):
    """ADK artifacts stored as notebook artifacts (see the module docstring for the mapping)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    # -- scope ------------------------------------------------------------------------------
    @staticmethod
    def scope(app_name: str, user_id: str, filename: str | None,
              session_id: str | None) -> tuple[str, str | None]:
        """``(namespace, session_id)`` of an ADK artifact in the store."""
        for label, value in (("app_name", app_name), ("user_id", user_id)):
            if not isinstance(value, str) or not value or "/" in value:
                raise InvalidInputError(f"{label} must be a non-empty string without '/', got {value!r}")
        namespace = f"{app_name}/{user_id}"
        if filename is not None and filename.startswith("user:"):
            return namespace, None
        if filename is not None and session_id is None:
            raise InvalidInputError(
                f"session_id is required for the session-scoped artifact {filename!r} "
                "(prefix the name with 'user:' to make it user-scoped)")
        return namespace, session_id

    # -- BaseArtifactService ----------------------------------------------------------------
    async def save_artifact(self, *, app_name: str, user_id: str, filename: str,
                            artifact: types.Part | dict[str, Any],
                            session_id: str | None = None,
                            custom_metadata: dict[str, Any] | None = None) -> int:
        ns, sid = self.scope(app_name, user_id, filename, session_id)
        part = ensure_part(artifact)
        if part.inline_data is not None:
            data = part.inline_data.data or b""
            mime, kind = part.inline_data.mime_type or "application/octet-stream", "inline_data"
        elif part.text is not None:
            data, mime, kind = part.text.encode("utf-8"), "text/plain", "text"
        elif part.file_data is not None and part.file_data.file_uri:
            uri = part.file_data.file_uri
            if artifact_util.is_artifact_ref(part):
                parsed = artifact_util.parse_artifact_uri(uri)
                if parsed is None:
                    raise InvalidInputError(f"invalid artifact reference URI: {uri}")
                artifact_util.validate_artifact_reference_scope(
                    app_name=app_name, user_id=user_id, session_id=session_id, parsed_uri=parsed)
            data = json.dumps({"file_uri": uri, "mime_type": part.file_data.mime_type}).encode()
            mime, kind = FILE_DATA_MIME, "file_data"
        else:
            raise InvalidInputError(
                "an ADK artifact must be a Part with inline_data, text or file_data")
        metadata = {**(custom_metadata or {}), _KIND: kind}
        saved = await asyncio.to_thread(
            self.store.put, data, name=filename, namespace=ns, session_id=sid,
            metadata=metadata, mime_type=mime, file_name=filename.removeprefix("user:"),
            source_tool="google-adk")
        return saved.version - 1

    async def load_artifact(self, *, app_name: str, user_id: str, filename: str,
                            session_id: str | None = None,
                            version: int | None = None) -> types.Part | None:
        return await self._load(app_name, user_id, filename, session_id, version, _MAX_REF_DEPTH)

    async def _load(self, app_name: str, user_id: str, filename: str, session_id: str | None,
                    version: int | None, depth: int) -> types.Part | None:
        found = await self._get(app_name, user_id, filename, session_id, version)
        if found is None:
            return None
        data = await asyncio.to_thread(self.store.read_bytes, found)
        kind = found.metadata.get(_KIND)
        if kind == "text":
            return types.Part(text=data.decode("utf-8"))
        if kind == "file_data":
            rec = json.loads(data)
            part = types.Part(file_data=types.FileData(file_uri=rec["file_uri"],
                                                       mime_type=rec.get("mime_type")))
            if not artifact_util.is_artifact_ref(part):
                return part
            if depth <= 0:
                raise InvalidInputError(f"artifact reference chain from {filename!r} is too deep")
            ref = artifact_util.parse_artifact_uri(rec["file_uri"])
            return await self._load(ref.app_name, ref.user_id, ref.filename, ref.session_id,
                                    ref.version, depth - 1)
        part = types.Part(inline_data=types.Blob(mime_type=found.mime_type, data=data))
        if _is_tombstone(part):  # what a session rewind saves to remove an artifact
            return None
        return part

    async def _get(self, app_name: str, user_id: str, filename: str, session_id: str | None,
                   version: int | None) -> Any:
        ns, sid = self.scope(app_name, user_id, filename, session_id)
        if version is not None and (isinstance(version, bool) or version < 0):
            return None
        try:
            return await asyncio.to_thread(
                self.store.get, filename, None if version is None else version + 1,
                namespace=ns, session_id=sid)
        except NotFoundError:
            return None

    async def list_artifact_keys(self, *, app_name: str, user_id: str,
                                 session_id: str | None = None) -> list[str]:
        ns, _ = self.scope(app_name, user_id, None, None)
        keys = [n for n in await asyncio.to_thread(self.store.names, ns, None)
                if n.startswith("user:")]
        if session_id is not None:
            keys += await asyncio.to_thread(self.store.names, ns, session_id)
        return sorted(set(keys))

    async def delete_artifact(self, *, app_name: str, user_id: str, filename: str,
                              session_id: str | None = None) -> None:
        ns, sid = self.scope(app_name, user_id, filename, session_id)
        try:
            await asyncio.to_thread(self.store.delete, filename, namespace=ns, session_id=sid)
        except NotFoundError:
            return None

    async def list_versions(self, *, app_name: str, user_id: str, filename: str,
                            session_id: str | None = None) -> list[int]:
        return [v.version for v in await self.list_artifact_versions(
            app_name=app_name, user_id=user_id, filename=filename, session_id=session_id)]

    async def list_artifact_versions(self, *, app_name: str, user_id: str, filename: str,
                                     session_id: str | None = None) -> list[ArtifactVersion]:
        ns, sid = self.scope(app_name, user_id, filename, session_id)
        try:
            records = await asyncio.to_thread(self.store.versions, filename, namespace=ns,
                                              session_id=sid)
        except NotFoundError:
            return []
        return [_version_info(app_name, user_id, session_id, a) for a in records]

    async def get_artifact_version(self, *, app_name: str, user_id: str, filename: str,
                                   session_id: str | None = None,
                                   version: int | None = None) -> ArtifactVersion | None:
        found = await self._get(app_name, user_id, filename, session_id, version)
        return None if found is None else _version_info(app_name, user_id, session_id, found)


def _version_info(app_name: str, user_id: str, session_id: str | None, a: Any) -> ArtifactVersion:
    """ADK's record of one stored version (``canonical_uri`` is its ``artifact://`` reference)."""
    meta = {k: v for k, v in a.metadata.items() if k != _KIND}
    return ArtifactVersion(
        version=a.version - 1,
        canonical_uri=artifact_util.get_artifact_uri(
            app_name, user_id, a.name, a.version - 1, None if a.session_id is None else session_id),
        custom_metadata=meta,
        create_time=datetime.fromisoformat(a.created_at.replace("Z", "+00:00")).timestamp(),
        mime_type=None if a.mime_type == FILE_DATA_MIME else a.mime_type)


def _is_tombstone(part: types.Part) -> bool:
    check = getattr(artifact_util, "_is_rewind_tombstone", None)
    return bool(check(part)) if check else False
