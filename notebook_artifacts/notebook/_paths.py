"""Files on the kernel's machine: glob expansion and the artifact name a path is stored under."""

from __future__ import annotations

import glob
import os
from pathlib import Path

__all__ = ["glob_paths", "name_for_path"]


def glob_paths(pattern: str) -> list[str]:
    """Sorted matches of ``pattern`` (``~`` expanded, ``**`` recursive), folders included."""
    return sorted(glob.glob(os.path.expanduser(pattern), recursive=True))


def name_for_path(path: str) -> str:
    """The path relative to the working directory, or its base name when it lies outside."""
    name = os.path.relpath(path)
    if os.path.isabs(path) or name.startswith(".."):
        name = os.path.basename(path)
    return Path(name).as_posix()
