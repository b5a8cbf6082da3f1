"""A LangChain indexing script, as the LangChain docs teach it.

Load the folder with ``DirectoryLoader``/``TextLoader``, split with
``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``, and sync into a
Chroma vector store with ``index(..., cleanup="incremental", source_id_key="source")``
and a ``SQLRecordManager`` (SQLite), which hashes every chunk and skips the ones it has
already written.  Embeddings: ``HuggingFaceEmbeddings`` on the same local
all-MiniLM-L6-v2 as every other system (offline).  Search: ``similarity_search``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

__all__ = ["LangChainIndex"]


def _record_manager_cls():
    try:  # LangChain >= 1.0 moved the SQL record manager to langchain-classic
        from langchain_classic.indexes import SQLRecordManager
    except ImportError:  # pragma: no cover - older installs
        from langchain.indexes import SQLRecordManager
    return SQLRecordManager


def load_files(paths):
    """Documents for ``paths`` (TextLoader, or PyPDFLoader for PDFs), ``source`` = the path."""
    from langchain_core.documents import Document

    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_community.document_loaders import PyPDFLoader, TextLoader
    except ImportError:  # pragma: no cover
        PyPDFLoader = TextLoader = None
    docs = []
    for path in paths:
        if TextLoader is None:
            docs.append(Document(page_content=path.read_text(errors="replace"),
                                 metadata={"source": str(path)}))
        elif path.suffix.lower() == ".pdf":
            docs += PyPDFLoader(str(path)).load()
        else:
            docs += TextLoader(str(path), encoding="utf-8", autodetect_encoding=True).load()
    return docs


def load_folder(folder: Path):
    """Every file under ``folder``, like ``DirectoryLoader(folder, loader_cls=TextLoader)``."""
    return load_files(sorted(p for p in Path(folder).rglob("*") if p.is_file()))


class LangChainIndex:
    """index() + SQLRecordManager + Chroma + HuggingFaceEmbeddings under ``workdir``."""

    def __init__(self, workdir: str | os.PathLike, model_path: str, collection: str = "docs") -> None:
        from langchain_chroma import Chroma
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.embeddings = HuggingFaceEmbeddings(
            model_name=model_path,
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True},
        )
        self.vectorstore = Chroma(
            collection_name=collection,
            embedding_function=self.embeddings,
            persist_directory=str(self.workdir / "chroma"),
            collection_metadata={"hnsw:space": "cosine"},
        )
        self.record_manager = _record_manager_cls()(
            f"chroma/{collection}", db_url=f"sqlite:///{self.workdir / 'record_manager.sqlite'}"
        )
        self.record_manager.create_schema()
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)

    def index_folder(self, folder: str | os.PathLike) -> dict:
        """Load, split and sync the whole folder; returns index()'s counts."""
        from langchain_core.indexing import index

        docs = load_folder(Path(folder))
        chunks = self.splitter.split_documents(docs)
        result = index(chunks, self.record_manager, self.vectorstore,
                       cleanup="incremental", source_id_key="source")
        result["num_chunks"] = len(chunks)
        return result

    def index_files(self, paths) -> dict:
        """Sync only ``paths``; incremental cleanup replaces those sources' old chunks."""
        from langchain_core.indexing import index

        chunks = self.splitter.split_documents(load_files(paths))
        result = index(chunks, self.record_manager, self.vectorstore,
                       cleanup="incremental", source_id_key="source")
        result["num_chunks"] = len(chunks)
        return result

    def search(self, query: str, k: int = 10) -> list[tuple[str, float, str]]:
        """Top ``k`` chunks as (source path, cosine distance, text), nearest first."""
        hits = self.vectorstore.similarity_search_with_score(query, k=k)
        return [(d.metadata.get("source", ""), float(s), d.page_content) for d, s in hits]
