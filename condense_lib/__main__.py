"""Command line: list the paper's figures, or train them ahead of time into the cache.

    python -m condense_lib list [--scale fast|paper]
    python -m condense_lib run fig12 fig4 --scale paper --device cuda

``run`` takes figure names (``fig12``), a figure's prefix (``fig4`` for its three
panels) or ``all``, and fills ``CONDENSE_CACHE`` with the results the notebooks
then read, so a GPU can compute the paper scale once for every later session.
"""
from __future__ import annotations

import argparse
import sys
import time

from .cache import cache_dir
from .experiments import FIGURES, SCALES, default_scale, figure_names, run


def _cached(config) -> bool:
    return config.cache_path().is_file()


def _describe(config) -> str:
    widths = set(config.channels)
    net = (f"{len(config.channels)} x {config.channels[0]}C" if len(widths) == 1 and len(config.channels) > 1
           else "-".join(f"{c}C" for c in config.channels))
    net += f"-({config.hidden})-{config.d} m={config.m}" if config.head == "fc" else f"-{config.d} m={config.m}"
    return (f"{config.dataset:7s} n={config.n:<3d} {net:22s} {config.activation:7s} gamma={config.gamma:<3g} "
            f"{config.optimizer:4s} lr={config.lr:<7.2g} epochs={config.epochs:<5d} {config.loss}")


def _list(args) -> int:
    scale = args.scale or default_scale()
    print(f"figures at the {scale!r} scale (cache: {cache_dir()}):")
    for name, figure in FIGURES.items():
        config = figure.config(scale)
        mark = "cached" if _cached(config) else ""
        print(f"  {name:14s} {_describe(config)}  {mark}")
    return 0


def _run(args) -> int:
    scale = args.scale or default_scale()
    names = figure_names(args.figures)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError("--device cuda: no CUDA device is available here; use --device cpu")
    done = set()
    for name in names:
        config = FIGURES[name].config(scale)
        if config in done:  # figs. 2, 3 and 8 share one run
            print(f"{name}: same run as above")
            continue
        start = time.perf_counter()
        print(f"{name}: {_describe(config)}", flush=True)
        run(config, device=args.device, progress=not args.quiet)
        print(f"{name}: done in {time.perf_counter() - start:.0f} s", flush=True)
        done.add(config)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m condense_lib", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="the figures, their settings and whether they are cached")
    listing.add_argument("--scale", choices=SCALES, help="default: $CONDENSE_SCALE or 'fast'")
    running = sub.add_parser("run", help="train figures into the cache")
    running.add_argument("figures", nargs="+", help="figure names (fig12), prefixes (fig4) or 'all'")
    running.add_argument("--scale", choices=SCALES, help="default: $CONDENSE_SCALE or 'fast'")
    running.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
    running.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        return _list(args) if args.command == "list" else _run(args)
    except ValueError as err:  # unknown figure, bad CONDENSE_SCALE, no CUDA
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
