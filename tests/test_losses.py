"""condense_lib.losses: the risks R_S (eq. 1 and its variants) written out, and their
derivative with respect to the outputs against autograd."""
import numpy as np
import pytest
import torch

from condense_lib.theory.losses import loss_fn, output_gradient


def test_losses():
    out = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    assert loss_fn(out, torch.tensor([[1.0, 0.0], [0.0, 0.0]])).item() == pytest.approx(0.5 * (1 + 1) / 2)
    p = torch.softmax(out, 1)
    onehot = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert loss_fn(out, onehot, "mse_softmax").item() == pytest.approx(0.5 * ((p - onehot) ** 2).sum().item() / 2)
    assert loss_fn(out, torch.tensor([0, 1]), "ce").item() == pytest.approx(-torch.log(p[[0, 1], [0, 1]]).mean().item())
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        loss_fn(out, onehot, "hinge")


@pytest.mark.parametrize("loss, d, target", [("mse", 1, "label"), ("mse", 3, "onehot"),
                                             ("mse_softmax", 3, "onehot"), ("ce", 3, "class")])
def test_output_gradient_is_the_derivative_of_the_loss(loss, d, target):
    g = torch.Generator().manual_seed(1)
    out = torch.randn(6, d, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 10 if target == "label" else d, (6,), generator=g)
    if target == "label":
        y = labels.double()[:, None]
    elif target == "onehot":
        y = torch.nn.functional.one_hot(labels, d).double()
    else:
        y = labels
    (expected,) = torch.autograd.grad(loss_fn(out, y, loss), out)
    got = output_gradient(out.detach()[None], y[None], loss, n=6)[0]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-15)
