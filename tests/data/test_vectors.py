"""Vectors made elsewhere (`amplio open --vectors`): every bad class exits 2 with one line and
leaves no workspace (docs/inputs.md, "Vectors made elsewhere", is the same table); good ones open
without embedding a row; an encoder this machine cannot load is named at open time and refused,
clearly, when new text needs it.

The encoder here is a stand-in named like the real one (384 dimensions) that fails the test if it
is asked to embed; tests/engines runs the real one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from numpy.typing import NDArray

import amplio
import amplio.cli.commands  # noqa: F401  (registers the other commands, as main() does)
import amplio.workspace.build as build
from amplio.cli.main import cli
from amplio.data.ingest import text_hash
from amplio.data.vectors import write_vectors
from amplio.errors import InputError

DOC = Path(__file__).resolve().parents[2] / "docs" / "inputs.md"
SECTION = "## Vectors made elsewhere"
DIM = 384
TEXTS = [f"question {i}: how do I keep my account number {i} safe?" for i in range(30)]


class StandIn:
    """Named like the default encoder, 384-d; embedding anything is a test failure."""

    dim = DIM

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        raise AssertionError(f"embedded {len(texts)} texts; the vectors were given")


def _vectors(n: int, dim: int = DIM, seed: int = 0) -> NDArray[np.float32]:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _csv(folder: Path, texts: Sequence[str] = TEXTS, **columns: Sequence[object]) -> Path:
    path = folder / "rows.csv"
    pd.DataFrame({"prompt": list(texts), **{k: list(v) for k, v in columns.items()}}).to_csv(path, index=False)
    return path


def _npy(array: np.ndarray, name: str = "vectors.npy") -> Callable[[Path], tuple[Path, str]]:
    def make(folder: Path) -> tuple[Path, str]:
        path = folder / name
        np.save(path, array, allow_pickle=True)
        return _csv(folder), str(path)

    return make


def _column(cells: Sequence[object], fmt: str = "parquet") -> Callable[[Path], tuple[Path, str]]:
    def make(folder: Path) -> tuple[Path, str]:
        if fmt == "csv":
            return _csv(folder, emb=[str(c) for c in cells]), "emb"
        path = folder / "rows.parquet"
        pq.write_table(pa.table({"prompt": TEXTS, "emb": list(cells)}), path)
        return path, "emb"

    return make


def _file(ids: Sequence[object], *, hashes: Sequence[str] | None = None, input_ids: Sequence[object] | None = None,
          id_column: str = "id", meta: dict[str, object] | None = None,
          vectors: np.ndarray | None = None) -> Callable[[Path], tuple[Path, str]]:
    def make(folder: Path) -> tuple[Path, str]:
        source = _csv(folder, id=input_ids if input_ids is not None else range(len(TEXTS)))
        path = folder / "vectors.parquet"
        by_id = {i: t for i, t in zip(range(len(TEXTS)), TEXTS, strict=True)}
        made = hashes if hashes is not None else [text_hash(by_id.get(int(str(i)), "?")) for i in ids]
        array = vectors if vectors is not None else _vectors(len(ids))
        write_vectors(path, list(ids), id_column, made, array,
                      meta if meta is not None else {"encoder": "all-MiniLM-L6-v2",
                                                     "encoder_kind": "sentence-transformers",
                                                     "encoder_model": "all-MiniLM-L6-v2"})
        return source, str(path)

    return make


def _with(array: np.ndarray, row: int, value: float) -> np.ndarray:
    array = array.copy()
    array[row, 3] = value
    return array


@dataclass(frozen=True)
class Case:
    """One class of vectors: how to make them, what Amplio does, the message it prints (``{vectors}``
    stands for what was given to --vectors; ``None`` when it opens)."""

    name: str
    does: str
    make: Callable[[Path], tuple[Path, str]]
    message: str | None = None
    args: tuple[str, ...] = ("--encoder", "all-MiniLM-L6-v2")


N = len(TEXTS)
CASES = [
    Case("a list column (Parquet)", "opened: no row embedded", _column(list(_vectors(N)))),
    Case(".npy, one row per input row", "opened: no row embedded", _npy(_vectors(N))),
    Case("Parquet from `amplio embed`, by row number", "opened: no row embedded; the encoder comes "
         "from the file", _file(range(N), id_column="row"), args=()),
    Case("Parquet by an id column, shuffled, with extra ids", "opened: lined up by id; extra ids "
         "ignored", _file([f"p{i}" for i in [*range(N - 1, -1, -1), 99]], input_ids=[f"p{i}" for i in range(N)],
                          hashes=[text_hash(TEXTS[i]) for i in range(N - 1, -1, -1)] + ["x"],
                          vectors=_vectors(N + 1)), args=()),
    Case(".npy of the wrong length", "refused", _npy(_vectors(N - 1)),
         "{vectors} has 29 vectors but the input has 30 rows; give one vector per input row, in the "
         "input's order (option --vectors)"),
    Case(".npy with NaN", "refused, naming the row", _npy(_with(_vectors(N), 7, np.nan)),
         "row 7 of {vectors} has NaN; give finite numbers (embed that row again) (option --vectors)"),
    Case(".npy with an infinite value", "refused, naming the row", _npy(_with(_vectors(N), 2, np.inf)),
         "row 2 of {vectors} has an infinite value; give finite numbers (embed that row again) "
         "(option --vectors)"),
    Case(".npy with an all-zero row", "refused, naming the row", _npy(_vectors(N) * (np.arange(N) != 4)[:, None]),
         "row 4 of {vectors} is all zeros; give a non-zero vector (embed that row again) (option "
         "--vectors)"),
    Case(".npy of one dimension", "refused", _npy(_vectors(N)[:, 0]),
         "{vectors} has shape (30,), not (rows, dimensions); give a 2-D array of floats, one vector "
         "per row (option --vectors)"),
    Case(".npy of Python objects", "refused", _npy(np.array([[1.0, "a"]] * N, dtype=object)),
         "cannot read {vectors} as a .npy array of numbers: it holds Python objects; save a 2-D "
         "float array with numpy.save (option --vectors)"),
    Case("ragged list column", "refused, naming the row", _column([list(v) for v in _vectors(N)][:5]
                                                                  + [[0.5] * 383] + [list(v) for v in _vectors(N - 6)]),
         "row 5 of column 'emb' has 383 numbers but row 0 has 384; every vector must have the same "
         "length (option --vectors)"),
    Case("list column with a missing vector", "refused, naming the row",
         _column([list(v) for v in _vectors(N)][:3] + [None] + [list(v) for v in _vectors(N - 4)]),
         "row 3 of column 'emb' has no vector; give every row with text a vector (option --vectors)"),
    Case("vectors written as text (CSV)", "refused", _column([list(v) for v in _vectors(N, 4)], fmt="csv"),
         "column 'emb' holds text, not lists of numbers (row 0 is a string); give vectors as a list "
         "column (Parquet, or JSON arrays) (option --vectors)",
         args=("--encoder", "all-MiniLM-L6-v2", "--text-col", "prompt")),
    Case("neither a column nor a vectors file", "refused, listing the columns",
         lambda folder: (_csv(folder), "embeddings"),
         "vectors 'embeddings' is neither a column of the input (columns: prompt) nor a .npy or "
         ".parquet file; name a column of lists of numbers, or a vectors file (option --vectors)"),
    Case("no such vectors file", "refused", lambda folder: (_csv(folder), str(folder / "missing.npy")),
         "no such vectors file: {vectors} (option --vectors)"),
    Case("ids missing from the vectors file", "refused, counting them", _file(range(N - 3)),
         "3 of the 30 rows have no vector in {vectors} (first: id 27); embed the same input again "
         "(amplio embed), or name the id column that lines the two up (option --vectors)"),
    Case("an id twice in the vectors file", "refused, naming it", _file([*range(N - 1), 5]),
         "{vectors} has id 5 twice (rows 5 and 29); give each vector its own id (option --vectors)"),
    Case("an id twice in the input", "refused, naming it", _file(range(N), input_ids=[*range(N - 1), 8]),
         "column 'id' of the input has id 8 twice (rows 8 and 29); name a column of unique ids "
         "(option --id-col)"),
    Case("vectors made from other texts", "refused: the file's text hashes differ",
         _file(range(N), hashes=[text_hash(TEXTS[(i + 1) % N]) for i in range(N)]),
         "id 0's text differs from the text its vector in {vectors} was made from (30 rows differ); "
         "embed this input again (amplio embed), or check the text and id columns (option --vectors)"),
    Case("id column not in the input", "refused", _file(range(N), id_column="key"),
         "id column 'key' of {vectors} is not a column of the input (columns: prompt, id); name the "
         "input's id column, or use 'row' for row numbers (option --id-col)"),
    Case("no encoder named", "refused before any model loads", _npy(_vectors(N)),
         "say which encoder made the vectors in {vectors} (e.g. all-MiniLM-L6-v2); new text is "
         "embedded by it later (option --encoder)", args=()),
    Case("dimension not the encoder's", "refused once the encoder loads", _npy(_vectors(N, 8)),
         "the vectors in {vectors} have 8 dimensions but encoder 'all-MiniLM-L6-v2' gives 384; name "
         "the encoder that made them (option --encoder)"),
    Case("another encoder than the file's", "refused", _file(range(N)),
         "{vectors} says its vectors were made by encoder 'all-MiniLM-L6-v2', not 'bge-small-en'; leave "
         "the encoder out, or give the vectors 'bge-small-en' made (option --encoder)",
         args=("--encoder", "bge-small-en")),
]
REFUSED = [c for c in CASES if c.message is not None]


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every encoder loads as a ``StandIn``; returns the (kind, model) pairs asked for."""
    loaded: list[tuple[str, str]] = []

    def create(kind: str, model: str) -> StandIn:
        loaded.append((kind, model))
        return StandIn(model)

    monkeypatch.setattr(build, "create_encoder", create)
    return loaded


def _one_line(result: Result) -> str:
    assert "Traceback" not in result.output, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_bad_vectors_class(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           stand_in: list[tuple[str, str]]) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    data.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    source, vectors = case.make(data)
    before = sorted(p.name for p in data.iterdir())
    result = CliRunner().invoke(cli, ["open", str(source), "--vectors", vectors, *case.args])
    assert result.exit_code == 2, result.output
    assert case.message is not None
    assert _one_line(result) == "amplio: error: " + case.message.replace("{vectors}", vectors)
    if "once the encoder loads" not in case.does:
        assert stand_in == []  # refused while reading and checking, before any model loads
    assert list(work.iterdir()) == []  # no workspace, no hidden .tmp folder
    assert sorted(p.name for p in data.iterdir()) == before


@pytest.mark.parametrize("case", [c for c in CASES if c.message is None],
                         ids=[c.name for c in CASES if c.message is None])
def test_good_vectors_open_without_embedding(case: Case, tmp_path: Path,
                                             stand_in: list[tuple[str, str]]) -> None:
    source, vectors = case.make(tmp_path)
    folder = tmp_path / "ws.amplio"
    result = CliRunner().invoke(cli, ["open", str(source), "--vectors", vectors, "--workspace",
                                      str(folder), "--json", *case.args])
    assert result.exit_code == 0, result.output
    assert "no given row was embedded" in result.stderr
    assert json.loads(result.stdout)["rows"] == N
    assert stand_in == [("sentence-transformers", "all-MiniLM-L6-v2")]  # loaded to check dim only
    with amplio.load(folder, read_only=True) as ws:
        assert ws.meta["encoder"] == "all-MiniLM-L6-v2" and ws.meta["dim"] == DIM
        assert ws.meta["vectors_source"]
        ids, stored = ws.all_embeddings()
        texts = ws.rows()["text"].tolist()
    # Row by row, the stored vector is the one given for that text (unit length).
    given = _given(case, tmp_path, vectors)
    expected = np.stack([given[t] for t in texts])
    np.testing.assert_allclose(stored, expected / np.linalg.norm(expected, axis=1, keepdims=True),
                               rtol=1e-5, atol=1e-6)


def _given(case: Case, folder: Path, vectors: str) -> dict[str, NDArray[np.float32]]:
    """What each text's vector was, read back from what the case wrote."""
    if vectors.endswith(".npy"):
        return dict(zip(TEXTS, np.load(vectors), strict=True))
    if vectors == "emb":
        table = pq.read_table(folder / "rows.parquet")
        return {t: np.asarray(v, dtype=np.float32) for t, v in
                zip(table.column("prompt").to_pylist(), table.column("emb").to_pylist(), strict=True)}
    table = pq.read_table(vectors)
    by_hash = {text_hash(t): t for t in TEXTS}
    return {by_hash[h]: np.asarray(v, dtype=np.float32) for h, v in
            zip(table.column("text_hash").to_pylist(), table.column("vector").to_pylist(), strict=True)
            if h in by_hash}


def test_an_encoder_not_available_here_is_named_at_open_and_refused_for_new_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real backend that cannot load here: an OpenAI-compatible endpoint with no URL set.
    monkeypatch.delenv("AMPLIO_ENCODER_BASE_URL", raising=False)
    monkeypatch.delenv("AMPLIO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    source, vectors = _npy(_vectors(N, 16))(tmp_path)
    folder = tmp_path / "ws.amplio"
    runner = CliRunner()
    name = "openai-compatible:text-embedding-3-small"
    result = runner.invoke(cli, ["open", str(source), "--vectors", vectors, "--encoder", name,
                                 "--workspace", str(folder)])
    assert result.exit_code == 0, result.output
    notes = result.stderr.strip().splitlines()
    assert notes[1] == (
        f"amplio: note: new text (candidates, edits, added rows) is embedded by '{name}', the encoder "
        f"that made the vectors from {vectors}, and it cannot be loaded here (the openai-compatible "
        "encoder needs a base URL: set AMPLIO_ENCODER_BASE_URL); install it or make it reachable "
        "here, or open the data without vectors to embed it all with an encoder you have")
    with amplio.load(folder, read_only=True) as ws:
        assert (ws.meta["encoder"], ws.meta["encoder_kind"], ws.meta["dim"]) == (
            name, "openai-compatible", 16)
        assert ws.info()["rows"] == N  # the map, clusters and rows are all there
    for args in (["add", str(folder), "a new question"], ["edit", str(folder), "0", "an edit"]):
        refused = runner.invoke(cli, args)
        assert refused.exit_code == 2, refused.output
        assert _one_line(refused) == "amplio: error: " + notes[1].removeprefix("amplio: note: ")
    with amplio.load(folder, read_only=True) as ws:
        assert ws.info()["rows"] == N and ws.row(0)["text"] == TEXTS[0]  # nothing changed


def test_reopening_adds_new_rows_with_their_given_vectors(tmp_path: Path,
                                                          stand_in: list[tuple[str, str]]) -> None:
    vectors = _vectors(N + 5)
    first = tmp_path / "first.csv"
    pd.DataFrame({"prompt": TEXTS}).to_csv(first, index=False)
    np.save(tmp_path / "first.npy", vectors[:N])
    folder = tmp_path / "ws.amplio"
    amplio.open(first, workspace=folder, vectors=tmp_path / "first.npy",
                vectors_encoder="all-MiniLM-L6-v2").close()
    with pytest.raises(InputError, match="is a workspace; vectors go with the data file"):
        amplio.open(folder, vectors=tmp_path / "first.npy")
    more = [*TEXTS, *(f"a later question {i}" for i in range(5))]
    second = tmp_path / "second.csv"
    pd.DataFrame({"prompt": more}).to_csv(second, index=False)
    np.save(tmp_path / "second.npy", vectors)
    with pytest.raises(InputError, match="holds 384-dimensional ones"):
        np.save(tmp_path / "narrow.npy", vectors[:, :8])
        amplio.open(second, workspace=folder, vectors=tmp_path / "narrow.npy")
    with amplio.open(second, workspace=folder, vectors=tmp_path / "second.npy") as ws:
        assert ws.info()["rows"] == N + 5
        got = ws.embeddings([N + 4])[0]
    np.testing.assert_allclose(got, vectors[N + 4] / np.linalg.norm(vectors[N + 4]), rtol=1e-5, atol=1e-6)


def test_python_api_takes_an_array(tmp_path: Path, stand_in: list[tuple[str, str]]) -> None:
    frame = pd.DataFrame({"prompt": [*TEXTS, "  ", TEXTS[0]]})  # an empty row and a duplicate
    vectors = _vectors(N + 2)
    with amplio.open(frame, workspace=tmp_path / "ws.amplio", vectors=vectors,
                     vectors_encoder="all-MiniLM-L6-v2") as ws:
        assert ws.info()["rows"] == N
        assert ws.meta["vectors_source"] == "array"


def _doc_rows() -> Iterator[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    assert SECTION in text
    for line in text.split(SECTION, 1)[1].splitlines():
        if line.startswith("## "):
            break
        if line.startswith("| ") and not line.startswith("| vectors given |"):
            yield [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def test_docs_table_is_the_tested_table() -> None:
    expected = [[c.name, c.does, "`amplio: error: " + c.message.replace("{vectors}", "VECTORS") + "`"
                 if c.message else "none"] for c in CASES]
    assert list(_doc_rows()) == expected


def test_hash_of_text_is_the_workspace_key() -> None:
    # The vectors file's text_hash column is the workspace's own key for a text.
    assert text_hash("hello") == hashlib.blake2b(b"hello", digest_size=16).hexdigest()


def test_a_parquet_vectors_file_is_checked_like_a_column(tmp_path: Path) -> None:
    # Read through Arrow, not row by row; the same problems are named the same way.
    from amplio.data.ingest import clean_rows
    from amplio.data.vectors import line_up

    frame = pd.DataFrame({"prompt": TEXTS[:4]})
    clean = clean_rows(frame).frame
    hashes = [text_hash(t) for t in TEXTS[:4]]
    for vectors, message in [
        ([[1.0, 2.0], [1.0], [1.0, 0.0], [0.0, 1.0]], "row 1 of column 'vector' of .* has 1 numbers but row 0 has 2"),
        ([[1.0, 2.0], None, [1.0, 0.0], [0.0, 1.0]], "row 1 of column 'vector' of .* has no vector"),
        ([[1.0, 2.0], [1.0, None], [1.0, 0.0], [0.0, 1.0]], "holds lists of double with gaps"),
        ([[1.0, 2.0], [3.0, float("nan")], [1.0, 0.0], [0.0, 1.0]], "vector for row 1 of .* has NaN"),
    ]:
        path = tmp_path / "v.parquet"
        pq.write_table(pa.table({"row": range(4), "text_hash": hashes, "vector": vectors}), path)
        with pytest.raises(InputError, match=message):
            line_up(frame, clean, str(path))
    pq.write_table(pa.table({"row": range(4), "text_hash": hashes,
                             "vector": [[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]}), path)
    got = line_up(frame, clean, str(path))
    np.testing.assert_allclose(got.array[0], [0.6, 0.8], rtol=1e-6)
    assert got.encoder is None and got.dim == 2
