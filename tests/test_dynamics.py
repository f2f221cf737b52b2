import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from condense_lib import (
    CNN,
    E_max,
    T_eff,
    T_eff_lower_bound,
    run,
    theory_config,
    alignment,
    angle_to,
    build_Z,
    closed_form,
    eq59_threshold,
    first_time,
    frozen_part,
    linear_field,
    reference_solution,
    theorem1_scan,
    gamma_exponent,
    neuron_energy,
    phi,
    prop2_bound,
    prop2_constants,
    relative_change,
    relative_distance,
    sup_until,
    t_0,
    theta_bar,
    train,
    velocity,
)

rng = np.random.default_rng(0)


def _A(Z):
    P, D = Z.shape
    return np.block([[np.zeros((D, D)), Z.T], [Z, np.zeros((P, P))]])  # eq. 34


def _rank_deficient(P, D, r, seed):
    g = np.random.default_rng(seed)
    return g.normal(size=(P, r)) @ g.normal(size=(r, D))


PROBLEMS = [
    ("P > D", lambda: rng.normal(size=(7, 4))),
    ("P < D", lambda: rng.normal(size=(3, 5))),
    ("rank 2 < min(P, D)", lambda: _rank_deficient(6, 5, 2, 1)),
]


@pytest.mark.parametrize("name, make", PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_closed_form_matches_solve_ivp_and_expm(name, make):
    Z = make()
    P, D = Z.shape
    M = 3
    W0, a0 = rng.normal(size=(M, D)), rng.normal(size=(M, P))
    times = np.array([0.0, 0.1, 0.5, 1.3])
    W, a = closed_form(Z, W0, a0, times)
    assert W.shape == (4, M, D) and a.shape == (4, M, P)
    A = _A(Z)
    for beta in range(M):
        theta0 = np.r_[W0[beta], a0[beta]]
        sol = solve_ivp(lambda t, th: A @ th, (0, times[-1]), theta0, t_eval=times, rtol=1e-12, atol=1e-14,
                        method="DOP853")
        ref = sol.y.T  # (T, D + P)
        got = np.concatenate([W[:, beta], a[:, beta]], axis=1)
        assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-8
        for k, t in enumerate(times):
            np.testing.assert_allclose(got[k], expm(t * A) @ theta0, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_reference_solutions_agree_with_scipy_written_out():
    Z = rng.normal(size=(5, 3))
    W0, a0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    times = np.array([0.0, 0.4, 1.0])
    for method in ("solve_ivp", "expm"):
        W, a = reference_solution(Z, W0, a0, times, method=method)
        for beta in range(2):
            for k, t in enumerate(times):
                ref = expm(t * _A(Z)) @ np.r_[W0[beta], a0[beta]]
                np.testing.assert_allclose(np.r_[W[k, beta], a[k, beta]], ref, rtol=1e-9, atol=1e-10)


def test_frozen_part_of_remark_5_does_not_move():
    Z = _rank_deficient(6, 5, 2, 2)  # null space of Z: 3 directions of theta_W; of Z^T: 4 of theta_a
    W0, a0 = rng.normal(size=(4, 5)), rng.normal(size=(4, 6))
    W, a = closed_form(Z, W0, a0, np.linspace(0, 3, 7))
    _, s, Vt = np.linalg.svd(Z)
    U = np.linalg.svd(Z)[0]
    null_W, null_a = Vt[2:].T, U[:, 2:]  # (5, 3), (6, 4)
    np.testing.assert_allclose(W @ null_W, np.broadcast_to(W0 @ null_W, (7, 4, 3)), atol=1e-12)
    np.testing.assert_allclose(a @ null_a, np.broadcast_to(a0 @ null_a, (7, 4, 4)), atol=1e-12)
    assert np.linalg.norm(W[-1] - W0) > 10  # the rest grows like exp(lambda_1 t)
    fW, fa = frozen_part(Z, W, a)
    np.testing.assert_allclose(fW, (W @ null_W) @ null_W.T, atol=1e-10)
    np.testing.assert_allclose(fa, (a @ null_a) @ null_a.T, atol=1e-10)


def test_gd_closed_form_equals_iterating_I_plus_lr_A():
    Z = rng.normal(size=(5, 3))
    W0, a0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    lr = 0.3 / lam1  # large enough that it differs from the flow, and 1 - lr lambda_k > 0
    step = np.eye(8) + lr * _A(Z)
    times = lr * np.array([0, 1, 7, 20])
    W, a = closed_form(Z, W0, a0, times, lr=lr)
    for k, n_steps in enumerate([0, 1, 7, 20]):
        ref = np.linalg.matrix_power(step, n_steps) @ np.concatenate([W0, a0], axis=1).T
        np.testing.assert_allclose(np.concatenate([W[k], a[k]], axis=1), ref.T, rtol=1e-11, atol=1e-11)
    Wf, _ = closed_form(Z, W0, a0, times)
    assert np.abs(Wf[-1] - W[-1]).max() > 1e-2  # the flow is not GD at this step


def test_large_lambda_t_is_exact_and_overflow_is_refused():
    Z = np.array([[2.0, 0.0], [0.0, 1.0]])
    W, a = closed_form(Z, np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), np.array([300.0]))
    assert W[0, 0, 0] == pytest.approx(np.cosh(600.0), rel=1e-12) and a[0, 0, 0] == pytest.approx(np.sinh(600.0), rel=1e-12)
    with pytest.raises(ValueError, match="overflows"):
        closed_form(Z, np.ones((1, 2)), np.ones((1, 2)), np.array([400.0]))


def _problem(seed=0, n=12, shape=(1, 7, 6), M=4, eps=1e-7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *shape), generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=g).double()
    model = CNN(shape, (M,), m=3, activation="tanh", head="linear", init="theory", eps=eps, seed=seed).double()
    return x, y, model


def test_theta_bar_orders_match_a_loop_and_build_Z():
    x, y, model = _problem(M=3, eps=0.1)
    W = model.convs[0].weight.detach().numpy()
    b = model.convs[0].bias.detach().numpy()
    a = model.readout.weight.detach().numpy()[0]
    tW, ta = theta_bar({k: v.detach().numpy() for k, v in model.named_parameters()}, 0.1)
    H1, W1 = 5, 4
    for beta in range(3):
        vec = [W[beta, 0, p, q] for p in range(3) for q in range(3)] + [b[beta]]
        np.testing.assert_allclose(tW[0, beta], np.array(vec) / 0.1)
        np.testing.assert_allclose(ta[0, beta], [a[beta * H1 * W1 + u * W1 + v] / 0.1 for u in range(H1) for v in range(W1)])
    # the orders pair with Z: theta_a . Z theta_W = sum_{u,v} a_uv x^[1]_uv averaged with y (eqs. 30-31)
    Z = build_Z(x, y, 3)
    with torch.no_grad():
        pre = model.convs[0](x)  # (n, M, H1, W1)
    lhs = np.einsum("bp,pd,bd->b", ta[0], Z, tW[0])
    rhs = np.einsum("n,nbp,bp->b", y.numpy(), pre.reshape(len(y), 3, -1).numpy(), ta[0]) / len(y) / 0.1
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_a_trained_network_follows_the_closed_form_at_early_times():
    x, y, model = _problem(M=4, eps=1e-7)
    Z = build_Z(x, y, 3)
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    lr, steps = 0.02 / lam1, 150  # lambda_1 t = 3
    result = train(model, x, y, "gd", lr=lr, epochs=steps, snapshot_epochs=[0, 1, 50, 100, 150], progress=False)
    W, a = theta_bar(result.snapshots, 1e-7)
    # the initial velocity of the real run is A theta_bar (eqs. 32-34, time t = lr x epochs)
    vW, va = velocity(W[:2], a[:2], lr)
    ref = np.concatenate([W[0], a[0]], axis=1) @ _A(Z).T
    assert np.linalg.norm(np.concatenate([vW[0], va[0]], 1) - ref) / np.linalg.norm(ref) < 1e-6
    lW, la = linear_field(Z, W[0], a[0])
    np.testing.assert_allclose(np.concatenate([lW, la], 1), ref, rtol=1e-12, atol=1e-12)
    times = lr * result.epochs
    real = np.concatenate([W, a], axis=2)
    gd = np.concatenate(closed_form(Z, W[0], a[0], times, lr=lr), axis=2)
    flow = np.concatenate(closed_form(Z, W[0], a[0], times), axis=2)
    assert relative_distance(real, gd).max() < 1e-6  # exact up to the O(eps^2) nonlinearity
    gap = relative_distance(real, flow)
    assert 1e-4 < gap[-1] < 0.05  # Euler's O(lr lambda_1) error, small for a small step
    assert np.linalg.norm(real[-1]) > 3 * np.linalg.norm(real[0])  # it did move


def test_energy_phi_and_T_eff_against_loops():
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
        gamma = -np.log(eps**2) / np.log(M)
        assert gamma_exponent(M, eps) == pytest.approx(gamma)
        expected = np.inf
        for t in range(T):  # eq. 54
            if M * eps**2 * ph[t] ** 3 > M ** (-(gamma - 1) / 4):
                expected = times[t]
                break
        assert T_eff(times, np.array(ph), M, eps) == expected
    # phi > M^((gamma - 1)/4) is the same condition
    assert T_eff(times, np.array(ph), M, 1e-2) == first_time(times, np.array(ph) > M ** ((gamma_exponent(M, 1e-2) - 1) / 4))


def test_t0_and_the_bound_of_eq59():
    lam1, M, gamma, D, P, delta = 50.0, 10**6, 2.0, 10, 16, 0.1
    phi0 = np.sqrt(2 * (D + P) * np.log(2 * M * (D + P) / delta))  # eq. 53
    t0 = t_0(lam1, M, gamma, D, P, delta)
    assert 2 * phi0 * np.exp(lam1 * t0) == pytest.approx(0.5 * M ** ((gamma - 1) / 4))  # eq. 58
    eta0 = 0.02
    assert T_eff_lower_bound(lam1, M, gamma, eta0) == pytest.approx((np.log(0.25) + (0.25 - eta0) * np.log(M)) / lam1)
    # eq. 59 (t_0 > bound) holds exactly from the threshold on
    log10_M = eq59_threshold(gamma, D, P, delta, eta0)
    below, above = 10 ** (log10_M * 0.99), 10 ** (log10_M * 1.01)
    for M_, holds in ((below, False), (above, True)):
        log_M = np.log(M_)
        lhs = (0.25 * log_M - np.log(4) - 0.5 * np.log(2 * (D + P) * (np.log(2 * (D + P) / delta) + log_M)))
        assert (lhs > np.log(0.25) + (0.25 - eta0) * log_M) == holds


def test_theorem_1_quantities_against_loops():
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


def test_prop2_bound_holds_along_a_nonlinear_run_and_matches_its_formula():
    eps = 0.05  # large enough that the nonlinearity shows
    x, y, model = _problem(seed=3, M=5, eps=eps)
    Z = build_Z(x, y, 3)
    lr = 0.05 / np.linalg.svd(Z, compute_uv=False)[0]
    result = train(model, x, y, "gd", lr=lr, epochs=41, snapshot_epochs=[0, 1, 40, 41], progress=False)
    W, a = theta_bar(result.snapshots, eps)
    vW, va = velocity(W, a, lr)  # snapshots 0, 1 and 40, 41 are consecutive: rows 0 and 2
    BF, BG = prop2_bound(W, a, eps, x, y)
    for k in (0, 2):
        f, g = vW[k] - a[k] @ Z, va[k] - W[k] @ Z.T  # eq. 45
        bf, bg = prop2_bound(W[k], a[k], eps, x, y)
        np.testing.assert_allclose(BF[k], bf)
        np.testing.assert_allclose(BG[k], bg)
        assert (np.linalg.norm(f, axis=1) <= bf).all() and (np.linalg.norm(g, axis=1) <= bg).all()
        assert np.linalg.norm(f) > 1e-6  # nonlinear indeed
        # the formula, written out
        c = max(1.0, x.abs().max().item(), y.abs().max().item())
        D, P, M = 10, 20, 5
        E = max(np.sqrt(W[k, b] @ W[k, b] + a[k, b] @ a[k, b]) for b in range(M))
        fac = c**2 * D * P / 2 * M * eps**2 * E**2 + c**3 * D * np.sqrt(P) * eps * E
        assert prop2_constants(x, y, D, P) == pytest.approx((c**2 * D * P / 2, c**3 * D * np.sqrt(P)))
        np.testing.assert_allclose(bf, fac * np.linalg.norm(a[k], axis=1))
        np.testing.assert_allclose(bg, fac * np.linalg.norm(W[k], axis=1))
        printed_f, printed_g = prop2_bound(W[k], a[k], eps, x, y, as_printed=True)  # eq. 48 as printed
        np.testing.assert_allclose(printed_f, (M * eps**2 * E**2 + eps * E) * np.linalg.norm(a[k], axis=1))
        np.testing.assert_allclose(printed_g, (M * eps**2 * E**2 + eps * E) * np.linalg.norm(W[k], axis=1))


def test_theory_config_is_cached_and_crops(tmp_cache, data_dir):
    cfg = theory_config(M=3, eps=1e-4, n=20, crop=8, lr=1e-3, epochs=4, snapshot_epochs=(0, 2, 4))
    x, y = cfg.data()
    whole, _ = cfg.replace(crop=0).data()
    assert tuple(x.shape) == (20, 1, 8, 8) and build_Z(x, y, 3).shape == (36, 10)
    assert torch.equal(x, whole[:, :, 10:18, 10:18])  # the centre 8 x 8 of the same images
    first = run(cfg)
    assert len(list(tmp_cache.glob("run-*.npz"))) == 1
    second = run(cfg)
    assert all(np.array_equal(first.snapshots[k], second.snapshots[k]) for k in first.snapshots)
    W, a = theta_bar(second.snapshots, cfg.eps)
    assert W.shape == (3, 3, 10) and a.shape == (3, 3, 36)
    # the initialization is N(0, eps^2) for every parameter (eqs. 3-4)
    assert abs(np.concatenate([W[0].ravel(), a[0].ravel()]).std() - 1) < 0.15
    np.testing.assert_allclose(cfg.times(), [0, 2e-3, 4e-3])
    with pytest.raises(ValueError, match="crop"):
        cfg.replace(crop=40).data()
    with pytest.raises(ValueError, match="the width is M"):
        theory_config(channels=(3,))


def test_bad_inputs_raise_clear_errors():
    Z = rng.normal(size=(6, 4))
    W0, a0, times = rng.normal(size=(2, 4)), rng.normal(size=(2, 6)), np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="theta_W must have shape"):
        closed_form(Z, rng.normal(size=(2, 5)), a0, times)
    with pytest.raises(ValueError, match="theta_a must have shape"):
        closed_form(Z, W0, rng.normal(size=(2, 4)), times)
    with pytest.raises(ValueError, match="same leading axes"):
        closed_form(Z, W0, rng.normal(size=(3, 6)), times)
    with pytest.raises(ValueError, match="Z must be a matrix"):
        closed_form(Z[0], W0, a0, times)
    with pytest.raises(ValueError, match="times must be >= 0"):
        closed_form(Z, W0, a0, np.array([-1.0]))
    with pytest.raises(ValueError, match="multiples of lr"):
        closed_form(Z, W0, a0, np.array([0.15]), lr=0.1)
    with pytest.raises(ValueError, match="share their leading axes"):
        neuron_energy(W0, rng.normal(size=(3, 6)))
    with pytest.raises(ValueError, match="v1 has 3 entries"):
        alignment(W0[None], np.ones(3))
    with pytest.raises(ValueError, match="gamma > 1"):
        t_0(10.0, 100, 0.5, 10, 16)
    with pytest.raises(ValueError, match="M must be an integer >= 2"):
        gamma_exponent(1, 0.1)
    with pytest.raises(ValueError, match="consecutive GD steps"):
        velocity(W0[None], a0[None], 0.1)
    with pytest.raises(ValueError, match="same shape"):
        relative_distance((W0[None], a0[None]), W0[None])
    with pytest.raises(ValueError, match="unknown method"):
        reference_solution(Z, W0, a0, times, method="euler")
    with pytest.raises(ValueError, match="two-layer CNN"):
        theta_bar({"convs.0.weight": np.zeros((2, 1, 3, 3))}, 0.1)


def test_theorem1_scan_against_its_parts(tmp_cache, data_dir):
    base = theory_config(n=20, crop=6, m=3)
    scan = theorem1_scan(base, [4, 16], gamma=2.0, steps=6, every=2)
    assert scan.change.shape == (2, 4) and scan.times.shape == (4,) and scan.D == 10 and scan.P == 16
    cfg = base.replace(channels=(16,), eps=16.0 ** -1, lr=scan.lr, epochs=6, snapshot_epochs=(0, 2, 4, 6))
    W, a = theta_bar(run(cfg).snapshots, cfg.eps)
    Z = build_Z(*cfg.data(), 3)
    v1 = np.linalg.svd(Z)[2][0]
    np.testing.assert_allclose(scan.change[1], relative_change(W))
    np.testing.assert_allclose(scan.align[1], alignment(W, v1))
    ph = phi(W, a)
    assert scan.phi0[1] == ph[0] and scan.T_eff[1] == T_eff(cfg.times(), ph, 16, 16.0 ** -1)
    assert scan.lr == pytest.approx(0.05 / np.linalg.svd(Z, compute_uv=False)[0], rel=0.05)
    np.testing.assert_allclose(scan.sup("align", "T_lin"), [sup_until(scan.times, v, T) for v, T in zip(scan.align, scan.T_lin)])
