"""ipywidgets panels over a :class:`~notebook_artifacts.protocol.Store` (a local
:class:`ArtifactStore` or a :class:`RemoteStore` of ``%artifact connect``): upload, live events,
download, dashboard.

Live updates come from ``store.subscribe`` (a watcher thread that sees writes by any process).
They are applied by setting widget traits from that thread, under a lock; with ipykernel 7 a
thread without a parent message falls back to the shell's context, so the comm messages reach
the browser while the kernel is idle or busy. Output widgets (whose capture depends on the
parent message) are not used for live content: each panel renders into an ``HTML`` widget.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

import anywidget
import ipywidgets as w
import traitlets

from ..args import split_list
from ..errors import IndexUnavailableError, InvalidInputError
from ..models import EVENT_TYPES, Artifact, Event, QueryResult
from ..protocol import Store
from ..reprs import (CARD, _e, events_html, events_text, format_size, listing_html, listing_text,
                     query_html, query_text)
from ._links import zip_request
from ..store import names_for_paths
from ._transfer import CHUNK_BYTES, ChunkedDownload, ChunkedUpload, IncomingFile, OutgoingFile
from ._paths import glob_paths
from .previews import ArtifactView

__all__ = ["UploadPanel", "EventFeed", "DownloadPanel", "SearchPanel", "Dashboard", "CopyButton"]

#: Muted text that keeps its contrast in light and dark JupyterLab themes.
MUTED_STYLE = "color:var(--jp-ui-font-color2,#57606a);font-size:12px"


#: Sort orders of the artifact listing: (key, descending).
SORTS: dict[str, tuple[Callable[[Any], Any], bool]] = {
    "newest": (lambda a: a.created_at or "", True),
    "oldest": (lambda a: a.created_at or "", False),
    "name": (lambda a: a.name.lower(), False),
    "largest": (lambda a: a.size_bytes or 0, True),
    "most versions": (lambda a: a.version, True),
}


def _spool_dir() -> Any:
    """Where browser uploads are assembled: the user's cache, never the project folder."""
    from ._links import cache_dir

    return cache_dir() / "uploads"


def _store_or_current(store: Store | None) -> Store:
    """``store``, or the kernel's current store (the one ``%artifact`` uses) when None."""
    if store is None:
        from .extension import current_store

        return current_store()
    if not isinstance(store, Store):
        raise TypeError(
            f"expected a store (ArtifactStore or RemoteStore), got {type(store).__name__}; pass "
            "a store, or nothing for the current one (the store %artifact uses)")
    return store


class _Snapshot:
    """Saved notebooks and viewers without the widget's JavaScript (GitHub, nbviewer, untrusted
    outputs) show a static snapshot of the panel instead of ``Panel(children=(HBox(...``."""

    def _snapshot_text(self) -> str:
        raise NotImplementedError

    def _snapshot_html(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        data["text/plain"] = self._snapshot_text()
        data["text/html"] = self._snapshot_html()
        return data

    def _store_line(self) -> str:
        return f"store {self.store.location}"  # type: ignore[attr-defined]


def _snapshot_card(title: str, body: str) -> str:
    return (f'<div class="na-card" style="{CARD}"><h4 style="margin:0 0 4px 0">{_e(title)}</h4>'
            f'{body}</div>')


def _unsubscribe(panel: Any) -> None:
    """Stop a panel's store subscription (safe on a half-built panel)."""
    unsubscribe = panel.__dict__.pop("_unsubscribe", None)
    if unsubscribe is not None:
        unsubscribe()


def _scope_kw(namespace: str | None, session_id: str | None) -> dict[str, Any]:
    return {"namespace": namespace or "default", "session_id": session_id or None}


class UploadPanel(_Snapshot, w.VBox):
    """Upload files from the browser into the store, with tags, TTL and session fields.

    ``file_upload`` is a :class:`ChunkedUpload` button: the browser sends each file in 1 MiB
    pieces, so files of any size arrive (Jupyter drops single messages over 10 MiB, which is
    why ipywidgets' ``FileUpload`` fails on them). ``status`` shows one row per file (progress
    bar and result). ``max_bytes`` (default: no limit) refuses larger files with a message.
    The Path field (:meth:`store_path`) stores files already on the kernel's machine.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        namespace: str | None = None,
        session_id: str | None = None,
        max_bytes: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.store = store = _store_or_current(store)
        self.max_bytes = max_bytes
        self._rows: dict[str, tuple[w.IntProgress, w.HTML]] = {}
        self.file_upload = ChunkedUpload(
            on_begin=self._on_begin, on_progress=self._on_progress, on_file=self._on_file,
            on_error=self._on_error, spool_dir=_spool_dir(),
        )
        self.tags = w.Text(description="Tags", placeholder="comma separated, e.g. raw,q3")
        self.ttl = w.Text(description="TTL", placeholder="e.g. 1h, 7d (empty: no expiry)")
        self.session = w.Text(value=session_id or "", description="Session", placeholder="optional session id")
        self.namespace = w.Text(value=namespace or "default", description="Namespace")
        limit = f" up to {format_size(max_bytes)}" if max_bytes else ""
        self.note = w.HTML(
            f'<span class="na-muted" style="{MUTED_STYLE};line-height:1.4;display:block;'
            f'max-width:820px">Files{limit} are sent to the kernel in pieces of '
            f"{format_size(CHUNK_BYTES)}, with a progress bar each. Files already on the kernel's "
            "machine: type a path or glob below, or run <code>%artifact put PATH</code>.</span>"
        )
        self.path = w.Text(
            description="Path", placeholder="a file or glob on the kernel's machine, e.g. data/*.csv",
            layout=w.Layout(width="420px"),
        )
        self.path_button = w.Button(description="Store path", icon="hdd-o")
        self.path_button.on_click(lambda _b: self.store_path())
        self.status = w.VBox([])
        self.last_stored: list[Artifact] = []
        super().__init__(
            [w.HBox([self.file_upload, self.tags]), w.HBox([self.ttl, self.session]),
             self.namespace, self.note, w.HBox([self.path, self.path_button]), self.status],
            **kwargs,
        )
        self.add_class("na-upload-panel")

    # -- pieces from the browser (ChunkedUpload callbacks, on the kernel's main thread) -----
    def _on_begin(self, incoming: IncomingFile) -> str | None:
        _, bar, label = self._row(incoming.name, incoming.size)
        if self.max_bytes is not None and incoming.size > self.max_bytes:
            bar.bar_style = "danger"
            label.value = (
                f"{_e(incoming.name)}: not stored: {format_size(incoming.size)} is over this "
                f"panel's {format_size(self.max_bytes)} limit; put it on the kernel's machine "
                "and run <code>%artifact put PATH</code> (or use the Path field below)"
            )
            return "over the panel's size limit"
        label.value = f"{_e(incoming.name)} ({format_size(incoming.size)}): receiving\u2026"
        self._rows[incoming.id] = (bar, label)
        return None

    def _on_progress(self, incoming: IncomingFile) -> None:
        bar, label = self._rows.get(incoming.id, (None, None))
        if bar is not None and incoming.size:
            bar.value = int(90 * incoming.received / incoming.size)
            label.value = (f"{_e(incoming.name)}: received {format_size(incoming.received)} of "
                           f"{format_size(incoming.size)}\u2026")

    def _on_file(self, incoming: IncomingFile) -> None:
        bar, label = self._rows.pop(incoming.id)
        tags, ttl, scope = self._fields()
        label.value = f"{_e(incoming.name)} ({format_size(incoming.size)}): storing\u2026"

        def put() -> Artifact:
            with open(incoming.path, "rb") as fh:
                return self.store.put(
                    fh, incoming.name, tags=tags, ttl=ttl, file_name=incoming.name,
                    mime_type=incoming.mime_type or None, source_tool="upload-panel", **scope)

        art = self._store_one(bar, label, incoming.name, put)
        self.last_stored = [art] if art is not None else []

    def _on_error(self, incoming: IncomingFile, message: str) -> None:
        bar, label = self._rows.pop(incoming.id, (None, None))
        if bar is None:
            _, bar, label = self._row(incoming.name, incoming.size)
        bar.bar_style = "danger"
        label.value = (f"{_e(incoming.name)}: not stored: {_e(message)}; try again, or put it "
                       "on the kernel's machine and run <code>%artifact put PATH</code>")

    def _row(self, name: str, size: int) -> tuple[w.HBox, w.IntProgress, w.HTML]:
        bar = w.IntProgress(value=0, min=0, max=100, layout=w.Layout(width="160px"))
        label = w.HTML(f"{_e(name)} ({format_size(size)}): storing\u2026")
        row = w.HBox([bar, label])
        self.status.children = (row,) + tuple(self.status.children)[:19]
        return row, bar, label

    def _fields(self) -> tuple[list[str], str | None, dict[str, Any]]:
        tags = split_list(self.tags.value)
        ttl = self.ttl.value.strip() or None
        return tags, ttl, _scope_kw(self.namespace.value.strip(), self.session.value.strip())

    def store_path(self, pattern: str | None = None) -> list[Artifact]:
        """Store the files matching ``pattern`` (default: the Path field) on the kernel's
        machine, streamed from disk: the way in for files too large for the browser."""
        import os

        pattern = (self.path.value if pattern is None else pattern).strip()
        if not pattern:
            _, bar, label = self._row("(no path)", 0)
            bar.bar_style = "danger"
            label.value = "type a file path or a glob in the Path field first"
            self.last_stored = []
            return []
        paths = [p for p in glob_paths(pattern) if os.path.isfile(p)]
        if not paths:
            _, bar, label = self._row(pattern, 0)
            bar.bar_style = "danger"
            label.value = f"{_e(pattern)}: no file matches on the kernel's machine (cwd {_e(os.getcwd())})"
            self.last_stored = []
            return []
        tags, ttl, scope = self._fields()
        try:
            names = names_for_paths(paths)  # the naming rule of store.put, for one file or many
        except ValueError as exc:
            _, bar, label = self._row(pattern, 0)
            bar.bar_style = "danger"
            label.value = f"{_e(pattern)}: nothing stored: {_e(exc)}"
            self.last_stored = []
            return []
        rows = [self._row(name, os.path.getsize(path))[1:] for path, name in zip(paths, names)]
        stored = self._store_all(rows, names, list(zip(paths, names)), dict(
            tags=tags, ttl=ttl, source_tool="upload-panel", **scope))
        self.last_stored = stored
        return stored

    def _store_one(self, bar: w.IntProgress, label: w.HTML, name: str,
                   put: Callable[[], Artifact]) -> Artifact | None:
        """Run ``put`` for one file, showing the outcome in its row; None if it failed."""
        bar.value = 30
        try:
            art = put()
        except Exception as exc:  # shown in the panel, nothing stored
            bar.bar_style = "danger"
            label.value = f"{_e(name)}: not stored: {_e(exc)}"
            return None
        self._show_stored(bar, label, name, art)
        return art

    def _store_all(self, rows: list[tuple[w.IntProgress, w.HTML]], names: list[str],
                   items: list[Any], common: dict[str, Any]) -> list[Any]:
        """Store several files with one ``put_many`` (all of them or none), each row showing
        the outcome; returns the records."""
        if not items:
            return []
        for bar, _ in rows:
            bar.value = 30
        try:
            arts = self.store.put_many(items, **common)
        except Exception as exc:  # shown in the panel, nothing stored
            for (bar, label), name in zip(rows, names):
                bar.bar_style = "danger"
                label.value = f"{_e(name)}: not stored: {_e(exc)}"
            return []
        for (bar, label), name, art in zip(rows, names, arts):
            self._show_stored(bar, label, name, art)
        return arts

    @staticmethod
    def _show_stored(bar: w.IntProgress, label: w.HTML, name: str, art: Any) -> None:
        bar.value = 100
        bar.bar_style = "success"
        label.value = (
            f"{_e(name)}: stored as <b>{_e(art.name)}</b> v{art.version} "
            f"({format_size(art.size_bytes)}, {_e(art.artifact_id)})"
        )

    def _snapshot_text(self) -> str:
        done = "; ".join(f"{a.name} v{a.version}" for a in self.last_stored)
        return (f"Upload panel ({self._store_line()}, namespace {self.namespace.value}): "
                f"run the notebook to upload{'; last stored: ' + done if done else ''}")

    def _snapshot_html(self) -> str:
        rows = "".join(f"<li>{row.children[1].value}</li>" for row in self.status.children)
        return _snapshot_card("Upload panel", f"<div>{_e(self._snapshot_text())}</div>"
                              + (f"<ul>{rows}</ul>" if rows else ""))

    def close(self) -> None:
        if "file_upload" in self.__dict__:
            self.file_upload.close()  # drops any half-received spool file
        super().close()

    def upload(self, files: Any) -> list[Artifact]:
        """Store in-memory files (dicts with name, type, size, content, as ipywidgets'
        ``FileUpload.value`` holds them); returns the records."""
        tags, ttl, scope = self._fields()
        rows, names, items = [], [], []
        for entry in files:
            name = str(entry["name"])
            size = int(entry.get("size") or len(entry["content"]))
            _, bar, label = self._row(name, size)
            if self.max_bytes is not None and size > self.max_bytes:
                bar.bar_style = "danger"
                label.value = (
                    f"{_e(name)}: not stored: {format_size(size)} is over this panel's "
                    f"{format_size(self.max_bytes)} limit; run <code>%artifact put PATH</code> "
                    "instead (or use the Path field below)"
                )
                continue
            rows.append((bar, label))
            names.append(name)
            items.append(dict(src=bytes(entry["content"]), name=name, file_name=name,
                              mime_type=entry.get("type") or None))
        stored = self._store_all(rows, names, items, dict(
            tags=tags, ttl=ttl, source_tool="upload-panel", **scope))
        self.last_stored = stored
        return stored


class EventFeed(_Snapshot, w.VBox):
    """Live event feed, newest first, from any process; filter by type and MIME; pause."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        namespace: str | None = None,
        session_id: str | None = None,
        max_rows: int = 50,
        backlog: int = 20,
        **kwargs: Any,
    ) -> None:
        self.store = store = _store_or_current(store)
        self.scope_namespace = namespace
        self.scope_session = session_id
        self.max_rows = max_rows
        self._lock = threading.RLock()
        self._events: deque[Event] = deque(maxlen=1000)
        self._seen: set[int] = set()
        self.type_filter = w.Dropdown(options=["all", *EVENT_TYPES], value="all", description="Type")
        self.mime_filter = w.Text(description="MIME", placeholder="prefix, e.g. text/")
        self.pause = w.ToggleButton(value=False, description="Pause", icon="pause")
        self.counter = w.HTML("")
        self.table = w.HTML(events_html([]))
        for control in (self.type_filter, self.mime_filter):
            control.observe(lambda _c: self.render(), names="value")
        self.pause.observe(self._on_pause, names="value")
        super().__init__(
            [w.HBox([self.type_filter, self.mime_filter, self.pause]), self.counter, self.table], **kwargs
        )
        self.add_class("na-event-feed")
        latest = store.latest_cursor()
        if backlog:
            page = store.events(after=max(0, latest - backlog), limit=min(backlog, 100))
            self._add(page.events)
        self._unsubscribe = store.subscribe(self._on_events, after=latest)
        self.render()

    @property
    def events(self) -> list[Event]:
        """Events received so far (oldest first)."""
        with self._lock:
            return list(self._events)

    def _in_scope(self, ev: Event) -> bool:
        if self.scope_namespace is not None and ev.namespace != self.scope_namespace:
            return False
        if self.scope_session is not None and ev.session_id != self.scope_session:
            return False
        return True

    def _add(self, events: list[Event]) -> None:
        with self._lock:
            for ev in events:
                if ev.cursor in self._seen or not self._in_scope(ev):
                    continue
                self._seen.add(ev.cursor)
                self._events.append(ev)

    def _on_events(self, events: list[Event]) -> None:
        # called on the store's watcher thread
        self._add(events)
        if not self.pause.value:
            self.render()

    def _on_pause(self, change: dict[str, Any]) -> None:
        self.pause.description = "Resume" if change["new"] else "Pause"
        self.pause.icon = "play" if change["new"] else "pause"
        if not change["new"]:
            self.render()

    def visible_events(self) -> list[Event]:
        """The filtered events, newest first."""
        kind = self.type_filter.value
        mime = self.mime_filter.value.strip()
        out = []
        for ev in reversed(self.events):
            if kind != "all" and ev.type != kind:
                continue
            if mime and not (ev.mime_type or "").startswith(mime):
                continue
            out.append(ev)
            if len(out) >= self.max_rows:
                break
        return out

    def render(self) -> None:
        with self._lock:
            shown = self.visible_events()
            self.counter.value = (
                f'<span style="{MUTED_STYLE}">{len(self._events)} events received'
                f"{', paused' if self.pause.value else ', live'}</span>"
            )
            self.table.value = events_html(shown)

    def _snapshot_text(self) -> str:
        return f"Event feed ({self._store_line()}), newest first:\n" + events_text(self.visible_events())

    def _snapshot_html(self) -> str:
        return _snapshot_card("Event feed, newest first", events_html(self.visible_events()))

    def close(self) -> None:
        _unsubscribe(self)
        super().close()


class DownloadPanel(_Snapshot, w.VBox):
    """The artifacts in a scope: a listing to filter and sort, a version picker, the selected
    version's card (inline preview and lineage: source tool, run and step), and downloads.

    One click on **Download** streams the selected version to the browser over the widget
    comm (in pieces, any size), which saves it: no copy on disk, no base64 in the notebook.
    **Download all (zip)** does the same for a zip of the scope. The listing refreshes on
    store events.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        namespace: str | None = None,
        session_id: str | None = None,
        live: bool = True,
        **kwargs: Any,
    ) -> None:
        self.store = store = _store_or_current(store)
        self.namespace = namespace or "default"
        self.session_id = session_id
        self._lock = threading.RLock()
        self._listed: list[Artifact] = []
        self._all: list[Artifact] = []
        self._total = 0
        self.artifacts = w.Dropdown(options=[], description="Artifact", layout=w.Layout(width="380px"))
        self.version = w.Dropdown(options=[], description="Version", layout=w.Layout(width="200px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.download_button = ChunkedDownload(
            self._request_selected, on_progress=self._on_progress, on_done=self._on_done,
            on_error=self._on_error, description="Download")
        self.download_all_button = ChunkedDownload(
            lambda: zip_request(self.store, **self._scope()), on_progress=self._on_progress,
            on_done=self._on_done, on_error=self._on_error, description="Download all (zip)",
            primary=False)
        self.link = w.HTML("")
        self.listing = w.HTML("")
        self.detail = w.HTML("")
        self.filter = w.Text(description="Filter", placeholder="name, tag, type or tool",
                             continuous_update=True, layout=w.Layout(width="300px"))
        self.sort = w.Dropdown(options=list(SORTS), value="newest", description="Sort",
                               layout=w.Layout(width="220px"))
        self.filter.observe(lambda _c: self._render(), names="value")
        self.sort.observe(lambda _c: self._render(), names="value")
        self.version.observe(lambda _c: self._show_detail(), names="value")
        self.download_button.add_class("na-download-button")
        self.download_all_button.add_class("na-download-all-button")
        self.artifacts.observe(self._on_artifact, names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        super().__init__(
            [w.HBox([self.filter, self.sort]), self.listing,
             w.HBox([self.artifacts, self.version]),
             w.HBox([self.download_button, self.download_all_button, self.refresh_button]),
             self.link, self.detail],
            **kwargs,
        )
        self.add_class("na-download-panel")
        self._unsubscribe = store.subscribe(self._on_events) if live else None
        try:
            self.refresh()
        except BaseException:
            self.close()
            raise

    def _scope(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "session_id": self.session_id}

    def _on_events(self, events: list[Event]) -> None:
        if any(ev.namespace == self.namespace and ev.session_id == self.session_id for ev in events):
            self.refresh()

    def refresh(self) -> None:
        """Reload the listing from the store (then filter, sort and fill the picker)."""
        with self._lock:
            page = self.store.list(**self._scope(), limit=200)
            self._all = list(page.artifacts)
            self._total = page.total
            self._render()

    def shown(self) -> list[Artifact]:
        """The listed artifacts after the filter and the sort order."""
        needle = self.filter.value.strip().lower()
        arts = [a for a in self._all
                if not needle or needle in a.name.lower()
                or any(needle in t.lower() for t in a.tags)
                or needle in (a.source_tool or "").lower() or needle in (a.mime_type or "").lower()]
        key, reverse = SORTS[self.sort.value]
        return sorted(arts, key=key, reverse=reverse)

    def _render(self) -> None:
        with self._lock:
            arts = self.shown()
            self._listed = arts
            total = self._total if len(arts) == len(self._all) else len(self._all)
            self.listing.value = listing_html(arts, total=total)
            options = [(f"{a.name} (v{a.version}, {format_size(a.size_bytes)})", a.name) for a in arts]
            current = self.artifacts.value
            names = [o[1] for o in options]
            # New options reset the picker to the first one; the browser gets the options and
            # the kept choice in one message, so a pick made meanwhile is not undone by the reset.
            self._refilling = True
            try:
                with self.artifacts.hold_sync():
                    self.artifacts.options = options
                    self.artifacts.value = current if current in names else (names[0] if names else None)
            finally:
                self._refilling = False
            self._on_artifact({"new": self.artifacts.value})
            if not names:
                self.detail.value = ""

    def _on_artifact(self, change: dict[str, Any]) -> None:
        if self.__dict__.get("_refilling"):
            return  # _render shows the choice it keeps
        name = change.get("new")
        if not name:
            self.version.options = []
            return
        try:
            versions = self.store.versions(name, **self._scope())
        except Exception:
            self.version.options = []
            return
        options = [
            (f"v{v.version}{' (latest)' if v.is_latest else ''}", v.version)
            for v in sorted(versions, key=lambda v: v.version, reverse=True)
        ]
        self.version.options = options
        if options:
            self.version.value = options[0][1]
            self._show_detail()

    def _show_detail(self) -> None:
        """The selected version's card: preview, tags, TTL and lineage (source tool, run, step)."""
        name, version = self.artifacts.value, self.version.value
        if not name or version is None:
            self.detail.value = ""
            return
        try:
            art = self.store.get(name, version=version, **self._scope())
        except Exception as exc:
            self.detail.value = f"<b>Cannot show {_e(name)}:</b> {_e(exc)}"
            return
        self.detail.value = ArtifactView(self.store, art)._repr_html_()

    def _request_selected(self) -> OutgoingFile:
        name = self.artifacts.value
        if not name:
            raise InvalidInputError("no artifact selected")
        art = self.store.get(name, version=self.version.value, **self._scope())
        file_name = art.file_name or name.replace("\\", "/").rsplit("/", 1)[-1]
        return OutgoingFile(file_name, art.mime_type or "application/octet-stream",
                            art.size_bytes, self.store.open(art.artifact_id))

    def _on_progress(self, out: OutgoingFile) -> None:
        self.link.value = (f'<span style="{MUTED_STYLE}">sending {_e(out.name)}: '
                           f"{format_size(out.acked)} of {format_size(out.size)}\u2026</span>")

    def _on_done(self, out: OutgoingFile) -> None:
        self.link.value = (f'<span class="na-download-done" style="{MUTED_STYLE}">downloaded '
                           f"{_e(out.name)} ({format_size(out.size)})</span>")

    def _on_error(self, message: str) -> None:
        self.link.value = f"<b>Cannot download:</b> {_e(message)}"

    def _snapshot_text(self) -> str:
        return f"Artifacts ({self._store_line()}):\n" + listing_text(self._listed)

    def _snapshot_html(self) -> str:
        return listing_html(self._listed)

    def download(self) -> None:
        """Download the selected version (what a click on **Download** does)."""
        self.download_button.click()

    def download_all(self) -> None:
        """Download a zip of every artifact in the scope (**Download all (zip)**)."""
        self.download_all_button.click()

    def close(self) -> None:
        _unsubscribe(self)
        for button in ("download_button", "download_all_button"):
            if button in self.__dict__:
                self.__dict__[button].close()
        super().close()


class CopyButton(anywidget.AnyWidget):
    """A button that copies ``text`` to the browser's clipboard."""

    _esm = r"""
    function render({ model, el }) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "jupyter-button widget-button na-copy-button";
      b.style.width = "auto";
      const label = () => { b.textContent = model.get("description"); b.disabled = !model.get("text"); };
      label();
      model.on("change:description", label);
      model.on("change:text", label);
      b.addEventListener("click", async () => {
        const text = model.get("text");
        try { await navigator.clipboard.writeText(text); }
        catch (err) {  // no clipboard permission: select the text for Ctrl+C instead
          const area = document.createElement("textarea");
          area.value = text; el.append(area); area.select(); document.execCommand("copy"); area.remove();
        }
        b.textContent = "Copied";
        setTimeout(label, 1500);
      });
      el.append(b);
    }
    export default { render };
    """
    description = traitlets.Unicode("Copy combined context").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)


class SearchPanel(_Snapshot, w.VBox):
    """A query box over the store's semantic index: ranked result cards with citations, filters
    by tag and namespace, and a button copying the combined context (for an LLM prompt)."""

    def __init__(
        self, store: Store | None = None, *, namespace: str | None = None, session_id: str | None = None,
        k: int = 5, **kwargs: Any,
    ) -> None:
        self.store = store = _store_or_current(store)
        self.session_id = session_id
        self.query = w.Text(description="Query", placeholder="ask a question, e.g. how is drift handled?",
                            continuous_update=False, layout=w.Layout(width="520px"))
        self.k = w.BoundedIntText(value=k, min=1, max=50, description="Hits", layout=w.Layout(width="140px"))
        self.mode = w.Dropdown(options=["hybrid", "dense", "keyword"], value="hybrid", description="Mode",
                               layout=w.Layout(width="200px"))
        self.tags = w.Text(description="Tags", placeholder="all of these, comma separated")
        self.namespace = w.Text(value=namespace or "", description="Namespace", placeholder="empty: every namespace")
        self.search_button = w.Button(description="Search", icon="search", button_style="primary")
        self.copy_button = CopyButton()
        self.status = w.HTML("")
        self.results = w.HTML("")
        self.result: QueryResult | None = None
        self.search_button.on_click(lambda _b: self.search())
        self.query.observe(lambda c: self.search() if c["new"].strip() else None, names="value")
        super().__init__(
            [w.HBox([self.query, self.search_button]), w.HBox([self.k, self.mode]),
             w.HBox([self.tags, self.namespace]), w.HBox([self.copy_button, self.status]), self.results],
            **kwargs,
        )
        self.add_class("na-search-panel")

    def search(self, text: str | None = None) -> QueryResult | None:
        """Run the query (default: the Query field); returns the QueryResult, or None."""
        text = (self.query.value if text is None else text).strip()
        if not text:
            self.status.value = f'<span style="{MUTED_STYLE}">type a question first</span>'
            return None
        self.status.value = f'<span style="{MUTED_STYLE}">searching\u2026</span>'
        try:
            result = self.store.query(text, k=self.k.value, mode=self.mode.value,
                                      tags=split_list(self.tags.value) or None,
                                      namespace=self.namespace.value.strip() or None,
                                      session_id=self.session_id)
        except IndexUnavailableError as exc:  # a store opened (or served) without an index
            self.status.value = f"<b>This store has no semantic index:</b> {_e(exc)}"
            return None
        except Exception as exc:
            self.status.value = f"<b>Cannot search:</b> {_e(exc)}"
            return None
        self.result = result
        self.results.value = query_html(result)
        self.copy_button.text = result.combined_context or ""
        self.status.value = (f'<span style="{MUTED_STYLE}">{len(result.results)} of '
                             f"{result.total_results} results</span>")
        return result

    def _snapshot_text(self) -> str:
        if self.result is None:
            return f"Search panel ({self._store_line()}): run the notebook to search"
        return query_text(self.result)

    def _snapshot_html(self) -> str:
        if self.result is None:
            return _snapshot_card("Search", _e(self._snapshot_text()))
        return query_html(self.result)

    def close(self) -> None:
        self.copy_button.close()
        super().close()


class Dashboard(_Snapshot, w.VBox):
    """Upload, live events, the artifact listing (filter, sort, preview, lineage, downloads)
    and search, in tabs over one store and scope.

    ``Dashboard()`` uses the kernel's current store (the one ``%artifact`` uses).
    """

    def __init__(
        self, store: Store | None = None, *, namespace: str | None = None, session_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.store = store = _store_or_current(store)
        try:
            self.upload_panel = UploadPanel(store, namespace=namespace, session_id=session_id)
            self.event_feed = EventFeed(store, namespace=None, session_id=None)
            self.download_panel = DownloadPanel(store, namespace=namespace, session_id=session_id)
            self.search_panel = SearchPanel(store, namespace=namespace, session_id=session_id)
        except BaseException:
            self._close_panels()  # nothing half-built stays open (or listens to the store)
            raise
        self.tabs = w.Tab(children=[self.upload_panel, self.event_feed, self.download_panel,
                                    self.search_panel])
        for i, title in enumerate(("Upload", "Events", "Artifacts", "Search")):
            self.tabs.set_title(i, title)
        header = w.HTML(
            f'<b>notebook-artifacts</b> <span style="{MUTED_STYLE}">store {_e(store.location)} &middot; '
            f"namespace {_e(namespace or 'default')}"
            f"{' &middot; session ' + _e(session_id) if session_id else ''}</span>"
        )
        super().__init__([header, self.tabs], **kwargs)
        self.add_class("na-dashboard")

    def _snapshot_text(self) -> str:
        return f"notebook-artifacts dashboard ({self._store_line()})\n" + self.download_panel._snapshot_text()

    def _snapshot_html(self) -> str:
        return _snapshot_card(f"notebook-artifacts dashboard: {self._store_line()}",
                              self.download_panel._snapshot_html())

    def _close_panels(self) -> None:
        for part in ("upload_panel", "event_feed", "download_panel", "search_panel"):
            panel = self.__dict__.get(part)
            if panel is not None:
                panel.close()

    def close(self) -> None:
        self._close_panels()
        super().close()
