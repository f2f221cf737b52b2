"""Command line: list the paper's figures, or train them ahead of time into the cache.

    python -m condense_lib list [fig12 ...] [--scale fast|paper] [--estimate --device cuda]
    python -m condense_lib run fig12 fig4 --scale paper --device cuda
    python -m condense_lib run fig12 --set n=100 seed=1
    python -m condense_lib sweep phase_diagram --scale paper --scheduler local
    python -m condense_lib ship fig12 fig6 --out results

``run`` takes figure names (``fig12``), a figure's prefix (``fig4`` for its three
panels) or ``all``, and fills ``CONDENSE_CACHE`` with the results the notebooks
then read, so a GPU can compute the paper scale once for every later session.
``--set FIELD=VALUE ...`` changes ``Config`` fields of the selected runs (values are
Python literals: ``n=100``, ``lr=1e-3``, ``snapshot_epochs=0,5,10``; a bare word is a
string: ``activation=relu``); the changed runs are cached under their own keys.
``sweep NAME`` trains a named sweep of the chapters "Beyond the paper" (``sweep.SWEEPS``)
into the cache: here, one point after another, or with ``--scheduler local`` on a Dask
``LocalCluster`` of this machine, or ``--scheduler tcp://host:8786`` on a running Dask
cluster whose workers share ``CONDENSE_CACHE`` (``pip install "condense_lib[sweep]"``).

``ship NAME ...`` copies the finished paper-scale runs of the figures from the cache into the
shipped results (``results/``, ``training.shipped``) and rewrites its manifest: each run's
configuration, key and how it was made (``runner.provenance_record``, stored with the run when it
trained; ``--provenance FILE`` supplies it, as JSON ``{name: {...}}``, for runs trained before).

``list --estimate`` times two epochs of each setting on ``--device`` (after one untimed
step) and prints epochs x seconds per epoch: an estimate of each run's time, not a promise.

Expected failures (an unknown figure or field, a bad value or scale, a device that is
not there, an unwritable cache, missing or corrupt data) print one line on stderr and
exit with status 2; warnings print one line each.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import sys
import time
import warnings
from pathlib import Path

from .paper.figures import FIGURES, figure_names
from .training.cache import CacheError, cache_dir
from .training.config import Config
from .training.device import resolve_device
from .training.runner import SCALES, default_scale, is_cached, run, seconds_per_epoch


def _describe(config) -> str:
    widths = set(config.channels)
    net = (f"{len(config.channels)} x {config.channels[0]}C" if len(widths) == 1 and len(config.channels) > 1
           else "-".join(f"{c}C" for c in config.channels))
    net += f"-({config.hidden})-{config.d} m={config.m}" if config.head == "fc" else f"-{config.d} m={config.m}"
    return (f"{config.dataset:7s} n={config.n:<3d} {net:22s} {config.activation:7s} gamma={config.gamma:<3g} "
            f"{config.optimizer:4s} lr={config.lr:<7.2g} epochs={config.epochs:<5d} {config.loss:11s} {config.normalization}")


def _overrides(items) -> dict:
    """``["n=20", "activation=relu"]`` -> ``{"n": 20, "activation": "relu"}``, fields of ``Config`` only."""
    fields = [f.name for f in dataclasses.fields(Config)]
    changes = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--set {item!r}: write FIELD=VALUE, e.g. --set n=100 seed=1")
        if name not in fields:
            raise ValueError(f"--set {item!r}: unknown field {name!r}: choose one of {', '.join(fields)}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare word: a string (activation=relu)
        changes[name] = tuple(value) if isinstance(value, list) else value
    return changes


def _config(name: str, scale: str, changes: dict) -> Config:
    config = FIGURES[name].config(scale)
    try:
        return config.replace(**changes) if changes else config
    except ValueError as err:
        raise ValueError(f"{name} with --set {' '.join(f'{k}={v!r}' for k, v in changes.items())}: {err}") from None


def _check_device(device) -> None:
    """Refuse a device string torch does not know, or a device absent here, before any work."""
    import torch

    try:
        dev = resolve_device(device)
    except ValueError as err:
        raise ValueError(f"--{err}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA device is available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: no MPS device (Apple GPU) is available here; use --device cpu")
    if dev.type == "meta":
        raise ValueError("--device meta holds no numbers; use --device cpu or cuda")
    try:
        torch.zeros(1, device=dev)
    except Exception as err:  # NotImplementedError (mps, xla not built in), RuntimeError (no driver, bad index)
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0][:200]
        raise ValueError(f"--device {device}: not usable here ({reason}); use --device cpu") from None


def _scale(args) -> str:
    """``--scale``, else ``CONDENSE_SCALE`` (default fast); "auto" chooses per chapter, not here."""
    scale = args.scale or default_scale()
    if scale == "auto":
        raise ValueError("CONDENSE_SCALE=auto chooses the scale per chapter; give --scale fast or --scale paper")
    return scale


def _list(args) -> int:
    scale = _scale(args)
    changes = _overrides(args.set)
    names = figure_names(args.figures or "all")
    configs = {name: _config(name, scale, changes) for name in names}
    if args.estimate:
        _check_device(args.device)
    print(f"figures at the {scale!r} scale (cache: {cache_dir()}):")
    timed, total = {}, 0.0
    for name, config in configs.items():
        mark = "cached" if is_cached(config) else ""
        if args.estimate and config not in timed:  # figs. 2, 3 and 8 share one run
            timed[config] = seconds_per_epoch(config, device=args.device)
            total += 0.0 if mark else config.epochs * timed[config]
        estimate = (f"  ~{_duration(config.epochs * timed[config])} ({config.epochs} x {timed[config]:.3g} s)"
                    if args.estimate else "")
        print(f"  {name:14s} {_describe(config)}  {mark}{estimate}", flush=True)
    if args.estimate:
        print(f"estimated on {resolve_device(args.device)}, from two timed epochs each: about {_duration(total)} "
              f"for the runs not yet cached")
    return 0


def _duration(seconds: float) -> str:
    """``42 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _run(args) -> int:
    scale = _scale(args)
    names = figure_names(args.figures)
    changes = _overrides(args.set)
    configs = [(name, _config(name, scale, changes)) for name in names]  # every setting checked before training
    _check_device(args.device)
    done = set()
    for name, config in configs:
        if config in done:  # figs. 2, 3 and 8 share one run
            print(f"{name}: same run as above")
            continue
        start = time.perf_counter()
        print(f"{name}: {_describe(config)}", flush=True)
        run(config, device=args.device, progress=not args.quiet)
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
        done.add(config)
    return 0


def _ship(args) -> int:
    import json

    from .training.cache import lookup, write_npz
    from .training.provenance import replay_arrays
    from .training.runner import result_check
    from .training.shipped import compact_arrays, read_manifest, write_manifest

    changes = _overrides(args.set)
    out = Path(args.out)
    given = json.loads(Path(args.provenance).read_text()) if args.provenance else {}
    runs = read_manifest(out)["runs"]
    for name in figure_names(args.figures):
        config = _config(name, "paper", changes)
        stem = config.cache_path().stem
        arrays = lookup(stem, result_check(config))
        if arrays is None:
            raise ValueError(f"{name}: its paper-scale run is not in the cache ({cache_dir()}): train it first, "
                             f"python -m condense_lib run {name} --scale paper")
        made = json.loads(str(arrays["provenance"])) if "provenance" in arrays else given.get(name)
        if made is None:
            raise ValueError(f"{name}: the cached run records no provenance: give it with --provenance FILE")
        arrays = compact_arrays(arrays, config)
        arrays.update(replay_arrays(config))  # the first epochs again, here: what check_shipped compares
        write_npz(out / f"{stem}.npz", arrays, config.cache_key())
        runs[name] = dict(file=f"{stem}.npz", key=stem.rpartition("-")[2], config=config.to_dict(),
                          provenance=made, bytes=(out / f"{stem}.npz").stat().st_size)
        print(f"{name}: {stem}.npz ({runs[name]['bytes'] / 1e6:.1f} MB), trained in {made.get('seconds')} s on "
              f"{made.get('device')}", flush=True)
    for stale in set(f.name for f in out.glob("run-*.npz")) - {e["file"] for e in runs.values()}:
        (out / stale).unlink()
    write_manifest(out, runs)
    return 0


def _client(scheduler):
    """A Dask client: none for None, a LocalCluster for "local", else the scheduler at that address."""
    if scheduler is None:
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--scheduler needs Dask: pip install 'condense_lib[sweep]' (dask[distributed])") from None
    if scheduler == "local":
        return Client(LocalCluster(threads_per_worker=1, processes=True, dashboard_address=None))
    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise ValueError(f"--scheduler {scheduler}: no Dask scheduler answers there ({err})") from None


def _sweep(args) -> int:
    from .studies.sweeps import SWEEPS
    from .training.sweep import sweep

    scale = _scale(args)
    if args.name not in SWEEPS:
        raise ValueError(f"unknown sweep {args.name!r}: choose one of {', '.join(sorted(SWEEPS))}")
    configs = SWEEPS[args.name](scale)
    _check_device(args.device)
    missing = [c for c in dict.fromkeys(configs) if not is_cached(c)]
    print(f"sweep {args.name} ({scale}): {len(configs)} points, {len(configs) - len(missing)} cached "
          f"(cache: {cache_dir()})", flush=True)
    start = time.perf_counter()
    client = _client(args.scheduler) if missing else None  # all cached: nothing to distribute
    try:
        sweep(configs, client, device=args.device, progress=not args.quiet, batch=args.batch)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None and args.scheduler == "local":
                cluster.close()
    print(f"sweep {args.name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m condense_lib", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the figures, their settings and whether they are cached")
    listing.add_argument("figures", nargs="*", help="figure names, prefixes or 'all' (default)")
    listing.add_argument("--scale", choices=SCALES, help="default: $CONDENSE_SCALE or 'fast'")
    listing.add_argument("--set", nargs="+", action="extend", metavar="FIELD=VALUE", help="change Config fields")
    listing.add_argument("--estimate", action="store_true",
                         help="time two epochs of each run and print an estimate of its length")
    listing.add_argument("--device", help="torch device the estimate is for (default: the best here, cuda if there is one)")
    running = sub.add_parser("run", help="train figures into the cache")
    running.add_argument("figures", nargs="+", help="figure names (fig12), prefixes (fig4) or 'all'")
    running.add_argument("--scale", choices=SCALES, help="default: $CONDENSE_SCALE or 'fast'")
    running.add_argument("--device", help="torch device, e.g. cpu or cuda (default: the best here, cuda if there is one)")
    running.add_argument("--set", nargs="+", action="extend", metavar="FIELD=VALUE",
                         help="change Config fields of the runs, e.g. --set n=100 seed=1")
    running.add_argument("--quiet", action="store_true", help="no progress bar")
    sweeping = sub.add_parser("sweep", help="train a named sweep of the chapters into the cache")
    sweeping.add_argument("name", help="the sweep: seeds, phase_diagram, sensitivity or after_initial_stage")
    sweeping.add_argument("--scale", choices=SCALES, help="default: $CONDENSE_SCALE or 'fast'")
    sweeping.add_argument("--scheduler", metavar="ADDRESS|local",
                          help="a Dask scheduler address, or 'local' for a LocalCluster (default: no Dask)")
    sweeping.add_argument("--device", help="torch device of every point, e.g. cpu or cuda (default: the best there)")
    sweeping.add_argument("--batch", type=int, default=1, metavar="S",
                          help="train up to S seeds of one two-layer setting in one call (default 1: none)")
    sweeping.add_argument("--quiet", action="store_true", help="no progress bar")
    shipping = sub.add_parser("ship", help="copy finished paper-scale runs into the shipped results")
    shipping.add_argument("figures", nargs="+", help="figure names (fig12), prefixes (fig4) or 'all'")
    shipping.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"),
                          help="the shipped results folder (default: results/ of the checkout)")
    shipping.add_argument("--set", nargs="+", action="extend", metavar="FIELD=VALUE", help="change Config fields")
    shipping.add_argument("--provenance", metavar="FILE", help="JSON {name: provenance} for runs that record none")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line
        try:
            return {"list": _list, "run": _run, "sweep": _sweep, "ship": _ship}[args.command](args)
        except (ValueError, CacheError, FileNotFoundError, ImportError) as err:
            # unknown figure or field, bad value or CONDENSE_SCALE, absent device, unwritable cache, no data
            print("error: " + " ".join(str(err).split()), file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
