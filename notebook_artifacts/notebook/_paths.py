"""Files on the kernel's machine: glob expansion (names come from ``store.name_for_path``)."""

from __future__ import annotations

import glob
import os

__all__ = ["glob_paths"]


def glob_paths(pattern: str) -> list[str]:
    """Sorted matches of ``pattern`` (``~`` expanded, ``**`` recursive), folders included."""
    return sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
