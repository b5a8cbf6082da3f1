"""Real documents made by their own libraries (nbformat, pandas + openpyxl / odfpy, xlwt,
python-docx, python-pptx) for the extraction and query tests."""

from __future__ import annotations

import datetime as dt
import io

import nbformat
import pandas as pd
from nbformat import v4

SERIES_REPR = str(pd.Series({"month-to-month": 0.427, "one year": 0.113, "two year": 0.028},
                            name="churn").rename_axis("contract"))


def notebook(accuracy: str = "0.912", counts_from: int = 1) -> bytes:
    """``churn_analysis.ipynb``: headings, text outputs, a figure, a widget, a huge output
    and an error. ``accuracy`` is cell 4's printed output; ``counts_from`` the first
    execution count (a re-run changes every count)."""
    n = iter(range(counts_from, counts_from + 100))
    cells = [
        v4.new_markdown_cell("# Churn analysis\n\nWhy do subscribers cancel their contracts?"),
        v4.new_code_cell("import pandas as pd\ndf = pd.read_csv('customers.csv')\n"
                         "print('rows loaded:', len(df))", execution_count=next(n),
                         outputs=[v4.new_output("stream", name="stdout",
                                                text="rows loaded: 7043\n")]),
        v4.new_markdown_cell("## Model\n\nA gradient boosted classifier on tenure and contract."),
        v4.new_code_cell("model.fit(X_train, y_train)\nacc = model.score(X_valid, y_valid)\n"
                         "print(f'validation accuracy {acc:.3f}')", execution_count=next(n),
                         outputs=[v4.new_output("stream", name="stdout",
                                                text=f"validation accuracy {accuracy}\n")]),
        v4.new_code_cell("df.groupby('contract').churn.mean()", execution_count=next(n),
                         outputs=[v4.new_output("execute_result", execution_count=3,
                                                data={"text/plain": SERIES_REPR,
                                                      "text/html": "<table>...</table>"})]),
        v4.new_code_cell("plt.plot(history['loss'])", execution_count=next(n),
                         outputs=[v4.new_output("display_data", data={
                             "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==",
                             "text/plain": "<Figure size 640x480 with 1 Axes>"})]),
        v4.new_code_cell("threshold = widgets.FloatSlider(value=0.5)\nthreshold",
                         execution_count=next(n),
                         outputs=[v4.new_output("display_data", data={
                             "application/vnd.jupyter.widget-view+json":
                                 {"model_id": "abc", "version_major": 2, "version_minor": 0},
                             "text/plain": "FloatSlider(value=0.5)"})]),
        v4.new_code_cell("print(raw_log)", execution_count=next(n),
                         outputs=[v4.new_output("stream", name="stdout",
                                                text="verbose trace line\n" * 600)]),
        v4.new_code_cell("df['tenure_bucket'].value_counts()", execution_count=next(n),
                         outputs=[v4.new_output("error", ename="KeyError",
                                                evalue="'tenure_bucket'",
                                                traceback=["\x1b[0;31mKeyError\x1b[0m ..."])]),
        v4.new_code_cell("for epoch in range(3): train(epoch)", execution_count=next(n),
                         outputs=[v4.new_output("stream", name="stderr",
                                                text="epoch 1/3\repoch 2/3\repoch 3/3 done\n")]),
    ]
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3",
                                                               "display_name": "Python 3",
                                                               "language": "python"}})
    return nbformat.writes(nb).encode()


def budget_frames() -> dict[str, pd.DataFrame]:
    """Two quarters of budget lines; Q3 row 40 (spreadsheet row 42) is the satellite lease."""
    frames = {}
    for sheet, offset in (("Q2", 0), ("Q3", 1000)):
        rows = [{"line_item": f"Office supplies batch {i}", "department": "Admin",
                 "amount": 100 + offset + i} for i in range(60)]
        if sheet == "Q3":
            rows[40] = {"line_item": "Satellite ground station lease",
                        "department": "Operations", "amount": 48200}
        frames[sheet] = pd.DataFrame(rows)
    return frames


def xlsx(frames: dict[str, pd.DataFrame] | None = None) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as w:
        for name, df in (frames or budget_frames()).items():
            df.to_excel(w, sheet_name=name, index=False)
    return buf.getvalue()


def ods(frames: dict[str, pd.DataFrame] | None = None) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="odf") as w:
        for name, df in (frames or budget_frames()).items():
            df.to_excel(w, sheet_name=name, index=False)
    return buf.getvalue()


def xls() -> bytes:
    """An Excel 97-2003 workbook written by xlwt: a title row, a header, dates and numbers."""
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Readings")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    sheet.write(0, 0, "Buoy readings 2024")  # a title row above the header
    for col, name in enumerate(("date", "buoy", "salinity")):
        sheet.write(2, col, name)
    for i in range(30):
        sheet.write(3 + i, 0, dt.date(2024, 1, 1) + dt.timedelta(days=i), date_style)
        sheet.write(3 + i, 1, "BUOY-7731" if i == 17 else f"BUOY-{100 + i}")
        sheet.write(3 + i, 2, 35.0 + i / 10)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def docx() -> bytes:
    import docx as python_docx

    d = python_docx.Document()
    d.add_heading("Annual field report", 0)
    d.add_paragraph("This report covers the coastal monitoring network in 2024.")
    d.add_heading("Results", 1)
    d.add_heading("Buoy calibration", 2)
    d.add_paragraph("The salinity sensors on the northern buoys drifted by 0.3 PSU over the "
                    "winter and were recalibrated in March.")
    d.add_heading("Costs", 2)
    table = d.add_table(rows=4, cols=2)
    for i, row in enumerate((("item", "cost (EUR)"), ("replacement anemometers", "12,400"),
                             ("vessel charter", "31,000"), ("spare batteries", "2,150"))):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    d.add_heading("Next steps", 1)
    d.add_paragraph("Hire two field technicians before the spring deployment.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def pptx() -> bytes:
    """Eight slides; slide 7 is the pricing experiment, with notes; slide 8 has a table and a
    group shape."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    topics = ["Agenda", "Market overview", "Customer segments", "Roadmap", "Hiring plan",
              "Budget summary"]
    for topic in topics:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = topic
        slide.placeholders[1].text = f"Talking points for {topic.lower()}"
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Pricing experiment"
    slide.placeholders[1].text = "A 15% discount raised conversion by 2.4 points"
    slide.notes_slide.notes_text_frame.text = "Mention that the holdout group saw no change."
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Model metrics"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "metric", (0, 1): "value", (1, 0): "AUC",
                          (1, 1): "0.91"}.items():
        table.cell(r, c).text = value
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(4), Inches(3), Inches(1))
    box.text_frame.text = "Grouped caption about recall"
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()
