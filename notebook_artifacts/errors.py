"""Exceptions raised by the public API. Every message says what went wrong and what to do."""

from __future__ import annotations

import errno

__all__ = [
    "ArtifactError",
    "InvalidInputError",
    "NotFoundError",
    "NoSuchFileError",
    "IntegrityError",
    "IndexUnavailableError",
]


class ArtifactError(Exception):
    """Base class of every error notebook-artifacts raises on purpose."""


class InvalidInputError(ArtifactError, ValueError):
    """A caller's argument was rejected; nothing was written."""


class NotFoundError(ArtifactError, LookupError):
    """No artifact, version, session or source matches the reference."""

    def __str__(self) -> str:  # LookupError would repr() a single argument
        return str(self.args[0]) if self.args else "not found"


class NoSuchFileError(NotFoundError, FileNotFoundError):
    """A path given to ``put`` (or ``register_file``) names no file. Both a
    :class:`NotFoundError` and a ``FileNotFoundError`` (``errno`` ENOENT, ``filename`` set)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        FileNotFoundError.__init__(self, errno.ENOENT, message, path)

    def __str__(self) -> str:
        return str(self.strerror)


class IntegrityError(ArtifactError):
    """Stored content does not match its digest, or a blob is missing (run `fsck`)."""


class IndexUnavailableError(ArtifactError):
    """The semantic index cannot run here (extra not installed, model missing)."""
