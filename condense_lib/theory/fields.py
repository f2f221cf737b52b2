"""The gradient-flow vector field of a two-layer CNN in the rescaled variables, next to the
terms of its Taylor expansion at zero weights (eqs. 27-34; multiplicity 2, eq. 30 one order
further).

With theta = eps theta_bar (eqs. 27-28), gradient flow (eq. 20) reads
d theta_bar / dt = -(1/eps) grad_theta R_S(eps theta_bar). ``vector_fields`` sets it beside
A theta_bar (eqs. 32-34), ``quadratic_fields`` beside the second-order term of x tanh x.

Maths: torch's autograd on a given model (any module with one conv layer ``convs``, a linear
readout ``head == "linear"`` and ``d == 1``, such as ``training.models.CNN``), nothing of the
trainer. Used in the chapters "Linearization" and "Multiplicity 2: x tanh x".
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .checks import check_xy
from .data_matrix import build_A, build_Z, theta_bar
from .losses import loss_fn
from .quadratic import build_Q, quadratic_field

__all__ = ["theta_per_kernel", "vector_fields", "quadratic_fields", "rescaled_field"]


def _check_two_layer(model) -> None:
    convs = getattr(model, "convs", None)
    if convs is None or len(convs) != 1 or getattr(model, "head", None) != "linear" or getattr(model, "d", None) != 1:
        raise ValueError(
            "the linear dynamics (eqs. 32-34) are for the two-layer CNN: "
            "use CNN(in_shape, (M,), m=m, activation=..., head='linear', d=1)"
        )


def theta_per_kernel(model) -> np.ndarray:
    """theta_beta = (theta_{W, beta}; theta_{a, beta}) of eq. 33 for every kernel beta, shape
    (M, C m^2 + 1 + H1 W1): ``theta_bar`` with eps = 1, the two parts side by side. Row beta
    pairs with A of eq. 34."""
    _check_two_layer(model)
    return np.concatenate(theta_bar(dict(model.named_parameters())), axis=2)[0]


def vector_fields(model, x, y, *, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The gradient-flow vector field of the rescaled parameters and its linearization.

    With theta = eps theta_bar (eqs. 27-28), gradient flow (eq. 20) reads
    d theta_bar / dt = -(1/eps) grad_theta R_S(eps theta_bar). Returns, per kernel beta,

    - ``field``: that vector field, from autograd on ``model`` (in float64), R_S of eq. 1;
    - ``linear``: A theta_bar_beta (eqs. 32-34), A built from ``x, y`` by ``build_A(build_Z)``.

    Parameters
    ----------
    model : a two-layer ``CNN`` (one conv layer, ``head="linear"``, ``d=1``), typically
        ``init="theory"`` with this ``eps``.
    x : (n, C, H, W) inputs; y : (n,) targets; eps : the scale of eq. 27.

    Returns
    -------
    ``(field, linear)``, each of shape (M, C m^2 + 1 + H1 W1), rows in the order of
    ``theta_per_kernel``. They agree up to O(eps) (O(eps^2) when sigma''(0) = 0).
    """
    x, y, field, theta = rescaled_field(model, x, y, eps=eps)
    linear = theta @ build_A(build_Z(x, y, model.m, padding=model.padding)).T  # rows A theta_bar_beta
    return field, linear


def rescaled_field(model, x, y, *, eps: float):
    """The checked inputs ``(x, y)``, d theta_bar / dt = -(1/eps) grad R_S(eps theta_bar) by autograd
    in float64, and theta_bar, both (M, D + P) in the order of ``theta_per_kernel``."""
    _check_two_layer(model)
    x, y = check_xy(x, y)
    if tuple(x.shape[1:]) != model.in_shape:
        raise ValueError(f"x has images of shape {x.shape[1:]} but the model takes {model.in_shape}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number (theta = eps theta_bar, eq. 27), got {eps!r}")
    net = copy.deepcopy(model).double()
    params = dict(net.named_parameters())
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    grads = torch.autograd.grad(loss_fn(net(xt), yt, "mse"), list(params.values()))
    field = -np.concatenate(theta_bar(dict(zip(params, grads)), eps), axis=2)[0]  # d theta_bar / dt
    theta = np.concatenate(theta_bar(params, eps), axis=2)[0]  # (M, D + P)
    return x, y, field, theta


def quadratic_fields(model, x, y, *, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The rescaled gradient-flow vector field of a two-layer CNN whose activation has
    multiplicity 2 (x tanh x), and its leading, second-order term.

    - ``field``: d theta_bar / dt = -(1/eps) grad R_S(eps theta_bar) (eqs. 27-28), by autograd;
    - ``quadratic``: eps times ``quadratic_field(build_Q(x, y, m), theta_bar_W, theta_bar_a)``,
      i.e. (eps B_k(theta_bar_a) theta_bar_k ; eps theta_bar_k^T Q_p theta_bar_k) per kernel.

    Same arguments and layout as ``vector_fields``: ``(field, quadratic)``, each (M, D + P). They
    agree up to a relative O(eps^2): the z^4 / 3 term of x tanh x and e_i = -y_i + O(eps^3).
    """
    x, y, field, theta = rescaled_field(model, x, y, eps=eps)
    Q = build_Q(x, y, model.m)
    D = Q.shape[1]
    quadratic = eps * np.concatenate(quadratic_field(Q, theta[:, :D], theta[:, D:]), axis=1)
    return field, quadratic
