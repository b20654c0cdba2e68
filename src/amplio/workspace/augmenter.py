"""Augmentation requests against one workspace: fetch the rows, run a method, store the result.

The methods themselves are pure (``amplio.augment.methods``); this layer finds the rows and
embeddings they need, stores up to ``n`` chosen candidates with full provenance (method,
parents, parameters, model ids, seed, time) and returns an ``Augmentation`` with the texts that
were held back and why. Models load on first use and stay loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from amplio.augment import methods
from amplio.augment.interpolation import embedding_at_point
from amplio.augment.result import Augmentation
from amplio.augment.texts import TextSet
from amplio.errors import InputError
from amplio.progress import Progress, silent
from amplio.quality import gates
from amplio.quality.gates import Proposal
from amplio.workspace.candidates import live_rows, store_candidates

if TYPE_CHECKING:
    from amplio.decoders.base import Decoder
    from amplio.llm.base import LLM
    from amplio.workspace.workspace import Workspace


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

    def concepts(self, row_id: int, weights: Mapping[int, float], *, n: int = 3, seed: int = 0,
                 extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                 progress: Progress = silent) -> Augmentation:
        """Steer row ``row_id`` by ``weights`` ({concept id: weight in [-1, 1]}) and decode up
        to ``n`` candidates that raise the concepts (``amplio.augment.methods.steer``).

        ``guides``: texts from outside the dataset that show what the target holds (a
        reference gap's examples); see ``_rows``.
        """
        from amplio.workspace.concepts import concept_donors, ensure_concepts

        methods.check_n(n)
        model = ensure_concepts(self.ws, progress=progress)
        steer = {int(c): float(w) for c, w in weights.items()}
        origin = self.ws.embeddings([row_id])[0]
        donors = concept_donors(self.ws, model, [c for c, w in steer.items() if w > 0], near=origin)
        rows, parent = self._rows(guides), self.ws.row(row_id)["text"]
        with self.ws.unlocked():
            proposals = methods.steer(self.decoder, model, origin, steer, rows, parent=parent,
                                      donors=donors, n=n, seed=seed, progress=progress)
        target = model.steer(origin, steer)
        params = {"concepts": {str(c): w for c, w in steer.items()},
                  "concept_labels": {str(c): model.labels[c] for c in steer},
                  "seed": seed, "target_cosine_to_parent": round(float(origin @ target), 4),
                  **(extra or {})}
        return self._finish(proposals, gates.select(proposals, n), n, params, method="concepts",
                            parents=[row_id], decoded=True)

    def interpolate(self, row_id: int, *, to_row: int | None = None,
                    to_point: tuple[float, float] | None = None,
                    to_embedding: np.ndarray | None = None, n: int = 3, seed: int = 0,
                    extra: Mapping[str, Any] | None = None, guides: Sequence[str] = (),
                    progress: Progress = silent) -> Augmentation:
        """Up to ``n`` texts on the way from row ``row_id`` to another row, a map point or an
        embedding (``to_embedding``: e.g. a reference gap's centre, outside every row), ordered
        from the start to the end (``amplio.augment.methods.interpolate``).

        Ends less alike than ``methods.FAR_APART`` are blended anyway, with a note and
        partners nearer the start to try; a map point suggests the rows near it.
        """
        methods.check_n(n)
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
        rows = self._rows(guides)
        note = methods.far_apart_note(start, end)
        if note:
            suggestions = methods.nearer_partners(rows, start, end, exclude=parents)
        parent_texts = self.ws.rows(ids=parents)["text"].tolist()
        with self.ws.unlocked():
            chosen, proposals = methods.interpolate(self.decoder, start, end, rows, parents=parent_texts,
                                                    n=n, seed=seed, progress=progress)
        return self._finish(proposals, [p for _, p in chosen], n, params, method="interpolate",
                            parents=parents, decoded=True, note=note, suggestions=suggestions)

    def llm_variations(self, row_ids: Sequence[int], instruction: str, *, n: int = 3, seed: int = 0,
                       context: str | None = None, extra: Mapping[str, Any] | None = None,
                       guides: Sequence[str] = (), progress: Progress = silent) -> Augmentation:
        """Up to ``n`` variations of the rows that follow ``instruction``
        (``amplio.augment.methods.vary``).

        ``context``: a topic hint appended to the instruction (a gap's keywords).
        ``guides``: texts from outside the dataset (a reference gap's examples) that the list
        shows the model; a variation that copies one is held back as a near-copy.
        """
        methods.check_n(n)
        if not row_ids:
            raise InputError("choose at least one row")
        if not instruction.strip():
            raise InputError("give an instruction (or pick a suggested prompt idea)")
        ids = [int(i) for i in row_ids]
        sources = self.ws.embeddings(ids)  # raises NotFoundError naming a missing id
        texts = self.ws.rows(ids=ids).set_index("id").loc[ids, "text"].tolist()
        full = instruction.strip() + (f" (topic: {context})" if context else "")
        rows = self._rows(guides)
        with self.ws.unlocked():
            proposals = methods.vary(self.llm, self.ws.encoder, texts, sources, full, rows,
                                     n=n, seed=seed, progress=progress)
        params = {"instruction": instruction.strip(), "seed": seed, **(extra or {})}
        if context:
            params["context"] = context
        return self._finish(proposals, gates.select(proposals, n), n, params, method="llm",
                            parents=ids, decoded=False)

    def prompt_ideas(self, row_id: int, *, n: int = 5, seed: int = 0) -> list[str]:
        """Suggested instructions for Augment with LLM on row ``row_id``: the model's own ideas
        that read as instructions, then those of the worked examples nearest the row."""
        from amplio.llm.prompts import prompt_ideas

        fallback = methods.idea_fallbacks(self.ws.encoder, self.ws.embeddings([row_id])[0])
        text = self.ws.row(row_id)["text"]
        with self.ws.unlocked():
            return prompt_ideas(self.llm, text, n, seed=seed, fallback=fallback)

    def _rows(self, guides: Sequence[str]) -> TextSet:
        """The rows a request works among, plus ``guides`` (texts that are not rows, id -1).

        A target outside the data (inside a reference gap) has no rows near it; texts from the
        reference there become the examples the model continues, and a text that copies one is
        held back as a near-copy, like a copy of a row. Novelty is still measured against the
        rows only (``store_candidates``).
        """
        texts = list(dict.fromkeys(t for t in guides if t.strip()))
        embedded = np.asarray(self.ws.encoder.encode(texts), dtype=np.float32) if texts else None
        return live_rows(self.ws).plus(texts, embedded)

    def _finish(self, proposals: Sequence[Proposal], chosen: Sequence[Proposal], n: int,
                params: dict[str, Any], *, method: str, parents: Sequence[int], decoded: bool,
                note: str | None = None, suggestions: Sequence[dict[str, Any]] = ()) -> Augmentation:
        stored = store_candidates(self.ws, chosen, params, live_rows(self.ws), method=method,
                                  parents=parents, models=self.models(decoded=decoded))
        return Augmentation.of(stored, proposals, n, note=note, suggestions=suggestions)
