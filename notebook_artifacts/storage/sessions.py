"""Per-session attachment manifests (seed 001) and the auto-clean switch.

Each session has ``<root>/sessions/<quoted namespace>/<session_id>/attachments_manifest.json``
listing its live artifact versions with the seed's fields (``attachment_id, name, mime_type,
size, sha256, source, workspace_path, storage``) plus ``artifact_id``, ``version``,
``is_latest`` and ``created_at``. It is rebuilt from the catalog and replaced atomically
(temp file, fsync, rename) under a file lock, so concurrent writers leave the newest state.
The catalog counts changes per session (``manifest_gen``, bumped by triggers in the same
transaction as the change) and records what the file reflects (``synced_gen``); a store
opening the root rewrites any manifest a killed writer left behind. A writer whose change a
manifest written meanwhile already reflects does not write it again: many concurrent puts
into one session (a server taking uploads) share one rewrite instead of queueing for one
each. (Not on a shared catalog: its counters are shared, the copies are per machine.)

On a shared catalog each machine keeps its own copy under its own ``root``: the file records
the ``generation`` it reflects, and :meth:`ArtifactStore.manifest` rebuilds a copy that
another machine's writes left behind. ``storage`` is where the content is: the path under
``root`` for local blobs, the object's URL (``s3://bucket/prefix/sha256/..``) otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .blobs import Blobs, BlobStore
from .catalog import Catalog
from .export import workspace_arcname
from .ttl import iso_utc

__all__ = ["MANIFEST_NAME", "manifest_path", "write_manifest", "read_manifest",
           "auto_clean_enabled", "stale_aux_temp_files"]

MANIFEST_NAME = "attachments_manifest.json"
AUTO_CLEAN_VARS = ("NOTEBOOK_ARTIFACTS_AUTO_CLEAN", "MAC_AUTO_CLEAN_ATTACHMENTS")


def auto_clean_enabled() -> bool:
    """True when ``NOTEBOOK_ARTIFACTS_AUTO_CLEAN`` or ``MAC_AUTO_CLEAN_ATTACHMENTS`` is truthy."""
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in AUTO_CLEAN_VARS
    )


def session_dir(root: Path, namespace: str, session_id: str) -> Path:
    return Path(root) / "sessions" / quote(namespace, safe="") / session_id


def manifest_path(root: Path, namespace: str, session_id: str) -> Path:
    return session_dir(root, namespace, session_id) / MANIFEST_NAME


def _storage(blobs: Blobs | None) -> Any:
    """``sha256 -> storage`` field: relative to ``root`` on local files, else the URL."""
    if blobs is None or isinstance(blobs, BlobStore):
        return lambda sha: f"blobs/sha256/{sha[:2]}/{sha}"
    return blobs.location


def _entry(r: Any, storage: Any) -> dict[str, Any]:
    aid = r["artifact_id"]
    sha = r["sha256"]
    return {
        "attachment_id": "att_" + aid.split("_", 1)[1],
        "artifact_id": aid,
        "name": r["name"],
        "version": r["version"],
        "is_latest": bool(r["is_latest"]),
        "mime_type": r["mime_type"],
        "size": r["size_bytes"],
        "sha256": sha,
        "source": r["source"] or "python",
        "workspace_path": r["workspace_path"] or (
            workspace_arcname(r["name"], r["source"]) if r["source"] == "upload" else None),
        "storage": storage(sha),
        "created_at": r["created_at"],
    }


def write_manifest(root: Path, catalog: Catalog, namespace: str, session_id: str,
                   blobs: Blobs | None = None, *, force: bool = False) -> Path:
    """Rebuild one session's manifest from the catalog and replace the file atomically, unless
    (on a catalog of this machine, and not ``force``: a repair) a manifest written since this
    call began already reflects every change committed before it. ``blobs``: where the
    content lives, for the ``storage`` field; None: under ``root``."""
    path = manifest_path(root, namespace, session_id)
    want, synced = catalog.manifest_gens(namespace, session_id)  # every change committed so far
    # a shared catalog's counters say nothing of this machine's copy; a repair trusts no file
    mine = not catalog.shared and not force
    if mine and synced >= want and path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.parent / ".manifest.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if mine and catalog.manifest_gens(namespace, session_id)[1] >= want and path.exists():
                return path  # written by another writer while this one waited for the lock
            gen, rows, info = catalog.session_snapshot(namespace, session_id)
            storage = _storage(blobs)
            doc = {
                "session_id": session_id,
                "namespace": namespace,
                "closed_at": info.get("closed_at"),
                "updated_at": iso_utc(time.time()),
                "generation": gen,
                "attachments": [_entry(r, storage) for r in rows],
            }
            tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(_manifest_json(doc))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            catalog.mark_manifest_synced(namespace, session_id, gen)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return path


def _manifest_json(doc: dict[str, Any]) -> str:
    """The manifest as indented JSON with one attachment per line (C-speed: ``indent=`` would
    run json's pure-Python encoder, the bulk of a rewrite for a session of 1,000 files)."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in doc.items() if k != "attachments"]
    entries = ",\n".join(f"    {json.dumps(e)}" for e in doc["attachments"])
    attachments = f'  "attachments": [\n{entries}\n  ]' if entries else '  "attachments": []'
    return "{\n" + "\n".join(lines) + "\n" + attachments + "\n}\n"


def read_manifest(root: Path, namespace: str, session_id: str) -> dict[str, Any] | None:
    path = manifest_path(root, namespace, session_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_aux_temp_files(root: Path) -> list[Path]:
    """Temp files of manifest rewrites and zip exports whose writing process is gone.

    Both name their temp file ``.<name>.<pid>.tmp``.
    """
    out = []
    for base in (Path(root) / "sessions", Path(root) / "exports"):
        if not base.is_dir():
            continue
        for p in base.rglob(".*.tmp"):
            parts = p.name.rsplit(".", 2)
            if len(parts) == 3 and parts[1].isdigit() and not _pid_alive(int(parts[1])):
                out.append(p)
    return out
