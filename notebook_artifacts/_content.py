"""Turning stored content into a Python object (``load``), shared by every Store."""

from __future__ import annotations

import io
import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .errors import InvalidInputError
from .storage.mime import SPREADSHEET_MIMES, is_text_mime

__all__ = ["load_content", "download_content", "ReadMethods"]


def load_content(mime_type: str, open_stream: Callable[[], IO[bytes]], label: str = "the content"
                 ) -> Any:
    """DataFrame (CSV/TSV/Parquet, a one-sheet workbook), a dict of DataFrames by sheet name (a
    workbook with several sheets), parsed JSON (or NDJSON list), str for other text, else bytes.
    ``label`` names the artifact in errors."""
    mime = mime_type.split(";", 1)[0].strip().lower()
    if mime in SPREADSHEET_MIMES:
        return _load_workbook(open_stream, label)
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


def _load_workbook(open_stream: Callable[[], IO[bytes]], label: str) -> Any:
    import pandas as pd

    with open_stream() as f, warnings.catch_warnings():
        # pandas 3 calls its xlrd engine (.xls) deprecated; it is still the one reader of .xls
        # files that the index extra installs
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            sheets = pd.read_excel(f if f.seekable() else io.BytesIO(f.read()), sheet_name=None)
        except ImportError:
            raise
        except Exception as exc:  # a damaged or mislabelled workbook
            raise InvalidInputError(
                f"{label} is not a readable workbook ({type(exc).__name__}: {exc}); get its "
                "bytes with read_bytes() or open()") from None
    return next(iter(sheets.values())) if len(sheets) == 1 else sheets


def download_content(a: Any, open_stream: Callable[[], IO[bytes]],
                     dest: str | os.PathLike[str]) -> Path:
    """Write version ``a``'s content to ``dest`` (a file, or a folder: then its base name) and
    return the path. Streamed; written to ``.NAME.part`` then renamed, so ``dest`` is never left
    half-written."""
    target = Path(dest).expanduser()
    if target.is_dir():  # a base name only: a stored file name never escapes the folder
        base = Path((a.file_name or a.name).replace("\\", "/")).name
        target = target / (base if base not in ("", ".", "..") else a.artifact_id)
    tmp = target.with_name(f".{target.name}.part")
    try:
        with open_stream() as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


class ReadMethods:
    """``read_bytes`` and ``read_text`` over a store's ``open``: the same for every Store."""

    def open(self, ref: Any, version: int | None = None, *, namespace: str = "default",
             session_id: str | None = None) -> IO[bytes]:
        raise NotImplementedError

    def read_bytes(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                   session_id: str | None = None) -> bytes:
        """The whole content of one version (use ``open`` to stream a large file)."""
        with self.open(ref, version, namespace=namespace, session_id=session_id) as f:
            return f.read()

    def read_text(self, ref: Any, version: int | None = None, *, namespace: str = "default",
                  session_id: str | None = None, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The content decoded as text (``errors`` as for ``bytes.decode``)."""
        data = self.read_bytes(ref, version, namespace=namespace, session_id=session_id)
        try:
            return data.decode(encoding, errors)
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"artifact {ref!r} is not {encoding} text; use read_bytes() or errors='replace'"
            ) from None
