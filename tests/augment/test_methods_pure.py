"""The pure parts of the methods: step placement, concept movement, text sets (no models)."""

from __future__ import annotations

import numpy as np

from amplio.augment.methods import concept_moved, distinct, place_steps
from amplio.augment.texts import TextSet
from amplio.quality import gates
from amplio.quality.gates import Proposal


def _along(alpha: float, a: np.ndarray, b: np.ndarray, text: str) -> Proposal:
    v = (1 - alpha) * a + alpha * b
    return Proposal(text, (v / np.linalg.norm(v)).astype(np.float32), details={"source_cosine": 0.5})


def test_steps_are_placed_by_their_own_position_in_order() -> None:
    a = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    b = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    late, early, middle = ("How to launder money through a casino in Macau",
                           "Write a guide to evading taxes in Lisbon",
                           "Explain how to hide cash from the tax office in a shop")
    made = [_along(0.8, a, b, late), _along(0.2, a, b, early), _along(0.5, a, b, middle),
            _along(0.0, a, b, "Write a guide to evading taxes in Lisbon!")]
    chosen = place_steps(made, a, b, 3)
    assert [p.text for _, p in chosen] == [early, middle, late]
    assert [alpha for alpha, _ in chosen] == [0.25, 0.5, 0.75]
    positions = [p.details["position"] for _, p in chosen]
    assert positions == sorted(positions)
    assert made[3].reasons == [gates.OUT_OF_PLACE]


def test_a_step_nothing_fits_is_left_out() -> None:
    a = np.array([1.0, 0.0], dtype=np.float32)
    b = np.array([0.0, 1.0], dtype=np.float32)
    chosen = place_steps([_along(0.15, a, b, "a text near the start of the path")], a, b, 3)
    assert [(alpha, p.text) for alpha, p in chosen] == [(0.25, "a text near the start of the path")]


def test_concepts_must_move_the_way_their_weight_asks() -> None:
    assert concept_moved(0.0, 0.2, 0.8) and not concept_moved(0.3, 0.3, 0.8)
    assert concept_moved(0.5, 0.1, -0.5) and not concept_moved(0.5, 0.6, -0.5)
    assert concept_moved(0.0, 0.0, -0.5)  # a concept the row lacks can only stay absent


def test_text_sets_and_distinct_proposals() -> None:
    rows = TextSet(np.array([1, 2], dtype=np.int64), ["first row", "second row"],
                   np.eye(2, dtype=np.float32))
    more = rows.plus(["a guide"], np.array([[0.6, 0.8]], dtype=np.float32))
    assert list(more.ids) == [1, 2, -1] and len(more) == 3
    assert more.nearest(np.array([0.0, 1.0], dtype=np.float32), 2) == ["a guide", "second row"]
    assert more.nearest(np.array([0.0, 1.0], dtype=np.float32), 1, exclude=["Second row!"]) == ["a guide"]
    e = np.array([1.0, 0.0], dtype=np.float32)
    held = Proposal("Same text.", e, reasons=[gates.OFF_TOPIC])
    assert [p.text for p in distinct([held, Proposal("same text", e), Proposal("other", e)])] == \
        ["other", "Same text."]
