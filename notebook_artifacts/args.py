"""The argument grammar every face shares: comma lists, ``KEY=VALUE`` metadata, tag changes.

The CLI, the ``%artifact`` magics and the widgets parse what people type with these functions
only, so ``--tags a,b``, ``--meta runs=3`` and ``+final -draft`` mean the same everywhere.
Mistakes raise :class:`~notebook_artifacts.errors.InvalidInputError` (a ``ValueError``) with a
message that says what to type instead.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any

from .errors import InvalidInputError

__all__ = ["split_list", "parse_meta", "parse_tag_changes", "TagChanges"]


def split_list(values: str | Iterable[str] | None) -> list[str]:
    """``"a, b"`` or ``["a,b", "c"]`` -> ``["a", "b", "c"]`` (blanks dropped, order kept)."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def parse_meta(pairs: Iterable[str] | None, option: str = "--meta") -> dict[str, Any] | None:
    """``["runs=3", "owner=ana"]`` -> ``{"runs": 3, "owner": "ana"}``; None when no pairs.

    A value that is JSON (a number, ``true``, a quoted string, a list, an object) is decoded;
    anything else is kept as text. The key is everything before the first ``=``.
    """
    items = list(pairs or ())
    if not items:
        return None
    meta: dict[str, Any] = {}
    for pair in items:
        key, sep, value = str(pair).partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(f"{option} {pair!r}: use KEY=VALUE, e.g. {option} runs=3")
        try:
            meta[key] = json.loads(value)
        except ValueError:
            meta[key] = value
    return meta


class TagChanges:
    """What :func:`parse_tag_changes` read: tags to add and remove, and the options given."""

    def __init__(self) -> None:
        self.add: list[str] = []
        self.remove: list[str] = []
        self.options: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"TagChanges(add={self.add}, remove={self.remove}, options={self.options})"


def parse_tag_changes(
    tokens: Iterable[str],
    value_options: Collection[str] = (),
    flags: Collection[str] = (),
) -> TagChanges:
    """``["+final", "draft2", "-draft", "--namespace", "proj"]``: ``+TAG`` or ``TAG`` adds,
    ``-TAG`` removes. Options and tags may come in any order: each of ``value_options``
    (``--namespace``, or ``--namespace=proj``) takes a value, each of ``flags`` is set to True.
    Any other ``--option`` is refused (it is not a tag to remove); ``--`` ends the options.
    """
    changes = TagChanges()
    items = list(tokens)
    options_done = False
    while items:
        item = items.pop(0)
        if not options_done and item == "--":
            options_done = True
            continue
        name, eq, inline = item.partition("=")
        if not options_done and (item.startswith("--") or name in value_options or item in flags):
            if name in flags and not eq:
                changes.options[name] = True
            elif name in value_options:
                if eq:
                    changes.options[name] = inline
                elif not items:
                    raise InvalidInputError(f"{name} needs a value")
                else:
                    changes.options[name] = items.pop(0)
            else:
                known = ", ".join(sorted({*value_options, *flags})) or "none"
                raise InvalidInputError(
                    f"unknown option {name!r} (options: {known}); to remove a tag starting "
                    f"with '-', put it after --")
        elif item.startswith("-"):
            changes.remove.append(item[1:])
        else:
            changes.add.append(item[1:] if item.startswith("+") else item)
    bad = [t for t in changes.add + changes.remove if not t]
    if bad:
        raise InvalidInputError("a lone '+' or '-' is not a tag: write +TAG to add, -TAG to remove")
    return changes
