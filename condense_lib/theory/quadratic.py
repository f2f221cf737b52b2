"""Multiplicity 2 (Definition 1, Remark 1: x tanh x): the second-order term of the Taylor
expansion at zero weights (eq. 30 carried one order further). The per-position label-weighted
second moments Q_p of the patches, each kernel's matrix B_k of its leading-order flow
d theta_k / dt = B_k theta_k, the quadratic vector field, and the top eigenpairs of B_k.

Maths only: numpy. Used in the chapter "Multiplicity 2: x tanh x".
"""
from __future__ import annotations

import numpy as np

from .checks import as_array, check_m, check_xy
from .data_matrix import patch_rows

__all__ = ["build_Q", "build_B", "quadratic_field", "top_eigenpairs"]


def _patches(x: np.ndarray, m: int) -> np.ndarray:
    """The vectors xtilde_p(i) of every image: its m x m window at position p, then a 1 (n, P, D)."""
    rows = patch_rows(x, m)  # (n, P, C m^2)
    return np.concatenate([rows, np.ones((*rows.shape[:2], 1))], axis=2)


def build_Q(x, y, m: int) -> np.ndarray:
    r"""The label-weighted second moments of the patches, one matrix per output position p:

    .. math:: Q_p = \frac{1}{n} \sum_{i=1}^n y_i\, \tilde{x}_p(i)\, \tilde{x}_p(i)^\top ,

    with xtilde_p(i) the m x m window of x_i at p (all channels), then a 1 for the bias: the
    rows of eq. 35 before the label-weighted average, whose first moment is the row Z_p
    (``build_Z``: Z_p = (1/n) sum_i y_i xtilde_p(i)). Q_p is to an activation of multiplicity 2
    what Z is to multiplicity 1: with sigma(z) = z^2 + O(z^4) the Taylor expansion (eq. 30) gives
    d a_{k,p} / dt = theta_k^T Q_p theta_k and d theta_k / dt = B_k theta_k (``build_B``).

    Parameters
    ----------
    x : array (n, C, H, W); y : array (n,) scalar targets; m : kernel size.

    Returns
    -------
    float64 array (P, D, D), P = H1 W1 positions row-major, D = C m^2 + 1 in the column order of
    ``build_Z``. Each Q_p is symmetric, and positive semi-definite when every y_i >= 0.
    """
    x, y = check_xy(x, y)
    check_m(m, x.shape[2], x.shape[3])
    X = _patches(x, m)  # (n, P, D)
    return np.einsum("i,ipd,ipe->pde", y, X, X) / x.shape[0]


def _check_Q(Q) -> np.ndarray:
    Q = as_array(Q, "Q")
    if Q.ndim != 3 or Q.shape[1] != Q.shape[2]:
        raise ValueError(f"Q must have shape (P, D, D), got {Q.shape}; build it with build_Q")
    return Q


def _check_theta(theta, P_or_D: int, name: str, what: str) -> np.ndarray:
    theta = as_array(theta, name)
    if theta.ndim != 2 or theta.shape[1] != P_or_D:
        raise ValueError(f"{name} must have shape (M, {P_or_D}), one row of {what} per kernel; got {theta.shape}")
    return theta


def build_B(Q, theta_a) -> np.ndarray:
    r"""Each kernel's matrix B_k of the leading-order flow for an activation of multiplicity 2:

    .. math:: B_k = 2 \sum_p a_{k,p}\, Q_p = \frac{2}{n} \sum_{i=1}^n y_i \sum_p a_{k,p}\,
              \tilde{x}_p(i)\, \tilde{x}_p(i)^\top .

    Derivation (the expansion of eq. 30 one order further). Gradient flow on R_S (eq. 1) moves
    kernel k by d theta_k / dt = -(1/n) sum_i e_i sum_p a_{k,p} sigma'(theta_k . xtilde_p(i)) xtilde_p(i)
    (eq. 23). With weights of size eps, e_i = -y_i + O(eps^3), and sigma'(z) = sigma''(0) z + O(z^3)
    = 2 z + O(z^3) for x tanh x; so d theta_k / dt = B_k theta_k up to a relative O(eps^2): a linear
    flow, but with a matrix of its own for each kernel, set by its readout a_k (Q_p from
    ``build_Q``). Multiplying theta_a by eps multiplies B_k by eps: the time scale is 1 / eps.

    Parameters
    ----------
    Q : (P, D, D) from ``build_Q``; theta_a : (M, P), the readout of each kernel position by
        position (``theta_bar``'s theta_a, one snapshot).

    Returns
    -------
    float64 array (M, D, D), symmetric.
    """
    Q = _check_Q(Q)
    theta_a = _check_theta(theta_a, Q.shape[0], "theta_a", "P readout weights")
    return 2.0 * np.einsum("kp,pde->kde", theta_a, Q)


def quadratic_field(Q, theta_W, theta_a) -> tuple[np.ndarray, np.ndarray]:
    r"""The leading (second-order) term of the gradient-flow vector field for an activation of
    multiplicity 2 with sigma''(0) = 2 (x tanh x), kernel by kernel:

    .. math:: \frac{d\theta_k}{dt} = B_k \theta_k, \qquad
              \frac{d a_{k,p}}{dt} = \theta_k^\top Q_p\, \theta_k ,

    from d a_{k,p} / dt = -(1/n) sum_i e_i sigma(theta_k . xtilde_p(i)) (eq. 23) with
    sigma(z) = z^2 + O(z^4) and e_i = -y_i. Homogeneous of degree 2: at theta = eps theta_bar
    the rescaled field d theta_bar / dt (eqs. 27-28) is eps times this field of theta_bar, up
    to a relative O(eps^2).

    Parameters
    ----------
    Q : (P, D, D); theta_W : (M, D) kernels with their bias; theta_a : (M, P) readouts.

    Returns
    -------
    ``(dW, da)``: (M, D) and (M, P).
    """
    Q = _check_Q(Q)
    theta_W = _check_theta(theta_W, Q.shape[1], "theta_W", "D = C m^2 + 1 kernel entries")
    theta_a = _check_theta(theta_a, Q.shape[0], "theta_a", "P readout weights")
    if theta_W.shape[0] != theta_a.shape[0]:
        raise ValueError(f"theta_W has {theta_W.shape[0]} kernels but theta_a {theta_a.shape[0]}: pass one row each")
    dW = np.einsum("kde,ke->kd", build_B(Q, theta_a), theta_W)
    da = np.einsum("kd,pde,ke->kp", theta_W, Q, theta_W)
    return dW, da


def top_eigenpairs(B) -> tuple[np.ndarray, np.ndarray]:
    """The largest eigenvalue of each symmetric B_k and its unit eigenvector: the growth rate
    and the direction of kernel k under d theta_k / dt = B_k theta_k (``build_B``). The
    eigenvector's sign is arbitrary (x tanh x is even: theta and -theta give one network),
    here the one whose kernel part sums to >= 0.

    B : (M, D, D). Returns ``(rates, directions)``: (M,) and (M, D).

    >>> rates, u = top_eigenpairs(np.diag([1.0, 3.0, 2.0])[None])
    >>> rates.tolist(), u.tolist()
    ([3.0], [[0.0, 1.0, 0.0]])
    """
    B = as_array(B, "B")
    if B.ndim != 3 or B.shape[1] != B.shape[2]:
        raise ValueError(f"B must have shape (M, D, D), got {B.shape}; build it with build_B")
    evals, V = np.linalg.eigh(B)  # ascending
    u = V[:, :, -1]
    sign = np.where(u[:, :-1].sum(axis=1) < 0, -1.0, 1.0)
    return evals[:, -1], (u * sign[:, None]) + 0.0
