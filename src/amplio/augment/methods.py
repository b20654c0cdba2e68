"""The three augmentation methods as pure functions: texts, vectors and models in, proposals out.

Each writes more texts than a request shows and marks every one: the shared gates of
``amplio.quality`` (copies, glues, fragments, meta-instructions, cut-off or looping texts,
titles credited to the wrong author, drift away from the source, too small a change) and the
method's own (the steered concept must rise; an interpolation step must sit between its ends;
an LLM variation must not echo the instruction or borrow a worked example's detail). Each clean
proposal gets a ``score`` for the method's aim; ``amplio.quality.gates.select`` chooses among
them. Storing, ids and provenance belong to the workspace (``amplio.workspace.augmenter``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from amplio.augment.interpolation import interpolation_targets
from amplio.augment.texts import TextSet
from amplio.decoders.context import context_for
from amplio.embedding.base import Encoder, l2_normalise
from amplio.errors import InputError
from amplio.llm.base import LLM
from amplio.progress import Progress, silent
from amplio.quality import checks, gates
from amplio.quality.gates import Proposal

if TYPE_CHECKING:
    from amplio.concepts.model import ConceptModel
    from amplio.decoders.base import Decoder
    from amplio.llm.prompts import WorkedExample

MAX_N = 10
MAX_CONCEPTS = 5
# Texts a request asks the model for: gates hold many back, so at least SAMPLES, and SPARE more
# than it shows for larger n (about 0.75 s each on 2 cores: n = 5 stays within 15 s).
SAMPLES = 11
SPARE = 6


def budget(n: int) -> int:
    """How many texts a request for ``n`` asks the model for."""
    return max(SAMPLES, n + SPARE)
# A candidate may move away from its source, but no further than this (cosine); less where the
# source's own nearest rows are further away (``TextSet.relevance_floor``).
RELEVANCE = 0.5
# Two ends less alike than this share too little to blend: the request warns and suggests
# partners nearer the start (on AART a random pair has a cosine of about 0.25, a row and one of
# its 30 nearest about 0.6).
FAR_APART = 0.35
# An interpolation draws its texts from lists aimed at this many points between the ends (two
# for n <= 3) and gives each step the text whose own position along the path is nearest it.
INTERPOLATION_AIMS = 3
# Worked examples shown for a rewrite, nearest the instruction first.
REWRITE_SHOTS = 6


def check_n(n: int) -> None:
    """``n`` must lie between 1 and ``MAX_N``."""
    if not 1 <= int(n) <= MAX_N:
        raise InputError(f"n must be between 1 and {MAX_N}, not {n}")


# -- Augment with Concepts --------------------------------------------------------------------
def steer(decoder: Decoder, model: ConceptModel, origin: NDArray[np.float32],
          weights: Mapping[int, float], rows: TextSet, *, parent: str, donors: Sequence[str],
          n: int, seed: int, progress: Progress = silent) -> list[Proposal]:
    """Proposals for ``origin`` steered by ``weights`` ({concept id: weight in [-1, 1]}).

    The list continued is the texts nearest the steered target among the rows near it and
    ``donors`` (rows where the concept fires that lie nearest the row: the concept, in requests
    like the row's). A clean proposal must move each concept the way its weight asks
    (``concept_moved``), else it is held back as ``concept-not-raised``; the rest are scored by
    ``novel_score``.

    A second list of the donors alone was tried: its texts carried the concept but drifted from
    the row's request, and blind reviewers accepted fewer of them (0.32 and 0.40 against 0.54 to
    0.61 and 0.50 on Do-Not-Answer and AART).
    """
    check_n(n)
    if not weights:
        raise InputError("choose at least one concept")
    if len(weights) > MAX_CONCEPTS:
        raise InputError(f"steer with at most {MAX_CONCEPTS} concepts at once")
    target = model.steer(origin, weights)
    before = model.encode(origin[None, :])[0]
    progress("decode", 0, 1)
    proposals = decode(decoder, target, rows, n=budget(n), seed=seed, parents=[parent],
                       donors=donors, relevance=rows.relevance_floor([origin], ceiling=RELEVANCE))
    clean = [p for p in proposals if p.clean]
    if clean:
        after = model.encode(np.stack([p.embedding for p in clean]))
        for p, acts in zip(clean, after, strict=True):
            p.details["concept_activation"] = {
                str(c): [round(float(before[c]), 4), round(float(acts[c]), 4)] for c in weights}
            if not all(concept_moved(before[c], acts[c], w) for c, w in weights.items()):
                p.hold(gates.CONCEPT_NOT_RAISED)
            p.score = novel_score(p)
    progress("decode", 1, 1)
    return proposals


def concept_moved(before: float, after: float, weight: float) -> bool:
    """Whether a concept moved the way its steering weight asks (a concept the row lacks
    cannot be lowered, so a negative weight on it asks only that it stays absent)."""
    if weight > 0:
        return after > before + 1e-3
    if weight < 0:
        return after < before - 1e-3 or (before <= 0 and after <= 0)
    return True


# -- Augment by Interpolation -----------------------------------------------------------------
def interpolate(decoder: Decoder, start: NDArray[np.float32], end: NDArray[np.float32],
                rows: TextSet, *, parents: Sequence[str], n: int, seed: int,
                progress: Progress = silent) -> tuple[list[tuple[float, Proposal]], list[Proposal]]:
    """Up to ``n`` proposals between ``start`` and ``end``, ordered from start to end.

    Texts come from lists of the rows nearest a few points between the ends; each step
    ``αₖ = k/(n+1)`` gets the text whose own position along the path is nearest ``αₖ``
    (``place_steps``). Returns the chosen ``(α, proposal)`` pairs and every proposal made.
    """
    check_n(n)
    aims = np.linspace(0, 1, (2 if n <= 3 else INTERPOLATION_AIMS) + 2)[1:-1]
    per_aim = math.ceil(budget(n) / len(aims))
    relevance = rows.relevance_floor([start, end], ceiling=RELEVANCE)
    pool: list[Proposal] = []
    for i, alpha in enumerate(aims):
        progress("decode", i, len(aims))
        aim = l2_normalise((1 - alpha) * start + alpha * end)
        pool += decode(decoder, aim, rows, n=per_aim, seed=seed + i, parents=parents,
                       relevance=relevance)
    progress("decode", len(aims), len(aims))
    proposals = distinct(pool)
    chosen = place_steps(proposals, start, end, n)
    for alpha, p in chosen:
        p.details.update(alpha=round(alpha, 4), steps=n)
    return chosen, proposals


def place_steps(proposals: Sequence[Proposal], start: NDArray[np.float32], end: NDArray[np.float32],
                n: int) -> list[tuple[float, Proposal]]:
    """Give each of the ``n`` steps the clean proposal whose position along start -> end is
    nearest the step's ``α`` (within one step, never before the previous step's), scored by
    closeness to the path and distance from the ends; in step order.

    A proposal's position is the ``α`` of the point on the path it is most alike; one that sits
    at an end (position 0 or 1) copies that end's side and is held back as ``out-of-place``.
    """
    alphas, _ = interpolation_targets(start, end, n)
    grid = np.linspace(0.0, 1.0, 41)
    path = l2_normalise(np.stack([(1 - g) * start + g * end for g in grid]))
    free: list[Proposal] = []
    for p in proposals:
        if not p.clean:
            continue
        sims = path @ p.embedding
        position = float(grid[int(np.argmax(sims))])
        p.details["position"] = round(position, 3)
        p.score = (0.5 * float(np.max(sims)) + 0.5 * (1.0 - float(p.details.get("source_cosine", 1.0)))
                   + 0.5 * float(p.details.get("typicality", 0.0)))
        if position <= 0.0 or position >= 1.0:
            p.hold(gates.OUT_OF_PLACE)
        else:
            free.append(p)
    step = 1.0 / (n + 1)
    chosen: list[tuple[float, Proposal]] = []
    for alpha in alphas:
        after = chosen[-1][1].details["position"] if chosen else 0.0
        fits = [p for p in free if abs(p.details["position"] - alpha) <= step + 1e-9
                and p.details["position"] >= after and not any(same(p, q) for _, q in chosen)]
        if fits:
            best = max(fits, key=lambda p: (p.score - abs(p.details["position"] - alpha), p.text))
            chosen.append((alpha, best))
            free.remove(best)
    for p in free:
        if any(same(p, q) for _, q in chosen):
            p.hold(gates.DUPLICATE_OUTPUT)
    return chosen


def nearer_partners(rows: TextSet, start: NDArray[np.float32], end: NDArray[np.float32], *,
                    exclude: Sequence[int], k: int = 5) -> list[dict[str, Any]]:
    """Rows toward the far end that still share enough with the start to blend with it."""
    sims_start = rows.embeddings @ start
    sims_end = rows.embeddings @ end
    usable = (sims_start >= FAR_APART + 0.15) & ~np.isin(rows.ids, list(exclude)) & (rows.ids >= 0)
    order = [i for i in np.argsort(-sims_end, kind="stable") if usable[i]][:k]
    return [{"id": int(rows.ids[i]), "why": "nearer the start, toward the end",
             "cosine_to_start": round(float(sims_start[i]), 3),
             "cosine_to_end": round(float(sims_end[i]), 3)} for i in order]


def far_apart_note(start: NDArray[np.float32], end: NDArray[np.float32]) -> str | None:
    """A warning when the two ends share too little to blend (cosine under ``FAR_APART``)."""
    closeness = float(start @ end)
    if closeness >= FAR_APART:
        return None
    return (f"the two ends are far apart (cosine {closeness:.2f} < {FAR_APART}): texts between "
            f"them rarely blend both; try a partner nearer the start")


# -- Augment with LLM -------------------------------------------------------------------------
def vary(llm: LLM, encoder: Encoder, texts: Sequence[str], sources: NDArray[np.float32],
         instruction: str, rows: TextSet, *, n: int, seed: int,
         progress: Progress = silent) -> list[Proposal]:
    """Proposals of ``texts`` (embedded as ``sources``) rewritten under ``instruction``.

    Two kinds of text are pooled: rewrites of each text, prompted with the shipped worked
    examples of the nearest kinds of instruction and made to open the way those examples'
    rewrites open (``amplio.llm.prompts.openings``); and continuations of a list of the ``rows``
    nearest the text moved toward the instruction. A variation must not copy a row, echo the
    instruction or borrow a worked example's detail, and must stay related to its text; close
    to its text is allowed only when it moves toward the instruction. They are scored by
    ``instruction_gain``, the change in cosine to the instruction's own embedding.
    """
    from amplio.llm.continuation import continue_list, token_budget
    from amplio.llm.prompts import openings, rewrites

    check_n(n)
    if not texts:
        raise InputError("choose at least one row")
    if not instruction.strip():
        raise InputError("give an instruction (or pick a suggested prompt idea)")
    aim = encoder.encode([instruction])[0]
    shots = worked_examples_for(encoder, aim)
    progress("generate", 0, len(texts))
    written: dict[str, str] = {}  # text -> how it was made
    per_source = math.ceil(budget(n) / len(texts))
    listed = max(1, per_source // 4)
    starts = openings(shots[::-1]) or [""]
    for i, (text, vector) in enumerate(zip(texts, sources, strict=True)):
        left = per_source - listed
        for j, start in enumerate(starts):
            k = left // (len(starts) - j)
            left -= k
            if k:
                for t in rewrites(llm, text, instruction, shots, k=k, opening=start,
                                  seed=seed + 101 * i + 13 * j):
                    written.setdefault(t, f"rewrite opening {start!r}" if start else "rewrite")
        examples = rows.nearest(l2_normalise(vector + 0.5 * aim), 8, exclude=texts)
        for t in continue_list(llm, examples, k=listed, seed=seed + 101 * i + 7,
                               max_tokens=token_budget(examples)):
            written.setdefault(t, "list toward the instruction")
        progress("generate", i + 1, len(texts))
    made = [t for t in written if t.strip()]
    embeddings = (np.asarray(encoder.encode(made), dtype=np.float32) if made
                  else np.zeros((0, len(aim)), np.float32))
    proposals = [Proposal(t, e, details={"made_by": written[t]}) for t, e in zip(made, embeddings, strict=True)]
    gates.check(proposals, gates.Ground(
        rows=rows.texts, row_embeddings=rows.embeddings, sources=list(texts), source_embeddings=sources,
        lengths=checks.LengthRange.from_texts(texts, slack=0.7, floor=12),
        titles=checks.known_titles(rows.nearest(l2_normalise(sources.mean(axis=0)), 256)),
        relevance=rows.relevance_floor(list(sources), ceiling=RELEVANCE) - 0.05, too_close=0.9))
    base = float(np.max(sources @ aim))
    for p in proposals:
        gain = float(p.embedding @ aim) - base
        p.details["instruction_gain"] = round(gain, 4)
        if checks.echoes(p.text, instruction):
            p.hold(gates.ECHO)
        # Close to its row is fine when the change is the instruction applied ("As a nurse,
        # ..."); close and not toward the instruction is a rephrasing at best.
        if p.details.get("source_cosine", 0.0) >= gates.TOO_CLOSE_COSINE and gain < 0.1:
            p.hold(gates.TOO_CLOSE)
        borrowed = checks.borrowed_phrase(p.text, texts, [e.rewritten for e in shots])
        if borrowed is not None:
            p.hold(gates.BORROWED, phrase=borrowed)
        p.score = gain + 0.25 * p.details.get("relevance", 0.0) + 0.5 * p.details.get("typicality", 0.0)
    return proposals


def worked_examples_for(encoder: Encoder, aim: NDArray[np.float32],
                        k: int = REWRITE_SHOTS) -> list[WorkedExample]:
    """The shipped worked examples whose instructions are nearest ``aim``, nearest last."""
    from amplio.llm.prompts import worked_examples

    examples = worked_examples()
    embedded = encoder.encode([e.instruction for e in examples])
    order = np.argsort(-(embedded @ aim), kind="stable")[:k][::-1]
    return [examples[i] for i in order]


def idea_fallbacks(encoder: Encoder, row: NDArray[np.float32]) -> list[str]:
    """The worked examples' instructions, those whose original is nearest ``row`` first."""
    from amplio.llm.prompts import worked_examples

    examples = worked_examples()
    originals = encoder.encode([e.original for e in examples])
    return [examples[i].instruction for i in np.argsort(-(originals @ row), kind="stable")]


# -- shared -----------------------------------------------------------------------------------
def decode(decoder: Decoder, target: NDArray[np.float32], rows: TextSet, *, n: int, seed: int,
           parents: Sequence[str], donors: Sequence[str] = (),
           relevance: float | None = None) -> list[Proposal]:
    """``n`` proposals for ``target`` from a list of the ``rows`` (and ``donors``) nearest it."""
    context = context_for(target, rows.texts, rows.embeddings, k=16, parent_texts=parents,
                          donor_texts=donors, relevance=relevance)
    return decoder.decode(target, n=n, context=context, seed=seed)


def novel_score(p: Proposal) -> float:
    """Closeness to the target, distance from the source and likeness to the data, equally.

    The gates have already held back what is off the target or off the topic. Among the rest,
    blind reviewers of the tuning sets accepted the concept candidates nearer the target more
    often (0.56 above the median fidelity, 0.39 below), those further from their source more
    often (0.55 under the median cosine to it, 0.41 above) and those that read like the data
    more often (``typicality``: 0.58 above the median, 0.38 below).
    """
    return (0.5 * (p.fidelity or 0.0) + 0.5 * (1.0 - float(p.details.get("source_cosine", 1.0)))
            + 0.5 * float(p.details.get("typicality", 0.0)))


def distinct(proposals: Sequence[Proposal]) -> list[Proposal]:
    """The proposals with one of each text (the first wins), clean ones first."""
    seen: dict[str, Proposal] = {}
    for p in proposals:
        seen.setdefault(checks.normalise_text(p.text), p)
    return sorted(seen.values(), key=lambda p: not p.clean)


def same(a: Proposal, b: Proposal) -> bool:
    """Whether two proposals say the same thing (cosine above 0.92, or a near copy)."""
    return float(a.embedding @ b.embedding) > 0.92 or checks.is_near_copy(a.text, b.text)


# What a stored candidate keeps of its measurements: numbers a reviewer may want later.
STORED_DETAILS = ("concept_activation", "position", "alpha", "steps", "instruction_gain",
                  "relevance", "source_cosine", "typicality", "made_by")
