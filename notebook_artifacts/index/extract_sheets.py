"""Spreadsheets (``.xlsx``/``.xlsm`` with openpyxl, ``.xls`` with xlrd, ``.ods`` through
pandas + odfpy): sheet by sheet, row groups with the header row as every chunk's context.

- Rows are written as CSV lines (the same rule as a CSV file): one line per sheet row, so a
  chunk's rows are known exactly. Each group is a segment located at
  ``{"sheet": "Q3", "rows": [40, 80]}`` with the sheet's own row numbers (what the
  spreadsheet application shows), so citations read ``budget.xlsx v2, sheet "Q3", rows 40-80``.
- The header is the first row, among the first non-empty ones, that is all text and about as
  wide as the table; title rows above it are indexed on their own. A sheet whose first rows
  hold numbers has no header.
- ``.xlsx`` is streamed row by row (openpyxl's read-only mode): a large sheet is never held
  as a whole in memory. Formulas give their last computed values. A workbook with more than
  :data:`MAX_CELLS` non-empty cells fails with a clear error instead of indexing for hours.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import itertools
import math
from typing import Any, Iterable, Iterator

from .extract import ExtractionError, Extracted, Segment
from .formats import check_zip

__all__ = ["extract_xlsx", "extract_xls", "extract_ods", "MAX_CELLS", "GROUP_ROWS",
           "GROUP_CHARS"]

#: Most non-empty cells indexed from one workbook; a larger one fails (store a CSV export).
MAX_CELLS = 1_000_000
#: A row group ends after this many rows, or this many characters of CSV, or at a blank row.
GROUP_ROWS = 50
GROUP_CHARS = 1500
_HEADER_LOOKAHEAD = 10

Rows = Iterator[tuple[int, list[Any]]]  # (row number, 1-based as shown; cell values)


def extract_xlsx(data: bytes) -> Extracted:
    """An Excel workbook, streamed sheet by sheet with openpyxl's read-only mode."""
    check_zip(data, "xlsx")
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ExtractionError(f"Excel workbook could not be read: {type(exc).__name__}: {exc}; "
                              "re-save it from Excel") from None
    try:
        def sheets():
            for ws in wb.worksheets:
                if not hasattr(ws, "iter_rows"):  # a chart sheet
                    continue
                ws.reset_dimensions()  # stated dimensions may be wrong: read every row
                yield ws.title, ((i, list(r)) for i, r in
                                 enumerate(ws.iter_rows(values_only=True), start=1))
        return _workbook("xlsx", sheets())
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(f"Excel workbook could not be read: {type(exc).__name__}: {exc}"
                              ) from None
    finally:
        wb.close()


def extract_xls(data: bytes) -> Extracted:
    """An Excel 97-2003 workbook, read with xlrd."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:
        raise ExtractionError(f"Excel 97-2003 workbook could not be read: {exc}; re-save it "
                              "from Excel (as .xlsx for the best results)") from None

    def rows(sheet) -> Rows:
        for i in range(sheet.nrows):
            values = []
            for cell in sheet.row(i):
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        values.append(xlrd.xldate_as_datetime(cell.value, book.datemode))
                    except Exception:
                        values.append(cell.value)
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    values.append(bool(cell.value))
                elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    values.append(None)
                else:
                    values.append(cell.value)
            yield i + 1, values

    def sheets():
        for name in book.sheet_names():
            sheet = book.sheet_by_name(name)
            yield name, rows(sheet)
            book.unload_sheet(name)
    try:
        return _workbook("xls", sheets())
    except ExtractionError:
        raise
    except Exception as exc:
        raise ExtractionError(f"Excel 97-2003 workbook could not be read: {exc}") from None
    finally:
        book.release_resources()


def extract_ods(data: bytes) -> Extracted:
    """An OpenDocument spreadsheet, read through pandas with odfpy."""
    check_zip(data, "ods")
    import pandas as pd

    try:
        frames = pd.read_excel(io.BytesIO(data), engine="odf", sheet_name=None, header=None)
    except Exception as exc:
        raise ExtractionError(f"OpenDocument spreadsheet could not be read: "
                              f"{type(exc).__name__}: {exc}; re-save it") from None
    return _workbook("ods", ((name, ((i, list(row)) for i, row in
                                     enumerate(df.itertuples(index=False, name=None), start=1)))
                             for name, df in frames.items()))


def _workbook(kind: str, sheets: Iterable[tuple[str, Rows]]) -> Extracted:
    buf = io.StringIO()
    segments: list[Segment] = []
    cells = 0
    for name, rows in sheets:
        for start, end, context, first, last, n in _sheet_groups(rows, buf):
            cells += n
            if cells > MAX_CELLS:
                raise ExtractionError(
                    f"workbook has over {MAX_CELLS:,} non-empty cells, over the indexing cap; "
                    "it is stored but not searchable (store the sheets you need as CSV)")
            segments.append(Segment(start, end, (name,), context=context,
                                    location={"sheet": name, "rows": [first, last]}))
    return Extracted(kind, buf.getvalue(), segments)


def _sheet_groups(rows: Rows, buf: io.StringIO):
    """Write one sheet's rows to ``buf`` as CSV lines; yield ``(start, end, context,
    first_row, last_row, cells)`` for each row group."""
    rows, header_row, context = _find_header(rows)
    data_after_header = False
    for group in _row_groups(n_line for n_line in rows if n_line[0] != header_row):
        first, last = group[0][0], group[-1][0]
        body = "\n".join(text for _, text, _ in group)
        start = buf.tell()
        buf.write(body + "\n\n")
        after = first > header_row
        data_after_header |= after
        yield (start, start + len(body), context if after else "", first, last,
               sum(n for _, _, n in group))
    if header_row and not data_after_header:  # a table that is only its header row
        start = buf.tell()
        buf.write(context + "\n\n")
        yield start, start + len(context), "", header_row, header_row, context.count(",") + 1


def _find_header(rows: Rows) -> tuple[Iterator[tuple[int, list[str]]], int, str]:
    """``(non-empty rows as text cells, header row number or 0, header as a CSV line)``,
    looking ahead at no more than the first :data:`_HEADER_LOOKAHEAD` non-empty rows."""
    rows = iter(rows)
    ahead: list[tuple[int, list[str]]] = []
    for number, values in rows:
        line = _cells(values)
        if line:
            ahead.append((number, line))
            if len(ahead) >= _HEADER_LOOKAHEAD:
                break
    at = _header_index([line for _, line in ahead])
    header_row, context = (ahead[at][0], _csv_line(ahead[at][1])) if at is not None else (0, "")
    rest = ((number, _cells(values)) for number, values in rows)
    return itertools.chain(ahead, (r for r in rest if r[1])), header_row, context


def _row_groups(rows: Iterable[tuple[int, list[str]]]) -> Iterator[list[tuple[int, str, int]]]:
    """Runs of consecutive rows as ``(row number, CSV line, non-empty cells)``, at most
    :data:`GROUP_ROWS` rows and about :data:`GROUP_CHARS` characters each; a gap (a blank or
    header row) ends a run."""
    group: list[tuple[int, str, int]] = []
    chars = 0
    for number, line in rows:
        text = _csv_line(line)
        if group and (number != group[-1][0] + 1 or len(group) >= GROUP_ROWS
                      or chars + len(text) + 1 > GROUP_CHARS):
            yield group
            group, chars = [], 0
        group.append((number, text, sum(1 for v in line if v)))
        chars += len(text) + 1
    if group:
        yield group


def _header_index(lines: list[list[str]]) -> int | None:
    """The header among the first non-empty rows: the first all-text row about as wide as the
    widest; None when the first candidates hold numbers (a table without a header)."""
    if not lines:
        return None
    widest = max(sum(1 for v in line if v) for line in lines)
    for i, line in enumerate(lines):
        filled = [v for v in line if v]
        if len(filled) >= max(1, math.ceil(0.6 * widest)):
            return i if all(not _is_number(v) for v in filled) else None
    return None


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ""))
        return True
    except ValueError:
        return False


def _cells(values: list[Any]) -> list[str]:
    """Cell values as text, trailing empty cells dropped ([] for an empty row)."""
    out = [_cell(v) for v in values]
    while out and not out[-1]:
        out.pop()
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, _dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    text = str(value)
    if text in ("NaT", "nan"):
        return ""
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text.strip()


def _csv_line(values: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()
