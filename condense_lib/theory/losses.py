"""The losses R_S of the paper's experiments, their derivative with respect to the outputs,
and the accuracy (eq. 1; Sec. 4.1, App. A.1).

- ``"mse"``: R_S = 1/(2n) sum_i ||f(x_i) - y_i||^2 (eq. 1);
- ``"mse_softmax"``: the same on softmax(f), with one-hot y (Fig. 5);
- ``"ce"``: cross-entropy with softmax, y the class indices (Figs. 2-4).

Used by the trainer (``train``, ``two_layer``) and the linearization check.
"""
from __future__ import annotations

import torch

__all__ = ["LOSSES", "loss_fn", "output_gradient", "accuracy"]

LOSSES = ("mse", "mse_softmax", "ce")


def loss_fn(out: torch.Tensor, y: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """The empirical risk R_S of eq. 1 (or its variants named above)."""
    n = out.shape[0]
    if loss == "mse":
        return 0.5 * (out - y).square().sum() / n
    if loss == "mse_softmax":
        return 0.5 * (torch.softmax(out, dim=1) - y).square().sum() / n
    if loss == "ce":
        return torch.nn.functional.cross_entropy(out, y)
    raise ValueError(f"unknown loss {loss!r}: choose one of {LOSSES}")


def output_gradient(out: torch.Tensor, y: torch.Tensor, loss: str, *, n: int) -> torch.Tensor:
    """dR_S / df(x_i) for a chunk of samples: e_i / n of eq. 23 (the derivative of ``loss_fn``).

    ``out`` (S, b, d); ``y`` (S or 1, b, d) for "mse" and "mse_softmax", (S or 1, b) class
    indices for "ce"; ``n`` the number of samples R_S averages over. Returns (S, b, d).
    """
    if loss == "mse":
        return (out - y) / n
    p = torch.softmax(out, dim=-1)
    if loss == "ce":
        return (p - torch.nn.functional.one_hot(y, out.shape[-1]).to(p.dtype)) / n
    g = p - y  # mse_softmax: the softmax Jacobian diag(p) - p p^T applied to p - y
    return p * (g - (g * p).sum(-1, keepdim=True)) / n


@torch.no_grad()
def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of correct predictions, as a 0-dim tensor (no host sync).

    d > 1 outputs: argmax of f against the class (y indices or one-hot).
    d = 1 output regressing the label: f rounded to the nearest class.
    """
    if out.dim() == 2:
        label = y.argmax(1) if y.dim() == 2 else y
        return (out.argmax(1) == label).float().mean()
    return (out.round().clamp(0, 9) == y).float().mean()
