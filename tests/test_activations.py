import numpy as np
import pytest
import torch

from condense_lib import ACTIVATIONS, derivatives_at_zero, get_activation, multiplicity


@pytest.mark.parametrize("name, r", [("tanh", 1), ("silu", 1), ("xtanh", 2), ("linear", 1), ("relu", None), ("sigmoid", None)])
def test_multiplicity_matches_definition_1(name, r):
    # The declared multiplicity (Remark 1) equals the one computed with autograd.
    assert get_activation(name).multiplicity == r
    assert multiplicity(name) == r


def test_multiplicity_one_activations_have_unit_slope():
    # Assumption 1, eq. 7: sigma(0) = 0 and sigma'(0) = 1 (SiLU rescaled by 2, Remark 4).
    for act in ACTIVATIONS.values():
        if act.multiplicity == 1:
            x = torch.zeros((), dtype=torch.float64, requires_grad=True)
            y = act(x)
            (g,) = torch.autograd.grad(y, x)
            assert y.item() == 0.0 and g.item() == pytest.approx(1.0)


def test_xtanh_second_derivative_is_two():
    x = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(get_activation("xtanh")(x), x, create_graph=True)
    (h,) = torch.autograd.grad(g, x)
    assert h.item() == pytest.approx(2.0)


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*tanh"):
        get_activation("gelu")


def test_derivatives_at_zero():
    np.testing.assert_allclose(derivatives_at_zero("tanh"), [0, 1, 0, -2], atol=1e-12)
    np.testing.assert_allclose(derivatives_at_zero("xtanh"), [0, 0, 2, 0], atol=1e-12)
    # 2 SiLU(x) = x + x^2 / 2 + O(x^4): sigma''(0) = 1
    np.testing.assert_allclose(derivatives_at_zero("silu"), [0, 1, 1, 0], atol=1e-12)
    np.testing.assert_allclose(derivatives_at_zero("linear"), [0, 1, 0, 0], atol=1e-12)
