"""condense_lib.effective_time against loops written from the paper: the energies and
T_eff (eqs. 46, 52, 54), t_0 and the bound of eq. 59, the measures of Theorem 1
(eqs. 14-15) and the bound of Prop. 2 (eqs. 45-48) along a real nonlinear run."""
import numpy as np
import pytest

from condense_lib import (
    E_max,
    T_eff,
    T_eff_lower_bound,
    alignment,
    angle_to,
    build_Z,
    eq59_threshold,
    first_time,
    gamma_exponent,
    neuron_energy,
    phi,
    prop2_bound,
    prop2_constants,
    relative_change,
    sup_until,
    t_0,
    theta_bar,
    train,
    velocity,
)


def test_energy_phi_and_T_eff_against_loops():
    rng = np.random.default_rng(0)
    T, M, D, P = 6, 5, 3, 4
    growth = np.exp(np.linspace(0, 2, T))[:, None, None]
    W = rng.normal(size=(T, M, D)) * growth
    a = rng.normal(size=(T, M, P)) * growth
    times = np.linspace(0, 1, T)
    E = np.empty((T, M))
    for t in range(T):
        for beta in range(M):
            E[t, beta] = np.sqrt(sum(W[t, beta] ** 2) + sum(a[t, beta] ** 2))  # eq. 46
    np.testing.assert_allclose(neuron_energy(W, a), E)
    np.testing.assert_allclose(E_max(W, a), E.max(1))
    ph = [max(E[: t + 1].max(1)) for t in range(T)]  # eq. 52
    np.testing.assert_allclose(phi(W, a), ph)
    for eps in (1e-3, 1e-2, 0.2):
        gamma_eps = -np.log(eps**2) / np.log(M)
        assert gamma_exponent(M, eps) == pytest.approx(gamma_eps)
        expected = np.inf
        for t in range(T):  # eq. 54
            if M * eps**2 * ph[t] ** 3 > M ** (-(gamma_eps - 1) / 4):
                expected = times[t]
                break
        assert T_eff(times, np.array(ph), M, eps=eps) == expected
    # phi > M^((gamma_eps - 1)/4) is the same condition
    assert T_eff(times, np.array(ph), M, eps=1e-2) == first_time(times, np.array(ph) > M ** ((gamma_exponent(M, 1e-2) - 1) / 4))


def test_t0_and_the_bound_of_eq59():
    lam1, M, gamma_eps, D, P, delta = 50.0, 10**6, 2.0, 10, 16, 0.1
    phi0 = np.sqrt(2 * (D + P) * np.log(2 * M * (D + P) / delta))  # eq. 53
    t0 = t_0(lam1, M, gamma_eps=gamma_eps, D=D, P=P, delta=delta)
    assert 2 * phi0 * np.exp(lam1 * t0) == pytest.approx(0.5 * M ** ((gamma_eps - 1) / 4))  # eq. 58
    eta0 = 0.02
    assert T_eff_lower_bound(lam1, M, gamma_eps=gamma_eps, eta_0=eta0) == pytest.approx(
        (np.log(0.25) + (0.25 - eta0) * np.log(M)) / lam1)
    # eq. 59 (t_0 > bound) holds exactly from the threshold on
    log10_M = eq59_threshold(gamma_eps=gamma_eps, D=D, P=P, delta=delta, eta_0=eta0)
    below, above = 10 ** (log10_M * 0.99), 10 ** (log10_M * 1.01)
    for M_, holds in ((below, False), (above, True)):
        log_M = np.log(M_)
        lhs = (0.25 * log_M - np.log(4) - 0.5 * np.log(2 * (D + P) * (np.log(2 * (D + P) / delta) + log_M)))
        assert (lhs > np.log(0.25) + (0.25 - eta0) * log_M) == holds


def test_theorem_1_quantities_against_loops():
    rng = np.random.default_rng(1)
    T, M, D = 4, 6, 5
    W = rng.normal(size=(T, M, D))
    v1 = rng.normal(size=D)
    u = v1 / np.linalg.norm(v1)
    for t in range(T):
        change = np.sqrt(sum(((W[t, b] - W[0, b]) ** 2).sum() for b in range(M)))
        assert relative_change(W)[t] == pytest.approx(change / np.sqrt((W[0] ** 2).sum()))  # eq. 14
        proj = np.sqrt(sum((W[t, b] @ u) ** 2 for b in range(M)))
        assert alignment(W, v1)[t] == pytest.approx(proj / np.sqrt((W[t] ** 2).sum()))  # eq. 15
        for b in range(M):
            cos = abs(W[t, b] @ u) / np.linalg.norm(W[t, b])
            assert angle_to(W, v1)[t, b] == pytest.approx(np.arccos(cos), abs=1e-12)
    aligned = np.ones((2, 3, D)) * u * np.array([1.0, -2.0, 0.5])[None, :, None]
    np.testing.assert_allclose(alignment(aligned, v1), 1.0)
    np.testing.assert_allclose(angle_to(aligned, -v1), 0.0, atol=1e-15)
    assert sup_until([0, 1, 2, 3], [1, 5, 2, 9], 2.5) == 5 and sup_until([0, 1], [3, 4], 0) == 3


def test_prop2_bound_holds_along_a_nonlinear_run_and_matches_its_formula(two_layer_problem):
    eps = 0.05  # large enough that the nonlinearity shows
    x, y, model = two_layer_problem(seed=3, M=5, eps=eps)
    Z = build_Z(x, y, 3)
    lr = 0.05 / np.linalg.svd(Z, compute_uv=False)[0]
    result = train(model, x, y, optimizer="gd", lr=lr, epochs=41, snapshot_epochs=[0, 1, 40, 41], progress=False)
    W, a = theta_bar(result.snapshots, eps)
    vW, va = velocity(W, a, lr)  # snapshots 0, 1 and 40, 41 are consecutive: rows 0 and 2
    BF, BG = prop2_bound(W, a, eps, x=x, y=y)
    for k in (0, 2):
        f, g = vW[k] - a[k] @ Z, va[k] - W[k] @ Z.T  # eq. 45
        bf, bg = prop2_bound(W[k], a[k], eps, x=x, y=y)
        np.testing.assert_allclose(BF[k], bf)
        np.testing.assert_allclose(BG[k], bg)
        assert (np.linalg.norm(f, axis=1) <= bf).all() and (np.linalg.norm(g, axis=1) <= bg).all()
        assert np.linalg.norm(f) > 1e-6  # nonlinear indeed
        # the formula, written out
        c = max(1.0, x.abs().max().item(), y.abs().max().item())
        D, P, M = 10, 20, 5
        E = max(np.sqrt(W[k, b] @ W[k, b] + a[k, b] @ a[k, b]) for b in range(M))
        fac = c**2 * D * P / 2 * M * eps**2 * E**2 + c**3 * D * np.sqrt(P) * eps * E
        assert prop2_constants(x, y, D, P=P) == pytest.approx((c**2 * D * P / 2, c**3 * D * np.sqrt(P)))
        np.testing.assert_allclose(bf, fac * np.linalg.norm(a[k], axis=1))
        np.testing.assert_allclose(bg, fac * np.linalg.norm(W[k], axis=1))
        printed_f, printed_g = prop2_bound(W[k], a[k], eps, x=x, y=y, as_printed=True)  # eq. 48 as printed
        np.testing.assert_allclose(printed_f, (M * eps**2 * E**2 + eps * E) * np.linalg.norm(a[k], axis=1))
        np.testing.assert_allclose(printed_g, (M * eps**2 * E**2 + eps * E) * np.linalg.norm(W[k], axis=1))


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(2)
    W0 = rng.normal(size=(2, 4))
    with pytest.raises(ValueError, match="share their leading axes"):
        neuron_energy(W0, rng.normal(size=(3, 6)))
    with pytest.raises(ValueError, match="v1 has 3 entries"):
        alignment(W0[None], np.ones(3))
    with pytest.raises(ValueError, match="gamma_eps > 1"):
        t_0(10.0, 100, gamma_eps=0.5, D=10, P=16)
    with pytest.raises(ValueError, match="gamma_eps > 1"):
        eq59_threshold(gamma_eps=1.0, D=10, P=16)
    with pytest.raises(ValueError, match="M must be an integer >= 2"):
        gamma_exponent(1, 0.1)
