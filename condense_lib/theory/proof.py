"""The proof of Theorem 1, step by step (App. C.4-C.5), first half (eqs. 49-57): the bounds on
the initial parameters (Lemma 1, eq. 53; Remark 6, Prop. 3) and the Groenwall bound on the
neuron energy (eqs. 55-57). The second half, eqs. 60-64 and the widths from which the
asymptotic steps hold, is ``proof_part3``.

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

import numpy as np
from scipy import stats

from .checks import check_array, check_delta, check_gamma_eps, check_times, positive_int

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
]



# ----------------------------------------------------------------------------- Lemma 1, eq. 53


def lemma1_eta(M: int, D: int, P: int, *, delta: float) -> float:
    r"""The level of Lemma 1 (eq. 49): with probability at least 1 - delta, every one of the
    M (D + P) standard normal initial parameters has absolute value at most

    .. math:: \eta_\delta = \sqrt{2 \log \frac{2 M (D + P)}{\delta}},

    D = m^2 + 1 (C m^2 + 1 with C channels), P = W_1 H_1. The proof is a union bound on
    P(|X| > eta) <= 2 exp(-eta^2 / 2).

    >>> round(lemma1_eta(1, 1, 0, delta=0.5), 4)   # sqrt(2 log 4)
    1.6651
    """
    M, D, P = positive_int(M, "M"), positive_int(D, "D"), int(P)
    if P < 0:
        raise ValueError(f"P must be >= 0, got {P!r}")
    return float(np.sqrt(2 * np.log(2 * M * (D + P) / check_delta(delta))))


def phi0_bound(M: int, D: int, P: int, *, delta: float) -> float:
    r"""phi_0, the bound of eq. 53 on phi(0) = max_beta E_beta(0):

    .. math:: \phi(0) \le \phi_0 = \sqrt{2 (D + P) \log \frac{2 M (D + P)}{\delta}}
              = \sqrt{D + P}\, \eta_\delta,

    from Lemma 1 and ||v||_2 <= sqrt(dim) ||v||_inf. Holds with probability 1 - delta.

    >>> round(phi0_bound(1, 1, 0, delta=0.5), 4)
    1.6651
    """
    return float(np.sqrt(D + P) * lemma1_eta(M, D, P, delta=delta))


def phi0_chi2(M: int, D: int, P: int, *, delta: float) -> float:
    r"""A sharper phi_0 from the chi-square law of E_beta(0)^2 (Laurent and Massart, 2000,
    Lemma 1, cited by the paper): E_beta(0)^2 ~ chi^2(d), d = D + P, and
    P(chi^2(d) - d >= 2 sqrt(d x) + 2 x) <= exp(-x); with x = log(M / delta) and a union
    bound over the M kernels, with probability at least 1 - delta,

    .. math:: \max_\beta E_\beta(0) \le \sqrt{d + 2\sqrt{d x} + 2x}, \qquad x = \log(M/\delta).

    >>> round(phi0_chi2(1, 1, 0, delta=np.exp(-1.0)), 4)   # d = x = 1: sqrt(5)
    2.2361
    """
    M, D = positive_int(M, "M"), positive_int(D, "D")
    d, x = D + int(P), np.log(M / check_delta(delta))
    return float(np.sqrt(d + 2 * np.sqrt(d * x) + 2 * x))


def max_entry_tail(eta, N: int) -> np.ndarray:
    """The exact probability that the largest of N independent |N(0, 1)| exceeds ``eta``,
    1 - (1 - 2 Phi(-eta))^N: what Lemma 1 bounds by N 2 exp(-eta^2 / 2) (N = M (D + P)).

    >>> round(float(max_entry_tail(1.0, 1)), 4)   # P(|X| > 1)
    0.3173
    """
    N = positive_int(N, "N")
    eta = check_array(eta, "eta")
    if (eta < 0).any():
        raise ValueError("eta must be >= 0")
    with np.errstate(divide="ignore"):  # eta = 0: log 0 = -inf, probability 1
        return -np.expm1(N * np.log1p(-2 * stats.norm.sf(eta)))


def max_energy_tail(phi, M: int, D: int, *, P: int) -> np.ndarray:
    """The exact probability that max_beta E_beta(0) > ``phi`` for M kernels with standard
    normal parameters: E_beta(0)^2 ~ chi^2(D + P) independently, so it is
    1 - F(phi^2)^M with F the chi^2(D + P) distribution function (eq. 53's event).

    >>> round(float(max_energy_tail(1.0, 1, 1, P=0)), 4)   # P(|X| > 1)
    0.3173
    """
    M, D = positive_int(M, "M"), positive_int(D, "D")
    phi = check_array(phi, "phi")
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


def initial_draws(M: int, D: int, P: int, *, draws: int, seed: int = 0, chunk: int = 64) -> InitialDraws:
    """Draw ``draws`` initializations theta^0 of M kernels (theta_W (M, D), theta_a (M, P), all
    entries N(0, 1), eq. 28) with ``numpy.random.default_rng(seed)``, ``chunk`` at a time, and
    keep the three statistics the proof bounds (``InitialDraws``).

    >>> s = initial_draws(2, 3, 4, draws=5, seed=1)
    >>> s.max_energy.shape, bool((s.max_entry <= s.max_energy).all())
    ((5,), True)
    """
    M, D, P = positive_int(M, "M"), positive_int(D, "D"), positive_int(P, "P")
    draws, chunk = positive_int(draws, "draws"), positive_int(chunk, "chunk")
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
    d = check_array(d, "d")
    if (d <= 0).any():
        raise ValueError("d must be a positive number of degrees of freedom")
    return 2 / -np.expm1(-2 * np.log(2) / d)


def prop3_failure(M, D: int) -> np.ndarray:
    r"""The exact probability that Prop. 3 (eq. 51) fails, i.e. that ||theta_W^0||_2^2 lies outside
    [M D / 2, 3 M D / 2]: ||theta_W^0||_2^2 ~ chi^2(M D), D = m^2 + 1. M may be an array.

    >>> bool(prop3_failure(1000, 10) < 1e-30)
    True
    """
    M = check_array(M, "M")
    if (M < 1).any():
        raise ValueError("M must be >= 1")
    D = positive_int(D, "D")
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
    D, delta = positive_int(D, "D"), check_delta(delta)
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
    arrays = [check_array(p, f"part {i}") for i, p in enumerate(parts)]
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
    times = check_times(times)
    lam = float(lambda_1)
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lambda_1 must be >= 0, got {lambda_1!r}")
    rate = check_array(rate, "rate")
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


def gronwall_bound(times, lambda_1: float, phi0: float, *, rate) -> np.ndarray:
    r"""The right-hand side of the first line of eq. 56, the bound on phi(t) (eq. 52):

    .. math:: \phi(t) \le \phi(0)\, e^{\lambda_1 t} + \int_0^t e^{\lambda_1 (t-s)}\, \mathrm{rate}(s)\, ds,

    where ``rate`` bounds max_beta ||(f_beta, g_beta)(s)||: the measured remainder, or Prop. 2's
    K_1 M eps^2 phi^3 + K_2 eps phi^2. ||exp(tA)||_{2->2} = exp(lambda_1 t) since A (eq. 34) is
    symmetric with eigenvalues +-lambda_k and 0. Integral as in ``duhamel_integral``.

    >>> gronwall_bound([0.0, 1.0], 0.0, 2.0, rate=[1.0, 1.0]).tolist()
    [2.0, 3.0]
    """
    times = check_times(times)
    if not (np.isfinite(phi0) and phi0 >= 0):
        raise ValueError(f"phi0 must be a non-negative energy, got {phi0!r}")
    return phi0 * np.exp(float(lambda_1) * times) + duhamel_integral(times, lambda_1, rate)


def remainder_rate(M: int, gamma_eps: float, K1: float = 1.0, *, K2: float = 1.0) -> float:
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
    M, g = positive_int(M, "M"), check_gamma_eps(gamma_eps)
    tau = (g - 1) / 4
    return float(K1 * M ** (-tau) + K2 * M ** (-0.5))


def eq56_rate_as_printed(M: int, gamma_eps: float) -> float:
    """The rate eq. 56 prints, 2 M^(-min{1, tau}), tau = (gamma_eps - 1)/4. For tau > 1/2 it is
    smaller than the M^(-1/2) that eps phi^2 reaches at T_eff: the printed bound is too small.

    >>> eq56_rate_as_printed(16, 5.0)   # tau = 1
    0.125
    """
    M, g = positive_int(M, "M"), check_gamma_eps(gamma_eps)
    return float(2 * M ** (-min(1.0, (g - 1) / 4)))
