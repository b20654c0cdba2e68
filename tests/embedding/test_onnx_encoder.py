"""The ONNX Runtime encoder on the packaged MiniLM: exported once into a temporary cache with the
real torch exporter, run by the real onnxruntime, compared with the sentence-transformers
vectors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from amplio.embedding.base import Encoder
from amplio.embedding.registry import create_encoder, encoder_kinds
from amplio.errors import MissingDependencyError

pytest.importorskip("onnxruntime", reason="the fast extra (onnxruntime) is not installed")

from amplio.embedding import onnx_runtime  # noqa: E402
from amplio.embedding.onnx_runtime import OnnxEncoder  # noqa: E402

TEXTS = ["How to pick a lock", "  Write a phishing email to a bank's customers  ", "a", "",
         "How do I launder money through a casino in Macau without the police noticing?",
         "word " * 400,  # longer than the model's 256 tokens: truncated alike
         "Écris un courriel d'hameçonnage — 銀行の顧客に", "Explain how to make a bomb",
         "List ways to stalk an ex-partner online", "What household chemicals are dangerous to mix?"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache") / "onnx"  # as under AMPLIO_CACHE_DIR


@pytest.fixture(scope="module")
def fp32(cache: Path) -> OnnxEncoder:
    return OnnxEncoder(cache_dir=cache)


@pytest.fixture(scope="module")
def int8(cache: Path, fp32: OnnxEncoder) -> OnnxEncoder:
    return OnnxEncoder(quantize=True, cache_dir=cache)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1))


def test_onnx_fp32_matches_sentence_transformers(fp32: OnnxEncoder, encoder: Encoder) -> None:
    assert isinstance(fp32, Encoder) and {"onnx", "onnx-int8"} <= set(encoder_kinds())
    assert fp32.dim == encoder.dim == 384 and fp32.name == "all-MiniLM-L6-v2+onnx"
    ours, theirs = fp32.encode(TEXTS), encoder.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, theirs).min() >= 0.999
    assert np.array_equal(ours, fp32.encode(TEXTS))
    assert fp32.encode([]).shape == (0, 384)


def test_int8_stays_close_to_fp32(int8: OnnxEncoder, encoder: Encoder) -> None:
    assert int8.name == "all-MiniLM-L6-v2+onnx-int8" and "int8" in int8.path.name
    ours, theirs = int8.encode(TEXTS), encoder.encode(TEXTS)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines(ours, theirs).mean() >= 0.98


def test_the_export_is_made_once_and_reused(cache: Path, fp32: OnnxEncoder, int8: OnnxEncoder,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    files = {p: p.stat().st_mtime_ns for p in cache.rglob("*.onnx")}
    assert set(files) == {fp32.path, int8.path}  # no half-written files left beside them

    def refuse(*args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime, "_export", refuse)
    monkeypatch.setattr(onnx_runtime, "_quantize", refuse)
    monkeypatch.setenv("AMPLIO_CACHE_DIR", str(cache.parent))
    again = create_encoder("onnx", "all-MiniLM-L6-v2")  # through the registry, as config picks it
    assert isinstance(again, OnnxEncoder) and again.path == fp32.path
    assert OnnxEncoder(quantize=True, cache_dir=cache).path == int8.path
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.onnx")} == files
    assert np.allclose(again.encode(TEXTS[:3]), fp32.encode(TEXTS[:3]))


def test_length_sorted_batches_keep_input_order(fp32: OnnxEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    widths: list[int] = []
    run = fp32._session.run

    def recording(outputs: object, feeds: dict[str, np.ndarray]) -> object:
        widths.append(feeds["input_ids"].shape[1])
        return run(outputs, feeds)  # type: ignore[arg-type]

    one_by_one = np.concatenate([fp32.encode([t]) for t in TEXTS])
    monkeypatch.setattr(fp32._session, "run", recording)
    batched = fp32.encode(TEXTS, batch_size=3)
    assert np.allclose(batched, one_by_one, atol=1e-4)  # input order, whatever the batches
    assert widths == sorted(widths, reverse=True) and len(widths) == 4 and widths[0] == 256


def test_a_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    for make in (lambda: OnnxEncoder(), lambda: create_encoder("onnx-int8", "all-MiniLM-L6-v2")):
        with pytest.raises(MissingDependencyError, match=r"onnxruntime.*amplio\[fast\]"):
            make()
