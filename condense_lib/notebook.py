"""The set-up every chapter runs first (``notebook_setup``)."""
from __future__ import annotations

__all__ = ["notebook_setup"]


def notebook_setup() -> str:
    """The torch device the chapter trains on: ``"cuda"`` when a GPU is available, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
