"""Turning stored content into a Python object (``load``), shared by every Store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from .storage.mime import is_text_mime

__all__ = ["load_content"]


def load_content(mime_type: str, open_stream: Callable[[], IO[bytes]]) -> Any:
    """DataFrame (CSV/TSV/Parquet), parsed JSON (or NDJSON list), str for other text, else bytes."""
    mime = mime_type.split(";", 1)[0].strip().lower()
    if mime in ("text/csv", "text/tab-separated-values", "application/vnd.apache.parquet"):
        import pandas as pd

        with open_stream() as f:
            if mime == "application/vnd.apache.parquet":
                return pd.read_parquet(f)
            return pd.read_csv(f, sep="\t" if mime.endswith("tab-separated-values") else ",")
    if mime in ("application/json", "application/x-ipynb+json"):
        with open_stream() as f:
            return json.load(f)
    if mime == "application/x-ndjson":
        with open_stream() as f:
            return [json.loads(line) for line in f if line.strip()]
    with open_stream() as f:
        data = f.read()
    if is_text_mime(mime):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data
    return data
