"""The paper's figures. Functions here draw, never compute: they take results
and an optional ``ax`` and return the axes.

The epoch scrubbers show the cosine matrices of a run (``trajectory.CosineFrames``)
epoch by epoch: ``heatmap_animation`` as a player that works in a static page,
with no kernel and no network (``FuncAnimation.to_jshtml``); ``scrubber`` as an
ipywidgets slider in a live Jupyter or Colab session, else the same player.
"""
from __future__ import annotations

import os
import re
import sys

import numpy as np

__all__ = [
    "heatmap", "amplitude_cosine", "loss_curve", "accuracy_curve",
    "eigenvalue_bars", "kernel_images", "image", "order_plot", "markdown_table",
    "heatmaps", "heatmap_animation", "scrubber", "live_frontend",
]


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


# ----------------------------------------------------------------------------- theory chapters

def eigenvalue_bars(eigenvalues, k=None, ax=None, title=None, log=True, label=None, color=None):
    """The k largest eigenvalues of Z^T Z against their index (Figs. 7 and 14), as bars,
    log scale by default (the gap lambda_1^2 / lambda_2^2 reads as a step).

    ``eigenvalues``: (k,) for one sample, or (T, k) for T samples: bars at the median,
    whiskers from the smallest to the largest value."""
    ax = _axes(ax, figsize=(4.6, 3.2))
    ev = np.atleast_2d(np.asarray(eigenvalues))[:, : k or None]
    mid = np.median(ev, axis=0)
    err = None if len(ev) == 1 else np.vstack([mid - ev.min(axis=0), ev.max(axis=0) - mid])
    ev = mid
    ax.bar(np.arange(1, len(ev) + 1), ev, color=color, label=label, yerr=err, capsize=2)
    if log:
        ax.set_yscale("log")
    ax.set_xticks(np.arange(1, len(ev) + 1))
    ax.set_xlabel("index k")
    ax.set_ylabel(r"eigenvalue $\lambda_k^2$ of $Z^\top Z$")
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax


def kernel_images(parts, m, axes=None, titles=None, cmap="RdBu_r", annotate=True):
    """Each row of ``parts`` (k, m*m) -- e.g. the channel parts of v_1 -- drawn as an m x m
    image, one panel each, on a shared colour scale centred at 0, values written in the cells."""
    import matplotlib.pyplot as plt

    parts = np.asarray(parts, dtype=float).reshape(-1, m, m)
    if axes is None:
        _, axes = plt.subplots(1, len(parts), figsize=(2.2 * len(parts) + 0.8, 2.4), layout="constrained")
    axes = np.atleast_1d(axes)
    vmax = np.abs(parts).max()
    for j, (ax, img) in enumerate(zip(axes, parts)):
        im = ax.imshow(img, cmap=cmap, vmin=-vmax, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[j])
        if annotate:
            for (p, q), v in np.ndenumerate(img):
                ax.text(q, p, f"{v:.3f}", ha="center", va="center", fontsize=8)
    axes[0].figure.colorbar(im, ax=list(axes), fraction=0.046, pad=0.04)
    return axes


def image(img, ax=None, title=None, cmap="viridis", colorbar=True):
    """One image (H, W), e.g. a channel of the label-weighted mean image of eq. 31."""
    ax = _axes(ax, figsize=(3.2, 3.0))
    im = ax.imshow(np.asarray(img), cmap=cmap)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def order_plot(eps, curves, ax=None, ref_slopes=(1, 2), ylabel="relative error", title=None):
    """Log-log plot of each curve (dict label -> values over ``eps``) with dashed reference
    lines eps^s for s in ``ref_slopes``: the order in eps reads as the slope."""
    ax = _axes(ax, figsize=(4.8, 3.6))
    eps = np.asarray(eps)
    for label, values in curves.items():
        ax.loglog(eps, values, "o-", label=label)
    small = np.argmin(eps)  # reference lines fan out from below the curves at the smallest eps
    anchor = 0.3 * min(np.asarray(v)[small] for v in curves.values())
    big = np.argmax(eps)
    for s in ref_slopes:
        ax.loglog(eps, anchor * (eps / eps[small]) ** s, "--", color="0.6", lw=0.9)
        ax.annotate(rf"$\varepsilon^{s}$", (eps[big], anchor * (eps[big] / eps[small]) ** s), color="0.4",
                    fontsize=9, ha="right", va="bottom")
    ax.set_xlabel(r"$\varepsilon$")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def markdown_table(header, rows):
    """A table as Markdown, for display in a notebook (``header``: column names; ``rows``: lists of cells)."""
    from IPython.display import Markdown

    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return Markdown("\n".join(lines))


def _layer_title(frames, j, epoch, label=None):
    title = f"layer {frames.layers[j] + 1}, epoch {int(epoch)}"
    return f"{label}, {title}" if label else title


def _row(n, axes, panel=3.0):
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(panel * n + 0.6, panel), layout="constrained", squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(axes)
    if len(axes) != n:
        raise ValueError(f"pass one axes per layer drawn ({n}), got {len(axes)}")
    return axes


def heatmaps(frames, epoch, axes=None, colorbar=True, label=None):
    """One cosine heatmap per conv layer of ``frames`` (a ``trajectory.CosineFrames``)
    at ``epoch`` -- one epoch, or one per layer drawn (Fig. 5 shows layer 1 earlier) --
    side by side as in Figs. 2, 3, 5, 9 and 11; ``label`` starts each title. Returns the axes."""
    n = len(frames.layers)
    epochs = [epoch] * n if np.ndim(epoch) == 0 else list(epoch)
    if len(epochs) != n:
        raise ValueError(f"give one epoch, or one per layer drawn ({n}); got {len(epochs)}")
    axes = _row(n, axes)
    unit = f"{frames.per} index"
    for j, (ax, e) in enumerate(zip(axes, epochs)):
        heatmap(frames.at(e, frames.layers[j]), ax=ax, title=_layer_title(frames, j, e, label), colorbar=False)
        ax.set_xlabel(unit)
        ax.set_ylabel(unit)
    if colorbar:
        mappable = axes[0].images[0]
        axes[0].figure.colorbar(mappable, ax=list(axes), fraction=0.046 / n, pad=0.02, label="cosine similarity")
    return axes


def heatmap_animation(frames, dpi=60, interval=700, panel=2.2, label=None):
    """The heatmaps of ``frames`` at every recorded epoch as an animation player
    (``matplotlib.animation.FuncAnimation(...).to_jshtml()``): HTML with the frames
    embedded as PNG, which plays in Jupyter, Colab and a static page alike.

    ``dpi`` and ``panel`` (inches per layer) keep the page light: the frames carry
    no ticks, only a title per layer. Returns an ``IPython.display.HTML``; the
    figure it drew is closed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    n = len(frames.layers)
    fig, axes = plt.subplots(1, n, figsize=(panel * n + 0.6, panel + 0.2), dpi=dpi, layout="constrained", squeeze=False)
    axes = heatmaps(frames, int(frames.epochs[0]), axes=axes[0], colorbar=False, label=label)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.title.set_fontsize(10)
    bar = fig.colorbar(axes[0].images[0], ax=list(axes), fraction=0.046 / n, pad=0.02, ticks=[-1, 0, 1])
    bar.ax.tick_params(labelsize=8)

    def draw(s):
        for j, ax in enumerate(axes):
            ax.images[0].set_data(frames.cos[j][s])
            ax.set_title(_layer_title(frames, j, frames.epochs[s], label), fontsize=10)
        return [ax.images[0] for ax in axes]

    animation = FuncAnimation(fig, draw, frames=len(frames.epochs), interval=interval, blit=False)
    html = _offline(animation.to_jshtml(default_mode="once"))
    plt.close(fig)
    return HTML(html)


# matplotlib's player draws its buttons with Font Awesome icons loaded from a CDN:
# the book must work offline, so the stylesheet goes and each icon becomes a character.
_FONT_AWESOME = re.compile(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">')
_ICON = re.compile(r'<i class="fa fa-([a-z-]+)( fa-flip-horizontal)?"></i>')
_GLYPHS = {
    "minus": "&minus;", "plus": "+", "fast-backward": "&#8676;", "fast-forward": "&#8677;",
    "step-backward": "&lsaquo;", "step-forward": "&rsaquo;", "pause": "&#10074;&#10074;", "play": "&#9654;",
}


def _offline(html: str) -> str:
    """The jshtml player without its Font Awesome stylesheet: its icons become characters."""
    html = _FONT_AWESOME.sub("", html)
    return _ICON.sub(lambda m: "&#9664;" if m.group(2) else _GLYPHS.get(m.group(1), m.group(1)), html)


def live_frontend() -> bool:
    """Whether this kernel serves a live notebook that renders ipywidgets: Colab, or a
    Jupyter server session (JupyterLab, Notebook 7, which set ``JPY_SESSION_NAME``).
    False when a notebook is executed headless (``jupyter-book``, ``nbclient``,
    ``papermill``, ``nbval``), whose output must work without a kernel."""
    if "google.colab" not in sys.modules and not os.environ.get("JPY_SESSION_NAME"):
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def scrubber(frames, interactive=None, **animation):
    """An epoch scrubber over the recorded snapshots of a run.

    ``interactive=True``: an ipywidgets slider over the recorded epochs that redraws
    ``heatmaps(frames, epoch)`` (needs a kernel); ``False``: ``heatmap_animation(frames,
    **animation)``, which needs none; ``None``: the slider when ``live_frontend()``.
    """
    if interactive is None:
        interactive = live_frontend()
    if not interactive:
        return heatmap_animation(frames, **animation)
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    slider = widgets.SelectionSlider(
        options=[int(e) for e in frames.epochs], value=int(frames.epochs[-1]),
        description="epoch", continuous_update=False,
    )

    def draw(epoch):
        heatmaps(frames, epoch, label=animation.get("label"))
        plt.show()

    return widgets.VBox([slider, widgets.interactive_output(draw, {"epoch": slider})])
