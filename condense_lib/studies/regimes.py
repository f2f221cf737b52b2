"""The lazy and the condensed regime over (gamma_eps, M), with the stopping rule as a parameter.

Real GD runs of the theory's two-layer CNN with every parameter N(0, eps^2), eps^2 = M^-gamma_eps
(Assumption 3, eq. 8), each stopped at a common point of training, and Theorem 1's two
quantities there: the relative change of the kernels (eq. 14) and their alignment with v_1
(eq. 15). For gamma_eps < 1 the initial output is large and the network fits the data with
kernels that barely move (the linear, NTK or lazy regime); for gamma_eps > 1 the kernels grow
out of their start along v_1 before the loss moves (the condensed regime): Luo, Xu, Ma and Zhang,
"Phase diagram for two-layer ReLU neural networks at infinite-width limit", JMLR 22 (2021),
whose gamma is gamma_eps here.

One study, two uses: the chapter "Why a small initialization: lazy against condensed" (two
exponents, two widths, one GD step for every run, stopped when R_S falls to 0.7 times the zero
network's loss) and the chapter "The phase diagram" (the named sweep ``phase_diagram``: the step
scaled with M eps^2, stopped when the loss has halved from its start).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..theory.condensation import aligned_fraction
from ..theory.data_matrix import spectrum, theta_bar
from ..theory.effective_time import alignment, relative_change
from ..theory.linear_dynamics import gd_step
from ..training.config import Config, theory_config
from ..training.runner import resolve_scale
from ..training.sweep import sweep
from .spectra import sample_key, spectra
from .uncertainty import Interval, slope_interval

__all__ = ["PHASE_DIAGRAM", "regime_configs", "phase_diagram_sweep", "change_exponent", "Regimes", "regimes",
           "phase_diagram"]

# The phase diagram: eps^2 = M^-gamma_eps (eq. 8) over gamma_eps x M, on the theory chapter's
# tiny problem (50 MNIST test images, centre 6 x 6 crop, m = 3). fast: the chapter's live grid.
PHASE_DIAGRAM = {
    "fast": dict(gammas_eps=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0), widths=(16, 32, 64, 128, 256), seeds=8,
                 horizon=6.0, every=3),
    "paper": dict(gammas_eps=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5),
                  widths=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096), seeds=8, horizon=10.0, every=5),
}
STEPS = ("scaled", "fixed")


def change_exponent(gammas_eps) -> np.ndarray:
    """The exponent of M in the relative change of the kernels (eq. 14) when the loss has fallen by a
    fixed fraction of its start, eps^2 = M^-gamma_eps, from the output estimate of the chapters "Why a
    small initialization" and "Introduction": the output is a sum of M terms, of size sqrt(M) eps^2 at
    initialization and M eps^2 r when every kernel has moved by a fraction r of its norm in one
    direction.

    - gamma_eps > 1 (condensed): nothing fits until the kernels have grown by (M eps^2)^(-1/2):
      (gamma_eps - 1) / 2;
    - 1/2 <= gamma_eps <= 1 (lazy): an output change of order one, M eps^2 r ~ 1: gamma_eps - 1;
    - gamma_eps < 1/2 (lazy, initial output sqrt(M) eps^2 above the labels, to be halved):
      M eps^2 r ~ sqrt(M) eps^2, r ~ M^(-1/2): -1/2.

    0 at gamma_eps = 1, the critical line, from either side.

    >>> change_exponent([0.25, 0.5, 1.0, 2.0]).tolist()
    [-0.5, -0.5, 0.0, 0.5]
    """
    g = np.asarray(gammas_eps, dtype=np.float64)
    return np.where(g > 1, (g - 1) / 2, np.maximum(g - 1, -0.5))
REFERENCES = ("start", "zero")


def _widths_gammas(widths, gammas_eps):
    widths = np.asarray(widths)
    gammas = np.asarray(gammas_eps, dtype=np.float64).ravel()
    if widths.ndim != 1 or widths.size == 0 or not np.issubdtype(widths.dtype, np.integer) or (widths < 2).any():
        raise ValueError(f"widths must be a list of integers >= 2, got {widths!r}")
    if gammas.size == 0 or not (np.isfinite(gammas) & (gammas > 0)).all():
        raise ValueError(f"gammas_eps must be positive numbers (eps^2 = M^-gamma_eps), got {gammas_eps!r}")
    return widths.astype(np.int64), gammas


def regime_configs(gammas_eps, widths, seeds: int = 1, *, base: Optional[Config] = None, step: str = "scaled",
                   lr_lambda: float = 0.1, steps: Optional[int] = None, horizon: Optional[float] = None,
                   every: int = 1, lambda_1: Optional[float] = None) -> list[Config]:
    """The GD runs of the regimes study: for each gamma_eps of ``gammas_eps`` (outer), width M of
    ``widths`` and seed 0..``seeds``-1, ``base`` (default: the theory chapters' ``theory_config(n=50,
    crop=6, m=3)``) with M kernels and eps = M^(-gamma_eps / 2) (eps^2 = M^-gamma_eps, eq. 8).

    ``step``: ``"fixed"``, one step ``gd_step(lambda_1, lr_lambda)`` for every run; ``"scaled"``,
    lr = lr_lambda / (lambda_1 max(1, M eps^2)) to three digits: when M eps^2 > 1 (gamma_eps < 1)
    the network's kernel grows like M eps^2 and the step shrinks with it to stay stable.
    ``steps`` GD steps, or ``horizon`` / lr_lambda of them (lambda_1 t = horizon when M eps^2 <= 1);
    snapshots every ``every``. ``lambda_1``: of the seed-0 sample's Z (default), shared by every seed.
    """
    widths, gammas = _widths_gammas(widths, gammas_eps)
    if step not in STEPS:
        raise ValueError(f"step must be one of {STEPS}, got {step!r}")
    if (steps is None) == (horizon is None):
        raise ValueError("give exactly one of steps (GD steps) and horizon (lambda_1 t at the end)")
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    base = theory_config(n=50, crop=6, m=3) if base is None else base
    if not isinstance(base, Config) or base.init != "theory" or len(base.channels) != 1 or base.optimizer != "gd":
        raise ValueError("base must be a two-layer GD run in the theory's setting: use theory_config(...)")
    if lambda_1 is None:
        lambda_1 = float(spectrum(base.replace(seed=0).Z()).singular_values[0])
    steps = int(round(horizon / lr_lambda)) if steps is None else int(steps)
    configs = []
    for g in gammas:
        for M in widths:
            eps = float(M) ** (-float(g) / 2)
            lr = (gd_step(lambda_1, lr_lambda) if step == "fixed"
                  else float(f"{lr_lambda / (lambda_1 * max(1.0, M * eps**2)):.3g}"))
            point = base.replace(channels=(int(M),), eps=eps, lr=lr, epochs=steps,
                                 snapshot_epochs=tuple(range(0, steps + 1, every)))
            configs += [point.replace(seed=s) for s in range(seeds)]
    return configs


def phase_diagram_sweep(scale: str) -> list[Config]:
    """The named sweep ``phase_diagram`` at ``scale``: ``regime_configs`` of ``PHASE_DIAGRAM[scale]``."""
    return regime_configs(**PHASE_DIAGRAM[scale])


@dataclass(frozen=True, eq=False)
class Regimes:
    """Runs over (gamma_eps, M, seed), each stopped by one rule (see ``regimes``).

    ``gammas_eps`` (G,), ``widths`` (K,), ``seeds`` (S,); ``eps`` (G, K) = M^(-gamma_eps/2);
    ``reference``, ``level``: the rule, R_S <= level x R_S(reference) with ``"start"`` the run's
    own initial loss and ``"zero"`` the zero network's, (1/2n) sum_i y_i^2 (eq. 1); ``lr`` (G, K)
    the GD step; per run and recorded step (G, K, S, T): ``loss`` (R_S over that reference),
    ``change`` and ``align`` (eqs. 14, 15) and ``lambda_t`` (lambda_1 t, lambda_1 of the run's Z);
    ``stop`` (G, K, S): the index of the first recorded step that meets the rule (-1: never);
    ``aligned`` (G, K, S): the aligned fraction of the kernels there (NaN: never).
    """

    scale: str
    gammas_eps: np.ndarray
    widths: np.ndarray
    seeds: np.ndarray
    eps: np.ndarray
    reference: str
    level: float
    lr: np.ndarray
    loss: np.ndarray
    change: np.ndarray
    align: np.ndarray
    lambda_t: np.ndarray
    stop: np.ndarray
    aligned: np.ndarray

    def at_stop(self, of: str = "change") -> np.ndarray:
        """``of`` ("loss", "change", "align" or "lambda_t") of each run at its stop, (G, K, S);
        "aligned" as stored; NaN for a run that never met the rule."""
        if of == "aligned":
            return self.aligned
        if of not in ("loss", "change", "align", "lambda_t"):
            raise ValueError(f"of must be 'loss', 'change', 'align', 'lambda_t' or 'aligned', got {of!r}")
        values = np.take_along_axis(getattr(self, of), np.maximum(self.stop, 0)[..., None], axis=-1)[..., 0]
        return np.where(self.stop >= 0, values, np.nan)

    @property
    def align0(self) -> np.ndarray:
        """The alignment with v_1 at initialization (G, K, S)."""
        return self.align[..., 0]

    def mean(self, of: str = "change") -> np.ndarray:
        """Mean over seeds (G, K) of ``of`` at the stop; "align0" for the start."""
        values = self.align0 if of == "align0" else self.at_stop(of)
        return values.mean(axis=-1)

    def slope(self, of: str = "change") -> np.ndarray:
        """Per gamma_eps (G,): the least-squares slope of log(mean ``of``) against log M, the
        exponent of its growth with the width."""
        return np.array([np.polyfit(np.log(self.widths), np.log(row), 1)[0] for row in self.mean(of)])

    def slope_intervals(self, of: str = "change", log: bool = True) -> list[Interval]:
        """Per gamma_eps: the least-squares slope of log(``of`` at the stop) (``log=False``: of the
        value itself) against log M over every run, all widths and seeds, with its 95% interval
        (``uncertainty.slope_interval``); for ``"change"``, the exponent of its growth with M."""
        x = np.log(np.broadcast_to(self.widths[:, None], self.stop.shape[1:])).ravel()
        values = self.at_stop(of)
        return [slope_interval(x, (np.log(row) if log else row).ravel()) for row in values]


def _measure(result, config: Config, spec, reference: str, level: float) -> tuple:
    """(loss over the reference, change, align, lambda_t, stop, aligned at the stop) of one run."""
    W, _ = theta_bar(result.snapshots, config.eps)
    epochs = np.asarray(result.epochs)
    loss = np.asarray(result.loss)[epochs]
    if reference == "zero":
        _, y = config.data()
        zero = 0.5 * float(np.mean(np.square(np.asarray(y, dtype=np.float64))))  # R_S of f = 0, eq. 1
        ratio = loss / zero
        met = ratio <= level
    else:
        ratio = loss / loss[0]
        met = loss <= level * loss[0]
    stop = int(np.argmax(met)) if met.any() else -1
    aligned = aligned_fraction(result.kernels(int(epochs[stop]))) if stop >= 0 else np.nan
    return (ratio, relative_change(W), alignment(W, spec.v1), config.lr * epochs * spec.singular_values[0], stop,
            aligned)


def regimes(gammas_eps, widths, seeds: int = 1, *, reference: str = "start", level: float = 0.5,
            base: Optional[Config] = None, step: str = "scaled", lr_lambda: float = 0.1, steps: Optional[int] = None,
            horizon: Optional[float] = None, every: int = 1, scale: str = "fast", require: bool = False,
            client=None, device=None) -> Regimes:
    r"""Train the two-layer CNN over (gamma_eps, M, seed) (``regime_configs``, which takes ``base``,
    ``step``, ``lr_lambda``, ``steps`` or ``horizon`` and ``every``) through ``sweep`` (cached; on
    ``client`` if given) and stop each run at the first recorded step with

    .. math:: R_S(\theta) \le \text{level}\cdot R_S(\text{reference}),

    ``reference="start"`` the run's own initial loss, ``"zero"`` the zero network's
    (1/2n) sum_i y_i^2 (eq. 1): the same stage of training for every run, whatever its time scale.
    There: eq. 14's relative change, eq. 15's alignment with v_1 and the aligned fraction.
    ``require``: a run that never meets the rule is an error (raise ``steps``) instead of NaNs.
    ``scale``: only recorded in the result (see ``phase_diagram`` for the named grid).
    Used in the chapters "Why a small initialization" and "The phase diagram".
    """
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {REFERENCES}, got {reference!r}")
    if not (np.isfinite(level) and 0 < level < 1):
        raise ValueError(f"level is a share of the reference loss in (0, 1), got {level!r}")
    widths, gammas = _widths_gammas(widths, gammas_eps)
    configs = regime_configs(gammas, widths, seeds, base=base, step=step, lr_lambda=lr_lambda, steps=steps,
                             horizon=horizon, every=every)
    results = sweep(configs, client, device=device)
    by_sample = spectra(configs)  # the grid's points share a few samples (one per seed)
    rows = [_measure(r, c, by_sample[sample_key(c)], reference, level) for r, c in zip(results, configs)]
    G, K, S = len(gammas), len(widths), int(seeds)
    if require:
        for c, row in zip(configs, rows):
            if row[4] < 0:
                raise ValueError(f"the run at eps = {c.eps:.3g}, M = {c.channels[0]} ends at a loss of "
                                 f"{row[0].min():.3g} x R_S({reference}), above level = {level:g}: raise steps")
    stack = lambda j: np.array([row[j] for row in rows]).reshape(G, K, S, *np.shape(rows[0][j]))
    per_point = lambda values: np.array(values).reshape(G, K, S)[..., 0]
    return Regimes(scale=scale, gammas_eps=gammas, widths=widths, seeds=np.arange(S),
                   eps=per_point([c.eps for c in configs]), reference=reference, level=float(level),
                   lr=per_point([c.lr for c in configs]), loss=stack(0), change=stack(1), align=stack(2),
                   lambda_t=stack(3), stop=stack(4).astype(np.int64), aligned=stack(5).astype(np.float64))


def phase_diagram(scale: Optional[str] = None, *, drop: float = 0.5, client=None, device=None) -> Regimes:
    """The phase diagram (``regimes`` over the named grid ``PHASE_DIAGRAM[scale]``), each run stopped
    when the loss has fallen by the fraction ``drop`` of its start. ``scale``: ``runner.resolve_scale``
    (``"auto"``: the paper grid when it is cached, else the fast one)."""
    scale = resolve_scale(scale, phase_diagram_sweep)
    if not 0 < drop < 1:
        raise ValueError(f"drop is a fraction of the initial loss in (0, 1), got {drop!r}")
    grid = PHASE_DIAGRAM[scale]
    return regimes(reference="start", level=1 - drop, scale=scale, client=client, device=device, **grid)
