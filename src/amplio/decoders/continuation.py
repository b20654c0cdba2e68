"""Default decoder: list continuation aimed at a target, quality first, fidelity as a floor.

The texts nearest the target (rows, a steered concept's top rows, a reference gap's examples)
become a ``Prompt: ...`` list; the LLM continues it several times; the encoder embeds what it
wrote. Nothing is spliced or edited: each proposal is one whole prompt the model wrote, so it
reads like one. The gates of ``amplio.quality`` hold back copies, glues, fragments,
meta-instructions and cut-off texts; a proposal whose cosine to the target falls under a floor
is held back as ``off-target``. Clean proposals are ranked by fidelity, but fidelity is only a
floor for the methods above, which choose by their own aims (``amplio.augment``).

Why not optimise fidelity: with a small encoder, glued fragments and near-copies of the nearest
row score the highest cosine, and a blind review accepted none of them (``docs/decoder.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from amplio.decoders.base import DecodeContext
from amplio.embedding.base import Encoder, as_unit, nearest
from amplio.errors import InputError
from amplio.llm.base import LLM
from amplio.llm.continuation import continue_list, token_budget
from amplio.quality import checks, gates
from amplio.quality.gates import Proposal

# Rows near the target searched for titles the data credits to an author (the entity check).
_TITLE_ROWS = 256


class ContinuationDecoder:
    """Decodes a target by continuing a list of the texts nearest it.

    Args:
        encoder: the workspace's encoder; it places every proposal.
        llm: a base-model style LLM that continues a list of prompts.
        shots: texts in the list.
        temperature: sampling temperature (high enough to write new details, low enough to
            keep the request form).
        floor: proposals with a cosine to the target below ``floor`` times the nearest
            example's are held back as ``off-target``.
        relevance: proposals with a cosine below this to every parent (or, with none, to every
            example) are held back as ``off-topic``.

    Example:
        >>> decoder = ContinuationDecoder(encoder, llm)  # doctest: +SKIP
        >>> found = decoder.decode(target, n=3, context=context_for(target, texts, embs))
        >>> [p.text for p in found if p.clean][:3]  # doctest: +SKIP
    """

    def __init__(self, encoder: Encoder, llm: LLM, *, shots: int = 8, temperature: float = 0.9,
                 floor: float = 0.75, relevance: float = 0.5) -> None:
        if shots < 1:
            raise InputError("shots must be at least 1")
        if not 0.0 <= floor <= 1.0 or not 0.0 <= relevance <= 1.0:
            raise InputError("floor and relevance must lie between 0 and 1")
        self.encoder = encoder
        self.llm = llm
        self.shots = shots
        self.temperature = temperature
        self.floor = floor
        self.relevance = relevance
        self.name = f"continuation:{llm.name}"

    def decode(self, target: NDArray[np.float32], *, n: int, context: DecodeContext,
               seed: int = 0) -> list[Proposal]:
        """``n`` proposals for ``target`` (fewer when the model repeats itself): clean ones
        first by fidelity, then the held-back ones.

        Raises:
            InputError: the target is not a finite non-zero vector of the encoder's dimension,
                ``n`` is below 1, or the context holds no text to start from.
        """
        if n < 1:
            raise InputError("n must be at least 1")
        goal = as_unit(target, self.encoder.dim)
        examples, example_embs = self.examples(goal, context)
        texts = continue_list(self.llm, examples, k=n, seed=seed, temperature=self.temperature,
                              max_tokens=token_budget(examples))
        texts = list(dict.fromkeys(texts))
        if not texts:
            return []
        embeddings = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        proposals = [Proposal(t, e, fidelity=float(e @ goal)) for t, e in zip(texts, embeddings, strict=True)]
        gates.check(proposals, self.ground(goal, context, examples, example_embs))
        best_example = float(np.max(example_embs @ goal))
        for p in proposals:
            if p.fidelity is not None and p.fidelity < self.floor * best_example:
                p.hold(gates.OFF_TARGET)
        return sorted(proposals, key=lambda p: (not p.clean, -(p.fidelity or 0.0), p.text))

    def examples(self, goal: NDArray[np.float32],
                 context: DecodeContext) -> tuple[list[str], NDArray[np.float32]]:
        """The list shown to the model: the ``shots`` texts nearest ``goal`` among the
        neighbours and donors, parents left out (with them in the list, the model copies them),
        nearest last, where it weighs most."""
        texts = list(context.neighbour_texts)
        embs = context.neighbour_embeddings
        if not texts and context.reference_embeddings is not None and len(context.reference_texts):
            top = np.argsort(-(context.reference_embeddings @ goal), kind="stable")[: 2 * self.shots]
            texts = [context.reference_texts[i] for i in top]
            embs = context.reference_embeddings[top]
        donors = [t for t in context.donor_texts if t.strip()]
        if donors:
            texts = texts + donors
            embs = np.vstack([e for e in (embs, self.encoder.encode(donors)) if e is not None and len(e)])
        parents = {checks.normalise_text(p) for p in context.parent_texts}
        keep: dict[str, int] = {}
        for i, text in enumerate(texts):
            key = checks.normalise_text(text)
            if key and key not in parents and key not in keep:
                keep[key] = i
        if not keep:  # nothing but the parents themselves: they are all there is to show
            keep = {checks.normalise_text(t): i for i, t in enumerate(texts) if t.strip()}
            if not keep and context.parent_texts:
                texts = [t for t in context.parent_texts if t.strip()]
                embs = np.asarray(self.encoder.encode(texts), dtype=np.float32)
                keep = {checks.normalise_text(t): i for i, t in enumerate(texts)}
        if not keep:
            raise InputError("the decoder needs at least one neighbour, donor or parent text")
        index = np.array(list(keep.values()))
        if embs is None or len(embs) != len(texts):
            embs = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        sims = embs[index] @ goal
        order = index[np.argsort(-sims, kind="stable")[: self.shots]][::-1]
        return [texts[i] for i in order], np.asarray(embs[order], dtype=np.float32)

    def ground(self, goal: NDArray[np.float32], context: DecodeContext, examples: list[str],
               example_embs: NDArray[np.float32]) -> gates.Ground:
        """What the proposals for ``goal`` are checked against: every row and example (copies),
        the parents (copies, glue, relevance), the examples' lengths and the titles near it."""
        refs = list(context.reference_texts)
        ref_embs = context.reference_embeddings
        rows = refs + examples
        row_embs = example_embs if ref_embs is None or not len(refs) else np.vstack([ref_embs, example_embs])
        near = ([i for i, _ in nearest(ref_embs, goal, _TITLE_ROWS)]
                if ref_embs is not None and len(refs) else [])
        parents = [t for t in context.parent_texts if t.strip()]
        parent_embs = np.asarray(self.encoder.encode(parents), dtype=np.float32) if parents else None
        return gates.Ground(
            rows=rows, row_embeddings=row_embs, sources=parents, source_embeddings=parent_embs,
            lengths=checks.LengthRange.from_texts(examples + parents),
            titles=checks.known_titles([refs[i] for i in near] + examples + parents),
            relevance=self.relevance if context.relevance is None else context.relevance,
            anchors=parent_embs if parent_embs is not None else example_embs,
        )
