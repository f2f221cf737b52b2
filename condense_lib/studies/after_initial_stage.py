"""After the initial stage: runs from a small and a large initialization followed to the end of
training, tested on held-out images. Does the condensed direction last, and does the network
generalize? Its named sweep is ``after_initial_stage``.
Used in the chapter "After the initial stage".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ..paper.claims import INITIAL_STAGE
from ..theory.condensation import leading_direction
from ..theory.losses import accuracy
from ..training.config import Config
from ..training.data import held_out
from ..training.models import CNN
from ..training.runner import resolve_scale
from ..training.sweep import sweep
from ..training.trainer import TrainResult
from ..training.trajectory import measure
from .uncertainty import Interval, detectable_difference, difference_interval

__all__ = ["AFTER_INITIAL_STAGE", "after_initial_stage_configs", "after_initial_stage_sweep", "AfterInitialStage", "after_initial_stage", "held_out_accuracy"]


# After the initial stage: the two-layer tanh CNN with a linear readout of d = 10 outputs and
# cross-entropy, trained by full-batch GD to 100% training accuracy from a small initialization
# (gamma = 2, the paper's) and a large one (gamma = 0.5), on a sample of MNIST's test split (its
# offline pool of 10,000 images), tested on n_test held-out images of the same pool.
# Snapshots every 2 epochs up to 20 (the initial stage ends there), then every 10.
# fast: the chapter's live runs (n = 200, centre 20 x 20 crop, 8 seeds); paper: n = 500 whole images, 8 seeds.
AFTER_INITIAL_STAGE = {
    "fast": dict(n=200, crop=20, seeds=8, epochs=80, n_test=500),
    "paper": dict(n=500, crop=0, seeds=8, epochs=150, n_test=2000),
}


def after_initial_stage_configs(gammas_sigma=(2.0, 0.5), seeds: int = 8, *, n: int = 200, crop: int = 20,
                                epochs: int = 80, lr: float = 0.05, m: int = 3, M: int = 32) -> list[Config]:
    """The runs of the chapter "After the initial stage": for each conv-initialization exponent
    gamma of ``gammas_sigma`` (outer; sigma_1 = ((c_in + c_out) m^2 / 2)^-gamma, Sec. 4.1) and seed
    0..``seeds``-1, MNIST (test split), ``n`` images cropped to ``crop`` (0: whole), a two-layer
    tanh CNN of ``M`` kernels of size ``m`` with a linear readout of d = 10 outputs,
    cross-entropy, full-batch GD with step ``lr`` for ``epochs`` epochs (the same for every run)."""
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    snapshots = tuple(sorted({*range(0, min(20, epochs) + 1, 2), *range(0, epochs + 1, 10), epochs}))
    base = Config(dataset="mnist", split="test", n=n, crop=crop, channels=(int(M),), m=m, activation="tanh",
                  head="linear", d=10, target="class", loss="ce", optimizer="gd", lr=lr, epochs=epochs,
                  snapshot_epochs=snapshots)
    return [base.replace(gamma=float(g), seed=s) for g in gammas_sigma for s in range(seeds)]


def after_initial_stage_sweep(scale: str) -> list[Config]:
    """The named sweep ``after_initial_stage`` at ``scale``: ``after_initial_stage_configs`` with the grid's sizes."""
    grid = AFTER_INITIAL_STAGE[scale]
    return after_initial_stage_configs(seeds=grid["seeds"], n=grid["n"], crop=grid["crop"], epochs=grid["epochs"])


@dataclass(frozen=True, eq=False)
class AfterInitialStage:
    """Runs from a small and a large initialization followed to the end of training, tested on
    held-out images (see ``after_initial_stage``). ``scale``: the grid's, "fast" or "paper".

    ``gammas_sigma`` (G,) the conv-initialization exponents (sigma_1 = fan^-gamma, Sec. 4.1); ``seeds``
    (S,); ``epochs`` (E,) the recorded epochs, the same for every run; per (G, S, E):
    ``loss`` (R_S, eq. 1), ``train_accuracy``, ``test_accuracy`` (on ``n_test`` held-out images),
    ``aligned`` and ``directions`` (aligned fraction and effective directions of the filters);
    per (G, S): ``initial_end``, the end of the initial stage (the last recorded epoch whose loss
    is within ``drop`` of R_S(0)), and ``lead_cosine``, |cos| between the leading direction of
    the filters there and at the last epoch; ``survival`` (G, S, M): |cos| of each filter at the
    last epoch with the leading direction at ``initial_end``.
    """

    scale: str
    gammas_sigma: np.ndarray
    seeds: np.ndarray
    epochs: np.ndarray
    n_test: int
    drop: float
    loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    initial_end: np.ndarray
    lead_cosine: np.ndarray
    survival: np.ndarray

    _PER_EPOCH = ("loss", "train_accuracy", "test_accuracy", "aligned", "directions")
    _PER_RUN = ("initial_end", "lead_cosine", "survived")

    def at(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Per run (G, S): a per-epoch measure ``of`` ("loss", "train_accuracy", "test_accuracy",
        "aligned", "directions") at the last epoch (``when="end"``) or at the end of the initial
        stage (``when="initial_end"``); or a per-run one: "initial_end", "lead_cosine", "survived"
        (the share of filters with ``survival`` > 0.9)."""
        if when not in ("end", "initial_end"):
            raise ValueError(f"when must be 'end' or 'initial_end', got {when!r}")
        if of in self._PER_EPOCH:
            values = getattr(self, of)
            if when == "end":
                return values[..., -1]
            k = np.searchsorted(self.epochs, self.initial_end)
            return np.take_along_axis(values, k[..., None], axis=-1)[..., 0]
        if of == "survived":
            return (self.survival > 0.9).mean(axis=-1)
        if of in self._PER_RUN:
            return getattr(self, of)
        raise ValueError(f"unknown measure {of!r}: choose one of {self._PER_EPOCH + self._PER_RUN}")

    def mean(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Mean over seeds (G,) of ``at(of, when)``."""
        return self.at(of, when).mean(axis=-1)

    def std(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Standard deviation over seeds (ddof = 1; 0 for one seed), (G,), of ``at(of, when)``."""
        values = self.at(of, when)
        return values.std(axis=-1, ddof=1) if values.shape[-1] > 1 else np.zeros(values.shape[0])

    def summary(self, of: str = "test_accuracy", when: str = "end", digits: int = 3) -> list[str]:
        """``"mean ± std"`` over seeds of ``at(of, when)``, one string per gamma."""
        return [f"{mu:.{digits}f} ± {sd:.{digits}f}" for mu, sd in zip(self.mean(of, when), self.std(of, when))]

    def difference(self, of: str = "test_accuracy", first: int = 0, second: int = 1) -> np.ndarray:
        """Seed by seed (S,), ``at(of)`` of the gamma ``gammas_sigma[first]`` minus that of
        ``gammas_sigma[second]``: a paired difference, the two runs of a seed sharing their training
        sample and their held-out images."""
        values = self.at(of)
        return values[first] - values[second]

    def compare(self, of: str = "test_accuracy", first: int = 0, second: int = 1) -> tuple[Interval, float]:
        """The paired difference ``difference(of, first, second)``: its mean with the 95% interval
        (``difference_interval``, paired by seed) and the smallest true difference these seeds
        detect with 80% power (``detectable_difference``)."""
        values = self.at(of)
        return difference_interval(values[first], values[second]), detectable_difference(values[first] - values[second])


def held_out_accuracy(result: TrainResult, config: Config, x, *, y) -> np.ndarray:
    """The accuracy on ``(x, y)`` (images the run never saw, e.g. ``data.held_out``) of the network
    of ``config`` at every recorded epoch of its run ``result``, (E,): the network rebuilt from
    each snapshot (``CNN.load_parameters``; a linear-readout run, whose every parameter is kept)."""
    model = CNN.from_config(config, tuple(x.shape[1:]))
    out = []
    with torch.no_grad():
        for e in result.epochs:
            model.load_parameters(result.snapshot(int(e)))
            out.append(float(accuracy(model(x), y)))
    return np.array(out)


def _initial_end(result: TrainResult, drop: float) -> int:
    """The last recorded epoch whose loss is still within ``drop`` (a fraction) of R_S(0)."""
    loss = np.asarray(result.loss)[result.epochs]
    return int(result.epochs[np.flatnonzero(loss >= (1 - drop) * loss[0])[-1]])


def _survival(result: TrainResult, start: int) -> tuple[float, np.ndarray]:
    """|cos| between the leading direction of the filters at ``start`` and at the last epoch, and
    |cos| (eq. 5) of each filter at the last epoch with the leading direction at ``start``, (M,)."""
    v = leading_direction(result.kernels(start))
    end = result.kernels(int(result.epochs[-1]))
    U = end / np.linalg.norm(end, axis=1, keepdims=True)
    return abs(float(leading_direction(end) @ v)), np.abs(U @ v)


def after_initial_stage(gammas_sigma=(2.0, 0.5), seeds: Optional[int] = None, *, scale: Optional[str] = None,
                        n_test: Optional[int] = None, drop: float = INITIAL_STAGE, client=None, device=None,
                        **options) -> AfterInitialStage:
    """Train the two-layer CNN of ``after_initial_stage_configs`` (d = 10 outputs,
    cross-entropy, GD) from each conv initialization exponent gamma of ``gammas_sigma`` (sigma_1 = fan^-gamma,
    ``Config.gamma``) with seeds
    0..``seeds``-1 (defaults and sizes: ``AFTER_INITIAL_STAGE[scale]``; ``options`` go to
    ``after_initial_stage_configs``), through ``sweep`` (cached; on ``client`` if given; the seeds
    of one gamma train together, ``batch=seeds``, several times faster on a loaded CPU), and
    measure, at every recorded epoch, the training and the held-out accuracy (``n_test`` images
    of the pool outside the run's sample, ``data.held_out``), the aligned fraction and the
    effective directions of the filters; and whether the direction the filters share at the end
    of the initial stage survives to the end of training.

    The end of the initial stage is the last recorded epoch whose loss is still within ``drop``
    of R_S(0) (log 10 for cross-entropy at a near-zero output): the stage in which the loss has
    not yet moved and the kernels condense (the paper's "accuracy below 20%", Fig. 8, is no
    clock here: with a linear readout the argmax of the tiny outputs is right for about half of
    the images while the loss is still at log 10).
    """
    scale = resolve_scale(scale, after_initial_stage_sweep)
    if not 0 < drop < 1:
        raise ValueError(f"drop is a fraction of the initial loss in (0, 1), got {drop!r}")
    grid = AFTER_INITIAL_STAGE[scale]
    seeds = int(grid["seeds"] if seeds is None else seeds)
    n_test = int(grid["n_test"] if n_test is None else n_test)
    gammas = np.asarray(gammas_sigma, dtype=np.float64).ravel()
    options = {k: grid[k] for k in ("n", "crop", "epochs")} | options
    configs = after_initial_stage_configs(gammas.tolist(), seeds, **options)
    results = sweep(configs, client, device=device, batch=seeds)  # the seeds of a gamma train together
    rows = []
    for c, r in zip(configs, results):
        x, y = held_out(c.dataset, n_test, n_train=c.n, seed=c.seed, split=c.split, target=c.target,
                        normalization=c.normalization, crop=c.crop)
        m = measure(r)
        start = _initial_end(r, drop)
        lead, survival = _survival(r, start)
        rows.append((np.asarray(r.loss)[r.epochs], np.asarray(r.accuracy)[r.epochs], held_out_accuracy(r, c, x, y=y),
                     m.aligned[:, 0], m.directions[:, 0], start, lead, survival))
    G, S = len(gammas), seeds
    stack = lambda j: np.array([row[j] for row in rows]).reshape(G, S, *np.shape(rows[0][j]))
    return AfterInitialStage(
        scale=scale, gammas_sigma=gammas, seeds=np.arange(S), epochs=np.asarray(results[0].epochs), n_test=n_test, drop=float(drop),
        loss=stack(0), train_accuracy=stack(1), test_accuracy=stack(2), aligned=stack(3), directions=stack(4),
        initial_end=stack(5), lead_cosine=stack(6), survival=stack(7))
