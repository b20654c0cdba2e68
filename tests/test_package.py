"""Package-level promises: a light import, a documented CLI, configuration from env and file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from amplio.config import Settings, load_settings
from amplio.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light() -> None:
    code = "import sys, amplio; print(sorted(m for m in ('torch', 'umap', 'llama_cpp', 'duckdb') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_settings_from_environment() -> None:
    settings = load_settings({"AMPLIO_LLM": "openai-compatible", "AMPLIO_LLM_TIMEOUT": "5",
                              "AMPLIO_LLM_RETRIES": "1"})
    assert settings.llm == "openai-compatible" and settings.llm_timeout == 5.0 and settings.llm_retries == 1
    assert load_settings({}) == Settings()


def test_bad_setting_value_is_an_input_error() -> None:
    with pytest.raises(InputError, match="llm_retries"):
        load_settings({"AMPLIO_LLM_RETRIES": "many"})


def test_config_file_unknown_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "amplio.toml"
    config.write_text('llm = "local"\nllm_modle = "x"\n')
    monkeypatch.setenv("AMPLIO_CONFIG", str(config))
    with pytest.raises(InputError, match="llm_modle"):
        load_settings()


def test_every_config_key_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for key in Settings.__dataclass_fields__:
        assert f"`{key}`" in readme, key


def test_every_cli_command_is_documented() -> None:
    from amplio.cli import commands  # noqa: F401
    from amplio.cli.main import cli

    reference = (ROOT / "docs" / "cli.md").read_text()
    for name in cli.commands:
        assert f"amplio {name}" in reference, name


def test_cli_reference_is_current() -> None:
    from amplio.cli.reference import render

    assert (ROOT / "docs" / "cli.md").read_text() == render(), "run: python -m amplio.cli.reference > docs/cli.md"
