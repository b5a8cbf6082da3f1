"""notebook-artifacts: versioned artifacts with tags, TTL and semantic query for notebooks.

The Python API is this module::

    from notebook_artifacts import ArtifactStore
    store = ArtifactStore.default()
    store.put("results.csv", tags=["run-3"], ttl="7d")

    from notebook_artifacts import connect          # the same API, over HTTP
    team = connect("http://host:8765", token="...")

Importing it loads neither torch nor Chroma; the index loads on first use.
"""

from __future__ import annotations

from .errors import (
    AccessDeniedError,
    AdminOnlyError,
    ArtifactError,
    ConnectionLostError,
    IndexUnavailableError,
    IntegrityError,
    InvalidInputError,
    NoSuchFileError,
    NotFoundError,
    ReadOnlyError,
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
from .protocol import Store
from .store import ArtifactStore

__version__ = "0.1.0"

__all__ = [
    "ArtifactStore",
    "Store",
    "RemoteStore",
    "connect",
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
    "AccessDeniedError",
    "ReadOnlyError",
    "AdminOnlyError",
    "ConnectionLostError",
    "load_ipython_extension",
    "unload_ipython_extension",
    "__version__",
]


def __getattr__(name: str) -> object:
    """``connect`` and ``RemoteStore`` load httpx only when first used."""
    if name in ("connect", "RemoteStore"):
        try:
            from . import remote
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                f"{name} needs httpx: pip install 'notebook-artifacts[remote]' ({exc})") from None
        return getattr(remote, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython) -> None:  # pragma: no cover - exercised in a real kernel
    """``%load_ext notebook_artifacts``: registers the ``%artifact`` magics."""
    from .notebook.extension import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython) -> None:  # pragma: no cover
    from .notebook.extension import unload_ipython_extension as _unload

    _unload(ipython)
