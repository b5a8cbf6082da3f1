"""HTML renderers for records, listings, events and query results.

Pure functions from records to HTML strings: no IPython, no widgets, nothing heavy, so the
models' ``_repr_html_`` methods and every face can use them. All user content (names, tags,
metadata, previews, chunks) is escaped.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timezone
from typing import Any, Iterable

__all__ = [
    "format_size",
    "format_ttl",
    "format_time",
    "artifact_html",
    "listing_html",
    "query_html",
    "events_html",
    "source_html",
    "highlight",
    "artifact_text",
    "listing_text",
    "events_text",
    "query_text",
    "text_table",
    "cut_at_word",
]

_STYLE = (
    "<style>"
    ".na-card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;"
    "font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;max-width:900px;"
    "overflow-x:auto;box-sizing:border-box}"
    ".na-card.na-wide{max-width:none;width:fit-content}"
    ".na-card h4{margin:0 0 4px 0;font-size:14px}"
    ".na-muted{color:#57606a;font-size:12px}"
    ".na-tag{display:inline-block;background:#ddf4ff;color:#0969da;border-radius:10px;"
    "padding:0 7px;margin:0 3px 0 0;font-size:11px}"
    ".na-badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:11px;color:#fff}"
    ".na-st-indexed{background:#1a7f37}.na-st-pending{background:#9a6700}"
    ".na-st-failed{background:#cf222e}.na-st-skipped{background:#6e7781}"
    ".na-pre{white-space:pre-wrap;background:#f6f8fa;color:#24292f;border-radius:4px;"
    "padding:6px;margin:4px 0;max-height:220px;overflow:auto;font-size:12px}"
    ".na-hit{border-left:3px solid #0969da;padding-left:8px;margin:8px 0}"
    ".na-hit mark{background:#fff8c5;padding:0}"
    "table.na-table{border-collapse:collapse;font-size:12px}"
    "table.na-table th,table.na-table td{border-bottom:1px solid #d0d7de;padding:2px 8px;"
    "text-align:left;vertical-align:top;white-space:nowrap}"
    "a.na-download{color:#0969da;text-decoration:underline;font-weight:600}"
    "</style>"
)

_PREVIEW_CHARS = 600
_STOP = frozenset(
    "the a an and or of to in on for with is are was were be by at as it this that what "
    "which who how why when where from does do did".split()
)


def _e(value: Any) -> str:
    """Escape any value for HTML text and attribute content."""
    return html.escape("" if value is None else str(value), quote=True)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def format_size(n: int | None) -> str:
    """Human size: ``1.5 KiB``."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_ttl(record: Any, now: datetime | None = None) -> str:
    """TTL countdown of a record: ``pinned``, ``no expiry``, ``expires in 1h 5m`` or ``expired``."""
    if _get(record, "is_pinned"):
        return "pinned"
    if _get(record, "is_expired"):
        return "expired"
    expires = _parse_time(_get(record, "expires_at"))
    if expires is None:
        return "no expiry"
    now = now or datetime.now(timezone.utc)
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=timezone.utc)
    left = (expires - now).total_seconds()
    return "expired" if left <= 0 else f"expires in {_duration(left)}"


def format_time(value: Any) -> str:
    """``2026-11-23 11:05:31`` (UTC, to the second) from an ISO timestamp; other values as is."""
    when = _parse_time(value)
    if when is None:
        return "" if value is None else str(value)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _tags(tags: Iterable[str] | None) -> str:
    # spaces between the pills keep tags apart where styles are stripped (GitHub, untrusted)
    return " ".join(f'<span class="na-tag">{_e(t)}</span>' for t in (tags or ()))


def _status(record: Any) -> str:
    status = _get(record, "status") or "pending"
    label = status
    title = _get(record, "index_error") or ""
    if status == "indexed":
        label = f"indexed, {_get(record, 'chunk_count') or 0} chunks"
    elif status == "skipped":
        label, title = "not indexed", title or "stored only: no text to index, or the store has no index"
    return (
        f'<span class="na-badge na-st-{_e(status)}" title="{_e(title)}">{_e(label)}</span>'
    )


def _scope(record: Any) -> str:
    ns = _get(record, "namespace") or "default"
    sid = _get(record, "session_id")
    return _e(ns) + (f" / session {_e(sid)}" if sid else "")


def artifact_html(record: Any, now: datetime | None = None, preview: bool = True) -> str:
    """A card for one artifact version: name, version, tags, size, TTL, index status, preview."""
    ttl = format_ttl(record, now)
    rows = [
        f'<h4>{_e(_get(record, "name"))} <span class="na-muted">v{_e(_get(record, "version"))}'
        f'{" (latest)" if _get(record, "is_latest", True) else ""}</span></h4>',
        '<div>'
        f'{_e(_get(record, "mime_type"))} &middot; {format_size(_get(record, "size_bytes"))} &middot; '
        f'<span title="expires_at {_e(_get(record, "expires_at") or "never")}" '
        f'data-expires-at="{_e(_get(record, "expires_at") or "")}">{_e(ttl)}</span> &middot; '
        f'{_status(record)}</div>',
    ]
    tags = _get(record, "tags")
    if tags:
        rows.append(f"<div>{_tags(tags)}</div>")
    if _get(record, "description"):
        rows.append(f'<div>{_e(_get(record, "description"))}</div>')
    meta = _get(record, "metadata")
    if meta:
        items = ", ".join(f"{_e(k)}={_e(v)}" for k, v in list(meta.items())[:12])
        rows.append(f'<div class="na-muted">metadata: {items}</div>')
    src = [
        f"{k}={_e(_get(record, k))}"
        for k in ("source_tool", "source_execution_id", "source_step_id")
        if _get(record, k)
    ]
    rows.append(
        f'<div class="na-muted">{_e(_get(record, "artifact_id"))} &middot; {_scope(record)} &middot; '
        f'{_e(_get(record, "created_at"))}{" &middot; " + ", ".join(src) if src else ""}</div>'
    )
    text = _get(record, "content_preview")
    if preview and text:
        text = str(text)
        if len(text) > _PREVIEW_CHARS:
            text = text[:_PREVIEW_CHARS] + "\u2026"
        rows.append(f'<pre class="na-pre">{_e(text)}</pre>')
    return _STYLE + '<div class="na-card">' + "".join(rows) + "</div>"


def listing_html(
    artifacts: Iterable[Any], total: int | None = None, now: datetime | None = None
) -> str:
    """A table of artifact versions (one row each)."""
    items = list(artifacts)
    head = "".join(
        f"<th>{h}</th>"
        for h in ("name", "version", "size", "type", "tags", "index", "TTL", "created (UTC)", "id")
    )
    body = "".join(
        "<tr>"
        f"<td>{_e(_get(a, 'name'))}</td><td>v{_e(_get(a, 'version'))}</td>"
        f"<td>{format_size(_get(a, 'size_bytes'))}</td><td>{_e(_get(a, 'mime_type'))}</td>"
        f"<td>{_tags(_get(a, 'tags'))}</td><td>{_status(a)}</td>"
        f"<td>{_e(format_ttl(a, now))}</td>"
        f"<td title=\"{_e(_get(a, 'created_at'))}\">{_e(format_time(_get(a, 'created_at')))}</td>"
        f"<td class='na-muted'>{_e(_get(a, 'artifact_id'))}</td>"
        "</tr>"
        for a in items
    )
    shown = len(items)
    count = f"{shown} artifact{'s' if shown != 1 else ''}"
    if total is not None and total != shown:
        count = f"{shown} of {total} artifacts"
    if not items:
        body = '<tr><td colspan="9" class="na-muted">no artifacts</td></tr>'
    return (
        _STYLE
        + f'<div class="na-card na-wide"><div class="na-muted">{count}</div>'
        + f'<table class="na-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def _terms(query: str) -> list[str]:
    words = {w for w in re.findall(r"\w+", query.lower()) if len(w) > 2 and w not in _STOP}
    return sorted(words, key=len, reverse=True)


def highlight(text: str, query: str) -> str:
    """Escape ``text`` and wrap the words of ``query`` found in it in ``<mark>``."""
    terms = _terms(query or "")
    if not terms:
        return _e(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")", re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(_e(text[pos : m.start()]))
        out.append(f"<mark>{_e(m.group(0))}</mark>")
        pos = m.end()
    out.append(_e(text[pos:]))
    return "".join(out)


def _location(location: Any, citation: str) -> str:
    """``page 3`` / ``section X`` / ``lines a-b`` parts not already said by the citation."""
    if not isinstance(location, dict):
        return ""
    parts = []
    for key in ("page", "section", "lines", "rows"):
        value = location.get(key)
        if value in (None, "", [], ()):
            continue
        text = str(value)
        if key == "page" and f"p. {text}" in citation:
            continue
        if key != "page" and text in citation:
            continue
        parts.append(f"{_e(key)} {_e(text)}")
    return ", ".join(parts)


def query_html(result: Any) -> str:
    """Ranked hits, each matched chunk highlighted under its citation, then the combined context."""
    query = _get(result, "query") or ""
    hits = list(_get(result, "results") or [])
    parts = [
        f'<h4>Query: &ldquo;{_e(query)}&rdquo; <span class="na-muted">'
        f'{len(hits)} of {_e(_get(result, "total_results", len(hits)))} results</span></h4>'
    ]
    for rank, hit in enumerate(hits, 1):
        art = _get(hit, "artifact")
        citation = _get(hit, "citation") or (
            f"{_get(art, 'name')} v{_get(art, 'version')}" if art is not None else ""
        )
        score = _get(hit, "score")
        score_s = f"{float(score):.3f}" if isinstance(score, (int, float)) else _e(score)
        loc = _location(_get(hit, "location") or {}, str(citation))
        parts.append(
            '<div class="na-hit">'
            f'<div><b>[{rank}] {_e(citation)}</b> <span class="na-muted">score {score_s}'
            f'{" &middot; " + loc if loc else ""}'
            f'{" &middot; " + _e(_get(art, "artifact_id")) if art is not None else ""}</span></div>'
            f'<pre class="na-pre">{highlight(str(_get(hit, "matched_chunk") or ""), query)}</pre>'
            "</div>"
        )
    if not hits:
        parts.append('<div class="na-muted">no matches</div>')
    ctx = _get(result, "combined_context") or ""
    parts.append(
        f"<details><summary>Combined context ({len(ctx)} characters)</summary>"
        f'<pre class="na-pre">{_e(ctx)}</pre></details>'
    )
    return _STYLE + '<div class="na-card">' + "".join(parts) + "</div>"


def events_html(events: Iterable[Any], limit: int | None = None) -> str:
    """A table of events, in the order given."""
    rows = []
    for i, ev in enumerate(events):
        if limit is not None and i >= limit:
            break
        ts = _get(ev, "timestamp")
        when = ""
        if isinstance(ts, (int, float)):
            when = datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")
        ver = _get(ev, "version")
        rows.append(
            "<tr>"
            f"<td>{_e(_get(ev, 'cursor'))}</td><td>{_e(when)}</td><td>{_e(_get(ev, 'type'))}</td>"
            f"<td>{_e(_get(ev, 'name'))}</td><td>{'v' + _e(ver) if ver is not None else ''}</td>"
            f"<td>{_e(_get(ev, 'mime_type'))}</td><td>{format_size(_get(ev, 'size_bytes'))}</td>"
            f"<td>{_scope(ev)}</td><td>{_e(_get(ev, 'source_tool'))}</td>"
            "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "time (UTC)", "event", "name", "version", "type", "size", "scope", "tool")
    )
    body = "".join(rows) or '<tr><td colspan="9" class="na-muted">no events yet</td></tr>'
    return (
        _STYLE
        + f'<table class="na-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def source_html(source: Any) -> str:
    """A card for a promoted source."""
    return (
        _STYLE
        + '<div class="na-card">'
        f'<h4>Source {_e(_get(source, "source_name"))} <span class="na-muted">'
        f'{_e(_get(source, "source_id"))}</span></h4>'
        f'<div>from {_e(_get(source, "artifact_id"))} v{_e(_get(source, "version"))} '
        f'&middot; {_e(_get(source, "namespace"))}</div>'
        f'<div class="na-muted">{_e(_get(source, "message"))}</div></div>'
    )


# -- text/plain: what a terminal, a saved notebook's plain view and a log show ---------------

def text_table(rows: Iterable[Iterable[Any]], headers: Iterable[str]) -> str:
    """Left-aligned columns separated by two spaces, headers first."""
    head = [str(h) for h in headers]
    body = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [len(h) for h in head]
    for r in body:
        widths = [max(wd, len(v)) for wd, v in zip(widths, r)]
    lines = ["  ".join(h.ljust(wd) for h, wd in zip(head, widths)).rstrip()]
    lines += ["  ".join(v.ljust(wd) for v, wd in zip(r, widths)).rstrip() for r in body]
    return "\n".join(lines)


def _status_text(record: Any) -> str:
    status = _get(record, "status") or "pending"
    if status == "indexed":
        return f"indexed, {_chunks(_get(record, 'chunk_count'))}"
    return "not indexed" if status == "skipped" else status


def _chunks(n: Any) -> str:
    n = int(n or 0)
    return f"{n} chunk{'' if n == 1 else 's'}"


def _tags_text(tags: Any) -> str:
    return ", ".join(str(t) for t in (tags or ()))


def artifact_text(record: Any, now: datetime | None = None) -> str:
    """A few readable lines for one artifact version."""
    name = f"{_get(record, 'name')} v{_get(record, 'version')}"
    if _get(record, "is_latest", True):
        name += " (latest)"
    parts = [_get(record, "mime_type") or "", format_size(_get(record, "size_bytes")),
             format_ttl(record, now), _status_text(record)]
    lines = [name, "  " + " | ".join(p for p in parts if p)]
    if _get(record, "tags"):
        lines.append(f"  tags: {_tags_text(_get(record, 'tags'))}")
    if _get(record, "description"):
        lines.append(f"  {_get(record, 'description')}")
    scope = _get(record, "namespace") or "default"
    if _get(record, "session_id"):
        scope += f" / session {_get(record, 'session_id')}"
    lines.append(f"  {_get(record, 'artifact_id')} | {scope} | {format_time(_get(record, 'created_at'))}")
    return "\n".join(lines)


def listing_text(artifacts: Iterable[Any], total: int | None = None,
                 now: datetime | None = None) -> str:
    """The artifact listing as a text table (the columns of :func:`listing_html`)."""
    items = list(artifacts)
    shown = len(items)
    count = f"{shown} artifact{'s' if shown != 1 else ''}"
    if total is not None and total != shown:
        count = f"{shown} of {total} artifacts"
    if not items:
        return f"{count}: no artifacts"
    rows = [[_get(a, "name"), f"v{_get(a, 'version')}", format_size(_get(a, "size_bytes")),
             _get(a, "mime_type"), _tags_text(_get(a, "tags")), _status_text(a),
             format_ttl(a, now), format_time(_get(a, "created_at")), _get(a, "artifact_id")]
            for a in items]
    headers = ("name", "version", "size", "type", "tags", "index", "TTL", "created (UTC)", "id")
    return count + "\n" + text_table(rows, headers)


def _event_time(ev: Any) -> str:
    ts = _get(ev, "timestamp")
    if isinstance(ts, (int, float)):
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")
    return ""


def events_text(events: Iterable[Any]) -> str:
    """Events as a text table, in the order given."""
    items = list(events)
    if not items:
        return "no events yet"
    rows = [[_get(e, "cursor"), _event_time(e), _get(e, "type"), _get(e, "name"),
             f"v{_get(e, 'version')}" if _get(e, "version") is not None else "",
             _get(e, "mime_type"), format_size(_get(e, "size_bytes")),
             (_get(e, "namespace") or "") + (f"/{_get(e, 'session_id')}" if _get(e, "session_id") else ""),
             _get(e, "source_tool")]
            for e in items]
    return text_table(rows, ("#", "time (UTC)", "event", "name", "version", "type", "size",
                             "scope", "tool"))


def query_text(result: Any) -> str:
    """Ranked hits with their citations and chunks, then the combined context's size."""
    hits = list(_get(result, "results") or [])
    lines = [f'Query: "{_get(result, "query") or ""}" ({len(hits)} of '
             f'{_get(result, "total_results", len(hits))} results)']
    for rank, hit in enumerate(hits, 1):
        score = _get(hit, "score")
        score_s = f"{float(score):.3f}" if isinstance(score, (int, float)) else str(score)
        chunk = " ".join(str(_get(hit, "matched_chunk") or "").split())
        lines.append(f"[{rank}] {_get(hit, 'citation')}  score {score_s}")
        lines.append(f"    {cut_at_word(chunk, 200)}")
    if not hits:
        lines.append("no matches")
    ctx = _get(result, "combined_context") or ""
    lines.append(f"combined_context: {len(ctx)} characters")
    return "\n".join(lines)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` up to ``limit`` characters, cut at a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "\u2026"
