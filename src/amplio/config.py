"""Settings shared by every front door (CLI, server, Python API).

Values come, last one winning, from the defaults below, a TOML file (``$AMPLIO_CONFIG``, else
``./amplio.toml``, else ``~/.config/amplio/config.toml``) and environment variables named
``AMPLIO_<KEY>`` in upper case (``AMPLIO_LLM=openai-compatible``). Secrets are never stored: the
file names the environment variable that holds an API key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from amplio.errors import InputError

DEFAULT_ENCODER_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """Every configuration key, with its default.

    Attributes:
        encoder: encoder backend kind: ``sentence-transformers``, ``openai-compatible``, or
            ``onnx`` / ``onnx-int8`` (ONNX Runtime; the ``fast`` extra, docs/encoders.md).
        encoder_model: model name or local path for the encoder.
        encoder_base_url: base URL of an OpenAI-compatible embeddings endpoint.
        encoder_api_key_env: environment variable holding that endpoint's API key.
        llm: LLM backend kind: ``local`` (llama.cpp on a GGUF file) or ``openai-compatible``.
        llm_model: for ``local``, a ``.gguf`` path (empty = the packaged Gemma 3 270M); for
            ``openai-compatible``, the model name the endpoint expects.
        llm_base_url: base URL of an OpenAI-compatible completions endpoint (``.../v1``).
        llm_api_key_env: environment variable holding that endpoint's API key.
        llm_timeout: seconds before an HTTP LLM request is abandoned.
        llm_retries: how many times a failed HTTP LLM request is retried (with backoff).
        batch_size: encoder batch size.
        map_sample_above: when a workspace is built from more rows than this, the map (UMAP) is
            fitted on a sample and the other rows are placed by their nearest sampled rows.
        map_sample_size: how many rows that sample holds.
    """

    encoder: str = "sentence-transformers"
    encoder_model: str = DEFAULT_ENCODER_MODEL
    encoder_base_url: str = ""
    encoder_api_key_env: str = "OPENAI_API_KEY"
    llm: str = "local"
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key_env: str = "OPENAI_API_KEY"
    llm_timeout: float = 60.0
    llm_retries: int = 2
    batch_size: int = 64
    map_sample_above: int = 25_000
    map_sample_size: int = 25_000

    def with_overrides(self, **values: object) -> Settings:
        """A copy with the given keys replaced (``None`` values are ignored)."""
        changes: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
        return replace(self, **changes)


def config_path() -> Path | None:
    """The configuration file in force, if any."""
    explicit = os.environ.get("AMPLIO_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"AMPLIO_CONFIG names {path}, which is not a file")
        return path
    for candidate in (Path("amplio.toml"), Path.home() / ".config" / "amplio" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from the config file and the environment."""
    env = os.environ if environ is None else environ
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, object] = {}
    path = config_path() if environ is None else None
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read config file {path}: {exc}") from None
        for key, value in data.get("amplio", data).items():
            if key not in known:
                raise InputError(f"unknown key {key!r} in {path}; known keys: {', '.join(known)}")
            values[key] = value
    for key in known:
        raw = env.get(f"AMPLIO_{key.upper()}")
        if raw is not None:
            values[key] = raw
    typed: dict[str, Any] = {k: _coerce(k, v, known[k].type) for k, v in values.items()}
    return Settings(**typed)


def _coerce(key: str, value: object, type_name: object) -> object:
    kind = {"str": str, "int": int, "float": float}.get(str(type_name), str)
    try:
        return kind(value)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise InputError(f"config key {key} must be {kind.__name__}, got {value!r}") from None
