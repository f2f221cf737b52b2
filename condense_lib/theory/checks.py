"""The input checks of the maths modules: inputs become float64 numpy arrays or checked
numbers where they enter the library (shape, finiteness, range), with messages that name
the argument and say what is allowed."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

__all__ = ["as_array", "positive_int", "check_delta", "check_gamma_eps", "check_lambda", "check_array", "check_times", "check_xy", "check_m",
           "check_padding"]


def as_array(a, name: str, ndim: Optional[int] = None, *, finite: bool = True) -> np.ndarray:
    """``a`` (numpy, torch or nested lists) as a float64 array; ``ndim`` axes if given; finite if ``finite``."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers: {err}") from None
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {a.shape}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf: clean it first")
    return a


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1, else a ``ValueError`` naming ``name``."""
    if not (isinstance(value, (int, np.integer)) and value >= 1):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_delta(delta) -> float:
    """A probability delta in (0, 1) (Theorem 1's confidence), as a float."""
    if not (isinstance(delta, (float, int, np.floating)) and 0 < delta < 1):
        raise ValueError(f"delta must be a probability in (0, 1), got {delta!r}")
    return float(delta)


def check_gamma_eps(gamma_eps) -> float:
    """The theorem's exponent gamma_eps > 1 (eps^2 = M^-gamma_eps, Assumption 3), as a float."""
    if not (np.isfinite(gamma_eps) and gamma_eps > 1):
        raise ValueError(
            f"the theorem needs gamma_eps > 1 (eps^2 = M^-gamma_eps, Assumption 3), got {gamma_eps!r}"
        )
    return float(gamma_eps)


def check_lambda(value, name: str = "lambda_1") -> float:
    """A positive singular value of Z, as a float."""
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive singular value of Z, got {value!r}")
    return float(value)


def check_array(a, name: str, ndim=None) -> np.ndarray:
    """``a`` as a finite float64 array with ``ndim`` axes (if given)."""
    a = np.asarray(a, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf")
    return a


def check_times(times) -> np.ndarray:
    """Recorded times: one axis, increasing, from t >= 0."""
    times = check_array(times, "times", ndim=1)
    if times.size and (times[0] < 0 or (np.diff(times) <= 0).any()):
        raise ValueError("times must be increasing and >= 0 (the recorded times, starting at t = 0)")
    return times


def check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Images x (n, C, H, W) and scalar targets y (n,) as float64 arrays, checked."""
    x = as_array(x, "x")
    y = as_array(y, "y")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (n, C, H, W), got {x.shape}; add a channel axis for grey images")
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,) of scalar targets, got {y.shape}; for one-hot labels pick a scalar target")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}: pass matching inputs and targets")
    return x, y


def check_m(m, H: int, W: int) -> None:
    """The kernel size m: an integer in 1..min(H, W)."""
    if not (isinstance(m, (int, np.integer)) and 1 <= m <= min(H, W)):
        raise ValueError(f"m = {m!r} must be an integer in 1..{min(H, W)} for {H}x{W} images")


def check_padding(padding, m) -> None:
    """Zero pixels per side: an integer in 0..m-1."""
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or not 0 <= padding <= m - 1:
        raise ValueError(f"padding = {padding!r} must be an integer in 0..m-1 = 0..{m - 1} (zero pixels per side)")
