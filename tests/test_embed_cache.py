"""The embedding cache: the same chunk text is never embedded twice with the same model."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts import ArtifactStore
from notebook_artifacts.index._db import IndexDB
from notebook_artifacts.index.embed import Embedder, EmbeddingCache

pytestmark = pytest.mark.model


def test_cached_vectors_are_reused_and_match_a_fresh_encode(tmp_path, embedder):
    db = IndexDB(tmp_path / "catalog.sqlite3")
    cache = EmbeddingCache(db, embedder)
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    first = cache.get_or_embed(texts)
    assert cache.embedded_count == 2  # the duplicate is embedded once
    again = cache.get_or_embed(list(reversed(texts)))
    assert cache.embedded_count == 2
    np.testing.assert_allclose(again[::-1], first, atol=1e-6)
    np.testing.assert_allclose(first[0], embedder.encode(["alpha beta"])[0], atol=1e-5)
    assert abs(float(np.linalg.norm(first[1])) - 1.0) < 1e-4
    # a second cache over the same file (another process, a restart) sees the vectors too
    other = EmbeddingCache(IndexDB(tmp_path / "catalog.sqlite3"), embedder)
    other.get_or_embed(["gamma delta"])
    assert other.embedded_count == 0


def test_cache_is_keyed_by_model_id(tmp_path, embedder):
    db = IndexDB(tmp_path / "catalog.sqlite3")
    EmbeddingCache(db, embedder).get_or_embed(["shared text"])
    other_model = Embedder()
    other_model.model_id = "another-model"  # same weights, different id: a separate cache
    assert EmbeddingCache(db, other_model).lookup(
        [__import__("hashlib").sha256(b"shared text").hexdigest()]) == {}


def _long_doc(seed: int = 3, paragraphs: int = 120) -> list[str]:
    rng = random.Random(seed)
    vocab = ("sensor drift calibration buoy salinity battery wave report field coast network "
             "model retrain window metric alert").split()
    return [" ".join(rng.choice(vocab) for _ in range(rng.randint(25, 70))) + "." for _ in range(paragraphs)]


def test_new_version_of_a_long_document_embeds_only_changed_chunks(tmp_path, embedder):
    store = ArtifactStore(tmp_path / "s")
    try:
        paras = _long_doc()
        v1 = store.put("\n\n".join(paras), name="long.txt")
        assert store.wait_indexed(300)
        svc = store._index()
        n1 = svc.cache.embedded_count
        v1 = store.get(v1.artifact_id)
        assert v1.chunk_count > 20 and n1 == v1.chunk_count
        paras[60] = paras[60][:-1] + " with one new remark about the harbour crane."
        v2 = store.put("\n\n".join(paras), name="long.txt")
        assert store.wait_indexed(300)
        v2 = store.get(v2.artifact_id)
        assert v2.version == 2 and v2.is_indexed and v2.chunk_count >= v1.chunk_count - 1
        assert 1 <= svc.cache.embedded_count - n1 <= 3
        # the same document in another session is not embedded again at all
        store.put("\n\n".join(paras), name="long.txt", session_id="other-session")
        assert store.wait_indexed(300)
        assert svc.cache.embedded_count - n1 <= 3
    finally:
        store.close()


def test_import_and_store_construction_do_not_load_torch_or_chroma(tmp_path):
    code = (
        "import sys, notebook_artifacts as na\n"
        f"s = na.ArtifactStore({str(tmp_path / 'lazy')!r})\n"
        "s.put('hello', name='a.txt', index=False)\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'chromadb') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
