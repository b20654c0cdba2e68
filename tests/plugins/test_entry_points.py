"""A third-party package adds backends through entry points, with no change to Amplio.

The test builds a tiny plug-in package, installs it with pip into a folder of its own, and runs
Amplio in a fresh process with that folder on the path: the plug-in's export format and LLM
backend appear in the registries and work end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""amplio-lines: one prompt per line, numbered; and an LLM that says the same thing politely."""

from pathlib import Path


def write_lines(frame, path: Path, meta) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for i, text in enumerate(frame["text"], start=1):
            handle.write(f"{i}. {' '.join(text.split())}\\n")  # one line per prompt


class PoliteLLM:
    name = "polite:1"

    def complete(self, prompt, params):
        return [" Could you kindly explain this?" for _ in range(params.n)]


def polite(settings):
    return PoliteLLM()
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "amplio-lines"
version = "0.1.0"

[project.entry-points."amplio.exporters"]
lines = "amplio_lines:write_lines"

[project.entry-points."amplio.llms"]
polite = "amplio_lines:polite"

[tool.setuptools]
py-modules = ["amplio_lines"]
'''

RUN = '''
import json, sys
import amplio
from amplio.config import Settings
from amplio.data.export import export_formats
from amplio.llm.base import GenerationParams
from amplio.llm.registry import create_llm, llm_kinds

ws = amplio.load(sys.argv[1], read_only=True)
path = ws.export(sys.argv[2], "lines", status="accepted")
llm = create_llm(Settings(llm="polite"))
print(json.dumps({"formats": export_formats(), "llms": llm_kinds(), "exported": str(path),
                  "said": llm.complete("x", GenerationParams(n=2))}))
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("plugin-src")
    (source / "amplio_lines.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (source / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT), encoding="utf-8")
    target = tmp_path_factory.mktemp("plugin-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert list(target.glob("amplio_lines-0.1.0.dist-info/entry_points.txt"))
    return target


def test_a_plugin_adds_an_export_format_and_an_llm(installed: Path, small_workspace_path: Path,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "prompts.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", RUN, str(small_workspace_path), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "lines" in found["formats"] and {"csv", "pyrit"} <= set(found["formats"])
    assert "polite" in found["llms"] and "local" in found["llms"]
    assert found["said"] == [" Could you kindly explain this?"] * 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300 and lines[0].startswith("1. ")


def test_without_the_plugin_the_format_is_unknown(small_workspace_path: Path, tmp_path: Path) -> None:
    import amplio
    from amplio.errors import InputError

    with amplio.load(small_workspace_path, read_only=True) as ws, pytest.raises(InputError, match="lines"):
        ws.export(tmp_path / "x.txt", "lines")
