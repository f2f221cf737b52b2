"""Which conv layer condenses first, and why: each layer's gradient at initialization
(eqs. 20-23) and the causal test that rescales the layers' initial weights.
Used in the chapters "The paper's MNIST figures" and "The paper's CIFAR-10 figures".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..paper.claims import ONSET_LEVEL
from ..theory.losses import loss_fn
from ..training.cache import load_or_compute
from ..training.config import Config
from ..training.models import CNN
from ..training.trainer import train
from ..training.trajectory import measure

__all__ = ["layer_gradients", "LayerOrder", "layer_order"]


def layer_gradients(config: Config) -> np.ndarray:
    """The root-mean-square gradient of the loss with respect to each conv layer's weights at
    initialization, (L,): the scale of dR_S / dW^[l] (eqs. 20-23), which for layer l holds a
    product of the weights of every layer above it. Adam compares it with its eps (1e-8): a
    gradient far above eps moves every weight by about lr per step whatever its size; one below
    moves it by about lr x gradient / eps.
    """
    x, y, model = config.build()
    return _rms_gradients(model, x, y, config.loss)


def _rms_gradients(model, x, y, loss: str) -> np.ndarray:
    """The root-mean-square gradient of the loss with respect to each conv layer's weights (L,)."""
    grads = torch.autograd.grad(loss_fn(model(x), y, loss), [conv.weight for conv in model.convs])
    return np.array([float(g.double().pow(2).mean().sqrt()) for g in grads])


@dataclass(frozen=True, eq=False)
class LayerOrder:
    """Which layer condenses first, with each layer's initial weights rescaled.

    ``factors`` (K, L): the factor each conv layer's initial weights were multiplied by, one row
    per run (a row of ones: the figure's own initialization); ``gradients`` (K, L): the RMS
    gradient of each layer's weights at initialization (``layer_gradients``); ``onsets`` (K, L):
    the first recorded epoch at which each layer's aligned fraction reaches ``level`` (-1: not
    within the run); ``epochs``: the recorded epochs.
    """

    factors: np.ndarray
    gradients: np.ndarray
    onsets: np.ndarray
    epochs: np.ndarray
    level: float


def layer_order(config: Config, factors, *, level: float = ONSET_LEVEL, every: int = 1, device=None) -> LayerOrder:
    """Train ``config`` once per row of ``factors`` (K, L), its conv layers' initial weights (not
    the biases) multiplied by that row, and measure each layer's initial gradient and onset.

    The causal test of "a layer's gradient is a product of the weights above it (eqs. 20-23), so
    the layers whose gradient is largest condense first": multiplying the weights of the layers
    above layer l by c multiplies layer l's gradient by about c^(number of such layers); under
    Adam below its eps (``layer_gradients``) the layer then moves that much faster. Each row's
    gradients and onsets are cached (``training.cache``, keyed by the config, the row, ``level``
    and ``every``); ``level``: the aligned fraction of an onset (``ONSET_LEVEL``, that of "on one line");
    snapshots every ``every`` epochs; trained on ``device`` (None: the best this
    machine has).
    """
    factors = np.asarray(factors, dtype=np.float64)
    L = len(config.channels)
    if factors.ndim != 2 or factors.shape[1] != L or not (np.isfinite(factors).all() and (factors > 0).all()):
        raise ValueError(f"factors must be (K, {L}): one positive factor per conv layer of {config.channels}, per run")
    snapshots = tuple(range(0, config.epochs + 1, every))
    gradients, onsets = [], []
    for row in factors:
        def compute(row=row):
            x, y = config.data()
            model = CNN.from_config(config, tuple(x.shape[1:]))
            with torch.no_grad():
                for conv, c in zip(model.convs, row):
                    conv.weight.mul_(float(c))
            grads = _rms_gradients(model, x, y, config.loss)
            options = {**config.train_options(), "snapshot_epochs": snapshots}
            result = train(model, x, y, device=device, progress=False, **options)
            return {"gradients": np.asarray(grads, dtype=np.float64), "onsets": measure(result).onsets(level)}

        key = {**config.cache_key(), "layer_factors": [float(c) for c in row], "level": float(level), "every": int(every)}
        arrays = load_or_compute("layer-order", key, compute)
        gradients.append(arrays["gradients"])
        onsets.append(arrays["onsets"])
    return LayerOrder(factors, np.array(gradients), np.array(onsets), np.array(snapshots), float(level))
