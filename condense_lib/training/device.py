"""The one device policy: ``device=None`` means the best this machine has.

Every function of the library that trains or evaluates a network takes ``device=None`` as a
keyword; ``resolve_device`` turns it into a torch device: ``CONDENSE_DEVICE`` when that is set
(``CONDENSE_DEVICE=cpu`` keeps a GPU machine on its CPU), else ``"cuda"`` when PyTorch sees a
GPU, else ``"cpu"``. Apple's ``mps`` is never chosen by itself (no float64, and some of the
operations the trainer uses are missing there): pass ``device="mps"`` to try it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Optional, Union

import torch

__all__ = ["resolve_device", "full_float32", "synchronize"]


def resolve_device(device: Optional[Union[str, torch.device]] = None) -> torch.device:
    """``device`` as a ``torch.device``; ``None``: ``CONDENSE_DEVICE`` if set, else cuda if
    available, else cpu. A device string torch does not know is a ``ValueError``.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None:
        device = os.environ.get("CONDENSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"device {device!r} is not a torch device ({err}); use cpu, cuda or cuda:N "
                         f"(or None: the best this machine has)") from None


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a CUDA device runs asynchronously), so a timer reads it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def full_float32(device):
    """On a CUDA device, compute convolutions and matrix products in full float32 (no TF32),
    as on a CPU: the kernels start at 1e-5 and their first moves are what the figures show."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
