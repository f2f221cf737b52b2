"""The proof of Theorem 1, step by step (App. C.4-C.5), second half (eqs. 60-64): part III's
lower bound on the share along v_1, its failure probability, eq. 64's factor, and the widths M
from which the asymptotic steps hold. The first half (eqs. 49-57) is ``proof``, whose
docstring gives the variables and the notation (``gamma_eps``, D, P). Maths only.

Used in the chapter "The proof of Theorem 1, step by step".
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .checks import check_array, check_delta, check_gamma_eps, check_lambda, positive_int

__all__ = [
    "t0_bar",
    "residual_bound",
    "initial_projections",
    "displacement_sq",
    "v1_share",
    "part3_lower",
    "eq60_lower",
    "part3_events",
    "part3_failure",
    "eq64_factor",
    "eq64_width",
    "t0_positive_width",
    "t0_bar_width",
    "eq57_width",
]



# ----------------------------------------------------------------------------- eqs. 60-64


def t0_bar(lambda_1: float, M: int, gamma_eps: float) -> float:
    r"""The time of the proof of Theorem 1 (eq. 60, with eta_0 = (gamma_eps - 1)/8):

    .. math:: \bar t_0 = \frac{1}{\lambda_1}\Big[\frac{\gamma_\varepsilon - 1}{8}\log M - \log 2\Big],

    chosen so that 2 M^(-tau) exp(lambda_1 t_bar_0) = M^(-(gamma_eps - 1)/8).

    >>> round(t0_bar(1.0, 2**8, 2.0), 6)   # (1/8) 8 log 2 - log 2
    0.0
    """
    lam, M, g = check_lambda(lambda_1), positive_int(M, "M"), check_gamma_eps(gamma_eps)
    return float(((g - 1) / 8 * np.log(float(M)) - np.log(2)) / lam)


def residual_bound(M: int, gamma_eps: float) -> float:
    r"""The bound M^(-(gamma_eps - 1)/8) that the proof of eq. 60 puts on ||theta_tilde_beta(t)||_2,
    the nonlinear part of each kernel, for t <= t_bar_0. It rests on two unstated conditions:
    tau <= 1/2 (gamma_eps <= 3), so that min{tau, 1/2} = tau, and lambda_1 >= 1, to drop 1/lambda_1.

    >>> residual_bound(2**8, 9.0)
    0.00390625
    """
    M, g = positive_int(M, "M"), check_gamma_eps(gamma_eps)
    return float(M ** (-(g - 1) / 8))


def initial_projections(theta_W0, theta_a0, U, *, V):
    """X_{k, beta} = <theta_{W, beta}^0, v_k> and Y_{k, beta} = <theta_{a, beta}^0, u_k> of the proof of
    eq. 60 (the constants of eq. 42 are c = (X + Y)/2, d = (X - Y)/2). theta_W0 (M, D),
    theta_a0 (M, P), U (P, r) and V (D, r) the first r singular vectors of Z -> X, Y (M, r).
    For standard normal theta^0 they are independent N(0, 1).

    >>> X, Y = initial_projections(np.eye(2), np.eye(2), np.eye(2), V=np.eye(2))
    >>> X.tolist() == Y.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    True
    """
    theta_W0, theta_a0 = check_array(theta_W0, "theta_W0", 2), check_array(theta_a0, "theta_a0", 2)
    U, V = check_array(U, "U", 2), check_array(V, "V", 2)
    if theta_W0.shape[1] != V.shape[0] or theta_a0.shape[1] != U.shape[0] or U.shape[1] != V.shape[1]:
        raise ValueError(
            f"shapes do not match: theta_W0 {theta_W0.shape} with V {V.shape} (D, r), "
            f"theta_a0 {theta_a0.shape} with U {U.shape} (P, r)"
        )
    if theta_W0.shape[0] != theta_a0.shape[0]:
        raise ValueError("theta_W0 and theta_a0 must have one row per kernel (the same M)")
    return theta_W0 @ V, theta_a0 @ U


def _r(lam, times):
    lam, times = check_array(lam, "lam", 1), check_array(times, "times", 1)
    if (lam <= 0).any() or (times < 0).any():
        raise ValueError("the singular values must be positive and the times >= 0")
    return np.exp(0.5 * np.outer(times, lam))  # (T, r): r_k(t) = exp(lambda_k t / 2)


def displacement_sq(X, Y, lam, *, times) -> np.ndarray:
    r"""(1/M) ||P_k (theta_bar_W(t) - theta_bar_W(0))||_2^2 for each direction v_k, the terms of the
    proof of eq. 60 (part III), in its closed form with r_k(t) = exp(lambda_k t / 2):

    .. math:: \frac{1}{4M}\sum_{\beta=1}^M \big[X_{k,\beta}(r_k^2 + r_k^{-2} - 2) + Y_{k,\beta}(r_k^2 - r_k^{-2})\big]^2 .

    X, Y (M, r) from ``initial_projections``; lam (r,); times (T,) -> (T, r). Summed over k it is
    (1/M) ||P_{1:r}(theta_bar_W(t) - theta_bar_W(0))||^2; column 0 over the sum is the
    "majority part" of the ratio of eq. 61.

    >>> displacement_sq([[1.0]], [[0.0]], [2 * np.log(2)], times=[1.0]).round(6).tolist()   # r = 2: (4 + 1/4 - 2)^2 / 4
    [[1.265625]]
    """
    X, Y = check_array(X, "X", 2), check_array(Y, "Y", 2)
    if X.shape != Y.shape:
        raise ValueError(f"X {X.shape} and Y {Y.shape} must both be (M, r)")
    r = _r(lam, times)
    if r.shape[1] != X.shape[1]:
        raise ValueError(f"lam has {r.shape[1]} singular values but X has r = {X.shape[1]} columns")
    a, b = r**2 + r**-2 - 2, r**2 - r**-2  # (T, r)
    terms = X[None] * a[:, None] + Y[None] * b[:, None]  # (T, M, r)
    return np.square(terms).mean(axis=1) / 4


def v1_share(per_direction) -> np.ndarray:
    """The "majority part" of the ratio of eq. 61: the share of v_1 in the displacement,
    per_direction[:, 0] / per_direction.sum(1) for ``displacement_sq``'s (T, r); NaN where nothing
    has moved yet (t = 0). It tends to 1 as M -> infinity at t_bar_0 (eq. 64).

    >>> v1_share([[0.0, 0.0], [3.0, 1.0]]).tolist()
    [nan, 0.75]
    """
    d = check_array(per_direction, "per_direction", 2)
    total = d.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, d[:, 0] / total, np.nan)


def part3_lower(lam, times) -> np.ndarray:
    r"""The lower bound of the proof of eq. 60 on (1/M) ||P_{1:r}(theta_bar_W(t) - theta_bar_W(0))||^2,
    valid on the events of ``part3_events`` (1/M sum X^2, 1/M sum Y^2 in [1/2, 3/2], |1/M sum XY| <= 1/4):

    .. math:: \frac18\sum_{k=1}^r (r_k - r_k^{-1})^2 (r_k^2 + 3 r_k^{-2}) \ \ge\ \frac18\sum_{k=1}^r (r_k - r_k^{-1})^4 .

    lam (r,), times (T,) -> (T,).

    >>> part3_lower([2 * np.log(2)], [1.0]).round(6).tolist()   # r = 2: (3/2)^2 (4 + 3/4) / 8
    [1.335938]
    """
    r = _r(lam, times)
    return ((r - 1 / r) ** 2 * (r**2 + 3 / r**2)).sum(axis=1) / 8


def eq60_lower(lam, times, M: int, *, gamma_eps: float, D: int) -> np.ndarray:
    r"""The lower bound of the proof of eq. 60 on the relative change ||theta_W(t) - theta_W(0)|| / ||theta_W(0)||
    for t <= t_bar_0, part III minus part IV:

    .. math:: \sqrt{\frac{2}{3D}\,\mathrm{part3\_lower}(t)} \;-\; \sqrt{\frac{2}{D}}\, M^{-\frac{\gamma_\varepsilon - 1}{8}},

    on the events of Prop. 3 and ``part3_events`` and with the residual bound of eq. 60
    (``residual_bound``). D = m^2 + 1. (T,).

    >>> bool(eq60_lower([1.0], [0.0], 16, gamma_eps=2.0, D=10)[0] < 0)   # nothing at t = 0
    True
    """
    D = positive_int(D, "D")
    return np.sqrt(2 / (3 * D) * part3_lower(lam, times)) - np.sqrt(2 / D) * residual_bound(M, gamma_eps)


def part3_events(X, Y) -> np.ndarray:
    """The four concentration events the proof of eq. 60 uses for each direction k, all at once:
    1/2 <= (1/M) sum_beta X_{k,beta}^2 <= 3/2, the same for Y, and |(1/M) sum_beta X Y| <= 1/4.
    X, Y (..., M, r) -> (..., r) booleans, True where all four hold.

    >>> part3_events(np.array([[1.0], [-1.0]]), np.array([[1.0], [1.0]])).tolist()
    [True]
    """
    X, Y = check_array(X, "X"), check_array(Y, "Y")
    if X.shape != Y.shape or X.ndim < 2:
        raise ValueError(f"X {X.shape} and Y {Y.shape} must both be (..., M, r)")
    xx, yy, xy = (np.square(X).mean(-2), np.square(Y).mean(-2), (X * Y).mean(-2))
    return (0.5 <= xx) & (xx <= 1.5) & (0.5 <= yy) & (yy <= 1.5) & (np.abs(xy) <= 0.25)


def part3_failure(widths, r: int, draws: int, *, seed: int = 0) -> np.ndarray:
    """The Monte Carlo probability, for each width M of ``widths``, that at least one of the events of
    ``part3_events`` fails for some k <= r: X, Y (M, r) independent standard normal (as they are for a
    standard normal theta^0, given Z), ``draws`` times, ``numpy.random.default_rng(seed)``. (K,).

    >>> part3_failure([4096], r=1, draws=20, seed=0).tolist()
    [0.0]
    """
    r, draws = positive_int(r, "r"), positive_int(draws, "draws")
    rng = np.random.default_rng(seed)
    out = []
    for M in widths:
        M = positive_int(M, "M")
        fails, chunk = 0, max(1, 2**22 // (M * r))
        for start in range(0, draws, chunk):
            k = min(chunk, draws - start)
            X, Y = rng.standard_normal((2, k, M, r))
            fails += int((~part3_events(X, Y).all(-1)).sum())
        out.append(fails / draws)
    return np.asarray(out)


def eq64_factor(lam, M: int, gamma_eps: float) -> np.ndarray:
    r"""exp((lambda_k - lambda_1) t_bar_0) for each k (eq. 64, sign corrected): how much smaller
    direction v_k's share of the displacement is than v_1's at t_bar_0, relative to their
    initial sizes. Equals (M^((gamma_eps - 1)/8) / 2)^(-(lambda_1 - lambda_k)/lambda_1). lam (r,) -> (r,).

    >>> eq64_factor([2.0, 1.0], 2**16, 2.0).tolist()   # t_bar_0 = log 2 / 2: 2^(-1/2) for k = 2
    [1.0, 0.7071067811865476]
    """
    lam = check_array(lam, "lam", 1)
    t = t0_bar(lam[0], M, gamma_eps)
    return np.exp((lam - lam[0]) * t)


def eq64_width(lambda_1: float, lambda_2: float, gamma_eps: float, *, level: float) -> float:
    r"""log10 of the width M at which the factor of eq. 64 for v_2, exp(-Delta lambda t_bar_0),
    falls to ``level``:

    .. math:: \log M = \frac{8}{\gamma_\varepsilon - 1}\Big[\frac{\lambda_1}{\Delta\lambda}\log\frac{1}{\mathrm{level}} + \log 2\Big].

    >>> round(float(eq64_width(2.0, 1.0, 9.0, level=0.5) / np.log10(2)), 6)   # 3 log 2: M = 8
    3.0
    """
    lam1, lam2, g = check_lambda(lambda_1), check_lambda(lambda_2, "lambda_2"), check_gamma_eps(gamma_eps)
    if not lam2 < lam1:
        raise ValueError("eq. 64 needs a spectral gap: lambda_2 < lambda_1 (Assumption 4)")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    log_M = 8 / (g - 1) * (lam1 / (lam1 - lam2) * np.log(1 / level) + np.log(2))
    return float(log_M / np.log(10))


# ----------------------------------------------------------------------------- from which M


def _log_phi0(log_M, D: int, P: int, delta: float):
    """log phi_0 (eq. 53) as a function of log M, without forming M (no overflow)."""
    d = D + P
    return 0.5 * np.log(2 * d * (np.log(2 * d / delta) + log_M))


def _smallest_log_width(excess: Callable[[float], float]) -> float:
    """The log M from which ``excess(log M) > 0`` (increasing for large M): bisection, in log10."""
    lo, hi = 0.0, 1.0
    while excess(hi) <= 0:
        hi *= 2
        if hi > 1e6:
            raise ValueError("no width M below 10^(4e5) satisfies the condition")
    if excess(lo) > 0:
        return 0.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if excess(mid) <= 0 else (lo, mid)
    return float(hi / np.log(10))


def t0_positive_width(gamma_eps: float, D: int, P: int, *, delta: float) -> float:
    r"""log10 of the width from which t_0 of eq. 58 is positive, i.e. (1/2) M^tau > 2 phi_0:
    tau log M > log 4 + log phi_0(M), tau = (gamma_eps - 1)/4. Below it eq. 57 gives nothing.

    >>> t0_positive_width(9.0, 1, 1, delta=0.5) < t0_positive_width(2.0, 1, 1, delta=0.5)
    True
    """
    g, D, P, delta = check_gamma_eps(gamma_eps), positive_int(D, "D"), positive_int(P, "P"), check_delta(delta)
    return _smallest_log_width(lambda lm: (g - 1) / 4 * lm - np.log(4) - _log_phi0(lm, D, P, delta))


def t0_bar_width(gamma_eps: float, D: int, P: int, *, delta: float) -> float:
    r"""log10 of the width from which t_bar_0 <= t_0 (the proof's "t_bar_0 <= T_eff"): with
    eq. 58, t_bar_0 <= t_0 reads log phi_0(M) <= (gamma_eps - 1)/8 log M - log 2.

    >>> t0_bar_width(9.0, 1, 1, delta=0.5) < t0_bar_width(2.0, 1, 1, delta=0.5)
    True
    """
    g, D, P, delta = check_gamma_eps(gamma_eps), positive_int(D, "D"), positive_int(P, "P"), check_delta(delta)
    return _smallest_log_width(lambda lm: (g - 1) / 8 * lm - np.log(2) - _log_phi0(lm, D, P, delta))


def eq57_width(lambda_1: float, gamma_eps: float, D: int, *, P: int, delta: float,
               K1: float = 1.0, K2: float = 1.0) -> float:
    r"""log10 of the width from which the step from eq. 56 to eq. 57 holds:
    (K_1 M^(-tau) + K_2 M^(-1/2)) / lambda_1 <= phi_0(M) (``remainder_rate``, ``phi0_bound``), so
    that phi(t) <= 2 phi_0 exp(lambda_1 t). K_1 = K_2 = 1 as printed; Prop. 2's constants otherwise.

    >>> eq57_width(1.0, 2.0, 1, P=1, delta=0.5)   # holds from M = 1
    0.0
    """
    lam, g = check_lambda(lambda_1), check_gamma_eps(gamma_eps)
    D, P, delta = positive_int(D, "D"), positive_int(P, "P"), check_delta(delta)
    tau = (g - 1) / 4

    def excess(lm):
        return _log_phi0(lm, D, P, delta) + np.log(lam) - np.log(K1 * np.exp(-tau * lm) + K2 * np.exp(-0.5 * lm))

    return _smallest_log_width(excess)
