"""A long-document corpus: man-page-sized documents (5-50 KB of prose each) from text that
installs with the project, never written or edited here.

Three sources, all read from this machine's own installation:

- ``stdlib``: one page per standard-library module (and submodule): the module's docstring,
  then each public function's and class's own docstring (and its methods') under a Markdown
  heading, in name order. What ``pydoc`` shows, as a ``.md`` file.
- ``packages``: installed distributions' long descriptions (all but this project's own) (the README shipped in the wheel),
  kept as ``.md``, ``.rst`` or ``.txt`` by their declared content type.
- ``reference``: the same module pages for the project's core dependencies (click, pandas and
  the numpy it brings), and one page per public function, class or method of pandas and numpy
  whose own docstring is 5 KB or more (numpydoc reference pages, ``.txt``).

Rules, the same for every document: at least :data:`MIN_BYTES` of UTF-8, cut at the last
paragraph break before :data:`MAX_BYTES`; a text that repeats another's is dropped. The pool is
ordered by the sha256 of each document's name and the first ``count`` are taken, so a smaller
set is a subset of a larger one and the same installation gives the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import inspect
import pkgutil
import re
import sys
import warnings
from pathlib import Path

from .known_item import _SKIP_MODULES, _clean_name

__all__ = ["MAX_BYTES", "MIN_BYTES", "build_long_docs", "write_long_docs"]

MIN_BYTES = 5 * 1024
MAX_BYTES = 50 * 1024
_SKIP_PARTS = re.compile(r"^(_|tests?$|testing$|conftest|distutils$|f2py$)")
_OWN_DISTRIBUTION = "notebook-artifacts"  # our own README is not outside text
#: the project's core dependencies, whose module pages join the reference source
_REFERENCE_PACKAGES = ("click", "numpy", "pandas")


def _own_doc(obj) -> str:
    """The object's own docstring (not one inherited from a base class), cleaned."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else ""


def _import(name: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - platform-specific or side-effecting modules
        return None


def _module_page(modname: str, mod) -> str:
    parts = [f"# {modname}", _own_doc(mod)]
    for attr, obj in sorted(vars(mod).items()):
        if attr.startswith("_") or getattr(obj, "__module__", None) != modname:
            continue
        if not (inspect.isroutine(obj) or inspect.isclass(obj)):
            continue
        doc = _own_doc(obj)
        if doc:
            parts += [f"## {attr}", doc]
        if inspect.isclass(obj):
            for meth, fn in sorted(vars(obj).items()):
                mdoc = "" if meth.startswith("_") or not callable(fn) else _own_doc(fn)
                if mdoc:
                    parts += [f"### {attr}.{meth}", mdoc]
    return "\n\n".join(p for p in parts if p) + "\n"


def _module_pages(names, prefix: str) -> dict[str, str]:
    """``<prefix>-<module>.md`` pages for the modules ``names`` and their public submodules."""
    out: dict[str, str] = {}
    for name in names:
        mod = _import(name)
        if mod is None:
            continue
        found = [(name, mod)]
        if hasattr(mod, "__path__"):
            for info in sorted(pkgutil.walk_packages(mod.__path__, name + ".",
                                                     onerror=lambda _n: None),
                               key=lambda i: i.name):
                if any(_SKIP_PARTS.match(p) for p in info.name.split(".")[1:]):
                    continue
                sub = _import(info.name)
                if sub is not None:
                    found.append((info.name, sub))
        for modname, m in found:
            out[f"{prefix}-{modname}.md"] = _module_page(modname, m)
    return out


def _stdlib_pages() -> dict[str, str]:
    return _module_pages(sorted(n for n in getattr(sys, "stdlib_module_names", ())
                                if not _SKIP_MODULES.match(n)), "stdlib")


def _package_pages() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in sorted(md.distributions(), key=lambda d: (d.metadata.get("Name") or "").lower()):
        meta = dist.metadata
        name = (meta.get("Name") or "").strip()
        body = (meta.get_payload() or meta.get("Description") or "").strip()
        if not name or not body or name.lower() == _OWN_DISTRIBUTION:
            continue
        kind = (meta.get("Description-Content-Type") or "").lower()
        ext = ".md" if "markdown" in kind else ".rst" if "rst" in kind else ".txt"
        key = re.sub(r"[-_.]+", "-", name.lower())
        out.setdefault(f"pkg-{_clean_name(key)}{ext}", body + "\n")
    return out


def _reference_pages() -> dict[str, str]:
    out = _module_pages(_REFERENCE_PACKAGES, "ref")
    for modname in ("pandas", "numpy"):
        mod = _import(modname)
        if mod is None:
            continue
        spaces = [(modname, mod)] + [(f"{modname}.{a}", o) for a, o in sorted(vars(mod).items())
                                     if inspect.isclass(o) and not a.startswith("_")]
        for prefix, ns in spaces:
            for attr, obj in sorted(vars(ns).items()):
                if attr.startswith("_") or not (inspect.isroutine(obj) or inspect.isclass(obj)
                                                or isinstance(obj, property)
                                                or type(obj).__name__ == "ufunc"):
                    continue
                doc = _own_doc(obj)
                if len(doc.encode()) >= MIN_BYTES:
                    out.setdefault(f"ref-{_clean_name(prefix + '.' + attr)}.txt",
                                   f"{prefix}.{attr}\n\n{doc}\n")
    return out


def _cut(text: str) -> str:
    """``text`` cut at the last paragraph break that keeps it under MAX_BYTES."""
    data = text.encode("utf-8")
    if len(data) <= MAX_BYTES:
        return text
    head = data[:MAX_BYTES].decode("utf-8", errors="ignore")
    brk = head.rfind("\n\n")
    return (head[:brk] if brk > MIN_BYTES else head).rstrip() + "\n"


def build_long_docs(count: int | None = 300, *, smallest: bool = False) -> dict[str, str]:
    """``file name -> text`` of up to ``count`` long documents (None: the whole pool);
    ``smallest``: the ``count`` shortest instead of a sample (a smoke test's few)."""
    pool: dict[str, str] = {}
    seen: set[str] = set()
    for source in (_stdlib_pages(), _package_pages(), _reference_pages()):
        for name, text in sorted(source.items()):
            text = _cut(text)
            digest = hashlib.sha256(text.encode()).hexdigest()
            if len(text.encode("utf-8")) < MIN_BYTES or digest in seen or name in pool:
                continue
            seen.add(digest)
            pool[name] = text
    if smallest:
        names = sorted(pool, key=lambda n: (len(pool[n].encode("utf-8")), n))[:count]
    else:
        names = sorted(pool, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:count]
    return {n: pool[n] for n in sorted(names)}


def write_long_docs(folder: Path, count: int | None = 300, *, smallest: bool = False
                    ) -> list[Path]:
    """Write :func:`build_long_docs` into ``folder`` (created); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in build_long_docs(count, smallest=smallest).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m benchmarks.long_docs: what the pool holds
    docs = build_long_docs(None)
    sizes = sorted(len(t.encode()) for t in docs.values())
    by_source: dict[str, int] = {}
    for n in docs:
        by_source[n.split("-", 1)[0]] = by_source.get(n.split("-", 1)[0], 0) + 1
    print(f"{len(docs)} documents, {sum(sizes) / 1024:.0f} KB, median {sizes[len(sizes) // 2] / 1024:.1f} KB,"
          f" by source {by_source}")
