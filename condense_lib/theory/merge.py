"""Fig. 1 of the paper: a condensed layer is a smaller network. Kernels that lie on one line
can be replaced by one effective kernel with the summed readout.

For an odd activation (tanh), kernel k with theta_{W,k} = s_k c_k v (a sign s_k, an amplitude
c_k > 0, a unit direction v) contributes a_k sigma(s_k c_k v . x) = s_k a_k sigma(c_k v . x). Where
sigma is linear (the initial stage, eq. 30) every such kernel is one kernel c_bar v with readout
s_k a_k c_k / c_bar: the effective kernel of a direction has the group's mean amplitude and the
readouts summed, each weighted by its amplitude over the mean (with equal amplitudes, the plain
sum, "the same input weight, the summed output weight"). ``merge_kernels`` does this for the
kernels along the leading direction of the layer; what it leaves out is what the kernels have
off that line.

Maths only (numpy). Used by ``studies.merge`` and the chapter "Condensation in one picture".
"""
from __future__ import annotations

import numpy as np

from .checks import as_array
from .condensation import leading_direction

__all__ = ["merge_kernels"]


def merge_kernels(theta_W, theta_a, *, threshold: float = 0.0):
    """Replace the kernels along the leading direction v of ``theta_W`` by one effective kernel.

    Parameters
    ----------
    theta_W : (M, D) the kernels (weights and bias, ``theta_bar``'s rows); theta_a : (M, P) their
        readouts. threshold : the kernels with |cos(theta_{W,k}, v)| >= threshold are merged
        (0: all of them, the whole layer as one neuron); the others are kept as they are.

    Returns
    -------
    ``(theta_W, theta_a, merged)``: the merged layer's kernels (K, D) and readouts (K, P), the
    effective kernel first, then the kept ones; and the mask (M,) of the kernels merged.
    Exact for kernels exactly on the line where sigma is linear and odd (tanh near 0).

    >>> W = np.array([[2.0, 0.0], [-1.0, 0.0], [0.0, 1.0]]); a = np.array([[1.0], [3.0], [5.0]])
    >>> Wm, am, merged = merge_kernels(W, a, threshold=0.9)
    >>> Wm.tolist(), am.tolist(), merged.tolist()
    ([[1.5, 0.0], [0.0, 1.0]], [[-0.6666666666666667], [5.0]], [True, True, False])
    """
    theta_W, theta_a = as_array(theta_W, "theta_W", ndim=2), as_array(theta_a, "theta_a", ndim=2)
    if theta_W.shape[0] != theta_a.shape[0]:
        raise ValueError(f"theta_W has {theta_W.shape[0]} kernels but theta_a {theta_a.shape[0]}: pass one row each")
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold is a |cosine| in [0, 1), got {threshold!r}")
    v = leading_direction(theta_W)  # unit (D,)
    proj = theta_W @ v  # s_k c_k
    cos = np.abs(proj) / np.linalg.norm(theta_W, axis=1)
    merged = cos >= threshold
    c = np.abs(proj[merged])
    c_bar = c.mean()
    W_eff = c_bar * v
    a_eff = (np.sign(proj[merged]) * c / c_bar) @ theta_a[merged]  # (P,)
    return (np.vstack([W_eff, theta_W[~merged]]), np.vstack([a_eff, theta_a[~merged]]), merged)
