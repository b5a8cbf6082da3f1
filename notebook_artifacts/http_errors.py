"""The one table between HTTP answers and the exception classes of :mod:`notebook_artifacts.errors`.

The server answers an error raised by the store with its status and ``{"detail": message,
"error": code}``; a :class:`~notebook_artifacts.remote.RemoteStore` turns the answer back into
the same exception class with the server's message. Answers without a code (401, 403, 413,
422 from the HTTP layer) map by status alone.
"""

from __future__ import annotations

from typing import Any

from .errors import (
    AccessDeniedError,
    AdminOnlyError,
    ArtifactError,
    CatalogUnavailableError,
    IndexUnavailableError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    ReadOnlyError,
    StorageFullError,
    is_disk_full,
)

__all__ = ["ERROR_TABLE", "status_and_code", "exception_for"]

#: (HTTP status, error code, exception class); first match by (status, code), then by status.
ERROR_TABLE: tuple[tuple[int, str, type[ArtifactError]], ...] = (
    (400, "invalid_input", InvalidInputError),
    (404, "not_found", NotFoundError),
    (500, "integrity", IntegrityError),
    (503, "index_unavailable", IndexUnavailableError),
    (503, "catalog_unavailable", CatalogUnavailableError),
    (507, "storage_full", StorageFullError),
    (401, "unauthorized", AccessDeniedError),
    (403, "read_only", ReadOnlyError),
    (403, "admin_only", AdminOnlyError),
    (403, "forbidden", AccessDeniedError),
    (413, "too_large", InvalidInputError),
    (416, "range", InvalidInputError),
    (422, "validation", InvalidInputError),
)


def status_and_code(exc: BaseException) -> tuple[int, str]:
    """The status and code the server answers ``exc`` with (most specific class first); a full
    disk (any ENOSPC, SQLite's "disk is full") is 507 whatever raised it."""
    if is_disk_full(exc) and not isinstance(exc, ArtifactError):
        return 507, "storage_full"
    for status, code, cls in ERROR_TABLE:
        if type(exc) is cls:
            return status, code
    for status, code, cls in ERROR_TABLE:
        if isinstance(exc, cls):
            return status, code
    return 500, "error"


def exception_for(status: int, code: str | None, detail: Any) -> ArtifactError:
    """The exception a client raises for an error answer (``ArtifactError`` when unmapped)."""
    message = _message(detail) or f"the server answered HTTP {status}"
    by_status = None
    for st, c, cls in ERROR_TABLE:
        if st == status and code == c:
            return cls(message)
        if st == status and by_status is None:
            by_status = cls
    return (by_status or ArtifactError)(message)


def _message(detail: Any) -> str:
    """A readable message from FastAPI's ``detail`` (a string, or a list of field errors)."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", ()) if x not in ("body", "query"))
                parts.append(f"{loc}: {d.get('msg', '')}" if loc else str(d.get("msg", "")))
            else:
                parts.append(str(d))
        return "; ".join(parts)
    return "" if detail is None else str(detail)
