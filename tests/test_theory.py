"""condense_lib.theory against independent computations: loops written from the
paper's equations, numpy's eigensolvers and autograd."""
import doctest

import numpy as np
import pytest
import torch

import condense_lib as cl
from condense_lib import theory

rng = np.random.default_rng(0)


def _loop_Z(x, y, m):
    """Eqs. 31 and 35 (70 for C channels) written as loops."""
    n, C, H, W = x.shape
    z = np.zeros((C, H, W))
    for i in range(n):
        for a in range(C):
            for r in range(H):
                for c in range(W):
                    z[a, r, c] += y[i] * x[i, a, r, c] / n  # eq. 31
    rows = []
    for u in range(H - m + 1):
        for v in range(W - m + 1):
            row = [z[a, u + p, v + q] for a in range(C) for p in range(m) for q in range(m)]
            rows.append(row + [sum(y) / n])  # eq. 35: patches, then z
    return np.array(rows)


@pytest.mark.parametrize("shape, m", [((4, 1, 6, 6), 3), ((5, 1, 6, 4), 3), ((5, 3, 5, 7), 2), ((3, 3, 4, 4), 4)])
def test_build_Z_equals_a_loop_from_eq_35(shape, m):
    x, y = rng.normal(size=shape), rng.normal(size=shape[0])
    Z = cl.build_Z(x, y, m)
    np.testing.assert_allclose(Z, _loop_Z(x, y, m), rtol=1e-12, atol=1e-14)
    # torch inputs give the same matrix
    np.testing.assert_allclose(cl.build_Z(torch.as_tensor(x), torch.as_tensor(y), m), Z, rtol=1e-12)
    mean = cl.label_weighted_mean(x, y)
    assert mean.shape == shape[1:]
    np.testing.assert_allclose(mean[:, :m, :m].ravel(), Z[0, :-1].reshape(shape[1], m * m).ravel(), rtol=1e-12)


def test_eigenvalues_of_A_are_plus_minus_the_singular_values_of_Z():
    Z = cl.build_Z(rng.normal(size=(6, 2, 5, 6)), rng.normal(size=6), 2)  # (20, 9)
    A = cl.build_A(Z)
    P, D = Z.shape
    assert A.shape == (P + D, P + D)
    np.testing.assert_array_equal(A[:D, D:], Z.T)
    np.testing.assert_array_equal(A[D:, :D], Z)
    assert not A[:D, :D].any() and not A[D:, D:].any()
    s = np.linalg.svd(Z, compute_uv=False)
    expected = np.sort(np.r_[s, -s, np.zeros(P + D - 2 * len(s))])
    np.testing.assert_allclose(np.linalg.eigvalsh(A), expected, atol=1e-12)


def test_spectrum_is_an_svd_with_rank_gap_and_signs():
    Z = cl.build_Z(rng.uniform(size=(8, 3, 9, 9)), rng.uniform(size=8), 3)  # (49, 28)
    sp = cl.spectrum(Z)
    np.testing.assert_allclose(sp.U @ np.diag(sp.singular_values) @ sp.V.T, Z, atol=1e-12)
    np.testing.assert_allclose(sp.V.T @ sp.V, np.eye(Z.shape[1]), atol=1e-12)
    assert np.all(sp.V[:-1].sum(axis=0) >= 0)  # kernel part of every v_k sums to >= 0
    np.testing.assert_allclose(Z @ sp.v1, sp.singular_values[0] * sp.u1, atol=1e-10)
    # v_1 is the top eigenvector of Z^T Z, lambda_k^2 its eigenvalues
    w, Q = np.linalg.eigh(Z.T @ Z)
    assert abs(Q[:, -1] @ sp.v1) == pytest.approx(1.0)
    np.testing.assert_allclose(sp.eigenvalues, w[::-1], rtol=1e-9, atol=1e-12)
    assert sp.gap == pytest.approx(sp.singular_values[0] - sp.singular_values[1])
    assert sp.ratio == pytest.approx(sp.singular_values[0] / sp.singular_values[1])
    assert sp.rank == 28
    # a rank-2 matrix
    low = rng.normal(size=(30, 2)) @ rng.normal(size=(2, 10))
    assert cl.spectrum(low).rank == 2 == np.linalg.matrix_rank(low)


def test_v1_parts_and_their_cosines_with_ones():
    v1 = np.arange(1.0, 29.0)
    parts, bias = cl.v1_parts(v1, 3, 3)
    assert parts.shape == (3, 9) and bias == 28.0
    np.testing.assert_array_equal(parts[1], np.arange(10.0, 19.0))
    cos = cl.cosine_with_ones(parts)
    for a in range(3):
        assert cos[a] == pytest.approx(parts[a].sum() / (np.linalg.norm(parts[a]) * 3.0))
    with pytest.raises(ValueError, match="C m\\^2 \\+ 1 = 28"):
        cl.v1_parts(v1[:-1], 3, 3)


def test_constant_share():
    # constant images: every patch is constant, share 1
    x = np.ones((4, 2, 6, 6)) * rng.uniform(1, 2, size=(4, 2, 1, 1))
    np.testing.assert_allclose(cl.constant_share(cl.build_Z(x, rng.normal(size=4), 3), 2, 3), 1.0)
    Z = cl.build_Z(rng.normal(size=(5, 2, 5, 5)), rng.normal(size=5), 2)
    share = cl.constant_share(Z, 2, 2)
    for a in range(2):
        K = Z[:, a * 4:(a + 1) * 4]
        cos2 = (K.sum(1) / (2 * np.linalg.norm(K, axis=1))) ** 2
        w = np.linalg.norm(K, axis=1) ** 2
        assert share[a] == pytest.approx((cos2 * w).sum() / w.sum())


def test_derivatives_at_zero():
    np.testing.assert_allclose(cl.derivatives_at_zero("tanh"), [0, 1, 0, -2], atol=1e-12)
    np.testing.assert_allclose(cl.derivatives_at_zero("xtanh"), [0, 0, 2, 0], atol=1e-12)
    # 2 SiLU(x) = x + x^2 / 2 + O(x^4): sigma''(0) = 1
    np.testing.assert_allclose(cl.derivatives_at_zero("silu"), [0, 1, 1, 0], atol=1e-12)
    np.testing.assert_allclose(cl.derivatives_at_zero("linear"), [0, 1, 0, 0], atol=1e-12)


def _small_problem(activation="tanh", eps=1e-2, C=2, M=3):
    x = torch.as_tensor(rng.normal(size=(6, C, 5, 6)))
    y = torch.as_tensor(rng.uniform(0, 3, size=6))
    model = cl.CNN((C, 5, 6), (M,), m=3, activation=activation, head="linear", init="theory", eps=eps, seed=1)
    return x, y, model


def test_theta_per_kernel_follows_eq_33():
    x, y, model = _small_problem()
    theta = cl.theta_per_kernel(model)
    W = model.convs[0].weight.detach().double().numpy()  # (M, C, m, m)
    b = model.convs[0].bias.detach().double().numpy()
    a = model.readout.weight.detach().double().numpy()[0]  # (M H1 W1,)
    H1, W1 = 3, 4
    for beta in range(3):
        row = [W[beta, al, p, q] for al in range(2) for p in range(3) for q in range(3)] + [b[beta]]
        row += [a[beta * H1 * W1 + u * W1 + v] for u in range(H1) for v in range(W1)]
        np.testing.assert_array_equal(theta[beta], row)


def test_vector_field_equals_the_rescaled_dynamics_written_as_loops():
    # eq. 26 rescaled (eqs. 27-28): d W_bar / dt = -(1/n) sum_i e_i sum_uv a_bar sigma'(eps x_bar) x, etc.
    eps = 0.3  # large enough that the nonlinearity matters
    x, y, model = _small_problem("tanh", eps)
    field, _ = cl.vector_fields(model, x, y, eps)
    xb, yb = x.numpy(), y.numpy()
    n, C, H, W = xb.shape
    tb = cl.theta_per_kernel(model) / eps
    M, m, H1, W1 = 3, 3, 3, 4
    Wb, bb, ab = tb[:, :C * 9].reshape(M, C, m, m), tb[:, C * 9], tb[:, C * 9 + 1:].reshape(M, H1, W1)
    pre = np.zeros((n, M, H1, W1))  # eps x_bar^[1]
    for i in range(n):
        for be in range(M):
            for u in range(H1):
                for v in range(W1):
                    s = sum(xb[i, al, u + p, v + q] * Wb[be, al, p, q] for al in range(C) for p in range(m) for q in range(m))
                    pre[i, be, u, v] = eps * (s + bb[be])
    e = np.array([eps * (ab * np.tanh(pre[i])).sum() - yb[i] for i in range(n)])  # f(x_i) - y_i
    dsig = 1 - np.tanh(pre) ** 2
    expected = np.zeros_like(field)
    for be in range(M):
        for al in range(C):
            for p in range(m):
                for q in range(m):
                    expected[be, al * 9 + p * 3 + q] = -sum(
                        e[i] * ab[be, u, v] * dsig[i, be, u, v] * xb[i, al, u + p, v + q]
                        for i in range(n) for u in range(H1) for v in range(W1)) / n
        expected[be, C * 9] = -sum(e[i] * (ab[be] * dsig[i, be]).sum() for i in range(n)) / n
        expected[be, C * 9 + 1:] = -sum(e[i] * np.tanh(pre[i, be]) / eps for i in range(n)).ravel() / n
    np.testing.assert_allclose(field, expected, rtol=1e-9, atol=1e-12)


def test_linear_field_equals_eq_32_written_as_loops():
    x, y, model = _small_problem("tanh", 1e-2)
    _, linear = cl.vector_fields(model, x, y, 1e-2)
    xb, yb = x.numpy(), y.numpy()
    n, C = xb.shape[:2]
    z = sum(yb[i] * xb[i] for i in range(n)) / n  # eq. 31
    zbar = yb.mean()
    tb = cl.theta_per_kernel(model) / 1e-2
    for be in range(3):
        Wb, bb, ab = tb[be, :C * 9].reshape(C, 3, 3), tb[be, C * 9], tb[be, C * 9 + 1:].reshape(3, 4)
        dW = [sum(ab[u, v] * z[al, u + p, v + q] for u in range(3) for v in range(4))
              for al in range(C) for p in range(3) for q in range(3)]
        db = ab.sum() * zbar
        da = [(z[:, u:u + 3, v:v + 3] * Wb).sum() + bb * zbar for u in range(3) for v in range(4)]
        np.testing.assert_allclose(linear[be], dW + [db] + da, rtol=1e-10)


@pytest.mark.parametrize("activation, order", [("silu", 1), ("tanh", 2)])
def test_vector_field_approaches_A_theta_like_eps_to_the_order(activation, order):
    # O(eps) in general (eq. 30); O(eps^2) for tanh, whose sigma''(0) = 0.
    x, y, _ = _small_problem()
    check = cl.linearization_check(x, y, [1e-3, 1e-4], channels=4, activation=activation, seed=2)
    shrink = check.error[0] / check.error[1]
    assert 0.7 * 10**order < shrink < 1.3 * 10**order
    assert check.error[1] < 1e-3
    assert check.slope() == pytest.approx(order, abs=0.1)


def test_xtanh_has_no_linear_term():
    # multiplicity 2: the real field is O(eps) times A theta_bar, so the relative error tends to 1
    x, y, _ = _small_problem()
    check = cl.linearization_check(x, y, [1e-3, 1e-4], channels=4, activation="xtanh", seed=2)
    assert check.slope("ratio") == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(check.error, 1.0, atol=1e-2)


def test_v1_cosine_trials_equal_a_loop_over_trials():
    x = rng.uniform(0, 1, size=(40, 3, 6, 7)) + np.linspace(0, 1, 7)  # a smooth trend along v
    y = rng.integers(0, 10, size=40).astype(float)
    for target in ("label", "centred"):
        res = cl.v1_cosine_trials(x, y, n=12, trials=4, m=3, target=target, seed=5)
        assert res.index.shape == (4, 12) and res.cosines.shape == (4, 3)
        for t in range(4):
            idx = res.index[t]
            assert len(set(idx.tolist())) == 12
            yt = y[idx] - (y[idx].mean() if target == "centred" else 0.0)
            sp = cl.spectrum(cl.build_Z(x[idx], yt, 3))
            np.testing.assert_allclose(res.cosines[t], cl.cosine_with_ones(cl.v1_parts(sp.v1, 3, 3)[0]), atol=1e-8)
            np.testing.assert_allclose(res.singular_values[t, :5], sp.singular_values[:5], rtol=1e-8)
        np.testing.assert_allclose(res.mean, [np.mean(res.cosines[:, a]) for a in range(3)])
        np.testing.assert_allclose(res.std, [np.std(res.cosines[:, a], ddof=1) for a in range(3)])
        assert res.summary(3)[0] == f"{res.mean[0]:.3f} ± {res.std[0]:.3f}"


def test_image_pool_standard_is_what_sample_draws(data_dir):
    x, labels = cl.image_pool("mnist", "test", "standard", data_dir=data_dir)
    assert x.shape == (10000, 1, 28, 28) and labels.shape == (10000,)
    idx = np.sort(np.random.default_rng(3).choice(10000, size=20, replace=False))
    xs, ys = cl.sample("mnist", 20, 3, split="test", data_dir=data_dir, dtype=torch.float64)
    np.testing.assert_allclose(x[idx], xs.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(labels[idx], ys.numpy())
    unit, _ = cl.image_pool("mnist", "test", "unit", data_dir=data_dir)
    sym, _ = cl.image_pool("mnist", "test", "symmetric", data_dir=data_dir)
    assert unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(sym, 2 * unit - 1)


def test_bad_inputs_raise_clear_errors():
    x, y = rng.normal(size=(5, 1, 6, 6)), rng.normal(size=5)
    with pytest.raises(ValueError, match="5 samples but y has 4"):
        cl.build_Z(x, y[:4], 3)
    with pytest.raises(ValueError, match="m = 7 must be an integer in 1..6"):
        cl.build_Z(x, y, 7)
    with pytest.raises(ValueError, match=r"y must have shape \(n,\)"):
        cl.build_Z(x, np.ones((5, 10)), 3)
    with pytest.raises(ValueError, match="x must have shape"):
        cl.build_Z(x[:, 0], y, 3)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cl.build_Z(bad, y, 3)
    with pytest.raises(ValueError, match="NaN"):
        cl.build_A(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="two-layer CNN"):
        cl.vector_fields(cl.CNN((1, 6, 6), (2, 2), m=2), x, y, 1e-2)
    model = cl.CNN((1, 6, 6), (2,), m=3, init="theory", eps=1e-2)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        cl.vector_fields(model, x, y, 0.0)
    with pytest.raises(ValueError, match="images of shape"):
        cl.vector_fields(model, rng.normal(size=(5, 1, 7, 6)), y, 1e-2)
    with pytest.raises(ValueError, match="unknown normalization"):
        cl.image_pool("mnist", "test", "zscore")
    with pytest.raises(ValueError, match="n = 9 must be an integer in 1..5"):
        cl.v1_cosine_trials(x, y, n=9)
    with pytest.raises(ValueError, match="unknown target"):
        cl.v1_cosine_trials(x, y, n=3, target="onehot")


def test_docstring_examples_run():
    assert doctest.testmod(theory, raise_on_error=False).failed == 0
