"""`amplio open / info / export` through click's CliRunner, then once as the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import amplio.cli.commands  # noqa: F401  (registers the other commands, as main() does)
from amplio.cli.main import cli
from amplio.workspace.schema import SCHEMA_VERSION

INFO_KEYS = {"rows", "original", "augmented", "accepted", "text_column", "label_column", "encoder", "labels"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory, aart_slice_frame: pd.DataFrame) -> Path:
    """40 AART rows, plus one duplicate and one blank row."""
    frame = aart_slice_frame.loc[:39, ["prompt", "crime", "region"]].copy()
    frame.loc[40] = [frame.loc[2, "prompt"], frame.loc[2, "crime"], "x"]
    frame.loc[41] = ["", "violence", "x"]
    path = tmp_path_factory.mktemp("cli") / "tiny.csv"
    frame.to_csv(path, index=False)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".amplio") or ".tmp-" in p.name)


def test_help_lists_the_contract(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("open", "info", "export"):
        assert name in result.output
        sub = runner.invoke(cli, [name, "--help"])
        assert sub.exit_code == 0 and f"Usage: cli {name}" in sub.output


def test_open_info_export(runner: CliRunner, tiny_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default workspace lands in the working directory
    result = runner.invoke(cli, ["open", str(tiny_csv), "--label-col", "auto", "--json"])
    assert result.exit_code == 0, result.stderr
    opened = json.loads(result.stdout)
    assert opened["path"] == str(tmp_path / "tiny.amplio")
    assert opened["rows"] == 40 and opened["skipped_empty"] == 1 and opened["duplicates_folded"] == 1
    assert opened["text_column"] == "prompt" and opened["label_column"] == "crime"

    result = runner.invoke(cli, ["info", "tiny.amplio", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert INFO_KEYS <= set(info)
    assert (info["rows"], info["original"], info["augmented"], info["accepted"]) == (40, 40, 0, 40)
    assert info["encoder"] == "all-MiniLM-L6-v2"
    frame = pd.read_csv(tiny_csv, keep_default_na=False)
    expected = frame[frame["prompt"] != ""].drop_duplicates("prompt")["crime"].value_counts().to_dict()
    assert info["labels"] == expected

    human = runner.invoke(cli, ["info", "tiny.amplio"])
    assert human.exit_code == 0 and "rows        40 (40 original, 0 augmented, 0 manual)" in human.stdout

    for fmt, name in [("parquet", "out.parquet"), ("pyrit", "seeds.prompt"), ("garak", "p.txt")]:
        result = runner.invoke(cli, ["export", "tiny.amplio", "--format", fmt, "-o", name])
        assert result.exit_code == 0 and result.stdout.strip() == f"wrote {name}"
    out = pd.read_parquet("out.parquet")
    assert len(out) == 40 and out["id"].tolist() == list(range(40))
    assert {"id", "text", "label", "origin", "method", "parents", "status", "x", "y"} <= set(out.columns)
    assert len(yaml.safe_load(Path("seeds.prompt").read_text(encoding="utf-8"))["prompts"]) == 40
    assert len(Path("p.txt").read_text(encoding="utf-8").splitlines()) == 40

    # Re-opening the same file adds nothing.
    again = runner.invoke(cli, ["open", str(tiny_csv), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["rows"] == 40


def _bad_inputs(folder: Path) -> dict[str, tuple[list[str], str]]:
    missing = folder / "missing.csv"
    odd = folder / "data.xlsx"
    odd.write_bytes(b"prompt\nhello\n")
    latin = folder / "latin.csv"
    latin.write_bytes("prompt\nun caf\xe9 cr\xe8me\n".encode("latin-1"))
    cols = folder / "cols.csv"
    cols.write_text("prompt,crime\nhello there,x\n", encoding="utf-8")
    blank = folder / "blank.csv"
    blank.write_text("prompt,crime\n,x\n  ,y\n", encoding="utf-8")
    huge = folder / "huge.csv"
    huge.write_text("prompt\nshort text\n" + "a" * 10_000_000 + "\n", encoding="utf-8")
    return {
        "missing file": (["open", str(missing)], "no such file or folder"),
        "unknown format": (["open", str(odd)], "unknown format '.xlsx'"),
        "non-UTF-8": (["open", str(latin)], "is not valid UTF-8"),
        "missing column": (["open", str(cols), "--text-col", "body"], "text column 'body' is not a column"),
        "missing label": (["open", str(cols), "--label-col", "topic"], "label column 'topic' is not a column"),
        "no usable text": (["open", str(blank), "--text-col", "prompt"], "has no usable text"),
        "10 MB text": (["open", str(huge)], "10,000,000 characters long"),
        "export format": (["export", str(missing), "--format", "xml", "-o", "x.xml"], "no workspace at"),
    }


def test_bad_input_exits_2_with_one_line_and_no_workspace(runner: CliRunner, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for case, (args, reason) in _bad_inputs(data).items():
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (case, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amplio: error: ") and reason in lines[0], (case, lines)
        assert _leftovers(work) == [] and _leftovers(data) == [], case
    # The library names what was wrong; the CLI says which of its options that is.
    hinted = runner.invoke(cli, ["open", str(data / "cols.csv"), "--text-col", "body"])
    assert hinted.stderr.strip().endswith("(option --text-col)")


def test_unknown_export_format_and_newer_schema(runner: CliRunner, small_workspace_path: Path,
                                                tmp_path: Path) -> None:
    result = runner.invoke(cli, ["export", str(small_workspace_path), "--format", "xml", "-o",
                                 str(tmp_path / "x.xml")])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("amplio: error: unknown export format 'xml'; choose one of: "
                                     "csv, garak, hf, jsonl, parquet, promptfoo, pyrit")
    assert list(tmp_path.iterdir()) == []
    folder = tmp_path / "newer.amplio"
    shutil.copytree(small_workspace_path, folder)
    con = duckdb.connect(str(folder / "workspace.duckdb"))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    before = sorted(p.name for p in folder.iterdir())
    for args in (["info", str(folder)], ["open", str(folder)], ["export", str(folder), "-o", str(tmp_path / "a.csv")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, args
        assert f"schema version 99, newer than this Amplio understands ({SCHEMA_VERSION})" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not (tmp_path / "a.csv").exists()


def test_installed_console_script(tiny_csv: Path, tmp_path: Path) -> None:
    exe = shutil.which("amplio") or str(Path(sys.executable).with_name("amplio"))
    assert Path(exe).exists(), "the amplio console script is not installed (pip install -e .)"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)

    opened = run("open", str(tiny_csv), "--text-col", "prompt", "--label-col", "crime", "--workspace", "t.amplio")
    assert opened.returncode == 0, opened.stderr
    info = run("info", "t.amplio", "--json")
    assert info.returncode == 0
    data = json.loads(info.stdout)
    assert INFO_KEYS <= set(data) and data["rows"] == 40 and data["label_column"] == "crime"
    exported = run("export", "t.amplio", "--format", "promptfoo", "--status", "all", "-o", "tests.yaml")
    assert exported.returncode == 0 and exported.stdout.strip() == "wrote tests.yaml"
    tests = yaml.safe_load((tmp_path / "tests.yaml").read_text(encoding="utf-8"))
    assert [t["metadata"]["id"] for t in tests] == list(range(40))
    bad = run("open", str(tmp_path / "nope.csv"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"amplio: error: no such file or folder: {tmp_path / 'nope.csv'}"
