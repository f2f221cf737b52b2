"""The proof of Theorem 1, step by step (App. C.4-C.5, eqs. 49-64): the quantities each
step bounds, the bounds themselves, and the widths M from which the asymptotic steps hold.

Maths only: numpy and scipy. Everything that needs the data or a trained run -- Z's
singular values, trajectories, the constants of Prop. 2 -- is computed elsewhere and
passed in. Variables are the paper's rescaled ones (eqs. 27-28): the initial parameters
are standard normal, kernel beta has theta_{W, beta} of D = C m^2 + 1 entries and
theta_{a, beta} of P = W_1 H_1 entries.

Notation. The theory's exponent is written ``gamma_eps`` here: eps^2 = M^(-gamma_eps)
(Assumption 3, eq. 8), tau = (gamma_eps - 1)/4 (eq. 54). It is not the experiments'
gamma of sigma_1 = fan^(-gamma) (Sec. 4.1).

Used in the chapter "The proof of Theorem 1, step by step".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

__all__ = [
    "lemma1_eta",
    "phi0_bound",
    "phi0_chi2",
    "max_entry_tail",
    "max_energy_tail",
    "InitialDraws",
    "initial_draws",
    "psi1_norm_chi2",
    "prop3_failure",
    "prop3_width",
    "joint_norm",
    "duhamel_integral",
    "gronwall_bound",
    "remainder_rate",
    "eq56_rate_as_printed",
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


# ----------------------------------------------------------------------------- input checks


def _positive_int(value, name: str) -> int:
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _delta(delta) -> float:
    if not (isinstance(delta, (float, int, np.floating)) and 0 < delta < 1):
        raise ValueError(f"delta must be a probability in (0, 1), got {delta!r}")
    return float(delta)


def _gamma_eps(gamma_eps) -> float:
    if not (np.isfinite(gamma_eps) and gamma_eps > 1):
        raise ValueError(
            f"the theorem needs gamma_eps > 1 (eps^2 = M^-gamma_eps, Assumption 3), got {gamma_eps!r}"
        )
    return float(gamma_eps)


def _lambda(value, name: str = "lambda_1") -> float:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive singular value of Z, got {value!r}")
    return float(value)


def _array(a, name: str, ndim=None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _times(times) -> np.ndarray:
    times = _array(times, "times", ndim=1)
    if times.size and (times[0] < 0 or (np.diff(times) <= 0).any()):
        raise ValueError("times must be increasing and >= 0 (the recorded times, starting at t = 0)")
    return times


# ----------------------------------------------------------------------------- Lemma 1, eq. 53


def lemma1_eta(M: int, D: int, P: int, delta: float) -> float:
    r"""The level of Lemma 1 (eq. 49): with probability at least 1 - delta, every one of the
    M (D + P) standard normal initial parameters has absolute value at most

    .. math:: \eta_\delta = \sqrt{2 \log \frac{2 M (D + P)}{\delta}},

    D = m^2 + 1 (C m^2 + 1 with C channels), P = W_1 H_1. The proof is a union bound on
    P(|X| > eta) <= 2 exp(-eta^2 / 2).

    >>> round(lemma1_eta(1, 1, 0, 0.5), 4)   # sqrt(2 log 4)
    1.6651
    """
    M, D, P = _positive_int(M, "M"), _positive_int(D, "D"), int(P)
    if P < 0:
        raise ValueError(f"P must be >= 0, got {P!r}")
    return float(np.sqrt(2 * np.log(2 * M * (D + P) / _delta(delta))))


def phi0_bound(M: int, D: int, P: int, delta: float) -> float:
    r"""phi_0, the bound of eq. 53 on phi(0) = max_beta E_beta(0):

    .. math:: \phi(0) \le \phi_0 = \sqrt{2 (D + P) \log \frac{2 M (D + P)}{\delta}}
              = \sqrt{D + P}\, \eta_\delta,

    from Lemma 1 and ||v||_2 <= sqrt(dim) ||v||_inf. Holds with probability 1 - delta.

    >>> round(phi0_bound(1, 1, 0, 0.5), 4)
    1.6651
    """
    return float(np.sqrt(D + P) * lemma1_eta(M, D, P, delta))


def phi0_chi2(M: int, D: int, P: int, delta: float) -> float:
    r"""A sharper phi_0 from the chi-square law of E_beta(0)^2 (Laurent and Massart, 2000,
    Lemma 1, cited by the paper): E_beta(0)^2 ~ chi^2(d), d = D + P, and
    P(chi^2(d) - d >= 2 sqrt(d x) + 2 x) <= exp(-x); with x = log(M / delta) and a union
    bound over the M kernels, with probability at least 1 - delta,

    .. math:: \max_\beta E_\beta(0) \le \sqrt{d + 2\sqrt{d x} + 2x}, \qquad x = \log(M/\delta).

    >>> round(phi0_chi2(1, 1, 0, np.exp(-1.0)), 4)   # d = x = 1: sqrt(5)
    2.2361
    """
    M, D = _positive_int(M, "M"), _positive_int(D, "D")
    d, x = D + int(P), np.log(M / _delta(delta))
    return float(np.sqrt(d + 2 * np.sqrt(d * x) + 2 * x))


def max_entry_tail(eta, N: int) -> np.ndarray:
    """The exact probability that the largest of N independent |N(0, 1)| exceeds ``eta``,
    1 - (1 - 2 Phi(-eta))^N: what Lemma 1 bounds by N 2 exp(-eta^2 / 2) (N = M (D + P)).

    >>> round(float(max_entry_tail(1.0, 1)), 4)   # P(|X| > 1)
    0.3173
    """
    N = _positive_int(N, "N")
    eta = _array(eta, "eta")
    if (eta < 0).any():
        raise ValueError("eta must be >= 0")
    with np.errstate(divide="ignore"):  # eta = 0: log 0 = -inf, probability 1
        return -np.expm1(N * np.log1p(-2 * stats.norm.sf(eta)))


def max_energy_tail(phi, M: int, D: int, P: int) -> np.ndarray:
    """The exact probability that max_beta E_beta(0) > ``phi`` for M kernels with standard
    normal parameters: E_beta(0)^2 ~ chi^2(D + P) independently, so it is
    1 - F(phi^2)^M with F the chi^2(D + P) distribution function (eq. 53's event).

    >>> round(float(max_energy_tail(1.0, 1, 1, 0)), 4)   # P(|X| > 1)
    0.3173
    """
    M, D = _positive_int(M, "M"), _positive_int(D, "D")
    phi = _array(phi, "phi")
    return -np.expm1(M * stats.chi2.logcdf(np.square(phi), D + int(P)))


@dataclass(frozen=True, eq=False)
class InitialDraws:
    """Summaries of ``draws`` independent initializations theta^0 (eq. 28: every entry N(0, 1)),
    each (draws,): ``max_entry`` max over beta and entries of |theta^0| (Lemma 1),
    ``max_energy`` max_beta E_beta(0) = phi(0) (eq. 53), ``norm_W_sq`` ||theta_W^0||_2^2
    (Prop. 3). M, D, P as drawn."""

    M: int
    D: int
    P: int
    max_entry: np.ndarray
    max_energy: np.ndarray
    norm_W_sq: np.ndarray


def initial_draws(M: int, D: int, P: int, draws: int, seed: int = 0, chunk: int = 64) -> InitialDraws:
    """Draw ``draws`` initializations theta^0 of M kernels (theta_W (M, D), theta_a (M, P), all
    entries N(0, 1), eq. 28) with ``numpy.random.default_rng(seed)``, ``chunk`` at a time, and
    keep the three statistics the proof bounds (``InitialDraws``).

    >>> s = initial_draws(2, 3, 4, draws=5, seed=1)
    >>> s.max_energy.shape, bool((s.max_entry <= s.max_energy).all())
    ((5,), True)
    """
    M, D, P = _positive_int(M, "M"), _positive_int(D, "D"), _positive_int(P, "P")
    draws, chunk = _positive_int(draws, "draws"), _positive_int(chunk, "chunk")
    rng = np.random.default_rng(seed)
    entry, energy, norm_W = [], [], []
    for start in range(0, draws, chunk):
        k = min(chunk, draws - start)
        theta = rng.standard_normal((k, M, D + P))  # (k, M, D + P): theta_W then theta_a
        entry.append(np.abs(theta).max(axis=(1, 2)))
        energy.append(np.sqrt(np.square(theta).sum(axis=2)).max(axis=1))
        norm_W.append(np.square(theta[:, :, :D]).sum(axis=(1, 2)))
    return InitialDraws(M, D, P, *(np.concatenate(c) for c in (entry, energy, norm_W)))


# ----------------------------------------------------------------------------- Remark 6, Prop. 3


def psi1_norm_chi2(d) -> np.ndarray:
    r"""The sub-exponential norm C_{psi,d} = ||chi^2(d)||_{psi_1} (Definition 4, eq. 50), exactly:
    E exp(X / s) = (1 - 2/s)^(-d/2) for X ~ chi^2(d), s > 2 (Remark 6), which equals 2 at

    .. math:: C_{\psi,d} = \frac{2}{1 - 2^{-2/d}}.

    C_{psi,1} = 8/3; C_{psi,d} grows like d / log 2, so Remark 6's "C_{psi,d} < 3" fails from d = 2 on.

    >>> float(psi1_norm_chi2(1)), float(psi1_norm_chi2(2))
    (2.6666666666666665, 4.0)
    """
    d = _array(d, "d")
    if (d <= 0).any():
        raise ValueError("d must be a positive number of degrees of freedom")
    return 2 / -np.expm1(-2 * np.log(2) / d)


def prop3_failure(M, D: int) -> np.ndarray:
    r"""The exact probability that Prop. 3 (eq. 51) fails, i.e. that ||theta_W^0||_2^2 lies outside
    [M D / 2, 3 M D / 2]: ||theta_W^0||_2^2 ~ chi^2(M D), D = m^2 + 1. M may be an array.

    >>> bool(prop3_failure(1000, 10) < 1e-30)
    True
    """
    M = _array(M, "M")
    if (M < 1).any():
        raise ValueError("M must be >= 1")
    D = _positive_int(D, "D")
    k = M * D
    return stats.chi2.cdf(k / 2, k) + stats.chi2.sf(3 * k / 2, k)


def prop3_width(D: int, delta: float, method: str = "laurent_massart") -> int:
    r"""The smallest width M from which Prop. 3 (eq. 51) holds with probability 1 - delta,
    the "M = Omega(log 2/delta)" of its statement made explicit:

    - ``"laurent_massart"``: from the chi-square bounds of Laurent and Massart (2000),
      P(X - k >= 2 sqrt(k x) + 2 x) <= e^-x and P(k - X >= 2 sqrt(k x)) <= e^-x with
      x = log(2/delta): both sides hold once k = M D >= (12 + 8 sqrt 2) x;
    - ``"exact"``: the first M at which ``prop3_failure(M, D) <= delta``.

    (The paper's own route, Bernstein's inequality (Theorem 2), has an unspecified absolute
    constant C_0 and gives no number.)

    >>> prop3_width(10, 0.1), prop3_width(10, 0.1, "exact")
    (7, 3)
    """
    D, delta = _positive_int(D, "D"), _delta(delta)
    if method == "laurent_massart":
        return int(np.ceil((12 + 8 * np.sqrt(2)) * np.log(2 / delta) / D))
    if method == "exact":
        M = 1
        while prop3_failure(M, D) > delta:
            M += 1
        return M
    raise ValueError(f"unknown method {method!r}: choose 'laurent_massart' or 'exact'")


# ----------------------------------------------------------------------------- eqs. 55-57: Groenwall


def joint_norm(*parts) -> np.ndarray:
    """The norm of each kernel's parts joined: ||(p_1, p_2, ...)||_2 over the last axis of arrays
    (..., M, k_i) -> (..., M). E_beta of eq. 46 is ``joint_norm(theta_W, theta_a)``; the
    remainder ||(f_beta, g_beta)|| of eq. 45 and the residual ||theta_tilde_beta|| the same way.

    >>> joint_norm(np.array([[3.0]]), np.array([[4.0]])).tolist()
    [5.0]
    """
    if not parts:
        raise ValueError("pass at least one array")
    arrays = [_array(p, f"part {i}") for i, p in enumerate(parts)]
    if any(a.ndim < 1 for a in arrays) or len({a.shape[:-1] for a in arrays}) != 1:
        raise ValueError(f"the parts must share their leading axes, got {[a.shape for a in arrays]}")
    return np.sqrt(sum(np.square(a).sum(-1) for a in arrays))


def duhamel_integral(times, lambda_1: float, rate) -> np.ndarray:
    r"""The integral term of eq. 56, int_0^t exp(lambda_1 (t - s)) rate(s) ds, at every recorded
    time, as the left Riemann sum

    .. math:: I_k = \sum_{j<k} (t_{j+1} - t_j)\, e^{\lambda_1 (t_k - t_j)}\, \mathrm{rate}_j .

    For GD with step lr (t_j = lr j) this is an exact upper bound, not an approximation: the
    iterates satisfy theta_k = (I + lr A)^k theta_0 + lr sum_{j<k} (I + lr A)^(k-1-j) r_j
    (r_j = (f_beta, g_beta) at step j), and ||I + lr A||_{2->2} = 1 + lr lambda_1 <= exp(lr lambda_1).

    times (T,) increasing from 0; rate (T, ...) or (T - 1, ...) (its last time is never used, so
    the T - 1 remainders measured from T snapshots will do) -> (T, ...).

    >>> duhamel_integral([0.0, 1.0, 2.0], 0.0, [1.0, 1.0]).tolist()
    [0.0, 1.0, 2.0]
    """
    times = _times(times)
    lam = float(lambda_1)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lambda_1 must be >= 0, got {lambda_1!r}")
    rate = _array(rate, "rate")
    if rate.ndim < 1 or rate.shape[0] not in (len(times), len(times) - 1) or len(times) < 2:
        raise ValueError(
            f"rate {rate.shape} must have the T = {len(times)} recorded times (or T - 1) on its first axis, T >= 2"
        )
    if rate.shape[0] == len(times) - 1:
        rate = np.concatenate([rate, np.zeros_like(rate[:1])])
    # I_k = e^{lam t_k} sum_{j<k} dt_j e^{-lam t_j} rate_j, scaled by e^{-lam t_end} against overflow
    weights = np.diff(times) * np.exp(lam * (times[-1] - times[:-1]))  # (T-1,)
    partial = np.cumsum(weights.reshape(-1, *[1] * (rate.ndim - 1)) * rate[:-1], axis=0)
    out = np.zeros_like(rate)
    out[1:] = partial * np.exp(lam * (times[1:] - times[-1])).reshape(-1, *[1] * (rate.ndim - 1))
    return out


def gronwall_bound(times, lambda_1: float, phi0: float, rate) -> np.ndarray:
    r"""The right-hand side of the first line of eq. 56, the bound on phi(t) (eq. 52):

    .. math:: \phi(t) \le \phi(0)\, e^{\lambda_1 t} + \int_0^t e^{\lambda_1 (t-s)}\, \mathrm{rate}(s)\, ds,

    where ``rate`` bounds max_beta ||(f_beta, g_beta)(s)||: the measured remainder, or Prop. 2's
    K_1 M eps^2 phi^3 + K_2 eps phi^2. ||exp(tA)||_{2->2} = exp(lambda_1 t) since A (eq. 34) is
    symmetric with eigenvalues +-lambda_k and 0. Integral as in ``duhamel_integral``.

    >>> gronwall_bound([0.0, 1.0], 0.0, 2.0, [1.0, 1.0]).tolist()
    [2.0, 3.0]
    """
    times = _times(times)
    if not (np.isfinite(phi0) and phi0 >= 0):
        raise ValueError(f"phi0 must be a non-negative energy, got {phi0!r}")
    return phi0 * np.exp(float(lambda_1) * times) + duhamel_integral(times, lambda_1, rate)


def remainder_rate(M: int, gamma_eps: float, K1: float = 1.0, K2: float = 1.0) -> float:
    r"""The bound on Prop. 2's factor K_1 M eps^2 phi^3 + K_2 eps phi^2 for t <= T_eff, with
    eps^2 = M^(-gamma_eps):

    .. math:: K_1 M\varepsilon^2\phi^3 + K_2\varepsilon\phi^2 \le K_1 M^{-\tau} + K_2 M^{-1/2},
              \qquad \tau = \frac{\gamma_\varepsilon - 1}{4},

    since T_eff (eq. 54) keeps M eps^2 phi^3 <= M^-tau, hence phi <= M^((gamma_eps - 1 - tau)/3)
    and eps phi^2 <= M^(-gamma_eps/2 + 2 (gamma_eps - 1 - tau)/3) = M^(-1/2). With
    K_1 = K_2 = 1 this is at most 2 M^(-min{tau, 1/2}), the exponent of the proof of eq. 60; the
    min{1, tau} printed in eq. 56 is a typo (``eq56_rate_as_printed``).

    >>> remainder_rate(16, 5.0)   # tau = 1: 1/16 + 1/4
    0.3125
    """
    M, g = _positive_int(M, "M"), _gamma_eps(gamma_eps)
    tau = (g - 1) / 4
    return float(K1 * M ** (-tau) + K2 * M ** (-0.5))


def eq56_rate_as_printed(M: int, gamma_eps: float) -> float:
    """The rate eq. 56 prints, 2 M^(-min{1, tau}), tau = (gamma_eps - 1)/4. For tau > 1/2 it is
    smaller than the M^(-1/2) that eps phi^2 reaches at T_eff: the printed bound is too small.

    >>> eq56_rate_as_printed(16, 5.0)   # tau = 1
    0.125
    """
    M, g = _positive_int(M, "M"), _gamma_eps(gamma_eps)
    return float(2 * M ** (-min(1.0, (g - 1) / 4)))


# ----------------------------------------------------------------------------- eqs. 60-64


def t0_bar(lambda_1: float, M: int, gamma_eps: float) -> float:
    r"""The time of the proof of Theorem 1 (eq. 60, with eta_0 = (gamma_eps - 1)/8):

    .. math:: \bar t_0 = \frac{1}{\lambda_1}\Big[\frac{\gamma_\varepsilon - 1}{8}\log M - \log 2\Big],

    chosen so that 2 M^(-tau) exp(lambda_1 t_bar_0) = M^(-(gamma_eps - 1)/8).

    >>> round(t0_bar(1.0, 2**8, 2.0), 6)   # (1/8) 8 log 2 - log 2
    0.0
    """
    lam, M, g = _lambda(lambda_1), _positive_int(M, "M"), _gamma_eps(gamma_eps)
    return float(((g - 1) / 8 * np.log(float(M)) - np.log(2)) / lam)


def residual_bound(M: int, gamma_eps: float) -> float:
    r"""The bound M^(-(gamma_eps - 1)/8) that the proof of eq. 60 puts on ||theta_tilde_beta(t)||_2,
    the nonlinear part of each kernel, for t <= t_bar_0. It rests on two unstated conditions:
    tau <= 1/2 (gamma_eps <= 3), so that min{tau, 1/2} = tau, and lambda_1 >= 1, to drop 1/lambda_1.

    >>> residual_bound(2**8, 9.0)
    0.00390625
    """
    M, g = _positive_int(M, "M"), _gamma_eps(gamma_eps)
    return float(M ** (-(g - 1) / 8))


def initial_projections(theta_W0, theta_a0, U, V):
    """X_{k, beta} = <theta_{W, beta}^0, v_k> and Y_{k, beta} = <theta_{a, beta}^0, u_k> of the proof of
    eq. 60 (the constants of eq. 42 are c = (X + Y)/2, d = (X - Y)/2). theta_W0 (M, D),
    theta_a0 (M, P), U (P, r) and V (D, r) the first r singular vectors of Z -> X, Y (M, r).
    For standard normal theta^0 they are independent N(0, 1).

    >>> X, Y = initial_projections(np.eye(2), np.eye(2), np.eye(2), np.eye(2))
    >>> X.tolist() == Y.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    True
    """
    theta_W0, theta_a0 = _array(theta_W0, "theta_W0", 2), _array(theta_a0, "theta_a0", 2)
    U, V = _array(U, "U", 2), _array(V, "V", 2)
    if theta_W0.shape[1] != V.shape[0] or theta_a0.shape[1] != U.shape[0] or U.shape[1] != V.shape[1]:
        raise ValueError(
            f"shapes do not match: theta_W0 {theta_W0.shape} with V {V.shape} (D, r), "
            f"theta_a0 {theta_a0.shape} with U {U.shape} (P, r)"
        )
    if theta_W0.shape[0] != theta_a0.shape[0]:
        raise ValueError("theta_W0 and theta_a0 must have one row per kernel (the same M)")
    return theta_W0 @ V, theta_a0 @ U


def _r(lam, times):
    lam, times = _array(lam, "lam", 1), _array(times, "times", 1)
    if (lam <= 0).any() or (times < 0).any():
        raise ValueError("the singular values must be positive and the times >= 0")
    return np.exp(0.5 * np.outer(times, lam))  # (T, r): r_k(t) = exp(lambda_k t / 2)


def displacement_sq(X, Y, lam, times) -> np.ndarray:
    r"""(1/M) ||P_k (theta_bar_W(t) - theta_bar_W(0))||_2^2 for each direction v_k, the terms of the
    proof of eq. 60 (part III), in its closed form with r_k(t) = exp(lambda_k t / 2):

    .. math:: \frac{1}{4M}\sum_{\beta=1}^M \big[X_{k,\beta}(r_k^2 + r_k^{-2} - 2) + Y_{k,\beta}(r_k^2 - r_k^{-2})\big]^2 .

    X, Y (M, r) from ``initial_projections``; lam (r,); times (T,) -> (T, r). Summed over k it is
    (1/M) ||P_{1:r}(theta_bar_W(t) - theta_bar_W(0))||^2; column 0 over the sum is the
    "majority part" of the ratio of eq. 61.

    >>> displacement_sq([[1.0]], [[0.0]], [2 * np.log(2)], [1.0]).round(6).tolist()   # r = 2: (4 + 1/4 - 2)^2 / 4
    [[1.265625]]
    """
    X, Y = _array(X, "X", 2), _array(Y, "Y", 2)
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
    d = _array(per_direction, "per_direction", 2)
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


def eq60_lower(lam, times, M: int, gamma_eps: float, D: int) -> np.ndarray:
    r"""The lower bound of the proof of eq. 60 on the relative change ||theta_W(t) - theta_W(0)|| / ||theta_W(0)||
    for t <= t_bar_0, part III minus part IV:

    .. math:: \sqrt{\frac{2}{3D}\,\mathrm{part3\_lower}(t)} \;-\; \sqrt{\frac{2}{D}}\, M^{-\frac{\gamma_\varepsilon - 1}{8}},

    on the events of Prop. 3 and ``part3_events`` and with the residual bound of eq. 60
    (``residual_bound``). D = m^2 + 1. (T,).

    >>> bool(eq60_lower([1.0], [0.0], 16, 2.0, 10)[0] < 0)   # nothing at t = 0
    True
    """
    D = _positive_int(D, "D")
    return np.sqrt(2 / (3 * D) * part3_lower(lam, times)) - np.sqrt(2 / D) * residual_bound(M, gamma_eps)


def part3_events(X, Y) -> np.ndarray:
    """The four concentration events the proof of eq. 60 uses for each direction k, all at once:
    1/2 <= (1/M) sum_beta X_{k,beta}^2 <= 3/2, the same for Y, and |(1/M) sum_beta X Y| <= 1/4.
    X, Y (..., M, r) -> (..., r) booleans, True where all four hold.

    >>> part3_events(np.array([[1.0], [-1.0]]), np.array([[1.0], [1.0]])).tolist()
    [True]
    """
    X, Y = _array(X, "X"), _array(Y, "Y")
    if X.shape != Y.shape or X.ndim < 2:
        raise ValueError(f"X {X.shape} and Y {Y.shape} must both be (..., M, r)")
    xx, yy, xy = (np.square(X).mean(-2), np.square(Y).mean(-2), (X * Y).mean(-2))
    return (0.5 <= xx) & (xx <= 1.5) & (0.5 <= yy) & (yy <= 1.5) & (np.abs(xy) <= 0.25)


def part3_failure(widths, r: int, draws: int, seed: int = 0) -> np.ndarray:
    """The Monte Carlo probability, for each width M of ``widths``, that at least one of the events of
    ``part3_events`` fails for some k <= r: X, Y (M, r) independent standard normal (as they are for a
    standard normal theta^0, given Z), ``draws`` times, ``numpy.random.default_rng(seed)``. (K,).

    >>> part3_failure([4096], r=1, draws=20, seed=0).tolist()
    [0.0]
    """
    r, draws = _positive_int(r, "r"), _positive_int(draws, "draws")
    rng = np.random.default_rng(seed)
    out = []
    for M in widths:
        M = _positive_int(M, "M")
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
    lam = _array(lam, "lam", 1)
    t = t0_bar(lam[0], M, gamma_eps)
    return np.exp((lam - lam[0]) * t)


def eq64_width(lambda_1: float, lambda_2: float, gamma_eps: float, level: float) -> float:
    r"""log10 of the width M at which the factor of eq. 64 for v_2, exp(-Delta lambda t_bar_0),
    falls to ``level``:

    .. math:: \log M = \frac{8}{\gamma_\varepsilon - 1}\Big[\frac{\lambda_1}{\Delta\lambda}\log\frac{1}{\mathrm{level}} + \log 2\Big].

    >>> round(float(eq64_width(2.0, 1.0, 9.0, 0.5) / np.log10(2)), 6)   # 3 log 2: M = 8
    3.0
    """
    lam1, lam2, g = _lambda(lambda_1), _lambda(lambda_2, "lambda_2"), _gamma_eps(gamma_eps)
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


def t0_positive_width(gamma_eps: float, D: int, P: int, delta: float) -> float:
    r"""log10 of the width from which t_0 of eq. 58 is positive, i.e. (1/2) M^tau > 2 phi_0:
    tau log M > log 4 + log phi_0(M), tau = (gamma_eps - 1)/4. Below it eq. 57 gives nothing.

    >>> t0_positive_width(9.0, 1, 1, 0.5) < t0_positive_width(2.0, 1, 1, 0.5)
    True
    """
    g, D, P, delta = _gamma_eps(gamma_eps), _positive_int(D, "D"), _positive_int(P, "P"), _delta(delta)
    return _smallest_log_width(lambda lm: (g - 1) / 4 * lm - np.log(4) - _log_phi0(lm, D, P, delta))


def t0_bar_width(gamma_eps: float, D: int, P: int, delta: float) -> float:
    r"""log10 of the width from which t_bar_0 <= t_0 (the proof's "t_bar_0 <= T_eff"): with
    eq. 58, t_bar_0 <= t_0 reads log phi_0(M) <= (gamma_eps - 1)/8 log M - log 2.

    >>> t0_bar_width(9.0, 1, 1, 0.5) < t0_bar_width(2.0, 1, 1, 0.5)
    True
    """
    g, D, P, delta = _gamma_eps(gamma_eps), _positive_int(D, "D"), _positive_int(P, "P"), _delta(delta)
    return _smallest_log_width(lambda lm: (g - 1) / 8 * lm - np.log(2) - _log_phi0(lm, D, P, delta))


def eq57_width(lambda_1: float, gamma_eps: float, D: int, P: int, delta: float,
               K1: float = 1.0, K2: float = 1.0) -> float:
    r"""log10 of the width from which the step from eq. 56 to eq. 57 holds:
    (K_1 M^(-tau) + K_2 M^(-1/2)) / lambda_1 <= phi_0(M) (``remainder_rate``, ``phi0_bound``), so
    that phi(t) <= 2 phi_0 exp(lambda_1 t). K_1 = K_2 = 1 as printed; Prop. 2's constants otherwise.

    >>> eq57_width(1.0, 2.0, 1, 1, 0.5)   # holds from M = 1
    0.0
    """
    lam, g = _lambda(lambda_1), _gamma_eps(gamma_eps)
    D, P, delta = _positive_int(D, "D"), _positive_int(P, "P"), _delta(delta)
    tau = (g - 1) / 4

    def excess(lm):
        return _log_phi0(lm, D, P, delta) + np.log(lam) - np.log(K1 * np.exp(-tau * lm) + K2 * np.exp(-0.5 * lm))

    return _smallest_log_width(excess)
