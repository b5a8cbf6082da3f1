"""Plain records returned by the public API: artifact versions, pages, events, query results.

Field names of :class:`Artifact` follow the artifact platform API (seed 003) exactly, plus
``sha256``, ``namespace`` and ``session_id``. Times are ISO-8601 UTC strings ending in ``Z``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ARTIFACT_FIELDS",
    "Artifact",
    "Page",
    "Event",
    "EventPage",
    "QueryHit",
    "QueryResult",
    "Source",
    "Problem",
    "FsckReport",
    "GcReport",
    "INDEX_STATUSES",
    "EVENT_TYPES",
]

#: Values of ``Artifact.status`` (the indexing state of a version).
INDEX_STATUSES = ("pending", "indexed", "skipped", "failed")

#: Values of ``Event.type``.
EVENT_TYPES = (
    "created",
    "version_created",
    "updated",
    "deleted",
    "expired",
    "indexed",
    "index_failed",
    "promoted",
)


class _Record:
    """Shared helpers: ``to_dict()`` gives JSON-ready plain data."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class Artifact(_Record):
    """One version of an artifact."""

    artifact_id: str
    name: str
    version: int
    root_artifact_id: str
    namespace: str
    session_id: str | None
    sha256: str
    size_bytes: int
    mime_type: str
    created_at: str
    updated_at: str
    workspace_id: str | None = None
    namespace_id: str | None = None
    thread_id: str | None = None
    description: str | None = None
    artifact_type: str = "file"
    is_latest: bool = True
    replaced_by_version: int | None = None
    content: str | None = None
    content_preview: str | None = None
    content_text: str | None = None
    file_name: str | None = None
    has_file: bool = True
    summary: str | None = None
    keywords: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    source_execution_id: str | None = None
    source_step_id: str | None = None
    source_tool: str | None = None
    scope: str = "namespace"
    status: str = "pending"
    ttl_seconds: int | None = None
    expires_at: str | None = None
    is_pinned: bool = False
    is_expired: bool = False
    is_indexed: bool = False
    indexed_at: str | None = None
    index_collection: str | None = None
    index_error: str | None = None
    index_attempts: int = 0
    embedding_model_id: str | None = None
    chunk_count: int = 0
    promoted_to_source_id: str | None = None
    created_by: str | None = None

    @property
    def attachment_id(self) -> str:
        """The seed-001 id of this version (``att_`` + the id's suffix)."""
        return "att_" + self.artifact_id.split("_", 1)[-1]

    def _repr_html_(self) -> str:
        from .reprs import artifact_html

        return artifact_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython's text/plain
        from .reprs import artifact_text

        p.text(artifact_text(self))


#: Every field of an artifact record, in seed-003 order, then the three additions.
ARTIFACT_FIELDS: tuple[str, ...] = (
    "artifact_id", "workspace_id", "namespace_id", "thread_id", "name", "description",
    "artifact_type", "version", "root_artifact_id", "is_latest", "replaced_by_version",
    "content", "content_preview", "content_text", "file_name", "mime_type", "size_bytes",
    "has_file", "summary", "keywords", "tags", "metadata", "source", "source_execution_id",
    "source_step_id", "source_tool", "scope", "status", "ttl_seconds", "expires_at",
    "is_pinned", "is_expired", "is_indexed", "indexed_at", "index_collection", "index_error",
    "index_attempts", "embedding_model_id", "chunk_count", "promoted_to_source_id",
    "created_by", "created_at", "updated_at", "sha256", "namespace", "session_id",
)
assert set(ARTIFACT_FIELDS) == {f.name for f in dataclasses.fields(Artifact)}


@dataclass
class Page(_Record):
    """One page of a listing; pass ``next_cursor`` back as ``cursor`` for the next."""

    artifacts: list[Artifact]
    total: int
    has_more: bool
    next_cursor: str | None = None

    def __iter__(self):
        return iter(self.artifacts)

    def __len__(self) -> int:
        return len(self.artifacts)

    def to_frame(self) -> Any:
        """The page as a pandas DataFrame, one row per artifact (the usual columns first)."""
        import pandas as pd

        first = ["name", "version", "namespace", "session_id", "mime_type", "size_bytes", "tags",
                 "created_at", "expires_at", "is_pinned", "status", "artifact_id"]
        cols = first + [f for f in ARTIFACT_FIELDS if f not in first]
        return pd.DataFrame([a.to_dict() for a in self.artifacts], columns=cols)

    def _repr_html_(self) -> str:
        from .reprs import listing_html

        return listing_html(self.artifacts, total=self.total)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import listing_text

        p.text(listing_text(self.artifacts, total=self.total))


@dataclass
class Event(_Record):
    """One entry of the durable event log. ``cursor`` increases monotonically."""

    cursor: int
    type: str
    artifact_id: str | None
    root_artifact_id: str | None
    name: str | None
    version: int | None
    namespace: str
    session_id: str | None
    mime_type: str | None
    size_bytes: int | None
    sha256: str | None
    timestamp: float
    source_tool: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def _seed001_path(self) -> str | None:
        """An upload's path in the session workspace (``code_workspace/attachments/<name>``,
        where the session zip holds it); the artifact name for anything else."""
        if self.source_tool == "upload" and self.name:
            from .storage.export import workspace_arcname

            return workspace_arcname(self.name, "upload")
        return self.name

    def to_seed001(self) -> dict[str, Any]:
        """The event shape of the session attachment API (seed 001)."""
        return {
            "type": self.type,
            "cursor": self.cursor,
            "artifact_id": self.artifact_id,
            "attachment_id": ("att_" + self.artifact_id.split("_", 1)[-1]) if self.artifact_id else None,
            "node_id": self.source_tool,
            "path": self._seed001_path(),
            "version": self.version,
            "size": self.size_bytes,
            "mime": self.mime_type,
            "hash": f"sha256:{self.sha256}" if self.sha256 else None,
            "timestamp": int(self.timestamp),  # seed 001 shows whole seconds (typed clients need an int)
        }


@dataclass
class EventPage(_Record):
    """Result of :meth:`ArtifactStore.events`.

    ``gap`` is true when ``after`` pointed below the oldest retained event: some events
    were trimmed and the caller should resynchronise from a listing.
    """

    events: list[Event]
    next_cursor: int
    has_more: bool
    timed_out: bool
    gap: bool = False

    def _repr_html_(self) -> str:
        from .reprs import events_html

        return events_html(self.events)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import events_text

        p.text(events_text(self.events))


@dataclass
class QueryHit(_Record):
    """One ranked result: the artifact version, a 0..1 score, the chunk and where it is."""

    artifact: Artifact
    score: float
    matched_chunk: str
    location: dict[str, Any] = field(default_factory=dict)
    citation: str = ""

    #: fields of the artifact record a hit leaves out of ``to_dict()``: the whole file's text
    #: (the hit carries its ``matched_chunk`` and the record its ``content_preview``)
    FILE_TEXT_FIELDS = ("content", "content_text")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for key in self.FILE_TEXT_FIELDS:
            d["artifact"].pop(key, None)
        return d


@dataclass
class QueryResult(_Record):
    """Result of :meth:`ArtifactStore.query` (seed-003 shape plus ``location`` per hit)."""

    results: list[QueryHit]
    combined_context: str
    total_results: int
    query: str
    #: why there are no results when the answer is known without searching (empty store)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["results"] = [h.to_dict() for h in self.results]
        return d

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def _repr_html_(self) -> str:
        from .reprs import query_html

        return query_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        from .reprs import query_text

        p.text(query_text(self))

    def to_frame(self):
        """The ranked hits as a pandas DataFrame (rank, score, citation, name, version, ...)."""
        import pandas as pd

        rows = [
            {
                "rank": i,
                "score": h.score,
                "citation": h.citation,
                "name": h.artifact.name,
                "version": h.artifact.version,
                "artifact_id": h.artifact.artifact_id,
                "mime_type": h.artifact.mime_type,
                "matched_chunk": h.matched_chunk,
                **{f"location.{k}": v for k, v in (h.location or {}).items()},
            }
            for i, h in enumerate(self.results, 1)
        ]
        columns = ["rank", "score", "citation", "name", "version", "artifact_id", "mime_type",
                   "matched_chunk"]
        return pd.DataFrame(rows, columns=None if rows else columns)


@dataclass
class Source(_Record):
    """A promoted artifact: durable, outside TTL and session cleanup."""

    source_id: str
    source_name: str
    artifact_id: str
    root_artifact_id: str
    version: int
    namespace: str
    sha256: str
    created_at: str
    message: str = ""

    def _repr_html_(self) -> str:
        from .reprs import source_html

        return source_html(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(f"Source {self.source_name} ({self.source_id}) from {self.artifact_id} "
               f"v{self.version} in {self.namespace}")


@dataclass
class Problem(_Record):
    """One finding of :meth:`ArtifactStore.fsck`."""

    kind: str  # missing_blob | corrupt_blob | orphan_blob | temp_file | catalog | ...
    detail: str
    path: str | None = None
    artifact_id: str | None = None
    repaired: bool = False


@dataclass
class FsckReport(_Record):
    ok: bool
    problems: list[Problem] = field(default_factory=list)
    checked_versions: int = 0
    checked_blobs: int = 0


@dataclass
class GcReport(_Record):
    expired_versions: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0
    temp_files_removed: int = 0
    events_trimmed: int = 0
