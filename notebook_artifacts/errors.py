"""Exceptions raised by the public API. Every message says what went wrong and what to do."""

from __future__ import annotations

__all__ = [
    "ArtifactError",
    "InvalidInputError",
    "NotFoundError",
    "IntegrityError",
    "IndexUnavailableError",
    "AccessDeniedError",
    "ReadOnlyError",
    "AdminOnlyError",
    "ConnectionLostError",
    "CatalogUnavailableError",
]


class ArtifactError(Exception):
    """Base class of every error notebook-artifacts raises on purpose."""


class InvalidInputError(ArtifactError, ValueError):
    """A caller's argument was rejected; nothing was written."""


class NotFoundError(ArtifactError, LookupError):
    """No artifact, version, session or source matches the reference."""

    def __str__(self) -> str:  # LookupError would repr() a single argument
        return str(self.args[0]) if self.args else "not found"


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
