"""Named experiment configurations and a cached runner.

``Config`` holds everything that determines a training run's numbers (data and its
preprocessing, architecture, initialization, optimizer, schedule); ``run(config)`` trains once
and caches the result (see ``condense_lib.cache``), so executing a chapter twice
trains once.

``FIGURES[name]`` is a ``Figure``: one experimental figure (or sub-panel) of the
paper (Sec. 4, App. A), with its training run at two scales -- ``"paper"``, the
paper's setting, and ``"fast"``, the setting the book executes on a CPU -- and
the epochs the figure shows. ``FIGURES[name][scale]`` is the ``Config``. The
scale is chosen by the ``CONDENSE_SCALE`` environment variable (default
``"fast"``) or by a notebook's parameters cell. ``python -m condense_lib run
fig2 --scale paper --device cuda`` fills the cache ahead of time.

How a fast scale is derived from the paper's setting. GD with step lr is the
Euler scheme of the gradient flow (eq. 20): lr * epochs is the time t reached,
so fewer, larger steps reach the same t. Adam moves each parameter by about lr
per step (its update is lr * m / (sqrt(v) + eps')), so lr * epochs is the
analogous budget of displacement; the fast scale keeps it (Figs. 2 and 5 excepted,
see their ``differs``), with 5 to 140 times larger steps. The data, activation, architecture, gamma, optimizer and loss stay
the paper's; runs whose cost per epoch is large use fewer images (``n``).
"""
from __future__ import annotations

import dataclasses
import os
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .activations import ACTIVATIONS
from .cache import cache_path, load_or_compute, lookup
from .data import DATASETS, POOL, SHAPES, SPLITS, TARGETS, resolve_normalization, sample
from .losses import LOSSES
from .models import CNN
from .train import OPTIMIZERS, TrainResult, recorded_epochs, show_progress, train

__all__ = [
    "Config", "Figure", "FIGURES", "SCALES", "theory_config", "get_config", "figure_names", "default_scale", "run",
    "is_cached", "seconds_per_epoch",
]

SCALES = ("fast", "paper")

# Part of every cache key: bump it when a change to the training code changes results.
RESULTS_VERSION = 1


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
        return sample(self.dataset, self.n, self.seed, self.split, self.target, crop=self.crop,
                      normalization=self.normalization)

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


# Parameters not recorded in snapshots: the hidden layer of the "fc" head (Figs. 2-4) has
# 13-26 million weights, which no figure draws; every conv layer and the readout are kept.
UNRECORDED = ("fc.",)


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


def _valid(config: Config):
    """The check of a run's arrays, read back or just computed: a function that says what is
    wrong with them (a sentence), or returns None when every array has its shape and is finite."""
    epochs = config.recorded()
    S, L, m = len(epochs), len(config.channels), config.m
    c_in, H, _ = SHAPES[config.dataset]
    size = (config.crop or H) - L * (m - 1 - 2 * config.padding)  # H_L = W_L of the last conv layer
    shapes = {"loss": (config.epochs + 1,), "accuracy": (config.epochs + 1,)}
    for l, c_out in enumerate(config.channels):
        shapes[f"param/convs.{l}.weight"] = (S, c_out, c_in, m, m)  # (S, C_out, C_in, m, m)
        shapes[f"param/convs.{l}.bias"] = (S, c_out)
        c_in = c_out
    if config.head == "linear":
        shapes["param/readout.weight"] = (S, config.d, c_in * size * size)  # a, no bias
    else:
        shapes["param/readout.weight"] = (S, config.d, config.hidden)
        shapes["param/readout.bias"] = (S, config.d)

    def check(arrays: dict):
        if "epochs" not in arrays or np.asarray(arrays["epochs"]).tolist() != epochs:
            return f"the recorded epochs are {np.asarray(arrays.get('epochs')).tolist()}, not {epochs}"
        for key, shape in shapes.items():
            if key not in arrays:
                return f"{key} is missing"
            if np.shape(arrays[key]) != shape:
                return f"{key} has shape {np.shape(arrays[key])}, not {shape}"
        loss = np.asarray(arrays["loss"], dtype=np.float64)
        if not np.isfinite(loss).all():
            first = int(np.flatnonzero(~np.isfinite(loss))[0])
            return (f"the loss is {loss[first]} at epoch {first}: the training diverged "
                    f"(lr = {config.lr:g} is too large for this setting)")
        for key, value in arrays.items():
            if key.startswith("param/") and (np.shape(value)[:1] != (S,) or not np.isfinite(value).all()):
                return f"{key} is not {S} finite snapshots"
        return None

    return check


@contextmanager
def _full_float32(device):
    """On a CUDA device, compute convolutions and matrix products in full float32 (no TF32),
    as on a CPU: the kernels start at 1e-5 and their first moves are what the figures show."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def run(config: Config, device: str = "cpu", use_cache: bool = True, progress: Optional[bool] = None) -> TrainResult:
    """Train ``config`` (or read its cached result) and return the ``TrainResult``.

    The cache key is the hash of every field of ``config`` and ``RESULTS_VERSION``
    (``config.cache_key()``); ``device`` is not part of it, so results computed on a GPU serve
    a CPU session and vice versa. Nor is the number of CPU threads (``torch.get_num_threads()``):
    the order of the sums changes with both, so a cached result agrees with a fresh run here to
    float rounding, not bit for bit (``use_cache=False`` recomputes). The snapshots keep every
    parameter except those named in ``UNRECORDED``. On a CUDA device TF32 is off during the run.

    The cache never costs a result (``condense_lib.cache.load_or_compute``): its folder is
    checked writable before training (``CacheError`` otherwise, nothing trained), and a write
    that fails after training is a ``RuntimeWarning``, the result returned. A result is stored
    and served only when every array has its shape and is finite: a run whose loss becomes NaN
    or inf (too large an ``lr``) is returned with a ``RuntimeWarning`` naming the epoch, and not
    cached.

    ``progress``: a progress bar while training (``train.show_progress`` decides when ``None``).
    """
    if not isinstance(config, Config):
        raise TypeError(f"run() takes a Config, got {type(config).__name__}; see condense_lib.get_config")
    progress = show_progress(progress)

    def compute():
        x, y, model = config.build()
        with _full_float32(device):
            result = train(
                model, x, y, optimizer=config.optimizer, lr=config.lr, epochs=config.epochs, loss=config.loss,
                snapshot_epochs=config.snapshot_epochs, device=device, progress=progress, unrecorded=UNRECORDED,
            )
        return result.to_arrays()

    arrays = load_or_compute("run", config.cache_key(), compute, _valid(config), use_cache)
    return TrainResult.from_arrays(arrays)


def seconds_per_epoch(config: Config, device: str = "cpu", epochs: int = 2) -> float:
    """An estimate of the wall-clock seconds one epoch of ``config`` takes on ``device``: the mean
    over ``epochs`` timed steps, after one untimed step (allocation, kernel selection). Trains a
    fresh model of ``config`` on its data and caches nothing; the time of a whole run is about
    ``config.epochs`` times this (an estimate: the machine's load and the recording of
    snapshots change it)."""
    import time

    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    x, y, model = config.build()
    options = dict(optimizer=config.optimizer, lr=config.lr, loss=config.loss, device=device, progress=False,
                   unrecorded=UNRECORDED)
    with _full_float32(device):
        train(model, x, y, epochs=1, **options)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train(model, x, y, epochs=epochs, **options)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
    return (time.perf_counter() - start) / epochs


def is_cached(config: Config) -> bool:
    """Whether the cache holds a valid result of ``config``: readable, complete and finite."""
    return lookup(config.cache_path().stem, _valid(config)) is not None


def default_scale() -> str:
    """The scale named by ``CONDENSE_SCALE`` (default ``"fast"``)."""
    scale = os.environ.get("CONDENSE_SCALE", "fast")
    if scale not in SCALES:
        raise ValueError(f"CONDENSE_SCALE={scale!r} is not a scale: choose one of {SCALES}")
    return scale


def _check_scale(scale: Optional[str]) -> str:
    scale = default_scale() if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {SCALES}")
    return scale


@dataclass(frozen=True)
class Figure:
    """One experimental figure (or sub-panel) of the paper: its run at each scale,
    and the epoch it shows for each conv layer (from the paper's caption)."""

    name: str           # "fig4_relu": the figure and, after "_", the sub-panel
    caption: str        # the setting and what the paper observes, in a line
    paper: Config       # the paper's setting
    fast: Config        # the book's CPU setting
    shown_paper: tuple  # epoch shown per conv layer at the paper scale
    shown_fast: tuple   # the same at the fast scale
    differs: str        # what the fast scale changes, and why

    def config(self, scale: Optional[str] = None) -> Config:
        """The ``Config`` at ``scale`` (default: ``default_scale()``)."""
        return self.paper if _check_scale(scale) == "paper" else self.fast

    def shown(self, scale: Optional[str] = None) -> tuple:
        """The epoch shown for each conv layer at ``scale``."""
        return self.shown_paper if _check_scale(scale) == "paper" else self.shown_fast

    def describe(self, scale: Optional[str] = None) -> str:
        """The caption, the run's setting at ``scale`` and, at the fast scale, what differs from the paper."""
        scale = _check_scale(scale)
        c = self.config(scale)
        lines = [self.caption,
                 f"{scale} scale: n = {c.n}, {c.optimizer} lr = {c.lr:g} for {c.epochs} epochs "
                 f"(lr x epochs = {c.lr * c.epochs:.3g}), shown at epoch(s) {', '.join(map(str, self.shown(scale)))}"]
        if scale == "fast":
            lines.append(f"differs from the paper: {self.differs}")
        return "\n".join(textwrap.fill(line, 78, subsequent_indent="    ") for line in lines)

    def __getitem__(self, scale: str) -> Config:
        if scale not in SCALES:
            raise KeyError(f"unknown scale {scale!r}: choose one of {SCALES}")
        return self.config(scale)

    def __post_init__(self):
        for scale in SCALES:
            config, shown = self.config(scale), self.shown(scale)
            recorded = set(config.recorded())
            if len(shown) != len(config.channels) or not set(shown) <= recorded or 0 not in recorded:
                raise ValueError(f"{self.name} ({scale}): shown epochs {shown} must be recorded, one per conv layer, with 0")


def _every(epochs: int, frames: int, *extra: int) -> tuple:
    """Snapshot epochs: 0, ``frames`` evenly spaced epochs up to ``epochs``, and ``extra``."""
    return tuple(sorted({0, *np.linspace(0, epochs, frames + 1).round().astype(int).tolist(), *extra}))


# The two settings of the experiments (Sec. 4.1, App. A.1): n = 500 random images, full
# batch; conv weights ~ N(0, sigma_1^2), linear layers ~ N(0, 1e-4^2).
_CIFAR = Config(dataset="cifar10", split="train", n=500, m=5, activation="tanh", gamma=2.0, optimizer="adam")
_MNIST = Config(dataset="mnist", split="test", n=500, m=5, activation="tanh", gamma=2.0, optimizer="adam")
# Heads: "L x 32C-(1024)-10" with cross-entropy, or a linear readout of d outputs.
_CE = dict(head="fc", d=10, target="class", loss="ce")
_MSE_SOFTMAX = dict(head="linear", d=10, target="onehot", loss="mse_softmax")
_REGRESSION = dict(head="linear", d=1, target="label", loss="mse")
_THREE = (32, 32, 32)

# Recorded every 50 epochs to 300 (Fig. 3's epoch), where the layers condense one after another.
_FIG2_PAPER = _CIFAR.replace(channels=_THREE, lr=2e-6, epochs=10000, **_CE,
                             snapshot_epochs=(0, 50, 100, 150, 200, 250, 300, 500, 1000, 2000, 5000, 10000))
_FIG2_FAST = _CIFAR.replace(channels=_THREE, n=100, lr=2e-4, epochs=80, **_CE,
                            snapshot_epochs=(0, 4, 6, 8, 10, 20, 40, 60, 80))
_FIG2_DIFFERS = (
    "n = 100 images instead of 500, and lr = 2e-4 for 80 epochs instead of 2e-6 for a length the "
    "paper does not give (10,000 epochs at the paper scale): a step that costs a fifth as much on a "
    "CPU, and a hundred times fewer steps. The initial stage is shown at epoch 8, a recorded epoch "
    "before the accuracy rises, as the paper shows epoch 300.")

_FIG12_PAPER = Config(
    dataset="mnist", split="test", n=500, channels=(32,), m=3, activation="tanh", head="linear",
    gamma=2.0, optimizer="gd", lr=5e-6, epochs=3600, loss="mse", snapshot_epochs=(0, 1800, 3600),
)


def _fig4(activation, epochs, lr_fast, epochs_fast):
    paper = _CIFAR.replace(channels=(32,), activation=activation, lr=5e-7, epochs=epochs, **_CE,
                           snapshot_epochs=_every(epochs, 8))
    fast = paper.replace(n=100, lr=lr_fast, epochs=epochs_fast, snapshot_epochs=_every(epochs_fast, 5))
    return Figure(
        name=f"fig4_{activation}",
        caption=f"CIFAR-10, 32C-(1024)-10, {activation}, m = 5, gamma = 2, Adam, cross-entropy (Fig. 4)",
        paper=paper, fast=fast, shown_paper=(epochs,), shown_fast=(epochs_fast,),
        differs=f"n = 100 instead of 500, and lr = {lr_fast:g} for {epochs_fast} epochs instead of 5e-7 for "
                f"{epochs}: the same Adam budget lr x epochs = {5e-7 * epochs:.2g}. Most of an epoch's cost is "
                f"the 25-million-weight FC layer, which grows with n.")


def _fig10(activation, lr, epochs, lr_fast, epochs_fast):
    paper = _MNIST.replace(channels=(32,), activation=activation, lr=lr, epochs=epochs, **_REGRESSION,
                           snapshot_epochs=_every(epochs, 8))
    fast = paper.replace(lr=lr_fast, epochs=epochs_fast, snapshot_epochs=_every(epochs_fast, 8))
    return Figure(
        name=f"fig10_{activation}",
        caption=f"MNIST, 32C-1, {activation}, m = 5, gamma = 2, Adam, MSE (Fig. 10)",
        paper=paper, fast=fast, shown_paper=(epochs,), shown_fast=(epochs_fast,),
        differs=f"lr = {lr_fast:g} for {epochs_fast} epochs instead of {lr:g} for {epochs}: the same Adam "
                f"budget lr x epochs = {lr * epochs:.3g}. Adam is not exactly invariant under this change.")


_FIG_LIST = [
    Figure(name="fig2", caption="CIFAR-10, 3 x 32C-(1024)-10, tanh, m = 5, gamma = 2, Adam, cross-entropy: "
                                "the end of training (Fig. 2; at the paper scale shown at epoch 5000 of 10,000, see the errata)",
           paper=_FIG2_PAPER, fast=_FIG2_FAST, shown_paper=(5000,) * 3, shown_fast=(80,) * 3, differs=_FIG2_DIFFERS),
    Figure(name="fig3", caption="The initial stage of the Fig. 2 run, at accuracy below 20% (Fig. 3)",
           paper=_FIG2_PAPER, fast=_FIG2_FAST, shown_paper=(300,) * 3, shown_fast=(8,) * 3, differs=_FIG2_DIFFERS),
    Figure(name="fig8", caption="The training accuracy of the Fig. 2 run (Fig. 8)",
           paper=_FIG2_PAPER, fast=_FIG2_FAST, shown_paper=(10000,) * 3, shown_fast=(80,) * 3, differs=_FIG2_DIFFERS),
    _fig4("relu", 1000, 2e-5, 25),
    _fig4("sigmoid", 5000, 1e-4, 25),
    _fig4("tanh", 300, 1e-5, 15),
    Figure(
        name="fig5",
        caption="CIFAR-10, 3 x 32C-10 with softmax, tanh, m = 5, gamma = 1.2, Adam, MSE on one-hot labels (Fig. 5; "
                "at the paper scale run to 1000 epochs and shown where each layer condenses, see the errata)",
        paper=_CIFAR.replace(channels=_THREE, gamma=1.2, lr=1e-6, epochs=1000, **_MSE_SOFTMAX,
                             snapshot_epochs=_every(1000, 20)),
        fast=_CIFAR.replace(channels=_THREE, gamma=1.2, lr=1e-4, epochs=40, **_MSE_SOFTMAX,
                            snapshot_epochs=_every(40, 8)),
        shown_paper=(900, 450, 450), shown_fast=(40, 40, 40),
        differs="lr = 1e-4 for 40 epochs instead of 1e-6: four times the Adam budget lr x epochs of the "
                "paper-scale run (1000 epochs; the paper's 300 do not show its figure, errata 21). At this "
                "initialization the gradients that reach the conv layers sit below Adam's eps = 1e-8, where "
                "Adam moves by about lr x gradient / eps rather than by lr, so the same budget in fewer steps "
                "barely moves the kernels. All three layers are shown at the last epoch."),
    Figure(
        name="fig6", caption="CIFAR-10, two-layer CNN 32C-1, tanh, m = 3, gamma = 4, GD, MSE (Fig. 6)",
        paper=_CIFAR.replace(channels=(32,), m=3, gamma=4.0, optimizer="gd", lr=5e-6, epochs=4500, **_REGRESSION,
                             snapshot_epochs=_every(4500, 9)),
        fast=_CIFAR.replace(channels=(32,), m=3, gamma=4.0, optimizer="gd", lr=1.5e-4, epochs=150, **_REGRESSION,
                            snapshot_epochs=_every(150, 6)),
        shown_paper=(4500,), shown_fast=(150,),
        differs="lr = 1.5e-4 for 150 epochs instead of 5e-6 for 4500: the same gradient-flow time "
                "t = lr x epochs = 0.0225 (eq. 20) in 30 times fewer steps."),
    Figure(
        name="fig9", caption="CIFAR-10, 3 x 32C-1, tanh, m = 3, gamma = 2, Adam, MSE on the label (Fig. 9)",
        paper=_CIFAR.replace(channels=_THREE, m=3, lr=5e-6, epochs=200, **_REGRESSION, snapshot_epochs=_every(200, 8)),
        fast=_CIFAR.replace(channels=_THREE, m=3, lr=3.3e-5, epochs=30, **_REGRESSION,
                            snapshot_epochs=_every(30, 6)),
        shown_paper=(200,) * 3, shown_fast=(30,) * 3,
        differs="lr = 3.3e-5 for 30 epochs instead of 5e-6 for 200: the same Adam budget lr x epochs = 1e-3 "
                "in about 7 times fewer steps."),
    _fig10("sigmoid", 5e-7, 252, 3.15e-6, 40),
    _fig10("relu", 5e-7, 302, 3.775e-6, 40),
    _fig10("tanh", 5e-6, 200, 2.5e-5, 40),
    Figure(
        name="fig11", caption="MNIST, 3 x 32C-1, tanh, m = 5, gamma = 2, Adam, MSE (Fig. 11)",
        paper=_MNIST.replace(channels=_THREE, lr=5e-7, epochs=100, **_REGRESSION, snapshot_epochs=_every(100, 5)),
        fast=_MNIST.replace(channels=_THREE, lr=2.5e-6, epochs=20, **_REGRESSION, snapshot_epochs=_every(20, 5)),
        shown_paper=(100,) * 3, shown_fast=(20,) * 3,
        differs="lr = 2.5e-6 for 20 epochs instead of 5e-7 for 100: the same Adam budget lr x epochs = 5e-5."),
    Figure(
        name="fig12", caption="MNIST, two-layer CNN 32C-1, tanh, m = 3, gamma = 2, GD, MSE (Fig. 12)",
        paper=_FIG12_PAPER, fast=_FIG12_PAPER.replace(lr=5e-5, epochs=360, snapshot_epochs=(0, 180, 360)),
        shown_paper=(3600,), shown_fast=(360,),
        differs="lr = 5e-5 for 360 epochs instead of 5e-6 for 3600: the same gradient-flow time t = 0.018 "
                "(eq. 20) in 10 times fewer steps."),
    Figure(
        name="fig13", caption="MNIST, two-layer CNN 320C-1, tanh, m = 3, gamma = 2, GD, MSE (Fig. 13)",
        paper=_FIG12_PAPER.replace(channels=(320,), epochs=7000, snapshot_epochs=_every(7000, 7)),
        fast=_FIG12_PAPER.replace(channels=(320,), lr=7e-4, epochs=50, snapshot_epochs=_every(50, 5)),
        shown_paper=(7000,), shown_fast=(50,),
        differs="lr = 7e-4 for 50 epochs instead of 5e-6 for 7000: the same gradient-flow time "
                "t = 0.035 (eq. 20) in 140 times fewer steps."),
]


class _Figures(dict):
    """``FIGURES[name]``: a missing name is an error that lists the figures."""

    def __missing__(self, name):
        raise KeyError(f"unknown figure {name!r}: choose one of {sorted(self)}")


FIGURES = _Figures((f.name, f) for f in _FIG_LIST)


def get_config(name: str, scale: Optional[str] = None) -> Config:
    """The configuration of figure ``name`` at ``scale`` (default: ``default_scale()``):
    ``FIGURES[name].config(scale)``."""
    return FIGURES[name].config(scale)


def figure_names(selection) -> list[str]:
    """Figure names from a selection: exact names, a figure's prefix (``"fig4"`` names
    ``fig4_relu``, ``fig4_sigmoid``, ``fig4_tanh``), or ``"all"``."""
    selection = [selection] if isinstance(selection, str) else list(selection)
    names = []
    for item in selection:
        hits = list(FIGURES) if item == "all" else [n for n in FIGURES if n == item or n.startswith(item + "_")]
        if not hits:
            raise ValueError(f"unknown figure {item!r}: choose one of {sorted(FIGURES)}, a prefix such as 'fig4', or 'all'")
        names += [n for n in hits if n not in names]
    return names
