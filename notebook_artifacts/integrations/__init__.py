"""Adapters that let agent frameworks use an :class:`~notebook_artifacts.ArtifactStore`.

Each submodule imports its framework, so import the one you use (each has an extra)::

    from notebook_artifacts.integrations.langchain import ArtifactRetriever     # [langchain]
    from notebook_artifacts.integrations.llama_index import ArtifactRetriever   # [llama-index]
    from notebook_artifacts.integrations.adk import NotebookArtifactService     # [adk]
    from notebook_artifacts.integrations.mcp import build_server                # [mcp]

Importing this package (or ``notebook_artifacts``) imports no framework. Every adapter calls
only the public store API (``query``, ``put``, ``get``, ``versions``, ``list``, ``delete``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["hit_metadata", "missing_extra"]


def hit_metadata(hit: Any) -> dict[str, Any]:
    """The citation metadata every adapter attaches to one query hit (a ``QueryHit``)."""
    a = hit.artifact
    return {
        "artifact_id": a.artifact_id,
        "name": a.name,
        "version": a.version,
        "namespace": a.namespace,
        "session_id": a.session_id,
        "mime_type": a.mime_type,
        "tags": list(a.tags),
        "score": float(hit.score),
        "citation": hit.citation,
        "location": dict(hit.location or {}),
    }



def missing_extra(framework: str, extra: str, exc: ImportError) -> ImportError:
    """The ImportError an adapter raises when its framework is not installed."""
    return ImportError(f"{framework} is not installed: pip install 'notebook-artifacts[{extra}]' ({exc})")
