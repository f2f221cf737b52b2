"""The cached runner: ``run(config)`` trains once and caches the result (``cache``), so that
executing a chapter twice trains once; ``is_cached``; ``seconds_per_epoch``; and the one scale
policy (``resolve_scale``).

Two scales: ``"fast"``, the setting the book executes on a CPU, and ``"paper"``, the paper's
(Sec. 4, App. A). ``resolve_scale`` turns what a chapter or a study is given into one of them:
``None`` reads ``CONDENSE_SCALE`` (default ``"fast"``), and ``"auto"`` means "the paper's runs
where they are cached, else fast". ``python -m condense_lib run fig2 --scale paper`` fills the
cache ahead of time.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .cache import load_or_compute, lookup
from .config import Config
from .data import SHAPES
from .device import full_float32, resolve_device, synchronize
from .shipped import shipped_arrays
from .trainer import TrainResult, train

__all__ = ["SCALES", "default_scale", "resolve_scale", "result_check", "run", "run_variant", "is_cached", "seconds_per_epoch", "provenance_record"]

SCALES = ("fast", "paper")


def default_scale() -> str:
    """The scale named by ``CONDENSE_SCALE`` (default ``"fast"``): ``"fast"``, ``"paper"`` or ``"auto"``."""
    scale = os.environ.get("CONDENSE_SCALE", "fast")
    if scale not in SCALES + ("auto",):
        raise ValueError(f"CONDENSE_SCALE={scale!r} is not a scale: choose one of {SCALES} or 'auto'")
    return scale


def resolve_scale(scale: Optional[str] = None, runs: Optional[Callable[[str], list]] = None) -> str:
    """The one scale policy: ``"fast"`` or ``"paper"`` from what a chapter or a study was given.

    ``scale``: ``"fast"`` or ``"paper"`` (returned as they are); ``None``, the scale named by
    ``CONDENSE_SCALE`` (default ``"fast"``, which may itself say ``"auto"``); ``"auto"``, the
    paper's runs where they exist: ``"paper"`` when every run of ``runs("paper")`` (a function
    of the scale giving the ``Config`` s, such as ``SWEEPS[name]``) is cached, else ``"fast"``.

    >>> resolve_scale("paper")
    'paper'
    """
    if scale is None:
        scale = default_scale()
    if scale == "auto":
        if runs is None:
            raise ValueError("scale='auto' needs the runs it looks for (runs=lambda scale: [...configs])")
        return "paper" if all(is_cached(c) for c in runs("paper")) else "fast"
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {SCALES} or 'auto' (the paper's runs where "
                         f"they are cached, else fast); CONDENSE_SCALE says the same")
    return scale


def result_check(config: Config):
    """The check of a run's arrays, read back or just computed: a function that says what is
    wrong with them (a sentence), or returns None when every array has its shape and is finite.
    A shipped run may leave out parameters no chapter reads, named in its array ``dropped``."""
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
        dropped = set(np.atleast_1d(arrays.get("dropped", [])).tolist())  # left out of a shipped run on purpose
        for key, shape in shapes.items():
            if key not in arrays:
                if key in dropped:
                    continue
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


def run(config: Config, *, device=None, use_cache: bool = True, progress=None) -> TrainResult:
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

    ``device``: where it trains (``device.resolve_device``: None, the best this machine has);
    ``progress``: a progress bar while training (``progress.show_progress`` decides when ``None``).
    """
    if not isinstance(config, Config):
        raise TypeError(f"run() takes a Config, got {type(config).__name__}; see condense_lib.get_config")
    device = resolve_device(device)
    check = result_check(config)
    if use_cache:
        found = _stored(config, check)
        if found is not None:
            return TrainResult.from_arrays(found)

    arrays = load_or_compute("run", config.cache_key(), _trainer(config, config.build, device, progress),
                             validate=check, use_cache=use_cache)
    return TrainResult.from_arrays(arrays)


def run_variant(config: Config, variant: dict, build, *, dropped=(), device=None, use_cache: bool = True) -> TrainResult:
    """``run`` for a run that a ``Config`` alone does not describe: ``build()`` returns the
    (x, y, model) to train in place of ``config.build()`` (other targets, a model without one of
    its layers), trained with ``config``'s options and cached, like ``run``, under
    ``config.cache_key()`` plus ``variant``, the dict that names the difference (``{"out_bias":
    False}``). ``dropped``: parameters the model does not have (``"readout.bias"``), which the
    check of the result (``result_check(config)``) then does not ask for."""
    if not isinstance(config, Config):
        raise TypeError(f"run_variant() takes a Config, got {type(config).__name__}; see condense_lib.get_config")
    if not isinstance(variant, dict) or not variant:
        raise ValueError("variant must be a non-empty dict naming what differs from config; for config itself, use run()")
    device = resolve_device(device)
    check = result_check(config)
    absent = np.array([f"param/{name}" for name in dropped])
    validate = (lambda arrays: check({**arrays, "dropped": absent})) if len(absent) else check
    arrays = load_or_compute("run", {**config.cache_key(), **variant}, _trainer(config, build, device, False),
                             validate=validate, use_cache=use_cache)
    return TrainResult.from_arrays(arrays)


def _trainer(config: Config, build, device, progress):
    """The computation behind ``run`` and ``run_variant``: train ``build()``'s (x, y, model) with
    ``config``'s options on ``device``, and return its arrays with how it was made."""
    def compute():
        x, y, model = build()
        start = time.perf_counter()
        with full_float32(device):
            result = train(model, x, y, device=device, progress=progress, **config.train_options())
        synchronize(device)
        return {**result.to_arrays(), "provenance": np.array(json.dumps(provenance_record(device, time.perf_counter() - start)))}

    return compute


def provenance_record(device, seconds: float) -> dict:
    """How a run was made, stored with it (and in the shipped results' manifest): the library's
    version and git commit (when it runs from a checkout), torch, the device, the CPU threads,
    the wall time of the training in seconds, the date."""
    import datetime
    import subprocess
    from importlib import metadata

    try:
        version = metadata.version("condense_lib")
    except metadata.PackageNotFoundError:  # a folder uploaded next to a notebook
        version = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, text=True,
                                capture_output=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else _cpu_name()
    return dict(library=version, commit=commit, torch=torch.__version__, device=f"{dev.type} ({name})",
                threads=torch.get_num_threads(), seconds=round(float(seconds), 1),
                date=datetime.date.today().isoformat())


def _cpu_name() -> str:
    """The processor's model name (Linux's /proc/cpuinfo), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _stored(config: Config, check) -> Optional[dict]:
    """The valid arrays of ``config`` in the cache, else in the shipped results; None if neither."""
    stem = config.cache_path().stem
    found = lookup(stem, check)
    if found is None:
        found = shipped_arrays(stem, config.cache_key())
        if found is not None and check(found) is not None:
            found = None
    return found


def seconds_per_epoch(config: Config, *, device=None, epochs: int = 2) -> float:
    """An estimate of the wall-clock seconds one epoch of ``config`` takes on ``device``: the mean
    over ``epochs`` timed steps, after one untimed step (allocation, kernel selection). Trains a
    fresh model of ``config`` on its data and caches nothing; the time of a whole run is about
    ``config.epochs`` times this (an estimate: the machine's load and the recording of
    snapshots change it)."""
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    device = resolve_device(device)
    x, y, model = config.build()
    options = {**config.train_options(), "snapshot_epochs": (), "device": device, "progress": False}
    with full_float32(device):
        train(model, x, y, **{**options, "epochs": 1})
        synchronize(device)
        start = time.perf_counter()
        train(model, x, y, **{**options, "epochs": epochs})
        synchronize(device)
    return (time.perf_counter() - start) / epochs


def is_cached(config: Config) -> bool:
    """Whether a valid result of ``config`` is at hand, readable, complete and finite: in the
    cache, or among the shipped results (``shipped``)."""
    return _stored(config, result_check(config)) is not None
