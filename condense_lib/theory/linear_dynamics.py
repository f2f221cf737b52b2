"""The linear dynamics near zero weights, solved in closed form (Prop. 1, App. C.2-C.3),
and the real dynamics measured against it (eqs. 38-45).

Variables are the paper's rescaled ones (eqs. 27-28): theta = eps theta_bar, and
theta_bar is written theta below. Kernel beta has theta_{W, beta} (D,) -- its C m^2
weights (input channel, then p, then q) and its bias -- and theta_{a, beta} (P,) -- its
readout over the P = H1 W1 positions (u, then v). These are the column and row orders
of ``build_Z``. Arrays hold all M kernels at once: (M, D) and (M, P), with a leading
time axis (T, M, D) and (T, M, P) for trajectories.

**Time.** Gradient flow d theta / dt = -grad R_S (eq. 20) in the rescaled variables is
d theta_bar / dt = (1/eps) d theta / dt = -(1/eps) grad_theta R_S(eps theta_bar), with the
*same* t (eqs. 26-28): the 1/eps of the rescaling and the eps that grad_theta R_S carries
cancel. GD with learning rate lr is the Euler scheme with step lr in either set of
variables, so after k steps the time is t = lr k. Near zero weights GD iterates the
linear map I + lr A exactly; ``closed_form(..., lr=lr)`` gives those iterates in closed
form, and ``lr=None`` the gradient flow of Prop. 1 (their limit as lr -> 0).

Maths only: imports numpy and scipy, nothing of the model or the trainer.
Used in the chapters "The closed form" and "Real versus linear dynamics, and T_eff".
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .checks import as_array
from .data_matrix import build_A, spectrum

__all__ = [
    "closed_form", "reference_solution", "linear_field", "frozen_part", "velocity", "relative_distance", "gd_step",
]


_OVERFLOW = 700.0  # exp(700) ~ 1e304: the largest growth float64 holds with margin


def _check_Z(Z) -> np.ndarray:
    Z = as_array(Z, "Z")
    if Z.ndim != 2:
        raise ValueError(f"Z must be a matrix (P, D), got shape {Z.shape}; build it with build_Z")
    return Z


def _check_pair(Z: np.ndarray, theta_W, theta_a, lead: str = "M"):
    """theta_W (..., M, D) and theta_a (..., M, P) matching Z (P, D)."""
    P, D = Z.shape
    theta_W, theta_a = as_array(theta_W, "theta_W"), as_array(theta_a, "theta_a")
    if theta_W.ndim < 2 or theta_W.shape[-1] != D:
        raise ValueError(
            f"theta_W must have shape ({lead}, D) with D = {D} (the columns of Z), got {theta_W.shape}; "
            "one row per kernel: its C m^2 weights, then its bias"
        )
    if theta_a.ndim < 2 or theta_a.shape[-1] != P:
        raise ValueError(
            f"theta_a must have shape ({lead}, P) with P = {P} (the rows of Z, positions H1 W1), "
            f"got {theta_a.shape}; one row per kernel: its readout a_(u,v), u then v"
        )
    if theta_W.shape[:-1] != theta_a.shape[:-1]:
        raise ValueError(
            f"theta_W {theta_W.shape} and theta_a {theta_a.shape} must have the same leading axes (the kernels)"
        )
    return theta_W, theta_a


def _svd(Z: np.ndarray):
    """The nonzero part of the SVD of Z (eq. 36, from ``theory.spectrum``): U (P, r), lambda (r,), V (D, r)."""
    s = spectrum(Z)
    return s.U[:, :s.rank], s.singular_values[:s.rank], s.V[:, :s.rank]


def closed_form(Z, theta_W0, theta_a0, *, times, lr: Optional[float] = None, return_a: bool = True):
    r"""The solution of the linear dynamics d theta_W / dt = Z^T theta_a, d theta_a / dt = Z theta_W
    (eqs. 38, 43) for M kernels at once: Prop. 1, eq. 44, with the constants of eq. 42.

    With the SVD Z = U Lambda V^T (eq. 36), rank r, x_k = <theta_W^0, v_k> and
    y_k = <theta_a^0, u_k>, c_k = (x_k + y_k)/2 and d_k = (x_k - y_k)/2 (eq. 42):

    .. math::
        \theta_W(t) = \sum_{k \le r} [c_k e^{\lambda_k t} + d_k e^{-\lambda_k t}] v_k
                      + \mathcal{P}_{(r+1):D}\, \theta_W^0, \qquad
        \theta_a(t) = \sum_{k \le r} [c_k e^{\lambda_k t} - d_k e^{-\lambda_k t}] u_k
                      + \mathcal{P}_{(r+1):P}\, \theta_a^0,

    computed as x_k cosh + y_k sinh (and y_k cosh + x_k sinh), which is exact for any
    lambda t up to float64's range. The last terms are the frozen parts of Remark 5: the
    projections on the null spaces of Z and Z^T, which do not move. Any P and D work
    (P < D, e.g. small images, leaves D - r frozen directions in every kernel).

    With ``lr``: the iterates of GD with step lr instead, theta_k = (I + lr A)^k theta_0,
    which is the same formula with exp(+-lambda_k t) replaced by (1 +- lr lambda_k)^(t / lr)
    (A has eigenvalues +-lambda_k on (v_k, +-u_k)); it tends to Prop. 1 as lr -> 0.

    Parameters
    ----------
    Z : (P, D) from ``build_Z``.
    theta_W0 : (M, D) initial theta_{W, beta}, rescaled (eq. 28: N(0, 1) entries).
    theta_a0 : (M, P) initial theta_{a, beta}.
    times : (T,) times t >= 0; with ``lr``, multiples of lr (t = lr x steps).
    lr : None for gradient flow (Prop. 1), or the GD step.
    return_a : False to skip theta_a(t) (saves memory for large M P).

    Returns
    -------
    theta_W (T, M, D) and theta_a (T, M, P) (``None`` when ``return_a`` is False).
    """
    Z = _check_Z(Z)
    theta_W0, theta_a0 = _check_pair(Z, theta_W0, theta_a0)
    if theta_W0.ndim != 2:
        raise ValueError(f"theta_W0 must be (M, D), got shape {theta_W0.shape}")
    times = as_array(times, "times", ndim=1)
    if (times < 0).any():
        raise ValueError("times must be >= 0: the closed form is for t forward from the initialization")
    U, lam, V = _svd(Z)
    x, y = theta_W0 @ V, theta_a0 @ U  # (M, r): <theta_W0, v_k>, <theta_a0, u_k>
    if lr is None:
        growth = np.outer(times, lam)  # (T, r): log of the growth factor exp(lambda_k t)
        if growth.size and growth.max() > _OVERFLOW:
            raise ValueError(f"lambda_1 t = {growth.max():.0f} overflows float64 (max ~{_OVERFLOW:.0f}); use smaller times")
        ch, sh = np.cosh(growth), np.sinh(growth)
    else:
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive GD step, got {lr!r}")
        steps = times / lr
        if not np.allclose(steps, np.round(steps), rtol=0, atol=1e-6):
            raise ValueError("with lr, times must be whole multiples of lr (t = lr x number of steps)")
        steps = np.round(steps)
        log_up = np.outer(steps, np.log1p(lr * lam))
        if log_up.size and log_up.max() > _OVERFLOW:
            raise ValueError("(1 + lr lambda_1)^steps overflows float64; use fewer steps")
        up, down = np.power(1 + lr * lam, steps[:, None]), np.power(1 - lr * lam, steps[:, None])
        ch, sh = (up + down) / 2, (up - down) / 2
    frozen_W = theta_W0 - x @ V.T  # P_{(r+1):D} theta_W0, Remark 5
    theta_W = np.einsum("mk,tk,dk->tmd", x, ch, V) + np.einsum("mk,tk,dk->tmd", y, sh, V) + frozen_W
    if not return_a:
        return theta_W, None
    frozen_a = theta_a0 - y @ U.T  # P_{(r+1):P} theta_a0
    theta_a = np.einsum("mk,tk,pk->tmp", y, ch, U) + np.einsum("mk,tk,pk->tmp", x, sh, U) + frozen_a
    return theta_W, theta_a


def reference_solution(Z, theta_W0, theta_a0, *, times, method: str = "solve_ivp", rtol: float = 1e-12, atol: float = 1e-12):
    """The linear dynamics (eq. 43) solved without the SVD, to check ``closed_form`` against:

    - ``"solve_ivp"``: ``scipy.integrate.solve_ivp`` (DOP853) on all kernels at once;
    - ``"expm"``: theta(t) = expm(t A) theta(0) with ``scipy.linalg.expm`` (A of eq. 34).

    Same inputs and outputs as ``closed_form`` (gradient flow, no ``lr``)."""
    from scipy.integrate import solve_ivp
    from scipy.linalg import expm

    Z = _check_Z(Z)
    theta_W0, theta_a0 = _check_pair(Z, theta_W0, theta_a0)
    if theta_W0.ndim != 2:
        raise ValueError(f"theta_W0 must be (M, D), got shape {theta_W0.shape}")
    times = as_array(times, "times", ndim=1)
    P, D = Z.shape
    M = theta_W0.shape[0]
    A = build_A(Z)  # eq. 34
    theta0 = np.concatenate([theta_W0, theta_a0], axis=1).T  # (D + P, M): one column per kernel
    if method == "solve_ivp":
        sol = solve_ivp(lambda t, th: (A @ th.reshape(D + P, M)).ravel(), (0.0, float(times.max())), theta0.ravel(),
                        method="DOP853", t_eval=times, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        theta = sol.y.T.reshape(len(times), D + P, M)
    elif method == "expm":
        theta = np.stack([expm(t * A) @ theta0 for t in times])
    else:
        raise ValueError(f"unknown method {method!r}: choose 'solve_ivp' or 'expm'")
    theta = theta.transpose(0, 2, 1)  # (T, M, D + P)
    return theta[..., :D], theta[..., D:]


def linear_field(Z, theta_W, theta_a):
    """The right-hand side of the linear dynamics, A theta_beta for every kernel (eqs. 34, 38):
    (Z^T theta_{a, beta}, Z theta_{W, beta}). theta_W (..., M, D), theta_a (..., M, P) -> the same shapes."""
    Z = _check_Z(Z)
    theta_W, theta_a = _check_pair(Z, theta_W, theta_a)
    return theta_a @ Z, theta_W @ Z.T


def frozen_part(Z, theta_W, theta_a):
    """The components that the linear dynamics never moves (Remark 5): the projections
    P_{(r+1):D} theta_{W, beta} on the null space of Z and P_{(r+1):P} theta_{a, beta} on the
    null space of Z^T. theta_W (..., M, D), theta_a (..., M, P) -> the same shapes."""
    Z = _check_Z(Z)
    theta_W, theta_a = _check_pair(Z, theta_W, theta_a)
    U, _, V = _svd(Z)
    return theta_W - (theta_W @ V) @ V.T, theta_a - (theta_a @ U) @ U.T


def velocity(theta_W, theta_a, lr: float):
    """The GD velocities (theta_{k+1} - theta_k) / lr of snapshots taken at consecutive epochs.
    Each is exactly the real vector field -(1/eps) grad R_S at theta_k (eqs. 20, 26-28), so
    ``velocity - linear_field`` is (f_beta, g_beta) of eq. 45.

    theta_W (S, M, D), theta_a (S, M, P) at epochs k, k + 1, ..., k + S - 1 ->
    (S - 1, M, D), (S - 1, M, P)."""
    theta_W, theta_a = as_array(theta_W, "theta_W", ndim=3), as_array(theta_a, "theta_a", ndim=3)
    if len(theta_W) < 2 or len(theta_W) != len(theta_a):
        raise ValueError("pass snapshots of at least two consecutive GD steps (leading axis of length S >= 2)")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be the positive GD step, got {lr!r}")
    return np.diff(theta_W, axis=0) / lr, np.diff(theta_a, axis=0) / lr


def relative_distance(theta, reference) -> np.ndarray:
    """||theta(t) - reference(t)|| / ||reference(t)|| over all kernels at each time: how far the
    real dynamics is from the linear one. Each argument is an array (T, M, k) or a tuple of
    such arrays, e.g. ``(theta_W, theta_a)``, joined along the last axis. Returns (T,)."""
    theta, reference = _joined(theta, "theta"), _joined(reference, "reference")
    if theta.shape != reference.shape:
        raise ValueError(f"theta {theta.shape} and reference {reference.shape} must have the same shape")
    T = len(theta)
    return np.linalg.norm((theta - reference).reshape(T, -1), axis=1) / np.linalg.norm(reference.reshape(T, -1), axis=1)


def _joined(parts, name: str) -> np.ndarray:
    parts = parts if isinstance(parts, (tuple, list)) else (parts,)
    arrays = [as_array(p, name, ndim=3) for p in parts]
    if len({a.shape[:2] for a in arrays}) != 1:
        raise ValueError(f"the parts of {name} must share their (T, M) axes, got {[a.shape for a in arrays]}")
    return np.concatenate(arrays, axis=2)


def gd_step(lambda_1: float, lr_lambda: float = 0.05) -> float:
    """A GD step lr = lr_lambda / lambda_1, rounded to two significant digits: lr_lambda steps per
    unit of the fastest time scale 1/lambda_1 of the linear dynamics."""
    if not (np.isfinite(lambda_1) and lambda_1 > 0 and 0 < lr_lambda < 1):
        raise ValueError(f"need lambda_1 > 0 and 0 < lr_lambda < 1, got {lambda_1!r}, {lr_lambda!r}")
    return float(f"{lr_lambda / lambda_1:.2g}")
