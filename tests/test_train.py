"""condense_lib.train: one step against the update of eq. 23 written in numpy, the
snapshot convention, the fast paths (the closed form of ``two_layer``, S models at once,
the channels-last autograd path) against a plain autograd loop, and the step-size check
of the fast scale."""
import numpy as np
import pytest
import torch

from condense_lib import CNN, train
from condense_lib.theory.losses import loss_fn
from condense_lib.training.progress import show_progress
from condense_lib.training.trainer import NotRecorded, epoch_index, recorded_epochs


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
    result = train(model, x, y, optimizer="gd", lr=lr, epochs=1, progress=False)
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
    result = train(model, x, y, optimizer="adam", lr=1e-3, epochs=1, progress=False)
    np.testing.assert_allclose(result.snapshot(1)["convs.0.weight"], W0 - 1e-3 * np.sign(gW), rtol=1e-5, atol=1e-9)


def test_training_is_deterministic_and_records_what_was_asked():
    runs = []
    for _ in range(2):
        x, y, model = _problem(2)
        runs.append(train(model, x, y, optimizer="gd", lr=0.01, epochs=20, snapshot_epochs=[0, 5, 20], progress=False))
    a, b = runs
    assert np.array_equal(a.loss, b.loss) and a.loss.shape == (21,) and a.accuracy.shape == (21,)
    assert a.epochs.tolist() == [0, 5, 20]
    assert a.snapshots["convs.0.weight"].shape == (3, 3, 2, 3, 3)
    assert all(np.array_equal(a.snapshots[k], b.snapshots[k]) for k in a.snapshots)
    assert a.loss[-1] < a.loss[0]


def test_results_do_not_depend_on_the_memory_setting(monkeypatch):
    import sys

    module = sys.modules["condense_lib.training.trainer"]
    runs = []
    for libc in (module._glibc, lambda: None):  # with mallopt (Linux), and without it
        monkeypatch.setattr(module, "_glibc", libc)
        x, y, model = _problem(5)
        runs.append(train(model, x, y, optimizer="adam", lr=1e-3, epochs=4, progress=False))
    assert np.array_equal(runs[0].loss, runs[1].loss)
    assert all(np.array_equal(runs[0].snapshots[k], runs[1].snapshots[k]) for k in runs[0].snapshots)


def test_unrecorded_parameters_are_left_out_and_change_nothing_else():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn((5, 1, 8, 8), generator=g), torch.randint(0, 10, (5,), generator=g)
    runs = [train(CNN((1, 8, 8), (2,), m=3, activation="tanh", head="fc", d=10, hidden=16, seed=4), x, y,
                  optimizer="adam", lr=1e-3, epochs=3, loss="ce", progress=False, unrecorded=skip)
            for skip in ((), ("fc.",))]
    kept, lean = runs
    assert {k for k in kept.snapshots if k.startswith("fc.")} == {"fc.weight", "fc.bias"}
    assert not any(k.startswith("fc.") for k in lean.snapshots)
    assert set(lean.snapshots) == {k for k in kept.snapshots if not k.startswith("fc.")}
    assert np.array_equal(kept.loss, lean.loss)
    assert all(np.array_equal(kept.snapshots[k], v) for k, v in lean.snapshots.items())


def test_bad_input_is_explained():
    x, y, model = _problem()
    with pytest.raises(ValueError, match="unknown optimizer"):
        train(model, x, y, optimizer="sgdm")
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


def test_snapshot_epochs_default_to_the_first_and_last_and_lookups_name_the_recorded():
    # behaviour changed with issue 9: an empty snapshot_epochs means (0, epochs), as in Config
    x, y, model = _problem(3)
    result = train(model, x, y, epochs=3, snapshot_epochs=[], progress=False)
    assert result.epochs.tolist() == [0, 3] and result.snapshots["convs.0.weight"].shape[0] == 2
    assert result.loss.shape == (4,)
    assert recorded_epochs((), 3) == [0, 3] and recorded_epochs([5, 0, 5, 2], 9) == [0, 2, 5]
    assert epoch_index([0, 2, 5], 5) == 2
    with pytest.raises(NotRecorded, match=r"epoch 1 was not recorded; recorded epochs: \[0, 3\]"):
        result.snapshot(1)
    for error in (KeyError, ValueError):  # callers may catch either
        with pytest.raises(error):
            epoch_index(result.epochs, 2)
    # the default of per is "filter", as in measure and cosine_frames: one row per output channel
    assert result.kernels(3).shape == (3, 2 * 9)
    assert result.kernels(3, per="kernel").shape == (3 * 2, 9)


def test_the_progress_policy(monkeypatch):
    assert show_progress(True) and not show_progress(False)
    monkeypatch.setenv("CONDENSE_PROGRESS", "0")
    assert not show_progress()
    monkeypatch.setenv("CONDENSE_PROGRESS", "1")
    assert show_progress()


# ----------------------------------------------------------------------------- fast paths against autograd

def _data(seed=0, n=7, shape=(2, 7, 6), d=1, target="label", S=None):
    g = torch.Generator().manual_seed(seed)
    lead = () if S is None else (S,)
    x = torch.randn((*lead, n, *shape), generator=g, dtype=torch.float64)
    labels = torch.randint(0, 10 if target == "label" else d, (*lead, n), generator=g)
    if target == "class":
        return x, labels
    return x, labels.double()


def _model(seed=0, shape=(2, 7, 6), M=4, d=1, head="linear", channels=None, eps=0.3):
    return CNN(shape, channels or (M,), m=3, activation="tanh", head=head, d=d, hidden=5, init="theory", eps=eps,
               seed=seed).double()


def _autograd_train(model, x, y, optimizer, lr, epochs, loss):
    """The plain loop, written independently: autograd, torch.optim, default layout."""
    opt = torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "gd" else torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        value = loss_fn(model(x), y, loss)
        value.backward()
        opt.step()
        losses.append(value.item())
    with torch.no_grad():
        losses.append(loss_fn(model(x), y, loss).item())
    return np.array(losses), {k: v.detach().numpy() for k, v in model.named_parameters()}


@pytest.mark.parametrize("optimizer, lr", [("gd", 0.05), ("adam", 1e-3)])
@pytest.mark.parametrize("kind", ["two-layer", "two-layer-ce", "three-layer-fc"])
def test_train_equals_a_plain_autograd_loop(kind, optimizer, lr):
    if kind == "two-layer":
        (x, y), make, loss = _data(), lambda: _model(), "mse"
    elif kind == "two-layer-ce":
        (x, y), make, loss = _data(d=3, target="class"), lambda: _model(d=3), "ce"
    else:
        (x, y), make, loss = _data(d=3, target="class", shape=(2, 9, 9)), lambda: _model(
            shape=(2, 9, 9), channels=(3, 2, 2), head="fc", d=3, eps=0.5), "ce"
    expected_loss, expected = _autograd_train(make(), x, y, optimizer, lr, 6, loss)
    model = make()
    result = train(model, x, y, optimizer=optimizer, lr=lr, epochs=6, loss=loss, snapshot_epochs=[0, 3, 6],
                   progress=False)
    np.testing.assert_allclose(result.loss, expected_loss, rtol=1e-6)  # the loss is recorded in float32
    for name, value in expected.items():
        np.testing.assert_allclose(result.snapshot(6)[name], value, rtol=1e-9, atol=1e-13, err_msg=name)
        # the model ends trained, in the default memory layout
        p = dict(model.named_parameters())[name]
        assert p.is_contiguous()
        np.testing.assert_allclose(p.detach().numpy(), value, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("optimizer, lr", [("gd", 0.05), ("adam", 1e-3)])
def test_many_seeds_at_once_equal_a_loop_over_seeds(optimizer, lr):
    x, y = _data()
    kw = dict(optimizer=optimizer, lr=lr, epochs=5, snapshot_epochs=[0, 2, 5], progress=False)
    apart = [train(_model(seed=s), x, y, **kw) for s in range(3)]
    models = [_model(seed=s) for s in range(3)]
    together = train(models, x, y, **kw)
    assert len(together) == 3
    for a, b, model in zip(together, apart, models):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_array_equal(a.accuracy, b.accuracy)
        for name in b.snapshots:
            np.testing.assert_allclose(a.snapshots[name], b.snapshots[name], rtol=1e-10, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(model.readout.weight.detach().numpy(), b.snapshots["readout.weight"][-1], rtol=1e-10)


def test_many_seeds_each_with_its_own_sample():
    x, y = _data(S=3)  # (S, n, C, H, W), (S, n)
    kw = dict(optimizer="gd", lr=0.05, epochs=4, progress=False)
    apart = [train(_model(seed=s), x[s], y[s], **kw) for s in range(3)]
    together = train([_model(seed=s) for s in range(3)], x, y, **kw)
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_allclose(a.snapshots["convs.0.weight"], b.snapshots["convs.0.weight"], rtol=1e-10, atol=1e-14)


def test_many_models_the_closed_form_does_not_cover_go_one_after_another():
    x, y = _data(d=3, target="class", shape=(2, 9, 9))
    kw = dict(optimizer="adam", lr=1e-3, epochs=3, loss="ce", progress=False)

    def make(s):
        return _model(seed=s, shape=(2, 9, 9), channels=(3, 2), head="fc", d=3)

    apart = [train(make(s), x, y, **kw) for s in range(2)]
    together = train([make(s) for s in range(2)], x, y, **kw)
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_allclose(a.snapshots["fc.weight"], b.snapshots["fc.weight"], rtol=1e-10, atol=1e-14)


def test_bad_calls_with_many_models_or_mixed_dtypes():
    x, y = _data()
    with pytest.raises(ValueError, match="need S = 2 models"):
        train([_model(), _model(seed=1)], *_data(S=3), progress=False)
    with pytest.raises(ValueError, match="x is torch.float32"):
        train(_model(), x.float(), y, progress=False)


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
