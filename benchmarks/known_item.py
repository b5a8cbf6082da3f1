"""A known-item evaluation set built from text nobody here wrote: what installs with the project.

Two sources, both read from this machine's own installation, never edited by hand:

- **Installed packages' metadata** (``importlib.metadata``): each distribution's one-line
  ``Summary`` is a query; its long description (the README shipped in the wheel) is the one
  relevant document, named ``pkg-<name>.<md|rst|txt>``.
- **Standard-library docstrings** (``inspect.getdoc``): for public functions and classes of
  stdlib modules, the docstring's first paragraph is a query and the rest of the docstring is
  the one relevant document, named ``py-<module>.<name>.txt``. A deterministic sample (by
  sha256 of the name) keeps the set bounded.

Rules, applied to every item alike: the query text is removed from its document wherever it
appears verbatim (a query copied from its answer would test nothing); documents are cut to
:data:`DOC_CHARS` characters (the run stays a few minutes on 2 cores); a query that is not
unique (two packages with the same summary) is dropped; a query needs at least three words.
Queries are split into two halves by the sha256 of their id: ``tune`` (for choosing
parameters) and ``test`` (for reporting).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import inspect
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DOC_CHARS", "KnownItemSet", "build_known_item_set"]

DOC_CHARS = 1200
STDLIB_ITEMS = 300
MIN_DOC_CHARS = 200
_SKIP_MODULES = re.compile(
    r"^(_|test|idlelib|tkinter|turtle|lib2to3|ensurepip|pydoc_data|antigravity|this$|"
    r"msilib|winreg|winsound|nt$|_msi|xxsubtype|sre_|distutils|__)")


@dataclass
class KnownItemSet:
    """``docs``: file name -> text; ``queries``: id -> text; ``qrels``: id -> {doc: 1}."""

    docs: dict[str, str] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)  # query id -> "packages" | "stdlib"

    def half(self, which: str) -> list[str]:
        """Query ids of the ``tune`` or ``test`` half (by the sha256 of the id)."""
        want = 0 if which == "tune" else 1
        return [q for q in self.queries if hashlib.sha256(q.encode()).digest()[0] % 2 == want]

    def write(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, text in self.docs.items():
            p = folder / name
            p.write_text(text, encoding="utf-8")
            paths.append(p)
        return paths


def _clean_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "x"


def _without(text: str, query: str) -> str:
    return text.replace(query, " ").strip() if query else text


def _package_items() -> list[tuple[str, str, str]]:
    """``(doc name, query, document)`` for installed distributions, sorted by name."""
    seen: dict[str, tuple[str, str, str]] = {}
    for dist in md.distributions():
        meta = dist.metadata
        name = (meta.get("Name") or "").strip()
        summary = " ".join((meta.get("Summary") or "").split())
        body = meta.get_payload() or meta.get("Description") or ""
        if not name or not summary or summary.upper() == "UNKNOWN":
            continue
        key = re.sub(r"[-_.]+", "-", name.lower())
        if key in seen:
            continue
        kind = (meta.get("Description-Content-Type") or "").lower()
        ext = ".md" if "markdown" in kind else ".rst" if "rst" in kind else ".txt"
        doc = _without(body.strip(), summary)[:DOC_CHARS]
        if len(doc) >= MIN_DOC_CHARS:
            seen[key] = (f"pkg-{_clean_name(key)}{ext}", summary, doc)
    return [seen[k] for k in sorted(seen)]


def _stdlib_items() -> list[tuple[str, str, str]]:
    """``(doc name, query, document)`` from stdlib docstrings, a deterministic sample."""
    out = []
    names = sorted(n for n in getattr(sys, "stdlib_module_names", ()) if not _SKIP_MODULES.match(n))
    for modname in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = importlib.import_module(modname)
        except BaseException:  # noqa: BLE001 - platform-specific or side-effecting modules
            continue
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if getattr(obj, "__module__", None) != modname:
                continue
            doc = inspect.getdoc(obj) or ""
            first, _, rest = doc.partition("\n\n")
            query = " ".join(first.split())
            rest = _without(rest.strip(), query)[:DOC_CHARS]
            if len(query.split()) < 3 or len(rest) < MIN_DOC_CHARS:
                continue
            out.append((f"py-{modname}.{attr}.txt", query, rest))
    out.sort(key=lambda item: hashlib.sha256(item[0].encode()).hexdigest())
    return out[:STDLIB_ITEMS]


def build_known_item_set() -> KnownItemSet:
    """The set for this installation (the same packages give the same set)."""
    items = [("packages", *i) for i in _package_items()] + \
            [("stdlib", *i) for i in _stdlib_items()]
    counts: dict[str, int] = {}
    for _, _, query, _ in items:
        counts[query.lower()] = counts.get(query.lower(), 0) + 1
    out = KnownItemSet()
    for source, name, query, doc in items:
        if name in out.docs:
            continue
        out.docs[name] = doc  # every document stays in the corpus (a distractor at least)
        if counts[query.lower()] == 1 and len(query.split()) >= 3:
            qid = f"q-{name}"
            out.queries[qid] = query
            out.qrels[qid] = {name: 1}
            out.source[qid] = source
    return out
