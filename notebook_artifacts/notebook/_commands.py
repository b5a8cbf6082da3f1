"""The ``%artifact`` subcommands' parsers: arguments, option descriptions, help texts.

One parser per subcommand, built on demand (``parser("put")``): ``%artifact put ...`` parses
with it, ``%artifact put --help`` and ``%artifact help put`` print its help. Mistakes raise
:class:`IPython.core.error.UsageError` with one line.
"""

from __future__ import annotations

import argparse
from typing import Callable

from IPython.core.error import UsageError

__all__ = ["HELP", "HelpShown", "parser", "subcommand_help", "SUBCOMMANDS", "ALIASES"]

HELP = """\
%artifact SUBCOMMAND ...   (versioned artifacts in the current store)

  use PATH [--no-index]            switch to the store at PATH (returns it)
  connect URL [--token T] | connect --local   use a served store (or the local one again)
  put|upload PATH... [--name N] [--tags a,b] [--ttl 1h] [--pin] [--meta k=v ...]
                     [--description TEXT]   store files (a path, several, or a glob)
  ls [--tags a,b] [--type T] [--all] [--expired] [--limit N]   the listing (a DataFrame)
  show REF [--version N]           one version as a record card, with a preview
  get REF [--version N] [-o PATH]  load the content (or write it to PATH)
  versions REF                     every version (a DataFrame)
  diff REF A B                     what changed between versions A and B
  tag REF +a -b                    add / remove tags
  pin REF | unpin REF              pinned artifacts never expire
  ttl REF 2d                       set a TTL (ttl REF none clears it)
  rm REF [--version N]             delete an artifact (or one version)
  query "text" [--k N] [--mode hybrid|dense|keyword] [--tags a,b] [--no-wait]
  wait [--timeout S]               wait for background indexing (progress bar)
  events [--after N] [--limit N] [--type T] [--mime P] [--follow]   newest first
  download REF [--version N] | download --all   a one-click download
  promote REF                      promote to a durable source
  serve [--port N] [--host H] [--token T] | serve stop   REST + WebSocket server
  watch [DIR] [--exclude GLOB ...] | unwatch   version files each cell writes
  gc                               expire and reclaim space
  help [SUBCOMMAND]                this overview, or one subcommand's options

%%artifact save NAME [--tags a,b] [--ttl 1h] [--session S] [--mime M]   store the cell body

Common options: --namespace NS, --session S (defaults: %config ArtifactMagics.namespace / .session).
REF is an artifact id (art_...), an attachment id (att_...) or a name. {var} is interpolated.
Options of one subcommand: %artifact help SUBCOMMAND, or %artifact SUBCOMMAND --help.
"""

#: Other spellings of a subcommand.
ALIASES = {"upload": "put", "list": "ls"}


class HelpShown(Exception):
    """Raised after a parser printed its help (``--help``): the magic returns nothing."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        name = self.prog.split()[-1]
        raise UsageError(f"%artifact {name}: {message} (see %artifact help {name})")

    def print_help(self, file=None) -> None:  # type: ignore[override]
        print(self.format_help().rstrip("\n"))

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise HelpShown()


def _new(name: str, description: str, scoped: bool = True, cell: bool = False) -> _Parser:
    prog = f"%%artifact {name}" if cell else f"%artifact {name}"
    p = _Parser(prog=prog, description=description, add_help=True,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    if scoped:
        p.add_argument("--namespace", "--ns", default=None, metavar="NS",
                       help="namespace (default: %%config ArtifactMagics.namespace, 'default')")
        p.add_argument("--session", default=None, metavar="S",
                       help="session id (default: %%config ArtifactMagics.session, none)")
    return p


def _ref(p: _Parser) -> _Parser:
    p.add_argument("ref", metavar="REF", help="an artifact id (art_...), an attachment id (att_...) or a name")
    return p


def _version(p: _Parser, what: str = "this version instead of the latest") -> _Parser:
    p.add_argument("--version", type=int, metavar="N", help=what)
    return p


def _store_options(p: _Parser) -> None:
    p.add_argument("--tags", metavar="a,b", help="comma-separated tags")
    p.add_argument("--ttl", metavar="1h", help="time to live: seconds or 30m, 2h, 7d (default: no expiry)")
    p.add_argument("--pin", action="store_true", help="pinned: never expires")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE",
                   help="a metadata entry (repeat); JSON values are decoded: --meta runs=3")
    p.add_argument("--description", metavar="TEXT", help="a description shown on the card")
    p.add_argument("--type", dest="artifact_type", metavar="T", help="artifact_type (default: from the content)")


def _use() -> _Parser:
    p = _new("use", "Switch %artifact (and the widgets' default) to the store at PATH.", scoped=False)
    p.add_argument("path", metavar="PATH", help="the store's root folder (created if missing)")
    p.add_argument("--no-index", action="store_true", help="no semantic index (no model is ever loaded)")
    return p


def _connect() -> _Parser:
    p = _new("connect", "Switch %artifact and the widgets to the store served at URL\n"
                        "(`notebook-artifacts serve`), or back to the local one with --local.",
             scoped=False)
    p.add_argument("url", nargs="?", default=None, metavar="URL",
                   help="the server's URL (default: $NOTEBOOK_ARTIFACTS_URL)")
    p.add_argument("--token", default=None, help="the server's token (default: $NOTEBOOK_ARTIFACTS_TOKEN)")
    p.add_argument("--local", action="store_true", help="back to the local store")
    return p


def _put() -> _Parser:
    p = _new("put", "Store files as new artifact versions. A file is named by its base name\n"
                    "(data/a.csv -> a.csv) unless --name is given; putting it again makes the\n"
                    "next version. Returns the record (one file) or the listing (several).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or globs (data/*.csv, **/*.md)")
    p.add_argument("--name", metavar="N", help="the artifact name (one file only)")
    _store_options(p)
    p.add_argument("--no-index", action="store_true", help="store only: do not queue for semantic indexing")
    return p


def _ls() -> _Parser:
    p = _new("ls", "The latest version of each artifact, newest first: a DataFrame shown as\n"
                   "the artifact listing.")
    p.add_argument("--tags", metavar="a,b", help="only artifacts with all these tags")
    p.add_argument("--type", dest="types", metavar="T", help="only these artifact types (comma-separated)")
    p.add_argument("--all", action="store_true", help="every namespace and session")
    p.add_argument("--expired", action="store_true", help="include expired versions")
    p.add_argument("--limit", type=int, default=200, metavar="N", help="at most N rows (default 200)")
    return p


def _show() -> _Parser:
    return _version(_ref(_new("show", "One version as a record card with an inline preview.")))


def _get() -> _Parser:
    p = _version(_ref(_new("get", "Load the content as a Python object (DataFrame for CSV/Parquet,\n"
                                  "dict/list for JSON, str for text, bytes otherwise), or write it to a file.")))
    p.add_argument("-o", "--output", metavar="PATH", help="write the content to PATH (a file or a folder)")
    return p


def _versions() -> _Parser:
    return _ref(_new("versions", "Every version of an artifact, oldest first (a DataFrame)."))


def _diff() -> _Parser:
    p = _ref(_new("diff", "What changed between two versions: a unified diff for text, rows and\n"
                          "columns added, removed and changed for tables, sizes and hashes otherwise."))
    p.add_argument("a", type=int, metavar="A", help="the older version number")
    p.add_argument("b", type=int, nargs="?", metavar="B", help="the newer version number (default: the latest)")
    return p


def _tag() -> _Parser:
    p = _ref(_new("tag", "Add and remove tags: +TAG (or TAG) adds, -TAG removes; options may come\n"
                         "before or after the tags."))
    p.add_argument("changes", nargs="*", metavar="+TAG|-TAG", help="tags to add (+a, a) or remove (-b)")
    _version(p, "change this version instead of the latest")
    return p


def _pin(name: str = "pin") -> Callable[[], _Parser]:
    what = "Pin: the version never expires." if name == "pin" else "Unpin: the TTL applies again."
    return lambda: _ref(_new(name, what))


def _ttl() -> _Parser:
    p = _ref(_new("ttl", "Set the time to live, counted from now."))
    p.add_argument("ttl", metavar="TTL", help="seconds or 30m, 2h, 7d; none clears it")
    return p


def _rm() -> _Parser:
    return _version(_ref(_new("rm", "Delete an artifact: every version, or one with --version.")),
                    "delete only this version")


def _query() -> _Parser:
    p = _new("query", "Semantic + keyword search over indexed content; returns ranked hits with\n"
                      "citations and combined_context (ready for an LLM prompt).")
    p.add_argument("text", nargs="+", help="the question or keywords")
    p.add_argument("--k", "-k", type=int, default=5, metavar="N", help="number of hits (default 5)")
    p.add_argument("--mode", choices=("hybrid", "dense", "semantic", "keyword"), default="hybrid",
                   help="hybrid (default), dense/semantic (embeddings only) or keyword (full text)")
    p.add_argument("--tags", metavar="a,b", help="only artifacts with all these tags")
    p.add_argument("--all", action="store_true", help="every namespace and session")
    p.add_argument("--no-wait", action="store_true", help="do not wait for pending indexing first")
    return p


def _wait() -> _Parser:
    p = _new("wait", "Wait for background indexing, with a progress bar by chunks.", scoped=False)
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds")
    return p


def _events() -> _Parser:
    p = _new("events", "The event log, newest first (like the live feed).")
    p.add_argument("--after", type=int, default=None, metavar="N", help="only events after cursor N")
    p.add_argument("--limit", type=int, default=25, metavar="N", help="at most N events (default 25)")
    p.add_argument("--type", dest="types", metavar="T", help="only these event types (comma-separated)")
    p.add_argument("--mime", metavar="P", help="only this MIME prefix, e.g. text/")
    p.add_argument("--follow", action="store_true", help="a live event feed widget instead")
    p.add_argument("--all", action="store_true", help="every namespace and session")
    return p


def _download() -> _Parser:
    p = _new("download", "A one-click download: a link for small files, a download button for\n"
                         "larger ones (streamed from the kernel; nothing is copied into your project).")
    p.add_argument("ref", nargs="?", metavar="REF", help="the artifact to download")
    _version(p)
    p.add_argument("--all", action="store_true", help="a zip of every artifact in the scope")
    return p


def _promote() -> _Parser:
    return _ref(_new("promote", "Promote to a durable source (survives TTL and session cleanup)."))


def _serve() -> _Parser:
    p = _new("serve", "Serve this store over REST + WebSocket from the kernel.", scoped=False)
    p.add_argument("action", nargs="?", choices=("start", "stop", "status"), default="start",
                   help="start (default), stop or status")
    p.add_argument("--port", type=int, default=0, metavar="N", help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", metavar="H", help="interface (default 127.0.0.1)")
    p.add_argument("--token", default=None, metavar="T", help="bearer token (default: a random one)")
    return p


def _watch() -> _Parser:
    p = _new("watch", "After each cell, store the files it created or changed in DIR as new\n"
                      "versions (named by their path inside DIR) and delete removed ones.")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="the folder (default: the working directory)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="also skip these (repeat)")
    return p


def _unwatch() -> _Parser:
    return _new("unwatch", "Stop %artifact watch.", scoped=False)


def _gc() -> _Parser:
    return _new("gc", "Expire due versions and reclaim the space nothing uses.", scoped=False)


def _help() -> _Parser:
    p = _new("help", "The overview, or one subcommand's options.", scoped=False)
    p.add_argument("subcommand", nargs="?", metavar="SUBCOMMAND", help="show this subcommand's options")
    return p


def _save() -> _Parser:
    p = _new("save", "Store the cell body (below this line) as the next version of NAME.", cell=True)
    p.add_argument("name", metavar="NAME", help="the artifact name, e.g. notes.md")
    _store_options(p)
    p.add_argument("--mime", metavar="M", help="MIME type (default: from the name)")
    return p


SUBCOMMANDS: dict[str, Callable[[], _Parser]] = {
    "use": _use, "connect": _connect, "put": _put, "ls": _ls, "show": _show, "get": _get, "versions": _versions,
    "diff": _diff, "tag": _tag, "pin": _pin("pin"), "unpin": _pin("unpin"), "ttl": _ttl,
    "rm": _rm, "query": _query, "wait": _wait, "events": _events, "download": _download,
    "promote": _promote, "serve": _serve, "watch": _watch, "unwatch": _unwatch, "gc": _gc,
    "help": _help, "save": _save,
}


def parser(name: str) -> _Parser:
    """The parser of subcommand ``name`` (or an alias)."""
    return SUBCOMMANDS[ALIASES.get(name, name)]()


def subcommand_help(name: str) -> str:
    """One subcommand's help: usage, description and every option explained."""
    key = ALIASES.get(name, name)
    if key not in SUBCOMMANDS:
        raise UsageError(f"%artifact help: no subcommand {name!r}; one of: {', '.join(sorted(SUBCOMMANDS))}")
    return parser(key).format_help()
