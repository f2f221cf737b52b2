"""The fast paths of ``condense_lib.train`` against plain autograd (float64, small problems):
the closed-form gradient of the two-layer CNN (eq. 23), S models trained at once, and the
channels-last autograd path of the other models."""
import numpy as np
import pytest
import torch

from condense_lib import CNN, build_Z, loss_fn, train
from condense_lib.two_layer import TwoLayerStack, covers, output_gradient, patches


def _data(seed=0, n=7, shape=(2, 7, 6), d=1, target="label", S=None):
    g = torch.Generator().manual_seed(seed)
    lead = () if S is None else (S,)
    x = torch.randn((*lead, n, *shape), generator=g, dtype=torch.float64)
    labels = torch.randint(0, 10 if target == "label" else d, (*lead, n), generator=g)
    if target == "class":
        return x, labels
    if target == "onehot":
        return x, torch.nn.functional.one_hot(labels, d).double()
    return x, labels.double()


def _model(seed=0, shape=(2, 7, 6), M=4, m=3, activation="tanh", d=1, head="linear", channels=None, eps=0.3):
    return CNN(shape, channels or (M,), m, activation, head=head, d=d, hidden=5, init="theory", eps=eps, seed=seed).double()


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


def test_patches_average_to_Z_and_match_the_windows():
    x, y = _data(n=5, shape=(3, 6, 5))
    P = patches(x, 3)  # (n, H1 W1, C m^2 + 1)
    assert P.shape == (5, 4 * 3, 3 * 9 + 1)
    np.testing.assert_allclose((y[:, None, None] * P).mean(0).numpy(), build_Z(x, y, 3), rtol=1e-12, atol=1e-14)
    # one entry from the definition: image 2, position (u, v) = (1, 2), channel 1, offset (p, q) = (2, 0)
    u, v, c, p, q = 1, 2, 1, 2, 0
    assert P[2, u * 3 + v, c * 9 + p * 3 + q].item() == x[2, c, u + p, v + q].item()
    assert (P[..., -1] == 1).all()


@pytest.mark.parametrize("loss, d, target", [("mse", 1, "label"), ("mse", 3, "onehot"),
                                             ("mse_softmax", 3, "onehot"), ("ce", 3, "class")])
def test_output_gradient_is_the_derivative_of_the_loss(loss, d, target):
    g = torch.Generator().manual_seed(1)
    out = torch.randn(6, d, generator=g, dtype=torch.float64, requires_grad=True)
    _, y = _data(n=6, d=d, target=target)
    y = y if target != "label" else y[:, None]
    (expected,) = torch.autograd.grad(loss_fn(out, y, loss), out)
    got = output_gradient(out.detach()[None], y[None], loss, 6)[0]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
@pytest.mark.parametrize("loss, d, target", [("mse", 1, "label"), ("mse", 2, "onehot"), ("ce", 3, "class")])
def test_closed_form_gradient_equals_autograd(activation, loss, d, target):
    x, y = _data(d=d, target=target)
    model = _model(activation=activation, d=d)
    assert covers([model], loss)
    value = loss_fn(model(x), y, loss)
    value.backward()
    for chunk in (7, 3):  # the whole batch, and chunks of 3, 3, 1 samples
        net = TwoLayerStack([model], x, y, loss, chunk=chunk)
        out = net.step(grad=True)
        np.testing.assert_allclose(out[0].numpy(), model(x).detach().numpy(), rtol=1e-12, atol=1e-14)
        grads = net.parameters_of(0, grad=True)
        for name, p in model.named_parameters():
            np.testing.assert_allclose(grads[name].numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


def test_what_the_closed_form_covers():
    assert covers([_model(), _model(seed=1)], "mse")
    assert not covers([_model(activation="silu")], "mse")  # sigma' not coded: autograd
    assert not covers([_model(head="fc", d=3)], "ce")
    assert not covers([_model(channels=(3, 3))], "mse")
    assert not covers([_model(), _model(M=5)], "mse")  # one architecture only
    assert not covers([_model(), _model().float()], "mse")


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
    result = train(model, x, y, optimizer, lr, 6, loss, snapshot_epochs=[0, 3, 6], progress=False)
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
    apart = [train(_model(seed=s), x, y, optimizer, lr, 5, snapshot_epochs=[0, 2, 5], progress=False) for s in range(3)]
    models = [_model(seed=s) for s in range(3)]
    together = train(models, x, y, optimizer, lr, 5, snapshot_epochs=[0, 2, 5], progress=False)
    assert len(together) == 3
    for a, b, model in zip(together, apart, models):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_array_equal(a.accuracy, b.accuracy)
        for name in b.snapshots:
            np.testing.assert_allclose(a.snapshots[name], b.snapshots[name], rtol=1e-10, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(model.readout.weight.detach().numpy(), b.snapshots["readout.weight"][-1], rtol=1e-10)


def test_many_seeds_each_with_its_own_sample():
    x, y = _data(S=3)  # (S, n, C, H, W), (S, n)
    apart = [train(_model(seed=s), x[s], y[s], "gd", 0.05, 4, progress=False) for s in range(3)]
    together = train([_model(seed=s) for s in range(3)], x, y, "gd", 0.05, 4, progress=False)
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_allclose(a.snapshots["convs.0.weight"], b.snapshots["convs.0.weight"], rtol=1e-10, atol=1e-14)


def test_many_models_the_closed_form_does_not_cover_go_one_after_another():
    x, y = _data(d=3, target="class", shape=(2, 9, 9))
    make = lambda s: _model(seed=s, shape=(2, 9, 9), channels=(3, 2), head="fc", d=3)
    apart = [train(make(s), x, y, "adam", 1e-3, 3, loss="ce", progress=False) for s in range(2)]
    together = train([make(s) for s in range(2)], x, y, "adam", 1e-3, 3, loss="ce", progress=False)
    for a, b in zip(together, apart):
        np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
        np.testing.assert_allclose(a.snapshots["fc.weight"], b.snapshots["fc.weight"], rtol=1e-10, atol=1e-14)


def test_no_snapshots_and_bad_calls():
    x, y = _data()
    result = train(_model(), x, y, epochs=3, snapshot_epochs=[], progress=False)
    assert result.snapshots == {} and result.loss.shape == (4,)
    with pytest.raises(ValueError, match="need S = 2 models"):
        train([_model(), _model(seed=1)], *_data(S=3), progress=False)
    with pytest.raises(ValueError, match="x is torch.float32"):
        train(_model(), x.float(), y, progress=False)
