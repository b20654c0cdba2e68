"""Exports carry every row's provenance and survive hostile text, in every format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

import amplio
from amplio.data.export import EXPORT_COLUMNS, export_formats
from amplio.data.redteam_formats import one_line
from amplio.errors import InputError

HOSTILE = [
    "- [x]",
    "key: value",
    "<script>alert('x')</script> & \"quotes\" 'single'",
    "line one\nline two\r\nline three\u2028four",
    "null",
    "yes",
    "{{prompt}} {% raw %} #comment",
    "*anchor &ref !!python/object:os.system",
    "---\n...\n%YAML 1.1",
]


@pytest.fixture(scope="module")
def exported_ws(small_workspace_path: Path, tmp_path_factory: pytest.TempPathFactory, encoder):
    """A copy of the small workspace with hostile augmented rows, one rejected, one accepted."""
    folder = tmp_path_factory.mktemp("export") / "ws.amplio"
    shutil.copytree(small_workspace_path, folder)
    ws = amplio.Workspace.load(folder, encoder=encoder)
    ids = ws.add_rows(HOSTILE, origin="augmented", method="llm", parents=[0, 5], params={"n": 3},
                      models={"llm": "test-model"}, label="fraud")
    ws.set_status([ids[0]], "accepted")
    ws.set_status([ids[1]], "rejected")
    yield ws, ids
    ws.close()


def test_formats_are_registered() -> None:
    assert export_formats() == ["csv", "garak", "hf", "jsonl", "parquet", "promptfoo", "pyrit"]


def test_csv_jsonl_parquet_hf_round_trip(exported_ws, tmp_path: Path) -> None:
    ws, ids = exported_ws
    expected = ws.rows()
    readers = {
        "csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""]),
        "jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
        "parquet": pd.read_parquet,
        "hf": lambda p: __import__("datasets").load_from_disk(str(p)).to_pandas(),
    }
    for fmt, read in readers.items():
        out = ws.export(tmp_path / f"all.{fmt}", fmt, status="all")
        back = read(out)
        assert list(back.columns) == list(EXPORT_COLUMNS), fmt
        assert back["id"].tolist() == expected["id"].tolist(), fmt
        assert back["text"].tolist() == expected["text"].tolist(), fmt
        assert back["status"].tolist() == expected["status"].tolist(), fmt
        assert back["origin"].tolist() == expected["origin"].tolist(), fmt
        new = back[back["id"].isin(ids)]
        parents = [json.loads(p) if isinstance(p, str) else list(p) for p in new["parents"]]
        assert parents == [[0, 5]] * len(ids), fmt
        assert set(new["method"]) == {"llm"}, fmt
        params = [json.loads(p) if isinstance(p, str) else p for p in new["params"]]
        assert params == [{"n": 3}] * len(ids), fmt
        assert back["x"].astype(float).round(4).tolist() == expected["x"].astype(float).round(4).tolist(), fmt
    accepted = pd.read_parquet(ws.export(tmp_path / "acc.parquet", "parquet"))
    assert ids[0] in set(accepted["id"]) and ids[1] not in set(accepted["id"]) and ids[2] not in set(accepted["id"])
    assert set(accepted["status"]) == {"accepted"}


def test_pyrit_seed_dataset(exported_ws, tmp_path: Path) -> None:
    ws, ids = exported_ws
    path = ws.export(tmp_path / "seeds.prompt", "pyrit", status="all")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["dataset_name"] == "amplio_aart_slice"
    assert data["data_type"] == "text"
    assert data["source"].endswith("aart_slice.csv")
    labels = ws.info()["labels"]
    assert set(data["harm_categories"]) >= set(labels)
    rows = ws.rows()
    prompts = data["prompts"]
    assert [p["value"] for p in prompts] == rows["text"].tolist()
    by_id = {p["metadata"]["id"]: p for p in prompts}
    for i, text in zip(ids, HOSTILE, strict=True):
        seed = by_id[i]
        assert seed["value"] == text  # hostile text comes back exactly, as a string
        assert seed["data_type"] == "text"
        assert seed["harm_categories"] == ["fraud"]
        assert seed["metadata"]["origin"] == "augmented"
        assert seed["metadata"]["method"] == "llm"
        assert seed["metadata"]["parents"] == "0,5"
    assert by_id[ids[0]]["metadata"]["status"] == "accepted"
    assert by_id[ids[1]]["metadata"]["status"] == "rejected"
    assert by_id[0]["metadata"] == {"id": 0, "origin": "original", "method": "", "parents": "",
                                    "status": "accepted", "label": rows.loc[0, "label"]}
    # PyRIT wants metadata values that are strings or ints.
    assert all(isinstance(v, (str, int)) for p in prompts for v in p["metadata"].values())


def test_promptfoo_tests_file(exported_ws, tmp_path: Path) -> None:
    ws, ids = exported_ws
    path = ws.export(tmp_path / "tests.yaml", "promptfoo", status="candidate")
    tests = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(tests, list)
    assert [t["vars"]["prompt"] for t in tests] == HOSTILE[2:]
    assert [t["metadata"]["id"] for t in tests] == ids[2:]
    assert all(t["metadata"]["status"] == "candidate" and t["metadata"]["parents"] == "0,5" for t in tests)
    assert tests[0]["description"] == f"amplio row {ids[2]} (augmented, llm)"


def test_garak_one_prompt_per_line(exported_ws, tmp_path: Path) -> None:
    ws, ids = exported_ws
    path = ws.export(tmp_path / "prompts.txt", "garak", status="all")
    raw = path.read_bytes().decode("utf-8")
    lines = raw.split("\n")
    assert lines[-1] == ""  # file ends with a newline
    lines = lines[:-1]
    rows = ws.rows()
    assert len(lines) == len(rows)
    assert raw.splitlines() == lines  # no stray \r, \u2028 or other line breaks inside a prompt
    assert lines[rows.index[rows["id"] == ids[3]][0]] == "line one line two line three four"
    assert lines[rows.index[rows["id"] == ids[2]][0]] == HOSTILE[2]
    assert lines[0] == rows.loc[0, "text"]


def test_one_line_collapses_only_breaks() -> None:
    assert one_line("a  b\t c") == "a  b\t c"
    assert one_line("a \n\n  b\x85c\u2029d\re") == "a b c d e"


def test_export_errors_and_no_partial_file(exported_ws, tmp_path: Path) -> None:
    ws, _ = exported_ws
    with pytest.raises(InputError, match="unknown export format 'xml'"):
        ws.export(tmp_path / "x.xml", "xml")
    with pytest.raises(InputError, match="does not exist"):
        ws.export(tmp_path / "nope" / "x.csv", "csv")
    with pytest.raises(InputError, match="status must be all or one of"):
        ws.export(tmp_path / "x.csv", "csv", status="maybe")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
