"""Session fixtures: the packaged GGUF and a real llama.cpp HTTP server (the local model itself
is the root ``local_llm`` fixture)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from amplio.llm.local import default_model_path


@pytest.fixture(scope="session")
def gguf_path() -> str:
    return default_model_path()


@pytest.fixture(scope="session")
def llama_server(
    gguf_path: str, tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]
) -> Iterator[dict[str, str]]:
    """``python -m llama_cpp.server`` on a free port with the packaged model; stopped after."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    base = f"http://127.0.0.1:{port}/v1"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                gguf_path,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            model = _wait_for_models(base, proc, log, timeout=180.0)
            yield {"base_url": base, "model": model}
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_for_models(base: str, proc: subprocess.Popen[bytes], log: object, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log}")
        try:
            answer = httpx.get(f"{base}/models", timeout=2.0)
            if answer.status_code == 200:
                return str(answer.json()["data"][0]["id"])
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"llama_cpp.server did not answer {base}/models within {timeout}s; see {log}"
    )
