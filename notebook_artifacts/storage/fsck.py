"""Consistency check of a store: catalog integrity, blobs against the catalog, temp files,
session manifests. ``repair=True`` fixes only what is safe to fix."""

from __future__ import annotations

import json
from pathlib import Path

from ..models import FsckReport, Problem
from .blobs import Blobs
from .catalog import Catalog
from .sessions import manifest_path, stale_aux_temp_files, write_manifest

__all__ = ["check", "TEMP_GRACE_SECONDS", "UPLOAD_GRACE_SECONDS"]

#: a temp file counts as left over when no live writer holds its lock and it is older than this
TEMP_GRACE_SECONDS = 0.0
#: an unfinished object-storage upload counts as left over after this long (no lock tells
#: whether its writer, maybe on another machine, still lives)
UPLOAD_GRACE_SECONDS = 6 * 3600.0


def check(root: Path, catalog: Catalog, blobs: Blobs, *, repair: bool = False,
          verify_content: bool = True) -> FsckReport:
    problems: list[Problem] = []

    for message in catalog.integrity_problems():
        problems.append(Problem("catalog", message, path=catalog.location))

    rows = catalog.all_version_rows()
    verified: dict[str, bool] = {}
    for r in rows:
        sha = r["sha256"]
        if sha not in verified:
            if not blobs.exists(sha):
                verified[sha] = False
            else:
                verified[sha] = blobs.verify(sha) if verify_content else True
                if not verified[sha]:
                    problems.append(Problem(
                        "corrupt_blob", f"content of {sha[:12]}... no longer matches its digest",
                        path=blobs.location(sha), artifact_id=r["artifact_id"]))
                    continue
        if not blobs.exists(sha):
            problems.append(Problem(
                "missing_blob",
                f"{r['name']!r} ({r['artifact_id']}) references missing content {sha[:12]}...",
                path=blobs.location(sha), artifact_id=r["artifact_id"]))

    referenced = {r["sha256"] for r in rows} | catalog.referenced_digests()  # + promoted sources
    checked_blobs = 0
    orphans: list[str] = []
    for entry in blobs.iter_blobs():
        checked_blobs += 1
        if entry.digest is None:
            p = Problem("stray_file", "unexpected entry in the blob directory", path=entry.location)
            if repair and blobs.place(entry):
                p.repaired = True
            problems.append(p)
            continue
        if entry.digest not in referenced:
            orphans.append(entry.digest)
    if orphans:
        repaired: set[str] = set()
        if repair:
            catalog.remove_orphan_blobs(blobs, orphans)
            repaired = {d for d in orphans if not blobs.exists(d)}
        for d in orphans:
            problems.append(Problem("orphan_blob", "content no version references",
                                    path=blobs.location(d), repaired=d in repaired))

    for p in blobs.stale_temp_files(TEMP_GRACE_SECONDS) + stale_aux_temp_files(root):
        prob = Problem("temp_file", "leftover temp file of an interrupted write", path=str(p))
        if repair:
            p.unlink(missing_ok=True)
            prob.repaired = True
        problems.append(prob)
    for u in blobs.stale_uploads(UPLOAD_GRACE_SECONDS):
        prob = Problem("temp_file", "unfinished upload of an interrupted write", path=u.location)
        if repair:
            blobs.drop_upload(u)
            prob.repaired = True
        problems.append(prob)

    for s in catalog.sessions(None):
        ns, sid = s["namespace"], s["session_id"]
        mpath = manifest_path(root, ns, sid)
        if catalog.shared and not mpath.exists():
            continue  # this machine has no copy yet (written when read: ArtifactStore.manifest)
        want = {r["artifact_id"] for r in catalog.session_rows(ns, sid)}
        try:
            doc = json.loads(mpath.read_text(encoding="utf-8"))
            have = {e["artifact_id"] for e in doc.get("attachments", [])}
            # on a shared catalog this machine's copy may lag behind another machine's writes
            # (it is rebuilt when read): only a copy claiming to be current must match
            lagging = catalog.shared and doc.get("generation") != catalog.manifest_generation(ns, sid)
        except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
            have, lagging = None, False
        if have != want and not lagging:
            prob = Problem("manifest", f"manifest of session {sid!r} ({ns}) is out of date",
                           path=str(mpath))
            if repair:
                write_manifest(root, catalog, ns, sid, blobs, force=True)
                prob.repaired = True
            problems.append(prob)

    ok = all(p.repaired for p in problems)
    return FsckReport(ok=ok, problems=problems, checked_versions=len(rows),
                      checked_blobs=checked_blobs)
