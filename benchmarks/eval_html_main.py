"""Main-content extraction of web pages, against human-marked article bodies.

    python benchmarks/eval_html_main.py PATH

PATH is a checkout of the Zyte (Scrapinghub) article-extraction benchmark (181 real pages,
``html/*.html.gz`` and ``ground-truth.json``; its ``evaluate.py`` supplies the metric: F1 of
4-word shingles). Prints precision, recall and F1 of the page text as the index sees it,
with and without :func:`notebook_artifacts.index.extract_html_main.main_content`.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from notebook_artifacts.index.extract import _extract_html  # noqa: E402
from notebook_artifacts.index.extract_html_main import main_content  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    bench = Path(sys.argv[1])
    sys.path.insert(0, str(bench))
    from evaluate import metrics_from_tp_fp_fns, string_shingle_matching

    truth = json.loads((bench / "ground-truth.json").read_text())
    pages = {k: gzip.decompress((bench / "html" / f"{k}.html.gz").read_bytes())
             .decode("utf-8", "replace") for k in truth}
    print(f"{len(pages)} pages from {bench}\n")
    print(f"{'text indexed':<26}{'precision':>10}{'recall':>8}{'F1':>7}{'seconds':>9}")
    for label, fn in (("whole page", lambda h: _extract_html(h).text),
                      ("main content", lambda h: _extract_html(main_content(h)).text)):
        t0 = time.perf_counter()
        got = {k: fn(h) for k, h in pages.items()}
        secs = time.perf_counter() - t0
        m = metrics_from_tp_fp_fns([string_shingle_matching(
            true=truth[k].get("articleBody", ""), pred=got[k]) for k in pages])
        print(f"{label:<26}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{secs:>9.1f}")


if __name__ == "__main__":
    main()
