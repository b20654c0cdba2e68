"""The workspace's feature methods: concepts, augmentation, gaps and reports.

They are thin: each delegates to the module that does the work, so ``Workspace`` stays the one
object the CLI, the server and notebooks hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amplio.progress import Progress, silent

if TYPE_CHECKING:
    from amplio.augment.engine import Augmentation, Augmenter
    from amplio.llm.base import LLM


class FeaturesMixin:
    _augmenter: Augmenter | None = None

    def use_llm(self, llm: LLM, **decoder_options: Any) -> None:
        """Use ``llm`` (and these decoder options) for augmentation instead of the configured one."""
        from amplio.augment.engine import Augmenter

        self._augmenter = Augmenter(self, llm=llm, decoder_options=decoder_options)  # type: ignore[arg-type]

    @property
    def augmenter(self) -> Augmenter:
        if self._augmenter is None:
            from amplio.augment.engine import Augmenter

            self._augmenter = Augmenter(self)  # type: ignore[arg-type]
        return self._augmenter

    # -- concepts -----------------------------------------------------------------------------
    def train_concepts(self, *, seed: int = 0, progress: Progress = silent) -> dict[str, Any]:
        """(Re)train the concept model on the original rows; return its statistics."""
        from amplio.concepts.workspace import train_workspace_concepts

        return dict(train_workspace_concepts(self, seed=seed, progress=progress).stats)  # type: ignore[arg-type]

    def concepts_for_row(self, row_id: int, *, top: int = 10) -> dict[str, Any]:
        """The row's top concepts (with activations) and related concepts for each."""
        from amplio.concepts.workspace import concepts_for_row

        return concepts_for_row(self, row_id, top=top)  # type: ignore[arg-type]

    def related_concepts(self, concept_id: int, *, k: int = 5) -> list[dict[str, Any]]:
        """Concepts whose decoder vectors are closest to ``concept_id``'s."""
        from amplio.concepts.workspace import describe, ensure_concepts

        model = ensure_concepts(self)  # type: ignore[arg-type]
        return [{**describe(model, c), "cosine": round(float(s), 4)} for c, s in model.related(concept_id, k=k)]

    def search_concepts(self, text: str, *, k: int = 10) -> list[dict[str, Any]]:
        """Concepts matching ``text`` by label or meaning."""
        from amplio.concepts.workspace import search_concepts

        return search_concepts(self, text, k=k)  # type: ignore[arg-type]

    def concept(self, concept_id: int) -> dict[str, Any]:
        """One concept with its label, frequency and top rows."""
        from amplio.concepts.workspace import describe, ensure_concepts

        model = ensure_concepts(self)  # type: ignore[arg-type]
        model.direction(concept_id)  # raises NotFoundError for an unknown id
        return describe(model, concept_id, self, rows=5)  # type: ignore[arg-type]

    # -- augmentation -------------------------------------------------------------------------
    def augment_concepts(self, row_id: int, weights: Mapping[int, float], *, n: int = 3, seed: int = 0,
                         progress: Progress = silent) -> Augmentation:
        """Augment with Concepts: steer the row's embedding and decode up to ``n`` candidates."""
        return self.augmenter.concepts(row_id, weights, n=n, seed=seed, progress=progress)

    def augment_interpolate(self, row_id: int, *, to_row: int | None = None,
                            to_point: tuple[float, float] | None = None, n: int = 3, seed: int = 0,
                            progress: Progress = silent) -> Augmentation:
        """Augment by Interpolation: up to ``n`` steps towards another row or a map point."""
        return self.augmenter.interpolate(row_id, to_row=to_row, to_point=to_point, n=n, seed=seed,
                                          progress=progress)

    def augment_llm(self, row_ids: Sequence[int], instruction: str, *, n: int = 3, seed: int = 0,
                    progress: Progress = silent) -> Augmentation:
        """Augment with LLM: up to ``n`` variations of the rows following ``instruction``."""
        return self.augmenter.llm_variations(row_ids, instruction, n=n, seed=seed, progress=progress)

    def prompt_ideas(self, row_id: int, *, n: int = 5, seed: int = 0) -> list[str]:
        """Suggested instructions for Augment with LLM."""
        return self.augmenter.prompt_ideas(row_id, n=n, seed=seed)

    # -- gaps and reports ---------------------------------------------------------------------
    def gaps(self, *, top: int = 10, seed: int = 0, reference: str | Path | None = None,
             reference_text_column: str | None = None, progress: Progress = silent) -> list[dict[str, Any]]:
        """Rank the empty spaces of the live rows (recomputed and stored on each call).

        With ``reference`` (a CSV/TSV/JSON/JSONL/Parquet file of prompts; text column
        auto-detected unless ``reference_text_column`` is given): the regions the reference
        covers and the live rows do not. Its embeddings are cached in the workspace by content
        hash; each such gap also carries ``examples`` (reference texts) and ``reference``.
        """
        from amplio.gaps.workspace import compute_gaps

        return compute_gaps(self, top=top, seed=seed, reference=reference,  # type: ignore[arg-type]
                            reference_text_column=reference_text_column, progress=progress)

    def fill_gap(self, gap_id: str, *, method: str, n: int = 3, seed: int = 0,
                 instruction: str | None = None, progress: Progress = silent) -> Augmentation:
        """Fill a gap from the last ``gaps()`` call with one augmentation method."""
        from amplio.gaps.workspace import fill_gap

        return fill_gap(self, gap_id, method=method, n=n, seed=seed, instruction=instruction,  # type: ignore[arg-type]
                        progress=progress)

    def coverage(self, *, concepts: int = 20, top: int = 5) -> dict[str, Any]:
        """Concept coverage of the accepted rows: per label, the concepts common elsewhere but rare
        in it, and the label x concept matrix of the ``concepts`` most informative concepts."""
        from amplio.gaps.coverage import workspace_coverage

        return workspace_coverage(self, concepts=concepts, top=top)  # type: ignore[arg-type]

    def report(self) -> dict[str, Any]:
        """Diversity of the original rows (before) and the accepted set (after)."""
        from amplio.gaps.workspace import diversity

        return diversity(self)  # type: ignore[arg-type]
