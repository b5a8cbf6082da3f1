"""``%artifact watch``: version every file a cell creates, changes or deletes.

After each cell (IPython's ``post_run_cell``), the watched folder is rescanned. New and
changed files are stored as new versions, deleted files (that this watcher versioned) are
deleted from the store. Each version records ``source_tool="notebook-cell"`` and
``source_step_id`` = the cell's execution count. Hidden folders and files, the store root,
``__pycache__``, notebooks and the download folder are left out; scans and hashing are capped.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..protocol import Store

__all__ = ["DirectoryWatcher", "WatchReport", "DEFAULT_EXCLUDE"]

#: Glob patterns (matched against each path part and the relative path) never versioned.
DEFAULT_EXCLUDE = ("*.ipynb", "__pycache__", "*.pyc", "*.part", "*.tmp", "*~", "artifact_downloads")

SOURCE_TOOL = "notebook-cell"


@dataclass
class WatchReport:
    """What one scan stored: names created, changed and deleted, and what it skipped."""

    step_id: str | None = None
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.changed or self.deleted)

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("new", self.created), ("changed", self.changed), ("deleted", self.deleted))
            if names
        ]
        return "artifact watch: " + "; ".join(parts)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


class DirectoryWatcher:
    """Rescans ``directory`` after each cell and mirrors changes into ``store``."""

    def __init__(
        self,
        store: Store,
        directory: str | os.PathLike[str] = ".",
        *,
        namespace: str = "default",
        session_id: str | None = None,
        exclude: tuple[str, ...] | list[str] = (),
        max_files: int = 10_000,
        max_file_bytes: int = 256 * 1024 * 1024,
        max_bytes_per_scan: int = 1024 * 1024 * 1024,
        verbose: bool = True,
    ) -> None:
        self.store = store
        self.directory = Path(directory).resolve()
        self.namespace = namespace
        self.session_id = session_id
        self.exclude = tuple(DEFAULT_EXCLUDE) + tuple(exclude)
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self.max_bytes_per_scan = max_bytes_per_scan
        self.verbose = verbose
        root = store.root  # None for a served store: nothing of it lives here
        self._store_root = Path(root).resolve() if root is not None else None
        self._state: dict[str, tuple[int, int]] = {}  # rel path -> (mtime_ns, size)
        self._digests: dict[str, str] = {}  # rel path -> sha256 of the version we stored
        self._versioned: set[str] = set()
        self._shell: Any = None
        self._warned_cap = False

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def file_count(self) -> int:
        return len(self._state)

    def start(self, shell: Any = None) -> None:
        """Take the baseline (existing files are not stored) and hook ``post_run_cell``."""
        self._state = self._scan()
        if shell is not None:
            self._shell = shell
            shell.events.register("post_run_cell", self._post_run_cell)

    def stop(self) -> None:
        if self._shell is not None:
            try:
                self._shell.events.unregister("post_run_cell", self._post_run_cell)
            except ValueError:
                pass
            self._shell = None

    def _post_run_cell(self, result: Any = None) -> None:
        count = getattr(result, "execution_count", None)
        if count is None and self._shell is not None:
            count = getattr(self._shell, "execution_count", None)
        try:
            report = self.check(step_id=None if count is None else str(count))
        except Exception as exc:  # never break the user's cell loop with a traceback
            print(f"artifact watch: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        if report and self.verbose:
            print(report.summary())  # a notice, not an error: normal output

    # -- scanning ----------------------------------------------------------------------------
    def _excluded(self, rel_parts: tuple[str, ...], rel: str) -> bool:
        for part in rel_parts:
            if part.startswith("."):
                return True
            if any(fnmatch.fnmatch(part, pat) for pat in self.exclude):
                return True
        return any(fnmatch.fnmatch(rel, pat) for pat in self.exclude)

    def _scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        base = self.directory
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            keep = []
            for d in sorted(dirnames):
                full = (here / d).resolve()
                rel_parts = full.relative_to(base).parts if full.is_relative_to(base) else (d,)
                if d.startswith(".") or self._excluded(rel_parts, "/".join(rel_parts)):
                    continue
                if self._store_root is not None and (full == self._store_root or full.is_relative_to(self._store_root)):
                    continue
                if (here / d).is_symlink():
                    continue
                keep.append(d)
            dirnames[:] = keep
            for name in sorted(filenames):
                path = here / name
                rel = path.relative_to(base).as_posix()
                if self._excluded(tuple(rel.split("/")), rel):
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                if not path.is_file():
                    continue
                if len(found) >= self.max_files:
                    if not self._warned_cap:
                        print(
                            f"artifact watch: more than {self.max_files} files under {base}; "
                            "only the first are watched (watch a smaller folder)"
                        )
                        self._warned_cap = True
                    return found
                found[rel] = (st.st_mtime_ns, st.st_size)
        return found

    def check(self, step_id: str | None = None) -> WatchReport:
        """Rescan now; store created and changed files, delete removed ones."""
        report = WatchReport(step_id=step_id)
        now = self._scan()
        budget = self.max_bytes_per_scan
        scope = {"namespace": self.namespace, "session_id": self.session_id}
        new_state = dict(self._state)
        changed: list[tuple[str, Path, str, bool, Any]] = []
        for rel, sig in now.items():
            old = self._state.get(rel)
            if old == sig:
                continue
            path = self.directory / rel
            size = sig[1]
            if size > self.max_file_bytes:
                if old is None or old[1] <= self.max_file_bytes:
                    report.skipped.append(rel)
                    print(
                        f"artifact watch: {rel} is {size} bytes, over the {self.max_file_bytes}-byte cap; "
                        f"store it with %artifact put {rel}"
                    )
                new_state[rel] = sig
                continue
            if size > budget:
                report.skipped.append(rel)  # retried after the next cell
                continue
            budget -= size
            known = self._digests.get(rel)
            try:
                digest = _sha256(path)
            except OSError:
                continue
            if known == digest:
                new_state[rel] = sig
                continue
            changed.append((rel, path, digest, old is None, sig))
        if changed:  # one transaction for all: stored together, or none (retried next time)
            arts = self.store.put_many([(path, rel) for rel, path, *_ in changed],
                                       source_tool=SOURCE_TOOL, source_step_id=step_id, **scope)
            for (rel, _, digest, created, sig), art in zip(changed, arts):
                self._digests[rel] = art.sha256 or digest
                self._versioned.add(rel)
                (report.created if created else report.changed).append(rel)
                new_state[rel] = sig
        for rel in list(self._state):
            if rel in now:
                continue
            new_state.pop(rel, None)
            self._digests.pop(rel, None)
            if rel in self._versioned:
                self._versioned.discard(rel)
                try:
                    self.store.delete(rel, **scope)
                except LookupError:
                    continue
                report.deleted.append(rel)
        self._state = new_state
        return report
