"""Concepts: a TopK sparse autoencoder over the embedding space, with labelled features.

``train_concepts`` builds a ``ConceptModel`` from an embedding matrix and its texts;
``llm_labels`` optionally relabels concepts with any ``LLM``. Torch is imported only when a model
is trained or (de)serialised.
"""

from __future__ import annotations

from amplio.concepts.labels import keyword_labels, llm_labels
from amplio.concepts.model import ConceptModel
from amplio.concepts.train import train_concepts

__all__ = ["ConceptModel", "keyword_labels", "llm_labels", "train_concepts"]
