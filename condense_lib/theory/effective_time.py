"""The quantities of Theorem 1: neuron energies, phi, the effective time T_eff and its
bounds (eqs. 46-59), the two measures of the theorem (eqs. 14-15), and the remainder
bounds of Prop. 2 (eq. 48).

Two exponents are called gamma in the paper; this library names them apart.
``gamma`` (``Config.gamma``) is the experiments' initialization exponent,
sigma_1 = fan^(-gamma) (Sec. 4.1). ``gamma_eps`` is the theory's, eps^2 = M^(-gamma_eps)
(Assumption 3, eq. 8): every function here that takes an exponent takes ``gamma_eps``.

Maths only: imports numpy, nothing of the model or the trainer.
Used in the chapters "Real versus linear dynamics, and T_eff" and "Theorem 1, numerically".
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .checks import as_array
from .proof import phi0_bound

__all__ = [
    "neuron_energy", "E_max", "phi", "gamma_exponent", "first_time", "T_eff", "t_0", "T_eff_lower_bound",
    "eq59_threshold", "relative_change", "alignment", "projection_shares", "angle_to", "sup_until", "prop2_constants", "prop2_bound",
]


def neuron_energy(theta_W, theta_a) -> np.ndarray:
    """E_beta = (||theta_{W, beta}||^2 + ||theta_{a, beta}||^2)^(1/2) (eq. 46).

    theta_W (..., M, D), theta_a (..., M, P) -> (..., M)."""
    theta_W, theta_a = as_array(theta_W, "theta_W"), as_array(theta_a, "theta_a")
    if theta_W.shape[:-1] != theta_a.shape[:-1]:
        raise ValueError(f"theta_W {theta_W.shape} and theta_a {theta_a.shape} must share their leading axes")
    return np.sqrt(np.square(theta_W).sum(-1) + np.square(theta_a).sum(-1))


def E_max(theta_W, theta_a) -> np.ndarray:
    """E_max = max_beta E_beta (eq. 47): (..., M, D), (..., M, P) -> (...)."""
    return neuron_energy(theta_W, theta_a).max(-1)


def phi(theta_W, theta_a) -> np.ndarray:
    """phi(t) = sup_{s <= t} E_max(s) (eq. 52) along a trajectory (T, M, D), (T, M, P) -> (T,),
    the sup taken over the recorded times."""
    theta_W = as_array(theta_W, "theta_W", ndim=3)
    return np.maximum.accumulate(E_max(theta_W, theta_a))


def gamma_exponent(M: int, eps: float) -> float:
    """gamma_eps = -log(eps^2) / log(M) (Assumption 3, eq. 8) at a finite width M: eps^2 = M^(-gamma_eps)."""
    if not (isinstance(M, (int, np.integer)) and M >= 2):
        raise ValueError(f"M must be an integer >= 2 to define gamma_eps = -log eps^2 / log M, got {M!r}")
    if not (np.isfinite(eps) and 0 < eps):
        raise ValueError(f"eps must be positive, got {eps!r}")
    return float(-np.log(eps**2) / np.log(M))


def first_time(times, condition) -> float:
    """The first of ``times`` (T,) where ``condition`` (T,) holds; ``inf`` when it never does."""
    times = as_array(times, "times", ndim=1)
    condition = np.asarray(condition, dtype=bool)
    if condition.shape != times.shape:
        raise ValueError(f"condition {condition.shape} must match times {times.shape}")
    hits = np.flatnonzero(condition)
    return float(times[hits[0]]) if hits.size else float("inf")


def T_eff(times, phi_t, M: int, *, eps: float) -> float:
    """The effective time of eq. 54 along a recorded run,

        T_eff = inf { t > 0 : M eps^2 phi(t)^3 > M^(-tau) },  tau = (gamma_eps - 1) / 4,

    gamma_eps from eps^2 = M^(-gamma_eps) (``gamma_exponent``). The condition reads
    phi(t) > M^((gamma_eps - 1)/4) whatever eps: T_eff is the time at which the largest
    neuron energy passes M^((gamma_eps-1)/4).

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
    times, phi_t = as_array(times, "times", ndim=1), as_array(phi_t, "phi_t", ndim=1)
    if times.shape != phi_t.shape:
        raise ValueError(f"times {times.shape} and phi_t {phi_t.shape} must have the same length")
    gamma_eps = gamma_exponent(M, eps)
    tau = (gamma_eps - 1) / 4
    return first_time(times, M * eps**2 * phi_t**3 > float(M) ** (-tau))


def t_0(lambda_1: float, M: int, gamma_eps: float, *, D: int, P: int, delta: float = 0.1) -> float:
    """The time t_0 of eq. 58, where the bound 2 phi_0 exp(lambda_1 t) of eq. 57 reaches (1/2) M^((gamma_eps-1)/4):

        t_0 = (1/lambda_1) [ (gamma_eps - 1)/4 log M - log 4 - log phi_0 ],
        phi_0 = (2 (D + P) log(2 M (D + P) / delta))^(1/2)   (eq. 53, with D = m^2 + 1, P = W1 H1).

    The paper shows T_eff >= t_0 with probability 1 - delta, for M large enough. Negative
    when M^((gamma_eps-1)/4) < 4 phi_0.
    """
    _check_theory_args(lambda_1, M, gamma_eps)
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta!r}")
    phi0 = phi0_bound(M, D, P, delta=delta)  # eq. 53
    return float(((gamma_eps - 1) / 4 * np.log(float(M)) - np.log(4) - np.log(phi0)) / lambda_1)


def T_eff_lower_bound(lambda_1: float, M: int, gamma_eps: float, *, eta_0: Optional[float] = None) -> float:
    """The lower bound of eqs. 13 and 59,

        T_eff > (1/lambda_1) [ log(1/4) + ((gamma_eps - 1)/4 - eta_0) log M ],

    stated for any eta_0 > (gamma_eps - 1)/100; the default is that infimum, (gamma_eps - 1)/100.
    It follows from t_0 (eq. 58) only when eta_0 log M exceeds log phi_0 (see ``eq59_threshold``).
    """
    _check_theory_args(lambda_1, M, gamma_eps)
    eta_0 = (gamma_eps - 1) / 100 if eta_0 is None else float(eta_0)
    return float((np.log(0.25) + ((gamma_eps - 1) / 4 - eta_0) * np.log(float(M))) / lambda_1)


def eq59_threshold(gamma_eps: float, D: int, P: int, *, delta: float = 0.1, eta_0: Optional[float] = None) -> float:
    """log10 of the smallest width M from which t_0 (eq. 58) exceeds the bound of eq. 59:
    the M solving eta_0 log M = log phi_0(M) (eq. 53), by bisection on log M.

    Below it, eq. 59 is not a consequence of eq. 58 and need not hold."""
    if not gamma_eps > 1:
        raise ValueError(f"the theorem needs gamma_eps > 1, got {gamma_eps!r}")
    eta_0 = (gamma_eps - 1) / 100 if eta_0 is None else float(eta_0)

    def excess(log_M):  # eta_0 log M - log phi_0(M), with phi_0 written in log M to avoid overflow
        return eta_0 * log_M - 0.5 * np.log(2 * (D + P) * (np.log(2 * (D + P) / delta) + log_M))

    lo, hi = 0.0, 1.0
    while excess(hi) <= 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) <= 0 else (lo, mid)
    return float(hi / np.log(10))


def _check_theory_args(lambda_1, M, gamma_eps):
    if not (np.isfinite(lambda_1) and lambda_1 > 0):
        raise ValueError(f"lambda_1 must be the (positive) top singular value of Z, got {lambda_1!r}")
    if not (isinstance(M, (int, np.integer)) and M >= 1):
        raise ValueError(f"M must be a positive integer (the number of kernels), got {M!r}")
    if not gamma_eps > 1:
        raise ValueError(f"the theorem needs gamma_eps > 1 (eps^2 = M^-gamma_eps), got {gamma_eps!r}")


def relative_change(theta_W) -> np.ndarray:
    """||theta_W(t) - theta_W(0)||_2 / ||theta_W(0)||_2 of eq. 14, theta_W = vec(theta_{W, beta})
    over all kernels: (T, M, D) -> (T,), time 0 being the first row."""
    theta_W = as_array(theta_W, "theta_W", ndim=3)
    delta = (theta_W - theta_W[:1]).reshape(len(theta_W), -1)
    return np.linalg.norm(delta, axis=1) / np.linalg.norm(theta_W[0])


def alignment(theta_W, v1) -> np.ndarray:
    """||theta_{W, v1}(t)||_2 / ||theta_W(t)||_2 of eq. 15, theta_{W, v1} = (<theta_{W, beta}, v_1>)_beta:
    (T, M, D), v1 (D,) -> (T,). 1 when every kernel lies on the line of v_1 (either sign)."""
    theta_W = as_array(theta_W, "theta_W", ndim=3)
    v1 = as_array(v1, "v1", ndim=1)
    if v1.shape[0] != theta_W.shape[-1]:
        raise ValueError(f"v1 has {v1.shape[0]} entries but the kernels have D = {theta_W.shape[-1]}")
    v1 = v1 / np.linalg.norm(v1)
    return np.linalg.norm(theta_W @ v1, axis=1) / np.linalg.norm(theta_W.reshape(len(theta_W), -1), axis=1)


def projection_shares(theta_W, V) -> np.ndarray:
    """The share of the kernels along each direction v_k, the measure of eq. 15 for every column:
    ||theta_{W, v_k}(t)||_2 / ||theta_W(t)||_2 with theta_{W, v_k} = (<theta_{W, beta}, v_k>)_beta.

    theta_W (T, M, D), V (D, K) with columns v_k (normalized here) -> (T, K). Column k is
    ``alignment(theta_W, V[:, k])``; for orthonormal columns the squares of a row sum to <= 1.
    Pass ``theta_W[..., :-1]`` and ``V[:-1]`` for the kernel parts, the bias left out.
    """
    theta_W = as_array(theta_W, "theta_W", ndim=3)
    V = as_array(V, "V", ndim=2)
    if V.shape[0] != theta_W.shape[-1]:
        raise ValueError(f"V has {V.shape[0]} rows but the kernels have D = {theta_W.shape[-1]}")
    V = V / np.linalg.norm(V, axis=0)
    return np.linalg.norm(theta_W @ V, axis=1) / np.linalg.norm(theta_W.reshape(len(theta_W), -1), axis=1)[:, None]


def angle_to(theta_W, v) -> np.ndarray:
    """The angle in radians, in [0, pi/2], between each kernel's line and the line of v:
    arccos |<theta_{W, beta}, v>| / (||theta_{W, beta}|| ||v||). (..., M, D), (D,) -> (..., M).

    Computed as atan2 of the orthogonal and parallel parts, accurate down to tiny angles."""
    theta_W = as_array(theta_W, "theta_W")
    v = as_array(v, "v", ndim=1)
    if v.shape[0] != theta_W.shape[-1]:
        raise ValueError(f"v has {v.shape[0]} entries but the kernels have D = {theta_W.shape[-1]}")
    v = v / np.linalg.norm(v)
    parallel = theta_W @ v
    orthogonal = np.linalg.norm(theta_W - parallel[..., None] * v, axis=-1)
    return np.arctan2(orthogonal, np.abs(parallel))


def sup_until(times, values, T: float) -> float:
    """sup_{t in [0, T]} of a recorded quantity (Theorem 1's sup over [0, T_eff]): the max of
    ``values`` (T,) over the recorded ``times`` <= T (the value at t = 0 when T = 0)."""
    times, values = as_array(times, "times", ndim=1), as_array(values, "values", ndim=1)
    if times.shape != values.shape:
        raise ValueError(f"times {times.shape} and values {values.shape} must have the same length")
    inside = times <= T
    if not inside.any():
        raise ValueError(f"no recorded time is <= T = {T}")
    return float(values[inside].max())


def prop2_constants(x, y, D: int, *, P: int, C_L: float = 1.0):
    """The constants of Prop. 2 that the paper omits (see ``prop2_bound``):
    K_1 = C_L^2 c^2 D P / 2 and K_2 = C_L c^3 D sqrt(P), c = max(1, max|x|, max|y|).
    x (n, C, H, W), y (n,); D = C m^2 + 1, P = H1 W1."""
    x, y = as_array(x, "x", ndim=4), as_array(y, "y", ndim=1)
    c = max(1.0, np.abs(x).max(), np.abs(y).max())
    return float(C_L**2 * c**2 * D * P / 2), float(C_L * c**3 * D * np.sqrt(P))


def prop2_bound(theta_W, theta_a, eps: float, *, x, y, C_L: float = 1.0, as_printed: bool = False):
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
    theta_W, theta_a = as_array(theta_W, "theta_W"), as_array(theta_a, "theta_a")
    if theta_W.ndim < 2 or theta_W.shape[:-1] != theta_a.shape[:-1]:
        raise ValueError(f"theta_W {theta_W.shape} and theta_a {theta_a.shape} must be (..., M, D) and (..., M, P)")
    M, D = theta_W.shape[-2:]
    P = theta_a.shape[-1]
    K1, K2 = (1.0, 1.0) if as_printed else prop2_constants(x, y, D, P=P, C_L=C_L)
    E = E_max(theta_W, theta_a)[..., None]  # (..., 1)
    factor = K1 * M * eps**2 * E**2 + K2 * eps * E
    return factor * np.linalg.norm(theta_a, axis=-1), factor * np.linalg.norm(theta_W, axis=-1)
