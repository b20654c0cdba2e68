"""LLM backend: any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, Ollama, LiteLLM, llama.cpp).

Base-model style by default (``POST {base_url}/completions``); ``chat=True`` sends the prompt as
one user message to ``{base_url}/chat/completions`` instead.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import httpx

from amplio.config import Settings
from amplio.errors import BackendError, InputError
from amplio.llm.base import GenerationParams
from amplio.llm.registry import register_llm

# OpenAI rejects more than four stop sequences; extra ones are still cut on our side.
_MAX_STOP = 4
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# A completions answer is a few kilobytes; a body past this is not one, and reading it on would
# only hold the workspace lock longer.
_MAX_BODY = 8 * 1024 * 1024


class OpenAICompatibleLLM:
    """Completions from an OpenAI-compatible server.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the endpoint expects.
        api_key_env: environment variable holding the API key (no header when it is unset).
        timeout: seconds before one request is abandoned: the whole request, however slowly
            the endpoint trickles its answer (``AMPLIO_LLM_TIMEOUT``).
        retries: how many times a failed request is retried, with exponential backoff.
        chat: use ``/chat/completions`` instead of ``/completions``.
        backoff: seconds before the first retry; doubled on each further one.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 2,
        chat: bool = False,
        backoff: float = 0.5,
    ) -> None:
        if not base_url:
            raise InputError("the openai-compatible LLM needs a base URL (AMPLIO_LLM_BASE_URL)")
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"LLM base URL {base_url!r} must start with http:// or https://")
        if not math.isfinite(timeout) or timeout <= 0:
            raise InputError(f"the LLM timeout must be a positive number of seconds, not {timeout!r} "
                             "(AMPLIO_LLM_TIMEOUT)")
        self.timeout = float(timeout)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai-compatible:{model or 'default'}"
        self.chat = chat
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.endpoint = f"{self.base_url}/{'chat/completions' if chat else 'completions'}"
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers)

    def complete(self, prompt: str, params: GenerationParams) -> list[str]:
        """Return ``params.n`` completions of ``prompt``, stop strings cut.

        Asks for all ``n`` at once; servers that ignore ``n`` (llama.cpp's does) are topped up
        with one request per missing completion, seeded ``seed + i``.

        Raises:
            BackendError: the endpoint is down, times out past the retries, answers an error
                status or answers something that is not a completions response.
        """
        texts = self._request(prompt, params, params.n, params.seed)
        i = len(texts)
        while len(texts) < params.n:
            more = self._request(prompt, params, 1, params.seed + i)
            if not more:
                raise BackendError(f"LLM endpoint {self.endpoint} returned no completion")
            texts.extend(more)
            i += 1
        return [_cut(t, params.stop) for t in texts[: params.n]]

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _request(self, prompt: str, params: GenerationParams, n: int, seed: int) -> list[str]:
        payload: dict[str, Any] = {
            "n": n,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
        }
        if self.model:
            payload["model"] = self.model
        if params.stop:
            payload["stop"] = list(params.stop)[:_MAX_STOP]
        if self.chat:
            payload["messages"] = [{"role": "user", "content": prompt}]
        else:
            payload["prompt"] = prompt
        return _parse(self._post(payload), self.endpoint, self.chat)

    def _post(self, payload: dict[str, Any]) -> Any:
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                status, body = self._send(payload)
            except httpx.TimeoutException:
                last = f"timed out (no complete answer within {self.timeout:g} s)"
                continue
            except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
                last = f"is unreachable ({type(exc).__name__}: {exc})"
                continue
            except httpx.TransportError as exc:
                last = f"broke off the connection ({type(exc).__name__}: {exc})"
                continue
            except httpx.HTTPError as exc:  # e.g. a body that is not the gzip its header says
                raise BackendError(
                    f"LLM endpoint {self.endpoint} answered garbage ({type(exc).__name__}: {exc})"
                ) from None
            text = body.decode("utf-8", errors="replace")
            if status in _RETRY_STATUS:
                last = f"answered HTTP {status}: {_snippet(text)}"
                continue
            if status >= 400:
                raise BackendError(f"LLM endpoint {self.endpoint} answered HTTP {status}: {_snippet(text)}")
            try:
                return json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                # A wrong URL (an HTML page, a proxy's error text) is not fixed by retrying.
                raise BackendError(
                    f"LLM endpoint {self.endpoint} answered garbage, not JSON: {_snippet(text)}"
                ) from None
        raise BackendError(
            f"LLM endpoint {self.endpoint} {last} (after {self.retries + 1} attempts)"
        )

    def _send(self, payload: dict[str, Any]) -> tuple[int, bytes]:
        """POST ``payload``; the status and the body, read within ``timeout`` in all.

        httpx's timeout bounds each read, not the answer: an endpoint that sends a byte now and
        then would hold the job (and the workspace lock behind it) for as long as it likes.
        """
        deadline = time.monotonic() + self.timeout
        with self._client.stream("POST", self.endpoint, json=payload) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > _MAX_BODY:
                    raise BackendError(f"LLM endpoint {self.endpoint} answered more than "
                                       f"{_MAX_BODY // (1024 * 1024)} MiB; that is no completions response")
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the answer took longer than the timeout")
            return response.status_code, b"".join(chunks)


def _parse(data: Any, endpoint: str, chat: bool) -> list[str]:
    try:
        choices = data["choices"]
        order = sorted(choices, key=lambda c: int(c.get("index", 0)))
        if chat:
            texts = [c["message"]["content"] for c in order]
        else:
            texts = [c["text"] for c in order]
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("completion text is not a string")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackendError(
            f"LLM endpoint {endpoint} answered JSON that is not a completions response "
            f"({type(exc).__name__}: {exc}): {_snippet(json.dumps(data)[:200])}"
        ) from None
    return list(texts)


def _cut(text: str, stop: tuple[str, ...] | list[str] | Any) -> str:
    # Servers may ignore stop strings (or more than four of them); cut them here as well.
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
    return text


def _snippet(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _from_settings(settings: Settings) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(
        settings.llm_base_url,
        settings.llm_model,
        api_key_env=settings.llm_api_key_env,
        timeout=settings.llm_timeout,
        retries=settings.llm_retries,
    )


register_llm("openai-compatible", _from_settings)
