"""Benchmark data: the project's eval set plus deterministic generated prose.

Every system in a run reads the same folder of files written here, so all of them
index exactly the same text.  Generation is seeded: the same scale gives the same bytes.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Corpus",
    "EvalSet",
    "build_corpus",
    "edit_documents",
    "load_eval_set",
    "write_large_file",
    "small_payloads",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
EVAL_DIR = REPO_ROOT / "data" / "eval"
TEXT_SUFFIXES = {".md", ".txt", ".rst", ".py", ".json", ".csv", ".html", ".htm", ".pdf"}

# --- generated prose -------------------------------------------------------------------

_DOMAINS = {
    "hydrology": (
        ["aquifer", "watershed", "floodplain", "sediment load", "river gauge", "recharge zone",
         "levee", "stream channel", "groundwater model", "rain gauge network"],
        ["drains", "recharges", "erodes", "floods", "stores", "filters", "monitors", "feeds"],
        ["seasonal", "alluvial", "saturated", "brackish", "perennial", "karstic"],
    ),
    "astronomy": (
        ["spectrograph", "light curve", "exoplanet transit", "redshift survey", "star cluster",
         "radio telescope", "dust lane", "accretion disk", "parallax catalog", "photometer"],
        ["observes", "calibrates", "resolves", "brightens", "dims", "orbits", "emits", "absorbs"],
        ["faint", "eclipsing", "variable", "infrared", "ultraviolet", "distant"],
    ),
    "baking": (
        ["sourdough starter", "laminated dough", "proofing basket", "oven spring", "crumb",
         "levain", "butter block", "hydration ratio", "bench rest", "scoring blade"],
        ["ferments", "rises", "browns", "folds", "rests", "bakes", "cools", "softens"],
        ["crisp", "open", "tangy", "enriched", "flaky", "dense"],
    ),
    "logistics": (
        ["cross-dock", "pallet wrap", "routing plan", "freight manifest", "last-mile van",
         "cold chain", "pick list", "yard schedule", "customs broker", "carrier contract"],
        ["ships", "routes", "consolidates", "delays", "unloads", "tracks", "invoices", "sorts"],
        ["refrigerated", "overnight", "bonded", "regional", "expedited", "palletised"],
    ),
    "beekeeping": (
        ["brood frame", "queen excluder", "honey super", "smoker", "varroa count", "swarm cell",
         "nectar flow", "hive stand", "drone comb", "wax foundation"],
        ["forages", "swarms", "caps", "builds", "requeens", "overwinters", "robs", "pollinates"],
        ["strong", "queenless", "docile", "crowded", "overwintered", "feral"],
    ),
    "typography": (
        ["kerning table", "baseline grid", "ligature", "x-height", "serif face", "leading",
         "glyph outline", "font hinting", "small caps", "optical margin"],
        ["aligns", "renders", "tightens", "spaces", "scales", "hints", "justifies", "balances"],
        ["condensed", "humanist", "geometric", "monospaced", "italic", "variable"],
    ),
    "glaciology": (
        ["ice core", "crevasse field", "moraine", "firn layer", "calving front", "ablation zone",
         "meltwater channel", "basal sliding", "ice shelf", "snow pit"],
        ["melts", "advances", "retreats", "calves", "compacts", "flows", "fractures", "refreezes"],
        ["polar", "temperate", "debris-covered", "tidewater", "stagnant", "surging"],
    ),
    "orchestration": (
        ["brass section", "string quartet", "tempo marking", "rehearsal letter", "timpani roll",
         "woodwind choir", "score reduction", "bowing chart", "cadenza", "tuning note"],
        ["swells", "resolves", "modulates", "doubles", "sustains", "accents", "enters", "fades"],
        ["muted", "staccato", "lyrical", "dissonant", "pizzicato", "sonorous"],
    ),
}

_SUBJECT_TEMPLATES = [
    "The {adj} {noun} {verb} whenever the {noun2} is checked at dawn.",
    "Field notes show that each {noun} {verb} more slowly near a {adj} {noun2}.",
    "Our team logged how the {noun} {verb} during the {adj} period of week {num}.",
    "A {adj} {noun} rarely {verb} unless the {noun2} has been reset first.",
    "In survey {num}, the {noun2} {verb} twice as often as the {adj} {noun}.",
    "Measurements from site {num} suggest the {noun} {verb} in step with the {noun2}.",
    "When the {noun2} is {adj}, the {noun} {verb} and the log records it.",
    "Nobody expected the {noun} to behave this way, yet it {verb} beside the {adj} {noun2}.",
    "The handbook recommends inspecting the {noun} before it {verb} under {adj} conditions.",
    "Between trials {num} and {num2}, the {adj} {noun2} {verb} without warning.",
]


@dataclass
class EvalSet:
    """Queries with judged relevant document ids (paths relative to the corpus folder)."""

    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    source: str


@dataclass
class Corpus:
    """A folder of documents every system ingests, plus the eval set over it."""

    root: Path
    files: list[Path]
    eval_set: EvalSet
    total_chars: int
    generated_docs: int
    eval_docs: int
    meta: dict = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path, eval_set: EvalSet) -> "Corpus":
        """The corpus already written under ``root`` (e.g. a per-system copy)."""
        files = sorted(p for p in Path(root).rglob("*") if p.is_file())
        return cls(root=Path(root), files=files, eval_set=eval_set,
                   total_chars=sum(p.stat().st_size for p in files),
                   generated_docs=sum(1 for p in files if p.parent.name == "gen"),
                   eval_docs=sum(1 for p in files if p.parent.name != "gen"))

    def copy_to(self, dest: Path) -> "Corpus":
        """A private copy for one system (edits to it leave this one untouched)."""
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(self.root, dest)
        return Corpus.open(dest, self.eval_set)

    def doc_id(self, path: Path | str) -> str:
        """The document id of a file: its path relative to the corpus root, with '/'."""
        p = Path(path)
        if p.is_absolute():
            p = p.relative_to(self.root)
        return p.as_posix()


def _sentence(rng: random.Random, domain: str) -> str:
    nouns, verbs, adjs = _DOMAINS[domain]
    noun, noun2 = rng.sample(nouns, 2)
    return rng.choice(_SUBJECT_TEMPLATES).format(
        noun=noun, noun2=noun2, verb=rng.choice(verbs), adj=rng.choice(adjs),
        num=rng.randint(2, 99), num2=rng.randint(100, 400),
    )


def _generated_document(rng: random.Random, index: int, target_chars: int) -> str:
    domain = rng.choice(sorted(_DOMAINS))
    nouns = _DOMAINS[domain][0]
    lines = [f"# {domain.title()} report {index:04d}: the {rng.choice(nouns)}", ""]
    size = 0
    section = 0
    while size < target_chars:
        section += 1
        lines += [f"## Section {section}: {rng.choice(nouns)} observations", ""]
        for _ in range(rng.randint(2, 4)):
            para = " ".join(_sentence(rng, domain) for _ in range(rng.randint(3, 6)))
            lines += [para, ""]
            size += len(para)
    return "\n".join(lines)


# --- eval set ----------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_eval_set(eval_dir: Path = EVAL_DIR) -> EvalSet | None:
    """Read the project's retrieval eval set (``data/eval/``) if it is there.

    Accepts queries as ``queries.jsonl`` (``{"id"|"query_id", "query"|"text"}``) or
    ``queries.json``, and judgments as ``qrels.jsonl``/``qrels.json``/``qrels.tsv``,
    or relevant ids inline on each query (``relevant``/``relevant_docs``).  Document ids
    are file names under ``eval_dir/documents`` (or ``docs``).
    """
    if not eval_dir.is_dir():
        return None
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}

    def add_rel(qid: str, doc: str, grade: int = 1) -> None:
        if grade > 0:
            qrels.setdefault(qid, {})[doc] = int(grade)

    rows: list[dict] = []
    for name in ("queries.jsonl", "queries.json"):
        p = eval_dir / name
        if p.exists():
            data = _read_jsonl(p) if name.endswith("l") else json.loads(p.read_text())
            if isinstance(data, dict):
                data = data.get("queries", [dict(id=k, query=v) for k, v in data.items()])
            rows = list(data)
            break
    for i, row in enumerate(rows):
        qid = str(row.get("id", row.get("query_id", row.get("qid", i))))
        queries[qid] = row.get("query", row.get("text", row.get("question", "")))
        rel = row.get("relevant", row.get("relevant_docs", row.get("relevant_documents")))
        if isinstance(rel, dict):
            for d, g in rel.items():
                add_rel(qid, d, g)
        elif isinstance(rel, (list, tuple)):
            for d in rel:
                add_rel(qid, d)
        elif isinstance(rel, str):
            add_rel(qid, rel)
    for name in ("qrels.jsonl", "qrels.json", "qrels.tsv", "qrels.txt"):
        p = eval_dir / name
        if not p.exists():
            continue
        if name.endswith(".jsonl"):
            for r in _read_jsonl(p):
                qid = str(r.get("query_id", r.get("qid", r.get("id"))))
                doc = r.get("doc_id", r.get("document", r.get("doc")))
                add_rel(qid, doc, r.get("relevance", r.get("grade", 1)))
        elif name.endswith(".json"):
            data = json.loads(p.read_text())
            for qid, rel in data.items():
                for d, g in (rel.items() if isinstance(rel, dict) else ((d, 1) for d in rel)):
                    add_rel(str(qid), d, g)
        else:
            for line in p.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 2 and not line.startswith("#"):
                    grade = int(parts[-1]) if len(parts) >= 3 and parts[-1].isdigit() else 1
                    doc = parts[2] if len(parts) == 4 else parts[1]
                    add_rel(parts[0], doc, grade)
        break
    queries = {q: t for q, t in queries.items() if t and q in qrels}
    if not queries:
        return None
    return EvalSet(queries=queries, qrels={q: qrels[q] for q in queries}, source=str(eval_dir))


def _eval_documents(eval_dir: Path) -> list[Path]:
    for sub in ("documents", "docs", "corpus"):
        d = eval_dir / sub
        if d.is_dir():
            return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    return []


def _synthetic_eval(docs: dict[str, str], rng: random.Random, n: int) -> EvalSet:
    """Fallback when data/eval is absent: ask for a document by its title's topic."""
    queries, qrels = {}, {}
    for i, doc_id in enumerate(rng.sample(sorted(docs), min(n, len(docs)))):
        title = docs[doc_id].splitlines()[0].lstrip("# ")
        queries[f"g{i}"] = f"Which report covers {title.split(': ', 1)[-1]} in {title.split()[0].lower()}, report {title.split()[2].rstrip(':')}?"
        qrels[f"g{i}"] = {doc_id: 1}
    return EvalSet(queries=queries, qrels=qrels, source="generated (data/eval not found)")


# --- building ----------------------------------------------------------------------------

def build_corpus(root: Path, target_chunks: int, *, seed: int = 7, chunk_chars: int = 1000,
                 eval_dir: Path = EVAL_DIR) -> Corpus:
    """Write the eval documents plus generated reports under ``root`` (replacing it).

    ``target_chunks`` x ``chunk_chars`` characters of text are written in all (eval
    documents count toward it), so each system sees roughly ``target_chunks`` chunks.
    """
    if root.exists():
        shutil.rmtree(root)
    (root / "eval").mkdir(parents=True)
    (root / "gen").mkdir(parents=True)
    files: list[Path] = []
    total = 0
    eval_set = load_eval_set(eval_dir)
    eval_docs = _eval_documents(eval_dir) if eval_set else []
    for src in eval_docs:
        rel = src.relative_to(next(d for d in (eval_dir / "documents", eval_dir / "docs", eval_dir / "corpus") if d.is_dir()))
        dst = root / "eval" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        files.append(dst)
        total += src.stat().st_size
    if eval_set:
        # qrels name documents relative to the eval documents folder; prefix to corpus ids
        eval_names = {p.relative_to(root / "eval").as_posix(): p for p in files}
        stems = {Path(k).stem: k for k in eval_names} | {Path(k).name: k for k in eval_names}
        qrels = {}
        for q, rel in eval_set.qrels.items():
            mapped = {}
            for d, g in rel.items():
                key = d if d in eval_names else stems.get(d, stems.get(Path(d).name, stems.get(Path(d).stem)))
                if key:
                    mapped[f"eval/{key}"] = g
            if mapped:
                qrels[q] = mapped
        eval_set = EvalSet({q: eval_set.queries[q] for q in qrels}, qrels, eval_set.source)
    rng = random.Random(seed)
    gen_texts: dict[str, str] = {}
    target_total = target_chunks * chunk_chars
    i = 0
    while total < target_total or i < 2:
        text = _generated_document(rng, i, rng.randint(3000, 12000))
        path = root / "gen" / f"report_{i:04d}.md"
        path.write_text(text)
        files.append(path)
        gen_texts[f"gen/{path.name}"] = text
        total += len(text)
        i += 1
    if not eval_set or not eval_set.queries:
        eval_set = _synthetic_eval(gen_texts, random.Random(seed + 1), 20)
    return Corpus(root=root, files=sorted(files), eval_set=eval_set, total_chars=total,
                  generated_docs=i, eval_docs=len(eval_docs))


def edit_documents(corpus: Corpus, fraction: float = 0.01, *, seed: int = 11) -> list[Path]:
    """Edit ``fraction`` of the generated documents in place (one paragraph each).

    Returns the edited files.  Eval documents are left alone so quality stays comparable.
    """
    rng = random.Random(seed)
    gen = [p for p in corpus.files if p.parent.name == "gen"]
    n = max(1, round(len(corpus.files) * fraction))
    edited = rng.sample(gen, min(n, len(gen)))
    for path in edited:
        paras = path.read_text().split("\n\n")
        body = [i for i, p in enumerate(paras) if p and not p.startswith("#")]
        j = rng.choice(body)
        paras[j] = paras[j] + " An editor added this sentence after review, noting a revised figure."
        path.write_text("\n\n".join(paras))
    return edited


def write_large_file(path: Path, size: int, *, seed: int = 3) -> Path:
    """Write ``size`` bytes of seeded pseudo-random data (incompressible, like a model file)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    block = 8 << 20
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(block, left)
            f.write(rng.bytes(n))
            left -= n
    return path


def small_payloads(count: int, size: int = 1024, *, seed: int = 5) -> list[tuple[str, bytes]]:
    """``count`` distinct (name, bytes) pairs of ``size`` bytes each."""
    rng = random.Random(seed)
    return [(f"small/item_{i:05d}.bin", rng.randbytes(size)) for i in range(count)]
