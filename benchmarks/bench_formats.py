"""Extraction speed and memory of the document formats (no model, no store).

    python benchmarks/bench_formats.py            # workbooks of 10k and 40k rows, a deck, ...
    python benchmarks/bench_formats.py --rows 100000

For each file, made here by its own library: its size, the extraction time, the characters
and segments it gives, and the peak of Python memory during extraction (tracemalloc). A
workbook is streamed row by row, so its peak grows with the text it yields, not with the
parsed sheet: compare it with pandas.read_excel on the same file.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notebook_artifacts.index.extract import extract  # noqa: E402


def workbook(rows: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("Data")
    ws.append(["id", "region", "product", "units", "revenue"])
    regions = ["north", "south", "east", "west"]
    for i in range(rows):
        ws.append([i, regions[i % 4], f"product-{i % 97}", i % 13, round(i * 1.37, 2)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def deck(slides: int) -> bytes:
    from pptx import Presentation

    p = Presentation()
    for i in range(slides):
        s = p.slides.add_slide(p.slide_layouts[1])
        s.shapes.title.text = f"Slide {i + 1}"
        s.placeholders[1].text = "Quarterly figures and the plan for the next release. " * 5
        s.notes_slide.notes_text_frame.text = f"Speaker notes for slide {i + 1}."
    buf = io.BytesIO()
    p.save(buf)
    return buf.getvalue()


def document(paragraphs: int) -> bytes:
    import docx

    d = docx.Document()
    for i in range(paragraphs):
        if i % 20 == 0:
            d.add_heading(f"Section {i // 20 + 1}", 1)
        d.add_paragraph("Field notes on sensor calibration and the maintenance schedule. " * 4)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def notebook(cells: int) -> bytes:
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook(cells=[
        v4.new_code_cell(f"print(step_{i}())", execution_count=i + 1, outputs=[
            v4.new_output("stream", name="stdout", text=f"step {i} done: loss 0.{i:04d}\n")])
        for i in range(cells)])
    return nbformat.writes(nb).encode()


def measure(label: str, data: bytes, name: str, fn=None) -> None:
    run = fn or (lambda d: extract(d, None, name))
    t0 = time.perf_counter()
    out = run(data)
    secs = time.perf_counter() - t0  # timed without tracemalloc, which slows allocations
    tracemalloc.start()
    run(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    chars = f"{len(out.text):>11,}" if fn is None else f"{'':>11}"
    segs = f"{len(out.segments):>9,}" if fn is None else f"{'':>9}"
    print(f"{label:<34}{len(data) / 1e6:>8.1f}{secs:>9.2f}{chars}{segs}{peak / 1e6:>10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 40_000])
    args = ap.parse_args()
    import pandas as pd

    print(f"{'file':<34}{'MB':>8}{'seconds':>9}{'chars':>11}{'segments':>9}{'peak MB':>10}")
    for rows in args.rows:
        data = workbook(rows)
        measure(f"budget.xlsx, {rows:,} rows", data, "budget.xlsx")
        measure(f"  pandas.read_excel, same file", data, "",
                lambda d: pd.read_excel(io.BytesIO(d)))
    measure("deck.pptx, 200 slides", deck(200), "deck.pptx")
    measure("report.docx, 2,000 paragraphs", document(2000), "report.docx")
    measure("analysis.ipynb, 2,000 cells", notebook(2000), "analysis.ipynb")


if __name__ == "__main__":
    main()
