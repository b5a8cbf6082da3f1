"""Write ``data/field_report.pdf``: a 3-page PDF with real, extractable text.

A tiny hand-written PDF writer (Helvetica, one text object per page, correct xref table),
so the sample needs no PDF library. Run: ``python data/make_sample_pdf.py``.
"""

from __future__ import annotations

from pathlib import Path

PAGES = [
    ["Field Report: Coastal Sensor Network", "",
     "This report summarises the first deployment of the coastal sensor network.",
     "Twelve buoys measured water temperature, salinity and wave height every ten minutes.",
     "Battery life exceeded the design target of ninety days on all but two buoys."],
    ["Calibration and Drift", "",
     "Salinity probes drifted by up to 0.4 PSU per month without recalibration.",
     "We recalibrated against reference seawater on day 45 and day 90.",
     "Temperature sensors stayed within 0.05 degrees Celsius of the reference thermometer."],
    ["Recommendations", "",
     "Replace the two failing battery packs with lithium iron phosphate cells.",
     "Schedule salinity recalibration every six weeks instead of every quarter.",
     "Error code BUOY-7731 indicates a tripped moisture sensor inside the hull."],
]


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def build(pages: list[list[str]]) -> bytes:
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1: catalog, 2: pages, 3: font, then (page, content) pairs
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 740 Td"]
        for line in lines:
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    path = Path(__file__).with_name("field_report.pdf")
    path.write_bytes(build(PAGES))
    print(f"wrote {path} ({path.stat().st_size} bytes)")
