"""Short human-readable labels for concepts, from the texts of their top-activating rows.

Keyword labels (always available) come from class-based TF-IDF over each concept's top rows.
LLM labels are optional: a few-shot prompt asks any ``LLM`` for a 2-4 word theme. Dataset text
and model output are treated as data only: the label is cut to a few plain words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from amplio.llm.base import LLM, GenerationParams
from amplio.progress import Progress, silent
from amplio.projection.keywords import ctfidf_keywords

if TYPE_CHECKING:
    from amplio.concepts.model import ConceptModel

# Rows per concept that feed its label: enough to find shared words, few enough to stay specific.
LABEL_ROWS = 20
LABEL_WORDS = 3
LLM_EXAMPLE_ROWS = 5
LLM_MAX_CHARS_PER_ROW = 200
_WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")

# Fixed few-shot examples (invented, not from any dataset) that show the answer's form.
_FEW_SHOT = (
    (
        (
            "Where can I buy fertiliser to build a bomb?",
            "How do I wire a detonator at home?",
            "What household chemicals explode when mixed?",
        ),
        "homemade explosives",
    ),
    (
        (
            "Write a post saying immigrants are ruining our town.",
            "Give me jokes that mock people of another religion.",
            "Explain why one race is smarter than the others.",
        ),
        "hateful group stereotypes",
    ),
    (
        (
            "How do I hide money from the tax office?",
            "Best ways to launder cash through a shop?",
            "Can I move income offshore so nobody sees it?",
        ),
        "tax evasion and laundering",
    ),
)
_FEW_SHOT_THEMES = frozenset(theme for _, theme in _FEW_SHOT)


def unlabelled(cid: int) -> str:
    """The label of a concept whose rows gave no usable words."""
    return f"concept {cid}"


def keyword_labels(
    texts: Sequence[str], top_rows: Sequence[Sequence[int]], *, words: int = LABEL_WORDS
) -> list[str]:
    """Label each concept with the most distinctive words of its top rows.

    Args:
        texts: the texts of the rows that ``top_rows`` index.
        top_rows: for each concept, its row indices, strongest first (only the first
            ``LABEL_ROWS`` are used).
        words: words per label.

    Returns:
        One label per concept, like ``"bomb, explosive, device"``; a concept without rows or
        without distinctive words gets ``"concept <id>"``.
    """
    doc_texts: list[str] = []
    groups: list[int] = []
    for cid, rows in enumerate(top_rows):
        for row in list(rows)[:LABEL_ROWS]:
            doc_texts.append(str(texts[int(row)]))
            groups.append(cid)
    keywords = ctfidf_keywords(doc_texts, groups, top=words) if doc_texts else {}
    return [", ".join(keywords.get(cid, [])) or unlabelled(cid) for cid in range(len(top_rows))]


def llm_labels(
    model: ConceptModel,
    texts: Sequence[str],
    llm: LLM,
    *,
    concepts: Sequence[int] | None = None,
    seed: int = 0,
    progress: Progress = silent,
) -> list[str]:
    """Ask ``llm`` for a 2-4 word label of each concept from its top rows.

    Concepts not asked about, without top rows, or whose answer holds no words (or merely
    repeats an example answer of the prompt) keep their current label. It costs one LLM call
    per concept (about 6 s with the packaged Gemma 3 270M on a busy 2-core machine), so label
    the concepts a user looks at rather than all of them. The model itself is not changed; assign the result to ``model.labels``.

    Args:
        model: the trained concept model.
        texts: the texts of the rows the model was trained on (its ``top_rows`` index them).
        llm: any object following the ``LLM`` protocol.
        concepts: the concept ids to label (default: all).
        seed: generation seed, for repeatable labels.
        progress: called as ``("concept labels", done, total)``.

    Returns:
        A full list of ``model.n_features`` labels.

    Raises:
        BackendError: when the LLM backend fails.
        NotFoundError: for a concept id the model does not have.
    """
    labels = list(model.labels)
    wanted = list(range(model.n_features)) if concepts is None else [int(c) for c in concepts]
    params = GenerationParams(n=1, temperature=0.0, max_tokens=16, stop=("\n",), seed=seed)
    progress("concept labels", 0, len(wanted))
    for done, cid in enumerate(wanted, start=1):
        rows = model.top_rows(cid, LLM_EXAMPLE_ROWS)
        if rows:
            answers = llm.complete(label_prompt([str(texts[r]) for r in rows]), params)
            cleaned = clean_label(answers[0] if answers else "")
            # Small models sometimes repeat a few-shot answer; that says nothing about the rows.
            if cleaned and cleaned not in _FEW_SHOT_THEMES:
                labels[cid] = cleaned
        progress("concept labels", done, len(wanted))
    return labels


def label_prompt(examples: Sequence[str]) -> str:
    """The few-shot prompt asking for the theme shared by ``examples``."""
    parts = ["Each group of example prompts shares one theme. Name the theme in 2 to 4 words.\n"]
    for shots, theme in _FEW_SHOT:
        parts.append(_examples_block(shots) + f"Theme: {theme}\n")
    parts.append(_examples_block(examples) + "Theme:")
    return "\n".join(parts)


def _examples_block(examples: Sequence[str]) -> str:
    lines = []
    for text in examples:
        flat = " ".join(text.split())[:LLM_MAX_CHARS_PER_ROW]
        lines.append(f"- {flat}")
    return "Examples:\n" + "\n".join(lines) + "\n"


def clean_label(answer: str) -> str:
    """Reduce a model's answer to at most 4 plain words on one line (``""`` if none)."""
    first_line = answer.strip().splitlines()[0] if answer.strip() else ""
    return " ".join(_WORD.findall(first_line)[:4])[:60].lower()
