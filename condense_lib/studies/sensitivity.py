"""What matters: one factor at a time around a baseline (n, m, padding, the bias in the kernel
vector, the head), each row measured for the picture at the end of the initial stage and for
the time of condensation. Its named sweep is ``sensitivity``.
Used in the chapter "What matters: a sensitivity table".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..paper.claims import INITIAL_STAGE, ONE_LINE_ALIGNED
from ..theory.condensation import aligned_fraction, effective_directions, leading_direction
from ..theory.data_matrix import Spectrum
from ..theory.effective_time import first_time
from ..training.config import Config, theory_config
from ..training.models import CNN
from ..training.runner import resolve_scale, run_variant
from ..training.sweep import sweep
from ..training.trainer import TrainResult
from .spectra import sample_key, spectra
from .uncertainty import Interval, difference_interval, mean_interval

__all__ = ["SENSITIVITY", "SensitivityRow", "sensitivity_rows", "sensitivity_configs", "fc_runs", "bias_alone_time",
           "Sensitivity", "sensitivity"]


# The sensitivity table: one factor at a time around a baseline, the theory's two-layer tanh CNN
# (``theory_config``: every parameter N(0, eps^2), GD at a fixed lr, MSE on the label) on whole
# 28 x 28 MNIST test images. ``base``: the baseline's fields; ``values``: each factor's values
# (the baseline's among them); ``hidden``: the width of the "fc" head; ``seeds``: 0..seeds-1.
# The head "fc" is the ReLU FC layer *without* an output bias (``SensitivityRow.out_bias``): with
# labels 0..9 an output bias fits the mean label at a rate set by lr alone and would end the
# initial stage by itself. fast: the chapter's live grid, 8 seeds, its n and m fewer than the
# paper grid's to keep its cost (n = 500 is 10 times the baseline's cost, 5000 100 times).
SENSITIVITY = {
    "fast": dict(base=dict(n=50, eps=1e-5, lr=5e-4, epochs=129), every=3, hidden=32, seeds=8,
                 values=dict(n=(25, 50), m=(1, 3, 5), padding=(0, "same"), bias=("out", "in"),
                             head=("linear", "fc"))),
    "paper": dict(base=dict(n=500, eps=1e-5, lr=5e-4, epochs=150), every=3, hidden=1024, seeds=8,
                  values=dict(n=(50, 500, 5000), m=(1, 3, 5, 7), padding=(0, "same"), bias=("out", "in"),
                              head=("linear", "fc"))),
}


@dataclass(frozen=True)
class SensitivityRow:
    """One row of the sensitivity table: ``factor`` at ``value``, the rest at the baseline.

    ``config``: the run of seed 0; ``bias``: whether the measured kernel vectors carry the
    bias (the factor "bias", and m = 1, whose 1 x 1 kernel without its bias is one number);
    ``baseline``: whether this row is the baseline itself (measured as ``bias`` says);
    ``out_bias``: whether the run's output layer has a bias (False for the "fc" head, whose
    ``config`` then does not say it all: ``fc_runs`` trains it)."""

    factor: str
    value: object
    config: Config
    bias: bool
    baseline: bool
    out_bias: bool = True


def sensitivity_rows(scale: str, grid: Optional[dict] = None) -> list[SensitivityRow]:
    """The rows of the sensitivity table at ``scale`` (``SENSITIVITY[scale]``, or ``grid``):
    for each factor (``n``, ``m``, ``padding``, ``bias``, ``head``) and each of its values, the
    baseline ``theory_config(**base)`` with that one field changed, snapshots every ``every``
    epochs. ``padding="same"`` is (m - 1) / 2 of the baseline's m; ``bias`` changes no run,
    only the measurement (``condensation.kernel_vectors(..., bias=...)``); ``head="fc"`` has
    ``hidden`` units and no output bias, as the linear readout."""
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
            rows.append(SensitivityRow(factor, value, config, bias, value == base_value, config.head != "fc"))
    return rows


def sensitivity_configs(scale: str, grid: Optional[dict] = None) -> list[Config]:
    """Every distinct ``Config`` run of the sensitivity table (``sensitivity_rows``), seeds
    0..seeds-1 of each: all but the "fc" head's, which has no output bias (``fc_runs``)."""
    grid = SENSITIVITY[scale] if grid is None else grid
    runs = dict.fromkeys(row.config for row in sensitivity_rows(scale, grid) if row.out_bias)
    return [c.replace(seed=s) for c in runs for s in range(int(grid["seeds"]))]


def fc_runs(configs, *, device=None) -> list[TrainResult]:
    """Train (or read from the cache) each ``config`` of the "fc" head with its output layer
    without a bias (``CNN(..., out_bias=False)``): ``runner.run_variant`` under ``{"out_bias": False}``."""
    def build(config):
        x, y = config.data()
        return x, y, CNN.from_config(config, tuple(x.shape[1:]), out_bias=False)

    return [run_variant(config, {"out_bias": False}, lambda config=config: build(config), dropped=("readout.bias",),
                        device=device) for config in configs]


def bias_alone_time(y, lr: float, stage: float, epochs: int) -> float:
    """The time t = lr x k at which GD on an output bias b alone, f = b from b = 0 (the loss
    R = mean((b - y)^2) / 2 of eq. 1), first lowers R by ``stage`` of R(0); ``inf`` if not
    within ``epochs`` steps. b_k = mean(y) (1 - (1 - lr)^k)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    b = y.mean() * (1 - (1 - lr) ** np.arange(epochs + 1))
    loss = 0.5 * ((b[:, None] - y) ** 2).mean(axis=1)
    return first_time(lr * np.arange(epochs + 1), loss <= (1 - stage) * loss[0])


def _interval(values) -> Interval:
    """``mean_interval`` of ``values``, or the single value as a point for one seed."""
    values = np.asarray(values, dtype=np.float64).ravel()
    return mean_interval(values) if values.size > 1 else Interval(*[float(values[0])] * 3, 1)


def _difference(a, b) -> Interval:
    """``difference_interval`` (paired by seed) of ``a - b``, a point for one seed."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return difference_interval(a, b) if a.size > 1 else _interval(a - b)


def _side(ci: Interval, bound: float) -> str:
    """Where an interval of a difference lies against +-``bound``: "beyond" (wholly outside),
    "within" (wholly inside) or "across"."""
    if ci.low > bound or ci.high < -bound:
        return "beyond"
    return "within" if -bound <= ci.low and ci.high <= bound else "across"


def _direction_cosines(lead: np.ndarray, v1: np.ndarray, bias: bool) -> tuple[float, float]:
    """|cos| of the kernels' leading direction ``lead`` with v_1 of Z (its kernel part, or all of
    it with the bias) and with the all-ones kernel (bias entry 0)."""
    target = v1 if bias else v1[:-1]
    weights = lead[:-1] if bias else lead
    ones = abs(weights.sum()) / np.sqrt(weights.size)  # cos(lead, (1, ..., 1, 0)), lead a unit vector
    return float(abs(lead @ target) / np.linalg.norm(target)), float(ones)


def _sensitivity_measures(result: TrainResult, config: Config, bias: bool, spec: Spectrum, stage: float,
                          level: float) -> dict:
    """The measures of one run: the aligned fraction at every recorded epoch, the time it first
    reaches ``level``, and the picture at the first recorded epoch where R_S <= (1 - stage) R_S(0)
    (the last recorded epoch if the loss never falls that far)."""
    epochs = np.asarray(result.epochs)
    vectors = [result.kernels(int(e), bias=bias) for e in epochs]
    aligned = np.array([aligned_fraction(V) for V in vectors])
    fallen = result.loss[epochs] <= (1 - stage) * result.loss[0]
    k = int(np.argmax(fallen)) if fallen.any() else len(epochs) - 1
    cos_v1, cos_ones = _direction_cosines(leading_direction(vectors[k]), spec.v1, bias)
    times = config.lr * epochs
    return dict(curve=aligned, t_level=first_time(times, aligned >= level), stage_epoch=int(epochs[k]),
                t_stage=first_time(times, fallen),
                aligned=aligned[k], directions=effective_directions(vectors[k]), cos_v1=cos_v1, cos_ones=cos_ones,
                lambda_1=float(spec.singular_values[0]), ratio=spec.ratio)


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """The sensitivity table (see ``sensitivity``): R rows (factor, value), S seeds.

    ``factors``, ``values`` (R,): the row; ``bias`` (R,): the kernel vectors carry the bias;
    ``baseline`` (R,): the row is the baseline; ``times`` (T,): lr x epoch of the snapshots;
    per row and seed (R, S): ``lambda_1`` and ``ratio`` (lambda_1 / lambda_2) of the run's own Z
    (eqs. 35-36; for the "fc" head, the Z of the linear readout on the same data), ``t_level``
    the gradient-flow time at which the aligned fraction first reaches ``level`` (``inf`` if
    never), ``t_stage`` the time of the picture point -- the first recorded epoch with
    R_S <= (1 - ``stage``) R_S(0), the end of the initial stage (``stage_epoch``; the last
    epoch, and ``t_stage`` = ``inf``, if the loss never falls that far) -- and there ``aligned``, ``directions``,
    ``cos_v1`` (|cos| of the kernels' leading direction with v_1) and ``cos_ones`` (with the
    all-ones kernel); ``curves`` (R, S, T): the aligned fraction at every snapshot; ``base``: the
    baseline's ``Config`` (seed 0).
    """

    scale: str
    level: float
    stage: float
    factors: tuple
    values: tuple
    bias: np.ndarray
    baseline: np.ndarray
    seeds: np.ndarray
    times: np.ndarray
    lambda_1: np.ndarray
    ratio: np.ndarray
    t_level: np.ndarray
    t_stage: np.ndarray
    stage_epoch: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    cos_v1: np.ndarray
    cos_ones: np.ndarray
    curves: np.ndarray
    base: Optional[Config] = None

    # The thresholds of the verdict: the picture changes when, against the baseline measured the
    # same way, the aligned fraction moves by more than PICTURE_ALIGNED or a cosine of the
    # direction condensed on by more than PICTURE_COSINE; else the time changes when t_level (the
    # condensation) or t_stage (the end of the initial stage) is more than TIME_FACTOR times the
    # baseline's, or less than 1 / TIME_FACTOR times, or is reached by one run and not the other.
    # Each rule is applied to the 95% interval of the paired (by seed) difference (of log t for
    # the times): a change when the interval lies wholly beyond the threshold, none when wholly
    # within it, "undecided" when it straddles it.
    PICTURE_ALIGNED = 0.2
    PICTURE_COSINE = 0.1
    TIME_FACTOR = 1.25

    def mean(self, of: str) -> np.ndarray:
        """Mean over seeds per row (R,) of ``of`` (a (R, S) field)."""
        return np.mean(getattr(self, of), axis=-1)

    def reference(self, row: int) -> int:
        """The row that ``row`` is compared with: the baseline measured with the same kernel
        vectors -- the row "bias in" for a row measured with the bias (m = 1), the baseline with
        the bias left out for every other row, "bias in" included."""
        factors, values = np.array(self.factors), np.array([str(v) for v in self.values])
        with_bias = self.bias[row] and self.factors[row] != "bias"
        hits = np.flatnonzero((factors == "bias") & (values == "in")) if with_bias else np.flatnonzero(
            self.baseline & ~self.bias)
        if not hits.size:
            raise ValueError(f"row {row} ({self.factors[row]} = {self.values[row]}) has no baseline row to compare with: "
                             f"the grid needs the factor bias with the values 'out' and 'in'")
        return int(hits[0])

    def interval(self, of: str, row: int) -> Interval:
        """The mean over seeds of ``of`` in ``row`` and its 95% interval (``mean_interval``)."""
        return _interval(getattr(self, of)[row])

    def difference(self, of: str, row: int) -> Interval:
        """``of`` in ``row`` minus in its ``reference``, paired by seed, with its 95% interval."""
        return _difference(getattr(self, of)[row], getattr(self, of)[self.reference(row)])

    def _log_ratio(self, of: str, row: int) -> Optional[Interval]:
        """The paired interval of log ``of`` in ``row`` minus in its ``reference``; ``None`` when a
        seed of either never reaches it."""
        a, b = getattr(self, of)[row], getattr(self, of)[self.reference(row)]
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            return None
        return _difference(np.log(a), np.log(b))

    def time_ratio(self, of: str, row: int) -> Optional[Interval]:
        """The ratio of ``of`` (``t_level`` or ``t_stage``) in ``row`` to its ``reference``, the
        exponential of the paired interval of the log difference; ``None`` when a seed of either
        never reaches it."""
        ci = self._log_ratio(of, row)
        if ci is None:
            return None
        return Interval(float(np.exp(ci.estimate)), float(np.exp(ci.low)), float(np.exp(ci.high)), ci.n, ci.level)

    def verdict(self, row: int) -> str:
        """"baseline", "changes the picture", "changes only the time", "changes neither" or
        "undecided", by the thresholds above applied to the 95% intervals over seeds."""
        if self.baseline[row]:
            return "baseline"
        sides = [_side(self.difference(of, row), bound) for of, bound in
                 (("aligned", self.PICTURE_ALIGNED), ("cos_v1", self.PICTURE_COSINE), ("cos_ones", self.PICTURE_COSINE))]
        if "beyond" in sides:
            return "changes the picture"
        ref = self.reference(row)
        for of in ("t_level", "t_stage"):
            reached, ref_reached = np.isfinite(getattr(self, of)[row]), np.isfinite(getattr(self, of)[ref])
            log_ratio = self._log_ratio(of, row)
            if log_ratio is not None:
                sides.append(_side(log_ratio, float(np.log(self.TIME_FACTOR))))
            elif (reached.all() and not ref_reached.any()) or (ref_reached.all() and not reached.any()):
                sides.append("beyond")  # reached by every seed of one and by none of the other
            elif reached.any() or ref_reached.any():
                sides.append("across")
        picture, time = sides[:3], sides[3:]
        if "across" in picture:
            return "undecided"  # the picture may change
        if "beyond" in time:
            return "changes only the time"
        return "undecided" if "across" in time else "changes neither"

    def verdicts(self) -> list:
        """``verdict`` of every row."""
        return [self.verdict(r) for r in range(len(self.factors))]

    def rows(self, factor: str) -> np.ndarray:
        """The rows of ``factor``, in their order."""
        return np.flatnonzero(np.array(self.factors) == factor)

    def stage_after_level(self, row: int) -> Interval:
        """t_stage - t_level of ``row``, paired by seed, with its 95% interval: how long the initial
        stage goes on after the layer has condensed (positive: condensed within the stage)."""
        return _difference(self.t_stage[row], self.t_level[row])

    def bias_alone(self, horizon: int = 10) -> Interval:
        """``bias_alone_time`` for each seed's baseline sample, at the baseline's lr and this study's
        ``stage``, over ``horizon`` times the run's steps: when an output bias alone would end the
        initial stage. The mean over seeds with its 95% interval."""
        if self.base is None:
            raise ValueError("this table does not hold its baseline's Config: build it with sensitivity()")
        c = self.base
        return _interval([bias_alone_time(c.replace(seed=int(s)).data()[1].numpy(), c.lr, self.stage, horizon * c.epochs)
                          for s in self.seeds])


def sensitivity(scale: Optional[str] = None, *, level: float = ONE_LINE_ALIGNED, stage: float = INITIAL_STAGE,
                grid: Optional[dict] = None,
                client=None, device=None) -> Sensitivity:
    """Vary one factor at a time around a baseline (``sweep.sensitivity_rows``: n, m, padding,
    bias in or out of the kernel vector, the head) and measure, per row and seed,

    - the picture: at the end of the initial stage (the first recorded epoch where the loss has
      fallen by ``stage``, R_S <= (1 - stage) R_S(0), eq. 1), the aligned fraction, the effective
      directions, and the direction condensed on: |cos| of the kernels' leading direction with
      v_1 of the run's own Z (eqs. 35-36, with the run's m and padding) and with the all-ones kernel;
    - the time: the gradient-flow time t = lr x epoch (eq. 20) at which the aligned fraction
      first reaches ``level``, beside lambda_1 of Z, which sets the time scale of the linear
      dynamics (Prop. 1: the kernels grow like exp(lambda_1 t)).

    Every run goes through ``sweep`` (cached; on ``client`` if given). ``scale``: resolved by
    ``runner.resolve_scale`` (``"auto"``: the paper grid when it is cached). ``grid``: a dict in the
    form of ``SENSITIVITY[scale]`` (default that). The verdicts: ``Sensitivity.verdict``.
    """
    scale = resolve_scale(scale, sensitivity_configs)
    if not 0 < level < 1 or not 0 < stage < 1:
        raise ValueError(f"level and stage are fractions in (0, 1), got level={level!r}, stage={stage!r}")
    grid = SENSITIVITY[scale] if grid is None else grid
    rows, seeds = sensitivity_rows(scale, grid), int(grid["seeds"])
    runs = list(dict.fromkeys(row.config.replace(seed=s) for row in rows if row.out_bias for s in range(seeds)))
    results = dict(zip(runs, sweep(runs, client, device=device, batch=seeds)))
    fc = list(dict.fromkeys(row.config.replace(seed=s) for row in rows if not row.out_bias for s in range(seeds)))
    results.update(zip(fc, fc_runs(fc, device=device)))
    by_sample = spectra(runs)
    by_sample.update(spectra([c for c in fc if sample_key(c) not in by_sample]))
    measures = [[_sensitivity_measures(results[c], c, row.bias, by_sample[sample_key(c)], stage, level)
                 for c in (row.config.replace(seed=s) for s in range(seeds))] for row in rows]
    field = lambda name: np.array([[m[name] for m in per_seed] for per_seed in measures])
    times = rows[0].config.times()
    if any(not np.array_equal(row.config.times(), times) for row in rows):
        raise ValueError("the rows of a sensitivity grid must share lr, epochs and snapshots (one time axis)")
    return Sensitivity(
        scale=scale, level=float(level), stage=float(stage), factors=tuple(r.factor for r in rows),
        values=tuple(r.value for r in rows), bias=np.array([r.bias for r in rows]),
        baseline=np.array([r.baseline for r in rows]), seeds=np.arange(seeds), times=times,
        lambda_1=field("lambda_1"), ratio=field("ratio"), t_level=field("t_level"), t_stage=field("t_stage"), stage_epoch=field("stage_epoch"),
        aligned=field("aligned"), directions=field("directions"), cos_v1=field("cos_v1"), cos_ones=field("cos_ones"),
        curves=field("curve"), base=next(row.config for row in rows if row.baseline))
