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

# Colours come from JupyterLab's theme variables (light and dark themes keep their contrast),
# with GitHub-like fallbacks elsewhere. The essentials are inline too, so a card still reads
# as a card where <style> is stripped (untrusted notebooks); without any CSS (GitHub's viewer)
# the structure is plain tables, headings and preformatted text.
FG2 = "var(--jp-ui-font-color2,#57606a)"
BORDER = "var(--jp-border-color2,#d0d7de)"
MUTED = f"color:{FG2};font-size:12px"
CARD = (f"border:1px solid {BORDER};border-radius:6px;padding:8px 12px;margin:4px 0;"
        "max-width:900px;overflow-x:auto;box-sizing:border-box;word-break:normal;"
        "overflow-wrap:break-word;font-size:13px")
PRE = ("white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;"
       "background:var(--jp-layout-color2,#f6f8fa);color:var(--jp-content-font-color1,#24292f);"
       "border-radius:4px;padding:6px;margin:4px 0;max-height:220px;overflow:auto;font-size:12px")
CELL = f"border-bottom:1px solid {BORDER};padding:2px 8px;text-align:left;vertical-align:top"

_STYLE = (
    "<style>"
    ".na-card{font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "color:var(--jp-ui-font-color1,#24292f)}"
    ".na-card.na-wide{max-width:none;width:fit-content}"
    ".na-card h4{margin:0 0 4px 0;font-size:14px}"
    ".na-card pre,.na-pre{word-break:normal!important;overflow-wrap:break-word!important}"
    f".na-muted{{{MUTED}}}"
    ".na-tag{display:inline-block;background:var(--jp-brand-color3,#ddf4ff);"
    "color:var(--jp-brand-color0,#0550ae);border-radius:10px;padding:0 7px;margin:0 3px 0 0;"
    "font-size:11px}"
    ".na-badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:11px;color:#fff}"
    ".na-st-indexed{background:#1a7f37}.na-st-pending{background:#9a6700}"
    ".na-st-failed{background:#cf222e}.na-st-skipped{background:#57606a}"
    ".na-hit{border-left:3px solid var(--jp-brand-color1,#0969da);padding-left:8px;margin:8px 0}"
    ".na-hit mark{background:var(--jp-warn-color3,#fff8c5);color:inherit;padding:0}"
    "table.na-table,table.na-fields{border-collapse:collapse;font-size:12px}"
    "table.na-table th,table.na-table td{white-space:nowrap}"
    "table.na-fields th{color:var(--jp-ui-font-color2,#57606a);font-weight:normal;"
    "text-align:left;padding:1px 10px 1px 0;vertical-align:top;white-space:nowrap}"
    "table.na-fields td{padding:1px 0;vertical-align:top}"
    "a.na-download{color:var(--jp-content-link-color,#0969da);text-decoration:underline;"
    "font-weight:600}"
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
    return " ".join(
        f'<span class="na-tag" style="display:inline-block;border-radius:10px;padding:0 7px;'
        f'border:1px solid {BORDER};font-size:11px">{_e(t)}</span>' for t in (tags or ()))


def _status(record: Any) -> str:
    status = _get(record, "status") or "pending"
    label = status
    title = _get(record, "index_error") or ""
    if status == "indexed":
        label = f"indexed, {_chunks(_get(record, 'chunk_count'))}"
    elif status == "skipped":
        label, title = "not indexed", title or "stored only: no text to index, or the store has no index"
    colour = _BADGE.get(status, "#57606a")
    return (
        f'<span class="na-badge na-st-{_e(status)}" title="{_e(title)}" style="display:inline-block;'
        f'border-radius:4px;padding:0 6px;font-size:11px;color:#fff;background:{colour}">{_e(label)}</span>'
    )


_BADGE = {"indexed": "#1a7f37", "pending": "#9a6700", "failed": "#cf222e", "skipped": "#57606a"}


def _scope(record: Any) -> str:
    ns = _get(record, "namespace") or "default"
    sid = _get(record, "session_id")
    return _e(ns) + (f" / session {_e(sid)}" if sid else "")


def _field(label: str, value_html: str) -> str:
    return f"<tr><th>{_e(label)}</th><td>{value_html}</td></tr>"


def artifact_html(record: Any, now: datetime | None = None, preview: bool = True,
                  preview_html: str | None = None) -> str:
    """A card for one artifact version: name, version, tags, size, TTL, index status, lineage,
    and a preview (``preview_html`` when given, else the text preview, cut at a word)."""
    ttl = format_ttl(record, now)
    rows = [
        _field("type", f'{_e(_get(record, "mime_type"))} &middot; {format_size(_get(record, "size_bytes"))}'
                       f' &middot; <span title="expires_at {_e(_get(record, "expires_at") or "never")}" '
                       f'data-expires-at="{_e(_get(record, "expires_at") or "")}">{_e(ttl)}</span>'
                       f' &middot; {_status(record)}'),
    ]
    if _get(record, "tags"):
        rows.append(_field("tags", _tags(_get(record, "tags"))))
    if _get(record, "description"):
        rows.append(_field("description", _e(_get(record, "description"))))
    meta = _get(record, "metadata")
    if meta:
        rows.append(_field("metadata", ", ".join(f"{_e(k)}={_e(v)}" for k, v in list(meta.items())[:12])))
    rows.append(_field("id", f'<code>{_e(_get(record, "artifact_id"))}</code> &middot; {_scope(record)}'
                             f' &middot; {_e(format_time(_get(record, "created_at")))} UTC'))
    src = [f"{k}={_e(_get(record, k))}" for k in ("source_tool", "source_execution_id", "source_step_id")
           if _get(record, k)]
    if src:
        rows.append(_field("lineage", ", ".join(src)))
    body = ""
    if preview_html is not None:
        body = preview_html
    elif preview and _get(record, "content_preview"):
        body = f'<pre class="na-pre" style="{PRE}">{_e(_preview_text(record))}</pre>'
    latest = " (latest)" if _get(record, "is_latest", True) else ""
    return (
        _STYLE + f'<div class="na-card" style="{CARD}">'
        f'<h4 style="margin:0 0 4px 0">{_e(_get(record, "name"))} '
        f'<span class="na-muted" style="{MUTED}">v{_e(_get(record, "version"))}{latest}</span></h4>'
        f'<table class="na-fields"><tbody>{"".join(rows)}</tbody></table>{body}</div>'
    )


def _preview_text(record: Any) -> str:
    """The start of the text, cut at a word with an ellipsis when the content goes on."""
    text = str(_get(record, "content") or _get(record, "content_preview") or "")
    size = _get(record, "size_bytes")
    truncated = isinstance(size, int) and size > len(text.encode("utf-8"))
    if len(text) > _PREVIEW_CHARS or truncated:
        return cut_at_word(text, min(_PREVIEW_CHARS, len(text) - 1 if truncated else _PREVIEW_CHARS))
    return text


def _table(headers: Iterable[str], rows: list[list[str]], empty: str) -> str:
    """An HTML table (cells already escaped) with the essential styles inline."""
    head = "".join(f'<th style="{CELL}">{_e(h)}</th>' for h in headers)
    width = len(list(headers)) if not isinstance(headers, (list, tuple)) else len(headers)
    body = "".join("<tr>" + "".join(f'<td style="{CELL}">{c}</td>' for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{width}" class="na-muted" style="{CELL};{MUTED}">{_e(empty)}</td></tr>'
    return (f'<table class="na-table" style="border-collapse:collapse;font-size:12px">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


LISTING_HEADERS = ("name", "version", "size", "type", "tags", "index", "TTL", "created (UTC)", "id")


def _listing_row(a: Any, now: datetime | None) -> list[str]:
    return [
        _e(_get(a, "name")), f"v{_e(_get(a, 'version'))}", format_size(_get(a, "size_bytes")),
        _e(_get(a, "mime_type")), _tags(_get(a, "tags")), _status(a), _e(format_ttl(a, now)),
        f'<span title="{_e(_get(a, "created_at"))}">{_e(format_time(_get(a, "created_at")))}</span>',
        f'<code class="na-muted">{_e(_get(a, "artifact_id"))}</code>',
    ]


def _count(shown: int, total: int | None) -> str:
    if total is not None and total != shown:
        return f"{shown} of {total} artifacts"
    return f"{shown} artifact{'s' if shown != 1 else ''}"


def listing_html(
    artifacts: Iterable[Any], total: int | None = None, now: datetime | None = None
) -> str:
    """A table of artifact versions (one row each)."""
    items = list(artifacts)
    table = _table(LISTING_HEADERS, [_listing_row(a, now) for a in items], "no artifacts")
    return (_STYLE + f'<div class="na-card na-wide" style="{CARD};max-width:none">'
            f'<div class="na-muted" style="{MUTED}">{_count(len(items), total)}</div>{table}</div>')


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
        text = f"{value[0]}-{value[1]}" if isinstance(value, (list, tuple)) and len(value) == 2 \
            else str(value)  # a spreadsheet's rows: [40, 80] -> 40-80, as citations say it
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
        f'<h4 style="margin:0 0 4px 0">Query: &ldquo;{_e(query)}&rdquo; <span class="na-muted" style="{MUTED}">'
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
            '<div class="na-hit" style="border-left:3px solid var(--jp-brand-color1,#0969da);'
            'padding-left:8px;margin:8px 0">'
            f'<div><b>[{rank}] {_e(citation)}</b> <span class="na-muted" style="{MUTED}">score {score_s}'
            f'{" &middot; " + loc if loc else ""}'
            f'{" &middot; " + _e(_get(art, "artifact_id")) if art is not None else ""}</span></div>'
            f'<pre class="na-pre" style="{PRE}">{highlight(str(_get(hit, "matched_chunk") or ""), query)}</pre>'
            "</div>"
        )
    if not hits:
        parts.append(f'<div class="na-muted" style="{MUTED}">no matches</div>')
    ctx = _get(result, "combined_context") or ""
    parts.append(
        f"<details><summary>Combined context ({len(ctx)} characters)</summary>"
        f'<pre class="na-pre" style="{PRE}">{_e(ctx)}</pre></details>'
    )
    return _STYLE + f'<div class="na-card" style="{CARD}">' + "".join(parts) + "</div>"


EVENT_HEADERS = ("#", "time (UTC)", "event", "name", "version", "type", "size", "scope", "tool")


def events_html(events: Iterable[Any], limit: int | None = None) -> str:
    """A table of events, in the order given."""
    rows = []
    for i, ev in enumerate(events):
        if limit is not None and i >= limit:
            break
        ver = _get(ev, "version")
        rows.append([
            _e(_get(ev, "cursor")), _e(_event_time(ev)), _e(_get(ev, "type")), _e(_get(ev, "name")),
            "v" + _e(ver) if ver is not None else "", _e(_get(ev, "mime_type")),
            format_size(_get(ev, "size_bytes")), _scope(ev), _e(_get(ev, "source_tool")),
        ])
    return _STYLE + _table(EVENT_HEADERS, rows, "no events yet")


def source_html(source: Any) -> str:
    """A card for a promoted source."""
    return (
        _STYLE
        + f'<div class="na-card" style="{CARD}">'
        f'<h4 style="margin:0 0 4px 0">Source {_e(_get(source, "source_name"))} <span class="na-muted" style="{MUTED}">'
        f'{_e(_get(source, "source_id"))}</span></h4>'
        f'<div>from {_e(_get(source, "artifact_id"))} v{_e(_get(source, "version"))} '
        f'&middot; {_e(_get(source, "namespace"))}</div>'
        f'<div class="na-muted" style="{MUTED}">{_e(_get(source, "message"))}</div></div>'
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
