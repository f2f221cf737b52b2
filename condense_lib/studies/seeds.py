"""The paper's two-layer figures over seeds: how much the key measure of a figure moves when the
sample and the initialization change. Its named sweep is ``seeds``.
Used in the chapter "How much do the figures depend on the seed?".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..paper.figures import FIGURES
from ..training.config import Config
from ..training.runner import resolve_scale
from ..training.sweep import sweep
from ..training.trajectory import measure
from .uncertainty import mean_interval, prediction_interval

__all__ = ["SEED_FIGURES", "seed_sweep", "SeedSpread", "seed_spread"]


SEED_FIGURES = ("fig12", "fig6", "fig10_tanh")  # the two-layer figures whose spread over seeds the book measures


def seed_sweep(scale: str, seeds: int = 8, figures: Sequence[str] = SEED_FIGURES) -> list[Config]:
    """Each figure of ``figures`` at ``scale`` with seeds 0..``seeds``-1 (the sample and the
    initialization change together); seed 0 is the book's figure. Figure by figure."""
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    return [FIGURES[name][scale].replace(seed=s) for name in figures for s in range(seeds)]


@dataclass(frozen=True, eq=False)
class SeedSpread:
    """The key measure of figures over seeds (see ``seed_spread``).

    ``figures`` (F,) names; ``seeds`` (S,); ``shown`` (F,) the epoch measured; ``aligned`` and
    ``directions`` (F, S): the aligned fraction and the effective directions of the conv layer
    at the shown epoch, seed by seed (seed 0 is the book's figure, the paper's single run).
    """

    scale: str
    figures: tuple
    seeds: np.ndarray
    shown: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray

    def mean(self, of: str = "aligned") -> np.ndarray:
        """Mean over seeds per figure (F,) of ``of`` ("aligned" or "directions")."""
        return np.mean(getattr(self, of), axis=-1)

    def std(self, of: str = "aligned") -> np.ndarray:
        """Standard deviation (ddof = 1) over seeds per figure (F,)."""
        return np.std(getattr(self, of), axis=-1, ddof=1)

    def interval(self, of: str = "aligned") -> list:
        """Per figure, the mean over all seeds of ``of`` with its 95% interval (``mean_interval``)."""
        return [mean_interval(v) for v in getattr(self, of)]

    def reference(self, of: str = "aligned") -> list:
        """Per figure, where seed 0 (the figure's run) should fall if it is a typical draw: the
        mean of the OTHER seeds and their 95% prediction interval for one new seed
        (``prediction_interval``; seed 0 is left out of its own reference)."""
        return [prediction_interval(v[1:]) for v in getattr(self, of)]

    def typical(self, of: str = "aligned") -> np.ndarray:
        """Whether seed 0 lies inside the prediction interval of the other seeds (F,); with no
        spread among them, whether it equals their mean."""
        values = getattr(self, of)
        return np.array([r.low - 1e-12 <= v <= r.high + 1e-12 for r, v in zip(self.reference(of), values[:, 0])])

    def inside(self, of: str = "aligned", k: float = 2.0) -> np.ndarray:
        """Whether seed 0 (the figure's run) lies within mean +- ``k`` std of the seeds (F,);
        with zero spread, whether it equals the mean. Seed 0 is part of that mean and std, so
        this is a weak check (|z| <= (S - 1)/sqrt(S)); ``typical`` leaves it out."""
        values = getattr(self, of)
        return np.abs(values[:, 0] - self.mean(of)) <= k * self.std(of) + 1e-12


def seed_spread(figures, seeds: int = 8, *, scale: Optional[str] = None, client=None, device=None) -> SeedSpread:
    """Train each figure of ``figures`` (two-layer ones: one conv layer) with seeds
    0..``seeds``-1 at ``scale`` (``sweep.seed_sweep``; the seed changes the n-image sample and
    the initialization) through ``sweep`` (cached; on ``client`` if given), and measure the
    aligned fraction and effective directions (``trajectory.measure``, per filter) at the epoch
    each figure shows. ``scale``: ``runner.resolve_scale`` (``"auto"``: the paper's when its runs are cached)."""
    figures = tuple(figures)
    scale = resolve_scale(scale, lambda s: seed_sweep(s, seeds, figures))
    if any(len(FIGURES[name][scale].channels) != 1 for name in figures):
        raise ValueError("seed_spread measures two-layer figures (one conv layer), e.g. fig12, fig6, fig10_tanh")
    configs = seed_sweep(scale, seeds, figures)
    results = sweep(configs, client, device=device)
    shown = np.array([FIGURES[name].shown(scale)[0] for name in figures])
    aligned, directions = np.zeros((len(figures), seeds)), np.zeros((len(figures), seeds))
    for k, result in enumerate(results):
        f, s = divmod(k, seeds)
        (aligned[f, s],), (directions[f, s],) = measure(result).at(int(shown[f]))
    return SeedSpread(scale, figures, np.arange(seeds), shown, aligned, directions)
