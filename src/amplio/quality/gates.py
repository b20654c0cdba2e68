"""Gates: which generated texts a user is shown, and why the others are held back.

A generator proposes more texts than it was asked for; each goes through the checks of
``amplio.quality.checks`` and the method's own (a concept that must rise, an interpolation step
that must sit between its ends, an instruction that must be followed). A text that fails any of
them is *held back* with its reasons; the rest are ranked by the method's preference and the
first ``n`` that differ from each other are shown. When fewer than ``n`` pass, fewer are shown and
the reasons say why; nothing is padded with junk.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.quality import checks

# Reason codes and what they mean to a reader (the UI and the CLI show these).
NEAR_COPY = "near-copy"
CONCATENATION = "concatenation"
META = "meta-instruction"
CUT_OFF = "cut-off"
REPETITIVE = "repetitive"
LENGTH = "length"
OFF_TOPIC = "off-topic"
OFF_TARGET = "off-target"
CONCEPT_NOT_RAISED = "concept-not-raised"
ECHO = "echo"
IGNORES_INSTRUCTION = "ignores-instruction"
MISMATCHED_TITLE = "mismatched-title"
DUPLICATE_OUTPUT = "duplicate-output"
OUT_OF_PLACE = "out-of-place"
BORROWED = "borrowed-detail"
TOO_CLOSE = "too-close"
NOT_A_REQUEST = "not-a-request"
TURNED_BENIGN = "turned-benign"
REDUNDANT = "redundant"

REASONS: dict[str, str] = {
    NEAR_COPY: "repeats an existing row (or a source) but for a trivial change",
    CONCATENATION: "glues two rows together",
    META: "talks about a prompt instead of being one",
    CUT_OFF: "stops mid-sentence",
    REPETITIVE: "repeats itself",
    LENGTH: "far longer or shorter than the rows around it",
    OFF_TOPIC: "drifts away from what its source asks for",
    OFF_TARGET: "lands too far from the target",
    CONCEPT_NOT_RAISED: "does not raise the chosen concept",
    ECHO: "repeats the instruction instead of applying it",
    IGNORES_INSTRUCTION: "does not move toward the instruction",
    MISMATCHED_TITLE: "credits a title to the wrong author or artist",
    DUPLICATE_OUTPUT: "says the same as another candidate of this request",
    OUT_OF_PLACE: "does not sit between the two ends",
    BORROWED: "copies a detail of a worked example that belongs to another prompt",
    TOO_CLOSE: "changes too little of its source to be new",
    NOT_A_REQUEST: "reads as a statement or a reply, not a request",
    TURNED_BENIGN: "asks how to avoid, spot or cope with what its source asks to do",
    REDUNDANT: "says the same thing twice",
}



# A candidate this alike to a source (cosine), adding fewer new content words than MIN_NEW_WORDS,
# or editing fewer than MIN_EDITS of its words, barely changes it. In blind reviews of the tuning
# sets (Do-Not-Answer, AART), reviewers accepted 14 % of candidates at a cosine of 0.8 or more,
# none under 0.3 new words and 10 % under 0.4 edits, against about 40 % of the rest.
TOO_CLOSE_COSINE = 0.8
MIN_NEW_WORDS = 0.3
MIN_EDITS = 0.35


@dataclass
class Proposal:
    """One generated text on its way to the user.

    ``reasons`` are the codes of the gates it failed (empty: it may be shown); ``score`` orders
    the clean ones (higher first); ``details`` carries numbers behind the reasons and the
    method's own measurements (e.g. the concept's activation), which are stored with the row.
    """

    text: str
    embedding: NDArray[np.float32]
    fidelity: float | None = None
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def hold(self, reason: str, **details: Any) -> None:
        """Hold this proposal back for ``reason`` (one of ``REASONS``)."""
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.details.update(details)

    @property
    def clean(self) -> bool:
        return not self.reasons


@dataclass
class Ground:
    """What a proposal is checked against.

    Attributes:
        rows: existing texts a proposal must not copy (the workspace's rows, prompt examples).
        row_embeddings: their unit embeddings.
        sources: the texts it was made from (parents); it must not copy or glue them and must
            stay related to at least one (``relevance``).
        source_embeddings: their unit embeddings.
        lengths: the word counts it may have.
        titles: titles the data credits to creators (``checks.known_titles``).
        relevance: the lowest cosine to the nearest source (or ``anchors``) a proposal may have.
        anchors: embeddings to measure relevance against instead of the sources' (e.g. a
            reference gap's examples when there is no source near the target).
        too_close: the cosine to a source from which a proposal is ``too-close`` (higher for a
            method that checks closeness itself, as LLM variations do against the instruction).
    """

    rows: Sequence[str]
    row_embeddings: NDArray[np.float32] | None
    sources: Sequence[str] = ()
    source_embeddings: NDArray[np.float32] | None = None
    lengths: checks.LengthRange = field(default_factory=lambda: checks.LengthRange(1, 10_000))
    titles: dict[str, frozenset[str]] = field(default_factory=dict)
    relevance: float = 0.0
    anchors: NDArray[np.float32] | None = None
    too_close: float = TOO_CLOSE_COSINE


def check(proposals: Iterable[Proposal], ground: Ground) -> None:
    """Run the checks every method shares, adding reasons to the proposals in place."""
    glue_rows = list(dict.fromkeys([*ground.sources, *_nearest_texts(ground, 6)]))
    anchors = ground.anchors if ground.anchors is not None else ground.source_embeddings
    for p in proposals:
        text = p.text
        if not checks.words(text):
            p.hold(CUT_OFF)
            continue
        if checks.is_meta_instruction(text):
            p.hold(META)
        if checks.is_cut_off(text):
            p.hold(CUT_OFF)
        if checks.is_repetitive(text):
            p.hold(REPETITIVE)
        if not ground.lengths.contains(text):
            p.hold(LENGTH)
        copied = checks.near_copy_of(text, p.embedding, ground.rows, ground.row_embeddings)
        if copied is not None:
            p.hold(NEAR_COPY, copies=ground.rows[copied])
        else:
            source = checks.near_copy_of(text, p.embedding, ground.sources, ground.source_embeddings)
            if source is not None:
                p.hold(NEAR_COPY, copies=ground.sources[source])
        if ground.sources and NEAR_COPY not in p.reasons:
            closest = (float(np.max(ground.source_embeddings @ p.embedding))
                       if ground.source_embeddings is not None and len(ground.source_embeddings) else 0.0)
            # Against each source alone: a blend of two sources is new to both.
            added = min(checks.new_word_share(text, [s]) for s in ground.sources)
            edits = min(checks.edit_share(text, s) for s in ground.sources)
            p.details["source_cosine"] = round(closest, 4)
            if closest >= ground.too_close or added < MIN_NEW_WORDS or edits < MIN_EDITS:
                p.hold(TOO_CLOSE, new_words=round(added, 3))
            if any(checks.is_request(s) for s in ground.sources) and not checks.is_request(text):
                p.hold(NOT_A_REQUEST)
            if checks.turns_defensive(text, ground.sources):
                p.hold(TURNED_BENIGN)
            repeated = checks.redundant_words(text, ground.sources)
            if repeated:
                p.hold(REDUNDANT, repeats=sorted(repeated))
        if checks.concatenation_of(text, glue_rows) is not None:
            p.hold(CONCATENATION)
        title = checks.mismatched_title(text, ground.titles)
        if title is not None:
            p.hold(MISMATCHED_TITLE, title=title)
        if ground.row_embeddings is not None and len(ground.row_embeddings):
            p.details["typicality"] = round(_typicality(p.embedding, ground), 4)
        if ground.relevance > 0 and anchors is not None and len(anchors):
            related = float(np.max(anchors @ p.embedding))
            p.details["relevance"] = round(related, 4)
            if related < ground.relevance:
                p.hold(OFF_TOPIC)


def select(proposals: Sequence[Proposal], n: int, *, distinct: float = 0.92) -> list[Proposal]:
    """The first ``n`` clean proposals by score that differ from each other.

    A clean proposal within cosine ``distinct`` of one already chosen (or a near copy of its
    words) is held back as ``duplicate-output``; clean ones left over once ``n`` are chosen are
    neither shown nor held back.
    """
    chosen: list[Proposal] = []
    for p in sorted((p for p in proposals if p.clean), key=lambda p: -p.score):
        if len(chosen) >= n:
            break
        if any(float(p.embedding @ c.embedding) > distinct or checks.is_near_copy(p.text, c.text)
               for c in chosen):
            p.hold(DUPLICATE_OUTPUT)
        else:
            chosen.append(p)
    return chosen


def held_back(proposals: Iterable[Proposal]) -> list[dict[str, Any]]:
    """The proposals that failed a gate, as plain data: text, reason codes and their meanings."""
    return [{"text": p.text, "reasons": list(p.reasons),
             "why": [REASONS.get(r, r) for r in p.reasons]}
            for p in proposals if p.reasons]


def shortfall(shown: int, n: int, held: Sequence[dict[str, Any]]) -> str | None:
    """A sentence for a request that shows fewer than ``n`` candidates; ``None`` when it shows ``n``.

    >>> shortfall(1, 3, [{"reasons": ["near-copy"]}, {"reasons": ["near-copy", "cut-off"]}])
    '1 of 3 shown: the other texts the model wrote were held back (near-copy 2, cut-off 1).'
    """
    if shown >= n:
        return None
    counts = Counter(r for h in held for r in h["reasons"])
    why = ", ".join(f"{r} {c}" for r, c in counts.most_common())
    if not held:
        return f"{shown} of {n} shown: the model wrote no other distinct text."
    return f"{shown} of {n} shown: the other texts the model wrote were held back ({why})."


def _typicality(embedding: NDArray[np.float32], ground: Ground, k: int = 5) -> float:
    """Mean cosine to the ``k`` nearest rows that are not a source: how much a text reads like
    the data. In blind reviews of the tuning sets, candidates above the median were judged
    relevant more often (0.65 against 0.48 for LLM variations) and accepted more often."""
    assert ground.row_embeddings is not None
    sims = ground.row_embeddings @ embedding
    if ground.source_embeddings is not None and len(ground.source_embeddings):
        own = (ground.row_embeddings @ ground.source_embeddings.T).max(axis=1) > 0.99
        sims = sims[~own]
    if not len(sims):
        return 0.0
    return float(np.mean(np.sort(sims)[-k:]))


def _nearest_texts(ground: Ground, k: int) -> list[str]:
    # Rows near the sources are the ones a glue would be made of.
    if ground.row_embeddings is None or not len(ground.rows) or ground.source_embeddings is None:
        return []
    if not len(ground.source_embeddings):
        return []
    sims = (ground.row_embeddings @ ground.source_embeddings.T).max(axis=1)
    top = np.argsort(-sims, kind="stable")[:k]
    return [ground.rows[i] for i in top]
