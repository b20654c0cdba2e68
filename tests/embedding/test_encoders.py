"""The encoders and the vector helpers, directly: the packaged model, batching, and an
OpenAI-compatible endpoint served by a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from amplio.embedding.base import Encoder, as_unit, l2_normalise, nearest
from amplio.embedding.batching import embed_texts
from amplio.embedding.openai_compatible import OpenAICompatibleEncoder
from amplio.embedding.registry import create_encoder, encoder_kinds
from amplio.errors import BackendError, InputError

TEXTS = ["How to pick a lock", "Write a phishing email to a bank's customers",
         "a", "How do I launder money through a casino in Macau without the police noticing?"]


def test_the_packaged_encoder_gives_unit_vectors_deterministically(encoder: Encoder) -> None:
    assert encoder.dim == 384 and {"sentence-transformers", "openai-compatible"} <= set(encoder_kinds())
    first, again = encoder.encode(TEXTS), encoder.encode(TEXTS)
    assert first.shape == (4, 384) and first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(first, again)
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(InputError, match="unknown encoder kind"):
        create_encoder("word2vec", "x")


class Recording:
    """Wraps a real encoder and records the batches it is given."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.batches: list[list[str]] = []

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.encode(texts, batch_size=batch_size)


def test_embed_texts_sorts_by_length_keeps_order_and_reports_progress(encoder: Encoder,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import amplio.embedding.batching as batching

    monkeypatch.setattr(batching, "CHUNK", 2)
    recording = Recording(encoder)
    seen: list[tuple[str, int, int]] = []
    out = embed_texts(recording, TEXTS, progress=lambda s, d, t: seen.append((s, d, t)))
    assert np.allclose(out, encoder.encode(TEXTS), atol=1e-5)  # input order, whatever the batches
    lengths = [len(t) for batch in recording.batches for t in batch]
    assert lengths == sorted(lengths, reverse=True)
    assert seen == [("embed", 0, 4), ("embed", 2, 4), ("embed", 4, 4)]


def test_vector_helpers() -> None:
    v = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(v, [[0.6, 0.8], [0.0, 0.0]])
    assert np.allclose(as_unit(np.array([0.0, 2.0]), 2), [0.0, 1.0])
    for bad in (np.zeros(2), np.array([np.nan, 1.0]), np.ones(3)):
        with pytest.raises(InputError):
            as_unit(bad, 2)
    rows = np.eye(3, dtype=np.float32)
    assert nearest(rows, np.array([0.1, 0.9, 0.0], dtype=np.float32), 2) == [(1, pytest.approx(0.9)),
                                                                             (0, pytest.approx(0.1))]
    assert nearest(rows, np.ones(3, dtype=np.float32), 2)[0][0] == 0  # ties by index
    assert nearest(rows[:0], np.ones(3, dtype=np.float32), 2) == []


@pytest.fixture()
def endpoint(encoder: Encoder) -> Iterator[dict[str, Any]]:
    """A real HTTP server answering ``POST /v1/embeddings`` with the packaged encoder's vectors
    (scaled, so the client's normalisation shows), or with an error when told to."""
    state: dict[str, Any] = {"requests": [], "fail": None}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append(body)
            if state["fail"] == "500":
                self.send_response(500)
                self.end_headers()
                return
            if state["fail"] == "garbage":
                payload = b'{"nothing": "here"}'
            else:
                vectors = encoder.encode(body["input"]) * 3.0
                data = [{"index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)][::-1]
                payload = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}/v1", **{"state": state}}
    finally:
        server.shutdown()
        server.server_close()


def test_openai_compatible_encoder_batches_orders_and_normalises(endpoint: dict[str, Any],
                                                                 encoder: Encoder) -> None:
    remote = OpenAICompatibleEncoder("minilm", base_url=endpoint["url"])
    assert remote.dim == 384 and remote.name.startswith("openai-compatible:minilm@")
    out = remote.encode(TEXTS, batch_size=3)
    assert np.allclose(out, encoder.encode(TEXTS), atol=1e-5)  # unit length, input order
    assert [len(r["input"]) for r in endpoint["state"]["requests"][1:]] == [3, 1]
    assert all(r["model"] == "minilm" for r in endpoint["state"]["requests"])


def test_openai_compatible_encoder_names_the_endpoint_on_failure(endpoint: dict[str, Any]) -> None:
    remote = OpenAICompatibleEncoder("minilm", base_url=endpoint["url"])
    endpoint["state"]["fail"] = "500"
    with pytest.raises(BackendError, match="/v1/embeddings failed"):
        remote.encode(["x"])
    endpoint["state"]["fail"] = "garbage"
    with pytest.raises(BackendError, match="answered something unexpected"):
        remote.encode(["x"])
