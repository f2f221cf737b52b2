"""Measuring condensation: kernel vectors, their cosine similarity (eq. 5), and
scalar measures of how many directions the kernels of a layer occupy.

A *kernel* is W_{., ., alpha, beta}, the m x m slice for one input channel
alpha and one output channel beta (Sec. 3.2); a *filter* is all C_in kernels of
one output channel beta, the theta_{W, beta} of Sec. 5 (with the bias b_beta
appended when ``bias=True``). Torch stores a conv weight as (C_out, C_in, m, m);
the vectors below are rows, flattened in the paper's order (input channel
outermost, then p, then q).

Used in every chapter that shows a heatmap.
"""
from __future__ import annotations

import numpy as np

from .checks import as_array

__all__ = [
    "kernel_vectors",
    "cosine_matrix",
    "cluster_order",
    "amplitudes",
    "cosine_with_ones",
    "leading_direction",
    "aligned_fraction",
    "effective_directions",
]


def kernel_vectors(W, b=None, per: str = "filter", *, bias: bool = False) -> np.ndarray:
    """Vectorize a conv layer's weight ``W`` (C_out, C_in, m, m) into rows.

    ``per="kernel"``: one row per (beta, alpha) pair, shape (C_out * C_in, m*m)
    (rows ordered beta-major), plus a last column b_beta if ``bias``.
    ``per="filter"``: one row per output channel beta, shape (C_out, C_in*m*m),
    plus b_beta if ``bias`` -- the theta_{W, beta} of Sec. 5.
    """
    W = as_array(W, "W")
    if W.ndim != 4 or W.shape[2] != W.shape[3]:
        raise ValueError(f"W must have shape (C_out, C_in, m, m), got {W.shape}")
    c_out, c_in, m, _ = W.shape
    if per == "kernel":
        rows = W.reshape(c_out * c_in, m * m)
        bcol = None if b is None else np.repeat(as_array(b, "b"), c_in)
    elif per == "filter":
        rows = W.reshape(c_out, c_in * m * m)
        bcol = None if b is None else as_array(b, "b")
    else:
        raise ValueError(f"unknown per={per!r}: choose 'kernel' or 'filter'")
    if bias:
        if bcol is None:
            raise ValueError("bias=True needs the bias vector b")
        if bcol.shape[0] != rows.shape[0]:
            raise ValueError(f"b has {len(bcol)} entries but W has {c_out} output channels")
        rows = np.concatenate([rows, bcol[:, None]], axis=1)
    return rows


def _unit_rows(V) -> np.ndarray:
    V = as_array(V, "V")
    if V.ndim != 2:
        raise ValueError(f"expected a (k, dim) array of vectors, got shape {V.shape}")
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("a vector has norm zero: its direction (eq. 5) is undefined")
    return V / norms


def cosine_matrix(V) -> np.ndarray:
    """D(u_i, u_j) of eq. 5 for every pair of rows of ``V``, shape (k, k)."""
    U = _unit_rows(V)
    return np.clip(U @ U.T, -1.0, 1.0)


def cluster_order(cos) -> np.ndarray:
    """An ordering of the vectors that puts similar directions side by side.

    Average-linkage clustering on the distance 1 - D, leaves in optimal order:
    a direction and its opposite form two blocks, which shows as +1 squares on
    the diagonal and -1 blocks off it. Deterministic; used only to draw heatmaps.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    cos = as_array(cos, "cos")
    k = cos.shape[0]
    if k < 3:
        return np.arange(k)
    dist = 1.0 - cos  # directions: a vector and its opposite stay apart
    np.fill_diagonal(dist, 0.0)
    Z = linkage(squareform(np.clip(dist, 0, 2), checks=False), method="average", optimal_ordering=True)
    return leaves_list(Z)


def amplitudes(V) -> np.ndarray:
    """Euclidean norm of each row (the kernel amplitude of Figs. 6b, 12b)."""
    return np.linalg.norm(as_array(V, "V"), axis=1)


def cosine_with_ones(V) -> np.ndarray:
    """D(u, 1) of eq. 5 for each row u: the cosine with the all-ones vector (Figs. 6b, 12b)."""
    U = _unit_rows(V)
    return U.sum(axis=1) / np.sqrt(U.shape[1])


def leading_direction(V) -> np.ndarray:
    """The unit direction shared most by the rows of ``V``, up to sign.

    The top right singular vector of the matrix of unit rows: it maximizes
    sum_i D(u_i, v)^2. Its sign is chosen so that it has a positive sum.
    """
    U = _unit_rows(V)
    _, _, Vt = np.linalg.svd(U, full_matrices=False)
    v = Vt[0]
    return v if v.sum() >= 0 else -v


def aligned_fraction(V, threshold: float = 0.9) -> float:
    """Share of rows whose direction lies within |D(u, v)| > ``threshold`` of the
    leading direction v (either sign): 1 when all kernels lie on one line.

    The book's main scalar measure of condensation onto one line. For k random
    Gaussian vectors in dimension 9 it is close to 0.
    """
    U = _unit_rows(V)
    return float(np.mean(np.abs(U @ leading_direction(V)) > threshold))


def effective_directions(V) -> float:
    """Participation ratio (sum s_i^2)^2 / sum s_i^4 of the singular values s_i of
    the unit rows of ``V``: 1 when all rows lie on one line, about min(k, dim)
    when the directions are spread isotropically. A second, threshold-free measure."""
    s2 = np.linalg.svd(_unit_rows(V), compute_uv=False) ** 2
    return float(s2.sum() ** 2 / np.square(s2).sum())
