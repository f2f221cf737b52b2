"""Fig. 1 of the paper, made real: a trained two-layer CNN against the network in which its
kernels along the layer's leading direction are merged into one effective kernel
(``theory.merge.merge_kernels``), epoch by epoch: how far the merged network's output and loss
are from the trained one's. Small where the layer is condensed; large where it is not (a large
initialization). Used in the chapter "Condensation in one picture".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..theory.data_matrix import theta_bar
from ..theory.losses import loss_fn
from ..theory.merge import merge_kernels
from ..training.config import Config
from ..training.models import CNN
from ..training.trainer import TrainResult

__all__ = ["MergeCheck", "merge_check"]


@dataclass(frozen=True, eq=False)
class MergeCheck:
    """A run against its merged network at every recorded epoch (see ``merge_check``).

    ``epochs`` (E,); ``loss`` (E,) R_S of the trained network over R_S at epoch 0; ``loss_merged``
    (E,) that of the merged one, over the same R_S(0); ``error`` (E,) ||f_merged - f|| / ||f|| over
    the training images; ``kernels`` (E,) how many kernels the merged layer keeps (1: one neuron).
    """

    epochs: np.ndarray
    loss: np.ndarray
    loss_merged: np.ndarray
    error: np.ndarray
    kernels: np.ndarray
    threshold: float

    def at(self, epoch: int) -> dict:
        """The measures at a recorded ``epoch``."""
        k = int(np.flatnonzero(self.epochs == epoch)[0]) if epoch in self.epochs else None
        if k is None:
            raise KeyError(f"epoch {epoch} is not recorded: choose one of {self.epochs.tolist()}")
        return dict(loss=self.loss[k], loss_merged=self.loss_merged[k], error=self.error[k], kernels=self.kernels[k])


def merge_check(result: TrainResult, config: Config, *, threshold: float = 0.0) -> MergeCheck:
    """Merge the kernels of the two-layer run ``result`` of ``config`` at every recorded epoch
    (``merge_kernels``; ``threshold`` 0: the whole layer into one neuron) and compare the merged
    network with the trained one on the run's training images (float64)."""
    if len(config.channels) != 1 or config.head != "linear" or config.d != 1:
        raise ValueError("merge_check is for the two-layer CNN: one conv layer, head='linear', d=1")
    x, y = (t.double() for t in config.data())
    C, m = x.shape[1], config.m
    rows = []
    for e in result.epochs:
        params = result.snapshot(int(e))
        theta_W, theta_a = (t[0] for t in theta_bar(params))
        W, a, _ = merge_kernels(theta_W, theta_a, threshold=threshold)
        K = W.shape[0]
        merged = {"convs.0.weight": W[:, :-1].reshape(K, C, m, m), "convs.0.bias": W[:, -1],
                  "readout.weight": a.reshape(1, -1)}
        with torch.no_grad():
            full = CNN.from_config(config, tuple(x.shape[1:])).double().load_parameters(params)
            small = CNN.from_config(config.replace(channels=(K,)), tuple(x.shape[1:])).double().load_parameters(merged)
            f, g = full(x), small(x)
            rows.append((float(loss_fn(f, y, config.loss)), float(loss_fn(g, y, config.loss)),
                         float(torch.linalg.norm(g - f) / torch.linalg.norm(f)), K))
    loss, loss_m, error, kernels = (np.array(c) for c in zip(*rows))
    return MergeCheck(np.asarray(result.epochs), loss / loss[0], loss_m / loss[0], error, kernels.astype(int),
                      float(threshold))
