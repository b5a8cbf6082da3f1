"""Pydantic request and response models of the HTTP API (they drive the OpenAPI document).

``ArtifactOut`` is generated from :class:`notebook_artifacts.models.Artifact`, so the wire
record always has exactly the fields of the Python record (seed-003 names plus ``sha256``,
``namespace`` and ``session_id``).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

from ..models import Artifact, QueryHit, Source

__all__ = [
    "ArtifactOut",
    "ArtifactListOut",
    "ArtifactCreate",
    "ArtifactUpdate",
    "DownloadUrlOut",
    "QueryRequest",
    "QueryHitOut",
    "QueryResultOut",
    "PromoteRequest",
    "PromoteOut",
    "UploadOut",
    "AttachmentOut",
    "AttachmentListOut",
    "SessionEventOut",
    "SessionEventsOut",
    "AttachmentMetaOut",
    "ManifestOut",
    "CloseSessionOut",
    "LoadedArtifactOut",
    "InlineData",
    "PartModel",
    "SaveArtifactRequest",
    "ArtifactVersionOut",
    "WorkflowRequest",
    "WorkflowArtifactOut",
    "WorkflowResultOut",
    "artifact_out",
]


def _artifact_model() -> type[BaseModel]:
    hints = typing.get_type_hints(Artifact)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(Artifact):
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = Field(default_factory=f.default_factory)  # type: ignore[misc]
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)
    return create_model(
        "ArtifactOut",
        __doc__="One version of an artifact (seed-003 field names plus sha256, namespace, session_id).",
        **fields,
    )


ArtifactOut: type[BaseModel] = _artifact_model()


def artifact_out(a: Artifact) -> dict[str, Any]:
    """The wire form of an artifact record."""
    return a.to_dict()


# ---------------------------------------------------------------- platform (seed 003)


class ArtifactListOut(BaseModel):
    total: int
    has_more: bool
    next_cursor: Optional[str] = None
    artifacts: list[ArtifactOut]  # type: ignore[valid-type]


class ArtifactCreate(BaseModel):
    """Create an artifact (or the next version of ``name``) from JSON content."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=512)
    content: Optional[str] = Field(None, description="Text content of the artifact.")
    description: Optional[str] = None
    artifact_type: Optional[str] = None
    thread_id: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl_seconds: Optional[int] = Field(None, ge=1)
    is_pinned: bool = False
    source: Optional[str] = None
    source_tool: Optional[str] = None
    source_execution_id: Optional[str] = None
    source_step_id: Optional[str] = None
    mime_type: Optional[str] = None
    file_name: Optional[str] = None


class ArtifactUpdate(BaseModel):
    """Change tags, metadata, description, TTL or pin; ``content`` stores a new version."""

    model_config = ConfigDict(extra="forbid")
    description: Optional[str] = None
    tags: Optional[list[str]] = None
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    metadata: Optional[dict[str, Any]] = None
    ttl_seconds: Optional[int] = Field(None, ge=1)
    clear_ttl: bool = Field(False, description="Remove the TTL (the artifact no longer expires).")
    is_pinned: Optional[bool] = None
    content: Optional[str] = Field(None, description="New text content: stored as the next version.")


class DownloadUrlOut(BaseModel):
    artifact_id: str
    download_url: str
    expires_in: int
    file_name: Optional[str] = None
    content_type: Optional[str] = None
    file_size_bytes: int


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=10_000)
    k: int = Field(10, ge=1, le=100, validation_alias=AliasChoices("k", "limit", "top_k"))
    thread_id: Optional[str] = Field(None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    tags: Optional[list[str]] = None
    mime_types: Optional[list[str]] = None
    where: Optional[dict[str, Any]] = None
    mode: typing.Literal["hybrid", "dense", "semantic", "keyword"] = Field(
        "hybrid", description="hybrid (dense + keyword, fused), dense (= semantic) or keyword.")
    versions: typing.Literal["latest", "all"] = "latest"
    scope: typing.Literal["artifacts", "sources", "all"] = "artifacts"
    context_budget: int = Field(6000, ge=100, le=200_000, description="Characters of combined_context.")


class QueryHitOut(BaseModel):
    artifact: ArtifactOut  # type: ignore[valid-type]
    score: float
    matched_chunk: str
    location: dict[str, Any] = Field(default_factory=dict)
    citation: str = ""


class QueryResultOut(BaseModel):
    results: list[QueryHitOut]
    combined_context: str
    total_results: int
    query: str


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    version: Optional[int] = Field(None, ge=1, description="Promote this version of the lineage instead.")
    message: Optional[str] = Field(None, max_length=10_000, description="A note kept with the source.")


class PromoteOut(BaseModel):
    artifact_id: str
    source_id: str
    source_name: str
    message: str


def query_hit_out(h: QueryHit) -> dict[str, Any]:
    return {
        "artifact": h.artifact.to_dict(),
        "score": h.score,
        "matched_chunk": h.matched_chunk,
        "location": h.location,
        "citation": h.citation,
    }


def promote_out(s: Source) -> dict[str, Any]:
    return {
        "artifact_id": s.artifact_id,
        "source_id": s.source_id,
        "source_name": s.source_name,
        "message": s.message or f"promoted {s.artifact_id} to source {s.source_id}",
    }


# ---------------------------------------------------------------- sessions (seed 001)


class UploadOut(BaseModel):
    attachment_id: str
    artifact_id: str
    name: str
    mime: str
    mime_type: str = Field(description="Same as mime (the name other implementations of this API use).")
    size: int
    version: int
    sha256: str
    hash: str = Field(description="'sha256:<hex>', as in the events.")
    path: str = Field(description="Where the file lies in the session workspace (and its zip).")
    session_id: str


class AttachmentOut(BaseModel):
    attachment_id: str
    artifact_id: str
    name: str
    file_name: Optional[str] = None
    mime: str
    size: int
    version: int
    sha256: str
    source: Optional[str] = None
    tags: list[str] = Field(default_factory=list)
    created_at: str


class AttachmentListOut(BaseModel):
    session_id: str
    attachments: list[AttachmentOut]
    total: int


class SessionEventOut(BaseModel):
    """One event in the seed-001 shape (``path`` is the artifact name)."""

    type: str
    cursor: int
    artifact_id: Optional[str] = None
    attachment_id: Optional[str] = None
    node_id: Optional[str] = None
    path: Optional[str] = None
    version: Optional[int] = None
    size: Optional[int] = None
    mime: Optional[str] = None
    hash: Optional[str] = None
    timestamp: int = Field(description="Unix time in whole seconds, as the seed shows (1732699900).")


class SessionEventsOut(BaseModel):
    events: list[SessionEventOut]
    next_cursor: int
    has_more: bool
    timed_out: bool
    gap: bool = False


class ManifestEntryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    attachment_id: str
    artifact_id: str
    name: str
    version: int
    mime_type: str
    size: int
    sha256: str
    source: Optional[str] = None
    workspace_path: Optional[str] = None
    storage: Optional[str] = None
    created_at: str


class ManifestOut(BaseModel):
    """The session's ``attachments_manifest.json``."""

    model_config = ConfigDict(extra="allow")
    session_id: str
    namespace: str
    closed_at: Optional[str] = None
    updated_at: Optional[str] = None
    attachments: list[ManifestEntryOut]


class CloseSessionOut(BaseModel):
    namespace: str
    session_id: str
    cleaned: bool
    removed_versions: int


class AttachmentMetaOut(BaseModel):
    artifact_id: str
    attachment_id: str
    session_id: Optional[str] = None
    name: str
    path: str = Field(description="Uploads: code_workspace/attachments/<name>; otherwise the name.")
    file_name: Optional[str] = None
    mime: str
    mime_type: str = Field(description="Same as mime.")
    size: int
    hash: str
    sha256: str = Field(description="The hex digest in hash, without its 'sha256:' prefix.")
    version: int
    created_at: str
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    download_url: str
    data_uri: Optional[str] = Field(
        None, description="base64 data: URI, present for files up to the server's data_uri limit."
    )


# ---------------------------------------------------------------- app/user/session (seed 002)


class LoadedArtifactOut(BaseModel):
    """``GET /api/sessions/{app}/{user}/{session}/artifacts/{name}``: base64 content."""

    name: str
    version: int
    size: int
    mime_type: str
    data: str = Field(description="base64-encoded content")


class InlineData(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    mime_type: str = Field(
        "application/octet-stream", validation_alias=AliasChoices("mime_type", "mimeType")
    )
    data: str = Field(description="base64-encoded content")
    display_name: Optional[str] = Field(
        None, validation_alias=AliasChoices("display_name", "displayName")
    )


class PartModel(BaseModel):
    """A content part: ``inline_data`` (base64 bytes) or ``text``."""

    model_config = ConfigDict(populate_by_name=True)
    inline_data: Optional[InlineData] = Field(
        None, validation_alias=AliasChoices("inline_data", "inlineData")
    )
    text: Optional[str] = None


class SaveArtifactRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    filename: str = Field(min_length=1, max_length=512)
    artifact: PartModel
    custom_metadata: Optional[dict[str, Any]] = Field(
        None, validation_alias=AliasChoices("custom_metadata", "customMetadata")
    )


class ArtifactVersionOut(BaseModel):
    version: int
    canonical_uri: str
    custom_metadata: dict[str, Any] = Field(default_factory=dict)
    create_time: float
    mime_type: Optional[str] = None


# ---------------------------------------------------------------- workflow (seed 001, 1.3)


class WorkflowRequest(BaseModel):
    session_id: Optional[str] = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,128}$",
        description="Session to run in; when omitted a new session is created and returned.",
    )
    task_prompt: str = Field(min_length=1, max_length=100_000)
    attachments: list[str] = Field(default_factory=list, max_length=1000)
    workflow: Optional[str] = Field(
        None, description="Name of a registered workflow; optional when exactly one is registered."
    )
    parameters: dict[str, Any] = Field(default_factory=dict)


class WorkflowArtifactOut(BaseModel):
    artifact_id: str
    attachment_id: str
    name: str
    version: int
    mime: str
    size: int
    source_execution_id: Optional[str] = None


class WorkflowResultOut(BaseModel):
    execution_id: str
    session_id: str
    workflow: str
    status: typing.Literal["completed", "failed"]
    result: Any = None
    error: Optional[str] = None
    artifacts: list[WorkflowArtifactOut]
    started_at: float
    finished_at: float
