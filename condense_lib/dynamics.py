"""The linear dynamics solved in closed form, the real dynamics measured against it,
and the effective time T_eff of Theorem 1 (App. C.2-C.5, Sec. 5).

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

Used in the chapters "The closed form", "Real versus linear dynamics, and T_eff" and
"Theorem 1, numerically".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .experiments import Config, run
from .theory import build_Z, spectrum, theta_bar

__all__ = [
    "closed_form",
    "neuron_energy",
    "E_max",
    "phi",
    "gamma_exponent",
    "T_eff",
    "t_0",
    "T_eff_lower_bound",
    "eq59_threshold",
    "relative_change",
    "alignment",
    "angle_to",
    "first_time",
    "sup_until",
    "relative_distance",
    "velocity",
    "linear_field",
    "frozen_part",
    "reference_solution",
    "prop2_constants",
    "prop2_bound",
    "gd_step",
    "Theorem1Scan",
    "theorem1_scan",
]

_OVERFLOW = 700.0  # exp(700) ~ 1e304: the largest growth float64 holds with margin


# ----------------------------------------------------------------------------- input checks


def _array(a, name: str, ndim: Optional[int] = None) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _check_Z(Z) -> np.ndarray:
    Z = _array(Z, "Z")
    if Z.ndim != 2:
        raise ValueError(f"Z must be a matrix (P, D), got shape {Z.shape}; build it with build_Z")
    return Z


def _check_pair(Z: np.ndarray, theta_W, theta_a, lead: str = "M"):
    """theta_W (..., M, D) and theta_a (..., M, P) matching Z (P, D)."""
    P, D = Z.shape
    theta_W, theta_a = _array(theta_W, "theta_W"), _array(theta_a, "theta_a")
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


# ----------------------------------------------------------------------------- Prop. 1


def closed_form(Z, theta_W0, theta_a0, times, lr: Optional[float] = None, return_a: bool = True):
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
    times = _array(times, "times", ndim=1)
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


# ----------------------------------------------------------------------------- energy and T_eff


def neuron_energy(theta_W, theta_a) -> np.ndarray:
    """E_beta = (||theta_{W, beta}||^2 + ||theta_{a, beta}||^2)^(1/2) (eq. 46).

    theta_W (..., M, D), theta_a (..., M, P) -> (..., M)."""
    theta_W, theta_a = _array(theta_W, "theta_W"), _array(theta_a, "theta_a")
    if theta_W.shape[:-1] != theta_a.shape[:-1]:
        raise ValueError(f"theta_W {theta_W.shape} and theta_a {theta_a.shape} must share their leading axes")
    return np.sqrt(np.square(theta_W).sum(-1) + np.square(theta_a).sum(-1))


def E_max(theta_W, theta_a) -> np.ndarray:
    """E_max = max_beta E_beta (eq. 47): (..., M, D), (..., M, P) -> (...)."""
    return neuron_energy(theta_W, theta_a).max(-1)


def phi(theta_W, theta_a) -> np.ndarray:
    """phi(t) = sup_{s <= t} E_max(s) (eq. 52) along a trajectory (T, M, D), (T, M, P) -> (T,),
    the sup taken over the recorded times."""
    theta_W = _array(theta_W, "theta_W", ndim=3)
    return np.maximum.accumulate(E_max(theta_W, theta_a))


def gamma_exponent(M: int, eps: float) -> float:
    """gamma = -log(eps^2) / log(M) (Assumption 3, eq. 8) at a finite width M: eps^2 = M^(-gamma)."""
    if not (isinstance(M, (int, np.integer)) and M >= 2):
        raise ValueError(f"M must be an integer >= 2 to define gamma = -log eps^2 / log M, got {M!r}")
    if not (np.isfinite(eps) and 0 < eps):
        raise ValueError(f"eps must be positive, got {eps!r}")
    return float(-np.log(eps**2) / np.log(M))


def first_time(times, condition) -> float:
    """The first of ``times`` (T,) where ``condition`` (T,) holds; ``inf`` when it never does."""
    times = _array(times, "times", ndim=1)
    condition = np.asarray(condition, dtype=bool)
    if condition.shape != times.shape:
        raise ValueError(f"condition {condition.shape} must match times {times.shape}")
    hits = np.flatnonzero(condition)
    return float(times[hits[0]]) if hits.size else float("inf")


def T_eff(times, phi_t, M: int, eps: float) -> float:
    """The effective time of eq. 54 along a recorded run,

        T_eff = inf { t > 0 : M eps^2 phi(t)^3 > M^(-tau) },  tau = (gamma - 1) / 4,

    gamma from eps^2 = M^(-gamma) (``gamma_exponent``). The condition reads
    phi(t) > M^((gamma - 1)/4) whatever eps: T_eff is the time at which the largest
    neuron energy passes M^((gamma-1)/4).

    Parameters
    ----------
    times : (T,) increasing recorded times, starting at 0.
    phi_t : (T,) phi at those times (``phi``).

    Returns
    -------
    The first recorded time where the condition holds: 0 when it holds at t = 0 (then it
    holds for all small t > 0 too), ``inf`` when it never holds on the record (T_eff lies
    beyond the run).
    """
    times, phi_t = _array(times, "times", ndim=1), _array(phi_t, "phi_t", ndim=1)
    if times.shape != phi_t.shape:
        raise ValueError(f"times {times.shape} and phi_t {phi_t.shape} must have the same length")
    gamma = gamma_exponent(M, eps)
    tau = (gamma - 1) / 4
    return first_time(times, M * eps**2 * phi_t**3 > float(M) ** (-tau))


def _phi0_bound(M: int, D: int, P: int, delta: float) -> float:
    return float(np.sqrt(2 * (D + P) * np.log(2 * M * (D + P) / delta)))  # eq. 53


def t_0(lambda_1: float, M: int, gamma: float, D: int, P: int, delta: float = 0.1) -> float:
    """The time t_0 of eq. 58, where the bound 2 phi_0 exp(lambda_1 t) of eq. 57 reaches (1/2) M^((gamma-1)/4):

        t_0 = (1/lambda_1) [ (gamma - 1)/4 log M - log 4 - log phi_0 ],
        phi_0 = (2 (D + P) log(2 M (D + P) / delta))^(1/2)   (eq. 53, with D = m^2 + 1, P = W1 H1).

    The paper shows T_eff >= t_0 with probability 1 - delta, for M large enough. Negative
    when M^((gamma-1)/4) < 4 phi_0.
    """
    _check_theory_args(lambda_1, M, gamma)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    phi0 = _phi0_bound(M, D, P, delta)
    return float(((gamma - 1) / 4 * np.log(M) - np.log(4) - np.log(phi0)) / lambda_1)


def T_eff_lower_bound(lambda_1: float, M: int, gamma: float, eta_0: Optional[float] = None) -> float:
    """The lower bound of eqs. 13 and 59,

        T_eff > (1/lambda_1) [ log(1/4) + ((gamma - 1)/4 - eta_0) log M ],

    stated for any eta_0 > (gamma - 1)/100; the default is that infimum, (gamma - 1)/100.
    It follows from t_0 (eq. 58) only when eta_0 log M exceeds log phi_0 (see ``eq59_threshold``).
    """
    _check_theory_args(lambda_1, M, gamma)
    eta_0 = (gamma - 1) / 100 if eta_0 is None else float(eta_0)
    return float((np.log(0.25) + ((gamma - 1) / 4 - eta_0) * np.log(M)) / lambda_1)


def eq59_threshold(gamma: float, D: int, P: int, delta: float = 0.1, eta_0: Optional[float] = None) -> float:
    """log10 of the smallest width M from which t_0 (eq. 58) exceeds the bound of eq. 59:
    the M solving eta_0 log M = log phi_0(M) (eq. 53), by bisection on log M.

    Below it, eq. 59 is not a consequence of eq. 58 and need not hold."""
    if not gamma > 1:
        raise ValueError(f"the theorem needs gamma > 1, got {gamma!r}")
    eta_0 = (gamma - 1) / 100 if eta_0 is None else float(eta_0)

    def excess(log_M):  # eta_0 log M - log phi_0(M), with phi_0 written in log M to avoid overflow
        return eta_0 * log_M - 0.5 * np.log(2 * (D + P) * (np.log(2 * (D + P) / delta) + log_M))

    lo, hi = 0.0, 1.0
    while excess(hi) <= 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) <= 0 else (lo, mid)
    return float(hi / np.log(10))


def _check_theory_args(lambda_1, M, gamma):
    if not (np.isfinite(lambda_1) and lambda_1 > 0):
        raise ValueError(f"lambda_1 must be the (positive) top singular value of Z, got {lambda_1!r}")
    if not (isinstance(M, (int, np.integer)) and M >= 1):
        raise ValueError(f"M must be a positive integer (the number of kernels), got {M!r}")
    if not gamma > 1:
        raise ValueError(f"the theorem needs gamma > 1 (eps^2 = M^-gamma), got {gamma!r}")


# ----------------------------------------------------------------------------- Theorem 1


def relative_change(theta_W) -> np.ndarray:
    """||theta_W(t) - theta_W(0)||_2 / ||theta_W(0)||_2 of eq. 14, theta_W = vec(theta_{W, beta})
    over all kernels: (T, M, D) -> (T,), time 0 being the first row."""
    theta_W = _array(theta_W, "theta_W", ndim=3)
    delta = (theta_W - theta_W[:1]).reshape(len(theta_W), -1)
    return np.linalg.norm(delta, axis=1) / np.linalg.norm(theta_W[0])


def alignment(theta_W, v1) -> np.ndarray:
    """||theta_{W, v1}(t)||_2 / ||theta_W(t)||_2 of eq. 15, theta_{W, v1} = (<theta_{W, beta}, v_1>)_beta:
    (T, M, D), v1 (D,) -> (T,). 1 when every kernel lies on the line of v_1 (either sign)."""
    theta_W = _array(theta_W, "theta_W", ndim=3)
    v1 = _array(v1, "v1", ndim=1)
    if v1.shape[0] != theta_W.shape[-1]:
        raise ValueError(f"v1 has {v1.shape[0]} entries but the kernels have D = {theta_W.shape[-1]}")
    v1 = v1 / np.linalg.norm(v1)
    return np.linalg.norm(theta_W @ v1, axis=1) / np.linalg.norm(theta_W.reshape(len(theta_W), -1), axis=1)


def angle_to(theta_W, v) -> np.ndarray:
    """The angle in radians, in [0, pi/2], between each kernel's line and the line of v:
    arccos |<theta_{W, beta}, v>| / (||theta_{W, beta}|| ||v||). (..., M, D), (D,) -> (..., M).

    Computed as atan2 of the orthogonal and parallel parts, accurate down to tiny angles."""
    theta_W = _array(theta_W, "theta_W")
    v = _array(v, "v", ndim=1)
    if v.shape[0] != theta_W.shape[-1]:
        raise ValueError(f"v has {v.shape[0]} entries but the kernels have D = {theta_W.shape[-1]}")
    v = v / np.linalg.norm(v)
    parallel = theta_W @ v
    orthogonal = np.linalg.norm(theta_W - parallel[..., None] * v, axis=-1)
    return np.arctan2(orthogonal, np.abs(parallel))


def sup_until(times, values, T: float) -> float:
    """sup_{t in [0, T]} of a recorded quantity (Theorem 1's sup over [0, T_eff]): the max of
    ``values`` (T,) over the recorded ``times`` <= T (the value at t = 0 when T = 0)."""
    times, values = _array(times, "times", ndim=1), _array(values, "values", ndim=1)
    if times.shape != values.shape:
        raise ValueError(f"times {times.shape} and values {values.shape} must have the same length")
    inside = times <= T
    if not inside.any():
        raise ValueError(f"no recorded time is <= T = {T}")
    return float(values[inside].max())


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
    arrays = [_array(p, name, ndim=3) for p in parts]
    if len({a.shape[:2] for a in arrays}) != 1:
        raise ValueError(f"the parts of {name} must share their (T, M) axes, got {[a.shape for a in arrays]}")
    return np.concatenate(arrays, axis=2)


# ----------------------------------------------------------------------------- real runs


def velocity(theta_W, theta_a, lr: float):
    """The GD velocities (theta_{k+1} - theta_k) / lr of snapshots taken at consecutive epochs.
    Each is exactly the real vector field -(1/eps) grad R_S at theta_k (eqs. 20, 26-28), so
    ``velocity - linear_field`` is (f_beta, g_beta) of eq. 45.

    theta_W (S, M, D), theta_a (S, M, P) at epochs k, k + 1, ..., k + S - 1 ->
    (S - 1, M, D), (S - 1, M, P)."""
    theta_W, theta_a = _array(theta_W, "theta_W", ndim=3), _array(theta_a, "theta_a", ndim=3)
    if len(theta_W) < 2 or len(theta_W) != len(theta_a):
        raise ValueError("pass snapshots of at least two consecutive GD steps (leading axis of length S >= 2)")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be the positive GD step, got {lr!r}")
    return np.diff(theta_W, axis=0) / lr, np.diff(theta_a, axis=0) / lr


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


def reference_solution(Z, theta_W0, theta_a0, times, method: str = "solve_ivp", rtol: float = 1e-12, atol: float = 1e-12):
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
    times = _array(times, "times", ndim=1)
    P, D = Z.shape
    M = theta_W0.shape[0]
    A = np.block([[np.zeros((D, D)), Z.T], [Z, np.zeros((P, P))]])  # eq. 34
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


def prop2_constants(x, y, D: int, P: int, C_L: float = 1.0):
    """The constants of Prop. 2 that the paper omits (see ``prop2_bound``):
    K_1 = C_L^2 c^2 D P / 2 and K_2 = C_L c^3 D sqrt(P), c = max(1, max|x|, max|y|).
    x (n, C, H, W), y (n,); D = C m^2 + 1, P = H1 W1."""
    x, y = _array(x, "x", ndim=4), _array(y, "y", ndim=1)
    c = max(1.0, np.abs(x).max(), np.abs(y).max())
    return float(C_L**2 * c**2 * D * P / 2), float(C_L * c**3 * D * np.sqrt(P))


def prop2_bound(theta_W, theta_a, eps: float, x, y, C_L: float = 1.0, as_printed: bool = False):
    r"""The right-hand sides of Prop. 2 (eq. 48) with the constants the paper omits:

    .. math::
        \|f_\beta\| \le (K_1 M \varepsilon^2 E_{\max}^2 + K_2 \varepsilon E_{\max}) \|\theta_{a,\beta}\|, \quad
        \|g_\beta\| \le (K_1 M \varepsilon^2 E_{\max}^2 + K_2 \varepsilon E_{\max}) \|\theta_{W,\beta}\|,

    K_1 = C_L^2 c^2 D P / 2 and K_2 = C_L c^3 D sqrt(P), with c = max(1, max|x|, max|y|)
    (Assumption 2's constant) and C_L bounding |sigma'|, |sigma''| (Assumption 1;
    C_L = 1 for tanh). They follow the paper's proof line by line, with
    |sigma(z)| <= C_L |z|, |sigma'(z) - 1| <= C_L |z|, |sigma(z) - z| <= C_L z^2 / 2 and
    Cauchy-Schwarz over the P positions and D kernel entries.

    theta_W (..., M, D), theta_a (..., M, P) (any leading time axes); x (n, C, H, W), y (n,).
    ``as_printed``: eq. 48 as the paper prints it, K_1 = K_2 = 1.
    Returns the bounds on ||f_beta|| and ||g_beta||, each (..., M).
    """
    theta_W, theta_a = _array(theta_W, "theta_W"), _array(theta_a, "theta_a")
    if theta_W.ndim < 2 or theta_W.shape[:-1] != theta_a.shape[:-1]:
        raise ValueError(f"theta_W {theta_W.shape} and theta_a {theta_a.shape} must be (..., M, D) and (..., M, P)")
    M, D = theta_W.shape[-2:]
    P = theta_a.shape[-1]
    K1, K2 = (1.0, 1.0) if as_printed else prop2_constants(x, y, D, P, C_L)
    E = E_max(theta_W, theta_a)[..., None]  # (..., 1)
    factor = K1 * M * eps**2 * E**2 + K2 * eps * E
    return factor * np.linalg.norm(theta_a, axis=-1), factor * np.linalg.norm(theta_W, axis=-1)


def gd_step(lambda_1: float, lr_lambda: float = 0.05) -> float:
    """A GD step lr = lr_lambda / lambda_1, rounded to two significant digits: lr_lambda steps per
    unit of the fastest time scale 1/lambda_1 of the linear dynamics."""
    if not (np.isfinite(lambda_1) and lambda_1 > 0 and 0 < lr_lambda < 1):
        raise ValueError(f"need lambda_1 > 0 and 0 < lr_lambda < 1, got {lambda_1!r}, {lr_lambda!r}")
    return float(f"{lr_lambda / lambda_1:.2g}")


@dataclass(frozen=True, eq=False)
class Theorem1Scan:
    """The two quantities of Theorem 1 along real GD runs, one per width M (see ``theorem1_scan``).

    ``widths`` (K,), ``eps`` (K,) = M^(-gamma/2); ``times`` (S,) the recorded times (lr x epoch);
    per width and time (K, S): ``change`` and ``align`` (eqs. 14, 15) of the real run,
    ``change_linear`` and ``align_linear`` of the closed form from the same initialization
    (GD iterates, ``closed_form(..., lr)``), ``distance`` the relative distance between the
    two trajectories (theta_W and theta_a); per width (K,): ``phi0`` = phi(0), ``T_eff`` of
    eq. 54 on the run, and ``T_lin``, the first recorded time the distance exceeds ``tol``
    (``inf`` if never).
    """

    dataset: str
    gamma: float
    tol: float
    lr: float
    lambda_1: float
    lambda_2: float
    D: int
    P: int
    widths: np.ndarray
    eps: np.ndarray
    times: np.ndarray
    change: np.ndarray
    align: np.ndarray
    change_linear: np.ndarray
    align_linear: np.ndarray
    distance: np.ndarray
    phi0: np.ndarray
    T_eff: np.ndarray
    T_lin: np.ndarray

    def sup(self, quantity: str = "change", until: str = "T_lin") -> np.ndarray:
        """sup over t in [0, T] of ``quantity`` ("change" or "align") for each width, with T the
        per-width ``T_lin`` or ``T_eff`` (``until``); a T beyond the run is cut at its end."""
        if quantity not in ("change", "align") or until not in ("T_lin", "T_eff"):
            raise ValueError("quantity is 'change' or 'align'; until is 'T_lin' or 'T_eff'")
        values, ends = getattr(self, quantity), getattr(self, until)
        return np.array([sup_until(self.times, v, T) for v, T in zip(values, ends)])


def theorem1_scan(base: Config, widths, gamma: float, steps: int, lr_lambda: float = 0.05,
                  every: int = 2, tol: float = 0.05) -> Theorem1Scan:
    """Train ``base`` (a ``theory_config``) at each width M of ``widths`` with eps^2 = M^(-gamma)
    (Assumption 3) by GD with step ``gd_step(lambda_1, lr_lambda)`` for ``steps`` steps, recording
    every ``every`` steps, and measure the quantities of Theorem 1 (eqs. 14-15), T_eff (eq. 54)
    and the end of the linear regime against the closed form. Runs are cached (``run``)."""
    widths = np.asarray(widths, dtype=np.int64)
    if widths.ndim != 1 or (widths < 2).any():
        raise ValueError(f"widths must be a list of integers >= 2, got {widths!r}")
    if not gamma > 0:
        raise ValueError(f"gamma must be positive (eps^2 = M^-gamma), got {gamma!r}")
    if not isinstance(base, Config) or base.init != "theory" or len(base.channels) != 1 or base.optimizer != "gd":
        raise ValueError("base must be a two-layer GD run in the theory's setting: use theory_config(...)")
    Z = build_Z(*base.data(), base.m)
    U, lam, V = _svd(Z)
    v1 = V[:, 0]
    lr = gd_step(lam[0], lr_lambda)
    rows = []
    for M in widths:
        eps = float(M) ** (-gamma / 2)
        cfg = base.replace(channels=(int(M),), eps=eps, lr=lr, epochs=int(steps),
                           snapshot_epochs=tuple(range(0, steps + 1, every)))
        W, a = theta_bar(run(cfg).snapshots, eps)
        times = cfg.times()
        W_lin, a_lin = closed_form(Z, W[0], a[0], times, lr=lr)
        distance = relative_distance((W, a), (W_lin, a_lin))
        ph = phi(W, a)
        rows.append((eps, relative_change(W), alignment(W, v1), relative_change(W_lin), alignment(W_lin, v1),
                     distance, ph[0], T_eff(times, ph, int(M), eps), first_time(times, distance > tol)))
    cols = [np.array(c) for c in zip(*rows)]
    return Theorem1Scan(base.dataset, float(gamma), float(tol), lr, float(lam[0]), float(lam[1]), Z.shape[1], Z.shape[0],
                        widths, *cols[:1], times, *cols[1:])
