"""The paper's own runs, shipped with the book: the folder ``results/`` of the repository.

Each file is a finished run of the results cache (``cache.write_npz``: the arrays of a
``TrainResult`` and the run's configuration, ``run-<hash of Config.cache_key()>.npz``) at the
paper's setting, holding only what the chapters read (the conv kernels and the readout at the
recorded epochs, the loss and accuracy per epoch; never the 13-26 million weights of an FC
head, ``config.UNRECORDED``; the readout only of the two-layer runs, whose chapters decompose it,
the others naming it in their array ``dropped``). ``results/manifest.json`` lists them: per figure its ``Config``,
its key, and how it was made (library version and commit, torch, device, threads, wall time).

``runner.run`` and ``runner.is_cached`` read a shipped run as they read the cache, so the scale
policy (``runner.resolve_scale``: ``"auto"``) takes the paper's run wherever it is shipped.
Where the package is installed without the folder (Colab installs it from git),
``CONDENSE_RESULTS_URL`` names where the folder is served (``notebook.notebook_setup`` sets it
to the chapter's release on GitHub); a shipped file is then fetched once into the cache.
``python -m condense_lib ship NAME ...`` copies finished paper-scale runs from the cache into
the folder and rewrites the manifest (``make paper``).
"""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Optional

import numpy as np

from .cache import cache_dir, read_npz

__all__ = ["results_dir", "read_manifest", "shipped_arrays", "compact_arrays", "write_manifest", "MANIFEST"]

MANIFEST = "manifest.json"


def results_dir() -> Optional[Path]:
    """The folder of shipped results: ``CONDENSE_RESULTS`` if set, else ``results/`` beside the
    package in a checkout of the repository; None when there is none."""
    if os.environ.get("CONDENSE_RESULTS"):
        return Path(os.environ["CONDENSE_RESULTS"]).expanduser()
    here = Path(__file__).resolve().parents[2] / "results"
    return here if here.is_dir() else None


def _fetched_dir() -> Path:
    return cache_dir() / "shipped"


def read_manifest(folder: Optional[Path] = None) -> dict:
    """The manifest of ``folder`` (default ``results_dir()``): ``{"runs": {name: entry}}``;
    empty when there is none."""
    folder = results_dir() if folder is None else Path(folder)
    path = None if folder is None else folder / MANIFEST
    if path is None or not path.is_file():
        return {"runs": {}}
    return json.loads(path.read_text())


def _download(url: str, target: Path) -> bool:
    """Copy ``url`` to ``target`` (atomically); False when it cannot be had."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(tmp, target)
        return True
    except (OSError, ValueError):
        tmp.unlink(missing_ok=True)
        return False


_REMOTE: dict = {}  # base URL -> the file names its manifest lists


def _fetch(file_name: str) -> Optional[Path]:
    """The shipped file ``file_name`` from ``CONDENSE_RESULTS_URL``, fetched once into the cache
    folder when the remote manifest lists it; None when no URL is set, the run is not listed or
    the fetch fails (offline: the run is then trained instead)."""
    base = os.environ.get("CONDENSE_RESULTS_URL", "").rstrip("/")
    if not base:
        return None
    target = _fetched_dir() / file_name
    if target.is_file():
        return target
    if base not in _REMOTE:
        listed = _fetched_dir() / MANIFEST
        ok = _download(f"{base}/{MANIFEST}", listed)
        _REMOTE[base] = {e["file"] for e in read_manifest(listed.parent)["runs"].values()} if ok else set()
    if file_name not in _REMOTE[base]:
        return None
    return target if _download(f"{base}/{file_name}", target) else None


def shipped_arrays(stem: str, key: dict) -> Optional[dict]:
    """The arrays of the shipped run ``stem`` (``run-<hash>``) when it holds the configuration
    ``key``; None when no such run is shipped (here, or at ``CONDENSE_RESULTS_URL``)."""
    name = f"{stem}.npz"
    folder = results_dir()
    path = folder / name if folder is not None and (folder / name).is_file() else _fetch(name)
    return None if path is None else read_npz(path, key)


def compact_arrays(arrays: dict, config) -> dict:
    """What a shipped run keeps of its cached ``arrays``: everything, but for runs of several conv
    layers the readout, which only the two-layer figures' chapters read (theta_bar, eq. 33); the
    names left out go into the array ``dropped``, which ``runner.result_check`` accepts."""
    arrays = {k: v for k, v in arrays.items() if not k.startswith("check/")}
    if len(config.channels) > 1:
        dropped = [k for k in arrays if k.startswith("param/readout.")]
        arrays = {k: v for k, v in arrays.items() if k not in dropped}
        arrays["dropped"] = np.array(dropped)
    return arrays


def write_manifest(folder: Path, runs: dict) -> Path:
    """Write ``{"runs": runs}`` (sorted by name) to ``folder/manifest.json`` atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path, tmp = folder / MANIFEST, folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"runs": dict(sorted(runs.items()))}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
