"""The one progress-bar policy of the trainer, the runner and the sweeps.

A function that trains takes ``progress``: ``True`` or ``False``; ``None``, for "as the policy
says"; or a callable ``progress(total)`` that returns a bar (anything with ``update(n)``,
``set_postfix(**kw)`` and ``close()``, as tqdm's), which the caller brings from above. The
policy for ``None``: ``CONDENSE_PROGRESS`` when it is set (``0`` hides); else the function
registered by ``set_progress_policy`` (the notebook layer registers "a terminal, or a live
notebook session": never in a headless book build, whose outputs must hold no timings); by
default, a terminal on stderr. This module knows nothing of notebooks.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Optional, Union

__all__ = ["set_progress_policy", "show_progress", "progress_bar"]

_POLICY: list = [lambda: sys.stderr.isatty()]


def set_progress_policy(policy: Callable[[], bool]) -> None:
    """Register what ``progress=None`` means where ``CONDENSE_PROGRESS`` is unset: a function of
    no arguments that says whether to show a bar (e.g. "in a terminal or a live notebook")."""
    if not callable(policy):
        raise TypeError(f"policy must be a function of no arguments returning a bool, got {policy!r}")
    _POLICY[0] = policy


def show_progress(progress: Optional[bool] = None) -> bool:
    """Whether to show a bar: ``progress`` if given; else ``CONDENSE_PROGRESS`` when set (``0``
    hides); else the registered policy."""
    if progress is not None:
        return bool(progress)
    if "CONDENSE_PROGRESS" in os.environ:
        return os.environ["CONDENSE_PROGRESS"] != "0"
    return bool(_POLICY[0]())


def progress_bar(total: int, progress: Union[None, bool, Callable] = None, *, desc: str = "training",
                 unit: str = "epoch"):
    """A bar over ``total`` steps, or None when none is to be shown (or ``total`` is 0).
    ``progress``: as in the module docstring; a callable is called with ``total``."""
    if total == 0:
        return None
    if callable(progress):
        return progress(total)
    if not show_progress(progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, mininterval=1.0, leave=False)
