"""One call per figure: ``figure_report(name, scale)`` trains (or reads) a figure's run and returns
it with what every figure section of the book draws and checks: the ``Config``, the shown
epochs, the condensation measures per layer (``trajectory.measure``), the cosine frames
(``trajectory.cosine_frames``) and the numbers of ``claims.check_figure`` (raising
``ClaimError`` when the run does not show the paper's observation).
Used in the chapters "The paper's MNIST figures", "The paper's CIFAR-10 figures" and
"CIFAR-10 under the MSE".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..training.config import Config
from ..training.runner import run
from ..training.trainer import TrainResult
from ..training.trajectory import CosineFrames, Measures, cosine_frames, measure
from .claims import CLAIMS, check_figure, figure_numbers
from .figures import FIGURES

__all__ = ["FigureReport", "figure_report"]


@dataclass(frozen=True, eq=False)
class FigureReport:
    """A figure's run and its measures (see ``figure_report``). ``shown``: the epoch shown per
    conv layer; ``numbers``: the claims' numbers (``claims.figure_numbers``), checked."""

    name: str
    scale: str
    config: Config
    result: TrainResult
    shown: tuple
    measures: Measures
    frames: CosineFrames
    numbers: dict

    @property
    def end(self) -> int:
        """The epoch the figure shows for its first conv layer."""
        return int(self.shown[0])

    def describe(self) -> str:
        """The figure's caption and the setting at this scale (``Figure.describe``)."""
        return FIGURES[self.name].describe(self.scale)

    def setting(self) -> str:
        """Which setting the figure shows, in a line for its caption (``Figure.setting``)."""
        return FIGURES[self.name].setting(self.scale)

    def summary(self) -> str:
        """One line: the aligned fraction and the effective directions per layer, at
        initialization and at the shown epochs."""
        a0, d0 = self.measures.at(0)
        a1, d1 = self.measures.at(self.shown)
        fmt = lambda v, p: ", ".join(f"{x:.{p}f}" for x in np.atleast_1d(v))
        return (f"{self.name}: aligned fraction {fmt(a0, 2)} -> {fmt(a1, 2)}, effective directions "
                f"{fmt(d0, 2)} -> {fmt(d1, 2)} (epoch {', '.join(map(str, self.shown))})")


def figure_report(name: str, scale: Optional[str] = None, *, check: bool = True, config: Optional[Config] = None,
                  device=None) -> FigureReport:
    """Figure ``name`` of ``FIGURES`` at ``scale`` (``runner.resolve_scale``: None, ``CONDENSE_SCALE``;
    ``"auto"``, the paper's run where cached): its run (``run``, cached; trained on ``device``),
    measures, frames ordered at the shown epoch and, with ``check``, the claims checked
    (``check_figure``; figures without claims only measured)."""
    figure = FIGURES[name]
    scale = figure.scale(scale)
    config = figure.config(scale)
    result = run(config, device=device)
    shown = figure.shown(scale)
    numbers = (check_figure(name, result, scale) if check and name in CLAIMS
               else figure_numbers(name, result, scale))
    return FigureReport(name=name, scale=scale, config=config, result=result, shown=shown,
                        measures=measure(result), frames=cosine_frames(result, order_at=shown), numbers=numbers)
