"""condense_lib.two_layer against plain autograd (float64, small problems): the patches
behind Z and the closed-form gradient of the two-layer CNN (eq. 23), and what it covers.
Training through this fast path is checked in test_train.py."""
import numpy as np
import pytest
import torch

from condense_lib import CNN, build_Z, loss_fn
from condense_lib.training.two_layer import TwoLayerStack, covers, patches


def _data(seed=0, n=7, shape=(2, 7, 6), d=1, target="label"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *shape), generator=g, dtype=torch.float64)
    labels = torch.randint(0, 10 if target == "label" else d, (n,), generator=g)
    if target == "class":
        return x, labels
    if target == "onehot":
        return x, torch.nn.functional.one_hot(labels, d).double()
    return x, labels.double()


def _model(seed=0, shape=(2, 7, 6), M=4, m=3, activation="tanh", d=1, head="linear", channels=None, eps=0.3,
           padding=0):
    return CNN(shape, channels or (M,), m=m, padding=padding, activation=activation, head=head, d=d, hidden=5,
               init="theory", eps=eps, seed=seed).double()


def test_patches_average_to_Z_and_match_the_windows():
    x, y = _data(n=5, shape=(3, 6, 5))
    P = patches(x, 3)  # (n, H1 W1, C m^2 + 1)
    assert P.shape == (5, 4 * 3, 3 * 9 + 1)
    np.testing.assert_allclose((y[:, None, None] * P).mean(0).numpy(), build_Z(x, y, 3), rtol=1e-12, atol=1e-14)
    # one entry from the definition: image 2, position (u, v) = (1, 2), channel 1, offset (p, q) = (2, 0)
    u, v, c, p, q = 1, 2, 1, 2, 0
    assert P[2, u * 3 + v, c * 9 + p * 3 + q].item() == x[2, c, u + p, v + q].item()
    assert (P[..., -1] == 1).all()


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


@pytest.mark.parametrize("m, padding", [(3, 1), (3, 2), (2, 1)])
def test_closed_form_gradient_equals_autograd_with_padding(m, padding):
    x, y = _data()
    model = _model(m=m, padding=padding)
    assert covers([model], "mse") and not covers([model, _model(m=m)], "mse")
    loss_fn(model(x), y, "mse").backward()
    net = TwoLayerStack([model], x, y, "mse", chunk=3)
    np.testing.assert_allclose(net.step(grad=True)[0].numpy(), model(x).detach().numpy(), rtol=1e-12, atol=1e-14)
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
