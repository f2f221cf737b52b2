"""condense_lib.proof (the steps of the proof of Theorem 1) against independent computations:
Monte Carlo with seeded generators, scipy's distributions and quadrature, expm, and loops."""
import doctest
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import integrate, linalg, optimize, stats

import condense_lib as cl
from condense_lib import plotting
from condense_lib import theory as proof

# ----------------------------------------------------------------------------- Lemma 1, eq. 53


def _binomial_ok(freq, p, n, z=5.0):
    """freq of n Bernoulli(p) trials is within z standard deviations of p."""
    return abs(freq - p) <= z * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-12


def test_lemma1_and_eq53_against_monte_carlo_and_the_union_bound():
    rng = np.random.default_rng(0)
    M, D, P, delta, draws = 4, 3, 5, 0.2, 20000
    eta = proof.lemma1_eta(M, D, P, delta=delta)
    N = M * (D + P)
    assert np.isclose(N * 2 * np.exp(-eta**2 / 2), delta)  # the union bound at eta is delta (eq. 49)
    exact = float(proof.max_entry_tail(eta, N))
    assert exact <= delta
    samples = np.abs(rng.standard_normal((draws, N))).max(axis=1)
    assert _binomial_ok((samples > eta).mean(), exact, draws)
    assert np.isclose(proof.phi0_bound(M, D, P, delta=delta), np.sqrt(D + P) * eta)


def test_max_energy_tail_against_scipy_and_monte_carlo():
    # one kernel: the chi-square survival function itself
    assert np.isclose(float(proof.max_energy_tail(3.0, 1, 4, P=2)), stats.chi2.sf(9.0, 6))
    rng = np.random.default_rng(1)
    M, D, P, draws = 5, 2, 3, 20000
    energy = np.sqrt(np.square(rng.standard_normal((draws, M, D + P))).sum(-1)).max(-1)
    for phi in (2.5, 3.0, 4.0):
        assert _binomial_ok((energy > phi).mean(), float(proof.max_energy_tail(phi, M, D, P=P)), draws)


@pytest.mark.parametrize("M, D, P, delta", [(1, 10, 0, 0.1), (32, 10, 676, 0.1), (1000, 28, 16, 0.01), (3, 1, 1, 0.5)])
def test_the_chi_square_phi0_holds_and_is_sharper_than_eq53(M, D, P, delta):
    sharp = proof.phi0_chi2(M, D, P, delta=delta)
    assert float(proof.max_energy_tail(sharp, M, D, P=P)) <= delta
    assert float(proof.max_energy_tail(proof.phi0_bound(M, D, P, delta=delta), M, D, P=P)) <= delta
    assert sharp < proof.phi0_bound(M, D, P, delta=delta)


def test_initial_draws_against_a_loop_and_independent_of_the_chunk():
    M, D, P, draws = 3, 2, 4, 7
    s = proof.initial_draws(M, D, P, draws=draws, seed=5, chunk=3)
    t = proof.initial_draws(M, D, P, draws=draws, seed=5, chunk=64)
    rng = np.random.default_rng(5)
    theta = rng.standard_normal((draws, M, D + P))
    for i in range(draws):
        assert np.isclose(s.max_entry[i], max(abs(v) for v in theta[i].ravel()))
        assert np.isclose(s.max_energy[i], max(np.sqrt(sum(v * v for v in row)) for row in theta[i]))
        assert np.isclose(s.norm_W_sq[i], sum(v * v for row in theta[i] for v in row[:D]))
    for name in ("max_entry", "max_energy", "norm_W_sq"):
        assert np.array_equal(getattr(s, name), getattr(t, name))


# ----------------------------------------------------------------------------- Remark 6, Prop. 3


@pytest.mark.parametrize("d", [1, 2, 5, 10])
def test_psi1_norm_against_quadrature(d):
    def mgf(s):  # E exp(X / s) for X ~ chi^2(d), by quadrature of the density
        return integrate.quad(lambda z: np.exp(z / s + stats.chi2.logpdf(z, d)), 0, np.inf, limit=200)[0]

    s = optimize.brentq(lambda s: mgf(s) - 2, 2.3, 100.0 * d, xtol=1e-12)  # E exp(X / 2.3) > 2 for every d
    assert np.isclose(float(proof.psi1_norm_chi2(d)), s, rtol=1e-6)


def test_remark6_upper_bound_fails_from_d_2():
    assert np.isclose(float(proof.psi1_norm_chi2(1)), 8 / 3)
    assert (proof.psi1_norm_chi2(np.arange(2, 50)) > 3).all()


def test_prop3_failure_against_monte_carlo_and_its_widths():
    rng = np.random.default_rng(2)
    M, D, draws = 2, 3, 20000
    norm_sq = np.square(rng.standard_normal((draws, M * D))).sum(1)
    freq = ((norm_sq < M * D / 2) | (norm_sq > 3 * M * D / 2)).mean()
    assert _binomial_ok(freq, float(proof.prop3_failure(M, D)), draws)
    for D, delta in [(10, 0.1), (28, 0.01), (2, 0.05)]:
        M = proof.prop3_width(D, delta, "exact")
        assert proof.prop3_failure(M, D) <= delta and (M == 1 or proof.prop3_failure(M - 1, D) > delta)
        # Laurent-Massart's two tails at x = log(2 / delta) give at most delta, and fit in [k/2, 3k/2]
        k, x = proof.prop3_width(D, delta) * D, np.log(2 / delta)
        assert 2 * np.sqrt(k * x) + 2 * x <= k / 2 and proof.prop3_width(D, delta) >= M


# ----------------------------------------------------------------------------- eqs. 55-57


def test_duhamel_integral_against_a_loop_and_the_integral():
    rng = np.random.default_rng(3)
    times = np.cumsum(np.r_[0.0, rng.uniform(0.01, 0.1, 30)])
    rate = rng.uniform(0, 2, (31, 4))
    lam = 1.7
    got = proof.duhamel_integral(times, lam, rate)
    for k in range(len(times)):
        want = sum((times[j + 1] - times[j]) * np.exp(lam * (times[k] - times[j])) * rate[j] for j in range(k))
        assert np.allclose(got[k], want)
    assert np.allclose(proof.duhamel_integral(times, lam, rate[:-1]), got)  # the last rate is never used
    fine = np.linspace(0, 2, 20001)  # constant rate: the integral (e^{lam t} - 1) / lam
    assert np.isclose(proof.duhamel_integral(fine, lam, np.ones_like(fine))[-1], np.expm1(2 * lam) / lam, rtol=1e-3)


def test_the_bounds_of_step_1_and_eq56_hold_for_gd_on_a_perturbed_linear_system():
    """theta_{k+1} = (I + lr A) theta_k + lr r_k: the rest theta - (I + lr A)^k theta_0 obeys the
    Duhamel bound, and the energy the Groenwall bound, with ||I + lr A|| = 1 + lr lambda_1."""
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((6, 4))
    A = np.block([[np.zeros((4, 4)), Z.T], [Z, np.zeros((6, 6))]])
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    lr, steps, M = 0.01 / lam1, 300, 5
    theta = rng.standard_normal((M, 10))
    linear = theta.copy()
    thetas, linears, rates = [theta], [linear], []
    for _ in range(steps):
        r = 0.3 * rng.standard_normal((M, 10)) * np.linalg.norm(theta, axis=1, keepdims=True) ** 0.5
        rates.append(np.linalg.norm(r, axis=1))
        theta = theta + lr * (theta @ A + r)  # A is symmetric
        linear = linear + lr * linear @ A
        thetas.append(theta), linears.append(linear)
    thetas, linears, rates = np.array(thetas), np.array(linears), np.array(rates)
    times = lr * np.arange(steps + 1)
    rest = np.linalg.norm(thetas - linears, axis=-1)
    assert (rest <= proof.duhamel_integral(times, lam1, rates) * (1 + 1e-12) + 1e-12).all()
    energy = np.linalg.norm(thetas, axis=-1).max(1)
    phi = np.maximum.accumulate(energy)
    assert (phi <= proof.gronwall_bound(times, lam1, phi[0], rate=rates.max(1)) * (1 + 1e-12)).all()


def test_remainder_rate_bounds_the_factor_before_T_eff():
    for M, g in [(32, 6.64), (256, 2.0), (1000, 4.0)]:
        eps, tau = M ** (-g / 2), (g - 1) / 4
        phi_max = (M ** (-tau) / (M * eps**2)) ** (1 / 3)  # M eps^2 phi^3 = M^-tau: the edge of T_eff
        phi = np.linspace(0, phi_max, 1001)
        factor = M * eps**2 * phi**3 + eps * phi**2
        assert factor.max() <= proof.remainder_rate(M, g) * (1 + 1e-12)
        assert np.isclose(factor.max(), proof.remainder_rate(M, g))  # attained at the edge
        assert proof.remainder_rate(M, g) <= 2 * M ** -min(tau, 0.5)
        if tau > 0.5:  # the exponent printed in eq. 56 is too small
            assert factor.max() > proof.eq56_rate_as_printed(M, g)


# ----------------------------------------------------------------------------- eqs. 60-64


def test_t0_bar_and_residual_bound_satisfy_the_proofs_identity():
    for lam, M, g in [(2.0, 100, 2.0), (196.0, 32, 3.0), (0.5, 10**6, 1.5)]:
        t = proof.t0_bar(lam, M, g)
        tau = (g - 1) / 4
        assert np.isclose(2 * M ** (-tau) * np.exp(lam * t), proof.residual_bound(M, g))


def _random_Z(seed, P=7, D=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((P, D)), rng


def test_displacement_sq_against_expm():
    Z, rng = _random_Z(6)
    P, D = Z.shape
    M = 9
    W0, a0 = rng.standard_normal((M, D)), rng.standard_normal((M, P))
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    X, Y = proof.initial_projections(W0, a0, U, V=Vt.T)
    A = np.block([[np.zeros((D, D)), Z.T], [Z, np.zeros((P, P))]])
    times = np.array([0.0, 0.3, 1.1])
    per = proof.displacement_sq(X, Y, s, times=times)
    for i, t in enumerate(times):
        theta = np.concatenate([W0, a0], 1) @ linalg.expm(t * A).T
        moved = theta[:, :D] - W0  # (M, D)
        assert np.isclose(per[i].sum(), np.square(moved).sum() / M)
        assert np.allclose(per[i], np.square(moved @ Vt.T).mean(0))  # direction by direction
    assert np.isnan(proof.v1_share(per)[0]) and np.isclose(proof.v1_share(per)[2], per[2, 0] / per[2].sum())


def test_part3_lower_holds_on_the_events():
    rng = np.random.default_rng(7)
    lam, times = np.array([3.0, 1.0, 0.4]), np.linspace(0, 2, 9)
    held = 0
    for _ in range(200):
        X, Y = rng.standard_normal((2, 40, 3))
        if proof.part3_events(X, Y).all():
            held += 1
            assert (proof.displacement_sq(X, Y, lam, times=times).sum(1) >= proof.part3_lower(lam, times) - 1e-12).all()
    assert held > 20
    r = np.exp(0.5 * np.outer(times, lam))
    assert (proof.part3_lower(lam, times) >= ((r - 1 / r) ** 4).sum(1) / 8 - 1e-12).all()


def test_part3_events_and_failure_against_a_loop():
    rng = np.random.default_rng(8)
    X, Y = rng.standard_normal((2, 30, 4))
    got = proof.part3_events(X, Y)
    for k in range(4):
        x, y = X[:, k], Y[:, k]
        want = (0.5 <= np.mean(x * x) <= 1.5) and (0.5 <= np.mean(y * y) <= 1.5) and abs(np.mean(x * y)) <= 0.25
        assert got[k] == want
    draws, M, r = 50, 16, 3
    X, Y = np.random.default_rng(9).standard_normal((2, draws, M, r))
    want = np.mean([not proof.part3_events(X[i], Y[i]).all() for i in range(draws)])
    assert proof.part3_failure([M], r, draws, seed=9)[0] == want


def test_eq64_factor_and_width_agree():
    lam = np.array([5.0, 3.0, 1.0])
    g, level = 2.5, 0.1
    log10_M = proof.eq64_width(lam[0], lam[1], g, level=level)
    t = (g - 1) / 8 * log10_M * np.log(10) - np.log(2)  # lambda_1 t_bar_0 at that width
    assert np.isclose(np.exp(-(lam[0] - lam[1]) / lam[0] * t), level)
    factor = proof.eq64_factor(lam, 10**4, g)
    assert factor[0] == 1 and (np.diff(factor) < 0).all()


@pytest.mark.parametrize("g", [2.0, 6.64])
def test_widths_sit_where_their_conditions_turn(g):
    D, P, delta, lam1 = 10, 676, 0.1, 196.0

    def around(log10_M):  # the integer widths just below and just above 10^log10_M
        return int(np.floor(10**log10_M * (1 - 1e-9))), int(np.ceil(10**log10_M * (1 + 1e-9)))

    lo, hi = around(proof.t0_positive_width(g, D, P, delta=delta))
    assert cl.t_0(lam1, lo, g, D=D, P=P, delta=delta) < 0 <= cl.t_0(lam1, hi, g, D=D, P=P, delta=delta)
    def t_0(M):  # eq. 58 written out (cl.t_0 takes M below 2^63 only)
        return ((g - 1) / 4 * math.log(M) - math.log(4) - math.log(proof.phi0_bound(M, D, P, delta=delta))) / lam1

    assert np.isclose(t_0(hi), cl.t_0(lam1, hi, g, D=D, P=P, delta=delta))
    lo, hi = around(proof.t0_bar_width(g, D, P, delta=delta))
    gap = lambda M: proof.t0_bar(lam1, M, g) - t_0(M)  # noqa: E731
    assert gap(lo) > 0 >= gap(hi)
    K1, K2 = 2.7e5, 1.9e5
    M = int(round(10 ** proof.eq57_width(lam1, g, D, P=P, delta=delta, K1=K1, K2=K2)))
    rate = lambda M: proof.remainder_rate(M, g, K1, K2=K2) / lam1  # noqa: E731
    assert rate(M + 1) <= proof.phi0_bound(M + 1, D, P, delta=delta) and rate(M - 1) > proof.phi0_bound(M - 1, D, P, delta=delta)


# ----------------------------------------------------------------------------- a real run


def test_the_bounds_hold_along_a_real_gd_run(tmp_cache, data_dir):
    base = cl.theory_config(dataset="mnist", split="test", n=20, seed=0, crop=6, m=3, M=8, eps=1e-4)
    x, y = base.data()
    Z = cl.build_Z(x, y, 3)
    lam1 = cl.spectrum(Z).singular_values[0]
    lr = cl.gd_step(lam1, 0.1)
    config = base.replace(lr=lr, epochs=60, snapshot_epochs=tuple(range(61)))
    W, a = cl.theta_bar(cl.run(config).snapshots, 1e-4)
    times = config.times()
    W_bar, a_bar = cl.closed_form(Z, W[0], a[0], times=times, lr=lr)
    rest = proof.joint_norm(W - W_bar, a - a_bar)
    vW, va = cl.velocity(W, a, lr)
    lW, la = cl.linear_field(Z, W[:-1], a[:-1])
    remainder = proof.joint_norm(vW - lW, va - la)
    assert (rest <= proof.duhamel_integral(times, lam1, remainder) * (1 + 1e-9) + 1e-9).all()
    phi = cl.phi(W, a)
    assert (phi <= proof.gronwall_bound(times, lam1, phi[0], rate=remainder.max(1)) * (1 + 1e-9)).all()


# ----------------------------------------------------------------------------- checks, doctests, figures


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="delta"):
        proof.lemma1_eta(4, 10, 5, delta=1.5)
    with pytest.raises(ValueError, match="positive integer"):
        proof.phi0_bound(0, 10, 5, delta=0.1)
    with pytest.raises(ValueError, match="gamma_eps > 1"):
        proof.t0_bar(1.0, 16, 0.5)
    with pytest.raises(ValueError, match="lambda_1"):
        proof.t0_bar(-1.0, 16, 2.0)
    with pytest.raises(ValueError, match="increasing"):
        proof.duhamel_integral([0.0, 0.2, 0.1], 1.0, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="first axis"):
        proof.duhamel_integral([0.0, 0.1, 0.2], 1.0, [1.0])
    with pytest.raises(ValueError, match="leading axes"):
        proof.joint_norm(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="shapes do not match"):
        proof.initial_projections(np.ones((3, 4)), np.ones((3, 5)), np.ones((5, 2)), V=np.ones((3, 2)))
    with pytest.raises(ValueError, match="spectral gap"):
        proof.eq64_width(1.0, 1.0, 2.0, level=0.1)
    with pytest.raises(ValueError, match="method"):
        proof.prop3_width(10, 0.1, method="bernstein")


def test_doctests():
    assert doctest.testmod(proof, raise_on_error=False).failed == 0


def test_plotting_draws_and_labels_every_axis():
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 3)
    t = np.linspace(0, 3, 20)
    out = [
        plotting.tail_histogram(rng.uniform(1, 2, 50), {"bound": 2.5}, ax=axes[0], logx=True, xlabel="phi(0)"),
        plotting.bound_curves(t, {"measured": np.exp(t)}, {"bound": 2 * np.exp(t), "point": (np.array([1.0]), np.array([3.0]))},
                                    ax=axes[1], marks={"T": 1.0}, levels={"level": 5.0}),
        plotting.failure_curves([8, 16, 32], {"step": [0.5, 0.01, 0.0]}, 0.1, ax=axes[2], marks={"M": 16}),
    ]
    for ax, want in zip(out, axes):
        assert ax is want and ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)
