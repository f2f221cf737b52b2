"""condense_lib.trajectory: the measures along a run (against a loop written from
eq. 5 and the SVD) and the cosine frames of the scrubbers."""
import numpy as np
import pytest

import condense_lib as cl


def _loop_measures(W):
    """aligned fraction and participation ratio of the rows of W, from the definitions."""
    rows = [w / np.sqrt(sum(v * v for v in w)) for w in W]
    M = np.array(rows)
    s = np.linalg.svd(M, compute_uv=False)
    v = np.linalg.svd(M)[2][0]
    aligned = np.mean([abs(float(np.dot(u, v))) > 0.9 for u in rows])
    return aligned, (s ** 2).sum() ** 2 / (s ** 4).sum()


@pytest.mark.parametrize("per", ["kernel", "filter"])
def test_measure_matches_a_loop(small_run, per):
    got = cl.measure(small_run, per=per)
    assert got.aligned.shape == got.directions.shape == (3, 2)
    for s, e in enumerate(small_run.epochs):
        for layer in range(2):
            W = small_run.snapshots[f"convs.{layer}.weight"][s]  # (C_out, C_in, m, m)
            rows = W.reshape(W.shape[0] * W.shape[1], -1) if per == "kernel" else W.reshape(W.shape[0], -1)
            aligned, directions = _loop_measures(rows)
            assert got.aligned[s, layer] == pytest.approx(aligned)
            assert got.directions[s, layer] == pytest.approx(directions)
    a, d = got.at((6, 3))  # one epoch per layer
    assert a.tolist() == [got.aligned[2, 0], got.aligned[1, 1]] and d[1] == got.directions[1, 1]
    assert "layer 2" in got.table() and len(got.table().splitlines()) == 4
    with pytest.raises(ValueError, match="epoch 5 was not recorded"):
        got.at(5)
    with pytest.raises(ValueError, match="one per conv layer"):
        got.at((0, 3, 6))


def test_cosine_frames_keep_one_order_and_equal_eq5(small_run):
    frames = cl.cosine_frames(small_run, per="kernel", order_at=(3, 6))
    assert frames.layers == (0, 1) and frames.ordered_at == (3, 6)
    for j, layer in enumerate(frames.layers):
        order = frames.order[j]
        assert sorted(order.tolist()) == list(range(frames.cos[j].shape[1]))
        for s, e in enumerate(small_run.epochs):
            W = small_run.snapshots[f"convs.{layer}.weight"][s]
            V = W.reshape(-1, 9)[order]
            loop = np.array([[u @ v / np.sqrt((u @ u) * (v @ v)) for v in V] for u in V])  # eq. 5
            np.testing.assert_allclose(frames.at(int(e), layer), loop, atol=1e-6)
    only = cl.cosine_frames(small_run, layers=[1])
    assert only.layers == (1,) and only.cos[0].shape == (3, 5, 5)
    with pytest.raises(ValueError, match="was not drawn"):
        only.at(0, 0)
    with pytest.raises(ValueError, match="no conv layer 2"):
        cl.cosine_frames(small_run, layers=[2])
    with pytest.raises(ValueError, match="epoch 4 was not recorded"):
        cl.cosine_frames(small_run, order_at=4)
    with pytest.raises(ValueError, match="unknown per"):
        cl.measure(small_run, per="channel")
    with pytest.raises(TypeError, match="TrainResult"):
        cl.measure({"loss": 1})


def test_onsets_are_the_first_epoch_at_the_level_as_a_loop():
    aligned = np.array([[0.0, 0.1, 0.0], [0.5, 0.95, 0.0], [0.92, 0.9, 0.3], [1.0, 1.0, 0.89]])
    m = cl.Measures(np.array([0, 5, 10, 20]), aligned, np.ones_like(aligned), "filter")
    loop = []
    for layer in range(3):
        hits = [e for e, a in zip(m.epochs, aligned[:, layer]) if a >= 0.9]
        loop.append(hits[0] if hits else -1)
    assert m.onsets(0.9).tolist() == loop == [10, 5, -1]
    assert m.onsets(0.3).tolist() == [5, 5, 10]
