"""Building, re-opening, placing, editing and undoing on a real DuckDB workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import amplio
from amplio.errors import InputError, NotFoundError, WorkspaceError
from amplio.workspace.build import Timings
from amplio.workspace.schema import SCHEMA_VERSION
from amplio.workspace.workspace import Workspace


@pytest.fixture
def ws_copy(small_workspace_path: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy.amplio"
    shutil.copytree(small_workspace_path, folder)
    return folder


def test_built_workspace_summary(small_workspace_path: Path, aart_slice_frame: pd.DataFrame) -> None:
    with amplio.load(small_workspace_path, read_only=True) as ws:
        info = ws.info()
        rows = ws.rows()
        ids, vectors = ws.all_embeddings()
    n = len(aart_slice_frame)
    assert info["rows"] == info["original"] == info["accepted"] == n
    assert info["augmented"] == info["candidates"] == info["rejected"] == 0
    assert info["text_column"] == "prompt" and info["label_column"] == "crime"
    assert info["encoder"] == "all-MiniLM-L6-v2" and info["dim"] == 384
    assert info["labels"] == aart_slice_frame["crime"].value_counts().to_dict()
    assert info["schema_version"] == SCHEMA_VERSION
    assert info["clusters"] == 5  # round(sqrt(300 / 10))
    assert rows["id"].tolist() == list(range(n))
    assert rows["text"].tolist() == aart_slice_frame["prompt"].str.strip().tolist()
    assert rows["source_index"].tolist() == list(range(n))
    assert set(rows["origin"]) == {"original"} and set(rows["status"]) == {"accepted"}
    assert np.isfinite(rows[["x", "y"]].to_numpy()).all()
    assert ids.tolist() == list(range(n))
    assert vectors.shape == (n, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dataframe_source_with_timings(tmp_path: Path, aart_slice_frame: pd.DataFrame, counting_encoder) -> None:
    frame = aart_slice_frame.loc[:39, ["prompt", "crime"]].copy()
    frame.loc[40] = [frame.loc[0, "prompt"], "dup"]  # a duplicate folds into row 0
    frame.loc[41] = ["   ", "blank"]                 # a blank is skipped
    timings = Timings()
    with pytest.raises(InputError, match="give workspace="):
        amplio.open(frame)
    with amplio.open(frame, workspace=tmp_path / "df.amplio", label_col="auto", encoder=counting_encoder,
                     timings=timings) as ws:
        info = ws.info()
        rows = ws.rows()
    assert info["rows"] == 40 and info["text_column"] == "prompt" and info["label_column"] == "crime"
    assert info["skipped_empty"] == 1 and info["duplicates_folded"] == 1
    assert rows.loc[0, "dup_count"] == 2
    assert sorted(counting_encoder.texts) == sorted(rows["text"])  # each text embedded exactly once
    assert set(timings.stages) == {"load", "embed", "project", "cluster", "store"}
    assert all(v >= 0 for v in timings.stages.values())


def test_add_rows_embeds_only_unknown_texts(ws_copy: Path, counting_encoder) -> None:
    with Workspace.load(ws_copy, encoder=counting_encoder) as ws:
        known = ws.rows(ids=[3, 7])["text"].tolist()
        ids = ws.add_rows(known, origin="augmented", method="manual")
        assert counting_encoder.calls == []  # every text was in the cache
        assert np.array_equal(ws.embeddings(ids), ws.embeddings([3, 7]))
        fresh = ["A brand new prompt about tax evasion in Lisbon.", known[0]]
        new_ids = ws.add_rows(fresh, parents=[3], params=[{"k": 1}, {"k": 2}], models={"m": "x"})
        assert counting_encoder.texts == [fresh[0]]
        row = ws.row(new_ids[0])
    assert row["parents"] == [3] and row["params"] == {"k": 1} and row["models"] == {"m": "x"}
    assert row["origin"] == "augmented" and row["status"] == "candidate" and row["source_index"] is None


def test_reopen_syncs_only_new_rows_and_keeps_ids(ws_copy: Path, aart_slice_csv: Path, tmp_path: Path,
                                                  counting_encoder) -> None:
    with amplio.load(ws_copy) as ws:
        before = ws.rows()
    frame = pd.read_csv(aart_slice_csv, dtype=str, keep_default_na=False)
    extra = frame.iloc[:3].copy()
    extra["prompt"] = ["New row one about forged passports.", "New row two about smuggling.",
                       "New row three about arson."]
    grown = tmp_path / "aart_slice.csv"
    pd.concat([frame, extra]).to_csv(grown, index=False)
    with amplio.open(grown, text_col="prompt", label_col="crime", workspace=ws_copy,
                     encoder=counting_encoder) as ws:
        after = ws.rows()
    assert sorted(counting_encoder.texts) == sorted(extra["prompt"])
    assert after["id"].tolist() == list(range(len(before) + 3))
    old = after.iloc[: len(before)]
    assert old["text"].tolist() == before["text"].tolist()
    assert np.array_equal(old[["x", "y"]].to_numpy(), before[["x", "y"]].to_numpy())  # no refit
    added = after.iloc[len(before):]
    assert set(added["text"]) == set(extra["prompt"])
    assert set(added["origin"]) == {"original"} and set(added["status"]) == {"accepted"}
    # A third open of the same file adds nothing and embeds nothing.
    counting_encoder.calls.clear()
    with amplio.open(grown, text_col="prompt", workspace=ws_copy, encoder=counting_encoder) as ws:
        assert ws.info()["rows"] == len(before) + 3
    assert counting_encoder.calls == []
    with pytest.raises(InputError, match="was built from column 'prompt'"):
        amplio.open(grown, text_col="crime", workspace=ws_copy, encoder=counting_encoder)
    # Opening the folder itself reopens it.
    with amplio.open(ws_copy) as ws:
        assert ws.rows()["id"].tolist() == after["id"].tolist()


def test_new_rows_land_near_their_nearest_row(ws_copy: Path, encoder) -> None:
    with Workspace.load(ws_copy, encoder=encoder) as ws:
        rows = ws.rows()
        _, vectors = ws.all_embeddings()
        xy = rows[["x", "y"]].to_numpy()
        spread = np.median(np.linalg.norm(xy - xy.mean(axis=0), axis=1))
        picks = [4, 50, 120, 200, 260, 290, 11, 99, 150, 222]
        texts = [rows.loc[i, "text"] + " Answer in detail." for i in picks]
        ids = ws.add_rows(texts)
        placed = ws.rows(ids=ids)[["x", "y"]].to_numpy()
        new_vectors = ws.embeddings(ids)
        again = ws.place(new_vectors)
        after = ws.rows(ids=list(range(len(rows))))[["x", "y"]].to_numpy()
    nearest = np.argmax(new_vectors @ vectors.T, axis=1)
    distance = np.linalg.norm(placed - xy[nearest], axis=1)
    assert np.median(distance) < 0.25 * spread, (distance, spread)
    assert np.allclose(again, placed, atol=1e-3)  # transform is deterministic
    assert np.array_equal(after, xy)  # nothing already on the map moved


def test_status_edit_undo_history(ws_copy: Path, encoder) -> None:
    with Workspace.load(ws_copy, encoder=encoder) as ws:
        ids = ws.add_rows(["First candidate text.", "Second candidate text."], method="llm")
        ws.set_status(ids, "accepted", reviewer="alice")
        assert ws.rows(ids=ids)["status"].tolist() == ["accepted", "accepted"]
        assert ws.row(ids[0])["reviewed_by"] == "alice"
        ws.set_status([ids[1]], "rejected", reviewer="bob")
        original = ws.row(ids[0])
        edited = ws.edit_row(ids[0], "  A rewritten candidate about counterfeit money.  ")
        assert edited["text"] == "A rewritten candidate about counterfeit money."
        assert (edited["x"], edited["y"]) != (original["x"], original["y"])
        assert np.allclose(ws.embeddings([ids[0]]), encoder.encode([edited["text"]]), atol=1e-5)
        assert [h["action"] for h in ws.history()] == ["edit", "status", "status", "add"]

        assert ws.undo()["action"] == "edit"
        assert ws.row(ids[0])["text"] == "First candidate text."
        assert ws.row(ids[0])["x"] == pytest.approx(original["x"])
        assert ws.undo()["action"] == "status"
        assert ws.row(ids[1])["status"] == "accepted" and ws.row(ids[1])["reviewed_by"] == "alice"
        assert ws.undo()["action"] == "status"
        assert ws.rows(ids=ids)["status"].tolist() == ["candidate", "candidate"]
        assert ws.undo()["action"] == "add"
        assert ws.rows(ids=ids).empty
        assert ws.undo() is None
        assert [h["undone"] for h in ws.history()] == [True, True, True, True]
        info = ws.info()
    assert info["rows"] == 300 and info["augmented"] == 0


def test_bad_writes_change_nothing(ws_copy: Path, encoder) -> None:
    with Workspace.load(ws_copy, encoder=encoder) as ws:
        with pytest.raises(InputError, match="cannot be empty"):
            ws.add_rows(["ok text", "   "])
        with pytest.raises(NotFoundError, match="no row with id 9999"):
            ws.add_rows(["ok text"], parents=[9999])
        with pytest.raises(NotFoundError, match="no row with id 9999"):
            ws.set_status([1, 9999], "accepted")
        with pytest.raises(InputError, match="status must be one of"):
            ws.set_status([1], "maybe")  # type: ignore[arg-type]
        with pytest.raises(InputError, match="origin must be one of"):
            ws.add_rows(["ok text"], origin="alien")  # type: ignore[arg-type]
        assert ws.info()["rows"] == 300 and ws.history() == []


def test_read_only_and_newer_schema(ws_copy: Path) -> None:
    import duckdb

    with amplio.load(ws_copy, read_only=True) as ws:
        with pytest.raises(WorkspaceError, match="read-only"):
            ws.set_status([1], "rejected")
        assert ws.row(1)["status"] == "accepted"
    con = duckdb.connect(str(ws_copy / "workspace.duckdb"))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(WorkspaceError, match="schema version 99, newer than this Amplio understands"):
        amplio.load(ws_copy)
    with pytest.raises(NotFoundError, match="no workspace at"):
        amplio.load(ws_copy.parent / "missing.amplio")


def test_a_version_1_workspace_is_migrated_and_its_old_actions_undo(ws_copy: Path, encoder) -> None:
    """Version 1 recorded what each kind of action changed; version 2 records the inverse.
    Opening an old workspace for writing rewrites its actions once, and undo then works on them."""
    import json

    with Workspace.load(ws_copy, encoder=encoder) as ws:
        ids = ws.add_rows(["An old candidate.", "Another old candidate."], method="llm")
        ws.set_status(ids, "accepted", reviewer="alice")
        before = ws.row(ids[0])
        ws.edit_row(ids[0], "An old candidate, edited.")
        store = ws.store
        # Rewrite the log as version 1 wrote it, and mark the workspace version 1.
        for seq, kind, payload, _, _ in store.actions(limit=10):
            payload.pop("inverse")
            if kind == "status":
                payload = {"rows": [[i, "candidate", None] for i in ids]}
            if kind == "edit":
                payload = {"id": ids[0], "previous": {k: before[k] for k in ("text", "x", "y", "cluster")}}
            store.con.execute("UPDATE actions SET payload = ? WHERE seq = ?", [json.dumps(payload), seq])
        store.set_meta("schema_version", 1)
    with Workspace.load(ws_copy, read_only=True, encoder=encoder) as old:
        assert old.info()["schema_version"] == 1  # read-only: left as it is
    with Workspace.load(ws_copy, encoder=encoder) as ws:
        assert ws.info()["schema_version"] == SCHEMA_VERSION
        assert ws.undo()["action"] == "edit" and ws.row(ids[0])["text"] == "An old candidate."
        assert ws.undo()["action"] == "status"
        assert ws.rows(ids=ids)["status"].tolist() == ["candidate", "candidate"]
        assert ws.undo()["action"] == "add" and ws.rows(ids=ids).empty
