"""``Config``: everything that determines a training run's numbers (data and its
preprocessing, architecture, initialization, optimizer, schedule), checked field by field
when it is made, and the one key of its cached result (``cache_key``).

A frozen dataclass: the CLI, the runner (``runner.run``), the paper's figures
(``paper.figures``) and the studies all build it; ``Config.train_options()`` gives the
trainer's keywords, once. ``theory_config`` is the theory's setting (Sec. 5).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..theory.activations import ACTIVATIONS
from ..theory.data_matrix import build_Z
from ..theory.losses import LOSSES
from .cache import cache_path
from .data import DATASETS, POOL, SHAPES, SPLITS, TARGETS, resolve_normalization, sample
from .models import CNN
from .trainer import OPTIMIZERS, recorded_epochs

__all__ = ["Config", "theory_config", "RESULTS_VERSION", "UNRECORDED"]

# Part of every cache key: bump it when a change to the training code changes results.
RESULTS_VERSION = 1


# Parameters not recorded in snapshots: the hidden layer of the "fc" head (Figs. 2-4) has
# 13-26 million weights, which no figure draws; every conv layer and the readout are kept.
UNRECORDED = ("fc.",)


@dataclass(frozen=True)
class Config:
    """One training run. Defaults are the setting of Fig. 12 (MNIST, two-layer tanh CNN, GD)."""

    dataset: str = "mnist"          # "mnist" or "cifar10"
    split: str = "train"            # split the n images are drawn from
    n: int = 500                    # number of training images (Sec. 4.1)
    seed: int = 0                   # seeds both the data sample and the initialization
    target: str = "label"           # "label" (d = 1), "onehot" or "class" (see data.sample)
    crop: int = 0                   # centre crop to crop x crop pixels (theory chapters); 0: whole image
    normalization: Optional[str] = None  # one of data.NORMALIZATIONS; None: data.DEFAULT_NORMALIZATION
    channels: tuple = (32,)         # conv channels C_1..C_L
    m: int = 3                      # kernel size
    padding: int = 0                # zero pixels added on each side of every conv input: 0 "valid" (the
                                    # paper's Sec. 3.2), (m - 1) / 2 "same" (give padding="same")
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

    def recorded(self) -> list:
        """The epochs whose parameters a run keeps (``train.recorded_epochs``)."""
        return recorded_epochs(self.snapshot_epochs, self.epochs)

    def times(self) -> np.ndarray:
        """The gradient-flow times lr * e of the recorded epochs e (eq. 20), (S,)."""
        return self.lr * np.asarray(self.recorded(), dtype=np.float64)

    def replace(self, **changes) -> "Config":
        """A copy with ``changes``. A new ``dataset`` without a ``normalization`` takes the new
        dataset's default (``data.DEFAULT_NORMALIZATION``), not the old dataset's preprocessing."""
        if changes.get("dataset", self.dataset) != self.dataset:
            changes.setdefault("normalization", None)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as JSON-ready values. A field added after results were cached (``_ADDED``)
        is left out while it holds its default, so that those results keep their keys."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
                if not (k in _ADDED and v == _ADDED[k])}

    def cache_key(self) -> dict:
        """What identifies this run's result in the cache: every field and ``RESULTS_VERSION``
        (the one definition the runner, the CLI and the tests use)."""
        return {**self.to_dict(), "results_version": RESULTS_VERSION}

    def cache_path(self) -> Path:
        """The cache file of this run, ``run-<hash of cache_key()>.npz`` in ``cache_dir()``."""
        return cache_path("run", self.cache_key())

    def data(self):
        """The images x (n, C, H, W) and targets y of this configuration (``data.sample``)."""
        return sample(self.dataset, self.n, seed=self.seed, split=self.split, target=self.target, crop=self.crop,
                      normalization=self.normalization)

    def train_options(self) -> dict:
        """The trainer's keywords of this run (``train.train``): optimizer, step, schedule, loss,
        snapshots and the parameters left out of them. The one place a ``Config`` becomes them."""
        return dict(optimizer=self.optimizer, lr=self.lr, epochs=self.epochs, loss=self.loss,
                    snapshot_epochs=self.snapshot_epochs, unrecorded=UNRECORDED)

    def Z(self) -> np.ndarray:
        """The data matrix Z (eqs. 35, 70) of this run's images and targets, kernel size m and
        padding (``theory.data_matrix.build_Z``): the matrix of its linear dynamics."""
        return build_Z(*self.data(), self.m, padding=self.padding)

    def build(self):
        """The data ``(x, y)`` and the freshly initialized model of this configuration."""
        x, y = self.data()
        return x, y, CNN.from_config(self, tuple(x.shape[1:]))

    def __post_init__(self):
        """Check every field's type and range and their consistency, and normalize numpy
        scalars and arrays (and lists) to Python ints, floats and tuples, so that equal
        settings hash alike. Raises ``ValueError`` naming the field, the value and what is allowed."""
        set_ = lambda name, value: object.__setattr__(self, name, value)
        for name, choices in _CHOICES.items():
            set_(name, _choice(name, getattr(self, name), choices))
        for name, low in _INTEGERS.items():
            set_(name, _integer(name, getattr(self, name), low))
        for name in _POSITIVE:
            set_(name, _positive(name, getattr(self, name)))
        if self.eps is not None:
            set_("eps", _positive("eps", self.eps))
        set_("padding", _padding(self.padding, self.m))
        set_("channels", _integers("channels", self.channels, 1))
        if not self.channels:
            raise ValueError("Config.channels = (): give at least one conv layer, e.g. (32,)")
        set_("snapshot_epochs", tuple(sorted(set(_integers("snapshot_epochs", self.snapshot_epochs, 0)))))
        try:  # None becomes the dataset's default, so that both spellings hash alike
            set_("normalization", resolve_normalization(self.dataset, self.normalization))
        except ValueError as err:
            raise ValueError(f"Config.normalization = {self.normalization!r}: {err}") from None
        _check_consistency(self)


# Fields added after results were cached, with their defaults: ``to_dict`` (and so the cache
# key) leaves them out while they hold these values.
_ADDED = {"padding": 0}


# Config fields by kind: names among choices, integers >= a bound, finite numbers > 0.
_CHOICES = {"dataset": DATASETS, "split": SPLITS, "target": TARGETS, "activation": tuple(ACTIVATIONS),
            "head": ("linear", "fc"), "init": ("paper", "theory"), "optimizer": OPTIMIZERS, "loss": LOSSES}


_INTEGERS = {"n": 1, "seed": 0, "crop": 0, "m": 1, "d": 1, "hidden": 1, "epochs": 0}


_POSITIVE = ("gamma", "sigma_2", "lr")


# The targets and number of outputs each loss takes (see data.sample and train.loss_fn).
_LOSS_TARGETS = {"ce": {"class": 10}, "mse_softmax": {"onehot": 10}, "mse": {"label": 1, "onehot": 10}}


def _scalar(value):
    """A numpy scalar or 0-d array (or 0-d tensor) as the Python number it holds."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        if isinstance(value, np.ndarray):
            value = value[()]
        if isinstance(value, np.floating) and value.dtype.itemsize < 8:
            return float(str(value))  # np.float32(5e-6) -> 5e-6, the number it was written as
        return value.item()
    return value


def _choice(name: str, value, choices: tuple) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"Config.{name} = {value!r}: choose one of {', '.join(map(repr, choices))}")
    return str(value)


def _integer(name: str, value, low: int) -> int:
    number = _scalar(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < low:
        raise ValueError(f"Config.{name} = {value!r} ({type(value).__name__}): must be an integer >= {low}"
                         + (" (True and False are not integers)" if isinstance(number, bool) else ""))
    return number


def _positive(name: str, value) -> float:
    number = _scalar(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not (np.isfinite(number) and number > 0):
        raise ValueError(f"Config.{name} = {value!r} ({type(value).__name__}): must be a finite number > 0")
    return float(number)


def _padding(value, m: int) -> int:
    """``padding`` as the number of zero pixels per side: an integer in 0..m-1, or "same",
    (m - 1) / 2 for an odd m (the output as large as the input)."""
    if isinstance(value, str):
        if value == "same" and m % 2 == 1:
            return (m - 1) // 2
        raise ValueError(f"Config.padding = {value!r}: give an integer in 0..{m - 1} or 'same' "
                         f"({'(m - 1) / 2 for an odd m' if value == 'same' else 'the only word allowed'}; m = {m})")
    number = _scalar(value)
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= m - 1:
        raise ValueError(f"Config.padding = {value!r} ({type(value).__name__}): must be an integer in 0..m-1 = "
                         f"0..{m - 1} (zero pixels on each side; wider padding only adds outputs that see no pixel) "
                         f"or 'same'")
    return number


def _integers(name: str, value, low: int) -> tuple:
    if not isinstance(value, (tuple, list, range, np.ndarray)) or np.ndim(value) != 1:
        raise ValueError(f"Config.{name} = {value!r} ({type(value).__name__}): must be a tuple of integers >= {low}, "
                         f"e.g. {(32,) if name == 'channels' else (0, 10)}")
    items = tuple(_scalar(v) for v in value)
    bad = [v for v in items if isinstance(v, bool) or not isinstance(v, int) or v < low]
    if bad:
        raise ValueError(f"Config.{name} = {value!r}: must be a tuple of integers >= {low}; "
                         f"{bad[0]!r} ({type(bad[0]).__name__}) is not")
    return items


def _check_consistency(c: "Config") -> None:
    """The fields that must agree: loss, target and d; init and eps; n and the pool; m, crop and the image."""
    outputs = _LOSS_TARGETS[c.loss]
    if c.target not in outputs:
        allowed = " or ".join(f"target={t!r} (d = {d})" for t, d in outputs.items())
        raise ValueError(f"Config.target = {c.target!r} does not fit loss={c.loss!r}: use {allowed}")
    if c.d != outputs[c.target]:
        raise ValueError(f"Config.d = {c.d}: loss={c.loss!r} with target={c.target!r} needs d = {outputs[c.target]}")
    if c.init == "theory" and c.eps is None:
        raise ValueError("Config.eps = None: init='theory' needs eps, the std of every parameter (eqs. 3-4)")
    if c.init == "paper" and c.eps is not None:
        raise ValueError(f"Config.eps = {c.eps!r} is unused by init='paper' (gamma and sigma_2 set it): "
                         f"leave eps = None, or use init='theory'")
    pool = POOL[c.dataset, c.split]
    if c.n > pool:
        raise ValueError(f"Config.n = {c.n}: must be an integer in 1..{pool}: the {c.dataset} {c.split} pool has {pool} images")
    _, H, W = SHAPES[c.dataset]
    if c.crop > min(H, W):
        raise ValueError(f"Config.crop = {c.crop}: must be in 0..{min(H, W)} for {H}x{W} {c.dataset} images (0 keeps them whole)")
    size, L = c.crop or min(H, W), len(c.channels)
    if size - L * (c.m - 1 - 2 * c.padding) < 1:
        kind = f"convolution(s) with m = {c.m} and padding = {c.padding}" if c.padding else \
            f"valid convolution(s) with m = {c.m}"
        raise ValueError(f"Config.m = {c.m}: {L} {kind} remove {L * (c.m - 1 - 2 * c.padding)} pixels, more than "
                         f"the {size}x{size} input has: use a smaller m or crop, fewer layers, or padding")
    if c.snapshot_epochs and c.snapshot_epochs[-1] > c.epochs:
        raise ValueError(f"Config.snapshot_epochs = {c.snapshot_epochs}: must lie in 0..epochs = {c.epochs}")


def theory_config(M: int = 32, eps: float = 1e-5, **fields) -> Config:
    """The theory's setting (Sec. 5): a two-layer tanh CNN of ``M`` kernels, every parameter
    N(0, eps^2) (eqs. 3-4, 28), full-batch GD on the MSE (eq. 1), d = 1 output regressing the
    label; MNIST's test split (its offline pool) by default. ``fields`` set any other ``Config``
    field (``n``, ``seed``, ``crop``, ``m``, ``lr``, ``epochs``, ``snapshot_epochs``, ...)."""
    base = dict(dataset="mnist", split="test", n=500, target="label", channels=(int(M),), m=3, activation="tanh",
                head="linear", d=1, init="theory", eps=float(eps), optimizer="gd", lr=5e-4, epochs=100, loss="mse")
    if "channels" in fields:
        raise ValueError("theory_config has one conv layer: the width is M, not channels")
    return Config(**{**base, **fields})
