"""Training a TopK sparse autoencoder on an embedding matrix (Gao et al., 2024, "Scaling and
evaluating sparse autoencoders").

The model: ``z = TopK(W_enc (x - b_dec) + b_enc)`` (ReLU after the top-k), ``x_hat = W_dec z +
b_dec``, with the columns of ``W_dec`` (one per feature) kept at unit length, so a feature's
activation is its size along its direction. Dead features are revived by the AuxK loss: features
that fired on no row over the last epoch are asked to reconstruct what the live ones left over.

Torch is imported inside the functions so ``import amplio`` stays light; the trained weights come
back as numpy arrays.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amplio.errors import InputError
from amplio.progress import Progress, silent

# Training runs on one thread. The matrices are small (batch 256 x 384 x F), so extra threads buy
# little, and on a busy 2-core machine training with two threads measured 10-20x slower than
# with one (they wait on each other); a fixed count also keeps float reductions, and so the
# result, the same from run to run.
MAX_THREADS = 1
# AuxK settings from the paper: the revived features get a coefficient of 1/32 and k_aux = d / 2.
AUX_COEF = 1.0 / 32.0
LEARNING_RATE = 2e-3
# Rows seen over the whole training. Measured on AART (3.2k rows, 817 features, batch 256, lr
# 2e-3): 30 epochs (~100k rows) reach FVE 0.91 with no dead features; 3x as many add only ~0.03.
TARGET_ROW_PASSES = 100_000


@dataclass(frozen=True)
class SaeWeights:
    """The trained parameters as float32 arrays (``d`` = embedding dim, ``F`` = features).

    Attributes:
        w_enc: ``(F, d)`` encoder matrix.
        b_enc: ``(F,)`` encoder bias.
        w_dec: ``(F, d)`` decoder directions, one unit-length row per feature.
        b_dec: ``(d,)`` pre-bias, subtracted before encoding and added back after decoding.
        k: number of features kept active per row.
    """

    w_enc: NDArray[np.float32]
    b_enc: NDArray[np.float32]
    w_dec: NDArray[np.float32]
    b_dec: NDArray[np.float32]
    k: int


def default_n_features(n_rows: int) -> int:
    """Features for ``n_rows`` training rows: a quarter of the rows, between 128 and 4096."""
    return int(min(max(n_rows // 4, 128), 4096))


def default_k(n_features: int) -> int:
    """Active features per row: 8 for small dictionaries, up to 16 for large ones."""
    return int(min(max(round(math.log2(n_features) * 1.5), 8), 16))


def default_epochs(n_rows: int) -> int:
    """Epochs for ``n_rows`` rows: about ``TARGET_ROW_PASSES`` rows seen in all, 5 to 200 epochs."""
    return int(min(max(math.ceil(TARGET_ROW_PASSES / max(n_rows, 1)), 5), 200))


def train_sae(
    data: NDArray[np.float32],
    *,
    n_features: int,
    k: int,
    seed: int = 0,
    epochs: int | None = None,
    batch_size: int = 256,
    aux_coef: float = AUX_COEF,
    progress: Progress = silent,
) -> SaeWeights:
    """Train a TopK SAE on ``data`` and return its weights.

    Deterministic for equal input, settings and thread count: all randomness comes from a
    generator seeded with ``seed`` (torch's global RNG is not touched).

    Args:
        data: ``(n, d)`` float32 training rows.
        n_features: dictionary size ``F``.
        k: active features per row (``1 <= k <= F``).
        seed: seed for initialisation and batch order.
        epochs: passes over the data (default: :func:`default_epochs`).
        batch_size: rows per optimiser step.
        aux_coef: weight of the AuxK loss that revives dead features (0 turns it off).
        progress: called as ``("concepts", epoch, epochs)`` after each epoch.

    Raises:
        InputError: for empty or non-finite data or impossible sizes.
    """
    from amplio.runtime import prepare_native_runtimes

    prepare_native_runtimes()
    import torch

    data = np.ascontiguousarray(data, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] < 2:
        raise InputError("training a concept model needs at least 2 embedding rows")
    if not np.isfinite(data).all():
        raise InputError("the embeddings contain NaN or infinite values")
    if not 1 <= k <= n_features:
        raise InputError(f"k must be between 1 and n_features ({n_features}), got {k}")
    n_rows = data.shape[0]
    batch_size = min(batch_size, n_rows)
    epochs = default_epochs(n_rows) if epochs is None else int(epochs)
    if epochs < 1:
        raise InputError(f"epochs must be at least 1, got {epochs}")

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(MAX_THREADS, os.cpu_count() or 1)))
    try:
        return _train(torch, data, n_features, k, seed, epochs, batch_size, aux_coef, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    torch: Any,
    data: NDArray[np.float32],
    n_features: int,
    k: int,
    seed: int,
    epochs: int,
    batch_size: int,
    aux_coef: float,
    progress: Progress,
) -> SaeWeights:
    generator = torch.Generator().manual_seed(seed)
    # Embeddings read back from the store are read-only; torch only reads them, but warns.
    x_all = torch.from_numpy(data if data.flags.writeable else data.copy())
    n_rows, dim = x_all.shape
    k_aux = min(max(dim // 2, k), n_features)

    b_dec = x_all.mean(dim=0).clone().requires_grad_(True)
    # Start the decoder on random directions and the encoder as its transpose: the paper finds
    # this tied start leaves far fewer features dead.
    w_dec = torch.randn(n_features, dim, generator=generator)
    w_dec = (w_dec / w_dec.norm(dim=1, keepdim=True)).requires_grad_(True)
    w_enc = w_dec.detach().clone().requires_grad_(True)
    b_enc = torch.zeros(n_features, requires_grad=True)
    params = [w_enc, b_enc, w_dec, b_dec]
    optimiser = torch.optim.Adam(params, lr=LEARNING_RATE)
    # The loss is normalised by the data's variance so the learning rate suits any embedding scale.
    variance = float(((x_all - x_all.mean(dim=0)) ** 2).sum(dim=1).mean())
    variance = max(variance, 1e-12)
    # A feature counts as dead when it has not fired for a whole epoch of rows.
    rows_since_fired = torch.zeros(n_features, dtype=torch.long)

    for epoch in range(epochs):
        order = torch.randperm(n_rows, generator=generator)
        for start in range(0, n_rows, batch_size):
            x = x_all[order[start : start + batch_size]]
            pre = (x - b_dec) @ w_enc.T + b_enc
            values, indices = pre.topk(k, dim=1)
            values = values.relu()
            # Decode from the k active rows only: a gather is far cheaper than a dense (B, F) product.
            x_hat = torch.einsum("bk,bkd->bd", values, w_dec[indices]) + b_dec
            residual = x - x_hat
            loss = residual.pow(2).sum(dim=1).mean() / variance

            fired = torch.zeros(n_features, dtype=torch.bool)
            fired[indices[values > 0]] = True
            rows_since_fired += x.shape[0]
            rows_since_fired[fired] = 0
            dead = rows_since_fired >= n_rows
            if aux_coef > 0 and bool(dead.any()):
                loss = loss + aux_coef * _aux_loss(torch, pre, dead, residual, w_dec, k_aux)

            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                # Drop the gradient part that would change the decoder rows' length; they are
                # renormalised after the step anyway, and this keeps Adam's moments meaningful.
                parallel = (w_dec.grad * w_dec).sum(dim=1, keepdim=True)
                w_dec.grad -= parallel * w_dec
            optimiser.step()
            with torch.no_grad():
                w_dec /= w_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)
        progress("concepts", epoch + 1, epochs)

    return SaeWeights(
        w_enc=w_enc.detach().numpy().astype(np.float32, copy=True),
        b_enc=b_enc.detach().numpy().astype(np.float32, copy=True),
        w_dec=w_dec.detach().numpy().astype(np.float32, copy=True),
        b_dec=b_dec.detach().numpy().astype(np.float32, copy=True),
        k=k,
    )


def _aux_loss(torch: Any, pre: Any, dead: Any, residual: Any, w_dec: Any, k_aux: int) -> Any:
    """AuxK: the top ``k_aux`` dead features try to reconstruct the live features' residual."""
    n_dead = int(dead.sum())
    masked = pre.masked_fill(~dead, float("-inf"))
    values, indices = masked.topk(min(k_aux, n_dead), dim=1)
    residual = residual.detach()
    aux_hat = torch.einsum("bk,bkd->bd", values.relu(), w_dec[indices])
    error = (residual - aux_hat).pow(2).sum(dim=1).mean()
    return error / residual.pow(2).sum(dim=1).mean().clamp_min(1e-12)


def encode_topk(
    weights: SaeWeights, embeddings: NDArray[np.floating], *, chunk: int = 4096
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Return each row's top-k feature ids and activations, ``(n, k)`` each (numpy only).

    Activations are ``>= 0``; ids whose activation is 0 are inactive. Rows are ranked by
    activation, largest first.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] != weights.b_dec.shape[0]:
        raise InputError(
            f"embeddings have dimension {x.shape[1]}, the concept model expects {weights.b_dec.shape[0]}"
        )
    k = weights.k
    ids = np.empty((x.shape[0], k), dtype=np.int64)
    acts = np.empty((x.shape[0], k), dtype=np.float32)
    for start in range(0, x.shape[0], chunk):
        pre = (x[start : start + chunk] - weights.b_dec) @ weights.w_enc.T + weights.b_enc
        part = np.argpartition(-pre, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(pre, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        ids[start : start + chunk] = np.take_along_axis(part, order, axis=1)
        acts[start : start + chunk] = np.maximum(np.take_along_axis(vals, order, axis=1), 0.0)
    return ids, acts


def reconstruct(
    weights: SaeWeights, ids: NDArray[np.int64], acts: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Decode top-k ids and activations back to ``(n, d)`` embeddings."""
    out = np.einsum("nk,nkd->nd", acts, weights.w_dec[ids]) + weights.b_dec
    return out.astype(np.float32, copy=False)


def fraction_of_variance_explained(data: NDArray[np.float32], recon: NDArray[np.float32]) -> float:
    """``1 - SSE / total sum of squares about the mean``: 1 is perfect, 0 is the mean's quality."""
    total = float(((data - data.mean(axis=0)) ** 2).sum())
    if total <= 0:
        return 1.0
    return 1.0 - float(((data - recon) ** 2).sum()) / total
