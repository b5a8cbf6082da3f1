"""The main job on the embedded default: store the sample documents, index them, ask a question.

``notebook-artifacts demo`` runs this. It is also what a first-time user does by hand in a
notebook: ``put`` a few files, wait for the background indexer, ``query`` across them and read
the ``combined_context`` an LLM prompt would get.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

from .errors import InvalidInputError, NotFoundError
from .models import QueryResult
from .store import ArtifactStore

__all__ = ["DEFAULT_QUESTION", "find_sample_dir", "run_demo"]

DEFAULT_QUESTION = "How good is the churn model, and what do we do when its inputs drift?"
NAMESPACE = "demo"
SESSION = "demo-session"
_SKIP = {"make_sample_pdf.py"}  # the script that generates field_report.pdf, not a sample


def find_sample_dir() -> Path:
    """``data/`` beside the package (a checkout or an editable install), else ``./data``."""
    for candidate in (Path(__file__).resolve().parent.parent / "data", Path.cwd() / "data"):
        if (candidate / "project_notes.md").is_file():
            return candidate
    raise NotFoundError("no sample documents found: run the demo from a checkout of "
                        "notebook-artifacts, or pass --data DIR")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_demo(store: ArtifactStore, data_dir: Path, question: str = DEFAULT_QUESTION, *,
             k: int = 5, timeout: float = 600.0,
             say: Callable[[str], None] = print) -> QueryResult:
    """Put every sample file (new version only when its content changed), index, query."""
    files = sorted(p for p in Path(data_dir).iterdir() if p.is_file() and p.name not in _SKIP)
    if not files:
        raise InvalidInputError(f"no files in {data_dir}: pass a folder with documents")
    say(f"store: {store.root}  (namespace {NAMESPACE!r}, session {SESSION!r})")
    stored = 0
    for path in files:
        try:
            latest = store.get(path.name, namespace=NAMESPACE, session_id=SESSION)
        except NotFoundError:
            latest = None
        if latest is not None and latest.sha256 == _sha256(path):
            say(f"  unchanged  {path.name} v{latest.version}")
            continue
        art = store.put(path, path.name, namespace=NAMESPACE, session_id=SESSION,
                        tags=["sample", path.suffix.lstrip(".") or "file"],
                        metadata={"origin": "notebook-artifacts demo"}, source="demo")
        say(f"  stored     {art.name} v{art.version}  {art.mime_type}  {art.size_bytes} bytes")
        stored += 1
    t0 = time.perf_counter()
    if stored:
        say("indexing (loads the embedding model on first use) ...")
    if not store.wait_indexed(timeout):
        say(f"  indexing still pending after {timeout:g} s; answering from what is indexed")
    elif stored:
        say(f"  indexed in {time.perf_counter() - t0:.1f} s")
    res = store.query(question, k, namespace=NAMESPACE)
    say(f"\nquery: {question}")
    for i, hit in enumerate(res.results, start=1):
        snippet = " ".join(hit.matched_chunk.split())
        say(f"  [{i}] {hit.score:.3f}  {hit.citation}: {snippet[:90]}"
            + ("..." if len(snippet) > 90 else ""))
    say("\ncombined_context (ready for an LLM prompt):\n")
    say(res.combined_context)
    return res
