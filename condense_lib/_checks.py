"""The one array converter of the maths modules: inputs become float64 numpy arrays,
checked where they enter the library (shape, finiteness), with messages that name the argument."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch


def as_array(a, name: str, ndim: Optional[int] = None, finite: bool = True) -> np.ndarray:
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
