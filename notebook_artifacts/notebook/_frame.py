"""``ArtifactFrame``: the DataFrame ``%artifact ls`` and ``versions`` return.

A plain :class:`pandas.DataFrame` in every way (assign it, filter it, export it), that shows
itself as the same clean listing as every other face (:func:`~notebook_artifacts.reprs.listing_html`:
human sizes, TTL countdowns, index status, full ids) and as a readable text table. Frames
derived from it (filters, selections) are ordinary DataFrames with pandas' own display.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..reprs import listing_html, listing_text

__all__ = ["ArtifactFrame", "records_frame", "COLUMNS"]

COLUMNS = ["name", "version", "size_bytes", "mime_type", "tags", "status", "chunk_count",
           "ttl_seconds", "expires_at", "is_pinned", "is_expired", "is_latest", "created_at",
           "artifact_id", "namespace", "session_id", "source_tool", "source_execution_id"]


class ArtifactFrame(pd.DataFrame):
    """A DataFrame of artifact versions (one row each) rendered as the artifact listing."""

    _metadata = ["total"]

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame  # derived frames are plain DataFrames

    def _rows(self) -> list[dict[str, Any]] | None:
        if not {"name", "version", "artifact_id"} <= set(self.columns):
            return None
        return self.to_dict("records")

    def _repr_html_(self) -> str | None:  # type: ignore[override]
        rows = self._rows()
        if rows is None:
            return super()._repr_html_()
        return listing_html(rows, total=getattr(self, "total", None))

    def __repr__(self) -> str:
        rows = self._rows()
        if rows is None:
            return super().__repr__()
        return listing_text(rows, total=getattr(self, "total", None))


def records_frame(records: list[Any], total: int | None = None) -> ArtifactFrame:
    """An :class:`ArtifactFrame` of artifact records."""
    frame = ArtifactFrame(
        [{c: getattr(r, c, None) for c in COLUMNS} for r in records], columns=COLUMNS)
    frame.total = total
    return frame
