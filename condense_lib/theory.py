"""The linearized two-layer CNN: the data matrix Z and the matrix A (App. C.2, D).

Near zero weights, with e_i ~ -y_i, gradient flow on each kernel beta is the
linear system d theta_beta / dt = A theta_beta (eqs. 32-34), whose matrix is
built from the data alone through Z (eqs. 31, 35; several channels: 66, 70).
Used in the theory chapters.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["build_Z"]


def _as_float64(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf: clean the data first")
    return a


def build_Z(x, y, m: int) -> np.ndarray:
    r"""The data matrix Z of eqs. 35 (one channel) and 70 (C channels).

    With the label-weighted mean image z_{alpha, r, c} = (1/n) sum_i y_i x_{r, c, alpha}(i)
    and z = (1/n) sum_i y_i (eq. 31), the row of output position (u, v) is

    .. math:: Z_{(u,v),:} = (z_{1,u:u+m-1,v:v+m-1}, \dots, z_{C,u:u+m-1,v:v+m-1}, z),

    each m x m block flattened row-major (p, then q).

    Parameters
    ----------
    x : array (n, C, H, W), numpy or torch. The first spatial axis is the paper's u.
    y : array (n,), the scalar targets.
    m : kernel size.

    Returns
    -------
    float64 array of shape (H1 * W1, C * m * m + 1), H1 = H - m + 1, W1 = W - m + 1:
    rows are positions (u, v) row-major, columns are input channel outermost,
    then (p, q) row-major, then the bias column z.
    """
    x = _as_float64(x, "x")
    y = _as_float64(y, "y")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (n, C, H, W), got {x.shape}; add a channel axis for grey images")
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,) of scalar targets, got {y.shape}; for one-hot labels pick a scalar target")
    n, C, H, W = x.shape
    if y.shape[0] != n:
        raise ValueError(f"x has {n} samples but y has {y.shape[0]}: pass matching inputs and targets")
    if not (isinstance(m, (int, np.integer)) and 1 <= m <= min(H, W)):
        raise ValueError(f"m = {m!r} must be an integer in 1..{min(H, W)} for {H}x{W} images")
    z_img = np.einsum("i,ichw->chw", y, x) / n  # (C, H, W), eq. 31
    windows = np.lib.stride_tricks.sliding_window_view(z_img, (m, m), axis=(1, 2))  # (C, H1, W1, m, m)
    H1, W1 = H - m + 1, W - m + 1
    rows = windows.transpose(1, 2, 0, 3, 4).reshape(H1 * W1, C * m * m)
    return np.concatenate([rows, np.full((H1 * W1, 1), y.mean())], axis=1)
