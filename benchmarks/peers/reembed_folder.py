"""A plain folder of files and a script that re-embeds all of it on every run.

The common notebook pattern: documents sit in a folder; a cell walks it, splits each file
into ~1,000-character chunks on paragraph boundaries, embeds every chunk with
sentence-transformers, saves the matrix with numpy, and searches by brute-force cosine.
Nothing is remembered between runs, so any edit means embedding everything again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["FolderIndex", "split_paragraphs", "read_text"]


def read_text(path: Path) -> str:
    if path.suffix.lower() == ".pdf":
        from pypdf import PdfReader

        return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    return path.read_text(errors="replace")


def split_paragraphs(text: str, max_chars: int = 1000) -> list[str]:
    """Pack paragraphs into chunks of at most ``max_chars`` (long paragraphs are cut)."""
    chunks, cur = [], ""
    for para in (p.strip() for p in text.split("\n\n")):
        while len(para) > max_chars:
            if cur:
                chunks.append(cur)
                cur = ""
            chunks.append(para[:max_chars])
            para = para[max_chars:]
        if not para:
            continue
        if cur and len(cur) + 2 + len(para) > max_chars:
            chunks.append(cur)
            cur = para
        else:
            cur = f"{cur}\n\n{para}" if cur else para
    if cur:
        chunks.append(cur)
    return chunks


class FolderIndex:
    """Embeds every file under ``folder`` into ``out_dir/embeddings.npy`` + ``chunks.json``."""

    def __init__(self, out_dir: str | os.PathLike, model) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model = model  # a sentence_transformers.SentenceTransformer
        self.embeddings: np.ndarray | None = None
        self.chunks: list[dict] = []

    def chunk_folder(self, folder: Path) -> list[dict]:
        chunks = []
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            source = path.relative_to(folder).as_posix()
            chunks += [{"source": source, "text": t} for t in split_paragraphs(read_text(path))]
        return chunks

    def build(self, folder: str | os.PathLike) -> int:
        """Re-embed the whole folder; returns the number of chunks."""
        self.chunks = self.chunk_folder(Path(folder))
        self.embeddings = self.model.encode(
            [c["text"] for c in self.chunks], batch_size=32, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        ).astype(np.float32)
        np.save(self.out_dir / "embeddings.npy", self.embeddings)
        (self.out_dir / "chunks.json").write_text(json.dumps(self.chunks))
        return len(self.chunks)

    def load(self) -> None:
        self.embeddings = np.load(self.out_dir / "embeddings.npy")
        self.chunks = json.loads((self.out_dir / "chunks.json").read_text())

    def search(self, query: str, k: int = 10) -> list[tuple[str, float, str]]:
        """Top ``k`` chunks as (source, cosine score, text)."""
        q = self.model.encode([query], normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False)[0]
        scores = self.embeddings @ q
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunks[i]["source"], float(scores[i]), self.chunks[i]["text"]) for i in top]
