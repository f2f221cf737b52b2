"""The proof chapter's figures: tails of the initial draws against their bounds, measured
quantities against the proof's bounds, failure probabilities over the width. Draws, never computes.
"""
from __future__ import annotations

import numpy as np

from .base import WIDTH, new_axes

__all__ = ["tail_histogram", "bound_curves", "failure_curves"]


_BOUND_STYLES = ["--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]


_BOUND_COLORS = ["k", "tab:gray", "tab:brown", "tab:purple", "tab:olive"]


def tail_histogram(samples, levels, ax=None, *, xlabel="value", logx=False, bins=40, title=None):
    """A histogram of ``samples`` (one value per random draw) with a vertical line at each of
    ``levels`` ({label: value}, e.g. a bound holding with probability 1 - delta); a logarithmic
    x axis with ``logx`` (when a bound lies far out in the tail)."""
    ax = new_axes(ax, figsize=(WIDTH, 4.0))
    samples = np.asarray(samples, dtype=float)
    values = [samples.min(), samples.max(), *levels.values()]
    if logx:
        edges = np.geomspace(samples.min(), samples.max(), bins + 1)
        ax.set_xscale("log")
    else:
        edges = bins
    ax.hist(samples, bins=edges, color="0.7", edgecolor="0.5", lw=0.5, label=f"{len(samples)} draws")
    for (label, value), color in zip(levels.items(), ["tab:red", "tab:blue", "tab:purple", "tab:green", "k"]):
        ax.axvline(value, color=color, lw=1.6, label=label)
    lo, hi = min(values), max(values)
    ax.set_xlim(lo / 1.15 if logx else lo - 0.05 * (hi - lo), hi * 1.15 if logx else hi + 0.05 * (hi - lo))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of draws")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def bound_curves(t, measured, bounds, *, ax=None, marks=None, levels=None, xlabel=r"$\lambda_1 t$",
                 ylabel="value", logy=True, title=None):
    """Measured curves (``measured``: {label: (T,) array}, solid) against bounds on them
    (``bounds``: {label: (T,) array or (t_b, values) pair}, dashed; a pair at one time is a marker),
    with vertical lines at the
    times in ``marks`` ({label: time}) and horizontal lines at ``levels`` ({label: value})."""
    ax = new_axes(ax, figsize=(WIDTH, 4.0))
    t = np.asarray(t, dtype=float)
    plot = ax.semilogy if logy else ax.plot
    for label, values in measured.items():
        plot(t, values, lw=2, label=label)
    for (label, values), style, color in zip(bounds.items(), _BOUND_STYLES * 4, _BOUND_COLORS * 4):
        tb, vb = values if isinstance(values, tuple) else (t, values)
        single = np.size(tb) == 1  # a bound at one time only: a marker
        plot(tb, vb, color=color, ls="none" if single else style, marker="o" if single else None, ms=7,
             lw=1.3, label=label)
    for (label, x), color in zip((marks or {}).items(), ["tab:red", "tab:purple", "tab:green", "0.4"]):
        ax.axvline(x, color=color, ls=":", lw=1.4, label=label)
    for (label, y), color in zip((levels or {}).items(), ["0.5", "tab:olive", "tab:cyan"]):
        ax.axhline(y, color=color, lw=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def failure_curves(widths, curves, delta, *, ax=None, marks=None, floor=1e-6, xlabel="M (kernels)",
                   ylabel="probability the step fails", title=None):
    """Failure probabilities against the width M (``curves``: {label: (K,) array}), on log-log axes;
    values below ``floor`` (zeros included) are drawn at ``floor``, the bottom edge. A horizontal
    line at ``delta`` and vertical lines at the widths in ``marks`` ({label: M})."""
    ax = new_axes(ax, figsize=(WIDTH, 4.0))
    widths = np.asarray(widths, dtype=float)
    for label, p in curves.items():
        ax.loglog(widths, np.maximum(np.asarray(p, dtype=float), floor), "o-", ms=4, label=label)
    ax.axhline(delta, color="k", ls="--", lw=1, label=rf"$\delta = {delta:g}$")
    for (label, M), color in zip((marks or {}).items(), ["tab:red", "tab:purple"]):
        ax.axvline(M, color=color, ls=":", lw=1.4, label=label)
    ax.set_ylim(floor / 1.5, 1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (below {floor:g}: at the edge)")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
