"""``Store``: the public API that :class:`ArtifactStore` and :class:`RemoteStore` both offer.

The notebook, the CLI and the widgets are written against this protocol, so each works with
a store opened on a directory or one connected to a server (``notebook_artifacts.connect``).
Arguments, defaults, return types and exception classes are those of :class:`ArtifactStore`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from .models import Artifact, Event, EventPage, FsckReport, GcReport, Page, QueryResult, Source

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """Versioned artifacts with tags, TTL, events and semantic query (local or served)."""

    @property
    def location(self) -> str:
        """Where the store is, for people: its folder, or the server's URL."""
        ...

    @property
    def root(self) -> Path | None:
        """The store's folder on this machine; None for a served store."""
        ...

    def put(self, src: Any = None, name: str | None = None, *, text: str | None = None,
            namespace: str = "default",
            session_id: str | None = None, tags: Iterable[str] | str | None = (),
            metadata: dict[str, Any] | None = None, description: str | None = None,
            ttl: Any = None, pinned: bool = False, source: str | None = None,
            source_tool: str | None = None, source_execution_id: str | None = None,
            source_step_id: str | None = None, artifact_type: str | None = None,
            mime_type: str | None = None, file_name: str | None = None,
            index: bool = True) -> Artifact: ...

    def put_many(self, items: Iterable[Any], **common: Any) -> list[Artifact]: ...

    def register_file(self, path: str | os.PathLike[str], name: str | None = None, *,
                      namespace: str = "default", session_id: str | None = None,
                      source: str = "workspace", workspace_path: str | None = None,
                      **kwargs: Any) -> Artifact: ...

    def get(self, ref: Any, version: int | None = None, *, namespace: str = "default",
            session_id: str | None = None) -> Artifact: ...

    def open(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> IO[bytes]: ...

    def download(self, ref: Any, dest: str | os.PathLike[str], version: int | None = None, *,
                 namespace: str = "default", session_id: str | None = None) -> Path: ...

    def diff(self, ref: Any, a: int, b: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any: ...

    def read_bytes(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                   session_id: str | None = None) -> bytes: ...

    def read_text(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                  session_id: str | None = None, encoding: str = "utf-8",
                  errors: str = "strict") -> str: ...

    def load(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> Any: ...

    def versions(self, ref: Any, *, namespace: str = "default", session_id: str | None = None,
                 include_expired: bool = False) -> list[Artifact]: ...

    def list(self, namespace: str | None = None, session_id: str | None = None,
             tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
             include_expired: bool = False, limit: int = 50,
             cursor: str | None = None) -> Page: ...

    def frame(self, namespace: str | None = None, session_id: str | None = None,
              tags: Iterable[str] | str | None = None, types: Iterable[str] | str | None = None,
              include_expired: bool = False, limit: int = 50, cursor: str | None = None) -> Any: ...

    def names(self, namespace: str = "default", session_id: str | None = None) -> list[str]: ...

    def update(self, ref: Any, *, version: int | None = None, namespace: str = "default",
               session_id: str | None = None, tags: Iterable[str] | str | None = None,
               add_tags: Iterable[str] | str = (), remove_tags: Iterable[str] | str = (),
               metadata: dict[str, Any] | None = None, description: str | None = None,
               ttl: Any = ..., pinned: bool | None = None) -> Artifact: ...

    def delete(self, ref: Any, version: int | None = None, *, namespace: str = "default",
               session_id: str | None = None) -> list[Artifact]: ...

    def latest_cursor(self) -> int: ...

    def events(self, after: int = 0, wait_seconds: float = 0, namespace: str | None = None,
               session_id: str | None = None, include_mime: Iterable[str] | str | None = None,
               include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
               limit: int = 25, types: Iterable[str] | str | None = None) -> EventPage: ...

    def subscribe(self, callback: Callable[[list[Event]], Any], *, after: int | None = None,
                  namespace: str | None = None, session_id: str | None = None,
                  include_mime: Iterable[str] | str | None = None,
                  include_ext: Iterable[str] | str | None = None, max_size: int | None = None,
                  types: Iterable[str] | str | None = None) -> Callable[[], None]: ...

    def sessions(self, namespace: str | None = None) -> list[dict[str, Any]]: ...

    def close_session(self, session_id: str, namespace: str = "default", *,
                      clean: bool | None = None,
                      sources: Collection[str] | None = None) -> dict[str, Any]: ...

    def manifest(self, session_id: str, namespace: str = "default") -> dict[str, Any]: ...

    def query(self, text: str, k: int = 10, *, namespace: str | None = None,
              session_id: str | None = None, tags: Any = None, mime_types: Any = None,
              where: dict[str, Any] | None = None, mode: str = "hybrid",
              versions: str = "latest", scope: str = "artifacts",
              context_budget: int = 6000, min_score: float | None = None,
              progress: bool | None = None) -> QueryResult: ...

    def wait_indexed(self, timeout: float | None = None, *, progress: bool | None = None) -> bool: ...

    def pending_count(self) -> int: ...

    def reindex(self, ref: Any = None, *, namespace: str = "default",
                session_id: str | None = None) -> int: ...

    def promote(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                session_id: str | None = None, message: str = "") -> Source: ...

    def sources(self, namespace: str | None = None) -> list[Source]: ...

    def export_zip(self, dest: str | os.PathLike[str] | IO[bytes] | None = None, *,
                   namespace: str | None = None, session_id: str | None = None,
                   workspace_layout: bool = False) -> Path | IO[bytes]: ...

    def gc(self, *, events_keep: int = 100_000, temp_age: float = 0.0) -> GcReport: ...

    def fsck(self, repair: bool = False, *, verify_content: bool = True) -> FsckReport: ...

    def close(self) -> None: ...
