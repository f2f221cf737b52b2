"""Activation functions sigma and their multiplicity (Definition 1, Sec. 5).

An activation has multiplicity r when sigma^(s)(0) = 0 for s < r and
sigma^(r)(0) != 0. The theory (Assumption 1, eqs. 6-7) needs r = 1 with
sigma(0) = 0 and sigma'(0) = 1; Remark 2 rescales sigma by 1 / sigma'(0).
Used in: "Condensation in one picture" and the linearization chapter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

__all__ = ["Activation", "ACTIVATIONS", "get_activation", "multiplicity", "derivatives_at_zero"]


@dataclass(frozen=True)
class Activation:
    """A named activation sigma with its multiplicity r (Definition 1).

    ``multiplicity`` is ``None`` where Definition 1 does not apply:
    ReLU has no derivative at 0, and sigmoid has sigma(0) = 1/2 != 0.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    multiplicity: Optional[int]
    formula: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _silu_scaled(x):
    # Remark 4: SiLU has sigma'(0) = 1/2, so 2 x / (1 + exp(-x)) has sigma'(0) = 1.
    return 2.0 * torch.nn.functional.silu(x)


def _xtanh(x):
    # Remark 1: x tanh(x) has sigma(0) = sigma'(0) = 0, sigma''(0) = 2: multiplicity 2.
    return x * torch.tanh(x)


ACTIVATIONS = {
    a.name: a
    for a in [
        Activation("tanh", torch.tanh, 1, "tanh(x)"),
        Activation("relu", torch.relu, None, "max(0, x)"),
        Activation("sigmoid", torch.sigmoid, None, "1 / (1 + exp(-x))"),
        Activation("silu", _silu_scaled, 1, "2x / (1 + exp(-x))"),
        Activation("xtanh", _xtanh, 2, "x tanh(x)"),
        Activation("linear", lambda x: x, 1, "x"),
    ]
}


def get_activation(name: str | Activation) -> Activation:
    """Return the activation called ``name`` (one of ``ACTIVATIONS``)."""
    if isinstance(name, Activation):
        return name
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[key]


def multiplicity(sigma: str | Activation, max_order: int = 4, tol: float = 1e-9) -> Optional[int]:
    """Compute the multiplicity r of Definition 1 with autograd at x = 0.

    Returns the first order r >= 1 with |sigma^(r)(0)| > tol, provided
    sigma^(s)(0) = 0 for all s < r (including s = 0), else ``None``.

    >>> multiplicity("tanh"), multiplicity("xtanh"), multiplicity("sigmoid")
    (1, 2, None)
    """
    act = get_activation(sigma)
    x = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value = act(x)
    if abs(value.item()) > tol:
        return None  # sigma(0) != 0: Definition 1 does not apply
    for order in range(1, max_order + 1):
        (value,) = torch.autograd.grad(value, x, create_graph=True)
        if abs(value.item()) > tol:
            return order
    return None


def derivatives_at_zero(sigma, order: int = 3) -> np.ndarray:
    """sigma^(s)(0) for s = 0..order, by autograd (the Taylor coefficients times s!).

    The first nonzero one gives the multiplicity (Definition 1); sigma''(0) sets the
    size of the first correction to the linear dynamics (eq. 30): O(eps) when
    sigma''(0) != 0, O(eps^2) when sigma''(0) = 0 (tanh).

    >>> np.allclose(derivatives_at_zero("tanh"), [0, 1, 0, -2])  # tanh = x - x^3 / 3 + ...
    True
    """
    act = get_activation(sigma)
    if not (isinstance(order, (int, np.integer)) and order >= 0):
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value, out = act(t), []
    for _ in range(order + 1):
        out.append(value.item())
        if not value.requires_grad:  # a polynomial's higher derivatives are zero
            value = torch.zeros((), dtype=torch.float64)
            continue
        (value,) = torch.autograd.grad(value, t, create_graph=True)
    return np.asarray(out)
