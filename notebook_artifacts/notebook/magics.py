"""The ``%artifact`` line magic and the ``%%artifact save NAME`` cell magic.

Every subcommand calls the :class:`~notebook_artifacts.protocol.Store` API (a local
:class:`~notebook_artifacts.ArtifactStore`, or the served store of ``%artifact connect``) and returns
an object that renders well and can be assigned (a record, a DataFrame, a query result). Any
mistake raises :class:`IPython.core.error.UsageError` with one line saying what to do.
"""

from __future__ import annotations

import argparse
import re
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Unicode, observe

from ..args import parse_meta, parse_tag_changes, split_list
from ..errors import ArtifactError, NotFoundError
from ..protocol import Store
from ..reprs import format_size
from ._commands import HELP, HelpShown, parser, subcommand_help
from ._paths import glob_paths

if TYPE_CHECKING:  # pragma: no cover
    from ..server.runner import ServerHandle
    from .watch import DirectoryWatcher

__all__ = ["ArtifactMagics", "HELP", "wait_indexed"]

@magics_class
class ArtifactMagics(Magics):
    """``%artifact`` magics. Configure defaults with ``%config ArtifactMagics.namespace = "x"``."""

    root = Unicode(
        None, allow_none=True, help="Store root directory (default: ArtifactStore.default())."
    ).tag(config=True)
    namespace = Unicode("default", help="Default namespace for %artifact commands.").tag(config=True)
    session = Unicode(
        None, allow_none=True, help="Default session id for %artifact commands."
    ).tag(config=True)

    def __init__(self, shell=None, **kwargs: Any) -> None:
        # set before super().__init__: loading %config values fires the root observer
        self._store: Store | None = None
        self._server: ServerHandle | None = None
        self._watcher: DirectoryWatcher | None = None
        super().__init__(shell=shell, **kwargs)

    # -- store -----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The current store: an :class:`ArtifactStore` (opened on first use) or the served
        store of ``%artifact connect``."""
        if self._store is None:
            from ..store import ArtifactStore

            self._store = ArtifactStore(self.root) if self.root else ArtifactStore.default()
        return self._store

    @observe("root")
    def _root_changed(self, change: dict[str, Any]) -> None:
        self._switch(None)

    def _switch(self, store: Store | None) -> None:
        old, self._store = self._store, store
        if self._server is not None and old is not store:
            # the server serves the old store, which is closed below
            try:
                self._server.stop()
            finally:
                self._server = None
            print("Stopped the %artifact serve server of the previous store", file=sys.stderr)
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if old is not None and old is not store:
            try:
                old.close()
            except Exception:  # pragma: no cover - closing is best effort
                pass

    @property
    def server(self) -> ServerHandle | None:
        """The running ``%artifact serve`` server handle, or None."""
        return self._server

    def close(self) -> None:
        """Stop the watcher and server and close the store (``%unload_ext``)."""
        if self._server is not None:
            try:
                self._server.stop()
            finally:
                self._server = None
        self._switch(None)

    def _scope(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "namespace": args.namespace or self.namespace or "default",
            "session_id": args.session if args.session is not None else self.session,
        }

    # -- entry points ----------------------------------------------------------------------
    @line_cell_magic
    def artifact(self, line: str, cell: str | None = None) -> Any:
        """Versioned artifacts: ``%artifact help`` lists the subcommands."""
        try:
            argv = shlex.split(line, comments=True)  # a trailing "# note" is a comment
        except ValueError as exc:
            raise UsageError(f"%artifact: cannot parse the line ({exc}); check the quotes") from None
        if cell is not None:
            if not argv or argv[0] != "save":
                raise UsageError("%%artifact: the cell form is `%%artifact save NAME [--tags a,b]`")
            return self._run(self._cmd_save, argv[1:], cell, prefix="%%artifact save: ")
        if not argv or argv[0] in ("--help", "-h"):
            print(HELP)
            return None
        sub, rest = argv[0], argv[1:]
        handler = self._commands().get(sub)
        if handler is None:
            if sub == "save":
                raise UsageError("%artifact save needs a cell body: use `%%artifact save NAME` as the cell's first line")
            raise UsageError(
                f"%artifact: unknown subcommand {sub!r}; one of: {', '.join(sorted(self._commands()))}"
            )
        return self._run(handler, rest, prefix=f"%artifact {sub}: ")

    def _commands(self) -> dict[str, Callable[..., Any]]:
        return {
            "use": self._cmd_use, "connect": self._cmd_connect, "upload": self._cmd_put, "put": self._cmd_put,
            "ls": self._cmd_ls, "list": self._cmd_ls, "show": self._cmd_show, "get": self._cmd_get,
            "versions": self._cmd_versions, "diff": self._cmd_diff, "tag": self._cmd_tag, "pin": self._cmd_pin,
            "unpin": self._cmd_unpin, "ttl": self._cmd_ttl, "rm": self._cmd_rm,
            "query": self._cmd_query, "wait": self._cmd_wait, "events": self._cmd_events,
            "download": self._cmd_download, "promote": self._cmd_promote,
            "serve": self._cmd_serve, "watch": self._cmd_watch, "unwatch": self._cmd_unwatch,
            "gc": self._cmd_gc, "help": self._cmd_help,
        }

    def _run(self, handler: Callable[..., Any], *args: Any, prefix: str = "") -> Any:
        try:
            return handler(*args)
        except HelpShown:
            return None
        except UsageError:
            raise
        except NotFoundError as exc:
            # the store's hint names the Python API and the CLI; here the magic is the way
            text = re.sub(r";\s*list what exists.*$", "", _one_line(exc))
            raise UsageError(f"{prefix}{text}; see what exists with %artifact ls "
                             "(--all for every namespace and session)") from None
        except (ArtifactError, OSError, ValueError, TypeError, LookupError) as exc:
            raise UsageError(prefix + _one_line(exc)) from None

    # -- subcommands -----------------------------------------------------------------------
    def _cmd_help(self, argv: list[str]) -> None:
        args = parser("help").parse_args(argv)
        print((subcommand_help(args.subcommand) if args.subcommand else HELP).rstrip("\n"))
        return None

    def _cmd_use(self, argv: list[str]) -> Store:
        p = parser("use")
        args = p.parse_args(argv)
        from ..store import ArtifactStore

        path = os.path.expanduser(args.path)
        store = ArtifactStore(path, index=not args.no_index)
        self._switch(store)
        return store

    def _cmd_connect(self, argv: list[str]) -> Store:
        from .connect import connect_command

        return connect_command(self, argv)

    def _cmd_put(self, argv: list[str]) -> Any:
        p = parser("put")
        args = p.parse_args(argv)
        files: list[str] = []
        for pattern in args.paths:
            pattern = os.path.expanduser(pattern)
            matches = glob_paths(pattern)
            if not matches:
                raise UsageError(f"%artifact put: no file matches {pattern!r}")
            files += [m for m in matches if os.path.isfile(m)]
        if not files:
            raise UsageError("%artifact put: the paths match only folders; give files or a glob like dir/*.csv")
        if args.name and len(files) > 1:
            raise UsageError(f"%artifact put: --name needs exactly one file, got {len(files)}")
        common = dict(
            tags=split_list(args.tags), metadata=parse_meta(args.meta),
            description=args.description, ttl=args.ttl, pinned=args.pin,
            artifact_type=args.artifact_type, source_tool="notebook-magic",
            **self._scope(args),
        )
        if args.no_index:
            common["index"] = False
        common = {k: v for k, v in common.items() if v is not None}
        if len(files) == 1:
            from .previews import ArtifactView

            return ArtifactView(self.store, self.store.put(files[0], args.name, **common))
        from ..store import names_for_paths

        names = names_for_paths(files)  # the same rule as for one file; clashes refused first
        from ..models import Page

        # one transaction: every file is stored, or (on an error naming the file) none
        stored = self.store.put_many(list(zip(files, names)), **common)
        return Page(artifacts=stored, total=len(stored), has_more=False)

    def _cmd_ls(self, argv: list[str]) -> Any:
        p = parser("ls")
        args = p.parse_args(argv)
        if args.all:
            scope: dict[str, Any] = {"namespace": None, "session_id": None}
        else:
            scope = self._scope(args)
        page = self.store.list(
            **scope, tags=split_list(args.tags) or None, types=split_list(args.types) or None,
            include_expired=args.expired, limit=args.limit,
        )
        from ._frame import records_frame

        frame = records_frame(list(page.artifacts), total=page.total)
        if page.has_more:
            print(f"Showing {len(frame)} of {page.total}; use --limit N for more")
        return frame

    def _cmd_show(self, argv: list[str]) -> Any:
        p = parser("show")
        args = p.parse_args(argv)
        from .previews import ArtifactView

        return ArtifactView(self.store, self.store.get(args.ref, version=args.version, **self._scope(args)))

    def _cmd_get(self, argv: list[str]) -> Any:
        p = parser("get")
        args = p.parse_args(argv)
        art = self.store.get(args.ref, version=args.version, **self._scope(args))
        if not args.output:
            return self.store.load(art.artifact_id)
        dest = self.store.download(art.artifact_id, os.path.expanduser(args.output))
        print(f"Wrote {art.name} v{art.version} ({format_size(art.size_bytes)}) to {dest}")
        return dest

    def _cmd_versions(self, argv: list[str]) -> Any:
        args = parser("versions").parse_args(argv)
        from ._frame import records_frame

        return records_frame(self.store.versions(args.ref, **self._scope(args)))

    _TAG_OPTIONS = ("--namespace", "--ns", "--session", "--version")

    def _cmd_diff(self, argv: list[str]) -> Any:
        args = parser("diff").parse_args(argv)
        return self.store.diff(args.ref, args.a, args.b, **self._scope(args))

    def _cmd_tag(self, argv: list[str]) -> Any:
        if "--help" in argv or argv[:1] == ["-h"]:
            print(subcommand_help("tag").rstrip("\n"))
            return None
        i = 0  # options may come first: the ref is the first token that is not one
        while i < len(argv) and argv[i].partition("=")[0] in self._TAG_OPTIONS:
            i += 1 if "=" in argv[i] else 2
        if i >= len(argv) or argv[i].startswith(("-", "+")):
            raise UsageError("%artifact tag REF +a -b: give a ref then tags to add (+a or a) or remove (-b)")
        ref, rest = argv[i], argv[:i] + argv[i + 1:]
        changes = parse_tag_changes(rest, value_options=self._TAG_OPTIONS)
        if not changes.add and not changes.remove:
            raise UsageError("%artifact tag REF +a -b: no tags given")
        opts = changes.options
        args = argparse.Namespace(namespace=opts.get("--namespace", opts.get("--ns")),
                                  session=opts.get("--session"))
        version = opts.get("--version")
        if version is not None and not str(version).isdigit():
            raise UsageError(f"%artifact tag: --version {version!r}: give a version number")
        return self.store.update(ref, version=int(version) if version else None,
                                 add_tags=changes.add, remove_tags=changes.remove, **self._scope(args))

    def _cmd_pin(self, argv: list[str], pinned: bool = True) -> Any:
        args = parser("pin" if pinned else "unpin").parse_args(argv)
        return self.store.update(args.ref, pinned=pinned, **self._scope(args))

    def _cmd_unpin(self, argv: list[str]) -> Any:
        return self._cmd_pin(argv, pinned=False)

    def _cmd_ttl(self, argv: list[str]) -> Any:
        p = parser("ttl")
        args = p.parse_args(argv)
        ttl = None if args.ttl.lower() in ("none", "never", "off") else args.ttl
        return self.store.update(args.ref, ttl=ttl, **self._scope(args))

    def _cmd_rm(self, argv: list[str]) -> Any:
        p = parser("rm")
        args = p.parse_args(argv)
        result = self.store.delete(args.ref, version=args.version, **self._scope(args))
        what = f"{args.ref} v{args.version}" if args.version else args.ref
        print(f"Deleted {what}")
        return result

    def _cmd_query(self, argv: list[str]) -> Any:
        p = parser("query")
        args = p.parse_args(argv)
        query = self.store.query
        if not args.no_wait:
            wait_indexed(self.store)
        scope = {"namespace": None, "session_id": None} if args.all else self._scope(args)
        # progress: the store's bar while the embedding model loads (or the server answers)
        return query(" ".join(args.text), k=args.k,
                     mode="dense" if args.mode == "semantic" else args.mode,
                     tags=split_list(args.tags) or None, progress=True, **scope)

    def _cmd_wait(self, argv: list[str]) -> Any:
        p = parser("wait")
        args = p.parse_args(argv)
        if not wait_indexed(self.store, timeout=args.timeout):
            left = self.store.pending_count()
            print(f"Still indexing after {args.timeout:g} s: {left} pending; "
                  "run %artifact wait again (queries see what is indexed so far)")
        return None  # nothing to echo: the bar said it

    def _cmd_events(self, argv: list[str]) -> Any:
        p = parser("events")
        args = p.parse_args(argv)
        scope = {"namespace": None, "session_id": None} if args.all else self._scope(args)
        if args.follow:
            from .widgets import EventFeed

            return EventFeed(self.store, **scope)
        after = args.after
        if after is None:
            after = max(0, self.store.latest_cursor() - args.limit)
        page = self.store.events(
            after=after, limit=args.limit, include_mime=args.mime,
            types=split_list(args.types) or None, **scope,
        )
        page.events.reverse()  # newest first, like the live feed
        return page

    def _cmd_download(self, argv: list[str]) -> Any:
        p = parser("download")
        args = p.parse_args(argv)
        from ._links import artifact_link, zip_link

        if args.all:
            if args.ref:
                raise UsageError("%artifact download: give REF or --all, not both")
            return zip_link(self.store, **self._scope(args))
        if not args.ref:
            raise UsageError("%artifact download REF | --all: name an artifact or use --all")
        return artifact_link(self.store, args.ref, version=args.version, server=self._server, **self._scope(args))

    def _cmd_promote(self, argv: list[str]) -> Any:
        args = parser("promote").parse_args(argv)
        return self.store.promote(args.ref, **self._scope(args))

    def _cmd_serve(self, argv: list[str]) -> Any:
        p = parser("serve")
        args = p.parse_args(argv)
        if args.action == "stop":
            if self._server is None:
                print("No server is running")
                return None
            self._server.stop()
            self._server = None
            print("Server stopped")
            return None
        if self._server is not None:
            print(f"Serving at {self._server.url} (stop with %artifact serve stop)")
            return self._server
        if args.action == "status":
            print("No server is running (start with %artifact serve)")
            return None
        if self.store.root is None:  # a RemoteStore: its server already serves it
            raise UsageError(
                f"%artifact serve: this kernel is connected to {self.store.location}, which "
                "serves the store already: share that URL, or `%artifact connect --local` to "
                "serve a store on this machine")
        try:
            from ..server.runner import serve_in_thread
        except ImportError as exc:
            raise UsageError(
                f"%artifact serve needs the server extra: pip install 'notebook-artifacts[server]' ({exc})"
            ) from None
        self._server = serve_in_thread(self.store, host=args.host, port=args.port, token=args.token)
        print(f"Serving {self.store!r} at {self._server.url}\nToken: {self._server.token}\n"
              "Stop with %artifact serve stop")
        return self._server

    def _cmd_watch(self, argv: list[str]) -> Any:
        p = parser("watch")
        args = p.parse_args(argv)
        from .watch import DirectoryWatcher

        if not os.path.isdir(args.dir):
            raise UsageError(f"%artifact watch: {args.dir!r} is not a folder")
        if self._watcher is not None:
            self._watcher.stop()
        scope = self._scope(args)
        self._watcher = DirectoryWatcher(
            self.store, args.dir, namespace=scope["namespace"], session_id=scope["session_id"],
            exclude=args.exclude,
        )
        self._watcher.start(self.shell)
        print(f"Watching {os.path.abspath(args.dir)}: files written by each cell become artifact versions "
              f"({self._watcher.file_count} files now; stop with %artifact unwatch)")
        return None

    def _cmd_unwatch(self, argv: list[str]) -> Any:
        parser("unwatch").parse_args(argv)
        if self._watcher is None:
            print("Not watching any folder")
            return None
        self._watcher.stop()
        self._watcher = None
        print("Stopped watching")
        return None

    def _cmd_gc(self, argv: list[str]) -> Any:
        parser("gc").parse_args(argv)
        return self.store.gc()

    def _cmd_save(self, argv: list[str], cell: str) -> Any:
        p = parser("save")
        args = p.parse_args(argv)
        kw: dict[str, Any] = dict(
            tags=split_list(args.tags), ttl=args.ttl, pinned=args.pin, mime_type=args.mime,
            artifact_type=args.artifact_type, description=args.description,
            metadata=parse_meta(args.meta), source_tool="notebook-cell",
            source_step_id=_execution_count(self.shell), **self._scope(args),
        )
        # bytes, so a body that happens to name an existing file is still stored as text
        return self.store.put(cell.encode("utf-8"), args.name, **{k: v for k, v in kw.items() if v is not None})


def _execution_count(shell: Any) -> str | None:
    """The execution count of the cell running now.

    IPython stores a cell's input in the history before running it (``In[n]``), while the
    moment ``shell.execution_count`` is incremented differs between IPython 8 and 9.
    """
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if history is not None and len(history) > 1:
        return str(len(history) - 1)
    count = getattr(shell, "execution_count", None)
    return str(count) if count is not None else None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:
        text = f"{exc.strerror or text}: {exc.filename}"
    return " ".join(text.split())


def wait_indexed(store: Store, timeout: float | None = None) -> bool:
    """``store.wait_indexed`` with its progress bar (the model load, artifacts, chunks)."""
    return bool(store.wait_indexed(timeout=timeout, progress=True))
