"""Exceptions raised by the public API. Every message says what went wrong and what to do."""

from __future__ import annotations

import errno as _errno
import sqlite3 as _sqlite3

__all__ = [
    "ArtifactError",
    "InvalidInputError",
    "NotFoundError",
    "NoSuchFileError",
    "IntegrityError",
    "IndexUnavailableError",
    "AccessDeniedError",
    "ReadOnlyError",
    "AdminOnlyError",
    "ConnectionLostError",
    "CatalogUnavailableError",
    "StorageFullError",
    "ServerStartError",
    "is_disk_full",
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
        FileNotFoundError.__init__(self, _errno.ENOENT, message, path)

    def __str__(self) -> str:
        return str(self.strerror)


class IntegrityError(ArtifactError):
    """Stored content does not match its digest, or a blob is missing (run `fsck`)."""


class IndexUnavailableError(ArtifactError):
    """The semantic index cannot run here (extra not installed, model missing)."""


class AccessDeniedError(ArtifactError, PermissionError):
    """A served store refused the token (missing, invalid, expired, revoked or read-only)."""


class ReadOnlyError(AccessDeniedError):
    """The token may read this store but not change it."""


class AdminOnlyError(AccessDeniedError):
    """Only the server's own (admin) token may do this (gc, fsck, reindexing everything)."""


class ConnectionLostError(ArtifactError, ConnectionError):
    """The connection to a served store failed or dropped; the message says whether the call
    may have taken effect."""


class CatalogUnavailableError(ArtifactError, ConnectionError):
    """The shared catalog (PostgreSQL) cannot be reached; nothing was written. Retry later."""


class StorageFullError(ArtifactError, OSError):
    """The disk (or quota) is full: nothing was stored. Free space (``delete``, ``gc``) and retry.

    An ``OSError`` with ``errno`` ENOSPC, so ``except OSError`` handlers keep working."""

    def __init__(self, message: str) -> None:
        super().__init__(_errno.ENOSPC, message)

    def __str__(self) -> str:
        return str(self.strerror)


class ServerStartError(ArtifactError, RuntimeError):
    """The HTTP server could not start (the message says why: port taken, bad settings)."""


def is_disk_full(exc: BaseException) -> bool:
    """True for ENOSPC / EDQUOT and SQLite's 'database or disk is full'."""
    if isinstance(exc, OSError) and exc.errno in (_errno.ENOSPC, getattr(_errno, "EDQUOT", _errno.ENOSPC)):
        return True
    return isinstance(exc, _sqlite3.OperationalError) and "disk is full" in str(exc)
