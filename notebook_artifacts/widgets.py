"""Jupyter widget panels over a store: an :class:`~notebook_artifacts.ArtifactStore`, or the
:class:`~notebook_artifacts.RemoteStore` of ``connect()`` / ``%artifact connect``.

    from notebook_artifacts.widgets import Dashboard
    Dashboard()        # the kernel's current store; or Dashboard(store)

Needs the ``notebook`` extra (ipywidgets).
"""

from __future__ import annotations

from .notebook.widgets import Dashboard, DownloadPanel, EventFeed, SearchPanel, UploadPanel

__all__ = ["UploadPanel", "EventFeed", "DownloadPanel", "SearchPanel", "Dashboard"]
