"""Every class of bad input file, through the real `amplio open`: exit 2, one line saying what
is wrong and what to do, and no workspace left behind (docs/inputs.md is the same table).

The classes Amplio accepts (UTF-16 with a byte-order mark, a thousand columns) are run up to the
point where the workspace would be built, and their rows checked, without loading the encoder.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from numpy.typing import NDArray

import amplio.cli.commands  # noqa: F401  (registers the other commands, as main() does)
import amplio.workspace.build as build
from amplio.cli.main import cli
from amplio.data.ingest import CleanRows, clean_rows
from amplio.data.loaders import read_table
from amplio.errors import InputError

DOC = Path(__file__).resolve().parents[2] / "docs" / "inputs.md"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"


@dataclass(frozen=True)
class Case:
    """One input class: how to make the file, what Amplio does, and the message it prints.

    ``message`` is the whole stderr line after ``amplio: error: ``, with ``{file}`` for the
    file's path; ``None`` when the file opens (then ``text_column`` and ``texts`` say how).
    """

    name: str
    does: str
    make: Callable[[Path], Path]
    message: str | None = None
    args: tuple[str, ...] = ()
    text_column: str | None = None
    texts: list[str] = field(default_factory=list)


def _write(name: str, data: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    return make


def _parquet(name: str, table: dict[str, list[object]]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        pq.write_table(pa.table(table), path)
        return path

    return make


def _parquet_as_csv(folder: Path) -> Path:
    path = folder / "export.csv"
    pd.DataFrame({"prompt": ["hello there"]}).to_parquet(path)
    return path


def _wide(name: str, with_text: bool) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        columns = {f"c{i}": [str(i * 10 + r) for r in range(3)] for i in range(1000 - with_text)}
        if with_text:
            columns["prompt"] = ["how do I reset a router", "what is a good password", "is this link safe"]
        path = folder / name
        pd.DataFrame(columns).to_csv(path, index=False)
        return path

    return make


def _plain_folder(folder: Path) -> Path:
    path = folder / "exports"
    path.mkdir()
    (path / "notes.csv").write_text("prompt\nhello there\n", encoding="utf-8")
    return path


WIDE_SHOWN = ", ".join(f"c{i} (numbers)" for i in range(12))
JSON_HINT = 'give a list of objects ([{"text": ...}, ...]) or a .jsonl file with one object per line'
NO_TEXT = "no column holds text (strings, not numbers, in at least half the rows); columns are: "

CASES = [
    Case("empty file", "refused", _write("empty.csv", b""),
         "{file} is empty (0 bytes); give a file with at least one row"),
    Case("header only", "refused, naming the columns", _write("header.csv", "prompt,label\n"),
         "{file} has columns (prompt, label) but no rows; add at least one row below the header"),
    Case("binary file", "refused at the first NUL byte", _write("image.csv", PNG_HEAD),
         "{file} is not text: it has a NUL byte at offset 8 (binary data, or UTF-16 without a "
         "byte-order mark); save it as UTF-8 text"),
    Case("binary file of a known kind (Parquet named .csv)", "refused, naming the kind",
         _parquet_as_csv, "{file} is not text but a Parquet file; give it the suffix .parquet"),
    Case("Latin-1 (not UTF-8)", "refused at the first bad byte",
         _write("latin.csv", "prompt\nun café crème\n".encode("latin-1")),
         "{file} is not valid UTF-8 (line 2, byte 13): re-save it as UTF-8 and try again"),
    Case("UTF-16 with a byte-order mark", "opened: decoded as UTF-16 (the mark makes it certain)",
         _write("utf16.csv", "prompt,label\nun café crème,a\nhello there,b\n".encode("utf-16")),
         text_column="prompt", texts=["un café crème", "hello there"]),
    Case("UTF-16 without a byte-order mark", "refused at the first NUL byte",
         _write("utf16le.csv", "prompt\nhello there\n".encode("utf-16-le")),
         "{file} is not text: it has a NUL byte at offset 1 (binary data, or UTF-16 without a "
         "byte-order mark); save it as UTF-8 text"),
    Case("10 MB single cell", "refused by the 100,000-character limit, naming row and column",
         _write("huge.csv", "prompt\n" + "a" * 10_000_000 + "\n"),
         "row 0 of column 'prompt' is 10,000,000 characters long (limit 100,000); split or remove "
         "it, or check that the text column is the right one (option --text-col)"),
    Case("ragged CSV (a later row too long)", "refused, naming the line",
         _write("ragged.csv", "prompt,label\nhello there,a\nhello, world,b\n"),
         "{file} line 3 has 3 fields but the header has 2; quote values that contain a comma, or "
         "fix that line"),
    Case("ragged CSV (the first row too long)", "refused, naming the line (pandas would shift "
         "every column)", _write("shifted.csv", "prompt,label\nhello, world,a\nbye, now,b\n"),
         "{file} line 2 has 3 fields but the header has 2; quote values that contain a comma, or "
         "fix that line"),
    Case("JSON that is not a list", "refused",
         _write("one.json", json.dumps({"prompt": "hello there", "id": 3})),
         "{file} holds one JSON object, not a list of rows; " + JSON_HINT),
    Case("JSON list with a non-object item", "refused, naming the item",
         _write("mixed.json", json.dumps([{"prompt": "hello there"}, 3])),
         "{file} has a number as item 1 of its list; give one object per row (or only strings, "
         "one text per item)"),
    Case("Parquet with only nested columns", "refused, saying the columns are nested",
         _parquet("nested.parquet", {"meta": [{"a": 1}, {"a": 2}], "tags": [["x"], ["y", "z"]]}),
         NO_TEXT + "meta (nested), tags (nested). Give a table with a column of texts"),
    Case("Parquet: a nested column named as the text", "refused",
         _parquet("nested_text.parquet", {"prompt": ["hello there", "good night"],
                                          "meta": [{"a": 1}, {"a": 2}]}),
         "column 'meta' holds nested values (lists or records), not text; name a column of "
         "strings (option --text-col)", args=("--text-col", "meta")),
    Case("Parquet with nested columns beside a text column", "opened: the nested columns are "
         "not picked", _parquet("nested_beside.parquet", {"meta": [{"a": "a long nested value"}] * 2,
                                                          "prompt": ["hello there", "good night"]}),
         text_column="prompt", texts=["hello there", "good night"]),
    Case("text column of numbers, not named", "refused: numbers are never picked as the text",
         _write("numbers.csv", "id,score\n1,0.5\n2,0.75\n3,1e-3\n"),
         NO_TEXT + "id (numbers), score (numbers). Give a table with a column of texts"),
    Case("text column of numbers, named", "refused",
         _write("ids.csv", "id,prompt\n1,hello there\n2,good night\n"),
         "column 'id' holds numbers, not text; name the column that holds the texts (option "
         "--text-col)", args=("--text-col", "id")),
    Case("longer numbers beside a text column", "opened: the text column is picked, not the "
         "numbers", _write("long_ids.csv", "id,prompt\n12345678901234,hi there\n12345678901235,hello\n"),
         text_column="prompt", texts=["hi there", "hello"]),
    Case("duplicate column names", "refused, naming the duplicate",
         _write("dups.csv", "prompt,prompt,label\nhello there,hi,a\n"),
         "{file} has two columns named 'prompt'; rename them so that every column has its own name"),
    Case("duplicate keys in JSON records", "refused, naming the duplicate",
         _write("dups.jsonl", '{"prompt": "hello there", "prompt": "hi"}\n'),
         "{file} has two columns named 'prompt'; rename them so that every column has its own name"),
    Case("1,000 columns, one of text", "opened: the text column is picked",
         _wide("wide.csv", with_text=True), text_column="prompt",
         texts=["how do I reset a router", "what is a good password", "is this link safe"]),
    Case("1,000 columns, none of text", "refused; the message lists 12 columns and counts the rest",
         _wide("wide_numbers.csv", with_text=False),
         NO_TEXT + WIDE_SHOWN + " and 988 more. Give a table with a column of texts"),
    Case("folder that is not a datasets folder", "refused, naming the data files in it",
         _plain_folder,
         "{file} is a folder but not a Hugging Face dataset saved with save_to_disk (no "
         "dataset_info.json or dataset_dict.json in it); open one of its files instead (notes.csv)"),
]
REFUSED = [c for c in CASES if c.message is not None]


class ReachedBuild(Exception):
    """Raised where the encoder would load: every check on the file has passed by then."""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def stop_before_build(monkeypatch: pytest.MonkeyPatch) -> list[CleanRows]:
    """Stops `open` where the encoder would load, keeping the rows it was about to store."""
    seen: list[CleanRows] = []

    def record(*args: object, **kwargs: object) -> CleanRows:
        rows = clean_rows(*args, **kwargs)  # type: ignore[arg-type]
        seen.append(rows)
        return rows

    def no_encoder(*args: object, **kwargs: object) -> None:
        raise ReachedBuild

    monkeypatch.setattr(build, "clean_rows", record)
    monkeypatch.setattr(build, "create_encoder", no_encoder)
    return seen


def _one_line(result: Result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def _expected(case: Case, path: Path) -> str:
    assert case.message is not None
    return "amplio: error: " + case.message.replace("{file}", str(path))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_class(case: Case, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         stop_before_build: list[CleanRows]) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    data.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)  # the default workspace, <stem>.amplio, would land here
    path = case.make(data)
    result = runner.invoke(cli, ["open", str(path), *case.args])
    if case.message is None:
        assert isinstance(result.exception, ReachedBuild), result.output
        (rows,) = stop_before_build
        assert rows.text_column == case.text_column
        assert rows.frame["text"].tolist() == case.texts
    else:
        assert result.exit_code == 2, result.output
        assert _one_line(result) == _expected(case, path)
        assert stop_before_build == []  # refused while reading and checking the rows
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in data.iterdir()) == [path.name]


class HashEncoder:
    """Vectors from a hash of the text: enough to build a real workspace without the model."""

    name = "sha256-test"
    dim = 16

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        raw = np.array([list(hashlib.sha256(t.encode()).digest()[:16]) for t in texts],
                       dtype=np.float32).reshape(len(texts), self.dim) - 127.5
        return raw / np.linalg.norm(raw, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def existing_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import amplio

    folder = tmp_path_factory.mktemp("existing") / "ws.amplio"
    texts = [f"question {i}: how do I keep my account number {i} safe?" for i in range(30)]
    amplio.open(pd.DataFrame({"prompt": texts}), workspace=folder, encoder=HashEncoder()).close()
    return folder


def _snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_bad_input_leaves_an_existing_workspace_as_it_was(
        case: Case, runner: CliRunner, tmp_path: Path, existing_workspace: Path,
        stop_before_build: list[CleanRows]) -> None:
    before = _snapshot(existing_workspace)
    path = case.make(tmp_path)
    result = runner.invoke(cli, ["open", str(path), "--workspace", str(existing_workspace), *case.args])
    assert result.exit_code == 2, result.output
    assert _one_line(result) == _expected(case, path)
    assert _snapshot(existing_workspace) == before
    assert sorted(p.name for p in existing_workspace.parent.iterdir()) == ["ws.amplio"]


def _doc_rows() -> Iterator[list[str]]:
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):  # the next section (vectors: tests/data/test_vectors.py)
            break
        if line.startswith("| ") and not line.startswith("| input class"):
            yield [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def test_docs_table_is_the_tested_table() -> None:
    rows = list(_doc_rows())
    expected = [[c.name, c.does, "`amplio: error: " + c.message.replace("{file}", "FILE") + "`"
                 if c.message else f"none: text column `{c.text_column}`"] for c in CASES]
    assert rows == expected


def test_a_thousand_columns_of_many_rows_pick_the_text_column(tmp_path: Path) -> None:
    # Checking each of 1,000 columns through pandas took seconds; the choice reads Arrow now.
    rows = 500
    columns = {f"c{i}": [str(i * 7 + r) for r in range(rows)] for i in range(999)}
    columns["prompt"] = [f"question number {r} about routers" for r in range(rows)]
    path = tmp_path / "wide.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    frame = read_table(path)
    assert clean_rows(frame).text_column == "prompt"
    with pytest.raises(InputError, match=re.escape("and 987 more")):
        clean_rows(frame.drop(columns="prompt"))
