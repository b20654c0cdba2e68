"""The three augmentation methods over a workspace: concepts, interpolation and LLM.

Each request makes up to ten candidates, stores them as candidate rows with full provenance
(method, parents, parameters, model ids, seed, time) and returns them with their fidelity,
novelty and duplicate flag. Models load on first use and stay loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.augment.candidates import Draft, Reference, reference_rows, store_candidates
from amplio.augment.interpolation import embedding_at_point, interpolation_targets
from amplio.decoders.quality import normalise_text
from amplio.errors import InputError
from amplio.progress import Progress, silent

if TYPE_CHECKING:
    from amplio.decoders.base import Decoder
    from amplio.llm.base import LLM
    from amplio.workspace.workspace import Workspace

MAX_N = 10
MAX_CONCEPTS = 5
# Interpolation decodes one text per step, so each step gets a lighter search than a single
# target does; together they stay within a request's time budget on a laptop.
STEP_DECODER_OPTIONS: dict[str, Any] = {"rounds": 1, "samples": 5, "splice_rounds": 1, "splice_limit": 64}


class Augmenter:
    """Runs augmentation requests against one workspace.

    Args:
        ws: the open workspace.
        llm: the LLM (default: the configured backend, see ``amplio.llm.registry.create_llm``).
        decoder_options: options for ``amplio.decoders.create_decoder`` (``rounds``, ``samples``...).
    """

    def __init__(self, ws: Workspace, *, llm: LLM | None = None,
                 decoder_options: Mapping[str, Any] | None = None) -> None:
        self.ws = ws
        self._llm = llm
        self._decoder_options = dict(decoder_options or {})
        self._decoders: dict[str, Decoder] = {}

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from amplio.llm.registry import create_llm

            self._llm = create_llm()
        return self._llm

    def decoder(self, light: bool = False) -> Decoder:
        key = "light" if light else "full"
        if key not in self._decoders:
            from amplio.decoders.llm_inversion import create_decoder

            options = {**self._decoder_options, **(STEP_DECODER_OPTIONS if light else {})}
            self._decoders[key] = create_decoder(self.ws.encoder, self.llm, **options)
        return self._decoders[key]

    def models(self, *, decoded: bool) -> dict[str, Any]:
        from amplio import __version__

        models = {"encoder": self.ws.meta["encoder"], "llm": self.llm.name, "amplio": __version__}
        if decoded:
            models["decoder"] = self.decoder().name
        return models

    # -- Augment with Concepts ----------------------------------------------------------------
    def concepts(self, row_id: int, weights: Mapping[int, float], *, n: int = 3, seed: int = 0,
                 extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                 progress: Progress = silent) -> list[dict[str, Any]]:
        """Steer row ``row_id`` by ``weights`` ({concept id: weight in [-1, 1]}) and decode.

        ``guides``: texts from outside the dataset that show what the target holds (a reference
        gap's examples); see ``_guided``.
        """
        from amplio.concepts.workspace import concept_donors, ensure_concepts

        _check_n(n)
        if not weights:
            raise InputError("choose at least one concept (--concept ID:WEIGHT)")
        if len(weights) > MAX_CONCEPTS:
            raise InputError(f"steer with at most {MAX_CONCEPTS} concepts at once")
        model = ensure_concepts(self.ws, progress=progress)
        origin = self.ws.embeddings([row_id])[0]
        target = model.steer(origin, {int(c): float(w) for c, w in weights.items()})
        params = {"concepts": {str(c): float(w) for c, w in weights.items()},
                  "concept_labels": {str(c): model.labels[int(c)] for c in weights},
                  "seed": seed, "target_cosine_to_parent": round(float(origin @ target), 4),
                  **(extra or {})}
        donors = concept_donors(self.ws, model, [int(c) for c, w in weights.items() if w > 0])
        drafts = self._decode(target, n, seed, parents=[row_id], params=params, progress=progress,
                              donors=donors, reference=self._guided(guides))
        return self._store(drafts, method="concepts", parents=[row_id], decoded=True)

    # -- Augment by Interpolation -------------------------------------------------------------
    def interpolate(self, row_id: int, *, to_row: int | None = None,
                    to_point: tuple[float, float] | None = None,
                    to_embedding: np.ndarray | None = None, n: int = 3, seed: int = 0,
                    extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                    progress: Progress = silent) -> list[dict[str, Any]]:
        """Decode ``n`` evenly spaced steps from row ``row_id`` to another row, a map point or an
        embedding (``to_embedding``: e.g. a reference gap's centre, outside every row).

        ``guides``: texts from outside the dataset that show what the far end holds; see ``_guided``.
        """
        _check_n(n)
        if sum(end is not None for end in (to_row, to_point, to_embedding)) != 1:
            raise InputError("give exactly one end: another row (--to ID) or a map point")
        start = self.ws.embeddings([row_id])[0]
        params: dict[str, Any] = {"seed": seed, **(extra or {})}
        parents = [row_id]
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
            ids, embeddings = self.ws.all_embeddings()
            frame = self.ws.rows()
            xy = frame[["x", "y"]].to_numpy(dtype=np.float32)
            end, near = embedding_at_point(xy, embeddings, (float(to_point[0]), float(to_point[1])))  # type: ignore[index]
            params.update(to_point=[float(to_point[0]), float(to_point[1])],  # type: ignore[index]
                          point_rows=[int(ids[i]) for i in near])
        alphas, targets = interpolation_targets(start, end, n)
        drafts: list[Draft] = []
        reference = self._guided(guides)
        known = {normalise_text(t) for t in reference.texts}  # rows and guides, once
        for step, (alpha, target) in enumerate(zip(alphas, targets, strict=True)):
            progress("decode", step, n)
            step_params = {**params, "alpha": round(alpha, 4), "step": step + 1, "steps": n}
            # Earlier steps count as existing rows, so neighbouring steps do not decode to one text.
            made = self._decode(target, 3, seed + step, parents=parents, params=step_params,
                                light=True, reference=_with_drafts(reference, drafts))
            # One text per step: the best clean one, else the best that is not a word-for-word
            # copy (its flags show); a step with nothing but copies gives no candidate.
            copies = known | {normalise_text(d.text) for d in drafts}
            fresh = [d for d in made if normalise_text(d.text) not in copies]
            choice = next((d for d in fresh if not d.flags), fresh[0] if fresh else None)
            drafts += [choice] if choice else []
        progress("decode", n, n)
        return self._store(drafts, method="interpolate", parents=parents, decoded=True)

    # -- Augment with LLM ---------------------------------------------------------------------
    def llm_variations(self, row_ids: Sequence[int], instruction: str, *, n: int = 3, seed: int = 0,
                       context: str | None = None, extra: Mapping[str, Any] | None = None,
                       guides: Sequence[str] = (), progress: Progress = silent) -> list[dict[str, Any]]:
        """Ask the LLM for ``n`` variations of the rows following ``instruction``.

        ``guides``: texts from outside the dataset shown to the LLM (a reference gap's examples,
        inside ``context``); a variation that copies one is flagged ``near-duplicate``.
        """
        from amplio.llm.prompts import llm_variations

        _check_n(n)
        if not row_ids:
            raise InputError("choose at least one row")
        if not instruction.strip():
            raise InputError("give an instruction (or pick a suggested prompt idea)")
        texts = self.ws.rows(ids=list(row_ids))["text"].tolist()
        if len(texts) != len(set(int(i) for i in row_ids)):
            self.ws.embeddings(list(row_ids))  # raises NotFoundError naming the missing id
        full = instruction.strip() + (f" (topic: {context})" if context else "")
        progress("generate", 0, n)
        outputs = llm_variations(self.llm, texts, full, n, seed=seed)
        progress("generate", n, n)
        embeddings = self.ws.encoder.encode(outputs) if outputs else np.zeros((0, 0), np.float32)
        params = {"instruction": instruction.strip(), "seed": seed, **(extra or {})}
        if context:
            params["context"] = context
        drafts = [Draft(t, e, params) for t, e in zip(outputs, embeddings, strict=True)]
        _flag_copies(drafts, *self._embed_guides(guides))
        return self._store(drafts, method="llm", parents=[int(i) for i in row_ids], decoded=False)

    def prompt_ideas(self, row_id: int, *, n: int = 5, seed: int = 0) -> list[str]:
        """Suggested instructions for Augment with LLM on row ``row_id``."""
        from amplio.llm.prompts import prompt_ideas

        return prompt_ideas(self.llm, self.ws.row(row_id)["text"], n, seed=seed)

    # -- shared -------------------------------------------------------------------------------
    def _decode(self, target: np.ndarray, n: int, seed: int, *, parents: Sequence[int],
                params: dict[str, Any], light: bool = False, progress: Progress = silent,
                reference: Reference | None = None, donors: Sequence[str] = ()) -> list[Draft]:
        from amplio.decoders.context import context_for

        reference = reference or self._reference()
        parent_texts = self.ws.rows(ids=list(parents))["text"].tolist()
        context = context_for(target, reference.texts, reference.embeddings, parent_texts=parent_texts,
                              donor_texts=donors)
        progress("decode", 0, n)
        decoded = self.decoder(light).decode(target, n=n, context=context, seed=seed)
        progress("decode", n, n)
        return [Draft(d.text, d.embedding, dict(params), fidelity=d.fidelity, flags=list(d.flags))
                for d in decoded]

    def _reference(self) -> Reference:
        return reference_rows(self.ws)

    def _embed_guides(self, guides: Sequence[str]) -> tuple[list[str], np.ndarray | None]:
        """The distinct non-empty guides and their embeddings (``None`` when there are none)."""
        texts = list(dict.fromkeys(t for t in guides if t.strip()))
        return texts, (np.asarray(self.ws.encoder.encode(texts), dtype=np.float32) if texts else None)

    def _guided(self, guides: Sequence[str]) -> Reference:
        """The rows a decode works among, plus ``guides`` (texts that are not rows, id -1).

        A target outside the data (inside a reference gap) has no rows near it; texts from the
        reference there become its few-shot neighbours and the words the decoder may borrow, and
        a decode that copies one is flagged as a near-duplicate, like a copy of a row. Novelty is
        still measured against the rows only (``_store``).
        """
        return _with_texts(self._reference(), *self._embed_guides(guides))

    def _store(self, drafts: list[Draft], *, method: str, parents: Sequence[int],
               decoded: bool) -> list[dict[str, Any]]:
        return store_candidates(self.ws, drafts, self._reference(), method=method, parents=parents,
                                models=self.models(decoded=decoded))


def _flag_copies(drafts: Sequence[Draft], texts: Sequence[str], embeddings: np.ndarray | None) -> None:
    """Flag drafts that copy one of ``texts`` (as ``store_candidates`` does for copies of rows)."""
    from amplio.decoders.quality import DEFAULT_DUPLICATE_COSINE, NEAR_DUPLICATE, nearest_duplicate

    if not texts or embeddings is None:
        return
    for draft in drafts:
        copied = nearest_duplicate(draft.text, draft.embedding, texts, embeddings,
                                   threshold=DEFAULT_DUPLICATE_COSINE)
        if copied is not None and NEAR_DUPLICATE not in draft.flags:
            draft.flags.append(NEAR_DUPLICATE)


def _with_drafts(reference: Reference, drafts: Sequence[Draft]) -> Reference:
    return _with_texts(reference, [d.text for d in drafts],
                       np.stack([d.embedding for d in drafts]) if drafts else None)


def _with_texts(reference: Reference, texts: Sequence[str], embeddings: np.ndarray | None) -> Reference:
    """``reference`` plus texts that are not rows (id -1), e.g. earlier steps or guides."""
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
