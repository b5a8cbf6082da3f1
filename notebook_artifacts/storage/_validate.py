"""Validation of caller input: names, namespaces, session ids, tags, metadata, paging.

Every check raises :class:`InvalidInputError` with a message that says what is allowed, and
runs before anything is written.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "MAX_NAME_LENGTH",
    "validate_name",
    "validate_namespace",
    "validate_session_id",
    "validate_tags",
    "validate_metadata",
    "validate_version",
    "validate_limit",
    "validate_optional_text",
    "split_csv",
]

MAX_NAME_LENGTH = 512
MAX_NAMESPACE_LENGTH = 256
MAX_TAG_LENGTH = 128
MAX_TAGS = 64

_SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}\Z")
_NS_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")  # not encodable as UTF-8: SQLite would fail
#: Bidirectional controls (LRM, RLM, ALM, embeddings, overrides, isolates): they make a name
#: display differently from what it is ("lead\u202eevil.txt" shows as "leadtxt.live").
_BIDI_RE = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")

NAME_RULE = (
    "a name is 1-512 characters with no NUL, control or bidirectional-control characters, "
    "no leading '/', and no empty, '.' or '..' path segments (segments are separated by '/' "
    "or '\\'); it is stored in Unicode NFC form"
)
NAMESPACE_RULE = (
    "a namespace is one or more '/'-separated segments of letters, digits and '_.@+-' "
    "(not '.' or '..'), at most 256 characters, e.g. 'default', 'myapp/user123' or 'org/ws/ns'"
)
SESSION_RULE = "a session id is 1-128 letters, digits, '_' or '-'"
TAG_RULE = "a tag is 1-128 characters with no control characters (a ',' separates tags)"


def validate_name(name: Any) -> str:
    """Return ``name`` in Unicode NFC form (the stored form: "cafe\u0301" and "caf\u00e9"
    are one name) if it is a valid artifact name, else raise InvalidInputError."""
    if not isinstance(name, str):
        raise InvalidInputError(f"invalid name {name!r}: expected a string; {NAME_RULE}")
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"invalid name of length {len(name)}: {NAME_RULE}")
    if _CONTROL_RE.search(name):
        raise InvalidInputError(f"invalid name {name!r}: it contains a control character; {NAME_RULE}")
    if _SURROGATE_RE.search(name):
        raise InvalidInputError(f"invalid name {name!r}: it is not valid Unicode (a lone surrogate); {NAME_RULE}")
    if _BIDI_RE.search(name):
        raise InvalidInputError(
            f"invalid name {name!r}: it contains a bidirectional control character (U+200E/F, "
            f"U+061C, U+202A-E, U+2066-9), which disguises how the name reads; remove it. {NAME_RULE}")
    name = unicodedata.normalize("NFC", name)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"invalid name of length {len(name)}: {NAME_RULE}")
    if name.startswith("/") or name.startswith("\\"):
        raise InvalidInputError(f"invalid name {name!r}: it starts with a separator; {NAME_RULE}")
    for segment in re.split(r"[/\\]", name):
        if segment in ("", ".", ".."):
            raise InvalidInputError(f"invalid name {name!r}: segment {segment!r}; {NAME_RULE}")
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        raise InvalidInputError(f"invalid name {name!r}: it looks like a drive path; {NAME_RULE}")
    return name


def validate_namespace(namespace: Any) -> str:
    """Return a valid namespace path (``None`` is not accepted here)."""
    if not isinstance(namespace, str) or not namespace or len(namespace) > MAX_NAMESPACE_LENGTH:
        raise InvalidInputError(f"invalid namespace {namespace!r}: {NAMESPACE_RULE}")
    for segment in namespace.split("/"):
        if segment in (".", "..") or not _NS_SEGMENT_RE.match(segment):
            raise InvalidInputError(f"invalid namespace {namespace!r}: {NAMESPACE_RULE}")
    return namespace


def validate_session_id(session_id: Any) -> str | None:
    """Return ``session_id`` (or ``None``) if it matches ``^[A-Za-z0-9_-]{1,128}$``."""
    if session_id is None:
        return None
    if not isinstance(session_id, str) or not _SESSION_RE.match(session_id):
        raise InvalidInputError(f"invalid session id {session_id!r}: {SESSION_RULE}")
    return session_id


def split_csv(value: Any) -> list[str] | None:
    """``None`` -> None; ``"a,b"`` -> ["a", "b"]; an iterable of str -> list (each split too)."""
    if value is None:
        return None
    if isinstance(value, str):
        items: Iterable[Any] = [value]
    else:
        items = value
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"expected strings, got {item!r}")
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return out


def validate_tags(tags: Any) -> list[str]:
    """Tags as a de-duplicated list in first-seen order, stripped.

    Every item is split on commas ("a,b" -> "a", "b"; empty parts are dropped).
    """
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    try:
        items = list(tags)
    except TypeError:
        raise InvalidInputError(f"invalid tags {tags!r}: give a list of strings; {TAG_RULE}") from None
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInputError(f"invalid tag {item!r}: {TAG_RULE}")
        parts = [p.strip() for p in item.split(",") if p.strip()] if "," in item else [item.strip()]
        for tag in parts:
            _check_tag(tag, out)
    if len(out) > MAX_TAGS:
        raise InvalidInputError(f"too many tags ({len(out)}): at most {MAX_TAGS} per artifact")
    return out


def _check_tag(tag: str, out: list[str]) -> None:
    if not tag or len(tag) > MAX_TAG_LENGTH or _CONTROL_RE.search(tag) or _SURROGATE_RE.search(tag):
        raise InvalidInputError(f"invalid tag {tag!r}: {TAG_RULE}")
    if tag not in out:
        out.append(tag)


def validate_metadata(metadata: Any) -> dict[str, Any]:
    """A dict with string keys whose values are JSON data (no NaN/Infinity), at most 64 KiB."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError(
            f"invalid metadata of type {type(metadata).__name__}: give a dict of JSON values"
        )
    for key in metadata:
        if not isinstance(key, str):
            raise InvalidInputError(f"invalid metadata key {key!r}: keys must be strings")
    try:
        text = json.dumps(metadata, allow_nan=False)
    except RecursionError:
        raise InvalidInputError("invalid metadata: nested too deeply to encode as JSON") from None
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"invalid metadata: {exc}; values must be JSON data (str, number, bool, None, list, dict)"
        ) from None
    if len(text) > 65536:
        raise InvalidInputError("invalid metadata: more than 64 KiB once encoded as JSON")
    if "\\ud" in text and _SURROGATE_RE.search(json.dumps(metadata, ensure_ascii=False)):
        raise InvalidInputError("invalid metadata: a key or value is not valid Unicode (a lone surrogate)")
    return json.loads(text)


def validate_version(version: Any) -> int | None:
    """``None`` or a positive int (a numeric string is accepted)."""
    if version is None:
        return None
    if isinstance(version, bool):
        raise InvalidInputError(f"invalid version {version!r}: give a positive integer")
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version.strip())
    if isinstance(version, float) and math.isfinite(version) and version.is_integer():
        version = int(version)
    if not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"invalid version {version!r}: versions are integers counting from 1")
    return version


def validate_limit(limit: Any, low: int, high: int, what: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not low <= limit <= high:
        raise InvalidInputError(f"invalid {what} {limit!r}: give an integer from {low} to {high}")
    return limit


def validate_optional_text(value: Any, what: str, max_length: int = 65536) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or len(value) > max_length or "\x00" in value
            or _SURROGATE_RE.search(value)):
        raise InvalidInputError(
            f"invalid {what} {str(value)[:40]!r}: give a string of at most {max_length} characters, "
            "with no NUL character and no lone surrogate"
        )
    return value
