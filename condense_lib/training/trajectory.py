"""Condensation along a training run: the measures of every conv layer at every
recorded epoch, and the cosine matrices (eq. 5) the heatmaps and their
animations draw.

A run (``TrainResult``) keeps its parameters at a few epochs (its snapshots).
``measure`` turns them into the book's two scalar measures per layer and epoch;
``cosine_frames`` into one cosine matrix per layer and epoch, every matrix of a
layer in the same kernel order, so that an animation follows each kernel.
Used in the chapters on the paper's figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..theory.condensation import aligned_fraction, cluster_order, cosine_matrix, effective_directions
from .trainer import TrainResult, epoch_index

__all__ = ["Measures", "CosineFrames", "conv_layers", "measure", "cosine_frames"]

PER = ("kernel", "filter")


def _check_result(result) -> TrainResult:
    if not isinstance(result, TrainResult):
        raise TypeError(f"expected the TrainResult of condense_lib.run, got {type(result).__name__}")
    return result


def conv_layers(result: TrainResult) -> int:
    """The number L of conv layers whose parameters ``result`` recorded."""
    _check_result(result)
    return sum(k.startswith("convs.") and k.endswith(".weight") for k in result.snapshots)


@dataclass(frozen=True)
class Measures:
    """The condensation measures of each conv layer at each recorded epoch.

    ``aligned[s, l]`` is ``aligned_fraction`` and ``directions[s, l]`` is
    ``effective_directions`` of the kernel vectors of layer ``l`` at
    ``epochs[s]``; both arrays have shape (S, L).
    """

    epochs: np.ndarray      # (S,)
    aligned: np.ndarray     # (S, L)
    directions: np.ndarray  # (S, L)
    per: str                # "kernel" or "filter": what one vector is

    def at(self, epochs) -> tuple[np.ndarray, np.ndarray]:
        """(aligned, directions) per layer, each of shape (L,), at ``epochs``:
        one epoch for every layer, or one epoch per layer (e.g. a figure's ``shown``)."""
        L = self.aligned.shape[1]
        epochs = [epochs] * L if np.ndim(epochs) == 0 else list(epochs)
        if len(epochs) != L:
            raise ValueError(f"give one epoch, or one per conv layer ({L}); got {len(epochs)}")
        rows = [epoch_index(self.epochs, e) for e in epochs]
        layers = np.arange(L)
        return self.aligned[rows, layers], self.directions[rows, layers]

    def onsets(self, level: float = 0.9) -> np.ndarray:
        """The first recorded epoch at which each layer's aligned fraction reaches ``level``, (L,);
        -1 for a layer that never does. Which layer condenses first, as the scrubbers show it."""
        reached = self.aligned >= level  # (S, L)
        first = np.asarray(self.epochs)[reached.argmax(axis=0)]
        return np.where(reached.any(axis=0), first, -1)

    def table(self) -> str:
        """The measures as a text table, one line per recorded epoch."""
        L = self.aligned.shape[1]
        head = "epoch " + "".join(f"| layer {l + 1}: aligned, directions " for l in range(L))
        lines = [head]
        for s, e in enumerate(self.epochs):
            cells = "".join(f"|        {self.aligned[s, l]:5.2f}, {self.directions[s, l]:6.2f}     " for l in range(L))
            lines.append(f"{int(e):5d} {cells}")
        return "\n".join(lines)


def measure(result: TrainResult, per: str = "filter") -> Measures:
    """The condensation of every conv layer at every recorded epoch.

    Parameters
    ----------
    result : the ``TrainResult`` of a run (``condense_lib.run``).
    per : ``"filter"`` -- one vector per output channel beta, its C_in * m * m weights
        (the theta_{W, beta} of Sec. 5 and App. D, eq. 70); ``"kernel"`` -- one vector
        per m x m kernel (C_out * C_in of them). Biases are left out.

    Returns
    -------
    ``Measures`` with ``aligned_fraction`` and ``effective_directions`` (see
    ``condense_lib.condensation``) of shape (S, L): S recorded epochs, L conv layers.
    """
    _check_result(result)
    if per not in PER:
        raise ValueError(f"unknown per={per!r}: choose 'kernel' or 'filter'")
    L = conv_layers(result)
    if L == 0:
        raise ValueError("this result recorded no conv layer")
    vectors = [[result.kernels(int(e), l, per=per) for l in range(L)] for e in result.epochs]
    aligned = np.array([[aligned_fraction(V) for V in row] for row in vectors])
    directions = np.array([[effective_directions(V) for V in row] for row in vectors])
    return Measures(result.epochs.copy(), aligned, directions, per)


@dataclass(frozen=True)
class CosineFrames:
    """Cosine matrices D (eq. 5) of each conv layer at each recorded epoch.

    ``cos[j]`` belongs to conv layer ``layers[j]`` (numbered from 0) and has shape
    (S, k, k), its rows and columns in the order ``order[j]`` (a clustering at
    epoch ``ordered_at[j]``), the same order at every epoch so that a kernel
    keeps its place from frame to frame.
    """

    epochs: np.ndarray       # (S,)
    layers: tuple            # the conv layers drawn, numbered from 0
    cos: tuple               # one (S, k, k) array per layer drawn
    order: tuple             # one (k,) permutation per layer drawn
    ordered_at: tuple        # one epoch per layer drawn
    per: str                 # "kernel" or "filter"

    def at(self, epoch: int, layer: int) -> np.ndarray:
        """The (k, k) cosine matrix of ``layer`` at ``epoch``."""
        if layer not in self.layers:
            raise ValueError(f"layer {layer} was not drawn; drawn layers (from 0): {list(self.layers)}")
        return self.cos[self.layers.index(layer)][epoch_index(self.epochs, epoch)]


def cosine_frames(
    result: TrainResult,
    per: str = "filter",
    order_at=None,
    *, layers: Optional[Sequence[int]] = None,
) -> CosineFrames:
    """The cosine matrices D (eq. 5) of conv ``layers`` at every recorded epoch.

    Parameters
    ----------
    result : the ``TrainResult`` of a run.
    per : ``"filter"`` or ``"kernel"``, as in ``measure``.
    order_at : the epoch (or one per layer) whose clustering (``cluster_order``)
        orders the vectors, the same order at every epoch; default the last
        recorded epoch. Ordering by the epoch a figure shows puts its blocks on
        the diagonal.
    layers : conv layers to include, numbered from 0 (default: all).

    Returns
    -------
    ``CosineFrames``: per layer, a float32 array (S, k, k) with k vectors.
    """
    _check_result(result)
    if per not in PER:
        raise ValueError(f"unknown per={per!r}: choose 'kernel' or 'filter'")
    L = conv_layers(result)
    layers = list(range(L)) if layers is None else [int(l) for l in layers]
    bad = [l for l in layers if not 0 <= l < L]
    if bad:
        raise ValueError(f"no conv layer {bad[0]}: this run has {L} (numbered from 0)")
    order_at = int(result.epochs[-1]) if order_at is None else order_at
    if np.ndim(order_at) == 0:
        order_at = [int(order_at)] * len(layers)
    if len(order_at) != len(layers):
        raise ValueError(f"order_at needs one epoch per layer shown ({len(layers)}), got {len(order_at)}")
    positions = [epoch_index(result.epochs, e) for e in order_at]
    cos, order = [], []
    for l, k in zip(layers, positions):
        stack = np.stack([cosine_matrix(result.kernels(int(e), l, per=per)) for e in result.epochs])  # (S, k, k)
        idx = cluster_order(stack[k])
        cos.append(stack[:, idx][:, :, idx].astype(np.float32))  # float32: 1024 x 1024 per kernel layer
        order.append(idx)
    return CosineFrames(result.epochs.copy(), tuple(layers), tuple(cos), tuple(order), tuple(int(e) for e in order_at), per)
