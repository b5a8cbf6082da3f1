"""notebook-artifacts: versioned artifacts with tags, TTL and semantic query for notebooks.

The Python API is this module::

    from notebook_artifacts import ArtifactStore
    store = ArtifactStore.default()
    store.put("results.csv", tags=["run-3"], ttl="7d")

Importing it loads neither torch nor Chroma; the index loads on first use.
"""

from __future__ import annotations

from .errors import (
    ArtifactError,
    IndexUnavailableError,
    IntegrityError,
    InvalidInputError,
    NoSuchFileError,
    NotFoundError,
)
from .models import (
    Artifact,
    Event,
    EventPage,
    FsckReport,
    GcReport,
    Page,
    Problem,
    QueryHit,
    QueryResult,
    Source,
)
from .store import ArtifactStore

__version__ = "0.1.0"

__all__ = [
    "ArtifactStore",
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
    "ArtifactError",
    "InvalidInputError",
    "NotFoundError",
    "NoSuchFileError",
    "IntegrityError",
    "IndexUnavailableError",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


def load_ipython_extension(ipython) -> None:  # pragma: no cover - exercised in a real kernel
    """``%load_ext notebook_artifacts``: registers the ``%artifact`` magics."""
    from .notebook.extension import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:  # pragma: no cover
    from .notebook.extension import unload_ipython_extension as _unload

    _unload(ipython)
