"""The ``notebook-artifacts`` command line: a face over the :class:`~notebook_artifacts.protocol.Store`
API (the directory of ``--root``, or the served store of ``--url``).

Other faces add their subcommands by decorating a function onto :data:`cli`::

    from notebook_artifacts.cli import cli, pass_store, json_option, emit

    @cli.command()
    @json_option
    @pass_store
    def query(store, as_json, ...):
        ...

Errors print one line (``error: ...``) to stderr: exit code 2 for rejected input or usage,
1 for anything else (not found, integrity, I/O). Never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from .args import parse_meta, parse_tag_changes, split_list
from .errors import ArtifactError, InvalidInputError
from .protocol import Store
from .models import Artifact, Event
from .reprs import format_size, text_table

if TYPE_CHECKING:  # pragma: no cover
    from .store import ArtifactStore

__all__ = ["cli", "main", "pass_store", "json_option", "scope_options", "emit", "print_table",
           "human_size", "CliError"]


class CliError(click.ClickException):
    """A one-line error with its exit code."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _Group(click.Group):
    """Turns every exception of a subcommand into a one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except InvalidInputError as exc:
            raise CliError(str(exc), 2) from None
        except ArtifactError as exc:
            raise CliError(str(exc), 1) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise click.exceptions.Exit(1) from None
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except OSError as exc:
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            raise CliError(f"{exc.strerror or exc}{where}", 1) from None
        except Exception as exc:  # noqa: BLE001 - last resort, still one line
            raise CliError(f"unexpected {type(exc).__name__}: {exc}", 1) from None


class _State:
    def __init__(self, root: str | None, url: str | None = None, token: str | None = None,
                 blobs: str | None = None, catalog: str | None = None,
                 index_url: str | None = None):
        self.root = root
        self.url = url
        self.token = token
        self.blobs = blobs  # None: $NOTEBOOK_ARTIFACTS_BLOBS, else files under root
        #: a PostgreSQL URL (--catalog / $NOTEBOOK_ARTIFACTS_CATALOG); None: embedded
        self.catalog = catalog
        #: a Chroma server (--index-url / $NOTEBOOK_ARTIFACTS_INDEX_URL); None: <root>/index
        self.index_url = index_url
        self._store: Store | None = None

    def local(self, root: str | None = None, **kwargs: Any) -> ArtifactStore:
        """An ArtifactStore on ``root`` (default --root) with this command's --catalog,
        --blobs and --index-url."""
        from .store import ArtifactStore

        return ArtifactStore(root if root is not None else self.root, blobs=self.blobs,
                             catalog=self.catalog, index_url=self.index_url, **kwargs)

    def store(self, ctx: click.Context) -> Store:
        if self._store is None:
            if self.url:
                from .remote import connect

                self._store = connect(self.url, self.token)
            else:
                # A CLI process is short-lived: it leaves index work pending for the process
                # that holds the index (a kernel, the server) instead of loading the model.
                self._store = self.local(background_index=False)
            ctx.call_on_close(self._store.close)
        return self._store


_BLOBS_HELP = ("Keep content on this fsspec URL, e.g. s3://bucket/prefix (default: "
               "$NOTEBOOK_ARTIFACTS_BLOBS, else files under the store directory). S3 reads "
               "AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
_CATALOG_HELP = ("Shared catalog: a PostgreSQL URL, postgresql://user@host:5432/db "
                 "(default: $NOTEBOOK_ARTIFACTS_CATALOG, else the embedded one in the root).")
_INDEX_URL_HELP = ("Keep the vector index on this Chroma server, http://host:8000 (default: "
                   "$NOTEBOOK_ARTIFACTS_INDEX_URL, else the embedded one in the root).")
_URL_HELP = ("Use the store served at this URL (`notebook-artifacts serve`) instead of a "
             "directory (default: $NOTEBOOK_ARTIFACTS_URL).")
_TOKEN_HELP = "Token for --url (default: $NOTEBOOK_ARTIFACTS_TOKEN)."


def _state_option(flag: str, attr: str, metavar: str, help_text: str
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``flag`` on a subcommand too: it overrides the group's option of the same name."""

    def remember(ctx: click.Context, _param: Any, value: str | None) -> None:
        if value:
            setattr(ctx.find_object(_State), attr, value)

    return click.option(flag, metavar=metavar, default=None, expose_value=False,
                        callback=remember, help=help_text)


catalog_option = _state_option("--catalog", "catalog", "URL", _CATALOG_HELP)
blobs_option = _state_option("--blobs", "blobs", "URL", _BLOBS_HELP)
index_url_option = _state_option("--index-url", "index_url", "URL", _INDEX_URL_HELP)


def store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Where the store is: ``--catalog``, ``--blobs``, ``--index-url``, ``--url`` and
    ``--token``."""
    for option in (_state_option("--token", "token", "TOKEN", _TOKEN_HELP),
                   _state_option("--url", "url", "URL", _URL_HELP), index_url_option,
                   blobs_option, catalog_option):
        f = option(f)
    return f


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="NOTEBOOK_ARTIFACTS_HOME", metavar="DIR", default=None,
              help="Store directory (default: $NOTEBOOK_ARTIFACTS_HOME, else ./.artifacts).")
@click.option("--catalog", envvar="NOTEBOOK_ARTIFACTS_CATALOG", metavar="URL", default=None,
              help=_CATALOG_HELP)
@click.option("--blobs", envvar="NOTEBOOK_ARTIFACTS_BLOBS", metavar="URL", default=None,
              help=_BLOBS_HELP)
@click.option("--index-url", envvar="NOTEBOOK_ARTIFACTS_INDEX_URL", metavar="URL", default=None,
              help=_INDEX_URL_HELP)
@click.option("--url", envvar="NOTEBOOK_ARTIFACTS_URL", metavar="URL", default=None, help=_URL_HELP)
@click.option("--token", envvar="NOTEBOOK_ARTIFACTS_TOKEN", metavar="TOKEN", default=None,
              help=_TOKEN_HELP)
@click.version_option(package_name="notebook-artifacts")
@click.pass_context
def cli(ctx: click.Context, root: str | None, catalog: str | None, blobs: str | None,
        index_url: str | None, url: str | None, token: str | None) -> None:
    """Versioned artifacts with tags, TTL, events and semantic query."""
    ctx.obj = _State(root, url or None, token or None, blobs or None, catalog or None,
                     index_url or None)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="notebook-artifacts")


# -- helpers other subcommands reuse ------------------------------------------------------
def pass_store(f: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the :class:`Store` as the first argument: the directory of ``--root`` (with its
    ``--catalog`` and ``--blobs``), or the served store of ``--url``; those options are on the
    group and on every command using a store."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return f(ctx.find_object(_State).store(ctx), *args, **kwargs)

    return store_options(wrapper)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--json`` (passed as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(f)


def scope_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-n/--namespace`` and ``-s/--session`` (passed as ``namespace``, ``session_id``)."""
    f = click.option("-s", "--session", "session_id", default=None, help="Session (thread) id.")(f)
    return click.option("-n", "--namespace", default="default", show_default=True,
                        help="Namespace path, e.g. myapp/user1.")(f)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, (list, tuple)):
        return [_plain(o) for o in obj]
    return obj


def emit(obj: Any, as_json: bool, table: Callable[[], None] | None = None) -> None:
    """Print ``obj`` as JSON, or call ``table`` to print it for people."""
    if as_json or table is None:
        click.echo(json.dumps(_plain(obj), indent=2, default=str))
    else:
        table()


#: The one size formatter (KiB, MiB: powers of 1024), shared with the notebook.
human_size = format_size


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Left-aligned columns separated by two spaces (the notebook's text tables)."""
    click.echo(text_table(rows, [h.upper() for h in headers]))


def _artifact_rows(arts: Iterable[Artifact]) -> list[list[Any]]:
    return [[a.name, a.version, a.session_id or "", human_size(a.size_bytes), a.mime_type,
             ",".join(a.tags), (a.created_at or "")[:19].replace("T", " "),
             "pinned" if a.is_pinned else ("expired" if a.is_expired else (a.expires_at or "")[:16]),
             a.artifact_id] for a in arts]


_ART_HEADERS = ["name", "ver", "session", "size", "mime", "tags", "created", "expires", "id"]


def _parse_meta(pairs: Iterable[str], meta_json: str | None,
                option: str = "--meta") -> dict[str, Any] | None:
    """``--metadata JSON`` then ``--meta KEY=VALUE`` entries (the shared grammar)."""
    if meta_json is None and not pairs:
        return None
    meta: dict[str, Any] = {}
    if meta_json is not None:
        try:
            meta = json.loads(meta_json)
        except ValueError as exc:
            raise CliError(f"--metadata is not JSON: {exc}", 2) from None
        if not isinstance(meta, dict):
            raise CliError("--metadata must be a JSON object", 2)
    try:
        meta.update(parse_meta(pairs, option) or {})
    except InvalidInputError as exc:
        raise CliError(str(exc), 2) from None
    return meta


# -- commands -------------------------------------------------------------------------------
@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--name", default=None, help="Artifact name (one source only).")
@scope_options
@click.option("-t", "--tag", "tags", multiple=True, help="Tag (repeat, or comma-separated).")
@click.option("--meta", "meta_pairs", multiple=True, metavar="KEY=VALUE", help="Metadata entry.")
@click.option("--metadata", "meta_json", default=None, metavar="JSON", help="Metadata object.")
@click.option("--description", default=None)
@click.option("--ttl", default=None, help='Time to live: seconds or "30m", "1h", "7d".')
@click.option("--pin", is_flag=True, help="Never expire.")
@click.option("--text", is_flag=True, help="Store each SOURCE as text instead of a file path.")
@click.option("--source-tool", default=None,
              help='Tool recorded on the version and its events (default "cli").')
@click.option("--no-index", is_flag=True, help="Do not queue for semantic indexing.")
@json_option
@pass_store
def put(store: Store, sources: tuple[str, ...], name: str | None, namespace: str,
        session_id: str | None, tags: tuple[str, ...], meta_pairs: tuple[str, ...],
        meta_json: str | None, description: str | None, ttl: str | None, pin: bool, text: bool,
        source_tool: str | None, no_index: bool, as_json: bool) -> None:
    """Store files (or '-' for stdin, or --text) as new artifact versions."""
    from pathlib import Path

    if name and len(sources) > 1:
        raise CliError("--name needs exactly one source", 2)
    metadata = _parse_meta(meta_pairs, meta_json)
    if not text and name is None:
        from .store import names_for_paths

        names_for_paths(s for s in sources if s != "-")  # the one naming rule; clashes refused
    items: list[dict[str, Any]] = []
    for src in sources:
        if text:
            items.append({"text": src, "name": name})  # text on purpose, even when it looks like a path
        elif src == "-":
            if name is None:
                raise CliError("reading stdin needs --name", 2)
            items.append({"src": click.get_binary_stream("stdin"), "name": name})
        else:
            if not Path(src).is_file():
                raise CliError(f"no such file: {src} (use --text to store the argument as text)", 1)
            items.append({"src": Path(src), "name": name})
    common: dict[str, Any] = dict(
        namespace=namespace, session_id=session_id, tags=split_list(tags), metadata=metadata,
        description=description, ttl=ttl, pinned=pin, source="cli",
        source_tool=source_tool or "cli", index=not no_index)
    if len(items) == 1:
        item = items[0]
        made = [store.put(item.get("src"), item["name"], text=item.get("text"), **common)]
    else:  # several: one transaction, all stored or none
        made = store.put_many(items, **common)
    emit(made, as_json, lambda: print_table(_artifact_rows(made), _ART_HEADERS))


@cli.command(name="ls")
@click.option("-n", "--namespace", default=None, help="Namespace (default: all).")
@click.option("-s", "--session", "session_id", default=None, help="Session id (default: all).")
@click.option("-t", "--tag", "tags", multiple=True, help="Only artifacts with this tag (repeat).")
@click.option("--type", "types", multiple=True, help="Only this artifact_type (repeat).")
@click.option("-a", "--all", "include_expired", is_flag=True, help="Include expired versions.")
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--cursor", default=None, help="next_cursor of a previous page.")
@json_option
@pass_store
def ls_cmd(store: Store, namespace: str | None, session_id: str | None, tags: tuple[str, ...],
           types: tuple[str, ...], include_expired: bool, limit: int, cursor: str | None,
           as_json: bool) -> None:
    """List the latest version of each artifact, newest first."""
    page = store.list(namespace=namespace, session_id=session_id, tags=split_list(tags) or None,
                      types=list(types) or None, include_expired=include_expired, limit=limit,
                      cursor=cursor)

    def table() -> None:
        print_table(_artifact_rows(page.artifacts), _ART_HEADERS)
        more = f"; more with --cursor {page.next_cursor}" if page.has_more else ""
        click.echo(f"{len(page.artifacts)} of {page.total}{more}", err=True)

    emit(page, as_json, table)


@cli.command()
@click.argument("ref")
@click.option("-o", "--output", default="-", show_default=True,
              help="File or directory to write to ('-' = stdout).")
@click.option("--version", "version", type=int, default=None)
@scope_options
@click.option("--info", is_flag=True, help="Print the record instead of the content.")
@json_option
@pass_store
def get(store: Store, ref: str, output: str, version: int | None, namespace: str,
        session_id: str | None, info: bool, as_json: bool) -> None:
    """Write an artifact's content to a file or stdout (or show its record with --info)."""
    import shutil

    a = store.get(ref, version, namespace=namespace, session_id=session_id)
    if info:
        emit(a, True)
        return
    if output == "-":
        with store.open(a.artifact_id) as src:
            out = click.get_binary_stream("stdout")
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
        return
    dest = store.download(a.artifact_id, output)
    if as_json:
        emit({"artifact_id": a.artifact_id, "version": a.version, "path": str(dest)}, True)
    else:
        click.echo(f"wrote {a.name} v{a.version} ({human_size(a.size_bytes)}) to {dest}", err=True)


@cli.command()
@click.argument("ref")
@scope_options
@click.option("-a", "--all", "include_expired", is_flag=True, help="Include expired versions.")
@json_option
@pass_store
def versions(store: Store, ref: str, namespace: str, session_id: str | None, include_expired: bool,
             as_json: bool) -> None:
    """List every version of an artifact, oldest first."""
    vs = store.versions(ref, namespace=namespace, session_id=session_id,
                        include_expired=include_expired)
    emit(vs, as_json, lambda: print_table(
        [[v.version, "*" if v.is_latest else "", human_size(v.size_bytes), v.sha256[:12],
          ",".join(v.tags), (v.created_at or "")[:19].replace("T", " "), v.artifact_id] for v in vs],
        ["ver", "latest", "size", "sha256", "tags", "created", "id"]))


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("ref")
@click.argument("changes", nargs=-1, type=click.UNPROCESSED)
@click.option("--version", "version", type=int, default=None)
@scope_options
@json_option
@pass_store
def tag(store: Store, ref: str, changes: tuple[str, ...], version: int | None, namespace: str,
        session_id: str | None, as_json: bool) -> None:
    """Add (+TAG or TAG) and remove (-TAG) tags, e.g. `tag report.md +final -draft`.

    Options may also follow the tags: --json, --version N, -n NS, -s SESSION.
    """
    try:
        parsed = parse_tag_changes(
            changes, value_options=("--version", "-n", "--namespace", "-s", "--session"),
            flags=("--json",))
    except InvalidInputError as exc:
        raise CliError(str(exc), 2) from None
    adds, removes, opts = parsed.add, parsed.remove, parsed.options
    as_json = as_json or bool(opts.get("--json"))
    if "--version" in opts:
        if not str(opts["--version"]).isdigit():
            raise CliError(f"--version {opts['--version']!r}: give a version number", 2)
        version = int(opts["--version"])
    namespace = opts.get("--namespace", opts.get("-n", namespace))
    session_id = opts.get("--session", opts.get("-s", session_id))
    if not adds and not removes:
        raise CliError("give tags to change: +add -remove", 2)
    a = store.update(ref, version=version, namespace=namespace, session_id=session_id,
                     add_tags=adds, remove_tags=removes)
    emit(a, as_json, lambda: click.echo(f"{a.name} v{a.version}: {', '.join(a.tags) or '(no tags)'}"))


@cli.command()
@click.argument("ref")
@click.option("--version", "version", type=int, default=None)
@scope_options
@click.option("--ttl", default=None, help='New TTL ("1h", "7d", seconds) or "none" to clear.')
@click.option("--pin/--unpin", default=None, help="Pin (never expire) or unpin.")
@click.option("--description", default=None)
@click.option("--metadata", "meta_json", default=None, metavar="JSON", help="Replace metadata.")
@json_option
@pass_store
def update(store: Store, ref: str, version: int | None, namespace: str, session_id: str | None,
           ttl: str | None, pin: bool | None, description: str | None, meta_json: str | None,
           as_json: bool) -> None:
    """Change an artifact's TTL, pin, description or metadata."""
    kwargs: dict[str, Any] = {}
    if ttl is not None:
        kwargs["ttl"] = None if ttl.lower() in ("none", "off", "0") else ttl
    a = store.update(ref, version=version, namespace=namespace, session_id=session_id,
                     pinned=pin, description=description,
                     metadata=_parse_meta((), meta_json), **kwargs)
    emit(a, as_json, lambda: print_table(_artifact_rows([a]), _ART_HEADERS))


@cli.command()
@click.argument("ref")
@click.option("--version", "version", type=int, default=None, help="Delete only this version.")
@scope_options
@json_option
@pass_store
def rm(store: Store, ref: str, version: int | None, namespace: str, session_id: str | None,
       as_json: bool) -> None:
    """Delete an artifact (every version, or one with --version)."""
    gone = store.delete(ref, version, namespace=namespace, session_id=session_id)
    emit(gone, as_json, lambda: click.echo(
        f"deleted {gone[0].name}: version(s) {', '.join(str(a.version) for a in gone)}"))


def _event_line(e: Event) -> str:
    import datetime as dt

    when = dt.datetime.fromtimestamp(e.timestamp, tz=dt.timezone.utc).strftime("%H:%M:%S")
    scope = e.namespace + (f"/{e.session_id}" if e.session_id else "")
    return (f"{e.cursor:>6}  {when}  {e.type:<15} {e.name} v{e.version}  [{scope}]  "
            f"{e.mime_type or ''} {human_size(e.size_bytes)}  tool={e.source_tool or '-'}")


@cli.command()
@click.option("--after", default=0, type=int, help="Cursor to start after (0 = beginning).")
@click.option("-f", "--follow", is_flag=True, help="Keep waiting for new events (Ctrl-C stops).")
@click.option("--wait", "wait_seconds", default=0.0, type=float, help="Seconds to wait (0-60).")
@click.option("-n", "--namespace", default=None)
@click.option("-s", "--session", "session_id", default=None)
@click.option("--mime", "include_mime", multiple=True, help="MIME prefix filter (repeat).")
@click.option("--ext", "include_ext", multiple=True, help="Extension filter (repeat).")
@click.option("--max-size", default=None, type=int)
@click.option("--type", "types", multiple=True, help="Event type filter (repeat).")
@click.option("--limit", default=100, show_default=True, type=int)
@json_option
@pass_store
def events(store: Store, after: int, follow: bool, wait_seconds: float, namespace: str | None,
           session_id: str | None, include_mime: tuple[str, ...], include_ext: tuple[str, ...],
           max_size: int | None, types: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Print the event log; --follow streams new events (JSON lines with --json)."""
    kw = dict(namespace=namespace, session_id=session_id, include_mime=list(include_mime) or None,
              include_ext=list(include_ext) or None, max_size=max_size, types=list(types) or None,
              limit=limit)
    cursor = after
    while True:
        page = store.events(after=cursor, wait_seconds=30 if follow else wait_seconds, **kw)
        if page.gap:
            click.echo(f"warning: events before cursor {cursor} were trimmed (gap)", err=True)
        for e in page.events:
            click.echo(json.dumps(e.to_dict(), default=str) if as_json else _event_line(e))
        cursor = page.next_cursor
        if not follow and not page.has_more:
            if not as_json:
                click.echo(f"next cursor: {cursor}", err=True)
            return
        sys.stdout.flush()


@cli.command()
@click.option("--events-keep", default=100_000, show_default=True, type=int,
              help="Events to keep in the log.")
@json_option
@pass_store
def gc(store: Store, events_keep: int, as_json: bool) -> None:
    """Expire due artifacts and reclaim content nothing references."""
    r = store.gc(events_keep=events_keep)
    emit(r, as_json, lambda: click.echo(
        f"expired versions removed: {r.expired_versions}; blobs removed: {r.blobs_removed} "
        f"({human_size(r.bytes_freed)}); temp files: {r.temp_files_removed}; "
        f"events trimmed: {r.events_trimmed}"))


@cli.command()
@click.option("--repair", is_flag=True, help="Fix what is safe to fix.")
@click.option("--no-verify", is_flag=True, help="Skip re-hashing every blob.")
@json_option
@pass_store
def fsck(store: Store, repair: bool, no_verify: bool, as_json: bool) -> None:
    """Check the store (exit code 1 when problems remain)."""
    r = store.fsck(repair=repair, verify_content=not no_verify)

    def table() -> None:
        if r.problems:
            print_table([[p.kind, "yes" if p.repaired else "no", p.detail, p.path or ""]
                         for p in r.problems], ["problem", "repaired", "detail", "path"])
        click.echo(f"{'ok' if r.ok else 'PROBLEMS'}: {r.checked_versions} versions, "
                   f"{r.checked_blobs} blobs checked")

    emit(r, as_json, table)
    if not r.ok:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("-n", "--namespace", default=None, help="Namespace (default: all).")
@json_option
@pass_store
def sessions(store: Store, namespace: str | None, as_json: bool) -> None:
    """List sessions with their artifact counts."""
    rows = store.sessions(namespace)
    emit(rows, as_json, lambda: print_table(
        [[s["namespace"], s["session_id"], s["artifacts"], human_size(s["size_bytes"]),
          (s["updated_at"] or "")[:19].replace("T", " "), s["closed_at"] or ""] for s in rows],
        ["namespace", "session", "artifacts", "size", "updated", "closed"]))


@cli.command(name="close-session")
@click.argument("session_id")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--clean/--keep", default=None,
              help="Delete its unpinned artifacts (default: per NOTEBOOK_ARTIFACTS_AUTO_CLEAN).")
@json_option
@pass_store
def close_session(store: Store, session_id: str, namespace: str, clean: bool | None,
                  as_json: bool) -> None:
    """Mark a session closed (and clean it when auto-clean is on)."""
    r = store.close_session(session_id, namespace, clean=clean)
    emit(r, as_json, lambda: click.echo(
        f"closed {session_id}; cleaned: {r['cleaned']}; versions removed: {r['removed_versions']}"))


@cli.command(name="export")
@click.argument("dest")
@click.option("-n", "--namespace", default=None, help="Namespace (default: 'default').")
@click.option("-s", "--session", "session_id", default=None)
@json_option
@pass_store
def export_cmd(store: Store, dest: str, namespace: str | None, session_id: str | None,
               as_json: bool) -> None:
    """Zip the latest artifacts of a session or namespace into DEST ('-' = stdout)."""
    if namespace is None and session_id is None:
        raise CliError("give --session and/or --namespace", 2)
    if dest == "-":
        store.export_zip(click.get_binary_stream("stdout"), namespace=namespace,
                         session_id=session_id)
        return
    path = store.export_zip(dest, namespace=namespace, session_id=session_id)
    emit({"path": str(path)}, as_json, lambda: click.echo(f"wrote {path}"))


# -- serve (the HTTP face: notebook_artifacts.server) ----------------------------------------
@cli.command()
@click.option("--root", "serve_root", metavar="DIR", default=None,
              help="Store directory (same as the global --root).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--token", envvar="NOTEBOOK_ARTIFACTS_TOKEN", default=None,
              help="Bearer token clients must send (default: a random one, printed).")
@click.option("--no-auth", is_flag=True, help="No token (refused unless --host is loopback).")
@click.option("--max-upload-bytes", type=click.IntRange(min=1), default=None,
              help="Largest upload accepted; larger ones get 413 (default 1 GiB).")
@click.option("--data-uri-max-bytes", type=click.IntRange(min=0), default=None,
              help="Seed-001 meta answers inline files up to this size as data URIs (default 256 KiB).")
@click.option("--no-index", is_flag=True, help="Do not index uploads for semantic query.")
@catalog_option
@blobs_option
@index_url_option
@click.option("--presigned-downloads", is_flag=True,
              help="Signed download URLs redirect to the object store's own presigned URL "
                   "(with --blobs on object storage; clients must reach its endpoint).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="With --no-auth, also answer requests for this host name (repeat); loopback "
                   "names and the bound address are always answered, others get 403.")
@click.option("--session-idle-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With MAC_AUTO_CLEAN_ATTACHMENTS=1, a session idle this long has its uploads "
                   "deleted (default 3600).")
@click.option("--workflow", "workflow_specs", multiple=True, metavar="[NAME=]MODULE:FUNCTION",
              help="Register a workflow for POST /api/workflow/execute (repeatable; the name "
                   "defaults to the function's).")
@click.pass_context
def serve(ctx: click.Context, serve_root: str | None, host: str, port: int, token: str | None,
          no_auth: bool, max_upload_bytes: int | None, data_uri_max_bytes: int | None,
          no_index: bool, presigned_downloads: bool, allowed_hosts: tuple[str, ...],
          session_idle_seconds: float | None, workflow_specs: tuple[str, ...]) -> None:
    """Serve the store over HTTP and WebSocket (REST for the three seed APIs)."""
    try:
        from .server.routes_workflow import load_workflow
        from .server.runner import is_loopback, run_server
    except ImportError as exc:
        raise CliError(f"serve needs the server extra: pip install 'notebook-artifacts[server]' ({exc})", 2) from None

    workflows: dict[str, Any] = {}
    for spec in workflow_specs:
        try:
            wf_name, fn = load_workflow(spec)
        except InvalidInputError as exc:
            raise CliError(f"--workflow: {exc}", 2) from None
        if wf_name in workflows:
            raise CliError(f"--workflow: two workflows are named {wf_name!r}; name one with NAME=module:function", 2)
        workflows[wf_name] = fn

    if no_auth and not is_loopback(host):
        raise CliError(f"--no-auth is allowed only on a loopback address, not {host}", 2)
    if no_auth and token:
        raise CliError("give --token or --no-auth, not both", 2)
    state = ctx.find_object(_State)
    root = serve_root if serve_root is not None else state.root
    store = state.local(root, index=not no_index)
    ctx.call_on_close(store.close)
    kwargs: dict[str, Any] = {"allowed_hosts": list(allowed_hosts), "workflows": workflows}
    if presigned_downloads:
        kwargs["presigned_downloads"] = True
    if session_idle_seconds is not None:
        kwargs["session_idle_seconds"] = session_idle_seconds
    if data_uri_max_bytes is not None:
        kwargs["data_uri_max_bytes"] = data_uri_max_bytes
    try:
        run_server(store, host=host, port=port, token=token, auth=not no_auth,
                   max_upload_bytes=max_upload_bytes, echo=lambda m: click.echo(m, err=False),
                   **kwargs)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1) from None


# -- scoped tokens for `serve` (storage/tokens.py keeps only their hashes) ------------------
@cli.group(cls=_Group)
def token() -> None:
    """Scoped tokens for a served store: create, list, revoke (on the server's --root)."""


def _token_store(ctx: click.Context) -> ArtifactStore:
    from .store import ArtifactStore

    state = ctx.find_object(_State)
    store = ArtifactStore(state.root, index=False, catalog=state.catalog)
    ctx.call_on_close(store.close)
    return store


@token.command("create")
@click.option("-n", "--namespace", "prefixes", multiple=True, required=True, metavar="PREFIX",
              help="Namespace prefix the token may use (repeat for several).")
@click.option("--read-only", is_flag=True, help="List and read only (writes get 403).")
@click.option("--expires", default=None, metavar="DURATION", help="Lifetime such as 12h, 30d.")
@click.option("--label", default=None, help="A note shown by `token list`.")
@json_option
@click.pass_context
def token_create(ctx: click.Context, prefixes: tuple[str, ...], read_only: bool,
                 expires: str | None, label: str | None, as_json: bool) -> None:
    """Create a token for namespaces under PREFIX; it is printed once, only its hash is kept."""
    import time

    from .storage.ttl import parse_ttl

    secret, rec = _token_store(ctx).tokens.create(
        list(prefixes), read_only=read_only, expires_in=parse_ttl(expires), label=label,
        now=time.time())
    emit({"token": secret, **rec.to_dict()}, as_json, lambda: click.echo(
        f"{secret}\n(token {rec.token_id} for {', '.join(rec.prefixes)}"
        f"{', read-only' if rec.read_only else ''}"
        f"{', expires ' + rec.to_dict()['expires_at'] if rec.expires_at else ''}: "
        "shown only now, store it safely)"))


@token.command("list")
@json_option
@click.pass_context
def token_list(ctx: click.Context, as_json: bool) -> None:
    """List tokens (ids, prefixes, expiry; never the tokens themselves)."""
    recs = [r.to_dict() for r in _token_store(ctx).tokens.list()]
    emit(recs, as_json, lambda: print_table(
        [[r["token_id"], ",".join(r["prefixes"]), "yes" if r["read_only"] else "no",
          (r["expires_at"] or "")[:19].replace("T", " "),
          "revoked" if r["revoked_at"] else "active", r["label"] or ""] for r in recs],
        ["id", "prefixes", "read-only", "expires", "state", "label"]))


@token.command("revoke")
@click.argument("token_id")
@json_option
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str, as_json: bool) -> None:
    """Revoke a token at once (the server refuses it on its next request)."""
    import time

    rec = _token_store(ctx).tokens.revoke(token_id, now=time.time())
    emit(rec.to_dict(), as_json, lambda: click.echo(f"revoked {rec.token_id}"))


@cli.command()
@click.option("--to-catalog", "to_catalog", default=None, metavar="URL",
              help="PostgreSQL URL of an empty database to copy the embedded catalog into.")
@click.option("--to-blobs", "to_blobs", default=None, metavar="URL",
              help="fsspec URL (s3://bucket/prefix) to copy the content files to.")
@click.option("--to-index-url", "to_index_url", default=None, metavar="URL",
              help="Chroma server (http://host:8000) to copy the index's vectors to.")
@json_option
@click.pass_context
def migrate(ctx: click.Context, to_catalog: str | None, to_blobs: str | None,
            to_index_url: str | None, as_json: bool) -> None:
    """Copy this root's embedded store to shared backends (the catalog with versions, tags,
    events and index tables; the content; the vectors), verifying each copy; nothing is
    embedded again and the root is left as it was."""
    from .migrate import migrate_store
    from .store import _default_root

    root = ctx.find_object(_State).root
    if not (to_catalog or to_blobs or to_index_url):
        raise CliError("give --to-catalog URL, --to-blobs URL and/or --to-index-url URL", 2)
    report = migrate_store(root if root is not None else _default_root(), to_catalog=to_catalog,
                           to_blobs=to_blobs, to_index_url=to_index_url)
    flags = " ".join(f"{flag} {url}" for flag, url in (
        ("--catalog", to_catalog), ("--blobs", to_blobs), ("--index-url", to_index_url)) if url)

    def table() -> None:
        for name, n in report.rows.items():
            click.echo(f"{name:<18} {n:>8} {'bytes' if name == 'blob_bytes' else 'rows'}")
        click.echo(f"verified: every copy matches; use the store with {flags}")

    emit(report.to_dict(), as_json, table)


# -- mcp (agent frameworks: notebook_artifacts.integrations.mcp) -------------------------------
@cli.command()
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
              show_default=True, help="stdio for a local client; http: streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (http).")
@click.option("--port", default=8766, show_default=True, type=click.IntRange(0, 65535),
              help="Port (http; 0 picks a free one).")
@click.option("--token", envvar="NOTEBOOK_ARTIFACTS_TOKEN", default=None,
              help="Bearer token HTTP clients must send (default: a random one, printed).")
@click.option("--no-auth", is_flag=True, help="No token (refused unless --host is loopback).")
@click.option("--max-upload-bytes", type=click.IntRange(min=1), default=None,
              help="Largest content put_artifact accepts (default 1 GiB).")
@click.option("--no-index", is_flag=True, help="Do not index what agents put.")
@click.pass_context
def mcp(ctx: click.Context, transport: str, host: str, port: int, token: str | None,
        no_auth: bool, max_upload_bytes: int | None, no_index: bool) -> None:
    """Serve the store to MCP clients (tools: put/get/list/query artifacts, versions)."""
    try:
        from .integrations import mcp as mcp_server
    except ImportError as exc:
        raise CliError(str(exc), 2) from None

    if no_auth and token:
        raise CliError("give --token or --no-auth, not both", 2)
    if transport == "http" and no_auth and not mcp_server._is_loopback(host):
        raise CliError(f"--no-auth is allowed only on a loopback address, not {host}", 2)
    store = ctx.find_object(_State).local(index=not no_index)
    ctx.call_on_close(store.close)
    limits = {"max_upload_bytes": max_upload_bytes} if max_upload_bytes else {}
    if transport == "stdio":  # stdout carries the protocol: nothing else may be printed there
        mcp_server.run_stdio(store, **limits)
        return
    try:
        mcp_server.run_http(store, host=host, port=port, token=token, auth=not no_auth,
                            echo=lambda m: click.echo(m), **limits)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1) from None


@cli.command("bench", context_settings={"ignore_unknown_options": True})
@click.option("--quick", is_flag=True, help="Smaller data: a few minutes on 2 cores.")
@click.option("--out", metavar="DIR", default=None, help="Results folder (default benchmarks/results).")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def bench(quick: bool, out: str | None, extra: tuple[str, ...]) -> None:
    """Benchmark against the raw limits and LangChain / folder / file-service peers.

    Runs ``python -m benchmarks`` from a source checkout (the benchmarks are not part of
    the installed package); other options (--systems, --groups, --scale, --threads,
    --profile) pass through.
    """
    from pathlib import Path

    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "benchmarks" / "harness.py").is_file():
        raise CliError("the benchmarks live in the source checkout: clone the repository, "
                       "`pip install -e '.[bench]'`, then run `python -m benchmarks [--quick]` "
                       "from its root", 2)
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        from benchmarks.harness import main as bench_main
    except ImportError as exc:
        raise CliError(f"bench needs the bench extra: pip install -e '.[bench]' ({exc})", 2) from None
    args = (["--quick"] if quick else []) + (["--out", out] if out else []) + list(extra)
    raise SystemExit(bench_main(args))



@cli.command()
@click.option("--data", "data_dir", default=None, metavar="DIR",
              help="Folder of documents to store (default: the sample documents in data/).")
@click.option("-q", "--question", default=None, help="What to ask across the documents.")
@click.option("-k", "--k", "k", default=5, show_default=True, type=int, help="Number of results.")
@click.option("--timeout", default=600.0, show_default=True, type=float,
              help="Seconds to wait for indexing.")
@click.option("--lab", is_flag=True, help="Then open JupyterLab on notebooks/quickstart.ipynb.")
@catalog_option
@blobs_option
@index_url_option
@click.pass_context
def demo(ctx: click.Context, data_dir: str | None, question: str | None, k: int,
         timeout: float, lab: bool) -> None:
    """The main job: store the sample documents, index them, ask a question across them."""
    from pathlib import Path

    from ._demo import DEFAULT_QUESTION, find_sample_dir, run_demo

    folder = Path(data_dir) if data_dir else find_sample_dir()
    if not folder.is_dir():
        raise CliError(f"no such folder: {folder}", 1)
    state = ctx.find_object(_State)
    with state.local() as store:  # indexes here
        run_demo(store, folder, question or DEFAULT_QUESTION, k=k, timeout=timeout,
                 say=click.echo)
    if lab:
        import os
        import subprocess
        import sys

        nb = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
        if not nb.is_file():
            raise CliError(f"no {nb}: --lab needs a checkout of notebook-artifacts", 1)
        argv = [sys.executable, "-m", "jupyter", "lab", str(nb)]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")
        click.echo(f"\nopening JupyterLab on {nb} (Ctrl-C to stop)")
        raise SystemExit(subprocess.call(argv))


# -- semantic index: query, reindex, promote (index issue) ----------------------------------
@cli.command()
@click.argument("text")
@click.option("-k", "--k", "k", default=10, show_default=True, type=int, help="Number of results.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "keyword"]), default="hybrid",
              show_default=True)
@click.option("-n", "--namespace", default=None, help="Only this namespace (default: all).")
@click.option("-s", "--session", "session_id", default=None, help="Only this session (thread).")
@click.option("-t", "--tag", "tags", multiple=True, help="Only artifacts with this tag (repeat).")
@click.option("--mime", "mime_types", multiple=True, help="Only this MIME type (repeat).")
@click.option("--where", "where_pairs", multiple=True, metavar="KEY=VALUE",
              help="Metadata equality (repeat); VALUE is parsed as JSON when it can be.")
@click.option("--versions", type=click.Choice(["latest", "all"]), default="latest", show_default=True)
@click.option("--scope", type=click.Choice(["artifacts", "sources", "all"]), default="artifacts",
              show_default=True)
@click.option("--budget", "context_budget", default=6000, show_default=True, type=int,
              help="Size of the combined context in characters.")
@click.option("--min-score", "min_score", default=None, type=click.FloatRange(0, 1),
              help="Leave out results scoring below this (default: the mode's relevance floor).")
@click.option("--context", "show_context", is_flag=True, help="Print the combined context too.")
@click.option("--wait", "wait_seconds", default=120.0, show_default=True, type=float,
              metavar="SECONDS", help="First wait up to SECONDS for pending indexing (0: don't).")
@json_option
@pass_store
def query(store: Store, text: str, k: int, mode: str, namespace: str | None, session_id: str | None,
          tags: tuple[str, ...], mime_types: tuple[str, ...], where_pairs: tuple[str, ...],
          versions: str, scope: str, context_budget: int, min_score: float | None,
          show_context: bool, wait_seconds: float, as_json: bool) -> None:
    """Search indexed artifacts (semantic + keyword) and print ranked results."""
    where = _parse_meta(where_pairs, None, "--where") if where_pairs else None
    # with --json the bar's closing line would come before the JSON on stdout: no bar then
    drained = wait_seconds <= 0 or store.wait_indexed(wait_seconds,
                                                      progress=False if as_json else None)
    if not drained:
        click.echo(f"note: indexing still pending after {wait_seconds:g} s; results may be "
                   "incomplete (see `notebook-artifacts reindex --wait`)", err=True)
    res = store.query(text, k, namespace=namespace, session_id=session_id,
                      tags=list(tags) or None, mime_types=list(mime_types) or None, where=where,
                      mode=mode, versions=versions, scope=scope, context_budget=context_budget,
                      min_score=min_score)

    def table() -> None:
        if not res.results:
            click.echo(f"no results: {res.note}" if res.note else
                       "no results above the relevance floor (try other words, or --min-score 0)")
        rows = []
        for i, h in enumerate(res.results, start=1):
            snippet = " ".join(h.matched_chunk.split())
            rows.append([i, f"{h.score:.3f}", h.citation, h.artifact.artifact_id,
                         snippet[:70] + ("..." if len(snippet) > 70 else "")])
        if rows:
            print_table(rows, ["#", "score", "citation", "artifact_id", "matched"])
        if show_context and res.combined_context:
            click.echo("")
            click.echo(res.combined_context)

    emit(res, as_json, table)


@cli.command()
@click.argument("ref", required=False)
@scope_options
@click.option("--wait", "wait_seconds", default=0.0, type=float, metavar="SECONDS",
              help="Wait up to SECONDS for the queue to drain (0: just queue).")
@json_option
@pass_store
def reindex(store: Store, ref: str | None, namespace: str, session_id: str | None,
            wait_seconds: float, as_json: bool) -> None:
    """Queue REF's versions (default: everything) for indexing again."""
    n = store.reindex(ref, namespace=namespace, session_id=session_id)
    done = store.wait_indexed(wait_seconds, progress=False if as_json else None) \
        if wait_seconds > 0 else None
    out = {"queued": n, "drained": done}
    emit(out, as_json, lambda: click.echo(
        f"queued {n} version(s) for indexing" + ("" if done is None else
                                                 ("; done" if done else "; still pending"))))


@cli.command()
@click.argument("ref")
@click.option("--version", "version", type=int, default=None)
@scope_options
@json_option
@pass_store
def promote(store: Store, ref: str, version: int | None, namespace: str, session_id: str | None,
            as_json: bool) -> None:
    """Promote a version to a durable source (outlives TTL and session cleanup)."""
    src = store.promote(ref, version, namespace=namespace, session_id=session_id)
    emit(src, as_json, lambda: click.echo(f"{src.source_id}  {src.message}"))

if __name__ == "__main__":  # pragma: no cover
    main()
