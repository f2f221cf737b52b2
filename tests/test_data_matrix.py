"""condense_lib.data_matrix against independent computations: loops written from the
paper's equations and numpy's eigensolvers."""
import numpy as np
import pytest
import torch

import condense_lib as cl


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
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=shape), rng.normal(size=shape[0])
    Z = cl.build_Z(x, y, m)
    np.testing.assert_allclose(Z, _loop_Z(x, y, m), rtol=1e-12, atol=1e-14)
    # torch inputs give the same matrix
    np.testing.assert_allclose(cl.build_Z(torch.as_tensor(x), torch.as_tensor(y), m), Z, rtol=1e-12)
    mean = cl.label_weighted_mean(x, y)
    assert mean.shape == shape[1:]
    np.testing.assert_allclose(mean[:, :m, :m].ravel(), Z[0, :-1].reshape(shape[1], m * m).ravel(), rtol=1e-12)


def _loop_Z_padded(x, y, m, pad):
    """Eq. 35 on zero-padded images, as loops: each row the m x m window of the mean of the
    padded images at (u, v), reading 0 outside the image, then z = mean(y)."""
    n, C, H, W = x.shape
    pixel = lambda i, a, r, c: x[i, a, r, c] if 0 <= r < H and 0 <= c < W else 0.0
    rows = []
    for u in range(H + 2 * pad - m + 1):
        for v in range(W + 2 * pad - m + 1):
            row = [sum(y[i] * pixel(i, a, u + p - pad, v + q - pad) for i in range(n)) / n
                   for a in range(C) for p in range(m) for q in range(m)]
            rows.append(row + [sum(y) / n])
    return np.array(rows)


@pytest.mark.parametrize("shape, m, pad", [((4, 1, 6, 6), 3, 1), ((3, 2, 5, 4), 3, 2), ((3, 1, 5, 5), 5, 2),
                                           ((3, 2, 4, 5), 2, 1), ((4, 1, 4, 4), 3, 0)])
def test_build_Z_with_padding_equals_a_loop_over_the_padded_images(shape, m, pad):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=shape), rng.normal(size=shape[0])
    Z = cl.build_Z(x, y, m, padding=pad)
    assert Z.shape == ((shape[2] + 2 * pad - m + 1) * (shape[3] + 2 * pad - m + 1), shape[1] * m * m + 1)
    np.testing.assert_allclose(Z, _loop_Z_padded(x, y, m, pad), rtol=1e-12, atol=1e-14)
    # the patches the two-layer trainer multiplies average to the same Z (eq. 35)
    from condense_lib.training.two_layer import patches

    P = patches(torch.as_tensor(x), m, pad)
    np.testing.assert_allclose((torch.as_tensor(y)[:, None, None] * P).mean(0).numpy(), Z, rtol=1e-12, atol=1e-14)
    for bad in (m, -1, True, 1.0):
        with pytest.raises(ValueError, match="padding"):
            cl.build_Z(x, y, m, padding=bad)


def test_eigenvalues_of_A_are_plus_minus_the_singular_values_of_Z():
    rng = np.random.default_rng(1)
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
    rng = np.random.default_rng(2)
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
    rng = np.random.default_rng(3)
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


def test_theta_bar_orders_match_a_loop_and_build_Z():
    g = torch.Generator().manual_seed(0)
    x = torch.randn((12, 1, 7, 6), generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (12,), generator=g).double()
    model = cl.CNN((1, 7, 6), (3,), m=3, activation="tanh", head="linear", init="theory", eps=0.1, seed=0).double()
    W = model.convs[0].weight.detach().numpy()
    b = model.convs[0].bias.detach().numpy()
    a = model.readout.weight.detach().numpy()[0]
    tW, ta = cl.theta_bar({k: v.detach().numpy() for k, v in model.named_parameters()}, 0.1)
    H1, W1 = 5, 4
    for beta in range(3):
        vec = [W[beta, 0, p, q] for p in range(3) for q in range(3)] + [b[beta]]
        np.testing.assert_allclose(tW[0, beta], np.array(vec) / 0.1)
        np.testing.assert_allclose(ta[0, beta], [a[beta * H1 * W1 + u * W1 + v] / 0.1 for u in range(H1) for v in range(W1)])
    # the orders pair with Z: theta_a . Z theta_W = sum_{u,v} a_uv x^[1]_uv averaged with y (eqs. 30-31)
    Z = cl.build_Z(x, y, 3)
    with torch.no_grad():
        pre = model.convs[0](x)  # (n, M, H1, W1)
    lhs = np.einsum("bp,pd,bd->b", ta[0], Z, tW[0])
    rhs = np.einsum("n,nbp,bp->b", y.numpy(), pre.reshape(len(y), 3, -1).numpy(), ta[0]) / len(y) / 0.1
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(4)
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
        cl.theta_bar({"convs.0.weight": np.zeros((2, 1, 3, 3))}, 0.1)


@pytest.mark.parametrize("seed", range(6))
def test_sign_fixed_point_is_the_best_sign_vector_found_by_brute_force(seed):
    # A near-rank-one Z with a varied v_1 (as the Z of images): the alternation from sign(v_1)
    # reaches the global maximum of ||Z s||_1 over all 2^D sign vectors s.
    rng = np.random.default_rng(seed)
    P, D = 12, 7
    Z = 3 * np.outer(rng.normal(size=P), rng.normal(size=D)) + 0.3 * rng.normal(size=(P, D))
    s_W, s_a = cl.sign_fixed_point(Z)
    grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * D, indexing="ij")).reshape(D, -1).T  # (2^D, D)
    gains = np.abs(Z @ grid.T).sum(axis=0)  # ||Z s||_1 = max over s_a of s_a^T Z s
    assert np.abs(Z @ s_W).sum() == pytest.approx(gains.max())
    np.testing.assert_array_equal(s_a, np.where(Z @ s_W >= 0, 1.0, -1.0))  # s_a = sign(Z s_W)
    np.testing.assert_array_equal(s_W, np.where(Z.T @ s_a >= 0, 1.0, -1.0))  # a fixed point
    assert s_W[:-1].sum() >= 0 and set(np.unique(np.r_[s_W, s_a])) <= {-1.0, 1.0}


def test_sign_fixed_point_can_differ_from_the_sign_of_v1():
    # Two positive "digit" rows and three negative "background" rows with a positive bias
    # column, as in MNIST's Z: sign(v_1) keeps the bias positive, the fixed point flips it.
    Z = np.array([[3.0, 3.0, 1.0], [2.5, 3.0, 1.0], [-1.0, -1.0, 1.0], [-1.0, -1.2, 1.0], [-1.1, -1.0, 1.0]])
    v1 = cl.spectrum(Z).v1
    s_W, s_a = cl.sign_fixed_point(Z)
    assert np.sign(v1).tolist() == [1.0, 1.0, 1.0] and s_W.tolist() == [1.0, 1.0, -1.0]
    assert s_a.tolist() == [1.0, 1.0, -1.0, -1.0, -1.0]
    assert np.abs(Z @ s_W).sum() > np.abs(Z @ np.sign(v1)).sum()
    with pytest.raises(ValueError, match="P, D >= 2"):
        cl.sign_fixed_point(np.ones((1, 3)))


# Multiplicity 2: Q_p, B_k and the second-order field.


def _loop_Q(x, y, m):
    """Q_p = (1/n) sum_i y_i xtilde_p(i) xtilde_p(i)^T written as loops (xtilde: the patch of
    eq. 35, channel outermost, then p, q, then a 1)."""
    n, C, H, W = x.shape
    Q = []
    for u in range(H - m + 1):
        for v in range(W - m + 1):
            acc = np.zeros((C * m * m + 1,) * 2)
            for i in range(n):
                xt = np.array([x[i, a, u + p, v + q] for a in range(C) for p in range(m) for q in range(m)] + [1.0])
                acc += y[i] * np.outer(xt, xt) / n
            Q.append(acc)
    return np.array(Q)


@pytest.mark.parametrize("shape, m", [((4, 1, 6, 6), 3), ((5, 3, 5, 7), 2)])
def test_build_Q_equals_a_loop_and_its_first_moment_is_Z(shape, m):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=shape), rng.normal(size=shape[0])
    Q = cl.build_Q(x, y, m)
    np.testing.assert_allclose(Q, _loop_Q(x, y, m), rtol=1e-12, atol=1e-14)
    # the bias row of Q_p is the row Z_p of eq. 35 (the 1 times the patch)
    np.testing.assert_allclose(Q[:, -1, :], cl.build_Z(x, y, m), rtol=1e-12, atol=1e-14)
    # nonnegative labels make every Q_p positive semi-definite
    assert np.linalg.eigvalsh(cl.build_Q(x, np.abs(y), m)).min() > -1e-12


def test_build_B_and_quadratic_field_equal_loops():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 2, 5, 6)), rng.uniform(0, 9, size=5)
    Q = cl.build_Q(x, y, 3)  # (12, 19, 19)
    P, D = Q.shape[:2]
    tW, ta = rng.normal(size=(4, D)), rng.normal(size=(4, P))
    B = cl.build_B(Q, ta)
    for k in range(4):
        np.testing.assert_allclose(B[k], 2 * sum(ta[k, p] * Q[p] for p in range(P)), rtol=1e-12, atol=1e-12)
    dW, da = cl.quadratic_field(Q, tW, ta)
    for k in range(4):
        np.testing.assert_allclose(dW[k], B[k] @ tW[k], rtol=1e-12)
        np.testing.assert_allclose(da[k], [tW[k] @ Q[p] @ tW[k] for p in range(P)], rtol=1e-12)
    rates, u = cl.top_eigenpairs(B)
    for k in range(4):
        w, V = np.linalg.eigh(B[k])
        assert rates[k] == pytest.approx(w[-1], rel=1e-12)
        assert abs(u[k] @ V[:, -1]) == pytest.approx(1.0, abs=1e-10) and u[k, :-1].sum() >= 0
    # a readout shared over positions: B_k = a_k (2 sum_p Q_p), whose top eigenvector is the top
    # eigenvector of sum_p Q_p when a_k > 0 and its bottom one when a_k < 0
    shared = np.repeat(np.array([[1.5], [-0.7]]), P, axis=1)
    _, u = cl.top_eigenpairs(cl.build_B(Q, shared))
    _, V = np.linalg.eigh(Q.sum(axis=0))
    assert abs(u[0] @ V[:, -1]) == pytest.approx(1.0, abs=1e-10)
    assert abs(u[1] @ V[:, 0]) == pytest.approx(1.0, abs=1e-10)


def test_B_theta_is_the_autograd_gradient_flow_of_an_xtanh_cnn_at_small_eps():
    # d theta_k / dt = -grad_{theta_k} R_S (eq. 20) by autograd, against B_k theta_k built from
    # the actual (small) readout: they agree to a relative O(eps^2)
    g = torch.Generator().manual_seed(3)
    x = torch.randn((10, 1, 7, 6), generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (10,), generator=g).double()
    Q = cl.build_Q(x, y, 3)
    errors = []
    for eps in (1e-2, 1e-3):
        model = cl.CNN((1, 7, 6), (3,), m=3, activation="xtanh", head="linear", init="theory", eps=eps,
                       seed=0).double()
        loss = cl.loss_fn(model(x), y, "mse")
        gW, gb = torch.autograd.grad(loss, [model.convs[0].weight, model.convs[0].bias])
        flow = -np.concatenate([gW.reshape(3, -1).numpy(), gb.numpy()[:, None]], axis=1)
        tW, ta = (t[0] for t in cl.theta_bar({k: v.detach() for k, v in model.named_parameters()}))
        predicted = np.einsum("kde,ke->kd", cl.build_B(Q, ta), tW)
        errors.append(np.linalg.norm(flow - predicted) / np.linalg.norm(predicted))
    assert errors[0] < 1e-2 and errors[1] < 1e-4
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)  # O(eps^2)


def test_multiplicity_two_inputs_raise_clear_errors():
    Q = np.zeros((4, 3, 3))
    with pytest.raises(ValueError, match=r"Q must have shape \(P, D, D\)"):
        cl.build_B(np.zeros((4, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"theta_a must have shape \(M, 4\)"):
        cl.build_B(Q, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="2 kernels but theta_a 3"):
        cl.quadratic_field(Q, np.zeros((2, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"B must have shape \(M, D, D\)"):
        cl.top_eigenpairs(np.zeros((3, 3)))


def test_sign_fixed_point_is_global_for_the_adam_chapters_Z(data_dir, monkeypatch):
    """The chapter "Adam against gradient descent" calls s_W "the pair that maximizes" ||Z s||_1:
    on its own Z (100 MNIST test images, m = 3, D = 10), the alternation's answer is the best of
    all 2^10 sign vectors, found by brute force."""
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    Z = cl.theory_config(M=32, eps=1e-5, n=100, seed=0).Z()
    s_W, _ = cl.sign_fixed_point(Z)
    D = Z.shape[1]
    grid = np.array(np.meshgrid(*[[-1.0, 1.0]] * D, indexing="ij")).reshape(D, -1).T  # (2^D, D)
    gains = np.abs(Z @ grid.T).sum(axis=0)
    assert D == 10 and np.abs(Z @ s_W).sum() == pytest.approx(gains.max(), rel=1e-12)
    assert np.sum(gains >= gains.max() * (1 - 1e-12)) == 2  # unique up to the sign flip +-s
