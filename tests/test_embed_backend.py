"""The ONNX Runtime forward pass: the same vectors as PyTorch, an exported graph that is cached,
and a PyTorch fallback whenever the graph cannot be trusted."""

from __future__ import annotations

import numpy as np
import pytest

from index_fixtures import embedder  # noqa: F401  (fixture)
from notebook_artifacts.index import _onnx
from notebook_artifacts.index.embed import Embedder

pytestmark = pytest.mark.model

TEXTS = [
    "alpha",
    "The aquifer recharge zone is described in report E-4471, page 3.",
    "def load(path):\n    return json.loads(Path(path).read_text())",
    "Quarterly revenue by region. " * 120,  # longer than the model's 256-token window
    "Ünïcödé, emoji 🚀 and CJK 漢字 mixed in one line",
    "",
]


@pytest.fixture(scope="module")
def torch_embedder():
    e = Embedder(backend="torch")
    e.load()
    return e


def test_auto_backend_on_cpu_gives_pytorchs_vectors(embedder, torch_embedder):
    assert embedder.active_backend == "onnx"
    assert torch_embedder.active_backend == "torch"
    got, want = embedder.encode(TEXTS), torch_embedder.encode(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), embedder.dim)
    np.testing.assert_allclose(got, want, atol=1e-5)
    for text in TEXTS[:3]:
        np.testing.assert_allclose(embedder.encode_query(text), torch_embedder.encode_query(text),
                                   atol=1e-5)
    # rankings, not just vectors: the nearest text to each query is the same on both
    q = [embedder.encode_query("where is the recharge zone report?"),
         torch_embedder.encode_query("where is the recharge zone report?")]
    assert int(np.argmax(got @ q[0])) == int(np.argmax(want @ q[1])) == 1


def test_backend_can_be_forced_by_argument_or_environment(monkeypatch, torch_embedder):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_EMBED_BACKEND", "torch")
    assert Embedder().backend == "torch"
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_EMBED_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="auto, onnx, torch"):
        Embedder()
    assert torch_embedder.batch_size == 32


def test_exported_graph_is_cached_and_a_corrupt_one_is_exported_again(tmp_path, monkeypatch,
                                                                      torch_embedder):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(tmp_path / "cache"))
    model = torch_embedder.load()
    exports = []
    real_export = _onnx._export
    monkeypatch.setattr(_onnx, "_export", lambda *a: exports.append(1) or real_export(*a))

    first = _onnx.build_runner(model, "test-model", threads=1)
    assert first is not None and len(exports) == 1
    [graph] = (tmp_path / "cache" / "onnx").glob("*.onnx")
    assert not [p for p in graph.parent.iterdir() if p.suffix == ".tmp"]  # no temp left

    again = _onnx.build_runner(model, "test-model", threads=1)  # a later process: no export
    assert again is not None and len(exports) == 1

    graph.write_bytes(graph.read_bytes()[:4096])  # torn by a crash or a full disk
    repaired = _onnx.build_runner(model, "test-model", threads=1)
    assert repaired is not None and len(exports) == 2
    assert graph.stat().st_size > 1_000_000
    np.testing.assert_allclose(repaired.encode(TEXTS[:2]), torch_embedder.encode(TEXTS[:2]),
                               atol=1e-5)


def test_a_graph_that_disagrees_with_pytorch_is_not_used(tmp_path, monkeypatch, torch_embedder):
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(tmp_path / "cache"))
    model = torch_embedder.load()
    monkeypatch.setattr(_onnx.OnnxRunner, "encode",
                        lambda self, texts: np.ones((len(texts), 384), dtype=np.float32))
    assert _onnx.build_runner(model, "test-model", threads=1) is None
    assert not list((tmp_path / "cache").rglob("*.onnx"))  # nothing untrustworthy is cached


def test_unwritable_cache_still_runs_on_onnx(tmp_path, monkeypatch, torch_embedder):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("NOTEBOOK_ARTIFACTS_CACHE", str(blocker))
    runner = _onnx.build_runner(torch_embedder.load(), "test-model", threads=1)
    assert runner is not None
    np.testing.assert_allclose(runner.encode(TEXTS[1:2]), torch_embedder.encode(TEXTS[1:2]),
                               atol=1e-5)
