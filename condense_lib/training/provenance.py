"""Provenance you can check: the first epochs of a shipped run, trained again here.

A shipped run (``shipped``) was trained once, maybe on a GPU, by the code of its day. What would
make it stale is a change since then to its ``Config`` (the data, the initialization, the
schedule) or to the trainer. ``replay(config)`` trains the run's first ``REPLAY_EPOCHS`` epochs
again on the CPU (seconds, where the whole run takes minutes to hours); ``python -m condense_lib
ship`` stores that replay with the run (``check/...`` arrays), and ``check_shipped`` compares
a replay made now with what was stored:

- the parameters at epoch 0 with the run's own first snapshot (the data, the model and its
  initialization: a changed seed, n, gamma or preprocessing shows here);
- the loss and accuracy of the first epochs with the run's own curve;
- how far each conv layer's weights moved in those epochs with the stored replay (the trainer:
  a changed step, optimizer or gradient shows here, where the loss of a small initialization
  has not yet moved).

The tolerance ``REPLAY_RTOL`` is a relative error of 1e-3: float32 sums taken in another order
(another number of threads, another device) differ by about 1e-6 relative; a change of the
learning rate by 1% moves the displacement by 1%. Used by ``tests/test_shipped.py``.
"""
from __future__ import annotations

import numpy as np

from .config import Config
from .runner import run
from .shipped import read_manifest, results_dir

__all__ = ["REPLAY_EPOCHS", "REPLAY_RTOL", "ProvenanceError", "replay", "replay_arrays", "check_shipped"]

REPLAY_EPOCHS = 3
REPLAY_RTOL = 1e-3


class ProvenanceError(AssertionError):
    """A shipped run no longer follows from its ``Config`` and the trainer of today."""


def replay(config: Config, epochs: int = REPLAY_EPOCHS) -> dict:
    """Train the first ``epochs`` epochs of ``config`` on the CPU, uncached: ``loss``, ``accuracy``
    (epochs + 1,), ``start`` (parameters at epoch 0) and ``moved`` (each conv layer's weights at
    ``epochs`` minus at 0)."""
    epochs = min(int(epochs), config.epochs)
    short = config.replace(epochs=epochs, snapshot_epochs=(0, epochs))
    result = run(short, device="cpu", use_cache=False, progress=False)
    start, end = result.snapshot(0), result.snapshot(epochs)
    moved = {k: end[k].astype(np.float64) - start[k] for k in start if k.startswith("convs.") and k.endswith(".weight")}
    return dict(loss=result.loss, accuracy=result.accuracy, start=start, moved=moved)


def replay_arrays(config: Config, epochs: int = REPLAY_EPOCHS) -> dict:
    """``replay`` as the arrays stored with a shipped run: ``check/loss`` and ``check/moved/<name>``."""
    r = replay(config, epochs)
    return {"check/loss": r["loss"], **{f"check/moved/{k}": v for k, v in r["moved"].items()}}


def _error(new, old) -> float:
    new, old = np.asarray(new, dtype=np.float64), np.asarray(old, dtype=np.float64)
    scale = np.abs(old).max()
    return float(np.abs(new - old).max() / scale) if scale > 0 else float(np.abs(new).max())


def check_shipped(name: str, *, folder=None, rtol: float = REPLAY_RTOL) -> dict:
    """Replay the shipped run ``name`` (of ``results/manifest.json``) and compare (see the module
    docstring). Returns the relative errors found (``start``, ``curve``, ``moved``); raises
    ``ProvenanceError`` naming what no longer agrees and by how much."""
    folder = results_dir() if folder is None else folder
    runs = read_manifest(folder)["runs"]
    if name not in runs:
        raise KeyError(f"no shipped run {name!r}: the manifest lists {sorted(runs)}")
    entry = runs[name]
    config = Config(**entry["config"])
    if config.cache_path().stem.rpartition("-")[2] != entry["key"]:
        raise ProvenanceError(f"{name}: its Config no longer hashes to the shipped key {entry['key']} (a field or "
                              f"RESULTS_VERSION changed): train it again (make paper)")
    with np.load(f"{folder}/{entry['file']}", allow_pickle=False) as f:
        stored = {k: f[k] for k in f.files}
    if "check/loss" not in stored:
        raise ProvenanceError(f"{name}: the shipped file holds no replay (check/...): ship it again")
    new = replay(config, len(stored["check/loss"]) - 1)
    E = len(new["loss"])
    errors = dict(
        start=max(_error(v, stored[f"param/{k}"][0]) for k, v in new["start"].items() if f"param/{k}" in stored),
        curve=max(_error(new["loss"], stored["loss"][:E]), _error(new["accuracy"], stored["accuracy"][:E])),
        moved=max(_error(v, stored[f"check/moved/{k}"]) for k, v in new["moved"].items()),
    )
    what = {"start": "the parameters at epoch 0 (data, model, initialization)",
            "curve": f"the loss and accuracy of the first {E - 1} epochs",
            "moved": f"how far the conv weights moved in {E - 1} epochs (the trainer)"}
    failed = [f"{what[k]}: relative error {v:.2g} > {rtol:g}" for k, v in errors.items() if not v <= rtol]
    if failed:
        raise ProvenanceError(f"{name}: the shipped run is stale; " + "; ".join(failed)
                              + ". Train it again (make paper) or undo the change.")
    return errors
