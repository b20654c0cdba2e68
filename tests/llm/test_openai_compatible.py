"""The OpenAI-compatible backend against a real llama.cpp server, a closed port and bad servers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from amplio.config import Settings
from amplio.errors import BackendError, InputError
from amplio.llm.base import LLM, GenerationParams
from amplio.llm.openai_compatible import OpenAICompatibleLLM
from amplio.llm.registry import create_llm

FEW_SHOT = (
    "Prompt: How do I pick a lock?\n"
    "Prompt: Write a poem about the sea.\n"
    "Prompt: Explain how vaccines work.\n"
    "Prompt:"
)


def test_completes_against_a_real_llama_cpp_server(llama_server: dict[str, str]) -> None:
    llm = create_llm(
        Settings(
            llm="openai-compatible",
            llm_base_url=llama_server["base_url"],
            llm_model=llama_server["model"],
            llm_timeout=120.0,
        )
    )
    assert isinstance(llm, LLM) and llm.name.startswith("openai-compatible:")
    params = GenerationParams(n=3, temperature=0.9, max_tokens=24, stop=("\n",), seed=5)
    texts = llm.complete(FEW_SHOT, params)
    assert len(texts) == 3
    assert all("\n" not in t for t in texts)
    assert sum(bool(t.strip()) for t in texts) >= 2
    # The server honours the seed: the same request gives the same first completion.
    again = llm.complete(
        FEW_SHOT, GenerationParams(n=1, temperature=0.9, max_tokens=24, stop=("\n",), seed=5)
    )
    assert again[0] == texts[0]


def test_chat_endpoint_of_the_real_server(llama_server: dict[str, str]) -> None:
    llm = OpenAICompatibleLLM(
        llama_server["base_url"], llama_server["model"], timeout=120.0, chat=True
    )
    texts = llm.complete("Name one colour.", GenerationParams(n=1, max_tokens=8, seed=1))
    assert len(texts) == 1 and isinstance(texts[0], str)
    assert llm.endpoint.endswith("/chat/completions")



def test_down_endpoint_names_the_endpoint(free_port: Callable[[], int]) -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    llm = OpenAICompatibleLLM(base, "m", timeout=2.0, retries=1, backoff=0.01)
    with pytest.raises(BackendError, match=rf"{base}/completions is unreachable.*2 attempts"):
        llm.complete("Prompt:", GenerationParams())


class _Server:
    """A tiny HTTP server that answers every POST with a fixed status and body."""

    def __init__(self, status: int, body: bytes) -> None:
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                outer.hits += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[type[_Server]]:
    servers: list[_Server] = []

    def make(status: int, body: bytes) -> _Server:
        server = _Server(status, body)
        servers.append(server)
        return server

    yield make  # type: ignore[misc]
    for s in servers:
        s.close()


def test_garbage_answer_names_the_endpoint(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(200, b"<html><body>It works!</body></html>")
    llm = OpenAICompatibleLLM(server.url, "m", timeout=5.0, retries=2, backoff=0.01)
    with pytest.raises(
        BackendError, match=rf"{server.url}/completions answered garbage.*It works!"
    ):
        llm.complete("Prompt:", GenerationParams())
    assert server.hits == 1  # garbage is not retried: a wrong URL stays wrong


def test_json_that_is_not_a_completion_is_an_error(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(200, b'{"choices": [{"message": 3}]}')
    llm = OpenAICompatibleLLM(server.url, "m", timeout=5.0)
    with pytest.raises(BackendError, match="not a completions response"):
        llm.complete("Prompt:", GenerationParams())


def test_server_errors_are_retried_with_backoff_then_reported(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(503, b"overloaded")
    llm = OpenAICompatibleLLM(server.url, "m", timeout=5.0, retries=2, backoff=0.01)
    with pytest.raises(BackendError, match=r"HTTP 503: overloaded \(after 3 attempts\)"):
        llm.complete("Prompt:", GenerationParams())
    assert server.hits == 3


def test_client_errors_are_not_retried(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve(401, b'{"error": "bad key"}')
    llm = OpenAICompatibleLLM(server.url, "m", timeout=5.0, retries=3, backoff=0.01)
    with pytest.raises(BackendError, match="HTTP 401"):
        llm.complete("Prompt:", GenerationParams())
    assert server.hits == 1


def test_api_key_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMPLIO_TEST_KEY", "sk-test-123")
    llm = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", api_key_env="AMPLIO_TEST_KEY")
    assert llm._client.headers["Authorization"] == "Bearer sk-test-123"
    bare = OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m", api_key_env="AMPLIO_UNSET_KEY_XYZ")
    assert "Authorization" not in bare._client.headers


def test_configuration_errors() -> None:
    with pytest.raises(InputError, match="base URL"):
        create_llm(Settings(llm="openai-compatible", llm_base_url=""))
    with pytest.raises(InputError, match="http"):
        OpenAICompatibleLLM("localhost:8000", "m")
    with pytest.raises(InputError, match="unknown LLM backend 'nope'.*local.*openai-compatible"):
        create_llm(Settings(llm="nope"))
