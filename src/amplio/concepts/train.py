"""``train_concepts``: from an embedding matrix and its texts to a labelled ``ConceptModel``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from amplio.concepts.labels import keyword_labels, phrase_labels
from amplio.concepts.model import ConceptModel
from amplio.concepts.sae import (
    default_epochs,
    default_k,
    default_n_features,
    encode_topk,
    fraction_of_variance_explained,
    reconstruct,
    train_sae,
)
from amplio.errors import InputError
from amplio.progress import Progress, silent

# Rows remembered per concept for ``top_rows`` (labels use the first LABEL_ROWS of them).
TOP_ROWS_KEPT = 50
# Steering weight 1 adds this many times a concept's largest training activation (see ``steer``),
# but never more than STEER_CAP: the embeddings are unit-length, and a step longer than the
# embedding itself would drown the row it starts from (at 1.0 the cosine to it stays >= ~0.7).
STEER_FACTOR = 2.0
STEER_CAP = 1.0


def train_concepts(
    embeddings: NDArray[np.floating],
    texts: Sequence[str],
    *,
    n_features: int | None = None,
    k: int | None = None,
    seed: int = 0,
    epochs: int | None = None,
    reference: NDArray[np.floating] | None = None,
    reference_texts: Sequence[str] | None = None,
    encode: Callable[[Sequence[str]], NDArray[np.float32]] | None = None,
    progress: Progress = silent,
) -> ConceptModel:
    """Train a TopK sparse autoencoder on ``embeddings`` and label its concepts.

    The SAE trains on ``embeddings`` plus ``reference`` (an optional wider corpus that gives the
    dictionary more general directions: on a few hundred rows alone, concepts are names and
    odd word pairs). Top rows and frequencies describe ``embeddings`` only, so ``top_rows``
    indices point into it; labels are drawn from the top rows of all training texts
    (``reference_texts`` with the reference), as phrases when ``encode`` is given (see
    ``phrase_labels``), else as keywords.

    Args:
        embeddings: ``(n, d)`` rows, normally L2-normalised encoder output.
        texts: the ``n`` texts of those rows (for keyword labels).
        n_features: dictionary size (default: a quarter of the training rows, 128 to 4096).
        k: concepts active per row (default 8 to 16, growing with ``n_features``).
        seed: seed for initialisation and batch order; equal inputs give equal models.
        epochs: passes over the training rows (default: about 100k rows seen, 5 to 200 epochs).
        reference: optional ``(m, d)`` extra training rows.
        reference_texts: the ``m`` texts of ``reference`` (for labels).
        encode: the encoder that made the embeddings, for phrase labels.
        progress: called as ``("concepts", epoch, epochs)`` per epoch, then
            ``("concept labels", 0|1, 1)``.

    Returns:
        The trained model; ``model.stats`` holds its fraction of variance explained and dead share.

    Raises:
        InputError: for mismatched shapes, non-finite values or impossible sizes.

    Example:
        >>> model = train_concepts(embeddings, texts, seed=0)  # doctest: +SKIP
        >>> model.labels[model.top_concepts(embeddings[0])[0][0]]  # doctest: +SKIP
        'bomb, explosive, device'
    """
    rows = _as_matrix(embeddings, "embeddings")
    if len(texts) != rows.shape[0]:
        raise InputError(f"got {rows.shape[0]} embeddings but {len(texts)} texts")
    data = rows
    n_reference = 0
    if reference is not None:
        extra = _as_matrix(reference, "reference")
        if extra.shape[1] != rows.shape[1]:
            raise InputError(
                f"reference has dimension {extra.shape[1]}, the embeddings {rows.shape[1]}"
            )
        data = np.concatenate([rows, extra])
        n_reference = extra.shape[0]
        if reference_texts is not None and len(reference_texts) != n_reference:
            raise InputError(f"got {n_reference} reference embeddings but {len(reference_texts)} texts")
    n_features = default_n_features(data.shape[0]) if n_features is None else int(n_features)
    if n_features < 2:
        raise InputError(f"n_features must be at least 2, got {n_features}")
    k = min(default_k(n_features), n_features) if k is None else int(k)
    epochs = default_epochs(data.shape[0]) if epochs is None else int(epochs)

    weights = train_sae(
        data, n_features=n_features, k=k, seed=seed, epochs=epochs, progress=progress
    )

    progress("concept labels", 0, 1)
    train_ids, train_acts = encode_topk(weights, data)
    fve = fraction_of_variance_explained(data, reconstruct(weights, train_ids, train_acts))
    ever_active = np.zeros(n_features, dtype=bool)
    ever_active[train_ids[train_acts > 0]] = True
    max_activation = np.zeros(n_features, dtype=np.float32)
    np.maximum.at(max_activation, train_ids.ravel(), train_acts.ravel())

    ids, acts = train_ids[: rows.shape[0]], train_acts[: rows.shape[0]]
    top_rows = _top_rows(ids, acts, n_features, TOP_ROWS_KEPT)
    frequency = np.bincount(ids[acts > 0], minlength=n_features) / rows.shape[0]
    all_texts = list(texts) + list(reference_texts or [])
    if len(all_texts) == data.shape[0]:
        label_rows = _top_rows(train_ids, train_acts, n_features, TOP_ROWS_KEPT)
    else:  # no reference texts: label from the rows alone
        all_texts, label_rows = list(texts), top_rows
    listed = [[int(r) for r in row if r >= 0] for row in label_rows]
    if encode is not None:
        labels = phrase_labels(all_texts, listed, weights.w_dec, weights.b_dec, encode)
    else:
        labels = keyword_labels(all_texts, listed)
    progress("concept labels", 1, 1)

    stats: dict[str, float | int] = {
        "fve": round(float(fve), 6),
        "dead_share": round(float(1.0 - ever_active.mean()), 6),
        "n_features": n_features,
        "k": k,
        "n_rows": int(rows.shape[0]),
        "n_reference": n_reference,
        "epochs": epochs,
        "seed": int(seed),
    }
    return ConceptModel(
        weights,
        labels=labels,
        frequency=frequency.astype(np.float32),
        top_row_ids=top_rows,
        steer_scales=_steer_scales(max_activation),
        stats=stats,
    )


def _as_matrix(values: NDArray[np.floating], name: str) -> NDArray[np.float32]:
    matrix = np.asarray(values, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InputError(f"{name} must be a non-empty (rows, dim) matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InputError(f"{name} contain NaN or infinite values")
    return matrix


def _top_rows(
    ids: NDArray[np.int64], acts: NDArray[np.float32], n_features: int, keep: int
) -> NDArray[np.int64]:
    """``(F, keep)`` row indices per concept by activation, strongest first, padded with -1.

    Works from the sparse top-k entries, never a dense ``(n, F)`` matrix.
    """
    row_index = np.repeat(np.arange(ids.shape[0]), ids.shape[1])
    flat_ids, flat_acts = ids.ravel(), acts.ravel()
    active = flat_acts > 0
    row_index, flat_ids, flat_acts = row_index[active], flat_ids[active], flat_acts[active]
    # Sort by concept, then activation descending, then row (a stable tie-break).
    order = np.lexsort((row_index, -flat_acts, flat_ids))
    row_index, flat_ids = row_index[order], flat_ids[order]
    out = np.full((n_features, keep), -1, dtype=np.int64)
    starts = np.searchsorted(flat_ids, np.arange(n_features), side="left")
    ends = np.searchsorted(flat_ids, np.arange(n_features), side="right")
    for cid in np.flatnonzero(ends > starts):
        chosen = row_index[starts[cid] : min(ends[cid], starts[cid] + keep)]
        out[cid, : chosen.shape[0]] = chosen
    return out


def _steer_scales(max_activation: NDArray[np.float32]) -> NDArray[np.float32]:
    """``STEER_FACTOR`` x each concept's largest activation, floored at the median of those
    maxima and capped at ``STEER_CAP``.

    The floor keeps rare or dead concepts (tiny or zero maxima) steerable by a visible amount.
    """
    live = max_activation[max_activation > 0]
    floor = float(np.median(live)) if live.size else 0.5
    scales = STEER_FACTOR * np.maximum(max_activation, floor)
    return np.minimum(scales, STEER_CAP).astype(np.float32)
