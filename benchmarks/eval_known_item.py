"""Known-item retrieval on text nobody here wrote (see ``benchmarks/known_item.py``).

    python benchmarks/eval_known_item.py                 # ours (3 modes) + LangChain + folder
    python benchmarks/eval_known_item.py --systems ours  # only notebook-artifacts
    python benchmarks/eval_known_item.py --tune          # also choose the fusion weight on
                                                         # the tune half, report the test half

Every system indexes the same folder of documents with the same all-MiniLM-L6-v2 model and
answers the same queries; each query has exactly one relevant document. Peers return chunks,
so they are asked for 50 and their chunk hits collapse to documents (first-seen order) before
the top 10 are scored; notebook-artifacts returns documents (k=10) with its default settings,
relevance floor included. Prints Recall@1, Recall@10, MRR@10 and nDCG@10 on all queries and on
each half, and writes ``benchmarks/results/known_item.{json,md}`` (``--out`` to change).
About 4 minutes on 2 cores: each system embeds ~900 chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from benchmarks.known_item import DOC_CHARS, build_known_item_set  # noqa: E402
from benchmarks.scoring import dedupe, retrieval_metrics  # noqa: E402

SYSTEMS = ("ours", "langchain", "folder")
LABELS = {"ours:hybrid": "notebook-artifacts hybrid (default)", "ours:dense": "notebook-artifacts dense",
          "ours:keyword": "notebook-artifacts keyword", "langchain": "LangChain index() + Chroma",
          "folder": "folder + re-embed script"}


def _score(ranked: dict[str, list[str]], kis, ids: list[str]) -> dict:
    return retrieval_metrics({q: ranked[q] for q in ids}, {q: kis.qrels[q] for q in ids})


def _report(ranked: dict[str, list[str]], kis) -> dict:
    every = list(kis.queries)
    return {"all": _score(ranked, kis, every), "tune": _score(ranked, kis, kis.half("tune")),
            "test": _score(ranked, kis, kis.half("test"))}


def run_ours(folder: Path, kis, workdir: Path, tune: bool, store_dir: str | None = None) -> dict:
    """Index with notebook-artifacts (in ``store_dir`` when given: a later run reuses it and
    puts only documents whose content changed), then query in each mode."""
    import hashlib

    from notebook_artifacts import ArtifactStore
    from notebook_artifacts.errors import NotFoundError

    store = ArtifactStore(Path(store_dir) if store_dir else workdir / "store")
    t0 = time.perf_counter()
    for path in sorted(folder.iterdir()):
        try:
            if store.get(path.name).sha256 == hashlib.sha256(path.read_bytes()).hexdigest():
                continue
        except NotFoundError:
            pass
        store.put(path, name=path.name)
    assert store.wait_indexed(3600), "indexing did not finish"
    out: dict = {"index_seconds": time.perf_counter() - t0}
    for mode in ("hybrid", "dense", "keyword"):
        ranked = {q: [h.artifact.name for h in store.query(text, k=10, mode=mode,
                                                           context_budget=0).results]
                  for q, text in kis.queries.items()}
        out[f"ours:{mode}"] = _report(ranked, kis)
    if tune:
        out["tuning"] = tune_fusion(store, kis)
    store.close()
    return out


#: the grid searched on the tune half: hybrid dense weight, the weight of name matches in the
#: keyword index (``keyword.NAME_WEIGHT``; 0 = text only) and the document-level bonus of the
#: second-best chunk (``fuse.DOC_BONUS``)
GRID = {"dense_weight": [0.6, 0.7, 0.8], "name_weight": [0.0, 0.5, 1.0, 1.5, 2.0],
        "doc_bonus": [0.0, 0.25]}
#: the scoring before this grid's winner became the default
PREVIOUS = {"dense_weight": 0.7, "name_weight": 0.0, "doc_bonus": 0.0}


def tune_fusion(store, kis) -> dict:
    """Choose the hybrid scoring parameters on the tune half, report them on the test half.

    Each query's candidates are computed once per name weight (exact cosines; the keyword
    index's own SQL), then every combination of :data:`GRID` is scored with the index's own
    ``fuse.fuse`` and ``fuse.doc_score`` and the hybrid relevance floor: the same ranking
    ``store.query`` makes, without re-running the model. The winner is the best tune-half
    MRR@10 (ties: nearest the current defaults)."""
    import itertools

    from notebook_artifacts.index import fuse as F
    from notebook_artifacts.index import keyword as K

    svc = store._index()
    owner = {r[0]: r[1] for r in svc.db.query("SELECT id, name FROM idx_chunks")}
    matrix = svc._dense_matrix()
    flt = {"scope": ["artifacts"], "namespace": None, "session_id": None, "mime_type": None}
    qvecs = {q: svc.embedder.encode_query(text) for q, text in kis.queries.items()}
    default_nw = K.NAME_WEIGHT
    cand: dict[float, dict] = {}
    try:
        for nw in GRID["name_weight"]:
            K.NAME_WEIGHT = nw
            cand[nw] = {}
            for q, text in kis.queries.items():
                kw = dict(svc.db.keyword_search(text, 50, flt))
                dense = dict(matrix.search(qvecs[q], 50, flt))
                missing = [c for c in kw if c not in dense]
                if missing:
                    dense.update(matrix.cosines(qvecs[q], missing))
                cand[nw][q] = (dense, kw)
    finally:
        K.NAME_WEIGHT = default_nw

    def ranked(q: str, w: float, nw: float, bonus: float) -> list[str]:
        dense, kw = cand[nw][q]
        docs: dict[str, list[float]] = {}
        for c, v in F.fuse(dense, kw, "hybrid", w):
            docs.setdefault(owner[c], []).append(v)
        scored = sorted(((F.doc_score(v, bonus), d) for d, v in docs.items()), reverse=True)
        return [d for v, d in scored if v >= F.MIN_SCORE["hybrid"]][:10]

    results = {}
    for key in itertools.product(*GRID.values()):
        r = {q: ranked(q, *key) for q in kis.queries}
        results[key] = {"tune": _score(r, kis, kis.half("tune")),
                        "test": _score(r, kis, kis.half("test"))}
    now = (F.DENSE_WEIGHT, default_nw, F.DOC_BONUS)
    base = tuple(PREVIOUS.values())

    def distance(key) -> float:
        return sum(abs(float(a) - float(b)) for a, b in zip(key, now))

    best = max(results, key=lambda key: (round(results[key]["tune"]["mrr@10"], 4), -distance(key)))
    fmt = lambda key: ", ".join(f"{n}={v}" for n, v in zip(GRID, key))  # noqa: E731
    return {"grid": {fmt(k): v for k, v in results.items()}, "chosen_on_tune": fmt(best),
            "defaults": fmt(now), "test_at_defaults": results[now]["test"],
            "tune_at_defaults": results[now]["tune"],
            "test_at_chosen": results[best]["test"], "baseline": fmt(base),
            "test_at_baseline": results[base]["test"],
            "tune_at_chosen": results[best]["tune"], "tune_at_baseline": results[base]["tune"]}


def run_langchain(folder: Path, kis, workdir: Path) -> dict:
    from benchmarks.peers.langchain_indexing import LangChainIndex
    from benchmarks.systems import model_path

    lc = LangChainIndex(workdir / "langchain", model_path())
    t0 = time.perf_counter()
    lc.index_folder(folder)
    seconds = time.perf_counter() - t0
    ranked = {q: dedupe([Path(src).name for src, _, _ in lc.search(text, 50)])[:10]
              for q, text in kis.queries.items()}
    return {"index_seconds": seconds, "langchain": _report(ranked, kis)}


def run_folder(folder: Path, kis, workdir: Path) -> dict:
    from benchmarks.peers.reembed_folder import FolderIndex
    from benchmarks.systems import load_model

    idx = FolderIndex(workdir / "folder", load_model())
    t0 = time.perf_counter()
    idx.build(folder)
    seconds = time.perf_counter() - t0
    ranked = {q: dedupe([src for src, _, _ in idx.search(text, 50)])[:10]
              for q, text in kis.queries.items()}
    return {"index_seconds": seconds, "folder": _report(ranked, kis)}


def _keep_other_systems(path: Path, res: dict) -> None:
    """A run of some systems keeps the others' figures from the previous run on the same set."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if (old.get("documents"), old.get("queries"), old.get("chars")) != \
            (res["documents"], res["queries"], res["chars"]):
        return
    for key, value in old.get("systems", {}).items():
        res["systems"].setdefault(key, value)
    for key, value in old.get("index_seconds", {}).items():
        res["index_seconds"].setdefault(key, value)
    if "tuning" in old and "tuning" not in res:
        res["tuning"] = old["tuning"]


def _markdown(res: dict) -> str:
    lines = [
        "# Known-item retrieval on installed text",
        "",
        f"Run {res['when']} on {res['cpus']} CPUs, Python {res['python']}, {res['wall_s']:.0f} s wall. "
        f"{res['documents']} documents ({res['chars']:,} characters, each cut to {DOC_CHARS}), "
        f"{res['queries']} queries ({res['by_source']}); tune half {res['tune']}, test half "
        f"{res['test']}. One relevant document per query.",
        "",
        "| system | Recall@1 | Recall@10 | MRR@10 | nDCG@10 | MRR@10 test half |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in LABELS.items():
        r = res["systems"].get(key)
        if r:
            a = r["all"]
            lines.append(f"| {label} | {a['recall@1']:.3f} | {a['recall@10']:.3f} | "
                         f"{a['mrr@10']:.3f} | {a['ndcg@10']:.3f} | {r['test']['mrr@10']:.3f} |")
    if res.get("tuning"):
        t = res["tuning"]
        lines += ["", "Hybrid scoring searched on the tune half by MRR@10 (`--tune`, the grid "
                  "of `GRID`; tune / test half MRR@10):", "",
                  "| scoring | tune | test |", "|---|---:|---:|"]
        for what, key in (("previous", "baseline"), ("defaults", "defaults"),
                          ("best on tune", "chosen_on_tune")):
            at = "chosen" if key == "chosen_on_tune" else key
            lines.append(f"| {what}: {t[key]} | {t['tune_at_' + at]['mrr@10']:.3f} | "
                         f"{t['test_at_' + at]['mrr@10']:.3f} |")
    lines += ["", "Reproduce: `python benchmarks/eval_known_item.py` (the set: "
              "`benchmarks/known_item.py`)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated: ours,langchain,folder")
    ap.add_argument("--tune", action="store_true", help="sweep the hybrid weight on the tune half")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--store", default=None, metavar="DIR",
                    help="keep notebook-artifacts' store here and reuse it on the next run")
    args = ap.parse_args(argv)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    t_start = time.perf_counter()
    kis = build_known_item_set()
    by_source: dict[str, int] = {}
    for s in kis.source.values():
        by_source[s] = by_source.get(s, 0) + 1
    res: dict = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "cpus": os.cpu_count(), "python": platform.python_version(),
                 "documents": len(kis.docs), "chars": sum(len(t) for t in kis.docs.values()),
                 "queries": len(kis.queries), "tune": len(kis.half("tune")),
                 "test": len(kis.half("test")),
                 "by_source": ", ".join(f"{n} from {s}" for s, n in sorted(by_source.items())),
                 "systems": {}, "index_seconds": {}}
    print(f"{res['documents']} documents, {res['queries']} queries ({res['by_source']})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        kis.write(folder)
        for name in systems:
            t0 = time.perf_counter()
            if name == "ours":
                got = run_ours(folder, kis, Path(tmp), args.tune, args.store)
                if "tuning" in got:
                    res["tuning"] = got.pop("tuning")
            elif name == "langchain":
                got = run_langchain(folder, kis, Path(tmp))
            elif name == "folder":
                got = run_folder(folder, kis, Path(tmp))
            else:
                raise SystemExit(f"unknown system {name!r}: one of {', '.join(SYSTEMS)}")
            res["index_seconds"][name] = got.pop("index_seconds")
            res["systems"].update(got)
            print(f"{name}: indexed in {res['index_seconds'][name]:.0f} s, "
                  f"{time.perf_counter() - t0:.0f} s in all", flush=True)
    res["wall_s"] = time.perf_counter() - t_start
    header = f"{'system':<38}{'R@1':>7}{'R@10':>7}{'MRR@10':>8}{'nDCG@10':>9}{'MRR test':>10}"
    print("\n" + header + "\n" + "-" * len(header))
    for key, label in LABELS.items():
        r = res["systems"].get(key)
        if r:
            a = r["all"]
            print(f"{label:<38}{a['recall@1']:>7.3f}{a['recall@10']:>7.3f}{a['mrr@10']:>8.3f}"
                  f"{a['ndcg@10']:>9.3f}{r['test']['mrr@10']:>10.3f}")
    if res.get("tuning"):
        t = res["tuning"]
        print("\nhybrid scoring (MRR@10 tune / test half):")
        for what, key in (("previous", "baseline"), ("defaults", "defaults"),
                          ("best on tune", "chosen_on_tune")):
            at = "chosen" if key == "chosen_on_tune" else key
            print(f"  {what:<13}{t['tune_at_' + at]['mrr@10']:.3f} / "
                  f"{t['test_at_' + at]['mrr@10']:.3f}  {t[key]}")
    if not args.no_write:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _keep_other_systems(out / "known_item.json", res)
        (out / "known_item.json").write_text(json.dumps(res, indent=2))
        (out / "known_item.md").write_text(_markdown(res))
        print(f"\nwrote {out / 'known_item.md'} and known_item.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
