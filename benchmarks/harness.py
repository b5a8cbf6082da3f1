"""Run every workload for every system on the same data and write the results folder.

``python -m benchmarks [--quick] [--out DIR]`` (or ``notebook-artifacts bench``).
Each (system, workload group) runs in a fresh child process unless ``--in-process``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from .corpus import build_corpus, write_large_file
from .long_docs import write_long_docs
from .systems import SYSTEMS, SYSTEM_LABELS, _CLASSES
from .workloads import GROUPS, run_group, supports

__all__ = ["SCALES", "run", "main"]

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
#: Why the put groups' stores stay until the run ends: on ext4 without a journal (this VM's
#: disk), creating a file skips every inode of its block group freed in the last 1-5 minutes
#: (the kernel's ``recently_deleted``), at about half a microsecond each. Deleting one
#: system's thousands of small files right before the next system creates its own made those
#: creates cost 0.2-0.9 ms instead of 20-30 us, and decided the ratios.
_KEPT_TO_THE_END = ("put_large", "small_puts")

#: Why the large put runs once per system in each position: on this VM's disk the second
#: 256 MiB written in a row took 0.58-0.90 s against 0.48-0.56 s for the first, whichever
#: system came second (and 20 s of rest between them did not settle it). Each system writes in
#: every position once (the order rotates) and the median round is reported.
_ROTATED = ("put_large",)


def _schedule(group: str, names: list[str]) -> list[tuple[str, int]]:
    """``(system, round)`` in the order they run: one round each, or rotated (see above)."""
    if group not in _ROTATED:
        return [(n, 0) for n in names]
    return [(n, r) for r in range(len(names)) for n in names[r:] + names[:r]]


def _median_round(rounds: list[dict]) -> dict:
    """The round with the median time (the lower one of an even count), with every round's."""
    timed = sorted((r for r in rounds if "seconds" in r), key=lambda r: r["seconds"])
    if not timed:
        return rounds[0]
    return dict(timed[(len(timed) - 1) // 2], rounds_seconds=[r.get("seconds") for r in rounds])


def _drop_large_files(folder: Path) -> None:
    """Delete a put group's large files (the many small ones stay, see above), so the rounds
    do not fill the disk."""
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.stat().st_size > 1 << 20:
            p.unlink()


SCALES = {
    # large file bytes, small puts, chunks of text to ingest, timed queries, long documents
    "full": {"large_mb": 256, "small_count": 1000, "target_chunks": 2000, "query_count": 100,
             "long_docs": 100},
    "quick": {"large_mb": 64, "small_count": 1000, "target_chunks": 120, "query_count": 30,
              "long_docs": 10},
    # tiny: the smoke test (judges only the first 16 eval queries)
    "tiny": {"large_mb": 2, "small_count": 20, "target_chunks": 12, "query_count": 5,
             "quality_queries": 16, "long_docs": 2, "long_docs_smallest": True},
}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("notebook-artifacts", "sentence-transformers", "torch", "chromadb", "langchain-core",
                "langchain-classic", "langchain-chroma", "langchain-huggingface", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu() -> dict:
    """The CPU model and its vector extensions: the model's forward pass (ONNX Runtime,
    PyTorch) runs several times faster with AVX-512 than with AVX2 alone, so figures from two
    hosts compare only when these match."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": platform.processor() or None}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines()
                  if line.startswith("model name")), None)
    flags = next((line.split(":", 1)[1].split() for line in info.splitlines()
                  if line.startswith("flags")), [])
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return {"cpu": model, "cpu_vector_flags": [f for f in wanted if f in flags]}


def _child(spec: dict, timeout: float, threads: int | None = None) -> dict:
    """Run one group in a fresh interpreter; returns its figures or {"error": ...}."""
    wd = Path(spec["workdir"])
    spec_path, out_path = wd.parent / f"{wd.name}.spec.json", wd.parent / f"{wd.name}.out.json"
    spec_path.write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "benchmarks.workloads", str(spec_path), str(out_path)]
    if spec.get("pyspy"):
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        cmd = [pyspy, "record", "--threads",
               "--format", "raw", "--rate", "50", "-o", spec["pyspy"], "--"] + cmd
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               ANONYMIZED_TELEMETRY="False", TOKENIZERS_PARALLELISM="false",
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent),
                                           os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0 or not out_path.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(out_path.read_text())


def run(scale: str = "quick", out: Path = DEFAULT_OUT, *, systems=SYSTEMS, groups=GROUPS,
        in_process: bool = False, workdir: Path | None = None, keep: bool = False,
        pyspy: bool = False, threads: int | None = None, long_docs: int | None = None,
        log=print) -> dict:
    """Run the benchmark and write results.{json,md} and the plots into ``out``."""
    cfg = dict(SCALES[scale], scale=scale, small_size=1024, edit_fraction=0.01, quality_k=30,
               torch_threads=threads or "default",
               modes={"ours": [None, "dense", "keyword"]})
    if long_docs is not None:
        cfg["long_docs"] = long_docs
    cfg["groups"] = list(groups)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    own_tmp = workdir is None
    work = Path(tempfile.mkdtemp(prefix="na-bench-")) if own_tmp else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    try:
        log(f"[bench] scale={scale} workdir={work}")
        corpus = build_corpus(work / "corpus", cfg["target_chunks"])
        large = work / "large.bin"
        if "put_large" in groups:
            write_large_file(large, cfg["large_mb"] << 20)
        log(f"[bench] corpus: {len(corpus.files)} documents, {corpus.total_chars:,} chars, "
            f"{len(corpus.eval_set.queries)} eval queries ({corpus.eval_set.source})")
        long_docs = work / "long-docs"
        if "long_ingest" in groups:
            n_long = len(write_long_docs(long_docs, cfg["long_docs"],
                                         smallest=cfg.get("long_docs_smallest", False)))
            log(f"[bench] long documents: {n_long} ({sum(p.stat().st_size for p in long_docs.iterdir()) / 1024:,.0f} KB)")
        results: dict = {g: {} for g in groups}
        for group in groups:
            runnable = [n for n in systems if group == "query" or supports(_CLASSES[n], group)]
            rounds: dict[str, list[dict]] = {}
            for name, rnd in _schedule(group, runnable) if group != "query" else [("all", 0)]:
                if group == "query":
                    indexed = {s: str(work / f"index-{s}") for s in systems
                               if "error" not in results.get("index", {}).get(s, {"error": 1})}
                    if not indexed:
                        continue
                    spec = dict(cfg, system="all", group=group, workdir=str(work / "query-all"),
                                index_workdirs=indexed, eval_set=asdict(corpus.eval_set))
                else:
                    folder = f"{group}-{name}" + (f"-{rnd}" if rnd else "")
                    spec = dict(cfg, system=name, group=group, workdir=str(work / folder),
                                corpus=str(corpus.root), large_file=str(large),
                                eval_set=asdict(corpus.eval_set), long_docs_dir=str(long_docs))
                if pyspy and name == "ours" and not in_process:
                    spec["pyspy"] = str(work / f"profile-{group}-ours.raw")
                # nothing left unwritten by the data generator or the system before: an fsync
                # or syncfs in this one would otherwise write that out too, on its clock
                os.sync()
                t = time.time()
                load_before = os.getloadavg()[0]
                label = SYSTEM_LABELS.get(name, "all indexed systems, interleaved")
                log(f"[bench] {group:<10} {label} ...")
                if in_process:
                    try:
                        res = run_group(spec)
                    except Exception as exc:  # one system's failure must not end the run
                        res = {"error": f"{type(exc).__name__}: {exc}"}
                else:
                    res = _child(spec, timeout=3600 if scale == "full" else 900, threads=threads)
                load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                if group == "query" and "systems" in res:  # one figure set per system
                    results[group] = {s: dict(v, loadavg_1m=load) for s, v in res["systems"].items()}
                elif group in _ROTATED:
                    rounds.setdefault(name, []).append(dict(res, loadavg_1m=load))
                    results[group][name] = _median_round(rounds[name])
                else:
                    results[group][name] = dict(res, loadavg_1m=load)
                if group == "long_ingest" and "forward_pass" in res:  # the raw limit: ours'
                    # own forward pass over the very texts it embeds, timed in the same process
                    results[group]["raw"] = {"ingest": dict(res["forward_pass"]),
                                             "measured_in": name, "loadavg_1m": load}
                log(f"[bench] {group:<10} {label} done in {time.time() - t:.1f} s"
                    + (f"  ERROR {res['error']}" if "error" in res else ""))
                if group not in _KEPT_TO_THE_END and (group != "index" or "query" not in groups):
                    shutil.rmtree(work / f"{group}-{name}", ignore_errors=True)  # (query reopens)
                elif group in _ROTATED:
                    _drop_large_files(work / folder)
                if spec.get("pyspy") and Path(spec["pyspy"]).exists():
                    from .profiles import summarise

                    (out / f"profile-{group}-ours.txt").write_text(summarise(Path(spec["pyspy"])))
        for name in systems:
            shutil.rmtree(work / f"index-{name}", ignore_errors=True)
        doc = {
            "meta": {
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "scale": scale, "wall_seconds": round(time.time() - started, 1),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), **_cpu()},
                "versions": _versions(),
                "corpus": {"documents": len(corpus.files), "chars": corpus.total_chars,
                           "generated_documents": corpus.generated_docs,
                           "eval_documents": corpus.eval_docs,
                           "eval_queries": len(corpus.eval_set.queries),
                           "eval_source": corpus.eval_set.source},
                "systems": {s: SYSTEM_LABELS[s] for s in systems},
            },
            "config": {k: v for k, v in cfg.items()},
            "results": results,
        }
        from .report import write_report

        doc["summary"] = write_report(doc, out)
        (out / "results.json").write_text(json.dumps(doc, indent=1, default=str))
        log(f"[bench] wrote {out}/results.md, results.json and plots in {time.time() - started:.0f} s")
        return doc
    finally:
        if own_tmp and not keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller data; a few minutes on 2 cores")
    ap.add_argument("--scale", choices=sorted(SCALES), help="full (default), quick or tiny")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma list of {','.join(SYSTEMS)}")
    ap.add_argument("--groups", default=",".join(GROUPS), help=f"comma list of {','.join(GROUPS)}")
    ap.add_argument("--workdir", type=Path, help="where data and stores go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp workdir")
    ap.add_argument("--in-process", action="store_true", help="run systems in this process (no isolation)")
    ap.add_argument("--profile", action="store_true", help="record notebook-artifacts with py-spy")
    ap.add_argument("--threads", type=int, help="OMP/torch threads for every system (default: torch's own)")
    ap.add_argument("--long-docs", type=int, help="documents for the long_ingest group (default: "
                    "the scale's: 100 full, 10 quick, 2 tiny; the pool holds about 300)")
    args = ap.parse_args(argv)
    scale = args.scale or ("quick" if args.quick else "full")
    systems = [s for s in args.systems.split(",") if s]
    groups = [g for g in args.groups.split(",") if g]
    bad = [s for s in systems if s not in SYSTEMS] + [g for g in groups if g not in GROUPS]
    if bad:
        ap.error(f"unknown system or group: {', '.join(bad)}")
    run(scale, args.out, systems=systems, groups=groups, in_process=args.in_process,
        workdir=args.workdir, keep=args.keep, pyspy=args.profile, threads=args.threads,
        long_docs=args.long_docs)
    return 0
