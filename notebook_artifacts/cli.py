"""The ``notebook-artifacts`` command line: a face over :class:`ArtifactStore` only.

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
from typing import Any

import click

from .errors import ArtifactError, InvalidInputError

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
    def __init__(self, root: str | None):
        self.root = root
        self._store: Any = None

    def store(self, ctx: click.Context) -> Any:
        if self._store is None:
            from .store import ArtifactStore

            # A CLI process is short-lived: it leaves index work pending for the process that
            # holds the index (a kernel, the server) instead of loading the model to store a file.
            self._store = ArtifactStore(self.root, background_index=False)
            ctx.call_on_close(self._store.close)
        return self._store


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="NOTEBOOK_ARTIFACTS_HOME", metavar="DIR", default=None,
              help="Store directory (default: $NOTEBOOK_ARTIFACTS_HOME, else ./.artifacts).")
@click.version_option(package_name="notebook-artifacts")
@click.pass_context
def cli(ctx: click.Context, root: str | None) -> None:
    """Versioned artifacts with tags, TTL, events and semantic query."""
    ctx.obj = _State(root)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="notebook-artifacts")


# -- helpers other subcommands reuse ------------------------------------------------------
def pass_store(f: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the :class:`ArtifactStore` of ``--root`` as the first argument."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        return f(ctx.find_object(_State).store(ctx), *args, **kwargs)

    return wrapper


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


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(n)


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """Left-aligned columns separated by two spaces."""
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, r)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()
    click.echo(line)
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def _artifact_rows(arts: Iterable[Any]) -> list[list[Any]]:
    return [[a.name, a.version, a.session_id or "", human_size(a.size_bytes), a.mime_type,
             ",".join(a.tags), (a.created_at or "")[:19].replace("T", " "),
             "pinned" if a.is_pinned else ("expired" if a.is_expired else (a.expires_at or "")[:16]),
             a.artifact_id] for a in arts]


_ART_HEADERS = ["name", "ver", "session", "size", "mime", "tags", "created", "expires", "id"]


def _split(values: Iterable[str]) -> list[str]:
    """Repeated options that may each hold comma-separated values -> one flat list."""
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def _parse_meta(pairs: Iterable[str], meta_json: str | None,
                option: str = "--meta") -> dict[str, Any] | None:
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
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"{option} {pair!r}: use KEY=VALUE", 2)
        try:
            meta[key] = json.loads(value)
        except ValueError:
            meta[key] = value
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
@click.option("--source-tool", default=None)
@click.option("--no-index", is_flag=True, help="Do not queue for semantic indexing.")
@json_option
@pass_store
def put(store: Any, sources: tuple[str, ...], name: str | None, namespace: str,
        session_id: str | None, tags: tuple[str, ...], meta_pairs: tuple[str, ...],
        meta_json: str | None, description: str | None, ttl: str | None, pin: bool, text: bool,
        source_tool: str | None, no_index: bool, as_json: bool) -> None:
    """Store files (or '-' for stdin, or --text) as new artifact versions."""
    from pathlib import Path

    if name and len(sources) > 1:
        raise CliError("--name needs exactly one source", 2)
    metadata = _parse_meta(meta_pairs, meta_json)
    made = []
    for src in sources:
        content: dict[str, Any] = {}
        if text:
            obj: Any = None
            content["text"] = src  # text on purpose, even when it looks like a path
        elif src == "-":
            obj = click.get_binary_stream("stdin")
            if name is None:
                raise CliError("reading stdin needs --name", 2)
        else:
            obj = Path(src)
            if not obj.is_file():
                raise CliError(f"no such file: {src} (use --text to store the argument as text)", 1)
        made.append(store.put(
            obj, name, **content, namespace=namespace, session_id=session_id, tags=_split(tags),
            metadata=metadata, description=description, ttl=ttl, pinned=pin,
            source="cli", source_tool=source_tool, index=not no_index,
        ))
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
def ls_cmd(store: Any, namespace: str | None, session_id: str | None, tags: tuple[str, ...],
           types: tuple[str, ...], include_expired: bool, limit: int, cursor: str | None,
           as_json: bool) -> None:
    """List the latest version of each artifact, newest first."""
    page = store.list(namespace=namespace, session_id=session_id, tags=_split(tags) or None,
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
def get(store: Any, ref: str, output: str, version: int | None, namespace: str,
        session_id: str | None, info: bool, as_json: bool) -> None:
    """Write an artifact's content to a file or stdout (or show its record with --info)."""
    import shutil
    from pathlib import Path

    a = store.get(ref, version, namespace=namespace, session_id=session_id)
    if info:
        emit(a, True)
        return
    with store.open(a.artifact_id) as src:
        if output == "-":
            out = click.get_binary_stream("stdout")
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            return
        dest = Path(output)
        if dest.is_dir():
            dest = dest / (a.file_name or a.name.replace("\\", "/").rsplit("/", 1)[-1])
        tmp = dest.with_name(f".{dest.name}.part")
        with open(tmp, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
        os.replace(tmp, dest)
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
def versions(store: Any, ref: str, namespace: str, session_id: str | None, include_expired: bool,
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
def tag(store: Any, ref: str, changes: tuple[str, ...], version: int | None, namespace: str,
        session_id: str | None, as_json: bool) -> None:
    """Add (+TAG or TAG) and remove (-TAG) tags, e.g. `tag report.md +final -draft`.

    Options may also follow the tags: --json, --version N, -n NS, -s SESSION.
    """
    adds: list[str] = []
    removes: list[str] = []
    items = list(changes)
    while items:
        item = items.pop(0)
        if item == "--json":
            as_json = True
        elif item in ("--version", "-n", "--namespace", "-s", "--session"):
            if not items:
                raise CliError(f"{item} needs a value", 2)
            value = items.pop(0)
            if item == "--version":
                if not value.isdigit():
                    raise CliError(f"--version {value!r}: give a version number", 2)
                version = int(value)
            elif item in ("-n", "--namespace"):
                namespace = value
            else:
                session_id = value
        elif item.startswith("-"):
            removes.append(item[1:])
        else:
            adds.append(item[1:] if item.startswith("+") else item)
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
def update(store: Any, ref: str, version: int | None, namespace: str, session_id: str | None,
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
def rm(store: Any, ref: str, version: int | None, namespace: str, session_id: str | None,
       as_json: bool) -> None:
    """Delete an artifact (every version, or one with --version)."""
    gone = store.delete(ref, version, namespace=namespace, session_id=session_id)
    emit(gone, as_json, lambda: click.echo(
        f"deleted {gone[0].name}: version(s) {', '.join(str(a.version) for a in gone)}"))


def _event_line(e: Any) -> str:
    import datetime as dt

    when = dt.datetime.fromtimestamp(e.timestamp, tz=dt.timezone.utc).strftime("%H:%M:%S")
    scope = e.namespace + (f"/{e.session_id}" if e.session_id else "")
    return (f"{e.cursor:>6}  {when}  {e.type:<15} {e.name} v{e.version}  [{scope}]  "
            f"{e.mime_type or ''} {human_size(e.size_bytes)}")


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
def events(store: Any, after: int, follow: bool, wait_seconds: float, namespace: str | None,
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
def gc(store: Any, events_keep: int, as_json: bool) -> None:
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
def fsck(store: Any, repair: bool, no_verify: bool, as_json: bool) -> None:
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
def sessions(store: Any, namespace: str | None, as_json: bool) -> None:
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
def close_session(store: Any, session_id: str, namespace: str, clean: bool | None,
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
def export_cmd(store: Any, dest: str, namespace: str | None, session_id: str | None,
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
@click.pass_context
def serve(ctx: click.Context, serve_root: str | None, host: str, port: int, token: str | None,
          no_auth: bool, max_upload_bytes: int | None, data_uri_max_bytes: int | None,
          no_index: bool) -> None:
    """Serve the store over HTTP and WebSocket (REST for the three seed APIs)."""
    try:
        from .server.runner import is_loopback, run_server
    except ImportError as exc:
        raise CliError(f"serve needs the server extra: pip install 'notebook-artifacts[server]' ({exc})", 2) from None
    from .store import ArtifactStore

    if no_auth and not is_loopback(host):
        raise CliError(f"--no-auth is allowed only on a loopback address, not {host}", 2)
    if no_auth and token:
        raise CliError("give --token or --no-auth, not both", 2)
    root = serve_root if serve_root is not None else ctx.find_object(_State).root
    store = ArtifactStore(root, index=not no_index)
    ctx.call_on_close(store.close)
    kwargs: dict[str, Any] = {}
    if data_uri_max_bytes is not None:
        kwargs["data_uri_max_bytes"] = data_uri_max_bytes
    try:
        run_server(store, host=host, port=port, token=token, auth=not no_auth,
                   max_upload_bytes=max_upload_bytes, echo=lambda m: click.echo(m, err=False),
                   **kwargs)
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
@click.pass_context
def demo(ctx: click.Context, data_dir: str | None, question: str | None, k: int,
         timeout: float, lab: bool) -> None:
    """The main job: store the sample documents, index them, ask a question across them."""
    from pathlib import Path

    from ._demo import DEFAULT_QUESTION, find_sample_dir, run_demo
    from .store import ArtifactStore

    folder = Path(data_dir) if data_dir else find_sample_dir()
    if not folder.is_dir():
        raise CliError(f"no such folder: {folder}", 1)
    root = ctx.find_object(_State).root
    with ArtifactStore(root) as store:  # indexes in this process (background_index=True)
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
def query(store: Any, text: str, k: int, mode: str, namespace: str | None, session_id: str | None,
          tags: tuple[str, ...], mime_types: tuple[str, ...], where_pairs: tuple[str, ...],
          versions: str, scope: str, context_budget: int, min_score: float | None,
          show_context: bool, wait_seconds: float, as_json: bool) -> None:
    """Search indexed artifacts (semantic + keyword) and print ranked results."""
    where = _parse_meta(where_pairs, None, "--where") if where_pairs else None
    if wait_seconds > 0 and not store.wait_indexed(wait_seconds):
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
def reindex(store: Any, ref: str | None, namespace: str, session_id: str | None,
            wait_seconds: float, as_json: bool) -> None:
    """Queue REF's versions (default: everything) for indexing again."""
    n = store.reindex(ref, namespace=namespace, session_id=session_id)
    done = store.wait_indexed(wait_seconds) if wait_seconds > 0 else None
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
def promote(store: Any, ref: str, version: int | None, namespace: str, session_id: str | None,
            as_json: bool) -> None:
    """Promote a version to a durable source (outlives TTL and session cleanup)."""
    src = store.promote(ref, version, namespace=namespace, session_id=session_id)
    emit(src, as_json, lambda: click.echo(f"{src.source_id}  {src.message}"))

if __name__ == "__main__":  # pragma: no cover
    main()
