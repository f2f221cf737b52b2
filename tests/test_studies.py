"""condense_lib.studies against independent computations: the vector field of the
rescaled dynamics and its linearization written as loops (eqs. 26-34), v_1 over many
samples against a loop over trials, and the linear regime and the width scan of
Theorem 1 against their parts."""
import numpy as np
import pytest
import torch

import condense_lib as cl


def _small_problem(activation="tanh", eps=1e-2, C=2, M=3, seed=0):
    rng = np.random.default_rng(seed)
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
    field, _ = cl.vector_fields(model, x, y, eps=eps)
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
    _, linear = cl.vector_fields(model, x, y, eps=1e-2)
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
    check = cl.linearization_check(x, y, [1e-3, 1e-4], M=4, activation=activation, seed=2)
    shrink = check.error[0] / check.error[1]
    assert 0.7 * 10**order < shrink < 1.3 * 10**order
    assert check.error[1] < 1e-3
    assert check.slope() == pytest.approx(order, abs=0.1)


def test_xtanh_has_no_linear_term():
    # multiplicity 2: the real field is O(eps) times A theta_bar, so the relative error tends to 1
    x, y, _ = _small_problem()
    check = cl.linearization_check(x, y, [1e-3, 1e-4], M=4, activation="xtanh", seed=2)
    assert check.slope("ratio") == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(check.error, 1.0, atol=1e-2)


def test_v1_cosine_trials_equal_a_loop_over_trials():
    rng = np.random.default_rng(5)
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


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(5, 1, 6, 6)), rng.normal(size=5)
    with pytest.raises(ValueError, match="two-layer CNN"):
        cl.vector_fields(cl.CNN((1, 6, 6), (2, 2), m=2), x, y, eps=1e-2)
    model = cl.CNN((1, 6, 6), (2,), m=3, init="theory", eps=1e-2)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        cl.vector_fields(model, x, y, eps=0.0)
    with pytest.raises(ValueError, match="images of shape"):
        cl.vector_fields(model, rng.normal(size=(5, 1, 7, 6)), y, eps=1e-2)
    with pytest.raises(ValueError, match="n = 9 must be an integer in 1..5"):
        cl.v1_cosine_trials(x, y, n=9)
    with pytest.raises(ValueError, match="unknown target"):
        cl.v1_cosine_trials(x, y, n=3, target="onehot")


def test_linear_regime_against_its_parts(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(M=4, eps=1e-3, n=20, crop=6, m=3)
    regime = cl.linear_regime(base, steps=4, every=2)
    Z = cl.build_Z(*base.data(), 3)
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    assert regime.lambda_1 == pytest.approx(lam1) and regime.config.lr == cl.gd_step(lam1)
    assert regime.config.epochs == 4 and regime.config.snapshot_epochs == (0, 2, 4)
    W, a = cl.theta_bar(cl.run(regime.config).snapshots, 1e-3)
    np.testing.assert_array_equal(regime.theta_W, W)
    W_lin, a_lin = cl.closed_form(Z, W[0], a[0], times=regime.times, lr=regime.config.lr)
    np.testing.assert_allclose(regime.W_linear, W_lin)
    np.testing.assert_allclose(regime.distance, cl.relative_distance((W, a), (W_lin, a_lin)))
    np.testing.assert_allclose(regime.change, cl.relative_change(W))
    np.testing.assert_allclose(regime.align, cl.alignment(W, np.linalg.svd(Z)[2][0]))
    assert regime.T_lin == cl.first_time(regime.times, regime.distance > 0.05)
    with pytest.raises(ValueError, match="exactly one of steps"):
        cl.linear_regime(base)
    with pytest.raises(ValueError, match="theory's setting"):
        cl.linear_regime(cl.Config(), steps=2)


def test_theorem1_scan_against_its_parts(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(n=20, crop=6, m=3)
    scan = cl.theorem1_scan(base, [4, 16], gamma_eps=2.0, steps=6, every=2)
    assert scan.gamma_eps == 2.0
    assert scan.change.shape == (2, 4) and scan.times.shape == (4,) and scan.D == 10 and scan.P == 16
    cfg = base.replace(channels=(16,), eps=16.0 ** -1, lr=scan.lr, epochs=6, snapshot_epochs=(0, 2, 4, 6))
    W, a = cl.theta_bar(cl.run(cfg).snapshots, cfg.eps)
    Z = cl.build_Z(*cfg.data(), 3)
    v1 = np.linalg.svd(Z)[2][0]
    np.testing.assert_allclose(scan.change[1], cl.relative_change(W))
    np.testing.assert_allclose(scan.align[1], cl.alignment(W, v1))
    ph = cl.phi(W, a)
    assert scan.phi0[1] == ph[0] and scan.T_eff[1] == cl.T_eff(cfg.times(), ph, 16, eps=16.0 ** -1)
    assert scan.lr == pytest.approx(0.05 / np.linalg.svd(Z, compute_uv=False)[0], rel=0.05)
    np.testing.assert_allclose(scan.sup("align", "T_lin"), [cl.sup_until(scan.times, v, T) for v, T in zip(scan.align, scan.T_lin)])


def test_regimes_stopped_at_the_zero_networks_loss_against_their_parts(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(n=20, crop=6, m=3)
    comp = cl.regimes([0.5, 2.0], [4, 16], base=base, step="fixed", steps=6, lr_lambda=0.1, reference="zero",
                      level=0.99, require=False)
    np.testing.assert_array_equal(comp.gammas_eps, [0.5, 2.0])
    np.testing.assert_array_equal(comp.widths, [4, 16])
    assert comp.loss.shape == comp.change.shape == comp.lambda_t.shape == (2, 2, 1, 7) and comp.stop.shape == (2, 2, 1)
    # the run at gamma_eps = 2, M = 16, recomputed from its parts
    x, y = base.data()
    lambda_1 = np.linalg.svd(cl.build_Z(x, y, 3), compute_uv=False)[0]
    assert comp.lr[1, 1] == cl.gd_step(lambda_1, 0.1) == comp.lr[0, 0]  # one step for every run
    cfg = base.replace(channels=(16,), eps=16.0 ** -1, lr=comp.lr[1, 1], epochs=6, snapshot_epochs=tuple(range(7)))
    result = cl.run(cfg)
    W, _ = cl.theta_bar(result.snapshots, cfg.eps)
    zero = 0.5 * float((y.double() ** 2).mean())
    np.testing.assert_allclose(comp.loss[1, 1, 0], np.asarray(result.loss) / zero, rtol=1e-6)
    np.testing.assert_allclose(comp.change[1, 1, 0], cl.relative_change(W))
    np.testing.assert_allclose(comp.align[1, 1, 0], cl.alignment(W, np.linalg.svd(cl.build_Z(x, y, 3))[2][0]))
    np.testing.assert_allclose(comp.lambda_t[1, 1, 0], cfg.times() * lambda_1)
    hits = np.flatnonzero(np.asarray(result.loss) / zero <= 0.99)
    stop = int(hits[0]) if hits.size else -1
    assert comp.stop[1, 1, 0] == stop
    if stop >= 0:
        assert comp.at_stop("change")[1, 1, 0] == comp.change[1, 1, 0, stop]
        assert comp.at_stop("aligned")[1, 1, 0] == cl.aligned_fraction(result.kernels(stop))
    with pytest.raises(ValueError, match="raise steps"):
        cl.regimes([2.0], [4], base=base, step="fixed", steps=2, reference="zero", level=0.01, require=True)
    with pytest.raises(ValueError, match="level"):
        cl.regimes([2.0], [4], base=base, steps=2, level=0.0)
    with pytest.raises(ValueError, match="reference"):
        cl.regimes([2.0], [4], base=base, steps=2, reference="end")


def test_seed_spread_statistics_and_drawing():
    import matplotlib

    matplotlib.use("Agg")
    aligned = np.array([[0.9, 0.8, 1.0, 0.9], [0.5, 0.9, 0.9, 0.9]])
    spread = cl.SeedSpread("fast", ("a", "b"), np.arange(4), np.array([10, 20]), aligned, 1 + 0 * aligned)
    np.testing.assert_allclose(spread.mean(), [0.9, 0.8])
    np.testing.assert_allclose(spread.std(), [np.std(aligned[0], ddof=1), np.std(aligned[1], ddof=1)])
    assert spread.inside().tolist() == [True, True] and spread.inside(k=0.5).tolist() == [True, False]
    assert spread.inside("directions").all()  # no spread: seed 0 equals the mean
    ax = cl.seed_errorbars(spread)
    assert ax.get_xlabel() and ax.get_ylabel() and ax.figure.get_figwidth() <= 8
    with pytest.raises(ValueError, match="two-layer"):
        cl.seed_spread(["fig11"], 2)


def test_regimes_stopped_where_the_loss_has_halved_measure_eqs_14_15(data_dir, tmp_cache, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(n=12, crop=8, m=3)
    d = cl.regimes([0.5, 2.5], [4, 64], 2, base=base, horizon=8.0, every=1, reference="start", level=0.5)
    assert d.change.shape[:3] == (2, 2, 2) and np.isfinite(d.at_stop("change")).all()
    # the same numbers by hand for one point: the first recorded epoch with R_S <= R_S(0) / 2
    config = cl.regime_configs([2.5], [64], 1, base=base, horizon=8.0, every=1)[0]
    result = cl.run(config)
    k = int(np.argmax(result.loss <= 0.5 * result.loss[0]))
    W, _ = cl.theta_bar(result.snapshots, config.eps)
    spec = cl.spectrum(cl.build_Z(*config.data(), config.m))
    assert np.isclose(d.at_stop("change")[1, 1, 0], np.linalg.norm(W[k] - W[0]) / np.linalg.norm(W[0]))
    assert np.isclose(d.at_stop("align")[1, 1, 0], np.linalg.norm(W[k] @ spec.v1) / np.linalg.norm(W[k]))
    assert np.isclose(d.at_stop("lambda_t")[1, 1, 0], config.lr * k * spec.singular_values[0])
    assert np.isclose(config.eps**2, 64.0**-2.5)
    # the step shrinks with M eps^2 where that exceeds 1 (gamma_eps < 1)
    assert d.lr[0, 1] < d.lr[0, 0] and d.lr[1, 0] == d.lr[1, 1]
    # small initialization (gamma_eps > 1): the kernels move and align more than for gamma_eps < 1
    assert d.mean("change")[1, 1] > 5 * d.mean("change")[0, 1] and d.mean("align")[1, 1] > d.mean("align")[0, 1]
    assert d.slope().shape == (2,)
    axes = cl.phase_heatmaps(d)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    with pytest.raises(ValueError, match="drop"):
        cl.phase_diagram("fast", drop=1.5)


def test_direction_shares_equal_a_loop_over_kernels(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.Config(dataset="cifar10", split="train", n=12, crop=7, channels=(4,), m=3, epochs=3, lr=1e-3,
                       snapshot_epochs=(0, 2, 3))
    result = cl.run(config)
    shares = cl.direction_shares(result, config, k=3)
    x, y = config.data()
    _, _, Vt = np.linalg.svd(cl.build_Z(x.double().numpy(), y.double().numpy(), 3))
    for s, e in enumerate(config.recorded()):
        p = result.snapshot(e)
        kernels = [np.r_[p["convs.0.weight"][b].ravel(), p["convs.0.bias"][b]].astype(np.float64) for b in range(4)]
        total = np.sqrt(sum(np.sum(t ** 2) for t in kernels))
        weights = np.sqrt(sum(np.sum(t[:-1] ** 2) for t in kernels))
        for k in range(3):
            v, part = Vt[k], Vt[k][:-1] / np.linalg.norm(Vt[k][:-1])
            assert shares.shares[s, k] == pytest.approx(np.sqrt(sum((t @ v) ** 2 for t in kernels)) / total)
            assert shares.kernel_shares[s, k] == pytest.approx(np.sqrt(sum((t[:-1] @ part) ** 2 for t in kernels)) / weights)
    np.testing.assert_allclose(shares.shares[:, 0], cl.alignment(cl.theta_bar(result.snapshots)[0], Vt[0]))
    assert shares.at(2)[0].shape == (3,) and shares.followed.shape == (3,)
    with pytest.raises(KeyError, match="not recorded"):
        shares.at(1)
    with pytest.raises(ValueError, match="two-layer CNN"):
        cl.direction_shares(result, config.replace(channels=(4, 4)))


def test_layer_gradients_equal_autograd_on_the_config_model(data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.Config(split="test", n=10, crop=12, channels=(3, 3), m=3, optimizer="adam")
    x, y, model = config.build()
    loss = 0.5 * ((model(x).reshape(-1) - y) ** 2).mean()  # eq. 1, d = 1
    loss.backward()
    want = [float(conv.weight.grad.double().pow(2).mean().sqrt()) for conv in model.convs]
    np.testing.assert_allclose(cl.layer_gradients(config), want, rtol=1e-5)


def test_compare_optimizers_against_its_runs(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(M=5, eps=1e-3, n=20, crop=7, m=3)
    comp = cl.compare_optimizers(base, steps=6, adam_lrs=[2e-4, 1e-3], every=3)
    x, y = base.data()
    Z = cl.build_Z(x.double().numpy(), y.double().numpy(), 3)
    lam1 = np.linalg.svd(Z, compute_uv=False)[0]
    assert comp.optimizers == ("gd", "adam", "adam") and comp.lrs.tolist() == [cl.gd_step(lam1), 2e-4, 1e-3]
    np.testing.assert_array_equal(comp.epochs, [0, 3, 6])
    v1 = np.linalg.svd(Z)[2][0]
    for r, lr in enumerate(comp.lrs):
        config = base.replace(optimizer=comp.optimizers[r], lr=float(lr), epochs=6, snapshot_epochs=(0, 3, 6))
        result = cl.run(config)
        np.testing.assert_array_equal(comp.loss[r], result.loss)
        W, a = cl.theta_bar(result.snapshots, 1e-3)
        np.testing.assert_allclose(comp.align_v1[r], cl.alignment(W, v1))
        np.testing.assert_allclose(comp.align_sign[r], cl.alignment(W, comp.s_W))
        for s, e in enumerate((0, 3, 6)):
            weights = result.snapshot(e)["convs.0.weight"].reshape(5, 9).astype(np.float64)
            units = weights / np.linalg.norm(weights, axis=1, keepdims=True)
            lead = np.linalg.svd(units)[2][0]
            assert comp.aligned[r, s] == pytest.approx(np.mean(np.abs(units @ lead) > 0.9))
        assert abs(comp.lead[r] @ lead) == pytest.approx(1.0)  # the leading direction at the last step
        E = np.sqrt((W**2).sum(-1) + (a**2).sum(-1)).max(-1)  # E_max (eq. 47) per snapshot
        level = 5 ** ((-np.log(1e-6) / np.log(5) - 1) / 4)  # M^((gamma_eps - 1)/4), eq. 54
        crossed = np.flatnonzero(np.maximum.accumulate(E) > level)
        assert comp.energy_onset[r] == (3 * crossed[0] if crossed.size else np.inf)
    assert comp.T_eff == comp.lrs[0] * comp.energy_onset[0]
    assert comp.between(1, 1) == pytest.approx(1.0) and comp.cosines(comp.lead[0]).tolist()[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="vector must have"):
        comp.cosines(np.ones(4))
    with pytest.raises(ValueError, match="two-layer setting"):
        cl.compare_optimizers(base.replace(channels=(5, 5), init="paper", eps=None), steps=2, adam_lrs=[1e-3])


def test_adam_first_step_is_lr_times_the_sign_of_the_gradient(tmp_cache, data_dir, monkeypatch):
    # The premise of the Adam chapter: step 1 moves every parameter by lr sign(-gradient) exactly
    # (bias-corrected m / sqrt(v) = g / |g|, up to Adam's eps = 1e-8 against |g|).
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.theory_config(M=4, eps=1e-3, n=20, crop=7, m=3, optimizer="adam", lr=1e-5, epochs=1)
    x, y, model = config.build()
    grads = torch.autograd.grad(0.5 * ((model(x) - y) ** 2).mean(), list(model.parameters()))
    result = cl.run(config)
    for (name, _), g in zip(model.named_parameters(), grads):
        step = result.snapshots[name][1].astype(np.float64) - result.snapshots[name][0]
        np.testing.assert_allclose(step, -1e-5 * np.sign(g.double().numpy()), rtol=1e-3, atol=1e-9)


def test_adam_step_ratios_are_lr_over_sigma_1():
    ratios = cl.adam_step_ratios("paper")
    assert "fig6" not in ratios and "fig12" not in ratios and "fig3" not in ratios  # GD, or Fig. 2's run
    assert ratios["fig10_tanh"] == pytest.approx(5e-6 * ((1 + 32) * 25 / 2) ** 2)
    assert ratios["fig9"] == pytest.approx(5e-6 * ((3 + 32) * 9 / 2) ** 2)


def test_sensitivity_rows_vary_one_factor_around_the_baseline():
    rows = cl.sensitivity_rows("paper")
    base = next(r.config for r in rows if r.baseline)
    assert [r.factor for r in rows].count("n") == 3 and base.n == 500 and base.padding == 0 and base.head == "linear"
    for r in rows:
        changed = {k for k, v in vars(r.config).items() if v != getattr(base, k)}
        expected = {"n": {"n"}, "m": {"m"}, "padding": {"padding"}, "bias": set(), "head": {"head", "hidden"}}
        assert changed <= expected[r.factor], (r.factor, r.value, changed)
        assert r.bias == (r.factor == "bias" and r.value == "in" or r.config.m == 1)
        assert r.out_bias == (r.config.head == "linear")  # the "fc" row has no output bias
    # 8 distinct runs, 8 seeds each, less the fc head's (trained by fc_runs, not a Config)
    assert sum(r.baseline for r in rows) == 5 and len(cl.SWEEPS["sensitivity"]("paper")) == 8 * 7
    assert [r for r in rows if r.factor == "padding" and r.value == "same"][0].config.padding == 1


def test_sensitivity_measures_each_row_as_its_parts(data_dir, tmp_cache, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    grid = dict(base=dict(n=12, crop=9, eps=1e-5, lr=2e-3, epochs=40), every=2, hidden=6, seeds=2,
                values=dict(n=(12, 24), m=(1, 3), padding=(0, "same"), bias=("out", "in"), head=("linear", "fc")))
    s = cl.sensitivity("fast", grid=grid, level=0.9, stage=0.05)
    assert s.aligned.shape == (10, 2) and s.curves.shape == (10, 2, 21) and np.allclose(s.times, 2e-3 * np.arange(0, 41, 2))
    # one row by hand: padding = "same", seed 1
    r = [k for k in range(10) if s.factors[k] == "padding" and s.values[k] == "same"][0]
    config = cl.theory_config(n=12, crop=9, eps=1e-5, lr=2e-3, epochs=40, padding=1, seed=1,
                              snapshot_epochs=tuple(range(0, 41, 2)))
    result = cl.run(config)
    x, y = config.data()
    spec = cl.spectrum(cl.build_Z(x.double().numpy(), y.double().numpy(), 3, padding=1))
    curve = np.array([cl.aligned_fraction(result.kernels(e)) for e in result.epochs])
    np.testing.assert_allclose(s.curves[r, 1], curve)
    k = int(np.argmax(result.loss[result.epochs] <= 0.95 * result.loss[0]))
    V = result.kernels(int(result.epochs[k]))
    lead = cl.leading_direction(V)
    assert s.stage_epoch[r, 1] == result.epochs[k] and np.isclose(s.t_stage[r, 1], 2e-3 * result.epochs[k])
    assert np.isclose(s.directions[r, 1], cl.effective_directions(V))
    assert np.isclose(s.cos_v1[r, 1], abs(lead @ spec.v1[:-1]) / np.linalg.norm(spec.v1[:-1]))
    assert np.isclose(s.cos_ones[r, 1], abs(cl.cosine_with_ones(lead[None])[0]))
    assert np.isclose(s.lambda_1[r, 1], spec.singular_values[0])
    hits = np.flatnonzero(curve >= 0.9)
    assert s.t_level[r, 1] == (2e-3 * result.epochs[hits[0]] if hits.size else np.inf)
    # the m = 1 row is measured with the bias, and compared with the baseline measured so
    one = [k for k in range(10) if s.factors[k] == "m" and s.values[k] == 1][0]
    assert s.bias[one] and s.factors[s.reference(one)] == "bias" and s.values[s.reference(one)] == "in"
    assert s.verdict(0) == "baseline" and len(s.verdicts()) == 10
    # the fc row: a ReLU layer of 6 units, then the output without a bias
    fc = [k for k in range(10) if s.factors[k] == "head" and s.values[k] == "fc"][0]
    fc_config = cl.theory_config(n=12, crop=9, eps=1e-5, lr=2e-3, epochs=40, seed=1, head="fc", hidden=6,
                                 snapshot_epochs=tuple(range(0, 41, 2)))
    x, y = fc_config.data()
    model = cl.CNN.from_config(fc_config, tuple(x.shape[1:]), out_bias=False)
    assert model.readout.bias is None and model.fc.out_features == 6
    fc_result = cl.train(model, x, y, progress=False, **fc_config.train_options())
    np.testing.assert_allclose(s.curves[fc, 1], [cl.aligned_fraction(fc_result.kernels(e)) for e in fc_result.epochs])
    # the paired interval of a difference against its reference, by hand (Student t, 2 seeds)
    d = s.aligned[fc] - s.aligned[s.reference(fc)]
    half = 12.7062047 * d.std(ddof=1) / np.sqrt(2)
    ci = s.difference("aligned", fc)
    assert np.isclose(ci.estimate, d.mean()) and (np.isclose(ci.high - ci.low, 2 * half) or half == 0)
    # the baseline's stage after its condensation, and an output bias alone, against their parts
    b = int(np.flatnonzero(s.baseline)[0])
    assert str(s.stage_after_level(b)) == str(cl.difference_interval(s.t_stage[b], s.t_level[b]))
    alone = [cl.bias_alone_time(s.base.replace(seed=k).data()[1].numpy(), 2e-3, 0.05, 400) for k in (0, 1)]
    assert str(s.bias_alone()) == str(cl.mean_interval(alone)) and s.base.n == 12
    axes = cl.sensitivity_curves(s)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes if ax.get_visible())
    with pytest.raises(ValueError, match="level and stage"):
        cl.sensitivity("fast", grid=grid, level=1.5)


def test_sensitivity_verdicts_follow_the_stated_thresholds():
    S = cl.Sensitivity
    rows = [("bias", "out", False, True), ("bias", "in", True, False), ("n", 1, False, False), ("n", 2, False, False),
            ("n", 3, False, False), ("n", 4, False, False), ("m", 1, True, False), ("m", 5, False, False),
            ("m", 7, False, False)]
    # two seeds per row: the row's value +- spread (spread 0: a point); with 2 seeds the paired
    # 95% interval of a difference is its mean +- 12.706 |d_1 - d_2| / 2
    two = lambda values, spread=0.0: np.array(values, dtype=float)[:, None] + np.array([-spread, spread])
    R = len(rows)
    wide = np.zeros(R)
    wide[7] = 0.05   # aligned 0.9 +- 0.05 against 0.9 +- 0: interval 0 +- 0.64, straddles 0.2
    study = S(scale="fast", level=0.9, stage=0.05, factors=tuple(r[0] for r in rows), values=tuple(r[1] for r in rows),
              bias=np.array([r[2] for r in rows]), baseline=np.array([r[3] for r in rows]), seeds=np.arange(2),
              times=np.arange(3.0), lambda_1=two([1] * R), ratio=two([2] * R),
              t_level=two([1.0, 1.1, 1.3, 1.0, np.inf, 1.0, 1.0, 1.0, 1.0]),
              t_stage=two([2.0, 2.0, 2.0, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0]),
              stage_epoch=two([1] * R), aligned=two([0.9, 0.85, 0.9, 0.9, 0.9, 0.65, 0.9, 0.9, 0.9]) + wide[:, None] * [-1, 1],
              directions=two([1] * R), cos_v1=two([1, 1, 1, 1, 1, 1, 0.85, 1, 1]),
              cos_ones=two([1, 0.95, 1, 1, 1, 1, 0.99, 1, 1]), curves=np.zeros((R, 2, 3)))
    study.t_level[8] = [1.0, 1.5]  # log ratio 0 +- 12.706 x 0.2: straddles log 1.25
    assert study.verdicts() == ["baseline", "changes neither", "changes only the time", "changes only the time",
                                "changes only the time", "changes the picture", "changes the picture", "undecided",
                                "undecided"]
    assert study.reference(6) == 1 and study.reference(1) == 0 and study.reference(2) == 0
    assert study.time_ratio("t_level", 4) is None and np.isclose(study.time_ratio("t_stage", 3).estimate, 0.75)
    ci = study.difference("aligned", 7)
    assert np.isclose(ci.high, 12.7062047 * 0.05) and np.isclose(ci.low, -12.7062047 * 0.05)
    shown = cl.sensitivity_table(study)
    assert len(shown.rows) == R and shown.rows[4][3] == "never" and shown.rows[5][-1] == "**changes the picture**"


def test_fc_head_without_output_bias_keeps_the_default_draw():
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    kwargs = dict(m=3, head="fc", hidden=5, init="theory", eps=0.1, seed=4)
    default, with_bias, without = (cl.CNN((1, 8, 8), (2,), **kwargs), cl.CNN((1, 8, 8), (2,), **kwargs, out_bias=True),
                                   cl.CNN((1, 8, 8), (2,), **kwargs, out_bias=False))
    assert default.readout.bias is not None and without.readout.bias is None
    for name, p in default.named_parameters():  # the default is unchanged, and out_bias=False only drops a parameter
        assert torch.equal(p, dict(with_bias.named_parameters())[name])
        if name != "readout.bias":
            assert torch.equal(p, dict(without.named_parameters())[name])
    with torch.no_grad():
        assert torch.allclose(default(x) - default.readout.bias, without(x))


def test_bias_alone_time_is_the_closed_form():
    y = np.array([0.0, 2.0, 4.0, 9.0])
    lr = 1e-3
    # R(b) = (var + (mean - b)^2) / 2 with b_k = mean (1 - (1 - lr)^k): first k with R_k <= 0.95 R_0
    k = np.arange(2001)
    b = y.mean() * (1 - (1 - lr) ** k)
    R = 0.5 * (y.var() + (y.mean() - b) ** 2)
    expected = lr * k[np.argmax(R <= 0.95 * R[0])]
    assert cl.bias_alone_time(y, lr, 0.05, 2000) == pytest.approx(expected)
    assert cl.bias_alone_time(y, lr, 0.05, 3) == np.inf


def test_quadratic_fields_are_the_rescaled_field_to_second_order():
    x, y, model = _small_problem(activation="xtanh", eps=1e-3)
    field, quadratic = cl.quadratic_fields(model, x, y, eps=1e-3)
    assert field.shape == quadratic.shape == (3, 2 * 9 + 1 + 12)
    assert np.linalg.norm(field - quadratic) < 1e-3 * np.linalg.norm(quadratic)
    check = cl.quadratic_check(x, y, [1e-2, 1e-3], M=3, seed=1)
    assert check.slope("error") == pytest.approx(2.0, abs=0.05)
    np.testing.assert_allclose(check.ratio, 1.0, atol=1e-2)
    assert abs(check.ratio[1] - 1) < 1e-3
    with pytest.raises(ValueError, match="multiplicity 2"):
        cl.quadratic_check(x, y, [1e-2], activation="tanh")


def test_multiplicity_study_against_its_parts():
    config = cl.theory_config(M=6, eps=1e-3, activation="xtanh", n=20, crop=8, lr=5e-2, epochs=30,
                              snapshot_epochs=tuple(range(0, 31, 5)))
    result = cl.run(config, use_cache=False, progress=False)
    study = cl.multiplicity_study(result, config, drop=0.99)
    x, y = config.data()
    tW, ta = (t[0] for t in cl.theta_bar(result.snapshot(0)))
    rates, u = cl.top_eigenpairs(cl.build_B(cl.build_Q(x, y, 3), ta))
    np.testing.assert_allclose(study.rates, rates)
    np.testing.assert_allclose(study.predicted, u)
    ratio = result.loss[study.epochs] / result.loss[0]
    assert ratio[study.epochs == study.stop][0] >= 0.99 and study.time == pytest.approx(config.lr * study.stop)
    V = result.kernels(study.stop, per="filter", bias=True)
    V0 = result.kernels(0, per="filter", bias=True)
    np.testing.assert_allclose(study.growth, np.linalg.norm(V, axis=1) / np.linalg.norm(V0, axis=1), rtol=1e-6)
    cos = np.abs(np.sum(V * u, axis=1)) / np.linalg.norm(V, axis=1)
    np.testing.assert_allclose(study.cos_stop, cos, rtol=1e-5)
    assert study.at(study.stop) == cl.aligned_fraction(result.kernels(study.stop, per="filter"))
    tanh = config.replace(activation="tanh")
    s1 = cl.multiplicity_study(cl.run(tanh, use_cache=False, progress=False), tanh, drop=0.99)
    np.testing.assert_allclose(s1.predicted[0], cl.spectrum(cl.build_Z(x, y, 3)).v1)
    assert s1.predicted_directions == pytest.approx(1.0) and np.isnan(s1.rank_correlation)


def test_multiplicity_seeds_against_a_loop_of_studies(tmp_cache, data_dir, monkeypatch):
    """multiplicity_seeds against multiplicity_study run seed by seed, and its intervals against
    mean_interval / difference_interval of the same numbers."""
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    configs = {a: cl.theory_config(M=6, eps=1e-3, activation=a, n=20, crop=8, lr=lr, epochs=30,
                                   snapshot_epochs=tuple(range(0, 31, 5))) for a, lr in (("xtanh", 2e-2), ("tanh", 5e-3))}
    seeds = cl.multiplicity_seeds(configs, [0, 1, 2], drop=0.99)
    for i, a in enumerate(("xtanh", "tanh")):
        for j, s in enumerate((0, 1, 2)):
            c = configs[a].replace(seed=s)
            study = cl.multiplicity_study(cl.run(c, progress=False), c, drop=0.99)
            assert seeds.grown[i, j] == study.grown().sum() and seeds.aligned[i, j] == study.at(study.stop)
            assert seeds.directions[i, j] == study.at(study.stop, "directions")
            assert seeds.left[i, j] == (study.stop < study.epochs[-1])
    assert str(seeds.interval("aligned", "tanh")) == str(cl.mean_interval(seeds.aligned[1]))
    assert str(seeds.difference("grown", "tanh", "xtanh")) == str(cl.difference_interval(seeds.grown[1], seeds.grown[0]))
    centred = cl.multiplicity_seeds({"tanh": configs["tanh"]}, [0, 1], drop=0.99, centred=True)
    for j, s in enumerate((0, 1)):
        c = configs["tanh"].replace(seed=s)
        study = cl.multiplicity_study(cl.run_centred(c), c, drop=0.99, centred=True)
        assert centred.grown[0, j] == study.grown().sum() and centred.aligned[0, j] == study.at(study.stop)
    with pytest.raises(ValueError, match="was not run"):
        seeds.interval("aligned", "relu")
    with pytest.raises(ValueError, match="at least two distinct seeds"):
        cl.multiplicity_seeds(configs, [0, 0])


def test_layer_order_rescales_the_initial_weights_and_measures_like_run(tmp_cache, data_dir, monkeypatch):
    """Row (1, 1): the gradients of layer_gradients and the onsets of the cached run of the same
    config. Row (1, c): scaling the top layer by c scales the bottom layer's initial gradient by c
    (the linear readout is 1-homogeneous in it and tanh's argument is tiny), its own not at all."""
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.Config(dataset="mnist", split="test", n=20, crop=8, channels=(4, 4), m=3, optimizer="adam", lr=1e-4,
                       epochs=6, gamma=2.0)
    order = cl.layer_order(config, [[1, 1], [1, 3]], level=0.5)
    np.testing.assert_allclose(order.gradients[0], cl.layer_gradients(config), rtol=1e-6)
    direct = cl.measure(cl.run(config.replace(snapshot_epochs=tuple(range(7))), progress=False)).onsets(0.5)
    np.testing.assert_array_equal(order.onsets[0], direct)
    assert order.gradients[1, 0] / order.gradients[0, 0] == pytest.approx(3, rel=1e-3)
    assert order.gradients[1, 1] / order.gradients[0, 1] == pytest.approx(1, rel=1e-3)
    assert order.epochs.tolist() == list(range(7)) and order.level == 0.5
    with pytest.raises(ValueError, match=r"factors must be \(K, 2\)"):
        cl.layer_order(config, [[1, 1, 1]])
    # each row is cached: a second call reads it (one file per row), the same numbers
    files = sorted(p.name for p in tmp_cache.glob("layer-order-*.npz"))
    again = cl.layer_order(config, [[1, 3], [1, 1]], level=0.5)
    assert len(files) == 2 and sorted(p.name for p in tmp_cache.glob("layer-order-*.npz")) == files
    np.testing.assert_array_equal(again.onsets[::-1], order.onsets)
    np.testing.assert_array_equal(again.gradients[::-1], order.gradients)


def _numpy_forward(params, x):
    """The two-layer CNN with a linear readout written with numpy windows: sum_{p,q} x_{u+p,v+q} W_{p,q} + b,
    tanh, then the readout a over (channel, u, v)."""
    W, b, a = (np.asarray(params[k], dtype=np.float64) for k in ("convs.0.weight", "convs.0.bias", "readout.weight"))
    m = W.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(x[:, 0], (m, m), axis=(1, 2))  # (n, H1, W1, m, m)
    h = np.tanh(np.einsum("nuvpq,cpq->ncuv", windows, W[:, 0]) + b[None, :, None, None])
    return h.reshape(len(x), -1) @ a.T  # (n, d)


def test_after_initial_stage_against_a_direct_computation(data_dir, tmp_cache, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    options = dict(n=30, crop=8, epochs=24, lr=0.5, M=6)
    study = cl.after_initial_stage((2.0, 0.5), 2, n_test=40, drop=0.01, **options)
    E = len(study.epochs)
    assert study.test_accuracy.shape == study.aligned.shape == (2, 2, E) and study.survival.shape == (2, 2, 6)
    # one run by hand: gamma = 2, seed 1
    config = cl.after_initial_stage_configs([2.0], 2, **options)[1]
    result = cl.run(config)
    xh, yh = cl.held_out("mnist", 40, n_train=30, seed=1, split="test", target="class", crop=8, dtype=torch.float64)
    xh, yh = xh.numpy(), yh.numpy()
    for k, e in enumerate(result.epochs):
        expect = np.mean(_numpy_forward(result.snapshot(e), xh).argmax(1) == yh)
        assert study.test_accuracy[0, 1, k] == pytest.approx(expect, abs=1e-6)  # float32 mean
    np.testing.assert_allclose(study.train_accuracy[0, 1], result.accuracy[result.epochs])
    loss = result.loss[result.epochs]
    start = max(e for e, value in zip(result.epochs, loss) if value >= 0.99 * loss[0])
    assert study.initial_end[0, 1] == start
    U0 = result.kernels(start)
    U0 = U0 / np.linalg.norm(U0, axis=1, keepdims=True)
    v = np.linalg.svd(U0)[2][0]  # the top right singular vector of the unit filters at the end of the initial stage
    end = result.kernels(int(result.epochs[-1]))
    expect = [abs(row @ v) / np.linalg.norm(row) for row in end]
    np.testing.assert_allclose(study.survival[0, 1], expect, rtol=1e-6)
    assert study.at("survived")[0, 1] == pytest.approx(np.mean(np.array(expect) > 0.9))
    k = list(result.epochs).index(start)
    assert study.at("aligned", "initial_end")[0, 1] == cl.aligned_fraction(result.kernels(start))
    assert study.at("train_accuracy", "initial_end")[0, 1] == result.accuracy[start] == study.train_accuracy[0, 1, k]
    # the statistics over seeds and the paired difference
    final = study.test_accuracy[..., -1]
    np.testing.assert_allclose(study.mean(), final.mean(1))
    np.testing.assert_allclose(study.std(), final.std(1, ddof=1))
    np.testing.assert_allclose(study.difference(), final[0] - final[1])
    assert study.summary(digits=2)[1] == f"{final[1].mean():.2f} ± {final[1].std(ddof=1):.2f}"
    axes = cl.accuracy_and_survival(study)
    assert len(axes) == 3 and all(ax.get_ylabel() for ax in axes) and axes[0].figure.get_figwidth() <= 8
    with pytest.raises(ValueError, match="unknown measure"):
        study.at("nope")
    with pytest.raises(ValueError, match="when"):
        study.at("aligned", "start")
    with pytest.raises(ValueError, match="drop"):
        cl.after_initial_stage((2.0,), 1, drop=0.0, **options)


def test_compare_optimizers_seeds_and_onset_over_crossing(tmp_cache, data_dir, monkeypatch):
    # Each seed's comparison is compare_optimizers at that seed (runs trained together by sweep,
    # read back from the cache), and onset_over_crossing is the onset over the first recorded
    # step at which the run's own phi (eq. 52) passes M^((gamma_eps - 1)/4) (eq. 54).
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = cl.theory_config(M=5, eps=1e-3, n=20, crop=7, m=3)
    comps = cl.compare_optimizers_seeds(base, [0, 1], steps=6, adam_lrs=[1e-3], every=3)
    level = 5 ** ((-np.log(1e-6) / np.log(5) - 1) / 4)
    for seed, comp in zip([0, 1], comps):
        alone = cl.compare_optimizers(base.replace(seed=seed), steps=6, adam_lrs=[1e-3], every=3)
        np.testing.assert_allclose(comp.loss, alone.loss, rtol=1e-6)
        np.testing.assert_array_equal(comp.onset, alone.onset)
        for r in range(2):
            crossed = np.flatnonzero(comp.phi[r] > level)
            crossing = 3.0 * crossed[0] if crossed.size else np.inf
            with np.errstate(invalid="ignore", divide="ignore"):
                np.testing.assert_equal(comp.onset_over_crossing[r], comp.onset[r] / crossing)
    with pytest.raises(ValueError, match="at least one seed"):
        cl.compare_optimizers_seeds(base, [], steps=6, adam_lrs=[1e-3])


def test_run_centred_trains_on_centred_labels(tmp_cache, data_dir, monkeypatch):
    # At initialization the output is O(eps^2): the loss is (1/2n) sum (y - mean y)^2, the
    # half-variance of the labels; the tanh prediction is v1 of the Z of the centred labels,
    # whose bias column (their mean) is zero; the centred Q_p of MNIST has a negative eigenvalue.
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.theory_config(M=6, eps=1e-3, n=20, crop=8, lr=5e-3, epochs=4, snapshot_epochs=(0, 2, 4))
    x, y = config.data()
    yc = (y - y.mean()).double().numpy()
    result = cl.run_centred(config)
    assert result.loss[0] == pytest.approx(0.5 * np.mean(yc**2), rel=1e-4)
    assert cl.run(config).loss[0] == pytest.approx(0.5 * np.mean(y.double().numpy() ** 2), rel=1e-4)
    study = cl.multiplicity_study(result, config, drop=0.99, centred=True)
    Zc = cl.build_Z(x, y - y.mean(), 3)
    assert np.abs(Zc[:, -1]).max() < 1e-6
    np.testing.assert_allclose(np.abs(study.predicted[0] @ np.linalg.svd(Zc)[2][0]), 1.0, rtol=1e-6)
    assert np.linalg.eigvalsh(cl.build_Q(x, y - y.mean(), 3)).min() < 0 <= np.linalg.eigvalsh(cl.build_Q(x, y, 3)).min() + 1e-10
    with pytest.raises(ValueError, match="centres the scalar label"):
        cl.run_centred(config.replace(loss="ce", target="class", d=10))
