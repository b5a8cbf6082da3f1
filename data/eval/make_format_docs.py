"""Write the evaluation documents that are not plain text, each made by its own library:

- ``docs/greenhouse_sensors.xlsx`` (pandas + openpyxl): two sheets of zone readings and alerts;
- ``docs/lab_safety_manual.docx`` (python-docx): sections by heading and a table;
- ``docs/quarterly_review.pptx`` (python-pptx): slides with titles and speaker notes;
- ``docs/bird_survey.ipynb`` (nbformat): code cells with their printed outputs.

Run from the repository root: ``python data/eval/make_format_docs.py``. The queries that judge
them are the lines of ``queries.jsonl`` whose relevant documents have these names.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent / "docs"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # zip member times: the same bytes on every run
FIXED_DATETIME = datetime.datetime(*FIXED_TIME)


def greenhouse_xlsx() -> bytes:
    import pandas as pd

    zones = [f"GH-ZONE-{i:02d}" for i in range(1, 21)]
    readings = pd.DataFrame({
        "zone": zones,
        "crop": ["tomato", "cucumber", "pepper", "lettuce", "basil"] * 4,
        "air_temp_c": [21.5 + (i % 5) * 0.8 for i in range(20)],
        "relative_humidity_pct": [62 + (i % 7) * 2 for i in range(20)],
        "co2_ppm": [650 + (i % 4) * 40 for i in range(20)],
    })
    alerts = pd.DataFrame({
        "zone": ["GH-ZONE-03", "GH-ZONE-14", "GH-ZONE-09"],
        "alert": ["irrigation valve stuck open", "humidity above 90% for six hours, fungal risk",
                  "CO2 injector offline"],
        "action": ["replaced solenoid", "vents opened and dehumidifier started",
                   "reset controller"],
    })
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as w:
        readings.to_excel(w, sheet_name="Readings", index=False)
        alerts.to_excel(w, sheet_name="Alerts", index=False)
    return buf.getvalue()


def lab_safety_docx() -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.created = d.core_properties.modified = FIXED_DATETIME
    d.add_heading("Chemistry laboratory safety manual", 0)
    d.add_heading("Spills", 1)
    d.add_heading("Hydrofluoric acid", 2)
    d.add_paragraph("Hydrofluoric acid burns may not hurt at first. Rinse the skin for five "
                    "minutes, then massage calcium gluconate gel into the area and seek "
                    "medical care. Neutralise small spills with calcium carbonate powder.")
    d.add_heading("Solvents", 2)
    d.add_paragraph("Absorb flammable solvent spills with vermiculite and ventilate the room.")
    d.add_heading("Storage", 1)
    table = d.add_table(rows=4, cols=2)
    for i, row in enumerate((("chemical", "storage class"), ("nitric acid", "oxidising acids"),
                             ("acetone", "flammable liquids cabinet"),
                             ("sodium hydroxide", "bases, away from acids"))):
        for j, value in enumerate(row):
            table.cell(i, j).text = value
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def quarterly_pptx() -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slides = [
        ("Q3 business review", "Revenue, costs and outlook for the third quarter", ""),
        ("Revenue", "Subscription revenue grew 8% quarter over quarter", ""),
        ("Freight costs", "Container shipping rates doubled after the canal closure",
         "Explain that we moved two suppliers to rail to limit the increase."),
        ("Outlook", "Hiring freeze until the new warehouse opens", ""),
    ]
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.core_properties.created = deck.core_properties.modified = FIXED_DATETIME
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def bird_survey_ipynb() -> bytes:
    import nbformat
    from nbformat import v4

    cells = [
        v4.new_markdown_cell("# Riverside bird survey\n\nPoint counts along three transects."),
        v4.new_code_cell("counts = survey.groupby(['transect', 'species']).size()\n"
                         "counts.loc['river']", execution_count=1, outputs=[
            v4.new_output("execute_result", execution_count=1, data={"text/plain": (
                "species\nkingfisher       14\ngrey heron        6\nsand martin      41\n"
                "Name: count, dtype: int64")})]),
        v4.new_markdown_cell("## Nesting"),
        v4.new_code_cell("print(nests.query('species == \"sand martin\"').burrows.sum())",
                         execution_count=2, outputs=[
            v4.new_output("stream", name="stdout", text="212 burrows in the eroded bank\n")]),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"  # fixed ids: the same file on every run
    return nbformat.writes(v4.new_notebook(cells=cells)).encode()


def _stable_zip(data: bytes) -> bytes:
    """The same archive with fixed member times, so re-running the script changes nothing."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            info.date_time = FIXED_TIME
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the time of writing
                body = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              rb"\g<1>2026-01-01T00:00:00Z", body)
            dst.writestr(info, body)
    return out.getvalue()


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, make in (("greenhouse_sensors.xlsx", greenhouse_xlsx),
                       ("lab_safety_manual.docx", lab_safety_docx),
                       ("quarterly_review.pptx", quarterly_pptx),
                       ("bird_survey.ipynb", bird_survey_ipynb)):
        data = make()
        (DOCS / name).write_bytes(data if name.endswith(".ipynb") else _stable_zip(data))
        print(f"wrote {DOCS / name}")


if __name__ == "__main__":
    main()
