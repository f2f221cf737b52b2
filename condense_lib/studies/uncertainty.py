"""How sure a number over seeds is: 95% intervals for a mean, a difference and a slope, and the
smallest difference a set of seeds could have detected. The chapters that answer a question
"beyond the paper" state each answer with these (issue 20), never with a bare mean.

Student-t intervals: the seeds are independent draws (new images, new initialization), and a
handful of them is too few for a normal approximation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "mean_interval", "prediction_interval", "difference_interval", "detectable_difference",
           "slope_interval"]


@dataclass(frozen=True)
class Interval:
    """An estimate with its ``level`` (0.95) confidence interval [low, high] from ``n`` values."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside the interval: a difference from it is detected."""
        return not (self.low <= value <= self.high)


def _values(values, name="values") -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"{name}: an interval needs at least 2 values (seeds), got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds NaN or infinite entries: {x}")
    return x


def _t(level: float, dof: int) -> float:
    from scipy.stats import t

    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(t.ppf(0.5 + level / 2, dof))


def mean_interval(values, level: float = 0.95) -> Interval:
    """The mean of ``values`` (one per seed) and its Student-t interval.

    >>> print(mean_interval([1.0, 2.0, 3.0]))
    2 [-0.484, 4.48]
    """
    x = _values(values)
    half = _t(level, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), x.size, level)


def prediction_interval(values, level: float = 0.95) -> Interval:
    """Where one new draw of ``values`` (one per seed, n of them) should fall: their mean and the
    Student-t prediction interval mean +- t_{(1+level)/2, n-1} s sqrt(1 + 1/n) (s: ddof = 1).

    >>> print(prediction_interval([1.0, 2.0, 3.0]))
    2 [-2.97, 6.97]
    """
    x = _values(values)
    half = _t(level, x.size - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / x.size)
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), x.size, level)


def difference_interval(a, b, level: float = 0.95, *, paired: bool = True) -> Interval:
    """The mean of ``a - b`` and its interval: paired (seed by seed, the same images and
    initialization for both) or, with ``paired=False``, Welch's for two independent samples."""
    a, b = _values(a, "a"), _values(b, "b")
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired values need one of each per seed: {a.size} against {b.size}")
        return mean_interval(a - b, level)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    dof = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if va + vb > 0 else a.size + b.size - 2
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, dof)) * np.sqrt(va + vb)
    d = float(a.mean() - b.mean())
    return Interval(d, d - half, d + half, min(a.size, b.size), level)


def detectable_difference(values, level: float = 0.95, power: float = 0.8) -> float:
    """The smallest true mean difference that ``values`` (paired differences, one per seed) would
    detect with probability ``power`` at ``level``: ``(t_{1-a/2} + t_{power}) s / sqrt(n)``, n - 1
    degrees of freedom. What "no difference" can claim: none larger than this.

    >>> round(detectable_difference([0.0, 1.0, -1.0, 0.5, -0.5, 0.2, -0.2, 0.0]), 3)
    0.7
    """
    x = _values(values)
    from scipy.stats import t

    dof = x.size - 1
    return float((_t(level, dof) + t.ppf(power, dof)) * x.std(ddof=1) / np.sqrt(x.size))


def slope_interval(x, y, level: float = 0.95) -> Interval:
    """The least-squares slope of ``y`` against ``x`` (every point one run: a width, a seed) and its
    Student-t interval with ``len(x) - 2`` degrees of freedom; needs 3 points or more."""
    x, y = _values(x, "x"), _values(y, "y")
    if x.shape != y.shape or x.size < 3:
        raise ValueError(f"a slope interval needs x and y of one length >= 3, got {x.size} and {y.size}")
    xc = x - x.mean()
    if not np.any(xc):
        raise ValueError("x takes one value only: no slope")
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - slope * xc
    se = np.sqrt(resid @ resid / (x.size - 2) / (xc @ xc))
    half = _t(level, x.size - 2) * se
    return Interval(slope, slope - half, slope + half, x.size, level)
