"""check_figure against the numbers computed by hand on synthetic runs: a condensed run passes
with the numbers of trajectory.measure, a random one fails naming the claims it misses."""
import numpy as np
import pytest

import condense_lib as cl


def _run(condensed: bool, loss_end: float = 0.999, seed: int = 0):
    """A fake fig12 run (one layer of 32 kernels 1 x 3 x 3) recorded at 0 and the fast shown epoch."""
    rng = np.random.default_rng(seed)
    end = cl.FIGURES["fig12"].shown("fast")[0]
    W0 = 1e-5 * rng.normal(size=(32, 1, 3, 3))
    line = np.ones((1, 3, 3)) + 0.01 * rng.normal(size=(32, 1, 3, 3))
    W1 = (rng.choice([-1.0, 1.0], size=(32, 1, 1, 1)) * line * 1e-3) if condensed else 1e-3 * rng.normal(size=W0.shape)
    snapshots = {"convs.0.weight": np.stack([W0, W1]), "convs.0.bias": np.zeros((2, 32)),
                 "readout.weight": np.zeros((2, 1, 32 * 26 * 26))}
    loss = np.linspace(1.0, loss_end, end + 1)
    return cl.TrainResult(loss, np.zeros(end + 1), np.array([0, end]), snapshots)


def test_a_condensed_run_passes_with_the_measured_numbers():
    result = _run(True)
    numbers = cl.check_figure("fig12", result, "fast")
    a1, d1 = cl.measure(result).at(cl.FIGURES["fig12"].shown("fast"))
    np.testing.assert_array_equal(numbers["a1"], a1)
    np.testing.assert_array_equal(numbers["d1"], d1)
    assert numbers["cos1"] > 0.99 and numbers["growth"] > 50 and numbers["loss_ratio"] == pytest.approx(0.999)


def test_a_random_run_fails_naming_each_claim():
    with pytest.raises(cl.ClaimError, match=r"fig12: .*aligned >= 0.8 at the shown epoch.*a1 = .*median \|cosine"):
        cl.check_figure("fig12", _run(False), "fast")
    with pytest.raises(KeyError, match="no claims written for 'fig2'"):
        cl.check_figure("fig2", _run(True), "fast")
    # a run already on one line when it starts is not the paper's random initialization
    started = _run(True)
    started.snapshots["convs.0.weight"][0] = started.snapshots["convs.0.weight"][1] * 1e-2
    with pytest.raises(cl.ClaimError, match="no layer on one line at initialization"):
        cl.check_figure("fig12", started, "fast")
    assert isinstance(cl.ClaimError("x"), AssertionError)  # a failed claim stops a chapter like an assert


def test_the_onset_is_the_first_recorded_epoch_at_which_the_layer_is_condensed():
    """onset and onset_loss_ratio of a fake fig10_tanh run (32 kernels 1 x 5 x 5), recorded at
    0 and 5 (random), 10 and 40 (condensed), against a loop over the recorded epochs."""
    rng = np.random.default_rng(3)
    line = lambda: rng.choice([-1.0, 1.0], size=(32, 1, 1, 1)) * (np.ones((1, 5, 5)) + 0.01 * rng.normal(size=(32, 1, 5, 5)))
    W = np.stack([1e-5 * rng.normal(size=(32, 1, 5, 5)), 1e-4 * rng.normal(size=(32, 1, 5, 5)), 1e-3 * line(), 1e-2 * line()])
    epochs = [0, 5, 10, 40]
    snapshots = {"convs.0.weight": W, "convs.0.bias": np.zeros((4, 32)), "readout.weight": np.zeros((4, 1, 32 * 24 * 24))}
    loss = np.linspace(1.0, 0.8, 41)
    numbers = cl.figure_numbers("fig10_tanh", cl.TrainResult(loss, np.zeros(41), np.array(epochs), snapshots), "fast")
    first = next(e for e, V in zip(epochs, W) if cl.aligned_fraction(cl.kernel_vectors(V, per="filter")) >= cl.ONSET_LEVEL)
    assert cl.ONSET_LEVEL == cl.ONE_LINE_ALIGNED and first == 10 and numbers["onset"] == first
    assert numbers["onset_loss_ratio"] == pytest.approx(1 - 0.2 * 10 / 40) and numbers["loss_ratio"] == pytest.approx(0.8)
    # the claim reads the onset's loss: 0.95 passes though the shown epoch's loss has fallen 20%
    failed = [claim for claim, key, test in cl.CLAIMS["fig10_tanh"] if not test(numbers[key])]
    assert failed == []


def test_layer_order_claims_read_the_rows_of_the_table():
    factors = np.array(cl.LAYER_ORDER_FACTORS, dtype=float)
    # rows: own, layer 2 x 10, layer 3 x 10, layer 1 x 10, layer 1 at the scale of layers 2-3
    gradients = np.array([[1e-11, 1, 1], [1e-10, 1, 1], [1e-10, 1, 1], [1e-11, 1, 1], [1e-11, 1, 1]])
    onsets = np.array([[17, 13, 7], [17, -1, 7], [16, 13, 20], [-1, 13, 7], [13, 14, 7]])
    order = cl.LayerOrder(factors, gradients, onsets, np.arange(30), 0.9)
    numbers = cl.check_layer_order(order)
    assert numbers["on1"] == 17 and numbers["l3_3"] == 20 and numbers["own1"] == -1 and numbers["eq1"] == 13
    assert cl.SIGMA_RATIO_FIG11 == pytest.approx(
        cl.sigma_1(1, 32, 5, gamma=2) / cl.sigma_1(32, 32, 5, gamma=2))   # the row's factor is that ratio
    moved = cl.LayerOrder(factors, gradients, onsets * np.array([[1, 1, 1], [2, 1, 1], [1, 1, 1], [1, 1, 1], [1, 1, 1]]),
                          np.arange(30), 0.9)
    with pytest.raises(cl.ClaimError, match="moves layer 1's onset less than its initial scale does"):
        cl.check_layer_order(moved)
    later = cl.LayerOrder(factors, gradients, np.where(np.arange(5)[:, None] == 4, [18, 14, 7], onsets), np.arange(30), 0.9)
    with pytest.raises(cl.ClaimError, match="initial scale of layers 2-3"):
        cl.check_layer_order(later)
    with pytest.raises(ValueError, match="LAYER_ORDER_FACTORS"):
        cl.layer_order_numbers(cl.LayerOrder(factors[:2], gradients[:2], onsets[:2], np.arange(30), 0.9))
