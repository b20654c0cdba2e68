"""`amplio embed --engine ray` on a real local Ray instance (2 CPUs, started once here), checked
against the single-process path, and its file opened with `amplio open --vectors` without
embedding a row again.

Small on purpose (40 rows): the cost is starting Ray and one encoder per actor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import ray
from click.testing import CliRunner
from numpy.typing import NDArray

import amplio
import amplio.cli.commands  # noqa: F401  (registers the other commands, as main() does)
from amplio.cli.main import cli
from amplio.data.vectors import read_vectors_meta
from amplio.embedding.sentence_transformer import SentenceTransformerEncoder
from amplio.engines.embed import embed_file
from amplio.errors import InputError
from testdata import aart_slice

ROWS = 40
# Ray Data's own context warns about its deprecated settings when it is first used.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """A real Ray instance on this machine with 2 CPUs; yields its address."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def rows_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    aart_slice(ROWS)[["prompt", "crime"]].to_csv(path, index=False)
    return path


def _vectors(path: Path) -> tuple[list[int], NDArray[np.float32]]:
    table = pq.read_table(path)
    return table.column("row").to_pylist(), np.asarray(table.column("vector").to_pylist(), dtype=np.float32)


def test_ray_vectors_equal_local_ones_and_open_without_embedding(
        local_ray: str, rows_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = embed_file(rows_csv, tmp_path / "local.parquet", text_col="prompt")
    runner = CliRunner()
    result = runner.invoke(cli, ["embed", str(rows_csv), "-o", str(tmp_path / "ray.parquet"),
                                 "--text-col", "prompt", "--engine", "ray", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["engine"], summary["rows"], summary["dim"], summary["encoder"]) == (
        "ray", ROWS, 384, "all-MiniLM-L6-v2")
    assert local.rows == ROWS and local.engine == "local"
    local_ids, local_vectors = _vectors(tmp_path / "local.parquet")
    ray_ids, ray_vectors = _vectors(tmp_path / "ray.parquet")
    assert ray_ids == local_ids == list(range(ROWS))
    cosine = (local_vectors * ray_vectors).sum(axis=1)
    assert cosine.min() >= 0.999, cosine.min()
    meta = read_vectors_meta(tmp_path / "ray.parquet")
    assert (meta["encoder"], meta["encoder_kind"], meta["engine"]) == (
        "all-MiniLM-L6-v2", "sentence-transformers", "ray")

    # Opening the Ray file embeds nothing: every call to the encoder is recorded.
    calls: list[list[str]] = []
    original = SentenceTransformerEncoder.encode

    def counting(self: SentenceTransformerEncoder, texts: Sequence[str], *, batch_size: int = 64) -> NDArray[np.float32]:
        calls.append(list(texts))
        return original(self, texts, batch_size=batch_size)

    monkeypatch.setattr(SentenceTransformerEncoder, "encode", counting)
    folder = tmp_path / "ws.amplio"
    opened = runner.invoke(cli, ["open", str(rows_csv), "--text-col", "prompt", "--label-col", "crime",
                                 "--vectors", str(tmp_path / "ray.parquet"), "--workspace", str(folder)])
    assert opened.exit_code == 0, opened.output
    assert calls == []
    with amplio.load(folder) as ws:
        ids, stored = ws.all_embeddings()
        assert len(ids) == ROWS and ws.meta["encoder"] == "all-MiniLM-L6-v2"
        np.testing.assert_allclose(stored, ray_vectors[ws.rows()["source_index"].to_numpy()],
                                   rtol=1e-5, atol=1e-6)
        # New text is embedded by the named encoder, and only the new text.
        ws.add_rows(["how would someone launder money through a bakery?"], origin="manual")
    assert calls == [["how would someone launder money through a bakery?"]]


def test_an_actor_that_cannot_load_the_encoder_fails_in_one_line(
        local_ray: str, rows_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The actors inherit this environment: the endpoint has no URL there either.
    monkeypatch.delenv("AMPLIO_ENCODER_BASE_URL", raising=False)
    with pytest.raises(InputError) as raised:
        embed_file(rows_csv, tmp_path / "v.parquet", text_col="prompt", engine="ray",
                   encoder="openai-compatible:text-embedding-3-small", concurrency=1)
    assert str(raised.value) == ("the openai-compatible encoder needs a base URL: set "
                                 "AMPLIO_ENCODER_BASE_URL")
    assert not list(tmp_path.iterdir())  # no file, not even a hidden temporary one


def test_address_joins_an_existing_cluster(local_ray: str, rows_csv: Path, tmp_path: Path) -> None:
    # Another process (the real CLI) joins the cluster this module started, by its address.
    out = tmp_path / "joined.parquet"
    done = subprocess.run([sys.executable, "-m", "amplio", "embed", str(rows_csv), "-o", str(out),
                           "--text-col", "prompt", "--engine", "ray", "--address", local_ray,
                           "--concurrency", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["rows"] == ROWS
    assert _vectors(out)[0] == list(range(ROWS))
    assert ray.is_initialized()  # the job left the cluster running: it did not start it


def test_bad_options_are_refused_before_anything_starts(rows_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for args, message in [
        (["--address", "ray://head:10001"], "an address is a Ray cluster's; it goes with the ray "
                                            "engine (option --address)"),
        (["--concurrency", "2"], "concurrency is the number of Ray actors; it goes with the ray "
                                 "engine (option --concurrency)"),
    ]:
        result = runner.invoke(cli, ["embed", str(rows_csv), "-o", str(tmp_path / "v.parquet"), *args])
        assert result.exit_code == 2
        assert result.stderr.strip() == f"amplio: error: {message}"
    result = runner.invoke(cli, ["embed", str(rows_csv), "-o", str(tmp_path / "v.npy")])
    assert result.exit_code == 2 and "give it the suffix .parquet" in result.stderr
    assert not list(tmp_path.iterdir())
