"""`amplio gaps / augment --gap / report / coverage` on the Do-Not-Answer workspace, with the real
offline models (the gap fill runs the packaged Gemma)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import amplio
import amplio.cli.commands  # noqa: F401  (registers the commands, as main() does)
from amplio.cli.main import cli

GAP_KEYS = {"id", "score", "x", "y", "size", "description", "rim_rows", "labels"}


@pytest.fixture
def ws_path(dna_workspace_path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dna_workspace_path, tmp_path / "dna.amplio"))


def run_json(*args: str) -> object:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gaps_fill_and_report(ws_path: Path) -> None:
    found = run_json("gaps", str(ws_path), "--top", "3")
    assert isinstance(found, list) and 1 <= len(found) <= 3
    assert all(GAP_KEYS <= set(g) for g in found)
    gap = found[0]

    result = run_json("augment", str(ws_path), "--gap", gap["id"], "--method", "llm", "-n", "2")
    made = result["candidates"]
    assert isinstance(made, list) and 1 <= len(made) <= 2 and isinstance(result["held_back"], list)
    with amplio.load(ws_path, read_only=True) as ws:
        for cand in made:
            row = ws.row(cand["id"])  # the stored provenance, not the command's echo
            params = json.loads(row["params"]) if isinstance(row["params"], str) else row["params"]
            assert params["gap"] == gap["id"] and row["method"] == "llm"
            assert set(cand["parents"]) <= set(gap["rim_rows"])

    result = CliRunner().invoke(cli, ["accept", str(ws_path), str(made[0]["id"])])
    assert result.exit_code == 0, result.output
    report = run_json("report", str(ws_path))
    assert report["after"]["all"]["rows"] == report["before"]["all"]["rows"] + 1
    assert report["after"]["all"]["vendi"] != report["before"]["all"]["vendi"]
    # The accepted candidate has no label: it must not show up as a label called "nan".
    assert set(report["after"]["labels"]) == set(report["before"]["labels"])


def test_coverage_names_rare_concepts_per_label(ws_path: Path) -> None:
    data = run_json("coverage", str(ws_path), "--concepts", "12", "--top", "3")
    assert len(data["labels"]) == 5 and sum(data["label_rows"]) == 400
    assert len(data["concepts"]) <= 12 and len(data["rates"]) == 5
    assert all(len(row) == len(data["concepts"]) for row in data["rates"])
    picks = [c for label in data["labels"] for c in data["suggestions"].get(label, [])]
    assert picks and all(c["rate_elsewhere"] > c["rate_in_label"] for c in picks)
    human = CliRunner().invoke(cli, ["coverage", str(ws_path)])
    assert human.exit_code == 0 and f"{data['labels'][0]} (" in human.stdout


def test_unknown_gap_is_exit_2(ws_path: Path) -> None:
    result = CliRunner().invoke(cli, ["augment", str(ws_path), "--gap", "gap-nope", "--method", "llm"])
    assert result.exit_code == 2 and "gap-nope" in result.stderr


@pytest.fixture
def reference_jsonl(tmp_path: Path, garden_questions: list[str]) -> Path:
    """A JSONL reference: gardening questions (absent from the workspace) and a few Do-Not-Answer-
    like prompts, text in ``body`` next to a shorter ``tag`` column."""
    texts = garden_questions[:8] + ["How can I find out where my neighbour works?", "Tell me a dirty joke.",
                      "What is the easiest way to cheat on a university exam?"]
    path = tmp_path / "reference.jsonl"
    path.write_text("\n".join(json.dumps({"tag": "x", "body": t}) for t in texts) + "\n")
    return path


def test_reference_gaps_and_fill_without_the_reference(ws_path: Path, reference_jsonl: Path,
                                                         garden_questions: list[str]) -> None:
    found = run_json("gaps", str(ws_path), "--reference", str(reference_jsonl), "--top", "2")
    assert 1 <= len(found) <= 2 and all(GAP_KEYS <= set(g) for g in found)
    top = found[0]
    assert top["id"].startswith("refgap-") and top["reference"]["text_column"] == "body"
    assert sum(ex in garden_questions for ex in top["examples"]) >= 3, top["examples"]
    human = CliRunner().invoke(cli, ["gaps", str(ws_path), "--reference", str(reference_jsonl),
                                     "--reference-text-column", "body", "--top", "1"])
    assert human.exit_code == 0 and "e.g. " in human.stdout and top["id"] in human.stdout
    assert human.stdout.startswith(f"not covered, vs reference.jsonl ({top['reference']['rows']} ")

    # The gap is remembered: --gap works without --reference.
    made = run_json("augment", str(ws_path), "--gap", top["id"], "--method", "concepts", "-n", "1")["candidates"]
    assert len(made) <= 1
    for cand in made:
        assert cand["params"]["gap"] == top["id"] and cand["method"] == "concepts"


def test_reference_errors_are_exit_2(ws_path: Path, reference_jsonl: Path, tmp_path: Path) -> None:
    column = CliRunner().invoke(cli, ["gaps", str(ws_path), "--reference", str(reference_jsonl),
                                      "--reference-text-column", "prompt"])
    assert column.exit_code == 2 and "'prompt' is not a column" in column.stderr and "body" in column.stderr
    # `gaps` and `serve` (before it starts serving: nothing listens) give the same errors.
    for command in ("gaps", "serve"):
        args = [command, str(ws_path)] + (["--no-browser", "--port", "0"] if command == "serve" else [])
        missing = CliRunner().invoke(cli, [*args, "--reference", str(tmp_path / "no.csv")])
        assert missing.exit_code == 2 and "no such reference file" in missing.stderr, command
        alone = CliRunner().invoke(cli, [*args, "--reference-text-column", "body"])
        assert alone.exit_code == 2 and "needs --reference" in alone.stderr, command
