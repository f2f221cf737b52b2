"""Fig. 1's merge (``cl.merge_kernels``, ``cl.merge_check``) against a direct computation: kernels
exactly on one line merge into one neuron with no loss of function where sigma is linear; random
kernels do not."""
import numpy as np
import pytest

import condense_lib as cl
from condense_lib.training.trainer import TrainResult


def test_merge_of_kernels_on_one_line_keeps_the_linear_function():
    rng = np.random.default_rng(0)
    M, D, P = 6, 10, 7
    v = rng.normal(size=D)
    v /= np.linalg.norm(v)
    c, s = rng.uniform(0.5, 2.0, M), rng.choice([-1.0, 1.0], M)
    W, a = (s * c)[:, None] * v, rng.normal(size=(M, P))
    Wm, am, merged = cl.merge_kernels(W, a)
    assert merged.all() and Wm.shape == (1, D) and am.shape == (1, P)
    X = rng.normal(size=(D, 5))  # patches: the linear network sum_k a_k (w_k . x)
    np.testing.assert_allclose(am.T @ (Wm @ X), a.T @ (W @ X), rtol=1e-12)
    np.testing.assert_allclose(Wm[0], c.mean() * v * np.sign(v @ Wm[0]))
    # equal amplitudes: "the same input weight, the summed output weight"
    Wm, am, _ = cl.merge_kernels(np.tile(v, (3, 1)), a[:3])
    np.testing.assert_allclose(am[0], a[:3].sum(axis=0))
    with pytest.raises(ValueError, match="kernels"):
        cl.merge_kernels(W, a[:2])
    with pytest.raises(ValueError, match="threshold"):
        cl.merge_kernels(W, a, threshold=1.0)


def test_merge_check_on_a_condensed_and_a_random_layer(data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = cl.theory_config(M=5, eps=1e-4, n=12, crop=6, epochs=1)
    x, _ = config.data()
    model = cl.CNN.from_config(config, tuple(x.shape[1:]))
    params = {k: p.detach().numpy().copy() for k, p in model.named_parameters()}
    rng = np.random.default_rng(1)
    line = rng.normal(size=params["convs.0.weight"][0].size + 1)
    amp = 1e-4 * rng.uniform(0.5, 2, 5) * rng.choice([-1, 1], 5)
    on_line = dict(params)
    on_line["convs.0.weight"] = (amp[:, None] * line[:-1]).reshape(params["convs.0.weight"].shape).astype(np.float32)
    on_line["convs.0.bias"] = (amp * line[-1]).astype(np.float32)
    snaps = {k: np.stack([params[k], on_line[k]]) for k in params}
    result = TrainResult(np.ones(2), np.zeros(2), np.array([0, 1]), snaps)
    check = cl.merge_check(result, config)
    assert check.kernels.tolist() == [1, 1]
    assert check.error[1] < 1e-4 < 0.1 < check.error[0]  # on one line: one neuron (tanh near 0); random: not
    assert check.at(1)["error"] == check.error[1]
