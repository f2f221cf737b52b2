"""condense_lib.condensation against loops written from the definitions (eq. 5) and on
vectors whose condensation is known."""
import numpy as np
import pytest

from condense_lib import (
    aligned_fraction,
    amplitudes,
    cluster_order,
    cosine_matrix,
    cosine_with_ones,
    effective_directions,
    kernel_vectors,
    leading_direction,
)


def test_kernel_vectors_follow_the_papers_order():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 3, 2, 2)), rng.normal(size=4)
    K = kernel_vectors(W, b, per="kernel", bias=True)
    assert K.shape == (12, 5)
    for beta in range(4):
        for alpha in range(3):
            # W_{p,q,alpha,beta} flattened p-major, then b_beta
            assert np.array_equal(K[beta * 3 + alpha], np.r_[W[beta, alpha].ravel(), b[beta]])
    F = kernel_vectors(W, b, per="filter", bias=True)
    assert F.shape == (4, 13) and np.array_equal(F[2], np.r_[W[2].ravel(), b[2]])
    assert kernel_vectors(W, per="kernel").shape == (12, 4) and kernel_vectors(W).shape == (4, 12)


def test_cosine_matrix_equals_a_naive_loop():
    rng = np.random.default_rng(1)
    V = rng.normal(size=(7, 9))
    D = np.empty((7, 7))
    for i in range(7):
        for j in range(7):
            D[i, j] = V[i] @ V[j] / (np.sqrt(V[i] @ V[i]) * np.sqrt(V[j] @ V[j]))  # eq. 5
    np.testing.assert_allclose(cosine_matrix(V), D, rtol=1e-12)


def test_amplitude_and_cosine_with_ones_loops():
    rng = np.random.default_rng(2)
    V = rng.normal(size=(5, 9))
    for k in range(5):
        assert amplitudes(V)[k] == pytest.approx(np.sqrt(sum(t * t for t in V[k])))
        assert cosine_with_ones(V)[k] == pytest.approx(V[k].sum() / (np.linalg.norm(V[k]) * 3.0))
    assert cosine_with_ones(np.ones((2, 9)) * [[1], [-2]]).tolist() == pytest.approx([1.0, -1.0])


def test_measures_on_condensed_and_random_vectors():
    rng = np.random.default_rng(3)
    v = rng.normal(size=9)
    signs = rng.choice([-1.0, 1.0], size=32)
    line = signs[:, None] * rng.uniform(0.5, 2, size=(32, 1)) * v
    assert aligned_fraction(line) == 1.0
    assert effective_directions(line) == pytest.approx(1.0)
    assert abs(leading_direction(line) @ v / np.linalg.norm(v)) == pytest.approx(1.0)
    # two lines at right angles, 16 kernels each: two effective directions
    w = rng.normal(size=9)
    w -= (w @ v) / (v @ v) * v
    two = np.r_[line[:16], signs[16:, None] * w]
    assert effective_directions(two) == pytest.approx(2.0)
    # random Gaussian kernels are far from condensed
    noise = rng.normal(size=(32, 9))
    assert aligned_fraction(noise) < 0.2 and effective_directions(noise) > 5


def test_cluster_order_groups_directions():
    rng = np.random.default_rng(4)
    v = rng.normal(size=9)
    V = np.r_[v[None] * np.ones((4, 1)), -v[None] * np.ones((4, 1))] + 0.01 * rng.normal(size=(8, 9))
    order = cluster_order(cosine_matrix(V[[0, 4, 1, 5, 2, 6, 3, 7]]))
    assert sorted(order) == list(range(8))
    groups = [i % 2 for i in order]  # even positions came from +v
    assert groups in ([0] * 4 + [1] * 4, [1] * 4 + [0] * 4)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(C_out, C_in, m, m\)"):
        kernel_vectors(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="norm zero"):
        cosine_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="bias=True needs"):
        kernel_vectors(np.ones((2, 1, 3, 3)), bias=True)
