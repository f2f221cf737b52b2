import numpy as np
import pytest
import torch

from condense_lib import CNN, loss_fn, train


def _problem(seed=0, n=6, shape=(2, 6, 5)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *shape), generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=g).double()
    model = CNN(shape, (3,), m=3, activation="tanh", init="theory", eps=0.3, seed=seed).double()
    return x, y, model


def _gradient_eq23(model, x, y):
    """dR_S/dtheta of the two-layer CNN from eq. 23 (App. B.3), in plain numpy."""
    W = model.convs[0].weight.detach().numpy()  # (M, C, m, m)
    b = model.convs[0].bias.detach().numpy()
    M, C, m, _ = W.shape
    x = x.numpy()
    n, _, H0, W0 = x.shape
    H1, W1 = H0 - m + 1, W0 - m + 1
    a = model.readout.weight.detach().numpy().reshape(M, H1, W1)
    h = np.zeros((n, M, H1, W1))
    for p in range(m):
        for q in range(m):
            h += np.einsum("ncuv,bc->nbuv", x[:, :, p:p + H1, q:q + W1], W[:, :, p, q])
    h += b[None, :, None, None]
    e = np.einsum("buv,nbuv->n", a, np.tanh(h)) - y.numpy()  # e_i = f(x_i) - y_i
    z = a[None] * (1 - np.tanh(h) ** 2)  # z_{u,v,beta}(i) = a sigma'(x^[1])
    gW = np.zeros_like(W)
    for p in range(m):
        for q in range(m):
            gW[:, :, p, q] = np.einsum("n,nbuv,ncuv->bc", e, z, x[:, :, p:p + H1, q:q + W1]) / n
    gb = np.einsum("n,nbuv->b", e, z) / n
    ga = np.einsum("n,nbuv->buv", e, np.tanh(h)) / n
    return gW, gb, ga.reshape(1, -1), e


def test_one_gd_step_equals_the_hand_written_update():
    x, y, model = _problem()
    W0, b0, a0 = (p.detach().clone().numpy() for p in model.parameters())
    gW, gb, ga, e = _gradient_eq23(model, x, y)
    lr = 0.05
    result = train(model, x, y, "gd", lr=lr, epochs=1, progress=False)
    after = result.snapshot(1)
    np.testing.assert_allclose(after["convs.0.weight"], W0 - lr * gW, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(after["convs.0.bias"], b0 - lr * gb, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(after["readout.weight"], a0 - lr * ga, rtol=1e-6, atol=1e-9)
    # the loss recorded at epoch 0 is R_S = 1/(2n) sum e_i^2 (eq. 1)
    assert result.loss[0] == pytest.approx(0.5 * np.mean(e ** 2), rel=1e-6)


def test_one_adam_step_moves_by_lr_times_sign():
    # Adam's first step is lr * g / (|g| + eps') with bias correction: lr * sign(g) for |g| >> 1e-8.
    x, y, model = _problem(1)
    W0 = model.convs[0].weight.detach().clone().numpy()
    gW, *_ = _gradient_eq23(model, x, y)
    result = train(model, x, y, "adam", lr=1e-3, epochs=1, progress=False)
    np.testing.assert_allclose(result.snapshot(1)["convs.0.weight"], W0 - 1e-3 * np.sign(gW), rtol=1e-5, atol=1e-9)


def test_training_is_deterministic_and_records_what_was_asked():
    runs = []
    for _ in range(2):
        x, y, model = _problem(2)
        runs.append(train(model, x, y, "gd", lr=0.01, epochs=20, snapshot_epochs=[0, 5, 20], progress=False))
    a, b = runs
    assert np.array_equal(a.loss, b.loss) and a.loss.shape == (21,) and a.accuracy.shape == (21,)
    assert a.epochs.tolist() == [0, 5, 20]
    assert a.snapshots["convs.0.weight"].shape == (3, 3, 2, 3, 3)
    assert all(np.array_equal(a.snapshots[k], b.snapshots[k]) for k in a.snapshots)
    assert a.loss[-1] < a.loss[0]


def test_results_do_not_depend_on_the_memory_setting(monkeypatch):
    import sys

    module = sys.modules["condense_lib.train"]
    runs = []
    for libc in (module._glibc, lambda: None):  # with mallopt (Linux), and without it
        monkeypatch.setattr(module, "_glibc", libc)
        x, y, model = _problem(5)
        runs.append(train(model, x, y, "adam", lr=1e-3, epochs=4, progress=False))
    assert np.array_equal(runs[0].loss, runs[1].loss)
    assert all(np.array_equal(runs[0].snapshots[k], runs[1].snapshots[k]) for k in runs[0].snapshots)


def test_unrecorded_parameters_are_left_out_and_change_nothing_else():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn((5, 1, 8, 8), generator=g), torch.randint(0, 10, (5,), generator=g)
    runs = [train(CNN((1, 8, 8), (2,), 3, "tanh", head="fc", d=10, hidden=16, seed=4), x, y, "adam", 1e-3, 3,
                  "ce", progress=False, unrecorded=skip) for skip in ((), ("fc.",))]
    kept, lean = runs
    assert {k for k in kept.snapshots if k.startswith("fc.")} == {"fc.weight", "fc.bias"}
    assert not any(k.startswith("fc.") for k in lean.snapshots)
    assert set(lean.snapshots) == {k for k in kept.snapshots if not k.startswith("fc.")}
    assert np.array_equal(kept.loss, lean.loss)
    assert all(np.array_equal(kept.snapshots[k], v) for k, v in lean.snapshots.items())


def test_losses():
    out = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    assert loss_fn(out, torch.tensor([[1.0, 0.0], [0.0, 0.0]])).item() == pytest.approx(0.5 * (1 + 1) / 2)
    p = torch.softmax(out, 1)
    onehot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert loss_fn(out, onehot, "mse_softmax").item() == pytest.approx(0.5 * ((p - onehot) ** 2).sum().item() / 2)
    assert loss_fn(out, torch.tensor([0, 1]), "ce").item() == pytest.approx(-torch.log(p[[0, 1], [0, 1]]).mean().item())


def test_bad_input_is_explained():
    x, y, model = _problem()
    with pytest.raises(ValueError, match="unknown optimizer"):
        train(model, x, y, "sgdm")
    with pytest.raises(ValueError, match="unknown loss"):
        train(model, x, y, loss="hinge")
    with pytest.raises(ValueError, match="6 samples but y has 5"):
        train(model, x, y[:5])
    with pytest.raises(ValueError, match="snapshot epochs must lie in 0..3"):
        train(model, x, y, epochs=3, snapshot_epochs=[4], progress=False)
    bad = x.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train(model, bad, y)


def test_fewer_larger_steps_reach_the_same_gradient_flow_time(data_dir, tmp_cache, monkeypatch):
    # The "fast" scale takes 10x fewer, 10x larger GD steps to the same t = lr * epochs (eq. 20).
    # On a small version of the Fig. 12 setting, with the book's two step sizes, both
    # schedules give the same kernels at t = 0.006 (a third of the figure's time, to stay quick).
    from condense_lib import Config, aligned_fraction, run

    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    small = Config(split="test", n=50, channels=(8,), lr=5e-6, epochs=1200)
    fine = run(small, progress=False)
    coarse = run(small.replace(lr=5e-5, epochs=120), progress=False)
    Wf, Wc = fine.kernels(1200), coarse.kernels(120)
    direction = np.sum(Wf * Wc, axis=1) / np.linalg.norm(Wf, axis=1) / np.linalg.norm(Wc, axis=1)
    assert direction.min() > 0.999  # each kernel points the same way after both schedules
    np.testing.assert_allclose(np.linalg.norm(Wc, axis=1), np.linalg.norm(Wf, axis=1), rtol=0.02)
    assert aligned_fraction(Wf) == aligned_fraction(Wc)
