"""Encoder backend: an OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, Ollama, LiteLLM)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from amplio.embedding.base import l2_normalise
from amplio.embedding.registry import register_encoder
from amplio.errors import BackendError, InputError


class OpenAICompatibleEncoder:
    """Calls ``POST {base_url}/embeddings`` in batches; vectors are L2-normalised here."""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0) -> None:
        from amplio.config import load_settings

        settings = load_settings()
        self.base_url = (base_url or settings.encoder_base_url).rstrip("/")
        if not self.base_url:
            raise InputError(
                "the openai-compatible encoder needs a base URL: set AMPLIO_ENCODER_BASE_URL"
            )
        self.name = f"openai-compatible:{model}@{self.base_url}"
        self.model = model
        self._api_key = api_key or os.environ.get(settings.encoder_api_key_env, "")
        self._timeout = timeout
        self.dim = int(self._post(["dimension probe"]).shape[1])

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._post(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)]
        return l2_normalise(np.concatenate(parts))

    def _post(self, batch: list[str]) -> NDArray[np.float32]:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        url = f"{self.base_url}/embeddings"
        try:
            response = httpx.post(url, json={"model": self.model, "input": batch},
                                  headers=headers, timeout=self._timeout)
            response.raise_for_status()
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            return np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except httpx.HTTPError as exc:
            raise BackendError(f"embedding endpoint {url} failed: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"embedding endpoint {url} answered something unexpected: {exc}") from None


register_encoder("openai-compatible", OpenAICompatibleEncoder)
