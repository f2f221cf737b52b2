"""Named experiment configurations and a cached runner.

``Config`` holds everything that determines a training run's numbers (data,
architecture, initialization, optimizer, schedule); ``run(config)`` trains once
and caches the result (see ``condense_lib.cache``), so executing a chapter twice
trains once. ``FIGURES[name][scale]`` gives the paper's setting of a figure
(``"paper"``) and the CPU setting the book executes (``"fast"``); the scale is
chosen by the ``CONDENSE_SCALE`` environment variable (default ``"fast"``) or
by a notebook's parameters cell.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .cache import load_or_compute
from .data import sample
from .models import CNN
from .train import TrainResult, train

__all__ = ["Config", "FIGURES", "SCALES", "get_config", "default_scale", "run"]

SCALES = ("fast", "paper")


@dataclass(frozen=True)
class Config:
    """One training run. Defaults are the setting of Fig. 12 (MNIST, two-layer tanh CNN, GD)."""

    dataset: str = "mnist"          # "mnist" or "cifar10"
    split: str = "train"            # split the n images are drawn from
    n: int = 500                    # number of training images (Sec. 4.1)
    seed: int = 0                   # seeds both the data sample and the initialization
    target: str = "label"           # "label" (d = 1), "onehot" or "class" (see data.sample)
    channels: tuple = (32,)         # conv channels C_1..C_L
    m: int = 3                      # kernel size
    activation: str = "tanh"        # sigma
    head: str = "linear"            # "linear" readout a, or "fc" (ReLU FC hidden, then d)
    d: int = 1                      # outputs
    hidden: int = 1024              # width of the FC layer of the "fc" head
    init: str = "paper"             # "paper" (gamma, sigma_2) or "theory" (eps)
    gamma: float = 2.0              # sigma_1 = ((c_in + c_out) m^2 / 2)^(-gamma)
    sigma_2: float = 1e-4           # std of the linear layers
    eps: Optional[float] = None     # std of every parameter for init="theory"
    optimizer: str = "gd"           # "gd" or "adam", full batch
    lr: float = 5e-6                # learning rate
    epochs: int = 3600              # training steps
    loss: str = "mse"               # "mse", "mse_softmax" or "ce"
    snapshot_epochs: tuple = ()     # epochs whose parameters are kept; () means (0, epochs)

    @property
    def time(self) -> float:
        """Gradient-flow time reached by GD, lr * epochs (eq. 20)."""
        return self.lr * self.epochs

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def build(self):
        """The data ``(x, y)`` and the freshly initialized model of this configuration."""
        x, y = sample(self.dataset, self.n, self.seed, self.split, self.target)
        model = CNN(
            tuple(x.shape[1:]), self.channels, self.m, self.activation, self.head, self.d,
            self.hidden, self.init, self.gamma, self.sigma_2, self.eps, self.seed,
        )
        return x, y, model


def _valid(config: Config):
    epochs = sorted(set(config.snapshot_epochs) or {0, config.epochs})

    def check(arrays: dict) -> bool:
        try:
            return (
                arrays["loss"].shape == (config.epochs + 1,)
                and arrays["accuracy"].shape == (config.epochs + 1,)
                and arrays["epochs"].tolist() == epochs
                and all(v.shape[0] == len(epochs) for k, v in arrays.items() if k.startswith("param/"))
                and bool(np.isfinite(arrays["loss"][:1]).all())
            )
        except KeyError:
            return False

    return check


def run(config: Config, device: str = "cpu", use_cache: bool = True, progress: Optional[bool] = None) -> TrainResult:
    """Train ``config`` (or read its cached result) and return the ``TrainResult``.

    The cache key is the hash of every field of ``config``; ``device`` is not part
    of it, so results computed on a GPU serve a CPU session and vice versa.
    """
    if not isinstance(config, Config):
        raise TypeError(f"run() takes a Config, got {type(config).__name__}; see condense_lib.get_config")

    def compute():
        x, y, model = config.build()
        result = train(
            model, x, y, config.optimizer, config.lr, config.epochs, config.loss,
            config.snapshot_epochs or None, device, progress,
        )
        return result.to_arrays()

    arrays = load_or_compute("run", config.to_dict(), compute, _valid(config), use_cache)
    return TrainResult.from_arrays(arrays)


def default_scale() -> str:
    """The scale named by ``CONDENSE_SCALE`` (default ``"fast"``)."""
    scale = os.environ.get("CONDENSE_SCALE", "fast")
    if scale not in SCALES:
        raise ValueError(f"CONDENSE_SCALE={scale!r} is not a scale: choose one of {SCALES}")
    return scale


_FIG12_PAPER = Config(
    dataset="mnist", split="test", n=500, channels=(32,), m=3, activation="tanh", head="linear",
    gamma=2.0, optimizer="gd", lr=5e-6, epochs=3600, loss="mse", snapshot_epochs=(0, 1800, 3600),
)

FIGURES = {
    # Fig. 12: MNIST, two-layer tanh CNN with 32 kernels, m = 3, gamma = 2, GD, MSE.
    # fast: the same gradient-flow time lr * epochs = 0.018 in 10x fewer, 10x larger steps.
    "fig12": {
        "paper": _FIG12_PAPER,
        "fast": _FIG12_PAPER.replace(lr=5e-5, epochs=360, snapshot_epochs=(0, 180, 360)),
    },
}


def get_config(name: str, scale: Optional[str] = None) -> Config:
    """The configuration of figure ``name`` at ``scale`` (default: ``default_scale()``)."""
    scale = default_scale() if scale is None else scale
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}: choose one of {sorted(FIGURES)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {SCALES}")
    return FIGURES[name][scale]
