"""Turn a run's figures into results.md (table + ratios) and PNG plots."""

from __future__ import annotations

import math
from pathlib import Path

from .systems import SYSTEM_LABELS

__all__ = ["summary_rows", "write_report"]

PEERS = ("langchain", "folder", "file_service")


def _get(results: dict, group: str, system: str, *path):
    node = results.get(group, {}).get(system)
    if not node or "error" in node:
        return None
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


# (label, group, path, unit, lower_is_better, decimals)
_METRICS = [
    ("put large file: seconds", "put_large", ("seconds",), "s", True, 2),
    ("put large file: peak RSS over baseline", "put_large", ("peak_over_baseline_mb",), "MiB", True, 0),
    ("put large file again (content stored already): seconds", "put_large", ("again", "seconds"), "s", True, 2),
    ("small puts per second", "small_puts", ("puts_per_s",), "/s", False, 0),
    ("put_many of as many small files: per second", "small_puts", ("many", "puts_per_s"), "/s", False, 0),
    ("small puts: CPU seconds", "small_puts", ("cpu_seconds",), "s", True, 2),
    ("ingest document set: seconds", "index", ("ingest", "seconds"), "s", True, 1),
    ("ingest document set: CPU seconds (all threads)", "index", ("ingest", "cpu_seconds"), "s", True, 1),
    ("ingest: chunks embedded", "index", ("ingest", "chunks"), "", None, 0),
    ("ingest: peak RSS", "index", ("ingest", "peak_rss_mb"), "MiB", True, 0),
    ("re-ingest after editing 1% (re-run over whole folder): seconds", "index", ("reingest", "seconds"), "s", True, 2),
    ("re-ingest (whole folder): CPU seconds", "index", ("reingest", "cpu_seconds"), "s", True, 2),
    ("re-ingest, only the edited files given: seconds", "index", ("reingest_changed", "seconds"), "s", True, 2),
    ("ingest long documents: seconds", "long_ingest", ("ingest", "seconds"), "s", True, 1),
    ("ingest long documents: CPU seconds (all threads)", "long_ingest", ("ingest", "cpu_seconds"), "s", True, 1),
    ("ingest long documents: chunks", "long_ingest", ("ingest", "chunks"), "", None, 0),
    ("query latency p50, in the indexing session", "index", ("query", "default", "p50_ms"), "ms", True, 1),
    ("query latency p95, in the indexing session", "index", ("query", "default", "p95_ms"), "ms", True, 1),
    ("query latency p50, reopened, all systems interleaved", "query", ("p50_ms",), "ms", True, 1),
    ("query latency p95, reopened, all systems interleaved", "query", ("p95_ms",), "ms", True, 1),
    ("query CPU time p50, reopened, interleaved", "query", ("cpu_p50_ms",), "ms", True, 1),
    ("Recall@1", "index", ("quality", "default", "recall@1"), "", False, 3),
    ("Recall@10", "index", ("quality", "default", "recall@10"), "", False, 3),
    ("MRR@10", "index", ("quality", "default", "mrr@10"), "", False, 3),
    ("nDCG@10", "index", ("quality", "default", "ndcg@10"), "", False, 3),
]


def _ratio(ours, other, lower_is_better) -> float | None:
    if ours is None or other is None or lower_is_better is None:
        return None
    if lower_is_better:
        return other / ours if ours > 0 else None
    return ours / other if other > 0 else None


def summary_rows(doc: dict) -> list[dict]:
    """One row per metric: each system's value, ours vs raw, ours vs the best peer."""
    res = doc["results"]
    systems = list(doc["meta"]["systems"])
    rows = []
    for label, group, path, unit, lower, dec in _METRICS:
        if group not in res:
            continue
        values = {s: _get(res, group, s, *path) for s in systems}
        if group == "long_ingest" and "raw" not in values:  # ours' own forward pass
            values["raw"] = _get(res, group, "raw", *path)
        if path[0] == "query" and values.get("raw") is None:
            values["raw"] = None
        if all(v is None for v in values.values()):
            continue
        peers = {s: v for s, v in values.items() if s in PEERS and v is not None}
        best = None
        if peers and lower is not None:
            best = (min if lower else max)(peers, key=peers.get)
        rows.append({
            "metric": label, "group": group, "unit": unit, "lower_is_better": lower,
            "decimals": dec, "values": values,
            "ours_vs_raw": _ratio(values.get("ours"), values.get("raw"), lower),
            "best_peer": best,
            "ours_vs_best_peer": _ratio(values.get("ours"), peers.get(best), lower) if best else None,
        })
    return rows


def _fmt(v, dec: int) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "n/a"
    return f"{v:,.{dec}f}"


def _short(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _fmt_ratio(r) -> str:
    return "n/a" if r is None else f"{r:.2f}x"



def _cpu_text(machine: dict) -> str:
    """``; <model>, <vector extensions>`` when the run recorded them (older runs did not)."""
    if not machine.get("cpu"):
        return ""
    return f"; {machine['cpu']}, {'/'.join(machine.get('cpu_vector_flags') or ['no AVX2'])}"

def _markdown(doc: dict, rows: list[dict]) -> str:
    meta, cfg = doc["meta"], doc["config"]
    systems = list(meta["systems"])
    c = meta["corpus"]
    lines = [
        f"# Benchmark results ({meta['scale']})",
        "",
        f"Run {meta['date']} on {meta['machine']['cpus']} CPUs ({meta['machine']['platform']}"
        f"{_cpu_text(meta['machine'])}), Python {meta['machine']['python']}, "
        f"{meta['wall_seconds']:.0f} s wall.",
        f"Data: large file {cfg['large_mb']} MiB; {cfg['small_count']} puts of {cfg['small_size']} B; "
        f"{c['documents']} documents ({c['chars']:,} chars: {c['eval_documents']} eval + "
        f"{c['generated_documents']} generated), {c['eval_queries']} judged queries ({c['eval_source']}); "
        f"{cfg['query_count']} timed queries; {int(cfg['edit_fraction'] * 100)}% of documents edited for re-ingest.",
        f"Torch/OpenMP threads per system: {cfg.get('torch_threads', 'default')}"
        + (" (`--threads`; the same for every system)." if _threads(cfg) is not None
           else " (torch's default)."),
        "",
        "Ratios: above 1.00x means notebook-artifacts is better (faster, smaller or more accurate). "
        "`vs raw` for times is raw/ours (1.00x = at the hardware/model floor).",
        "",
        "| Metric | " + " | ".join(SYSTEM_LABELS[s] for s in systems) + " | ours vs raw | ours vs best peer |",
        "|---|" + "---:|" * (len(systems) + 2),
    ]
    for r in rows:
        unit = f" ({r['unit']})" if r["unit"] else ""
        cells = [_fmt(r["values"].get(s), r["decimals"]) for s in systems]
        peer = f"{_fmt_ratio(r['ours_vs_best_peer'])} ({SYSTEM_LABELS[r['best_peer']]})" if r["best_peer"] else "n/a"
        lines.append(f"| {r['metric']}{unit} | " + " | ".join(cells) + f" | {_fmt_ratio(r['ours_vs_raw'])} | {peer} |")
    ours_q = _get(doc["results"], "index", "ours", "quality") or {}
    if len(ours_q) > 1:
        lines += ["", "notebook-artifacts by query mode:", "",
                  "| mode | Recall@1 | Recall@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms |", "|---|---:|---:|---:|---:|---:|---:|"]
        lat = _get(doc["results"], "index", "ours", "query") or {}
        for mode, q in ours_q.items():
            l = lat.get(mode, {})
            lines.append(f"| {mode if mode != 'default' else 'hybrid (default)'} | {q['recall@1']:.3f} | {q['recall@10']:.3f} | "
                         f"{q['mrr@10']:.3f} | {q['ndcg@10']:.3f} | {_fmt(l.get('p50_ms'), 1)} | {_fmt(l.get('p95_ms'), 1)} |")
    long_ours = _get(doc["results"], "long_ingest", "ours")
    if long_ours and "forward_pass" in long_ours:
        ct = long_ours.get("chunk_texts", {})
        lines += ["", f"Long documents (`benchmarks/long_docs.py`: man-page-sized text that installs "
                  f"with the project, 5-50 KB each): {long_ours['documents']} documents, "
                  f"{long_ours['bytes'] / 1024:,.0f} KB, {ct.get('chunks', 0):,} chunks of "
                  f"{ct.get('mean_tokens', 0):.0f} tokens on average ({ct.get('over_window', 0)} over the "
                  "model's window). Its raw limit is notebook-artifacts' own forward pass over exactly "
                  "the chunk texts it embeds, timed in the same process before and after the ingest: "
                  f"ingest reaches {long_ours['vs_forward_pass']:.2f}x of it in wall time "
                  f"({long_ours['cpu_vs_forward_pass']:.2f}x in CPU time)."]
    loads = [v["loadavg_1m"] for d in doc["results"].values() for v in d.values() if "loadavg_1m" in v]
    if loads:
        lo, hi = min(min(x) for x in loads), max(max(x) for x in loads)
        busy = hi > meta["machine"]["cpus"]
        lines += ["", f"The 1-minute load average (on {meta['machine']['cpus']} CPUs) ranged "
                  f"{lo:.1f}-{hi:.1f} during the run"
                  + (": the machine was shared with other work, which inflates every system's "
                     "times and makes single figures noisy" if busy else
                     " (the benchmark's own work: a quiet machine)")
                  + ". The load seen by each system is in results.json (`loadavg_1m`), and the "
                  "reopened query latencies interleave the systems query by query so that they "
                  "share the same load."]
    single = _get(doc["results"], "small_puts", "ours", "puts_per_s")
    many = _get(doc["results"], "small_puts", "ours", "many", "puts_per_s")
    if single and many:
        lines += ["", f"`put_many` stores {many / single:.2f}x as many small files per second as "
                  "one `put` each (both durable when they return)."]
    rounds = {s: v["rounds_seconds"] for s, v in doc["results"].get("put_large", {}).items()
              if isinstance(v, dict) and len(v.get("rounds_seconds") or ()) > 1}
    if rounds:
        listed = "; ".join(f"{SYSTEM_LABELS.get(s, s)} " + ", ".join(f"{x:.2f}" for x in r)
                           for s, r in rounds.items())
        lines += ["", f"The large put ran {max(map(len, rounds.values()))} times per system, each "
                  "system once in every position of the order (on this VM the second 256 MiB "
                  "written in a row took up to 1.7x as long, whichever system wrote it); the "
                  f"table shows each system's median round. Seconds per round: {listed}."]
    errors = [(g, s, v["error"]) for g, d in doc["results"].items() for s, v in d.items() if "error" in v]
    if errors:
        lines += ["", "Errors:", ""] + [f"- {g} / {SYSTEM_LABELS[s]}: {e}" for g, s, e in errors]
    lines += [
        "",
        "Durability differs: notebook-artifacts fsyncs every blob and commits the catalog "
        "(SQLite WAL) on each put (`put_many`: all blobs, then one catalog transaction), and so "
        "do the raw limits; the folder and the file artifact service do not fsync, so a crash "
        "can lose or tear what they wrote.",
        "",
        "Raw limits: put = `shutil.copyfile` + fsync + sha256 of the file; put again = sha256 "
        "of the file (one read); small puts and `put_many` = per file: write + fsync, then one "
        "SQLite row committed in WAL mode (synchronous=NORMAL, as the catalog) on the same disk; "
        "ingest = the model's forward pass over the pre-split chunks only; re-ingest = embed only the "
        "changed chunks; query = embedding the query text alone. Raw embeddings run on ONNX Runtime "
        "(the graph notebook-artifacts exports; the same vectors as `SentenceTransformer.encode`, "
        "~1.7-2.8x faster on CPU); LangChain and the folder script run PyTorch, as they ship.",
        f"Reproduce: `{_reproduce_cmd(meta, cfg)}` "
        "(or `notebook-artifacts bench`), after `pip install -e '.[bench]'`.",
        "",
        "![throughput](throughput.png)",
        "",
        "![latency](latency.png)",
        "",
    ]
    return "\n".join(lines)


def _plots(doc: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = doc["results"]
    systems = list(doc["meta"]["systems"])
    colors = {"raw": "#9e9e9e", "ours": "#1f77b4", "langchain": "#2ca02c", "folder": "#ff7f0e",
              "file_service": "#9467bd"}

    panels = [
        ("Put large file (MiB/s)", "put_large", ("mb_per_s",), False),
        ("Small 1 KiB puts per second", "small_puts", ("puts_per_s",), False),
        ("Ingest document set (seconds)", "index", ("ingest", "seconds"), True),
        ("Re-ingest after 1% edit (s, log)", "index", ("reingest", "seconds"), True),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for ax, (title, group, path, lower) in zip(axes.flat, panels):
        names = [s for s in systems if _get(res, group, s, *path) is not None]
        vals = [_get(res, group, s, *path) for s in names]
        bars = ax.barh([SYSTEM_LABELS[s] for s in names], vals, color=[colors[s] for s in names])
        if "log" in title and vals and min(vals) > 0:
            ax.set_xscale("log")
            ax.set_xlim(min(vals) / 3, max(vals) * 6)
        for b, v in zip(bars, vals):
            ax.text(b.get_width(), b.get_y() + b.get_height() / 2, f" {_short(v)}", va="center", fontsize=9)
        ax.set_title(title + ("  (lower is better)" if lower else "  (higher is better)"), fontsize=10)
        ax.invert_yaxis()
        if ax.get_xscale() != "log":
            ax.margins(x=0.25)
    fig.suptitle(f"Throughput, {doc['meta']['scale']} run ({doc['meta']['date']})", fontsize=11)
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)

    rows = []
    for s in systems:
        q = (res.get("query") or {}).get(s)
        if q and "p50_ms" in q:
            label = "raw: embed the query only" if s == "raw" else SYSTEM_LABELS[s]
            rows.append((label + " [interleaved]", q["p50_ms"], q["p95_ms"], colors[s]))
    for s in systems:
        for mode, q in (_get(res, "index", s, "query") or {}).items():
            label = SYSTEM_LABELS[s] + ("" if mode == "default" else f" ({mode})")
            if s == "raw":
                label = "raw: embed the query only"
            elif s == "ours" and mode == "default":
                label += " (hybrid)"
            rows.append((label + " [in session]", q["p50_ms"], q["p95_ms"], colors[s]))
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.42 * max(len(rows), 3)))
    if rows:
        y = range(len(rows))
        ax.barh(list(y), [r[2] for r in rows], color=[r[3] for r in rows], alpha=0.35, label="p95")
        ax.barh(list(y), [r[1] for r in rows], color=[r[3] for r in rows], label="p50")
        for i, r in enumerate(rows):
            ax.text(r[2], i, f"  p50 {r[1]:.1f} / p95 {r[2]:.1f} ms", va="center", fontsize=9)
        ax.set_yticks(list(y), [r[0] for r in rows])
        ax.invert_yaxis()
        ax.margins(x=0.35)
        ax.set_xlabel("query latency, ms (solid p50, light p95; lower is better)")
    ax.set_title(f"Query latency, k=10, {doc['meta']['corpus']['documents']} documents "
                 "([interleaved]: one process, systems take turns per query)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)


def _threads(cfg: dict) -> int | None:
    """The ``--threads`` the run was given, or None (torch's default)."""
    threads = cfg.get("torch_threads")
    return None if threads in (None, "default") else threads


def _reproduce_cmd(meta: dict, cfg: dict) -> str:
    from .harness import SCALES
    from .workloads import GROUPS

    threads = _threads(cfg)
    scale = meta["scale"]
    groups = cfg.get("groups") or list(GROUPS)
    long_docs = cfg.get("long_docs", SCALES.get(scale, {}).get("long_docs"))
    return ("python -m benchmarks" + (" --quick" if scale == "quick" else "")
            + (f" --scale {scale}" if scale not in ("quick", "full") else "")
            + (f" --threads {threads}" if threads is not None else "")
            + (f" --groups {','.join(groups)}" if list(groups) != list(GROUPS) else "")
            + (f" --systems {','.join(meta['systems'])}"
               if list(meta["systems"]) != list(SYSTEM_LABELS) else "")
            + (f" --long-docs {long_docs}" if "long_ingest" in groups
               and long_docs != SCALES.get(scale, {}).get("long_docs") else ""))


def write_report(doc: dict, out: Path) -> list[dict]:
    """Write results.md and the PNGs; returns the summary rows (stored in results.json)."""
    rows = summary_rows(doc)
    (out / "results.md").write_text(_markdown(doc, rows))
    _plots(doc, out)
    return rows


# headline rows for the README (full table: results.md)
_README_METRICS = (
    "put large file: seconds",
    "put large file again (content stored already): seconds",
    "small puts per second",
    "put_many of as many small files: per second",
    "ingest document set: seconds",
    "ingest: peak RSS",
    "re-ingest after editing 1% (re-run over whole folder): seconds",
    "re-ingest, only the edited files given: seconds",
    "query latency p50, reopened, all systems interleaved",
    "query latency p95, reopened, all systems interleaved",
    "Recall@1",
    "nDCG@10",
)


def readme_section(doc: dict, results_dir: str = "benchmarks/results") -> str:
    """The README's benchmark section: headline table, one plot, how to reproduce."""
    meta, cfg = doc["meta"], doc["config"]
    rows = {r["metric"]: r for r in (doc.get("summary") or summary_rows(doc))}
    systems = list(meta["systems"])
    c = meta["corpus"]
    cmd = _reproduce_cmd(meta, cfg)
    lines = [
        "## Benchmarks",
        "",
        f"notebook-artifacts against the raw limits and what users pick instead, on the same data "
        f"in one run ({meta['scale']} scale, {meta['date'][:10]}, {meta['machine']['cpus']} CPUs; "
        f"load average in `{results_dir}/results.md`): "
        f"a {cfg['large_mb']} MiB file, {cfg['small_count']} puts of {cfg['small_size']} B, "
        f"{c['documents']} documents ({c['chars']:,} characters, the eval set plus generated "
        f"reports), {int(cfg['edit_fraction'] * 100)}% of them edited for re-ingest, and "
        f"{c['eval_queries']} judged queries from `data/eval`.",
        "",
        "| | " + " | ".join(SYSTEM_LABELS[s] for s in systems) + " | ours vs best peer |",
        "|---|" + "---:|" * (len(systems) + 1),
    ]
    for metric in _README_METRICS:
        r = rows.get(metric)
        if r is None:
            continue
        unit = f" ({r['unit']})" if r["unit"] else ""
        cells = [_fmt(r["values"].get(s), r["decimals"]) for s in systems]
        peer = f"{_fmt_ratio(r['ours_vs_best_peer'])}" if r["best_peer"] else "n/a"
        lines.append(f"| {metric}{unit} | " + " | ".join(cells) + f" | {peer} |")
    lines += [
        "",
        "Ratios above 1.00x favour notebook-artifacts. Full table, ratios against the raw "
        f"limits, durability notes and per-mode quality: [`{results_dir}/results.md`]"
        f"({results_dir}/results.md) (figures in `results.json`).",
        "",
        f"![throughput]({results_dir}/throughput.png)",
        "",
        f"Reproduce: `pip install -e '.[bench]'`, then `{cmd}` "
        + ("(about 10 minutes on 2 cores; `--quick` about 2 minutes)" if meta["scale"] == "full"
           else "(a few minutes on 2 cores)")
        + f" or `notebook-artifacts bench`. Results are written to `{results_dir}/`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # python -m benchmarks.report results.json  -> README section
    import json
    import sys

    print(readme_section(json.loads(Path(sys.argv[1]).read_text())))
