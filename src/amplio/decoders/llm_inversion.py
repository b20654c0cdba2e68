"""Default decoder: zero-shot inversion of any encoder with an LLM in the loop.

The LLM continues a few-shot list of the rows nearest to the target; the encoder embeds what it
writes; the candidates closest to the target become the examples of the next round, so the list
walks toward the target. Only the encoder's own cosine is trusted, so any encoder works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from amplio.decoders import quality
from amplio.decoders.base import DecodeContext, Decoded, Decoder
from amplio.decoders.splice import splice_variants
from amplio.decoders.word_edits import (
    attested_bigrams,
    phrase_graft_variants,
    word_edit_variants,
)
from amplio.embedding.base import Encoder
from amplio.errors import InputError
from amplio.llm.base import LLM, GenerationParams
from amplio.registry import Registry

_MAX_EXAMPLE_CHARS = 400
_ATTESTING_ROWS = 256
_MARKER = "Prompt:"
_LEADING_MARKER = re.compile(r"^\s*(?:prompt\s*:\s*)+", re.IGNORECASE)


@dataclass
class _Candidate:
    text: str
    key: str
    embedding: NDArray[np.float32]
    fidelity: float
    flags: list[str]
    duplicate_of: int | None
    generated: bool


class LLMInversionDecoder:
    """Finds texts whose embedding lands near a target by iterated few-shot prompting.

    Args:
        encoder: the workspace's encoder; it scores every candidate.
        llm: a base-model style LLM that continues a list of prompts.
        rounds: refinement rounds per target.
        samples: completions drawn per round.
        shots: examples in each round's prompt.
        max_tokens: longest completion in tokens.
        temperature: sampling temperature of the first round; later rounds cool down a bit.
        splice_rounds: after each LLM round, generations of crossing the best texts over at
            shared words (see ``amplio.decoders.splice``); 0 turns it off.
        splice_beam: texts crossed over in each generation.
        splice_limit: variants scored per generation.
        word_edits: one-word edits toward the target scored after each splice generation
            (see ``amplio.decoders.word_edits``); 0 turns them off.
        duplicate_cosine: cosine to an existing row (or another output) above which a
            candidate counts as a copy.

    Example:
        >>> decoder = LLMInversionDecoder(encoder, llm)  # doctest: +SKIP
        >>> best = decoder.decode(target, n=3, context=context_for(target, texts, embs))[0]
    """

    def __init__(
        self,
        encoder: Encoder,
        llm: LLM,
        *,
        rounds: int = 2,
        samples: int = 6,
        shots: int = 8,
        max_tokens: int = 48,
        temperature: float = 0.6,
        edits: int = 0,
        edit_samples: int = 2,
        splice_rounds: int = 1,
        splice_beam: int = 8,
        splice_limit: int = 160,
        word_edits: int = 120,
        duplicate_cosine: float = quality.DEFAULT_DUPLICATE_COSINE,
    ) -> None:
        if rounds < 1 or samples < 1 or shots < 1 or max_tokens < 1:
            raise InputError("rounds, samples, shots and max_tokens must all be at least 1")
        self.encoder = encoder
        self.llm = llm
        self.rounds = rounds
        self.samples = samples
        self.shots = shots
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.edits = edits
        self.edit_samples = edit_samples
        self.splice_rounds = splice_rounds
        self.splice_beam = splice_beam
        self.splice_limit = splice_limit
        self.word_edits = word_edits
        self.duplicate_cosine = duplicate_cosine
        self.name = f"llm-inversion:{llm.name}"

    def decode(
        self, target: NDArray[np.float32], *, n: int, context: DecodeContext, seed: int = 0
    ) -> list[Decoded]:
        """Return up to ``n`` distinct texts for ``target``, clean ones first, then by fidelity.

        Candidates that copy an existing row, glue two rows together, have a length far from
        the neighbours' or repeat themselves carry flags and rank below every clean one. When
        fewer than ``n`` mutually distinct candidates exist, near-copies of other outputs fill
        the rest, flagged ``duplicate-output``; fewer than ``n`` come back only when the LLM
        wrote fewer than ``n`` different texts.

        Raises:
            InputError: the target is not a finite non-zero vector of the encoder's dimension,
                ``n`` is below 1, or the context holds no row to start from.
        """
        if n < 1:
            raise InputError("n must be at least 1")
        goal = _unit(target, self.encoder.dim)
        pool = self._seed_pool(goal, context)
        concat_rows = _dedupe_texts(
            list(context.parent_texts) + [c.text for c in pool[: self.shots]]
        )
        lengths = quality.LengthRange.from_texts([c.text for c in pool] or concat_rows)
        sources = _dedupe_texts([t for t in (*context.parent_texts, *context.donor_texts) if t.strip()])
        found: dict[str, _Candidate] = {}

        def score(texts: list[str]) -> None:
            fresh = _dedupe_texts([t for t in texts if quality.normalise_text(t) not in found])
            if not fresh:
                return
            embs = self.encoder.encode(fresh)
            for text, emb in zip(fresh, embs, strict=True):
                flags, dup = quality.assess(
                    text,
                    emb,
                    reference_texts=context.reference_texts,
                    reference_embeddings=context.reference_embeddings,
                    concat_rows=concat_rows,
                    lengths=lengths,
                    duplicate_cosine=self.duplicate_cosine,
                )
                key = quality.normalise_text(text)
                found[key] = _Candidate(text, key, emb, float(emb @ goal), flags, dup, True)

        # Budget tokens by the neighbours' length: most time goes to generating tokens.
        longest = max(len(quality.words(c.text)) for c in pool)
        max_tokens = max(12, min(self.max_tokens, int(1.5 * longest) + 8))
        nearby = _nearby_bigrams(goal, context) if self.word_edits else frozenset()
        for r in range(self.rounds):
            examples = self._examples(pool, list(found.values()), first=r == 0, context=context)
            prompt = build_prompt([c.text for c in examples])
            base_seed = seed * 7919 + r * 101
            params = GenerationParams(
                n=self.samples,
                temperature=max(0.5, self.temperature - 0.15 * r),
                max_tokens=max_tokens,
                stop=("\n",),
                seed=base_seed,
            )
            texts = [_clean(t) for t in self.llm.complete(prompt, params)]
            if r > 0:
                texts += self._edits(prompt, examples, params, base_seed)
            score([t for t in texts if t])
            rng = np.random.default_rng(base_seed + 1)
            for _ in range(self.splice_rounds):
                beam = [c.text for c in self._usable(pool, list(found.values()))[: self.splice_beam]]
                # Parents and donors always take part: they hold what the target is made of,
                # even when they are not among the closest texts themselves.
                beam = _dedupe_texts(beam + sources)
                # Half the budget searches around the two best texts, half across all pairs.
                near = splice_variants(beam, rng=rng, limit=self.splice_limit // 2, focus=2)
                wide = splice_variants(beam, rng=rng, limit=self.splice_limit)
                score(_dedupe_texts(near + wide)[: self.splice_limit])
            if self.word_edits:
                score(self._word_edits(goal, pool, list(found.values()), context, nearby))
        return self._select(list(found.values()), n)

    def _word_edits(
        self,
        goal: NDArray[np.float32],
        pool: list[_Candidate],
        found: list[_Candidate],
        context: DecodeContext,
        nearby_bigrams: frozenset[tuple[str, str]],
    ) -> list[str]:
        parent_keys = {quality.normalise_text(p) for p in context.parent_texts}
        best = self._usable(pool, found)[: max(1, self.splice_beam // 2)]
        seeds = {c.key: c for c in best + [c for c in pool if c.key in parent_keys]}
        # Words come from what the target is made of: donors, parents, neighbours, best so far.
        vocabulary = list(context.parent_texts) + list(context.donor_texts)
        vocabulary += [c.text for c in pool] + [c.text for c in best]
        texts = [c.text for c in seeds.values()]
        embs = np.stack([c.embedding for c in seeds.values()])
        words = word_edit_variants(
            texts, embs, goal, vocabulary=vocabulary,
            bigrams=nearby_bigrams | attested_bigrams(vocabulary),
            embed=self.encoder.encode, limit=self.word_edits,
        )
        # Grafts go onto rows and parents only: grafting onto a grafted text stacks phrases
        # ("...a cookie policy at baccarat in Cairo on how to win").
        rows = [c for c in seeds.values() if not c.generated]
        phrases = phrase_graft_variants(
            [c.text for c in rows], np.stack([c.embedding for c in rows]), goal,
            vocabulary=vocabulary, embed=self.encoder.encode, limit=self.word_edits // 2,
        ) if rows else []
        return _dedupe_texts(phrases + words)[: self.word_edits]

    def _edits(
        self,
        prompt: str,
        examples: list[_Candidate],
        params: GenerationParams,
        base_seed: int,
    ) -> list[str]:
        # Local search: keep the first part of the closest examples and let the model rewrite
        # the rest. The kept prefix holds the candidate near the target; fewer tokens to write.
        out: list[str] = []
        best = sorted(examples, key=lambda c: (-c.fidelity, c.key))[: self.edits]
        rng = np.random.default_rng(base_seed)
        for i, c in enumerate(best):
            toks = _one_line(c.text).split(" ")
            if len(toks) < 4:
                continue
            keep = max(2, int(len(toks) * rng.uniform(0.3, 0.7)))
            prefix = " ".join(toks[:keep])
            edit = GenerationParams(
                n=self.edit_samples,
                temperature=params.temperature,
                max_tokens=params.max_tokens,
                stop=params.stop,
                seed=base_seed + 17 * (i + 1),
            )
            for tail in self.llm.complete(f"{prompt} {prefix}", edit):
                out.append(_clean(f"{prefix}{tail}"))
        return out

    def _seed_pool(self, goal: NDArray[np.float32], context: DecodeContext) -> list[_Candidate]:
        texts = list(context.neighbour_texts)
        embs = context.neighbour_embeddings
        if not texts and context.reference_embeddings is not None and len(context.reference_texts):
            sims = context.reference_embeddings @ goal
            top = np.argsort(-sims, kind="stable")[:8]
            texts = [context.reference_texts[i] for i in top]
            embs = context.reference_embeddings[top]
        parents = [p for p in context.parent_texts if p.strip()]
        if not texts and not parents:
            raise InputError("the decoder needs at least one neighbour, reference or parent row")
        if texts and (embs is None or len(embs) != len(texts)):
            embs = self.encoder.encode(texts)
        all_texts = texts + parents
        all_embs = np.vstack(
            [e for e in (embs, self.encoder.encode(parents) if parents else None) if e is not None]
        )
        pool: dict[str, _Candidate] = {}
        for text, emb in zip(all_texts, all_embs, strict=True):
            key = quality.normalise_text(text)
            if key and key not in pool:
                pool[key] = _Candidate(text, key, emb, float(emb @ goal), [], None, False)
        return sorted(pool.values(), key=lambda c: (-c.fidelity, c.key))

    def _examples(
        self,
        pool: list[_Candidate],
        found: list[_Candidate],
        *,
        first: bool,
        context: DecodeContext,
    ) -> list[_Candidate]:
        ranked = self._usable(pool, found)
        chosen: list[_Candidate] = []
        if first:
            parent_keys = {quality.normalise_text(p) for p in context.parent_texts}
            chosen = [c for c in pool if c.key in parent_keys][: max(1, self.shots // 2)]
        for c in ranked:
            if len(chosen) >= self.shots:
                break
            if all(c.key != d.key for d in chosen):
                chosen.append(c)
        # Ascending fidelity: the closest example sits right before the model's turn.
        return sorted(chosen, key=lambda c: (c.fidelity, c.key))

    @staticmethod
    def _usable(pool: list[_Candidate], found: list[_Candidate]) -> list[_Candidate]:
        # Glued or run-away candidates would teach the model (and the splicer) to glue and run
        # away: keep them out of the examples; closest first.
        usable = [
            c
            for c in found
            if not ({quality.CONCATENATION, quality.LENGTH, quality.REPETITIVE} & set(c.flags))
        ]
        return sorted(pool + usable, key=lambda c: (-c.fidelity, c.key))

    def _select(self, found: list[_Candidate], n: int) -> list[Decoded]:
        ranked = sorted(found, key=lambda c: (bool(c.flags), -c.fidelity, c.key))
        chosen: list[_Candidate] = []
        spare: list[_Candidate] = []
        for c in ranked:
            if len(chosen) >= n:
                break
            if any(float(c.embedding @ d.embedding) > self.duplicate_cosine for d in chosen):
                spare.append(c)
            else:
                chosen.append(c)
        out = [_decoded(c, []) for c in chosen]
        for c in spare[: n - len(out)]:
            out.append(_decoded(c, [quality.DUPLICATE_OUTPUT]))
        return out


def _nearby_bigrams(goal: NDArray[np.float32], context: DecodeContext) -> frozenset[tuple[str, str]]:
    # The rows around the target attest which word may follow which: the language of this part
    # of the dataset, at a cost that does not grow with the workspace. Once per target.
    if context.reference_embeddings is None or not len(context.reference_texts):
        return frozenset()
    sims = context.reference_embeddings @ goal
    near = np.argsort(-sims, kind="stable")[:_ATTESTING_ROWS]
    return attested_bigrams(context.reference_texts[i] for i in near)


def build_prompt(examples: Sequence[str]) -> str:
    """A few-shot list ``Prompt: ...`` per line that a base model continues with one more.

    Each example is flattened to one line and shortened, so no dataset text can add lines,
    markers or instructions to the template's structure.
    """
    lines = [f"{_MARKER} {_one_line(t)}" for t in examples]
    return "\n".join(lines + [_MARKER])


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:_MAX_EXAMPLE_CHARS]


def _clean(text: str) -> str:
    return _LEADING_MARKER.sub("", " ".join(text.split())).strip()


def _dedupe_texts(texts: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for t in texts:
        key = quality.normalise_text(t)
        if key and key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _unit(target: NDArray[np.float32], dim: int) -> NDArray[np.float32]:
    vec = np.asarray(target, dtype=np.float32).reshape(-1)
    if vec.shape[0] != dim:
        raise InputError(f"target has {vec.shape[0]} dimensions; the encoder gives {dim}")
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm == 0.0:
        raise InputError("target must be a finite, non-zero vector")
    return vec / norm


def _decoded(c: _Candidate, extra: list[str]) -> Decoded:
    return Decoded(
        text=c.text,
        fidelity=c.fidelity,
        embedding=c.embedding,
        flags=list(c.flags) + extra,
        duplicate_of=c.duplicate_of,
    )


DecoderFactory = Callable[..., Decoder]
_REGISTRY: Registry[DecoderFactory] = Registry("decoder")
_REGISTRY.register("llm-inversion", LLMInversionDecoder)


def register_decoder(kind: str, factory: DecoderFactory) -> None:
    """Register ``factory(encoder, llm, **opts) -> Decoder`` under ``kind`` (e.g. a trained inverter)."""
    _REGISTRY.register(kind, factory)


def decoder_kinds() -> list[str]:
    """The registered decoder kinds."""
    return _REGISTRY.kinds()


def create_decoder(
    encoder: Encoder, llm: LLM, *, kind: str = "llm-inversion", **opts: object
) -> Decoder:
    """Build a decoder for ``encoder``; the default inverts it with ``llm`` in the loop.

    Args:
        encoder: the workspace's encoder.
        llm: the LLM that proposes candidates.
        kind: a registered decoder kind.
        **opts: options for the decoder (``rounds``, ``samples``, ``shots``, ``max_tokens``...).

    Raises:
        InputError: unknown kind or options.
    """
    factory = _REGISTRY.get(kind)
    try:
        decoder = factory(encoder, llm, **opts)
    except TypeError as exc:
        raise InputError(f"bad options for decoder {kind!r}: {exc}") from None
    if not isinstance(decoder, Decoder):
        raise TypeError(
            f"decoder factory {kind!r} returned {type(decoder).__name__}, not a Decoder"
        )
    return decoder
