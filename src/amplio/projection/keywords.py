"""Short keyword labels for groups of texts by class-based TF-IDF (as in BERTopic)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def ctfidf_keywords(
    texts: Sequence[str], groups: Sequence[int], *, top: int = 4
) -> dict[int, list[str]]:
    """Return the ``top`` most distinctive words of each group.

    Each group's texts are joined into one document; a word's weight is its frequency in the
    group times ``log(1 + mean words per group / its frequency across all groups)``, so words
    common everywhere ("write", "how") sink and words particular to a group rise.

    Args:
        texts: the texts, one per row.
        groups: the group id of each row (same length as ``texts``); negative ids are ignored.
        top: how many words per group.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    group_ids = sorted({int(g) for g in groups if int(g) >= 0})
    if not group_ids:
        return {}
    docs = {g: [] for g in group_ids}  # type: dict[int, list[str]]
    for text, group in zip(texts, groups, strict=True):
        if int(group) >= 0:
            docs[int(group)].append(text)
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]+\b",
                                 min_df=1, max_features=20000)
    try:
        counts = vectorizer.fit_transform([" ".join(docs[g]) for g in group_ids])
    except ValueError:  # nothing but stop words
        return {g: [] for g in group_ids}
    counts = counts.toarray().astype(np.float64)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    mean_words = counts.sum() / len(group_ids)
    idf = np.log1p(mean_words / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    vocab = vectorizer.get_feature_names_out()
    result: dict[int, list[str]] = {}
    for row, group in enumerate(group_ids):
        order = np.argsort(-weights[row])[:top]
        result[group] = [str(vocab[i]) for i in order if weights[row, i] > 0]
    return result
