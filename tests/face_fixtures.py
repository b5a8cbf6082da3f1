"""The faces' tests (``%artifact`` magics, widgets) on a local store and on a served one.

A module imports ``served`` and gives its ``store`` fixture ``params=FACES``:

- ``"local"``: an :class:`ArtifactStore` on ``tmp_path``;
- ``"remote"``: a :class:`RemoteStore` connected (with :data:`TOKEN`) to ``served``, one real
  ``notebook-artifacts serve`` process per module on loopback. :func:`emptied` gives each test
  an empty store and event log; cursors keep counting up, so compare them, never with 0.

``@LOCAL_ONLY`` keeps a test to the local store (it needs a folder on this machine).
:func:`elsewhere` is the Python source that opens the same store in another process.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from notebook_artifacts import Store
from remote_fixtures import ServerProcess

TOKEN = "faces-token-8c2f"
FACES = ("local", "remote")
#: keep a test to the local store: ``@LOCAL_ONLY`` above it
LOCAL_ONLY = pytest.mark.parametrize("store", ["local"], indirect=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServerProcess]:
    """``notebook-artifacts serve --token TOKEN --no-index`` on a fresh root, for a module."""
    with ServerProcess(tmp_path_factory.mktemp("served"), "--token", TOKEN) as srv:
        yield srv


def emptied(store: Store) -> Store:
    """Delete every artifact in every namespace and trim the event log: a fresh start for a
    test on the module's shared server."""
    while True:
        page = store.list(namespace=None, session_id=None, limit=200)
        if not page.artifacts:
            break
        for a in page.artifacts:
            store.delete(a.artifact_id)  # every version
    store.gc(events_keep=0)  # expired versions and every event go too
    return store


def elsewhere(store: Store) -> str:
    """Python source binding ``s`` to the same store in another process."""
    if store.root is None:
        return f"from notebook_artifacts import connect\ns = connect({store.location!r}, {TOKEN!r})\n"
    return (f"from notebook_artifacts import ArtifactStore\n"
            f"s = ArtifactStore({str(store.root)!r}, index=False)\n")
