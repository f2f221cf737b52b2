import math

import numpy as np
import pytest
import torch

from condense_lib import CNN, Config, sigma_1


def test_paper_init_std_matches_sigma_1():
    # Sec. 4.1: conv ~ N(0, sigma_1^2), sigma_1 = ((c_in + c_out) m^2 / 2)^(-gamma); linear ~ N(0, 1e-4^2).
    model = CNN((3, 32, 32), (64, 64), m=5, head="fc", d=10, gamma=1.2, seed=1)
    for conv, c_in in zip(model.convs, (3, 64)):
        w = conv.weight.detach().double().flatten()
        s = sigma_1(c_in, 64, 5, gamma=1.2)
        assert s == pytest.approx(((c_in + 64) * 25 / 2) ** -1.2)
        # the sample std of N draws is within 4 standard errors s / sqrt(2N)
        assert abs(w.std().item() - s) < 4 * s / math.sqrt(2 * w.numel())
        assert abs(w.mean().item()) < 4 * s / math.sqrt(w.numel())
    fc = model.fc.weight.detach().double()
    assert abs(fc.std().item() - 1e-4) < 4e-4 / math.sqrt(2 * fc.numel())


def test_theory_init_uses_eps_everywhere():
    model = CNN((1, 12, 12), (200,), m=3, init="theory", eps=0.01, seed=0)
    allp = torch.cat([p.detach().double().flatten() for p in model.parameters()])
    assert abs(allp.std().item() - 0.01) < 4 * 0.01 / math.sqrt(2 * allp.numel())
    with pytest.raises(ValueError, match="needs eps"):
        CNN((1, 12, 12), init="theory")


def test_init_is_seeded():
    a, b, c = (CNN((1, 10, 10), (4,), seed=s) for s in (5, 5, 6))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.convs[0].weight, c.convs[0].weight)


def test_from_config_builds_the_configured_network():
    config = Config(channels=(3, 2), m=2, activation="silu", head="fc", d=10, target="onehot", hidden=6, init="theory",
                    eps=0.1, seed=7)
    model = CNN.from_config(config, (2, 6, 5))
    same = CNN((2, 6, 5), (3, 2), m=2, activation="silu", head="fc", d=10, hidden=6, init="theory", eps=0.1, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), same.parameters()))
    with pytest.raises(TypeError):
        CNN((1, 10, 10), (4,), 3)  # everything after channels is keyword-only


def _loop_forward(model, x):
    """Sec. 3.2 written as plain loops: x^[l]_{u,v,beta} = sum_{alpha,p,q} sigma(x^[l-1])_{u+p,v+q,alpha} W_{p,q,alpha,beta} + b_beta."""
    x = x.double().numpy()
    n = x.shape[0]
    sig = lambda t: model.sigma(torch.as_tensor(t)).numpy()
    h = x
    for l, conv in enumerate(model.convs):
        W, b = conv.weight.detach().double().numpy(), conv.bias.detach().double().numpy()
        c_out, c_in, m, _ = W.shape
        inp = h if l == 0 else sig(h)
        pad = model.padding  # zero pixels on each side, written out as a bigger array of zeros
        if pad:
            big = np.zeros((n, c_in, inp.shape[2] + 2 * pad, inp.shape[3] + 2 * pad))
            big[:, :, pad:-pad, pad:-pad] = inp
            inp = big
        H1, W1 = inp.shape[2] - m + 1, inp.shape[3] - m + 1
        out = np.zeros((n, c_out, H1, W1))
        for i in range(n):
            for beta in range(c_out):
                for u in range(H1):
                    for v in range(W1):
                        s = b[beta]
                        for alpha in range(c_in):
                            for p in range(m):
                                for q in range(m):
                                    s += inp[i, alpha, u + p, v + q] * W[beta, alpha, p, q]
                        out[i, beta, u, v] = s
        h = out
    feats = sig(h).reshape(n, -1)
    if model.head == "fc":
        feats = np.maximum(feats @ model.fc.weight.detach().double().numpy().T + model.fc.bias.detach().double().numpy(), 0)
    a = model.readout.weight.detach().double().numpy()
    out = feats @ a.T
    if model.readout.bias is not None:
        out = out + model.readout.bias.detach().double().numpy()
    return out[:, 0] if model.d == 1 else out


@pytest.mark.parametrize(
    "in_shape, channels, m, act, head, d",
    [((1, 6, 5), (3,), 3, "tanh", "linear", 1), ((2, 7, 6), (3, 2), 2, "silu", "linear", 1), ((3, 6, 6), (2,), 3, "relu", "fc", 4)],
)
def test_forward_equals_a_loop_over_positions(in_shape, channels, m, act, head, d):
    model = CNN(in_shape, channels, m=m, activation=act, head=head, d=d, hidden=5, init="theory", eps=0.5, seed=2).double()
    x = torch.randn((2, *in_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    np.testing.assert_allclose(model(x).detach().numpy(), _loop_forward(model, x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_shape, channels, m, padding, head", [
    ((1, 6, 5), (3,), 3, 1, "linear"), ((2, 5, 5), (2, 3), 3, 2, "linear"), ((1, 5, 6), (2,), 5, 2, "fc"),
    ((1, 4, 4), (2,), 2, 1, "linear")])
def test_padded_forward_equals_a_loop_over_the_zero_padded_input(in_shape, channels, m, padding, head):
    model = CNN(in_shape, channels, m=m, padding=padding, activation="tanh", head=head, d=1, hidden=5, init="theory",
                eps=0.5, seed=4).double()
    shrink = m - 1 - 2 * padding
    assert model.out_shape == (channels[-1], in_shape[1] - len(channels) * shrink, in_shape[2] - len(channels) * shrink)
    x = torch.randn((2, *in_shape), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    np.testing.assert_allclose(model(x).detach().numpy(), _loop_forward(model, x), rtol=1e-10, atol=1e-12)


def test_padding_is_checked_and_taken_from_the_config():
    with pytest.raises(ValueError, match="padding = 3 must be an integer in 0..m-1"):
        CNN((1, 8, 8), (2,), m=3, padding=3)
    with pytest.raises(ValueError, match="padding"):
        CNN((1, 8, 8), (2,), m=3, padding=True)
    config = Config(dataset="mnist", n=4, crop=6, channels=(2,), m=3, padding="same")
    assert CNN.from_config(config, (1, 6, 6)).out_shape == (2, 6, 6)


def test_bad_configurations_are_explained():
    with pytest.raises(ValueError, match="do not fit a 4x4 image"):
        CNN((1, 4, 4), (8,), m=5)
    with pytest.raises(ValueError, match="unknown activation"):
        CNN((1, 8, 8), activation="swish")
    with pytest.raises(ValueError, match="unknown head"):
        CNN((1, 8, 8), head="mlp")
    with pytest.raises(ValueError, match=r"input must have shape \(n, 1, 8, 8\)"):
        CNN((1, 8, 8))(torch.zeros(2, 3, 8, 8))


def test_load_parameters_rebuilds_a_recorded_network():
    source = CNN((1, 8, 8), (4,), m=3, head="linear", d=10, seed=1)
    params = {k: v.detach().numpy().astype(np.float64) for k, v in source.named_parameters()}
    target = CNN((1, 8, 8), (4,), m=3, head="linear", d=10, seed=2).load_parameters(params)
    x = torch.randn(5, 1, 8, 8)
    assert torch.equal(target(x), source(x))
    with pytest.raises(ValueError, match="fc.weight"):
        CNN((1, 8, 8), (4,), m=3, head="fc", d=10, hidden=6).load_parameters(params)
    with pytest.raises(ValueError, match="shape"):
        CNN((1, 8, 8), (5,), m=3, head="linear", d=10).load_parameters(params)
