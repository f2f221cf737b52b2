"""The named sweeps of the chapters "Beyond the paper": ``SWEEPS[name](scale)`` is the list of
``Config`` s a chapter's study trains at that scale (``python -m condense_lib sweep NAME``
trains them ahead of time; ``runner.resolve_scale(scale, SWEEPS[name])`` reads ``"auto"``)."""
from __future__ import annotations

from typing import Callable

from ..training.config import Config
from .after_initial_stage import after_initial_stage_sweep
from .regimes import phase_diagram_sweep
from .seeds import seed_sweep
from .sensitivity import sensitivity_configs

__all__ = ["SWEEPS"]


class _Sweeps(dict):
    """``SWEEPS[name]``: a missing name is an error that lists the sweeps."""

    def __missing__(self, name):
        raise KeyError(f"unknown sweep {name!r}: choose one of {sorted(self)}")


SWEEPS: "dict[str, Callable[[str], list[Config]]]" = _Sweeps(
    seeds=lambda scale: seed_sweep(scale),
    phase_diagram=phase_diagram_sweep,
    sensitivity=sensitivity_configs,
    after_initial_stage=after_initial_stage_sweep,
)
