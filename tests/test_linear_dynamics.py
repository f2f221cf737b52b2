"""condense_lib.linear_dynamics (Prop. 1) against scipy's ODE solver and matrix
exponential, iterated GD steps, and a real two-layer CNN trained by GD."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from condense_lib import (
    build_Z,
    closed_form,
    frozen_part,
    gd_step,
    linear_field,
    reference_solution,
    relative_distance,
    theta_bar,
    train,
    velocity,
)


def _A(Z):
    P, D = Z.shape
    return np.block([[np.zeros((D, D)), Z.T], [Z, np.zeros((P, P))]])  # eq. 34


def _rank_deficient(P, D, r, seed):
    g = np.random.default_rng(seed)
    return g.normal(size=(P, r)) @ g.normal(size=(r, D))


PROBLEMS = [
    ("P > D", lambda: np.random.default_rng(10).normal(size=(7, 4))),
    ("P < D", lambda: np.random.default_rng(11).normal(size=(3, 5))),
    ("rank 2 < min(P, D)", lambda: _rank_deficient(6, 5, 2, 1)),
]


@pytest.mark.parametrize("name, make", PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_closed_form_matches_solve_ivp_and_expm(name, make):
    rng = np.random.default_rng(0)
    Z = make()
    P, D = Z.shape
    M = 3
    W0, a0 = rng.normal(size=(M, D)), rng.normal(size=(M, P))
    times = np.array([0.0, 0.1, 0.5, 1.3])
    W, a = closed_form(Z, W0, a0, times=times)
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
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(5, 3))
    W0, a0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    times = np.array([0.0, 0.4, 1.0])
    for method in ("solve_ivp", "expm"):
        W, a = reference_solution(Z, W0, a0, times=times, method=method)
        for beta in range(2):
            for k, t in enumerate(times):
                ref = expm(t * _A(Z)) @ np.r_[W0[beta], a0[beta]]
                np.testing.assert_allclose(np.r_[W[k, beta], a[k, beta]], ref, rtol=1e-9, atol=1e-10)


def test_frozen_part_of_remark_5_does_not_move():
    rng = np.random.default_rng(2)
    Z = _rank_deficient(6, 5, 2, 2)  # null space of Z: 3 directions of theta_W; of Z^T: 4 of theta_a
    W0, a0 = rng.normal(size=(4, 5)), rng.normal(size=(4, 6))
    W, a = closed_form(Z, W0, a0, times=np.linspace(0, 3, 7))
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
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(5, 3))
    W0, a0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 5))
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    lr = 0.3 / lam1  # large enough that it differs from the flow, and 1 - lr lambda_k > 0
    step = np.eye(8) + lr * _A(Z)
    times = lr * np.array([0, 1, 7, 20])
    W, a = closed_form(Z, W0, a0, times=times, lr=lr)
    for k, n_steps in enumerate([0, 1, 7, 20]):
        ref = np.linalg.matrix_power(step, n_steps) @ np.concatenate([W0, a0], axis=1).T
        np.testing.assert_allclose(np.concatenate([W[k], a[k]], axis=1), ref.T, rtol=1e-11, atol=1e-11)
    Wf, _ = closed_form(Z, W0, a0, times=times)
    assert np.abs(Wf[-1] - W[-1]).max() > 1e-2  # the flow is not GD at this step


def test_large_lambda_t_is_exact_and_overflow_is_refused():
    Z = np.array([[2.0, 0.0], [0.0, 1.0]])
    W, a = closed_form(Z, np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), times=np.array([300.0]))
    assert W[0, 0, 0] == pytest.approx(np.cosh(600.0), rel=1e-12) and a[0, 0, 0] == pytest.approx(np.sinh(600.0), rel=1e-12)
    with pytest.raises(ValueError, match="overflows"):
        closed_form(Z, np.ones((1, 2)), np.ones((1, 2)), times=np.array([400.0]))


def test_a_trained_network_follows_the_closed_form_at_early_times(two_layer_problem):
    x, y, model = two_layer_problem(M=4, eps=1e-7)
    Z = build_Z(x, y, 3)
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    lr, steps = 0.02 / lam1, 150  # lambda_1 t = 3
    result = train(model, x, y, optimizer="gd", lr=lr, epochs=steps, snapshot_epochs=[0, 1, 50, 100, 150],
                   progress=False)
    W, a = theta_bar(result.snapshots, 1e-7)
    # the initial velocity of the real run is A theta_bar (eqs. 32-34, time t = lr x epochs)
    vW, va = velocity(W[:2], a[:2], lr)
    ref = np.concatenate([W[0], a[0]], axis=1) @ _A(Z).T
    assert np.linalg.norm(np.concatenate([vW[0], va[0]], 1) - ref) / np.linalg.norm(ref) < 1e-6
    lW, la = linear_field(Z, W[0], a[0])
    np.testing.assert_allclose(np.concatenate([lW, la], 1), ref, rtol=1e-12, atol=1e-12)
    times = lr * result.epochs
    real = np.concatenate([W, a], axis=2)
    gd = np.concatenate(closed_form(Z, W[0], a[0], times=times, lr=lr), axis=2)
    flow = np.concatenate(closed_form(Z, W[0], a[0], times=times), axis=2)
    assert relative_distance(real, gd).max() < 1e-6  # exact up to the O(eps^2) nonlinearity
    gap = relative_distance(real, flow)
    assert 1e-4 < gap[-1] < 0.05  # Euler's O(lr lambda_1) error, small for a small step
    assert np.linalg.norm(real[-1]) > 3 * np.linalg.norm(real[0])  # it did move


def test_gd_step_is_lr_lambda_over_lambda_1_to_two_digits():
    assert gd_step(7.0) == 0.0071 and gd_step(7.0, 0.2) == 0.029
    with pytest.raises(ValueError, match="0 < lr_lambda < 1"):
        gd_step(7.0, 1.5)


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(6, 4))
    W0, a0, times = rng.normal(size=(2, 4)), rng.normal(size=(2, 6)), np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="theta_W must have shape"):
        closed_form(Z, rng.normal(size=(2, 5)), a0, times=times)
    with pytest.raises(ValueError, match="theta_a must have shape"):
        closed_form(Z, W0, rng.normal(size=(2, 4)), times=times)
    with pytest.raises(ValueError, match="same leading axes"):
        closed_form(Z, W0, rng.normal(size=(3, 6)), times=times)
    with pytest.raises(ValueError, match="Z must be a matrix"):
        closed_form(Z[0], W0, a0, times=times)
    with pytest.raises(ValueError, match="times must be >= 0"):
        closed_form(Z, W0, a0, times=np.array([-1.0]))
    with pytest.raises(ValueError, match="multiples of lr"):
        closed_form(Z, W0, a0, times=np.array([0.15]), lr=0.1)
    with pytest.raises(ValueError, match="consecutive GD steps"):
        velocity(W0[None], a0[None], 0.1)
    with pytest.raises(ValueError, match="same shape"):
        relative_distance((W0[None], a0[None]), W0[None])
    with pytest.raises(ValueError, match="unknown method"):
        reference_solution(Z, W0, a0, times=times, method="euler")
