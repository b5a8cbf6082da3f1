"""What changed between two versions of an artifact (:meth:`ArtifactStore.diff`).

* Tables (CSV, TSV, Parquet): columns added and removed; rows added, removed and changed. Rows
  are matched by the first column when its values are unique in both versions (an id), else
  compared as whole rows.
* Text (anything that decodes as UTF-8, up to :data:`TEXT_LIMIT`): a unified diff.
* Anything else: sizes and SHA-256 hashes.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .reprs import CARD, MUTED, PRE, _STYLE, _e, format_size

__all__ = ["Diff", "compute_diff", "TEXT_LIMIT"]

TEXT_LIMIT = 8 * 1024 * 1024
MAX_DIFF_LINES = 2000
_TABLES = ("text/csv", "text/tab-separated-values", "application/vnd.apache.parquet")


@dataclass
class Diff:
    """The difference between version ``a`` and version ``b`` of ``name``."""

    name: str
    a: int
    b: int
    kind: str  # "text" | "table" | "binary"
    identical: bool
    size_a: int
    size_b: int
    sha256_a: str
    sha256_b: str
    unified: str = ""
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    rows_added: int = 0
    rows_removed: int = 0
    rows_changed: int = 0
    key: str | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        head = f"{self.name}: v{self.a} -> v{self.b}"
        if self.identical:
            return f"{head}: identical content"
        if self.kind == "table":
            parts = [f"{self.rows_added} rows added", f"{self.rows_removed} removed",
                     f"{self.rows_changed} changed"]
            if self.columns_added:
                parts.append("columns added: " + ", ".join(self.columns_added))
            if self.columns_removed:
                parts.append("columns removed: " + ", ".join(self.columns_removed))
            by = f" (rows matched by {self.key})" if self.key else ""
            return f"{head}: " + "; ".join(parts) + by
        sizes = f"{format_size(self.size_a)} -> {format_size(self.size_b)}"
        if self.kind == "text":
            plus = sum(1 for ln in self.unified.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
            minus = sum(1 for ln in self.unified.splitlines() if ln.startswith("-") and not ln.startswith("---"))
            return f"{head}: +{plus} -{minus} lines ({sizes})"
        return f"{head}: {sizes}; sha256 {self.sha256_a[:12]} -> {self.sha256_b[:12]}"

    def __str__(self) -> str:
        body = self.summary()
        if self.kind == "text" and self.unified:
            body += "\n" + self.unified
        for ex in self.examples:
            body += f"\n  {ex}"
        return body

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        parts = [f'<h4 style="margin:0 0 4px 0">{_e(self.summary())}</h4>']
        if self.kind == "text" and self.unified:
            lines = []
            for ln in self.unified.splitlines():
                colour = ""
                if ln.startswith("+") and not ln.startswith("+++"):
                    colour = "background:var(--jp-success-color3,#dafbe1)"
                elif ln.startswith("-") and not ln.startswith("---"):
                    colour = "background:var(--jp-error-color3,#ffebe9)"
                lines.append(f'<span style="{colour}">{_e(ln)}</span>' if colour else _e(ln))
            parts.append(f'<pre class="na-pre" style="{PRE};max-height:480px">' + "\n".join(lines) + "</pre>")
        elif self.kind == "binary" and not self.identical:
            parts.append(f'<div style="{MUTED}">sha256 v{self.a} {_e(self.sha256_a)}<br>'
                         f"sha256 v{self.b} {_e(self.sha256_b)}</div>")
        if self.examples:
            rows = "".join(f"<li><code>{_e(ex)}</code></li>" for ex in self.examples)
            parts.append(f'<div style="{MUTED}">examples</div><ul>{rows}</ul>')
        return _STYLE + f'<div class="na-card na-diff" style="{CARD}">' + "".join(parts) + "</div>"


def _is_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _table_diff(diff: Diff, old: Any, new: Any) -> None:
    old_cols, new_cols = [str(c) for c in old.columns], [str(c) for c in new.columns]
    diff.columns_added = [c for c in new_cols if c not in old_cols]
    diff.columns_removed = [c for c in old_cols if c not in new_cols]
    common = [c for c in new_cols if c in old_cols]
    old, new = old.copy(), new.copy()
    old.columns, new.columns = old_cols, new_cols
    key = common[0] if common else None
    if key is not None and old[key].is_unique and new[key].is_unique:
        diff.key = key
        old_i, new_i = old.set_index(key), new.set_index(key)
        old_keys, new_keys = set(old_i.index), set(new_i.index)
        diff.rows_added = len(new_keys - old_keys)
        diff.rows_removed = len(old_keys - new_keys)
        rest = [c for c in common if c != key]
        both = sorted(old_keys & new_keys, key=str)
        for k in both:
            a_row, b_row = old_i.loc[k, rest], new_i.loc[k, rest]
            changed = {c: (a_row[c], b_row[c]) for c in rest if not _same(a_row[c], b_row[c])}
            if changed:
                diff.rows_changed += 1
                if len(diff.examples) < 5:
                    diff.examples.append({key: _plain(k), **{c: f"{_plain(v[0])!r} -> {_plain(v[1])!r}"
                                                             for c, v in changed.items()}})
        return
    old_rows = Counter(tuple(map(str, r)) for r in old[common].itertuples(index=False))
    new_rows = Counter(tuple(map(str, r)) for r in new[common].itertuples(index=False))
    diff.rows_added = sum((new_rows - old_rows).values())
    diff.rows_removed = sum((old_rows - new_rows).values())


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (``30``, not ``np.int64(30)``)."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def _same(a: Any, b: Any) -> bool:
    try:
        import pandas as pd

        if pd.isna(a) and pd.isna(b):
            return True
    except (TypeError, ValueError):
        pass
    return bool(a == b)


def compute_diff(store: Any, old: Any, new: Any) -> Diff:
    """The :class:`Diff` between two version records of one artifact in ``store``."""
    diff = Diff(name=new.name, a=old.version, b=new.version, kind="binary",
                identical=old.sha256 == new.sha256, size_a=old.size_bytes, size_b=new.size_bytes,
                sha256_a=old.sha256, sha256_b=new.sha256)
    mime_a = (old.mime_type or "").split(";")[0].lower()
    mime_b = (new.mime_type or "").split(";")[0].lower()
    if mime_a in _TABLES and mime_b in _TABLES:
        diff.kind = "table"
        if not diff.identical:
            _table_diff(diff, store.load(old.artifact_id), store.load(new.artifact_id))
        return diff
    if old.size_bytes <= TEXT_LIMIT and new.size_bytes <= TEXT_LIMIT:
        a_text = _is_text(store.read_bytes(old.artifact_id))
        b_text = _is_text(store.read_bytes(new.artifact_id)) if a_text is not None else None
        if a_text is not None and b_text is not None:
            diff.kind = "text"
            lines = list(difflib.unified_diff(
                a_text.splitlines(), b_text.splitlines(), f"{old.name} v{old.version}",
                f"{new.name} v{new.version}", lineterm=""))
            if len(lines) > MAX_DIFF_LINES:
                lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more lines"]
            diff.unified = "\n".join(lines)
    return diff
