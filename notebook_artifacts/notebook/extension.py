"""``%load_ext notebook_artifacts``: registers the ``%artifact`` magics.

Loading is cheap: the store opens on the first ``%artifact`` command, the embedding model on
the first index or query, and the widgets module on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..protocol import Store
    from .magics import ArtifactMagics

__all__ = ["load_ipython_extension", "unload_ipython_extension", "current_magics", "current_store"]

_MAGICS: ArtifactMagics | None = None


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%artifact`` / ``%%artifact`` and make ``ArtifactMagics`` configurable."""
    global _MAGICS
    from .magics import ArtifactMagics

    if _MAGICS is not None and _MAGICS.shell is ipython:
        return
    magics = ArtifactMagics(shell=ipython, parent=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    _MAGICS = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics; stop the watcher and any server started with ``%artifact serve``."""
    global _MAGICS
    magics, _MAGICS = _MAGICS, None
    if magics is None:
        return
    magics.close()
    registry = ipython.magics_manager.magics
    for kind in ("line", "cell"):
        registry[kind].pop("artifact", None)
    if magics in ipython.configurables:
        ipython.configurables.remove(magics)


def current_magics() -> ArtifactMagics | None:
    """The loaded :class:`ArtifactMagics`, or ``None`` before ``%load_ext``."""
    return _MAGICS


def current_store() -> Store:
    """The store ``%artifact`` commands use (``ArtifactStore.default()`` unless switched)."""
    if _MAGICS is not None:
        return _MAGICS.store
    from ..store import ArtifactStore

    return ArtifactStore.default()
