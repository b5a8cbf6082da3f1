"""Jupyter widget panels over an :class:`~notebook_artifacts.ArtifactStore`.

    from notebook_artifacts.widgets import Dashboard
    Dashboard()        # the kernel's current store; or Dashboard(store)

Needs the ``notebook`` extra (ipywidgets).
"""

from __future__ import annotations

from .notebook.widgets import Dashboard, DownloadPanel, EventFeed, SearchPanel, UploadPanel

__all__ = ["UploadPanel", "EventFeed", "DownloadPanel", "SearchPanel", "Dashboard"]
