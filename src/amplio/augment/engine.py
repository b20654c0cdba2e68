"""The three augmentation methods over a workspace: concepts, interpolation and LLM.

Each request makes more texts than it shows. Every text goes through the gates of
``amplio.quality`` (copies, glues, fragments, meta-instructions, cut-off or looping texts, titles
credited to the wrong author, drift away from the source) and the method's own (the steered
concept must rise; an interpolation step must sit between its ends; an LLM variation must not
echo the instruction). Up to ``n`` that pass are stored as candidate rows with full provenance
and returned; the others are returned as ``held_back`` with their reasons, and a request that
finds fewer than ``n`` good texts says why instead of padding the list. Models load on first use
and stay loaded.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.augment.candidates import Draft, Reference, reference_rows, store_candidates
from amplio.augment.interpolation import embedding_at_point, interpolation_targets
from amplio.errors import InputError
from amplio.progress import Progress, silent
from amplio.quality import checks, gates
from amplio.quality.gates import Proposal

if TYPE_CHECKING:
    from amplio.decoders.base import Decoder
    from amplio.llm.base import LLM
    from amplio.workspace.workspace import Workspace

MAX_N = 10
MAX_CONCEPTS = 5
# Two ends less alike than this share too little to blend: the request warns and suggests
# partners nearer the start (on AART a random pair has a cosine of about 0.25, a row and one of
# its 30 nearest about 0.6).
FAR_APART = 0.35
# An interpolation draws its texts from lists aimed at this many points between the ends and
# gives each step the text whose own position along the path is nearest the step's.
INTERPOLATION_AIMS = 3
# A candidate may move away from its source, but no further than this (cosine); less where the
# source's own nearest rows are further away (see ``_relevance``).
RELEVANCE = 0.5
# Texts a request asks the model for beyond the n it shows: gates hold many back.
SPARE_SAMPLES = 6
# Worked examples shown for a rewrite, nearest the instruction first.
REWRITE_SHOTS = 6


@dataclass
class Augmentation:
    """What one augmentation request produced.

    Attributes:
        candidates: the stored candidate rows (id, text, method, parents, fidelity, novelty,
            flags, x, y, status, params).
        held_back: texts the model wrote that failed a gate: ``{"text", "reasons", "why"}``.
        note: why fewer than ``n`` came back (or a warning about the request), else ``None``.
        suggestions: rows to try instead, e.g. interpolation partners nearer the start.

    It iterates, indexes and measures like its ``candidates`` list.
    """

    candidates: list[dict[str, Any]]
    held_back: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    suggestions: list[dict[str, Any]] = field(default_factory=list)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.candidates[index]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the server's job result, ``amplio augment --json``)."""
        return {"candidates": self.candidates, "held_back": self.held_back, "note": self.note,
                "suggestions": self.suggestions}


class Augmenter:
    """Runs augmentation requests against one workspace.

    Args:
        ws: the open workspace.
        llm: the LLM (default: the configured backend, see ``amplio.llm.registry.create_llm``).
        decoder_options: options for ``amplio.decoders.registry.create_decoder``.
    """

    def __init__(self, ws: Workspace, *, llm: LLM | None = None,
                 decoder_options: Mapping[str, Any] | None = None) -> None:
        self.ws = ws
        self._llm = llm
        self._decoder_options = dict(decoder_options or {})
        self._decoder: Decoder | None = None

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from amplio.llm.registry import create_llm

            self._llm = create_llm()
        return self._llm

    @property
    def decoder(self) -> Decoder:
        if self._decoder is None:
            from amplio.decoders.registry import create_decoder

            self._decoder = create_decoder(self.ws.encoder, self.llm, **self._decoder_options)
        return self._decoder

    def models(self, *, decoded: bool) -> dict[str, Any]:
        from amplio import __version__

        models = {"encoder": self.ws.meta["encoder"], "llm": self.llm.name, "amplio": __version__}
        if decoded:
            models["decoder"] = self.decoder.name
        return models

    # -- Augment with Concepts ----------------------------------------------------------------
    def concepts(self, row_id: int, weights: Mapping[int, float], *, n: int = 3, seed: int = 0,
                 extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                 progress: Progress = silent) -> Augmentation:
        """Steer row ``row_id`` by ``weights`` ({concept id: weight in [-1, 1]}) and decode.

        A candidate must raise each concept with a positive weight (and lower each with a
        negative one, where the row has it) above the row's own activation; the others are held
        back as ``concept-not-raised``. ``guides``: texts from outside the dataset that show
        what the target holds (a reference gap's examples); see ``_guided``.
        """
        from amplio.concepts.workspace import concept_donors, ensure_concepts

        _check_n(n)
        if not weights:
            raise InputError("choose at least one concept")
        if len(weights) > MAX_CONCEPTS:
            raise InputError(f"steer with at most {MAX_CONCEPTS} concepts at once")
        model = ensure_concepts(self.ws, progress=progress)
        steer = {int(c): float(w) for c, w in weights.items()}
        origin = self.ws.embeddings([row_id])[0]
        target = model.steer(origin, steer)
        before = model.encode(origin[None, :])[0]
        params = {"concepts": {str(c): w for c, w in steer.items()},
                  "concept_labels": {str(c): model.labels[c] for c in steer},
                  "seed": seed, "target_cosine_to_parent": round(float(origin @ target), 4),
                  **(extra or {})}
        donors = concept_donors(self.ws, model, [c for c, w in steer.items() if w > 0], near=origin)
        progress("decode", 0, n)
        reference = self._guided(guides)
        proposals = self._decode(target, n + SPARE_SAMPLES, seed, parents=[row_id], donors=donors,
                                 reference=reference, relevance=self._relevance(reference, [origin]))
        clean = [p for p in proposals if p.clean]
        if clean:
            after = model.encode(np.stack([p.embedding for p in clean]))
            for p, acts in zip(clean, after, strict=True):
                p.details["concept_activation"] = {
                    str(c): [round(float(before[c]), 4), round(float(acts[c]), 4)] for c in steer}
                if not all(_moved(before[c], acts[c], w) for c, w in steer.items()):
                    p.hold(gates.CONCEPT_NOT_RAISED)
                p.score = p.fidelity or 0.0
        progress("decode", n, n)
        return self._finish(proposals, n, params, method="concepts", parents=[row_id], decoded=True)

    # -- Augment by Interpolation -------------------------------------------------------------
    def interpolate(self, row_id: int, *, to_row: int | None = None,
                    to_point: tuple[float, float] | None = None,
                    to_embedding: np.ndarray | None = None, n: int = 3, seed: int = 0,
                    extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                    progress: Progress = silent) -> Augmentation:
        """Up to ``n`` texts on the way from row ``row_id`` to another row, a map point or an
        embedding (``to_embedding``: e.g. a reference gap's centre, outside every row), ordered
        from the start to the end.

        Texts come from lists of the rows nearest a few points between the ends; each step
        ``αₖ = k/(n+1)`` gets the text whose own position along the path is nearest ``αₖ``. A
        text that sits at an end rather than between them is held back as ``out-of-place``;
        steps nothing fits are left out and the note says so. Ends less alike than cosine
        ``FAR_APART`` are blended anyway, with a warning and partners nearer the start to try.
        """
        _check_n(n)
        if sum(end is not None for end in (to_row, to_point, to_embedding)) != 1:
            raise InputError("give exactly one end: another row or a map point")
        start = self.ws.embeddings([row_id])[0]
        params: dict[str, Any] = {"seed": seed, **(extra or {})}
        parents = [int(row_id)]
        suggestions: list[dict[str, Any]] = []
        if to_row is not None:
            if int(to_row) == int(row_id):
                raise InputError("interpolate between two different rows")
            end = self.ws.embeddings([to_row])[0]
            parents.append(int(to_row))
        elif to_embedding is not None:
            end = np.asarray(to_embedding, dtype=np.float32).reshape(-1)
            if end.shape[0] != start.shape[0] or not np.isfinite(end).all() or not end.any():
                raise InputError(f"the end embedding must be a nonzero {start.shape[0]}-d vector")
            end = end / np.linalg.norm(end)
        else:
            assert to_point is not None
            point = (float(to_point[0]), float(to_point[1]))
            ids, embeddings = self.ws.all_embeddings()
            xy = self.ws.rows()[["x", "y"]].to_numpy(dtype=np.float32)
            end, near = embedding_at_point(xy, embeddings, point)
            params.update(to_point=list(point), point_rows=[int(ids[i]) for i in near])
            suggestions = [{"id": int(ids[i]), "why": "near the arrow's end"} for i in near[:5]]
        closeness = float(start @ end)
        note = None
        if closeness < FAR_APART:
            suggestions = self._nearer_partners(row_id, start, end, exclude=parents)
            note = (f"the two ends are far apart (cosine {closeness:.2f} < {FAR_APART}): texts "
                    f"between them rarely blend both; try a partner nearer the start")
        reference = self._guided(guides)
        aims = np.linspace(0, 1, (2 if n <= 3 else INTERPOLATION_AIMS) + 2)[1:-1]
        per_aim = math.ceil((n + SPARE_SAMPLES + 1) / len(aims))
        relevance = self._relevance(reference, [start, end])
        pool: dict[str, Proposal] = {}
        for i, alpha in enumerate(aims):
            progress("decode", i, len(aims))
            aim = _unit((1 - alpha) * start + alpha * end)
            for p in self._decode(aim, per_aim, seed + i, parents=parents, reference=reference,
                                  relevance=relevance):
                pool.setdefault(checks.normalise_text(p.text), p)
        progress("decode", len(aims), len(aims))
        proposals = list(pool.values())
        chosen = _place_steps(proposals, start, end, n)
        for alpha, p in chosen:
            p.details.update(alpha=round(alpha, 4), steps=n)
        result = self._store_chosen([p for _, p in chosen], params, method="interpolate",
                                    parents=parents, decoded=True)
        return self._result(result, proposals, n, note=note, suggestions=suggestions)

    def _nearer_partners(self, row_id: int, start: np.ndarray, end: np.ndarray, *,
                         exclude: Sequence[int], k: int = 5) -> list[dict[str, Any]]:
        """Rows toward the far end that still share enough with the start to blend with it."""
        reference = self._reference()
        sims_start = reference.embeddings @ start
        sims_end = reference.embeddings @ end
        usable = (sims_start >= FAR_APART + 0.15) & ~np.isin(reference.ids, list(exclude))
        order = [i for i in np.argsort(-sims_end, kind="stable") if usable[i]][:k]
        return [{"id": int(reference.ids[i]), "why": "nearer the start, toward the end",
                 "cosine_to_start": round(float(sims_start[i]), 3),
                 "cosine_to_end": round(float(sims_end[i]), 3)} for i in order]

    # -- Augment with LLM ---------------------------------------------------------------------
    def llm_variations(self, row_ids: Sequence[int], instruction: str, *, n: int = 3, seed: int = 0,
                       context: str | None = None, extra: Mapping[str, Any] | None = None,
                       guides: Sequence[str] = (), progress: Progress = silent) -> Augmentation:
        """Up to ``n`` variations of the rows that follow ``instruction``.

        Two kinds of text are written and pooled: rewrites of each row under the instruction,
        prompted with the shipped worked examples of the nearest kinds of instruction and made
        to open the way those examples' rewrites open (``amplio.llm.prompts.openings``); and
        continuations of a list of the rows (and ``guides``) nearest the row moved toward the
        instruction. A variation must not copy a row or echo the instruction, and must stay
        related to its row; they are ranked by how far they move toward the instruction
        (``instruction_gain``, the change in cosine to the instruction's own embedding).

        ``context``: a topic hint appended to the instruction (a gap's keywords).
        ``guides``: texts from outside the dataset (a reference gap's examples) that the list
        shows the model; a variation that copies one is held back as a near-copy.
        """
        from amplio.llm.continuation import continue_list, token_budget
        from amplio.llm.prompts import openings, rewrites

        _check_n(n)
        if not row_ids:
            raise InputError("choose at least one row")
        if not instruction.strip():
            raise InputError("give an instruction (or pick a suggested prompt idea)")
        ids = [int(i) for i in row_ids]
        sources = self.ws.embeddings(ids)  # raises NotFoundError naming a missing id
        texts = self.ws.rows(ids=ids).set_index("id").loc[ids, "text"].tolist()
        full = instruction.strip() + (f" (topic: {context})" if context else "")
        encoder = self.ws.encoder
        aim = encoder.encode([full])[0]
        shots = self._worked_examples(aim)
        reference = self._guided(guides)
        progress("generate", 0, len(texts))
        written: list[str] = []
        per_source = math.ceil((n + SPARE_SAMPLES + 1) / len(texts))
        listed = max(1, per_source // 4)
        starts = openings(shots[::-1]) or [""]
        for i, (text, vector) in enumerate(zip(texts, sources, strict=True)):
            left = per_source - listed
            for j, start in enumerate(starts):
                k = left // (len(starts) - j)
                left -= k
                if k:
                    written += rewrites(self.llm, text, full, shots, k=k, opening=start,
                                        seed=seed + 101 * i + 13 * j)
            examples = _nearest(reference, _unit(vector + 0.5 * aim), 8, exclude=texts)
            written += continue_list(self.llm, examples, k=listed, seed=seed + 101 * i + 7,
                                     max_tokens=token_budget(examples))
            progress("generate", i + 1, len(texts))
        written = list(dict.fromkeys(w for w in written if w.strip()))
        embeddings = np.asarray(encoder.encode(written), dtype=np.float32) if written else np.zeros((0, len(aim)), np.float32)
        proposals = [Proposal(t, e) for t, e in zip(written, embeddings, strict=True)]
        gates.check(proposals, gates.Ground(
            rows=reference.texts, row_embeddings=reference.embeddings, sources=texts,
            source_embeddings=sources, lengths=checks.LengthRange.from_texts(texts, slack=0.7, floor=12),
            titles=checks.known_titles(_nearest(reference, _unit(sources.mean(axis=0)), 256)),
            relevance=self._relevance(reference, list(sources)) - 0.05, too_close=0.9))
        base = float(np.max(sources @ aim))
        for p in proposals:
            gain = float(p.embedding @ aim) - base
            p.details["instruction_gain"] = round(gain, 4)
            if checks.echoes(p.text, full):
                p.hold(gates.ECHO)
            # Close to its row is fine when the change is the instruction applied ("As a nurse,
            # ..."); close and not toward the instruction is a rephrasing at best.
            if p.details.get("source_cosine", 0.0) >= gates.TOO_CLOSE_COSINE and gain < 0.1:
                p.hold(gates.TOO_CLOSE)
            borrowed = checks.borrowed_phrase(p.text, texts, [e.rewritten for e in shots])
            if borrowed is not None:
                p.hold(gates.BORROWED, phrase=borrowed)
            p.score = gain + 0.25 * p.details.get("relevance", 0.0)
        params = {"instruction": instruction.strip(), "seed": seed, **(extra or {})}
        if context:
            params["context"] = context
        return self._finish(proposals, n, params, method="llm", parents=ids, decoded=False)

    def prompt_ideas(self, row_id: int, *, n: int = 5, seed: int = 0) -> list[str]:
        """Suggested instructions for Augment with LLM on row ``row_id``: the model's own ideas
        that read as instructions, then those of the worked examples nearest the row."""
        from amplio.llm.prompts import prompt_ideas, worked_examples

        text = self.ws.row(row_id)["text"]
        examples = worked_examples()
        originals = self.ws.encoder.encode([e.original for e in examples])
        order = np.argsort(-(originals @ self.ws.embeddings([row_id])[0]), kind="stable")
        fallback = [examples[i].instruction for i in order]
        return prompt_ideas(self.llm, text, n, seed=seed, fallback=fallback)

    # -- shared -------------------------------------------------------------------------------
    def _decode(self, target: np.ndarray, n: int, seed: int, *, parents: Sequence[int],
                reference: Reference, donors: Sequence[str] = (),
                relevance: float | None = None) -> list[Proposal]:
        from amplio.decoders.context import context_for

        parent_texts = self.ws.rows(ids=list(parents))["text"].tolist()
        context = context_for(target, reference.texts, reference.embeddings, k=16,
                              parent_texts=parent_texts, donor_texts=donors, relevance=relevance)
        return self.decoder.decode(target, n=n, context=context, seed=seed)

    @staticmethod
    def _relevance(reference: Reference, sources: Sequence[np.ndarray]) -> float:
        """How close to a source a candidate must stay: ``RELEVANCE``, or less where the
        sources' own five nearest rows are less alike than that (sparse data such as short,
        varied questions), but never under 0.35."""
        if not len(reference.texts):
            return RELEVANCE
        sims = reference.embeddings @ np.stack(sources).T  # (rows, sources)
        near = np.sort(sims, axis=0)[-6:-1]  # the five nearest other rows of each source
        return float(np.clip(0.85 * np.median(near), 0.35, RELEVANCE))

    def _worked_examples(self, aim: np.ndarray) -> list[Any]:
        """The shipped worked examples whose instructions are nearest ``aim``, nearest last."""
        from amplio.llm.prompts import worked_examples

        examples = worked_examples()
        embedded = self.ws.encoder.encode([e.instruction for e in examples])
        order = np.argsort(-(embedded @ aim), kind="stable")[:REWRITE_SHOTS][::-1]
        return [examples[i] for i in order]

    def _reference(self) -> Reference:
        return reference_rows(self.ws)

    def _embed_guides(self, guides: Sequence[str]) -> tuple[list[str], np.ndarray | None]:
        """The distinct non-empty guides and their embeddings (``None`` when there are none)."""
        texts = list(dict.fromkeys(t for t in guides if t.strip()))
        return texts, (np.asarray(self.ws.encoder.encode(texts), dtype=np.float32) if texts else None)

    def _guided(self, guides: Sequence[str]) -> Reference:
        """The rows a request works among, plus ``guides`` (texts that are not rows, id -1).

        A target outside the data (inside a reference gap) has no rows near it; texts from the
        reference there become the examples the model continues, and a text that copies one is
        held back as a near-copy, like a copy of a row. Novelty is still measured against the
        rows only (``_store_chosen``).
        """
        return _with_texts(self._reference(), *self._embed_guides(guides))

    def _finish(self, proposals: list[Proposal], n: int, params: dict[str, Any], *, method: str,
                parents: Sequence[int], decoded: bool) -> Augmentation:
        chosen = gates.select(proposals, n)
        stored = self._store_chosen(chosen, params, method=method, parents=parents, decoded=decoded)
        return self._result(stored, proposals, n)

    def _store_chosen(self, chosen: Sequence[Proposal], params: dict[str, Any], *, method: str,
                      parents: Sequence[int], decoded: bool) -> list[dict[str, Any]]:
        drafts = [Draft(p.text, p.embedding, {**params, **_stored_details(p.details)},
                        fidelity=p.fidelity) for p in chosen]
        return store_candidates(self.ws, drafts, self._reference(), method=method, parents=parents,
                                models=self.models(decoded=decoded))

    @staticmethod
    def _result(candidates: list[dict[str, Any]], proposals: Sequence[Proposal], n: int, *,
                note: str | None = None, suggestions: Sequence[dict[str, Any]] = ()) -> Augmentation:
        held = gates.held_back(proposals)
        notes = [s for s in (gates.shortfall(len(candidates), n, held), note) if s]
        return Augmentation(candidates, held, " ".join(notes) or None, list(suggestions))


def _moved(before: float, after: float, weight: float) -> bool:
    """Whether a concept moved the way its steering weight asks (a concept the row lacks
    cannot be lowered, so a negative weight on it asks only that it stays absent)."""
    if weight > 0:
        return after > before + 1e-3
    if weight < 0:
        return after < before - 1e-3 or (before <= 0 and after <= 0)
    return True


def _place_steps(proposals: Sequence[Proposal], start: np.ndarray, end: np.ndarray,
                 n: int) -> list[tuple[float, Proposal]]:
    """Give each of the ``n`` steps the clean proposal whose position along start -> end is
    nearest the step's ``α`` (within one step), closer to the path first; in step order.

    A proposal's position is the ``α`` of the point on the path it is most alike; one that sits
    at an end (position 0 or 1) copies that end's side and is held back as ``out-of-place``.
    """
    alphas, _ = interpolation_targets(start, end, n)
    grid = np.linspace(0.0, 1.0, 41)
    path = np.stack([_unit((1 - g) * start + g * end) for g in grid])
    free: list[Proposal] = []
    for p in proposals:
        if not p.clean:
            continue
        sims = path @ p.embedding
        position = float(grid[int(np.argmax(sims))])
        p.details["position"] = round(position, 3)
        p.score = float(np.max(sims))
        if position <= 0.0 or position >= 1.0:
            p.hold(gates.OUT_OF_PLACE)
        else:
            free.append(p)
    step = 1.0 / (n + 1)
    chosen: list[tuple[float, Proposal]] = []
    for alpha in alphas:
        after = chosen[-1][1].details["position"] if chosen else 0.0
        fits = [p for p in free if abs(p.details["position"] - alpha) <= step + 1e-9
                and p.details["position"] >= after
                and not any(_same(p, q) for _, q in chosen)]
        if fits:
            best = max(fits, key=lambda p: (p.score - abs(p.details["position"] - alpha), p.text))
            chosen.append((alpha, best))
            free.remove(best)
    for p in free:
        if any(_same(p, q) for _, q in chosen):
            p.hold(gates.DUPLICATE_OUTPUT)
    return chosen


def _same(a: Proposal, b: Proposal) -> bool:
    return float(a.embedding @ b.embedding) > 0.92 or checks.is_near_copy(a.text, b.text)


def _stored_details(details: Mapping[str, Any]) -> dict[str, Any]:
    # What a stored candidate keeps of its measurements: numbers a reviewer may want later.
    keep = ("concept_activation", "position", "alpha", "steps", "instruction_gain", "relevance")
    return {k: details[k] for k in keep if k in details}


def _nearest(reference: Reference, vector: np.ndarray, k: int, *,
             exclude: Sequence[str] = ()) -> list[str]:
    """The ``k`` texts of ``reference`` nearest ``vector`` (none of ``exclude``), nearest last."""
    if not len(reference.texts):
        return []
    skip = {checks.normalise_text(t) for t in exclude}
    order = np.argsort(-(reference.embeddings @ vector), kind="stable")
    picked = [reference.texts[i] for i in order[: k + len(skip)]
              if checks.normalise_text(reference.texts[i]) not in skip][:k]
    return picked[::-1]


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _with_texts(reference: Reference, texts: Sequence[str], embeddings: np.ndarray | None) -> Reference:
    """``reference`` plus texts that are not rows (id -1), e.g. a reference gap's examples."""
    if not texts or embeddings is None:
        return reference
    return Reference(
        np.concatenate([reference.ids, np.full(len(texts), -1, dtype=np.int64)]),
        reference.texts + list(texts),
        np.concatenate([reference.embeddings, np.asarray(embeddings, dtype=np.float32)]),
    )


def _check_n(n: int) -> None:
    if not 1 <= int(n) <= MAX_N:
        raise InputError(f"n must be between 1 and {MAX_N}, not {n}")
