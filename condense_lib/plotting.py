"""The paper's figures. Functions here draw, never compute: they take results
and an optional ``ax`` and return the axes."""
from __future__ import annotations

import numpy as np

__all__ = ["heatmap", "amplitude_cosine", "loss_curve", "accuracy_curve"]


def _axes(ax, figsize=(4.2, 3.6)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def heatmap(cos, ax=None, title=None, colorbar=True, cmap="RdBu_r"):
    """The cosine-similarity matrix D (eq. 5) as in Figs. 2-6 and 9-13:
    a diverging colour map from -1 to 1 with a colour bar."""
    ax = _axes(ax)
    im = ax.imshow(np.asarray(cos), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xlabel("kernel index")
    ax.set_ylabel("kernel index")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    return ax


def amplitude_cosine(amplitude, cos_ones, ax=None, title=None):
    """Figs. 6b and 12b: each kernel's amplitude (left axis, red) and its cosine
    with the all-ones vector (right axis, blue) against the kernel index."""
    ax = _axes(ax, figsize=(5.0, 3.4))
    k = np.arange(len(amplitude))
    ax.plot(k, amplitude, "o-", color="tab:red", ms=4, lw=1)
    ax.set_xlabel("kernel index")
    ax.set_ylabel("amplitude", color="tab:red")
    ax.tick_params(axis="y", colors="tab:red")
    right = ax.twinx()
    right.plot(k, cos_ones, "s", color="tab:blue", ms=4)
    right.set_ylim(-1.05, 1.05)
    right.set_ylabel(r"cosine with $\mathbb{1}$", color="tab:blue")
    right.tick_params(axis="y", colors="tab:blue")
    if title:
        ax.set_title(title)
    return ax


def loss_curve(loss, ax=None, title=None, label=None, marks=()):
    """Training loss against the epoch (Fig. 15; log scale when it spans decades), with vertical
    lines at the epochs in ``marks`` (e.g. the epochs whose heatmaps are shown)."""
    ax = _axes(ax, figsize=(4.6, 3.2))
    loss = np.asarray(loss)
    ax.plot(np.arange(len(loss)), loss, label=label)
    if loss.min() > 0 and loss.max() / loss.min() > 10:  # log scale only when it spans decades
        ax.set_yscale("log")
    for e in marks:
        ax.axvline(e, color="0.6", ls="--", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax


def accuracy_curve(acc, ax=None, title=None, label=None):
    """Training accuracy against the epoch (Fig. 8)."""
    ax = _axes(ax, figsize=(4.6, 3.2))
    ax.plot(np.arange(len(acc)), acc, label=label)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training accuracy")
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax
