"""Storage layer: the catalog (SQLite or PostgreSQL), content-addressed blobs, event log, TTL, sessions, export.

Imports nothing from the other layers of the package.
"""

from .blobs import BlobStore, StagedBlob
from .catalog import Catalog, connect
from .events import EventFilter, EventWatcher

__all__ = ["BlobStore", "StagedBlob", "Catalog", "connect", "EventFilter", "EventWatcher"]
