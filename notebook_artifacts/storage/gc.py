"""Garbage collection: expiry, reclaiming content, temp files and event-log trimming."""

from __future__ import annotations

from ..models import GcReport
from .blobs import Blobs
from .catalog import Catalog
from .fsck import UPLOAD_GRACE_SECONDS
from .sessions import stale_aux_temp_files

__all__ = ["collect"]


def collect(catalog: Catalog, blobs: Blobs, *, now: float, events_keep: int,
            temp_age: float) -> tuple[GcReport, set[tuple[str, str]]]:
    """Run one collection; returns the report and the sessions whose manifests changed.

    Expired versions are swept (one ``expired`` event each), then their records dropped and
    every blob no remaining version references deleted (under the catalog's write lock, so a
    concurrent put cannot lose content it is about to reference).
    """
    catalog.sweep_expired(now)
    sessions = catalog.expired_sessions()
    versions, removed, freed = catalog.purge_expired(blobs)
    referenced = catalog.referenced_digests()
    orphans = [e.digest for e in blobs.iter_blobs()
               if e.digest is not None and e.digest not in referenced]
    if orphans:
        r2, f2 = catalog.remove_orphan_blobs(blobs, orphans)
        removed += r2
        freed += f2
    temps = 0
    for p in blobs.stale_temp_files(grace=temp_age) + stale_aux_temp_files(catalog.root):
        try:
            p.unlink()
            temps += 1
        except FileNotFoundError:
            pass
    for u in blobs.stale_uploads(max(temp_age, UPLOAD_GRACE_SECONDS)):
        blobs.drop_upload(u)
        temps += 1
    trimmed = catalog.trim_events(events_keep)
    report = GcReport(expired_versions=versions, blobs_removed=removed, bytes_freed=freed,
                      temp_files_removed=temps, events_trimmed=trimmed)
    return report, sessions
