"""Sweeps: many ``Config`` s through the cached runner, here or on a Dask cluster.

``sweep(configs)`` returns the ``TrainResult`` of every configuration, in order, as
``[run(c) for c in configs]`` would, with three differences:

- points already in the cache are read and never resubmitted;
- on request (``batch=S``), points that differ only in ``seed`` and are two-layer CNNs with
  a linear readout that the closed-form trainer covers (``two_layer.covers``, GD or Adam)
  train together, up to S of them in one ``train([models...], xs, ys)`` call with one sample
  per seed, (S, n, C, H, W). The result of each point equals ``run``'s to float rounding (the
  sums are chunked differently; ``tests/test_sweep.py``), and each is cached under its own
  key, so a later ``run(c)`` reads it. Off by default: measured on a 2-core CPU it is not
  cheaper at the sizes the chapters use (the phase diagram's 50-image runs: 0.6 to 1.0 times
  the time of one run after another; Fig. 12, four seeds: 1.1 times faster), since a CPU
  is already busy with one network's products. It is meant for devices that one small
  network leaves idle (a GPU), where it is unmeasured here;
- with ``client``, a ``dask.distributed.Client``, each group of points is one task on the
  cluster's workers; a worker that dies has its tasks recomputed elsewhere by Dask.

Workers call ``run`` (or train a batch) and store into the cache folder the driver passes
them explicitly (its ``cache_dir()``): **the workers must see that folder**, the same path on
a shared file system, for a later ``sweep`` or ``run`` to find their results. The arrays also
travel back to the driver, which stores them in its own cache if they are not there.

Where to run (``pip install "condense_lib[sweep]"`` installs Dask)::

    # a LocalCluster on this machine: one single-threaded worker process per core
    python -m condense_lib sweep phase_diagram --scale paper --scheduler local

    # any running Dask cluster (dask scheduler / dask worker, Kubernetes, Coiled, ...)
    python -m condense_lib sweep seeds --scale paper --scheduler tcp://host:8786

    # from Python, e.g. Slurm through dask-jobqueue, each job one worker
    from dask_jobqueue import SLURMCluster
    from dask.distributed import Client
    cluster = SLURMCluster(cores=4, memory="16GB", walltime="02:00:00")
    cluster.scale(jobs=10)
    results = cl.sweep(cl.SWEEPS["phase_diagram"]("paper"), Client(cluster))

    # GPUs through dask-cuda: one worker per GPU, and device="cuda"
    from dask_cuda import LocalCUDACluster
    results = cl.sweep(configs, Client(LocalCUDACluster()), device="cuda")

On a cluster, set ``CONDENSE_CACHE`` (and ``CONDENSE_DATA``) to folders every worker mounts.
``SWEEPS[name](scale)`` are the named sweeps of the chapters "Beyond the paper".
"""
from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from .cache import cache_dir, load_or_compute
from .experiments import FIGURES, UNRECORDED, Config, _full_float32, _valid, is_cached, run, theory_config
from .train import TrainResult, show_progress, train

__all__ = ["sweep", "sweep_groups", "SWEEPS", "seed_sweep", "phase_diagram_configs", "PHASE_DIAGRAM",
           "SENSITIVITY", "SensitivityRow", "sensitivity_rows", "sensitivity_configs",
           "AFTER_INITIAL_STAGE", "after_initial_stage_configs"]


def _batchable(config: Config) -> bool:
    """Whether ``config`` may train together with its other seeds: a two-layer CNN with a
    linear readout (``two_layer.covers`` then decides on the built models)."""
    return len(config.channels) == 1 and config.head == "linear" and config.optimizer in ("gd", "adam")


def sweep_groups(configs: Sequence[Config], batch: int = 1) -> list[list[Config]]:
    """The distinct ``configs`` in groups that train together: points equal but for ``seed``
    that ``_batchable`` accepts, at most ``batch`` per group, the others alone. Order kept."""
    if not (isinstance(batch, (int, np.integer)) and batch >= 1):
        raise ValueError(f"batch must be a positive integer (1: no batching), got {batch!r}")
    by_key: "OrderedDict[object, list]" = OrderedDict()
    for c in dict.fromkeys(configs):  # distinct, in order
        key = c.replace(seed=0) if _batchable(c) and batch > 1 else c
        by_key.setdefault(key, []).append(c)
    return [members[i:i + batch] for members in by_key.values() for i in range(0, len(members), batch)]


def _store(config: Config, arrays: dict) -> TrainResult:
    """The result of ``config``: the cached file when there is one, else ``arrays``, stored."""
    return TrainResult.from_arrays(load_or_compute("run", config.cache_key(), lambda: arrays, _valid(config)))


def train_group(configs: Sequence[Config], device: str = "cpu") -> list[TrainResult]:
    """Train a group of ``sweep_groups`` and cache each point: one ``train`` call for the S
    seeds when the closed form covers them, else ``run`` point by point."""
    from .two_layer import covers

    configs = list(configs)
    if len(configs) == 1 or any(is_cached(c) for c in configs):
        return [run(c, device=device, progress=False) for c in configs]
    first = configs[0]
    built = [c.build() for c in configs]
    models = [b[2] for b in built]
    if not covers(models, first.loss):
        return [run(c, device=device, progress=False) for c in configs]
    import torch

    xs, ys = torch.stack([b[0] for b in built]), torch.stack([b[1] for b in built])  # (S, n, C, H, W), (S, n, ...)
    with _full_float32(device):
        results = train(models, xs, ys, optimizer=first.optimizer, lr=first.lr, epochs=first.epochs,
                        loss=first.loss, snapshot_epochs=first.snapshot_epochs, device=device, progress=False,
                        unrecorded=UNRECORDED)
    return [_store(c, r.to_arrays()) for c, r in zip(configs, results)]


@contextmanager
def _cache_folder(folder: str):
    saved = os.environ.get("CONDENSE_CACHE")
    os.environ["CONDENSE_CACHE"] = folder
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CONDENSE_CACHE", None)
        else:
            os.environ["CONDENSE_CACHE"] = saved


def _remote(configs: list, folder: str, device: str) -> list[dict]:
    """What one Dask task does: train (or read) a group into ``folder``, one torch thread per
    worker thread, and send the arrays back."""
    import torch

    try:
        from distributed import get_worker

        torch.set_num_threads(max(1, get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        pass
    with _cache_folder(folder):
        return [r.to_arrays() for r in train_group(configs, device)]


def _progress_bar(total: int, progress: Optional[bool]):
    if not show_progress(progress) or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sweep", unit="point", leave=False)


def sweep(configs: Sequence[Config], client=None, *, device: str = "cpu", progress: Optional[bool] = None,
          batch: int = 1) -> list[TrainResult]:
    """Run every configuration (cached) and return the results in the order of ``configs``.

    Parameters
    ----------
    configs : the points, ``Config`` s (repeats are trained once).
    client : a ``dask.distributed.Client``: the points train on its workers, which store
        into the driver's ``cache_dir()`` (they must share it, see the module docstring);
        ``None`` trains here, one group after another.
    device : the torch device each point trains on (a worker's, with a client).
    progress : a progress bar over the points (``train.show_progress`` decides when ``None``).
    batch : at most this many seeds of one two-layer setting train together in one call
        (default 1: every point alone; see the module docstring for when batching pays).

    Returns
    -------
    list of ``TrainResult``, ``result[k]`` that of ``configs[k]``, equal to ``run(configs[k])``
    to float rounding. Points already cached are read and not trained or submitted.
    """
    configs = list(configs)
    bad = [c for c in configs if not isinstance(c, Config)]
    if bad:
        raise TypeError(f"sweep() takes Config s, got {type(bad[0]).__name__}; see condense_lib.get_config")
    done = {c: run(c) for c in dict.fromkeys(configs) if is_cached(c)}
    groups = sweep_groups([c for c in configs if c not in done], batch)
    bar = _progress_bar(len(configs), progress)
    if bar is not None:
        bar.update(sum(c in done for c in configs))
    if client is None:
        for group in groups:
            done.update(zip(group, train_group(group, device)))
            if bar is not None:
                bar.update(sum(c in group for c in configs))
    elif groups:
        from distributed import as_completed

        folder = str(cache_dir())
        futures = {client.submit(_remote, group, folder, device, pure=False): group for group in groups}
        for future in as_completed(futures):
            group = futures[future]
            done.update((c, _store(c, arrays)) for c, arrays in zip(group, future.result()))
            if bar is not None:
                bar.update(sum(c in group for c in configs))
    if bar is not None:
        bar.close()
    return [done[c] for c in configs]


# ---------------------------------------------------------------------------------------
# The named sweeps of the chapters "Beyond the paper".

SEED_FIGURES = ("fig12", "fig6", "fig10_tanh")  # the two-layer figures whose spread over seeds the book measures


def seed_sweep(scale: str = "fast", seeds: int = 8, figures: Sequence[str] = SEED_FIGURES) -> list[Config]:
    """Each figure of ``figures`` at ``scale`` with seeds 0..``seeds``-1 (the sample and the
    initialization change together); seed 0 is the book's figure. Figure by figure."""
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    return [FIGURES[name][scale].replace(seed=s) for name in figures for s in range(seeds)]


# The phase diagram: eps^2 = M^-gamma_eps (eq. 8) over gamma_eps x M, on the theory chapter's
# tiny problem (50 MNIST test images, centre 6 x 6 crop, m = 3). fast: the chapter's live grid.
PHASE_DIAGRAM = {
    "fast": dict(gammas=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0), widths=(16, 32, 64, 256, 1024), seeds=2,
                 horizon=6.0, every=3),
    "paper": dict(gammas=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5),
                  widths=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096), seeds=4, horizon=10.0, every=5),
}


def phase_diagram_configs(gammas, widths, seeds: int = 2, *, base: Optional[Config] = None, lr_lambda: float = 0.1,
                          horizon: float = 6.0, every: int = 2, lambda_1: Optional[float] = None) -> list[Config]:
    """The GD runs of the phase diagram: for each gamma_eps of ``gammas`` (outer), width M of
    ``widths`` and seed, ``base`` (default: the theory chapters' ``theory_config(n=50, crop=6,
    m=3)``) with M kernels and eps = M^(-gamma_eps / 2) (eps^2 = M^-gamma_eps, eq. 8).

    The step is lr = lr_lambda / (lambda_1 max(1, M eps^2)): lambda_1 sets the time scale of the
    linear dynamics (Prop. 1), and when M eps^2 > 1 (gamma_eps < 1) the network's kernel grows
    like M eps^2 and the step shrinks with it to stay stable. Each run lasts ``horizon`` /
    lr_lambda steps, snapshots every ``every``: lambda_1 t = horizon when M eps^2 <= 1.
    ``lambda_1``: of the seed-0 sample's Z (default), shared by every seed so that the seeds
    of one point differ only in ``seed`` (and may train together, ``sweep(..., batch=S)``).
    """
    from .data_matrix import build_Z, spectrum

    base = theory_config(n=50, crop=6, m=3) if base is None else base
    if lambda_1 is None:
        lambda_1 = float(spectrum(build_Z(*base.replace(seed=0).data(), base.m, base.padding)).singular_values[0])
    steps = int(round(horizon / lr_lambda))
    configs = []
    for g in gammas:
        for M in widths:
            eps = float(M) ** (-float(g) / 2)
            lr = float(f"{lr_lambda / (lambda_1 * max(1.0, M * eps**2)):.3g}")
            point = base.replace(channels=(int(M),), eps=eps, lr=lr, epochs=steps,
                                 snapshot_epochs=tuple(range(0, steps + 1, every)))
            configs += [point.replace(seed=s) for s in range(seeds)]
    return configs


def _phase_diagram(scale: str) -> list[Config]:
    return phase_diagram_configs(**PHASE_DIAGRAM[scale])


# The sensitivity table: one factor at a time around a baseline, the theory's two-layer tanh CNN
# (``theory_config``: every parameter N(0, eps^2), GD at a fixed lr, MSE on the label) on whole
# 28 x 28 MNIST test images. ``base``: the baseline's fields; ``values``: each factor's values
# (the baseline's among them); ``hidden``: the width of the "fc" head; ``seeds``: 0..seeds-1.
# fast: the chapter's live grid (n = 5000, 100 times the baseline's cost, lives only in "paper").
SENSITIVITY = {
    "fast": dict(base=dict(n=50, eps=1e-5, lr=5e-4, epochs=129), every=3, hidden=32, seeds=1,
                 values=dict(n=(50, 500), m=(1, 3, 5, 7), padding=(0, "same"), bias=("out", "in"),
                             head=("linear", "fc"))),
    "paper": dict(base=dict(n=500, eps=1e-5, lr=5e-4, epochs=150), every=3, hidden=1024, seeds=4,
                  values=dict(n=(50, 500, 5000), m=(1, 3, 5, 7), padding=(0, "same"), bias=("out", "in"),
                              head=("linear", "fc"))),
}


@dataclass(frozen=True)
class SensitivityRow:
    """One row of the sensitivity table: ``factor`` at ``value``, the rest at the baseline.

    ``config``: the run of seed 0; ``bias``: whether the measured kernel vectors carry the
    bias (the factor "bias", and m = 1, whose 1 x 1 kernel without its bias is one number);
    ``baseline``: whether this row is the baseline itself (measured as ``bias`` says)."""

    factor: str
    value: object
    config: Config
    bias: bool
    baseline: bool


def sensitivity_rows(scale: str = "fast", grid: Optional[dict] = None) -> list[SensitivityRow]:
    """The rows of the sensitivity table at ``scale`` (``SENSITIVITY[scale]``, or ``grid``):
    for each factor (``n``, ``m``, ``padding``, ``bias``, ``head``) and each of its values, the
    baseline ``theory_config(**base)`` with that one field changed, snapshots every ``every``
    epochs. ``padding="same"`` is (m - 1) / 2 of the baseline's m; ``bias`` changes no run,
    only the measurement (``condensation.kernel_vectors(..., bias=...)``); ``head="fc"`` has
    ``hidden`` units."""
    grid = SENSITIVITY[scale] if grid is None else grid
    every, base = int(grid["every"]), dict(grid["base"])
    epochs = int(base["epochs"])
    baseline = theory_config(**base, snapshot_epochs=tuple(range(0, epochs + 1, every)))
    unknown = set(grid["values"]) - {"n", "m", "padding", "bias", "head"}
    if unknown:
        raise ValueError(f"unknown factor(s) {sorted(unknown)}: the factors are n, m, padding, bias and head")
    rows = []
    for factor, values in grid["values"].items():
        for value in values:
            if factor == "bias":
                config, bias = baseline, value == "in"
            elif factor == "head":
                config = baseline.replace(head=value, hidden=int(grid["hidden"])) if value == "fc" else baseline
                bias = False
            else:
                config = baseline.replace(**{factor: value})
                bias = config.m == 1
            base_value = {"n": baseline.n, "m": baseline.m, "padding": 0, "bias": "out", "head": "linear"}[factor]
            rows.append(SensitivityRow(factor, value, config, bias, value == base_value))
    return rows


def sensitivity_configs(scale: str = "fast", grid: Optional[dict] = None) -> list[Config]:
    """Every distinct run of the sensitivity table (``sensitivity_rows``), seeds 0..seeds-1 of each."""
    grid = SENSITIVITY[scale] if grid is None else grid
    runs = dict.fromkeys(row.config for row in sensitivity_rows(scale, grid))
    return [c.replace(seed=s) for c in runs for s in range(int(grid["seeds"]))]


# After the initial stage: the two-layer tanh CNN with a linear readout of d = 10 outputs and
# cross-entropy, trained by full-batch GD to 100% training accuracy from a small initialization
# (gamma = 2, the paper's) and a large one (gamma = 0.5), on a sample of MNIST's test split (its
# offline pool of 10,000 images), tested on n_test held-out images of the same pool.
# Snapshots every 2 epochs up to 20 (the initial stage ends there), then every 10.
# fast: the chapter's live runs (n = 200, centre 20 x 20 crop); paper: n = 500 whole images, 8 seeds.
AFTER_INITIAL_STAGE = {
    "fast": dict(n=200, crop=20, seeds=3, epochs=80, n_test=500),
    "paper": dict(n=500, crop=0, seeds=8, epochs=150, n_test=2000),
}


def after_initial_stage_configs(gammas=(2.0, 0.5), seeds: int = 3, *, n: int = 200, crop: int = 20,
                                epochs: int = 80, lr: float = 0.05, m: int = 3, channels: int = 32) -> list[Config]:
    """The runs of the chapter "After the initial stage": for each conv-initialization exponent
    gamma of ``gammas`` (outer; sigma_1 = ((c_in + c_out) m^2 / 2)^-gamma, Sec. 4.1) and seed
    0..``seeds``-1, MNIST (test split), ``n`` images cropped to ``crop`` (0: whole), a two-layer
    tanh CNN of ``channels`` kernels of size ``m`` with a linear readout of d = 10 outputs,
    cross-entropy, full-batch GD with step ``lr`` for ``epochs`` epochs (the same for every run)."""
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    snapshots = tuple(sorted({*range(0, min(20, epochs) + 1, 2), *range(0, epochs + 1, 10), epochs}))
    base = Config(dataset="mnist", split="test", n=n, crop=crop, channels=(int(channels),), m=m, activation="tanh",
                  head="linear", d=10, target="class", loss="ce", optimizer="gd", lr=lr, epochs=epochs,
                  snapshot_epochs=snapshots)
    return [base.replace(gamma=float(g), seed=s) for g in gammas for s in range(seeds)]


def _after_initial_stage(scale: str) -> list[Config]:
    grid = AFTER_INITIAL_STAGE[scale]
    return after_initial_stage_configs(seeds=grid["seeds"], n=grid["n"], crop=grid["crop"], epochs=grid["epochs"])


class _Sweeps(dict):
    """``SWEEPS[name]``: a missing name is an error that lists the sweeps."""

    def __missing__(self, name):
        raise KeyError(f"unknown sweep {name!r}: choose one of {sorted(self)}")


SWEEPS: "dict[str, Callable[[str], list[Config]]]" = _Sweeps(
    seeds=lambda scale: seed_sweep(scale),
    phase_diagram=_phase_diagram,
    sensitivity=lambda scale: sensitivity_configs(scale),
    after_initial_stage=_after_initial_stage,
)
