"""``%artifact connect URL [--token T]`` / ``%artifact connect --local``: switch the kernel's store.

``connect URL`` points every ``%artifact`` command and widget at a served store (a
:class:`~notebook_artifacts.remote.RemoteStore`); ``connect --local`` goes back to the local
store (``ArtifactMagics.root``, else ``ArtifactStore.default()``). The URL and token default to
``$NOTEBOOK_ARTIFACTS_URL`` and ``$NOTEBOOK_ARTIFACTS_TOKEN``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from IPython.core.error import UsageError

from ..protocol import Store

if TYPE_CHECKING:  # pragma: no cover
    from .magics import ArtifactMagics

__all__ = ["connect_command"]


def connect_command(magics: ArtifactMagics, argv: list[str]) -> Store:
    """Run ``%artifact connect``; returns the store now in use."""
    import os

    from ..remote import URL_ENV, connect
    from ._commands import parser

    p = parser("connect")
    args = p.parse_args(argv)
    if args.local:
        if args.url or args.token:
            raise UsageError("%artifact connect: give a URL or --local, not both")
        magics._switch(None)
        return magics.store
    url = args.url or os.environ.get(URL_ENV)
    if not url:
        raise UsageError(f"%artifact connect: give the server's URL (or set ${URL_ENV}), "
                         "e.g. %artifact connect http://host:8765 --token T")
    store = connect(url, args.token)  # checks reachability and the token now
    magics._switch(store)
    return store
