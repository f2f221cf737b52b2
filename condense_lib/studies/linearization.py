"""The linearization check (eqs. 27-34): the real gradient-flow vector field of a two-layer CNN
against its linear part A theta_bar over a range of eps, and for multiplicity 2 (x tanh x)
against its second-order term. Used in the chapters "Linearization" and "Multiplicity 2".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..theory.activations import get_activation
from ..theory.checks import check_xy
from ..theory.fields import quadratic_fields, vector_fields
from ..training.models import CNN

__all__ = ["LinearizationCheck", "linearization_check", "quadratic_check"]


@dataclass(frozen=True, eq=False)
class LinearizationCheck:
    """The real vector field against A theta_bar over a range of eps (see ``linearization_check``).

    ``eps`` (k,); ``error`` (k,): ||field - A theta_bar|| / ||A theta_bar|| over all kernels;
    ``ratio`` (k,): ||field|| / ||A theta_bar||.
    """

    activation: str
    eps: np.ndarray
    error: np.ndarray
    ratio: np.ndarray

    def slope(self, of: str = "error", eps_max: float = np.inf) -> float:
        """The least-squares slope of log(``of``) against log(eps) over eps <= ``eps_max``:
        the order in eps of ``of`` ("error" or "ratio")."""
        if of not in ("error", "ratio"):
            raise ValueError(f"of must be 'error' or 'ratio', got {of!r}")
        keep = self.eps <= eps_max
        if keep.sum() < 2:
            raise ValueError(f"fewer than two eps values are <= eps_max = {eps_max}: raise eps_max")
        return float(np.polyfit(np.log(self.eps[keep]), np.log(getattr(self, of)[keep]), 1)[0])


def linearization_check(x, y, eps, *, M: int = 8, m: int = 3, activation: str = "tanh", seed: int = 0) -> LinearizationCheck:
    """Compare the gradient-flow vector field of a two-layer CNN with A theta_bar (eqs. 30-34)
    for each eps in ``eps``: the network of ``M`` kernels ``CNN(in_shape, (M,), m=m, activation=activation,
    head="linear", init="theory", eps=eps, seed=seed)`` (the same theta_bar up to float32 rounding for every eps)."""
    return _field_check(vector_fields, x, y, eps, M=M, m=m, activation=activation, seed=seed)


def _field_check(fields, x, y, eps, *, M: int, m: int, activation: str, seed: int) -> LinearizationCheck:
    """For each eps, ``fields(model, x, y, eps)`` = (the real rescaled field, its Taylor term) on the
    two-layer CNN of that eps: ||field - term|| / ||term|| and ||field|| / ||term||."""
    x, y = check_xy(x, y)
    eps = np.asarray(eps, dtype=np.float64).ravel()
    error, ratio = [], []
    for e in eps:
        model = CNN(x.shape[1:], (M,), m=m, activation=activation, head="linear", d=1, init="theory",
                    eps=float(e), seed=seed)
        field, term = fields(model, x, y, eps=float(e))
        error.append(np.linalg.norm(field - term) / np.linalg.norm(term))
        ratio.append(np.linalg.norm(field) / np.linalg.norm(term))
    return LinearizationCheck(get_activation(activation).name, eps, np.asarray(error), np.asarray(ratio))


def quadratic_check(x, y, eps, *, M: int = 8, m: int = 3, activation: str = "xtanh",
                    seed: int = 0) -> LinearizationCheck:
    """``linearization_check`` for multiplicity 2: for each eps, the real rescaled vector field
    against its second-order term (``quadratic_fields``) on ``CNN(in_shape, (M,), m=m,
    activation=activation, head="linear", init="theory", eps=eps, seed=seed)``. ``error`` is
    ||field - quadratic|| / ||quadratic|| and ``ratio`` ||field|| / ||quadratic|| over all kernels."""
    if get_activation(activation).multiplicity != 2:
        raise ValueError(f"activation {activation!r} does not have multiplicity 2: use linearization_check")
    return _field_check(quadratic_fields, x, y, eps, M=M, m=m, activation=activation, seed=seed)
