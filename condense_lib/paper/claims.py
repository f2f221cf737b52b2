"""The paper's observation on each figure as numbers a run must show: the checks the figure
chapters assert, in one place, so that a chapter and a paper-scale test hold a run to the same
thresholds (``tests/test_paper_scale.py``).

``check_figure(name, result, scale)`` measures the run at initialization and at the figure's
shown epochs (aligned fraction and effective directions per layer, Sec. 4; the loss; for the
two-layer GD figures each kernel's cosine with the all-ones vector and its growth) and raises
``ClaimError`` listing every claim the numbers do not support.
The causal test of the layer order (``studies.layer_order`` at Fig. 11's setting) has its claims
here too (``LAYER_ORDER_CLAIMS``, ``check_layer_order``): the MNIST chapter and the paper-scale
test read the same table.
Used in the chapters "The paper's MNIST figures" and "The paper's CIFAR-10 figures".
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..theory.condensation import amplitudes, cosine_with_ones
from ..training.trainer import TrainResult
from ..training.trajectory import measure
from .figures import FIGURES

__all__ = ["ClaimError", "CLAIMS", "ONSET_LEVEL", "figure_numbers", "check_figure", "LAYER_ORDER_FACTORS",
           "LAYER_ORDER_CLAIMS", "layer_order_numbers", "check_layer_order"]


class ClaimError(AssertionError):
    """A run does not show what the paper observes on its figure; the message lists each claim."""


def _between(low, high):
    return lambda v: bool(np.all(low < np.asarray(v)) and np.all(np.asarray(v) < high))


_START = [("aligned fraction at initialization < 0.2", "a0", lambda v: bool(np.all(v < 0.2)))]
_LAZY_LOSS = [("the loss has moved less than 10% at the shown epoch", "loss_ratio", _between(0.9, 1.0 + 1e-12))]

# Fig. 10's loss. Sigmoid's falls from the start (sigma(0) = 1/2: the readout fits the mean label
# through the constant neurons) and by less than half by the shown epoch. With ReLU and tanh
# the kernels condense while the loss has moved less than 10%; at the paper's setting, tanh's
# shown epoch 200 lies past that stage (the loss has fallen 15% there, errata 22), so its
# claim reads the loss at the first recorded epoch at which the layer is condensed.
_ONSET_LOSS = [("condensed (aligned >= 0.85) at a recorded epoch where the loss has moved less than 10%",
                "onset_loss_ratio", _between(0.9, 1.0 + 1e-12))]
_FIG10_LOSS = {
    "sigmoid": [("the loss has fallen, by less than half", "loss_ratio", _between(0.5, 1.0))],
    "relu": [("the loss has fallen, by less than 10%", "loss_ratio", _between(0.9, 1.0))] + _ONSET_LOSS,
    "tanh": [("the loss has fallen", "loss_ratio", _between(0.0, 1.0))] + _ONSET_LOSS,
}



def _two_layer(aligned: float, directions: float, cos1: float, kernel: str = "kernel") -> list:
    """The two-layer GD figures' claims (Figs. 6, 12, 13): one line at the shown epoch, along 1."""
    return _START + [
        (f"aligned fraction >= {aligned} at the shown epoch", "a1", lambda v: bool(np.all(v >= aligned))),
        (f"effective directions < {directions}", "d1", lambda v: bool(np.all(v < directions))),
        (f"median |cosine of a {kernel} with 1| > {cos1}", "cos1", lambda v: v > cos1),
    ]


# Per figure: (claim, the number it reads, the test). The chapters assert the same.
CLAIMS = {
    **{f"fig10_{a}": _START + [
        ("effective directions at initialization > 5", "d0", lambda v: bool(np.all(v > 5))),
        ("aligned fraction >= 0.85 at the shown epoch", "a1", lambda v: bool(np.all(v >= 0.85))),
        ("effective directions < 1.3 at the shown epoch", "d1", lambda v: bool(np.all(v < 1.3))),
    ] + _FIG10_LOSS[a] for a in ("sigmoid", "relu", "tanh")},
    "fig11": _START + [
        ("effective directions at initialization > 10", "d0", lambda v: bool(np.all(v > 10))),
        ("every layer aligned >= 0.9 at the shown epoch", "a1", lambda v: bool(np.all(v >= 0.9))),
        ("every layer below 1.3 effective directions", "d1", lambda v: bool(np.all(v < 1.3))),
        ("the loss is within 10% of its start", "loss_ratio", lambda v: v > 0.9),
    ],
    "fig12": _two_layer(0.8, 1.5, 0.9),
    "fig13": _two_layer(0.9, 1.2, 0.9),
    "fig6": _two_layer(0.8, 1.5, 0.95, kernel="colour kernel") + [
        ("median amplitude grown > 100 times", "growth", lambda v: v > 100),
        ("the loss has moved less than 1%", "loss_ratio", _between(0.99, 1.0)),
    ],
    **{f"fig4_{a}": _START + [
        ("effective directions at initialization > 10", "d0", lambda v: bool(np.all(v > 10))),
        ("aligned fraction >= 0.9 at the shown epoch", "a1", lambda v: bool(np.all(v >= 0.9))),
        ("effective directions < 1.2", "d1", lambda v: bool(np.all(v < 1.2))),
    ] + _LAZY_LOSS for a in ("relu", "sigmoid", "tanh")},
    "fig5": _START + [
        ("effective directions at initialization > 10", "d0", lambda v: bool(np.all(v > 10))),
        ("every layer aligned >= 0.9 at the shown epochs", "a1", lambda v: bool(np.all(v >= 0.9))),
        ("every layer below 1.4 effective directions", "d1", lambda v: bool(np.all(v < 1.4))),
        ("the loss has fallen", "loss_ratio", lambda v: v < 1.0),
    ],
    "fig9": _START + [
        ("effective directions at initialization > 10", "d0", lambda v: bool(np.all(v > 10))),
        ("every layer aligned >= 0.95 at the shown epoch", "a1", lambda v: bool(np.all(v >= 0.95))),
        ("every layer below 1.1 effective directions", "d1", lambda v: bool(np.all(v < 1.1))),
        ("the loss has moved less than 5%", "loss_ratio", _between(0.95, 1.0)),
    ],
}
# The two-layer GD figures, whose panel (b) compares each kernel with 1.
_TWO_LAYER = ("fig6", "fig12", "fig13")
# The aligned fraction at which a layer counts as condensed for ``onset`` (Fig. 10's claims).
ONSET_LEVEL = 0.85


def figure_numbers(name: str, result: TrainResult, scale: Optional[str] = None) -> dict:
    """The numbers the claims on figure ``name`` read, from its run ``result`` at ``scale``:
    ``a0``, ``d0`` (aligned fraction and effective directions per layer at initialization, (L,)),
    ``a1``, ``d1`` (the same at the figure's shown epochs), ``loss_ratio`` (the loss at the first
    shown epoch over its start), ``onset`` (the first recorded epoch at which every layer's aligned
    fraction has reached ``ONSET_LEVEL``; -1 if never) and ``onset_loss_ratio`` (the loss there over
    its start; nan if never) and, for Figs. 6, 12, 13, ``cos1`` (the median |cosine| of a
    kernel with 1, one colour of a filter per kernel) and ``growth`` (median amplitude ratio)."""
    figure = FIGURES[name]
    shown = figure.shown(scale)
    measures = measure(result)
    a0, d0 = measures.at(0)
    a1, d1 = measures.at(shown)
    numbers = dict(a0=a0, d0=d0, a1=a1, d1=d1, loss_ratio=float(result.loss[shown[0]] / result.loss[0]))
    onsets = measures.onsets(ONSET_LEVEL)
    numbers["onset"] = int(onsets.max()) if (onsets >= 0).all() else -1
    numbers["onset_loss_ratio"] = (float(result.loss[numbers["onset"]] / result.loss[0]) if numbers["onset"] >= 0
                                   else float("nan"))
    if name in _TWO_LAYER:
        numbers["cos1"] = float(np.median(np.abs(cosine_with_ones(result.kernels(shown[0], per="kernel")))))
        numbers["growth"] = float(np.median(amplitudes(result.kernels(shown[0])) / amplitudes(result.kernels(0))))
    return numbers


def check_figure(name: str, result: TrainResult, scale: Optional[str] = None) -> dict:
    """``figure_numbers(name, result, scale)``, after checking each of ``CLAIMS[name]``; raises
    ``ClaimError`` naming every claim that fails, with its number."""
    if name not in CLAIMS:
        raise KeyError(f"no claims written for {name!r}: choose one of {sorted(CLAIMS)}")
    numbers = figure_numbers(name, result, scale)
    failed = [f"{claim}: {key} = {np.round(numbers[key], 3)}" for claim, key, test in CLAIMS[name]
              if not test(numbers[key])]
    if failed:
        raise ClaimError(f"{name}: the run does not show " + "; ".join(failed))
    return numbers


# The causal test of the layer order (Fig. 11's setting, ``studies.layer_order``): one run per
# row, its conv layers' initial weights multiplied by the row; the first row is the figure's own.
LAYER_ORDER_FACTORS = ((1, 1, 1), (1, 10, 10), (1, 0.1, 0.1), (10, 1, 1))
# (claim, test on the numbers of ``layer_order_numbers``). The thresholds: a gradient "changes a
# hundredfold" when the two layers above are scaled by 10 each (eqs. 20-23: the gradient of layer 1
# holds the product of the weights above it), read as > 50x; an onset "barely moves" within 15%;
# "moves" beyond 1.5x or out of the run.
LAYER_ORDER_CLAIMS = [
    ("scaling layers 2-3 by 10 (0.1) multiplies layer 1's gradient by more than 50 (less than 1/50)",
     lambda n: n["g1_up"] > 50 * n["g1"] and n["g1_down"] < n["g1"] / 50),
    ("layer 1's onset moves by at most 15% when its gradient changes a hundredfold",
     lambda n: abs(n["up1"] - n["on1"]) <= 0.15 * n["on1"] and abs(n["down1"] - n["on1"]) <= 0.15 * n["on1"]),
    ("layer 1's own weights x 10 move its onset past 1.5 times, or out of the run",
     lambda n: n["own1"] < 0 or n["own1"] > 1.5 * n["on1"]),
    ("layer 3's onset moves with the scale of layers 2-3 (earlier when smaller, later when larger)",
     lambda n: n["down3"] < n["on3"] < n["up3"] or n["up3"] < 0),
]


def layer_order_numbers(order) -> dict:
    """The numbers ``LAYER_ORDER_CLAIMS`` read from a ``studies.LayerOrder`` over the rows of
    ``LAYER_ORDER_FACTORS``: layer 1's gradient ``g1`` (own run), ``g1_up`` (layers 2-3 x 10),
    ``g1_down`` (x 0.1); onsets of layer 1 ``on1``, ``up1``, ``down1``, ``own1`` (its own weights x 10)
    and of layer 3 ``on3``, ``up3``, ``down3`` (-1: not within the run)."""
    if [tuple(float(f) for f in row) for row in order.factors] != [tuple(map(float, r)) for r in LAYER_ORDER_FACTORS]:
        raise ValueError(f"the claims read a layer_order run over LAYER_ORDER_FACTORS = {LAYER_ORDER_FACTORS}, "
                         f"got factors {order.factors.tolist()}")
    (g1, _, _), (g1_up, _, _), (g1_down, _, _), _ = order.gradients
    (on1, _, on3), (up1, _, up3), (down1, _, down3), (own1, _, _) = order.onsets
    return dict(g1=float(g1), g1_up=float(g1_up), g1_down=float(g1_down), on1=int(on1), up1=int(up1),
                down1=int(down1), own1=int(own1), on3=int(on3), up3=int(up3), down3=int(down3))


def check_layer_order(order) -> dict:
    """``layer_order_numbers(order)`` after checking each of ``LAYER_ORDER_CLAIMS``; raises
    ``ClaimError`` naming every claim that fails, with the numbers."""
    numbers = layer_order_numbers(order)
    failed = [claim for claim, test in LAYER_ORDER_CLAIMS if not test(numbers)]
    if failed:
        raise ClaimError("the layer-order test does not show: " + "; ".join(failed) + f" (numbers: {numbers})")
    return numbers
