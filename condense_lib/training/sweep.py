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
The named sweeps of the chapters "Beyond the paper", ``SWEEPS[name](scale)``, are defined with
their studies (``condense_lib.studies``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Sequence

import numpy as np

from .cache import cache_dir, load_or_compute
from .config import Config
from .device import full_float32, resolve_device
from .progress import progress_bar
from .runner import is_cached, result_check, run
from .trainer import TrainResult, train
from .two_layer import covers

__all__ = ["sweep", "sweep_groups", "train_group"]


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
    return TrainResult.from_arrays(load_or_compute("run", config.cache_key(), lambda: arrays, validate=result_check(config)))


def train_group(configs: Sequence[Config], *, device=None) -> list[TrainResult]:
    """Train a group of ``sweep_groups`` and cache each point: one ``train`` call for the S
    seeds when the closed form covers them, else ``run`` point by point."""
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
    with full_float32(resolve_device(device)):
        results = train(models, xs, ys, device=device, progress=False, **first.train_options())
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
        return [r.to_arrays() for r in train_group(configs, device=device)]


def sweep(configs: Sequence[Config], client=None, *, device=None, progress=None, batch: int = 1) -> list[TrainResult]:
    """Run every configuration (cached) and return the results in the order of ``configs``.

    Parameters
    ----------
    configs : the points, ``Config`` s (repeats are trained once).
    client : a ``dask.distributed.Client``: the points train on its workers, which store
        into the driver's ``cache_dir()`` (they must share it, see the module docstring);
        ``None`` trains here, one group after another.
    device : the torch device each point trains on (a worker's, with a client; None: the best
        there, ``device.resolve_device``).
    progress : a progress bar over the points (``progress.progress_bar``).
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
    bar = progress_bar(len(configs), progress, desc="sweep", unit="point")
    if bar is not None:
        bar.update(sum(c in done for c in configs))
    if client is None:
        for group in groups:
            done.update(zip(group, train_group(group, device=device)))
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
