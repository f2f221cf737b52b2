"""Condensation pictures: the cosine matrices D of eq. 5 as heatmaps, before and after, per layer,
and the epoch scrubbers. ``heatmap_animation`` is a player that works in a static page, with no
kernel and no network (``FuncAnimation.to_jshtml``); ``scrubber`` an ipywidgets slider in a live
Jupyter or Colab session, else the same player. Draws, never computes.
"""
from __future__ import annotations

import re
from html import escape

import numpy as np

from ..theory.condensation import amplitudes, cluster_order, cosine_matrix, cosine_with_ones
from .base import DPI, FONT, WIDTH, new_axes, new_grid

__all__ = ["heatmap", "amplitude_cosine", "heatmaps", "heatmap_animation", "animation_caption", "scrubber", "before_after", "heatmap_row", "condensation_panel", "before_after_kernels"]


def heatmap(cos, ax=None, title=None, *, colorbar=True, cmap="RdBu_r"):
    """The cosine-similarity matrix D (eq. 5) as in Figs. 2-6 and 9-13:
    a diverging colour map from -1 to 1 with a colour bar."""
    ax = new_axes(ax)
    im = ax.imshow(np.asarray(cos), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    ax.set_xlabel("kernel index")
    ax.set_ylabel("kernel index")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    return ax


def amplitude_cosine(amplitude, cos_ones, ax=None, *, title=None):
    """Figs. 6b and 12b: each kernel's amplitude (left axis, red) and its cosine
    with the all-ones vector (right axis, blue) against the kernel index."""
    ax = new_axes(ax, figsize=(5.0, 3.4))
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


def _layer_title(frames, j, epoch, label=None):
    title = f"layer {frames.layers[j] + 1}, epoch {int(epoch)}"
    return f"{label}, {title}" if label else title


def _row(n, axes, panel=3.0):
    import matplotlib.pyplot as plt

    panel = min(panel, (WIDTH - 0.6) / n)
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(panel * n + 0.6, panel), layout="constrained", squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(axes)
    if len(axes) != n:
        raise ValueError(f"pass one axes per layer drawn ({n}), got {len(axes)}")
    return axes


def heatmaps(frames, epoch, axes=None, *, colorbar=True, label=None):
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


def heatmap_animation(frames, interval=700, *, label=None, caption=None):
    """The heatmaps of ``frames`` at every recorded epoch as an animation player
    (``matplotlib.animation.FuncAnimation(...).to_jshtml()``): HTML with the frames
    embedded as PNG, which plays in Jupyter, Colab and a static page alike.

    The frames are drawn like the book's figures (``DPI``, ``FONT``; at least 4.8 inches, half
    the column, and at most ``WIDTH``) and stored at twice ``DPI``; they carry no ticks, a title
    per layer, the axis labels and the colour bar's label. The player sits in a ``<figure>``
    whose caption is ``caption`` (default: what the frames show, from ``frames``). Returns an
    ``IPython.display.HTML``; the figure it drew is closed.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    n = len(frames.layers)
    panel = min(3.9, (WIDTH - 0.9) / n)
    with mpl.rc_context({"font.size": FONT, "axes.titlesize": FONT, "axes.labelsize": FONT, "savefig.dpi": 2 * DPI}):
        fig, axes = plt.subplots(1, n, figsize=(panel * n + 0.9, panel + 0.5), dpi=DPI, layout="constrained",
                                 squeeze=False)
        axes = heatmaps(frames, int(frames.epochs[0]), axes=axes[0], colorbar=False, label=label)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        bar = fig.colorbar(axes[0].images[0], ax=list(axes), fraction=0.046 / n, pad=0.02, ticks=[-1, 0, 1])
        bar.set_label("cosine")

        def draw(s):
            for j, ax in enumerate(axes):
                ax.images[0].set_data(frames.cos[j][s])
                ax.set_title(_layer_title(frames, j, frames.epochs[s], label))
            return [ax.images[0] for ax in axes]

        animation = FuncAnimation(fig, draw, frames=len(frames.epochs), interval=interval, blit=False)
        html = _offline(animation.to_jshtml(default_mode="once"))
        width = round(fig.get_figwidth() * DPI)
        plt.close(fig)
    html = re.sub(r'<img id="(_anim_img[0-9a-f]*)"', rf'<img id="\1" width="{width}" alt="animation frame"', html)
    return HTML(f'<figure class="animation-figure">{html}<figcaption>{escape(caption or animation_caption(frames, label))}'
                "</figcaption></figure>")


def animation_caption(frames, label=None) -> str:
    """What a player of ``frames`` shows, in one sentence (the default caption)."""
    layers = ", ".join(str(j + 1) for j in frames.layers)
    what = f"layer {layers}" if len(frames.layers) == 1 else f"layers {layers}"
    run = f"{label}: " if label else ""
    return (f"Animation, {run}the cosine similarity of every pair of {frames.per}s of {what} at each of the "
            f"{len(frames.epochs)} recorded epochs, {int(frames.epochs[0])} to {int(frames.epochs[-1])} "
            "(press \u25b6 to play, or step with \u2039 \u203a): watch the noise at epoch 0 gather into "
            "blocks of +1 and \u22121.")


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


def scrubber(frames, interactive=None, **animation):
    """An epoch scrubber over the recorded snapshots of a run.

    ``interactive=True``: an ipywidgets slider over the recorded epochs that redraws
    ``heatmaps(frames, epoch)`` (needs a kernel); ``False``: ``heatmap_animation(frames,
    **animation)``, which needs none; ``None``: the slider when ``live_frontend()``.
    """
    if interactive is None:
        from ..notebook import live_frontend

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

    caption = animation.get("caption") or animation_caption(frames, animation.get("label"))
    return widgets.VBox([slider, widgets.interactive_output(draw, {"epoch": slider}),
                         widgets.HTML(f"<p>{escape(caption)}</p>")])


def before_after(frames, shown, labels=None):
    """Heatmaps at initialization (top row) and at the ``shown`` epoch(s) (bottom row).

    ``frames``: one ``CosineFrames`` (a column per conv layer; ``shown`` one epoch or one per
    layer, as Figs. 2, 3, 5, 9, 11), or a list of ``CosineFrames`` of one layer each (a column
    per run, as Figs. 4 and 10; ``shown`` one epoch per run, ``labels`` one title prefix per run).
    Returns the (2, columns) axes."""
    runs = list(frames) if isinstance(frames, (list, tuple)) else [frames]
    columns = sum(len(f.layers) for f in runs)
    _, axes = new_grid(2, columns, 2.0 * WIDTH / columns + 0.6 if columns > 1 else 6.0,
                    width=WIDTH if columns > 1 else 4.2)
    shown = [shown] if len(runs) == 1 else list(shown)
    labels = labels or [None] * len(runs)
    j = 0
    for f, epochs, label in zip(runs, shown, labels):
        k = len(f.layers)
        last = j + k == columns
        heatmaps(f, 0, axes=axes[0, j:j + k], colorbar=False, label=label)
        heatmaps(f, epochs if np.ndim(epochs) else int(epochs), axes=axes[1, j:j + k], colorbar=last, label=label)
        j += k
    return axes


def heatmap_row(frames, epoch, labels=None):
    """Layer 1 of each ``CosineFrames`` in ``frames`` at ``epoch``, side by side (e.g. one
    vector per filter against one per kernel). Returns the axes."""
    _, axes = new_grid(1, len(frames), 3.4, width=min(WIDTH, 3.6 * len(frames)))
    labels = labels or [None] * len(frames)
    for j, (f, label) in enumerate(zip(frames, labels)):
        heatmaps(f, epoch, axes=axes[0, j:j + 1], colorbar=j == len(frames) - 1, label=label)
    return axes[0]


def condensation_panel(frames, V_end, epoch):
    """Figs. 6, 12 and 13 in one row: the cosine heatmap at initialization and at ``epoch``,
    and (b) each kernel's amplitude and cosine with the all-ones vector at ``epoch``
    (``V_end``: the kernel vectors then, one row each). Returns the three axes."""
    _, axes = new_grid(1, 3, 3.0, width_ratios=[1, 1, 1.4])
    axes = axes[0]
    heatmaps(frames, 0, axes=axes[:1], colorbar=False)
    heatmaps(frames, epoch, axes=axes[1:2], colorbar=False)
    amplitude_cosine(amplitudes(V_end), cosine_with_ones(V_end), ax=axes[2], title=f"(b) epoch {int(epoch)}")
    return axes


def before_after_kernels(V_before, V_after, titles):
    """The first chapter's two rows: the cosine heatmaps of the kernel vectors before and after,
    in one order (the clustering of ``V_after``), and each kernel's amplitude and cosine with
    the all-ones vector (Fig. 12 (a) and (b)). Returns the (2, 2) axes."""
    _, axes = new_grid(2, 2, 6.4)
    order = cluster_order(cosine_matrix(V_after))
    for j, (V, title) in enumerate(zip((V_before, V_after), titles)):
        heatmap(cosine_matrix(np.asarray(V)[order]), ax=axes[0, j], title=title, colorbar=j == 1)
        amplitude_cosine(amplitudes(V), cosine_with_ones(V), ax=axes[1, j], title=title)
    return axes
