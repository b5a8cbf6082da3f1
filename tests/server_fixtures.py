"""Fixtures shared by the server tests: a real store in tmp_path and the app over it.

Import the fixtures into a test module: ``from server_fixtures import store, app, client, TOKEN``.
"""

from __future__ import annotations

from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from notebook_artifacts import ArtifactStore
from notebook_artifacts.server import create_app

TOKEN = "test-token-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_UPLOAD = 64 * 1024


@pytest.fixture
def store(tmp_path, blobs_url) -> Iterator[ArtifactStore]:
    """Content on local files, or on S3 for tests marked ``blob_backends`` (see conftest)."""
    s = ArtifactStore(tmp_path / "store", index=False, blobs=blobs_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def app(store, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    return create_app(store, token=TOKEN, max_upload_bytes=MAX_UPLOAD, data_uri_max_bytes=1024,
                      tmp_dir=str(spool))


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, headers=AUTH) as c:
        yield c


def spool_files(tmp_path) -> list:
    """Temp files left in the upload spool directory (must be none after every request)."""
    return sorted((tmp_path / "spool").iterdir())
