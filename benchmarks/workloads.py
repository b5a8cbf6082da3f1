"""The workloads, each run for one system in one (usually fresh) process.

``run_group(spec)`` runs one group of workloads for one system and returns plain figures.
``python -m benchmarks.workloads SPEC.json OUT.json`` does the same in a child process, so
each system's peak memory is its own and no two systems share a Chroma directory.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .corpus import Corpus, EvalSet, edit_documents, small_payloads
from .scoring import latency_summary, retrieval_metrics
from .systems import make_system

__all__ = ["GROUPS", "run_group", "supports"]

GROUPS = ("put_large", "small_puts", "index", "query", "long_ingest")
_SUPPORT = {
    "put_large": ("put_file",),  # + put_file_again (content stored already), where offered
    "small_puts": ("put_small",),
    "index": ("ingest",),
    "query": ("reopen",),
    "long_ingest": ("ingest_files",),
}


def supports(system_cls, group: str) -> bool:
    return all(hasattr(system_cls, m) for m in _SUPPORT[group])


# --- memory ------------------------------------------------------------------------------

def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (Linux: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


class _Mem:
    """Baseline RSS at start and peak RSS (VmHWM) over a phase, in MiB."""

    def __enter__(self):
        _reset_peak()
        self.base = (_status_kb("VmRSS") or 0) / 1024
        return self

    def __exit__(self, *exc):
        hwm = _status_kb("VmHWM")
        if hwm is None:
            import resource

            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak = hwm / 1024
        return False

    def figures(self) -> dict:
        return {"rss_before_mb": round(self.base, 1), "peak_rss_mb": round(self.peak, 1),
                "peak_over_baseline_mb": round(max(0.0, self.peak - self.base), 1)}


def _timed(fn, *args):
    with _Mem() as mem:
        t, c = time.perf_counter(), time.process_time()
        out = fn(*args)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
    return seconds, out, dict(mem.figures(), cpu_seconds=cpu)


# --- groups ------------------------------------------------------------------------------

def _put_large(system, spec: dict) -> dict:
    path = Path(spec["large_file"])
    size = path.stat().st_size
    seconds, _, mem = _timed(system.put_file, path)
    out = {"seconds": seconds, "bytes": size, "mb_per_s": size / 2**20 / seconds, **mem}
    if hasattr(system, "put_file_again"):  # the same content once more (stored already)
        again, _, mem = _timed(system.put_file_again, path)
        out["again"] = {"seconds": again, **mem}
    return out


def _small_puts(system, spec: dict) -> dict:
    payloads = small_payloads(spec["small_count"], spec["small_size"])

    def run():
        for name, data in payloads:
            system.put_small(name, data)

    seconds, _, mem = _timed(run)
    out = {"seconds": seconds, "count": len(payloads), "puts_per_s": len(payloads) / seconds, **mem}
    if hasattr(system, "put_many_small"):  # as many other files at once (put_many)
        batch = [(f"many/{name.split('/')[-1]}", data)
                 for name, data in small_payloads(spec["small_count"], spec["small_size"], seed=6)]
        if hasattr(system, "open_many_store"):  # a fresh store, as the single puts had
            system.open_many_store()
        seconds, _, mem = _timed(system.put_many_small, batch)
        out["many"] = {"seconds": seconds, "count": len(batch),
                       "puts_per_s": len(batch) / seconds, **mem}
    return out


def _search_ids(system, text: str, k: int, mode: str | None) -> list[str]:
    return system.search(text, k=k, mode=mode)


def _index(system, spec: dict) -> dict:
    eval_set = EvalSet(**spec["eval_set"])
    corpus = Corpus.open(Path(spec["corpus"]), eval_set).copy_to(Path(spec["workdir"]) / "corpus")
    out: dict = {"documents": len(corpus.files), "chars": corpus.total_chars}

    seconds, _, mem = _timed(system.load)
    out["load"] = {"seconds": seconds, **mem}
    if hasattr(system, "prepare"):
        system.prepare(corpus)
    seconds, info, mem = _timed(system.ingest, corpus)
    out["ingest"] = {"seconds": seconds, **info, **mem,
                     "docs_per_s": len(corpus.files) / seconds,
                     "chars_per_s": corpus.total_chars / seconds}

    edited = edit_documents(corpus, spec["edit_fraction"], seed=11)
    if hasattr(system, "prepare_reingest"):
        system.prepare_reingest(corpus, edited)
    seconds, info, mem = _timed(system.reingest, corpus, edited)
    out["reingest"] = {"seconds": seconds, "edited_docs": len(edited), **info, **mem}
    if hasattr(system, "reingest_changed"):
        edited2 = edit_documents(corpus, spec["edit_fraction"], seed=12)
        seconds, info, mem = _timed(system.reingest_changed, corpus, edited2)
        out["reingest_changed"] = {"seconds": seconds, "edited_docs": len(edited2), **info, **mem}

    queries = list(eval_set.queries.values())
    n = spec["query_count"]
    batch = [queries[i % len(queries)] for i in range(n)]
    search = getattr(system, "search", None) or (lambda q, k=10, mode=None: system.embed_query(q))
    modes = spec.get("modes", {}).get(spec["system"], [None])
    out["query"] = {}
    for mode in modes:
        search(batch[0], k=10, mode=mode)  # warm
        lat, cpu = [], []
        for q in batch:
            t, c = time.perf_counter(), time.process_time()
            search(q, k=10, mode=mode)
            lat.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out["query"][mode or "default"] = dict(
            latency_summary(lat), **{f"cpu_{k}": v for k, v in latency_summary(cpu).items() if k != "n"})

    if hasattr(system, "search"):
        out["quality"] = {}
        judged = list(eval_set.queries.items())[:spec.get("quality_queries") or None]
        for mode in modes:
            ranked = {qid: system.search(text, k=spec["quality_k"], mode=mode)
                      for qid, text in judged}
            out["quality"][mode or "default"] = retrieval_metrics(
                ranked, {qid: eval_set.qrels[qid] for qid, _ in judged})
    return out


def _long_ingest(system, spec: dict) -> dict:
    """Ingest the long-document corpus (``benchmarks.long_docs``). A system that can say which
    texts it embeds (``chunk_texts``) also times its own forward pass over exactly those texts,
    before and after the ingest (so both see the same machine load): ``vs_forward_pass`` is
    forward pass / ingest, 1.00x = ingest costs no more than embedding its chunks."""
    folder = Path(spec["long_docs_dir"])
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    out: dict = {"documents": len(paths), "bytes": sum(p.stat().st_size for p in paths)}
    seconds, _, mem = _timed(system.load)
    out["load"] = {"seconds": seconds, **mem}
    texts = system.chunk_texts(paths) if hasattr(system, "chunk_texts") else None
    passes = []
    if texts is not None:
        out["chunk_texts"] = {"chunks": len(texts), **system.token_stats(texts)}
        passes.append(_timed(system.embed_texts, texts))
    seconds, info, mem = _timed(system.ingest_files, paths)
    out["ingest"] = {"seconds": seconds, **info, **mem,
                     "chunks_per_s": info.get("chunks", 0) / seconds}
    if texts is not None:
        passes.append(_timed(system.embed_texts, texts))
        fwd = sum(p[0] for p in passes) / len(passes)
        cpu = sum(p[2]["cpu_seconds"] for p in passes) / len(passes)
        out["forward_pass"] = {"seconds": fwd, "cpu_seconds": cpu,
                               "each_seconds": [p[0] for p in passes]}
        out["vs_forward_pass"] = fwd / seconds
        out["cpu_vs_forward_pass"] = cpu / out["ingest"]["cpu_seconds"]
    return out


def _query_interleaved(spec: dict) -> dict:
    """Query latency of every indexed system in ONE process, round-robin per query, so
    each system sees the same machine load (other work on a shared machine drifts)."""
    eval_set = EvalSet(**spec["eval_set"])
    systems = {}
    for name, workdir in spec["index_workdirs"].items():
        corpus = Corpus.open(Path(workdir) / "corpus", eval_set)
        system = make_system(name, Path(workdir))
        system.reopen(corpus)
        systems[name] = system
    queries = list(eval_set.queries.values())
    batch = [queries[i % len(queries)] for i in range(spec["query_count"])]
    calls = {n: (getattr(s, "search", None) or (lambda q, k=10, mode=None, s=s: s.embed_query(q)))
             for n, s in systems.items()}
    lat = {n: [] for n in systems}
    cpu = {n: [] for n in systems}
    names = list(systems)
    for q in batch[:3]:
        for n in names:
            calls[n](q, k=10)
    for i, q in enumerate(batch):
        for n in names[i % len(names):] + names[:i % len(names)]:  # rotate who goes first
            t, c = time.perf_counter(), time.process_time()
            calls[n](q, k=10)
            lat[n].append(time.perf_counter() - t)
            cpu[n].append(time.process_time() - c)
    for s in systems.values():
        if hasattr(s, "close"):
            s.close()
    return {n: dict(latency_summary(lat[n]),
                    **{f"cpu_{k}": v for k, v in latency_summary(cpu[n]).items() if k != "n"})
            for n in systems}


_RUNNERS = {"put_large": _put_large, "small_puts": _small_puts, "index": _index,
            "long_ingest": _long_ingest}


def run_group(spec: dict) -> dict:
    """Run ``spec["group"]`` for ``spec["system"]``; returns its figures."""
    if spec["group"] == "query":
        return {"systems": _query_interleaved(spec)}
    workdir = Path(spec["workdir"])
    t = time.perf_counter()
    system = make_system(spec["system"], workdir)
    setup = time.perf_counter() - t
    try:
        result = _RUNNERS[spec["group"]](system, spec)
    finally:  # stop background work (e.g. an indexer thread) before the workdir goes
        if hasattr(system, "close"):
            system.close()
    result["setup_seconds"] = setup
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    try:
        result = run_group(spec)
    finally:
        if spec.get("profile"):
            profiler.stop()
            Path(spec["profile"]).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
            Path(spec["profile"]).with_suffix(".html").write_text(profiler.output_html())
    Path(argv[1]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raise SystemExit(main())
