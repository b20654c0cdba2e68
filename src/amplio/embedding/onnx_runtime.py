"""Encoder backend: a sentence-transformers model run by ONNX Runtime, fp32 or int8.

The model is exported once from the same local weights the ``sentence-transformers`` backend
loads (``torch.onnx.export``, opset 17; no ``optimum``), to a cache folder keyed by the weights
and the library versions; later processes load the file and need neither torch nor
sentence-transformers. ``onnx-int8`` adds dynamic int8 quantisation (per channel, weight
matrices only) of that export. Tokenisation, mean pooling and normalisation follow the
sentence-transformers model's own configuration, so the fp32 vectors match its output.

Two kinds are registered: ``onnx`` (fp32) and ``onnx-int8``. Both need the ``fast`` extra
(``pip install 'amplio[fast]'``: onnxruntime, onnx, onnxscript).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.config import DEFAULT_ENCODER_MODEL
from amplio.embedding.base import l2_normalise
from amplio.embedding.registry import register_encoder
from amplio.embedding.sentence_transformer import resolve_model_path
from amplio.errors import BackendError, InputError, MissingDependencyError

OPSET = 17
EXPORT_VERSION = 2  # bump when the exported graph or the quantisation recipe changes
FAST_EXTRA = "pip install 'amplio[fast]' (onnxruntime, onnx, onnxscript)"
_EXPORT_LOCK = threading.Lock()


def cache_root() -> Path:
    """Where exported models live: ``$AMPLIO_CACHE_DIR``, else ``$XDG_CACHE_HOME/amplio``, else
    ``~/.cache/amplio``; this backend uses its ``onnx/`` folder."""
    explicit = os.environ.get("AMPLIO_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "amplio"


def available_threads() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError(
            f"the onnx encoder needs onnxruntime, which is not installed: {FAST_EXTRA}"
        ) from None
    return onnxruntime


class OnnxEncoder:
    """A sentence-transformers model (default: the packaged all-MiniLM-L6-v2) on ONNX Runtime.

    Args:
        model: a model name or local folder, as for the ``sentence-transformers`` backend.
        quantize: run the int8 dynamic-quantised export instead of fp32.
        threads: intra-op threads (default: the CPUs this process may use).
        cache_dir: where exports are kept (default: ``cache_root() / "onnx"``).
    """

    def __init__(self, model: str = DEFAULT_ENCODER_MODEL, *, quantize: bool = False,
                 threads: int | None = None, cache_dir: str | Path | None = None) -> None:
        ort = _import_onnxruntime()
        self.quantize = quantize
        self.name = f"{model}+onnx-int8" if quantize else f"{model}+onnx"
        self._dir = Path(resolve_model_path(model))
        if not self._dir.is_dir():
            raise InputError(
                f"the onnx encoder needs a local sentence-transformers model folder; {model!r} is "
                "not one (give a folder, or the packaged all-MiniLM-L6-v2)", field="model")
        config = _read_model_config(self._dir)
        self._max_length: int = config["max_seq_length"]
        self._lower: bool = config["do_lower_case"]
        self._pooling: str = config["pooling"]
        self._normalise: bool = config["normalize"]
        self.dim: int = config["dim"]
        self._tokenizer = _load_tokenizer(self._dir, self._max_length)
        folder = Path(cache_dir) if cache_dir is not None else cache_root() / "onnx"
        self.path = ensure_export(self._dir, folder, quantize=quantize, ort_version=ort.__version__)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Threads sleep between batches instead of spinning: other work shares these cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(self.path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        # A fast tokenizer refuses concurrent use; one encode at a time per encoder.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch_size = max(1, int(batch_size))
        clean = [str(t).strip() for t in texts]
        if self._lower:
            clean = [t.lower() for t in clean]
        out = np.zeros((len(clean), self.dim), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(clean)
            # Sorted by token count, so each batch pads to texts of about its own length.
            order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                out[idx] = self._run([encodings[i] for i in idx])
        return l2_normalise(out) if self._normalise else out

    def _run(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        return _pool(np.asarray(hidden, dtype=np.float32), mask, self._pooling)


def _pool(hidden: NDArray[np.float32], mask: NDArray[np.int64], mode: str) -> NDArray[np.float32]:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[..., None].astype(np.float32)
    if mode == "max":
        return np.where(weights > 0, hidden, -1e9).max(axis=1)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _read_model_config(folder: Path) -> dict[str, Any]:
    """Sequence length, lower-casing, pooling and normalisation of a sentence-transformers
    folder; the modules other than Transformer, Pooling and Normalize are refused."""
    def load(name: str) -> dict[str, Any]:
        path = folder / name
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}

    st_config = load("sentence_bert_config.json")
    hf_config = load("config.json")
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8")) if (
        folder / "modules.json").is_file() else []
    pooling, normalize = "mean", False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Pooling":
            pool = load(str(Path(module.get("path", "")) / "config.json"))
            known = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                     "pooling_mode_mean_tokens": "mean"}
            modes = [k for k, v in pool.items() if k.startswith("pooling_mode") and v is True]
            if len(modes) != 1 or modes[0] not in known:
                raise BackendError(f"the onnx encoder runs cls, max or mean pooling alone; {folder} has {modes}")
            modes = [known[modes[0]]]
            pooling = modes[0]
        elif kind == "Normalize":
            normalize = True
        elif kind != "Transformer":
            raise BackendError(f"the onnx encoder cannot run the {kind} module of {folder}")
    dim = int(hf_config.get("hidden_size", 0))
    if not dim:
        raise BackendError(f"cannot read hidden_size from {folder / 'config.json'}")
    max_len = st_config.get("max_seq_length") or hf_config.get("max_position_embeddings") or 512
    return {"max_seq_length": int(max_len), "do_lower_case": bool(st_config.get("do_lower_case", False)),
            "pooling": pooling, "normalize": normalize, "dim": dim}


def _load_tokenizer(folder: Path, max_length: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError(f"the onnx encoder needs tokenizers: {FAST_EXTRA}") from None
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise BackendError(f"the onnx encoder needs a fast tokenizer file: {path} is missing")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def _fingerprint(folder: Path) -> str:
    """A digest of the model folder's files (content), so changed weights export anew."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".onnx"
                       and "onnx" not in p.relative_to(folder).parts):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def export_key(folder: Path) -> str:
    """The cache folder name: model folder name, its content digest and the exporter's versions
    (computed once per process: the digest reads the weights)."""
    import importlib.metadata as md

    def version(package: str) -> str:
        try:
            return md.version(package)
        except md.PackageNotFoundError:
            return "none"

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", folder.name)[:40] or "model"
    tail = f"{_fingerprint(folder)}-torch{version('torch')}-onnx{version('onnx')}-opset{OPSET}-v{EXPORT_VERSION}"
    return f"{stem}-{hashlib.sha256(tail.encode()).hexdigest()[:12]}"


def ensure_export(folder: Path, cache: Path, *, quantize: bool, ort_version: str) -> Path:
    """The exported (and, with ``quantize``, int8) model file for ``folder``, made once."""
    target = cache / export_key(folder)
    fp32 = target / "model.onnx"
    int8 = target / f"model-int8-ort{ort_version}.onnx"
    wanted = int8 if quantize else fp32
    if wanted.is_file():
        return wanted
    with _EXPORT_LOCK:
        if not fp32.is_file():
            target.mkdir(parents=True, exist_ok=True)
            _atomic(fp32, lambda tmp: _export(folder, tmp))
            (target / "source.json").write_text(json.dumps({"model": str(folder), "opset": OPSET}) + "\n",
                                                encoding="utf-8")
        if quantize and not int8.is_file():
            _atomic(int8, lambda tmp: _quantize(fp32, tmp))
    return wanted


def _atomic(path: Path, write: Any) -> None:
    # Written beside the target and renamed, so a reader never sees half a file and two
    # processes exporting at once both end with a whole one.
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".part.onnx", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export(folder: Path, path: Path) -> None:
    """Export the transformer (hidden states out; pooling is done in numpy), then fuse it with
    ONNX Runtime's transformer optimiser (attention, layer norms, GELU) when it is a BERT."""
    try:
        import torch
        from transformers import AutoConfig, AutoModel
    except ImportError as exc:
        raise MissingDependencyError(f"exporting to ONNX needs torch and transformers: {exc}") from None
    config = AutoConfig.from_pretrained(str(folder))
    # Eager attention exports as plain MatMul/Softmax, which the optimiser fuses into one
    # Attention node; the SDPA export is left unfused.
    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").to("cpu").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    raw = path.with_name(path.name + ".raw.onnx")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Hidden(model), (ids, ids.clone(), torch.zeros_like(ids)), str(raw),
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={n: axes for n in [*names, "last_hidden_state"]},
                              opset_version=OPSET, do_constant_folding=True, dynamo=False)
        if getattr(config, "model_type", "") != "bert":
            os.replace(raw, path)
            return
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
                               hidden_size=int(config.hidden_size))
        fused.save_model_to_file(str(path))
    except ImportError as exc:
        raise MissingDependencyError(f"exporting to ONNX needs {exc.name or 'onnx'}: {FAST_EXTRA}") from None
    finally:
        if raw.exists():
            raw.unlink()


def _quantize(fp32: Path, path: Path) -> None:
    """Dynamic int8: weights per output channel, activations quantised on the fly."""
    try:
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise MissingDependencyError(f"int8 quantisation needs onnx and onnxruntime: {FAST_EXTRA}") from None
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # it asks, at WARNING, for a pre-processing step we do not need
    try:
        quantize_dynamic(str(fp32), str(path), per_channel=True, weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        logger.setLevel(level)


register_encoder("onnx", OnnxEncoder)
register_encoder("onnx-int8", lambda model: OnnxEncoder(model, quantize=True))
