"""The paper's figures. Functions here draw, never compute: they take results
and an optional ``ax`` and return the axes.

The epoch scrubbers show the cosine matrices of a run (``trajectory.CosineFrames``)
epoch by epoch: ``heatmap_animation`` as a player that works in a static page,
with no kernel and no network (``FuncAnimation.to_jshtml``); ``scrubber`` as an
ipywidgets slider in a live Jupyter or Colab session, else the same player.
"""
from __future__ import annotations

import re

import numpy as np

from .condensation import amplitudes, cluster_order, cosine_matrix, cosine_with_ones

__all__ = [
    "heatmap", "amplitude_cosine", "loss_curve", "accuracy_curve",
    "eigenvalue_bars", "kernel_images", "image", "order_plot", "table",
    "heatmaps", "heatmap_animation", "scrubber",
    "panels", "before_after", "heatmap_row", "condensation_panel", "before_after_kernels", "loss_curves", "mean_images",
    "eigenvalue_panels", "v1_images", "angle_decay", "moving_frozen", "real_vs_linear", "energies", "remainders",
    "timeline", "width_runs", "width_scan", "regime_comparison", "tail_histogram", "bound_curves", "failure_curves",
    "seed_errorbars", "phase_heatmaps", "optimizer_curves", "optimizer_directions", "sensitivity_curves",
    "sensitivity_table", "growth_vs_rate", "accuracy_and_survival",
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


def _epoch_curve(values, ax, title, label, marks, ylabel):
    ax = _axes(ax, figsize=(4.6, 3.2))
    values = np.asarray(values)
    ax.plot(np.arange(len(values)), values, label=label)
    for e in marks:
        ax.axvline(e, color="0.6", ls="--", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if label:
        ax.legend()
    return ax


def loss_curve(loss, ax=None, title=None, label=None, marks=()):
    """Training loss against the epoch (Fig. 15; log scale when it spans decades), with vertical
    lines at the epochs in ``marks`` (e.g. the epochs whose heatmaps are shown)."""
    ax = _epoch_curve(loss, ax, title, label, marks, "training loss")
    loss = np.asarray(loss)
    if loss.min() > 0 and loss.max() / loss.min() > 10:  # log scale only when it spans decades
        ax.set_yscale("log")
    return ax


def accuracy_curve(acc, ax=None, title=None, label=None, marks=(), level=None):
    """Training accuracy against the epoch (Fig. 8), with dashed lines at the epochs in
    ``marks`` and a horizontal line at ``level``."""
    ax = _epoch_curve(acc, ax, title, label, marks, "training accuracy")
    if level is not None:
        ax.axhline(level, color="0.6", lw=0.8)
    ax.set_ylim(0, 1.02)
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


class Table:
    """A table that renders as an HTML table in a notebook and in the built book, and as
    Markdown where HTML is not shown (``table`` builds it)."""

    def __init__(self, header, rows):
        self.header, self.rows = [str(h) for h in header], [[str(c) for c in r] for r in rows]

    def _repr_html_(self) -> str:
        import html

        def cell(tag, text):
            bold = text.startswith("**") and text.endswith("**") and len(text) > 4
            body = f"<b>{html.escape(text[2:-2])}</b>" if bold else html.escape(text)
            return f"<{tag}>{body}</{tag}>"

        head = "".join(cell("th", h) for h in self.header)
        body = "".join("<tr>" + "".join(cell("td", c) for c in r) + "</tr>" for r in self.rows)
        return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + " --- |" * len(self.header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in self.rows])


def table(header, rows) -> Table:
    """A table for display in a notebook (``header``: column names; ``rows``: lists of cells;
    a cell written ``**text**`` is bold)."""
    return Table(header, rows)


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
    no ticks, a title per layer, the axis labels and the colour bar's label. Returns
    an ``IPython.display.HTML``; the figure it drew is closed.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.animation import FuncAnimation

    n = len(frames.layers)
    fig, axes = plt.subplots(1, n, figsize=(panel * n + 0.9, panel + 0.5), dpi=dpi, layout="constrained", squeeze=False)
    axes = heatmaps(frames, int(frames.epochs[0]), axes=axes[0], colorbar=False, label=label)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.xaxis.label.set_fontsize(9)
        ax.yaxis.label.set_fontsize(9)
        ax.title.set_fontsize(10)
    bar = fig.colorbar(axes[0].images[0], ax=list(axes), fraction=0.046 / n, pad=0.02, ticks=[-1, 0, 1])
    bar.ax.tick_params(labelsize=8)
    bar.set_label("cosine", fontsize=9)

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


def scrubber(frames, interactive=None, **animation):
    """An epoch scrubber over the recorded snapshots of a run.

    ``interactive=True``: an ipywidgets slider over the recorded epochs that redraws
    ``heatmaps(frames, epoch)`` (needs a kernel); ``False``: ``heatmap_animation(frames,
    **animation)``, which needs none; ``None``: the slider when ``live_frontend()``.
    """
    if interactive is None:
        from .notebook import live_frontend

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


# ----------------------------------------------------------------------------- chapter figures
# Every figure a chapter draws, so that a chapter holds one call per figure. Widths stay at or
# under WIDTH inches, the book's text column at 100 dpi, so that the tick labels stay legible.

WIDTH = 8.0


def _grid(rows, cols, height, width=WIDTH, **kw):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(width, height), layout="constrained", squeeze=False, **kw)
    return fig, axes


def panels(n: int, height: float = 3.2):
    """A row of ``n`` empty axes at the book's width, for the drawing functions' ``ax=``."""
    return _grid(1, n, height)[1][0]


def before_after(frames, shown, labels=None):
    """Heatmaps at initialization (top row) and at the ``shown`` epoch(s) (bottom row).

    ``frames``: one ``CosineFrames`` (a column per conv layer; ``shown`` one epoch or one per
    layer, as Figs. 2, 3, 5, 9, 11), or a list of ``CosineFrames`` of one layer each (a column
    per run, as Figs. 4 and 10; ``shown`` one epoch per run, ``labels`` one title prefix per run).
    Returns the (2, columns) axes."""
    runs = list(frames) if isinstance(frames, (list, tuple)) else [frames]
    columns = sum(len(f.layers) for f in runs)
    _, axes = _grid(2, columns, 2.0 * WIDTH / columns + 0.6 if columns > 1 else 6.0,
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
    _, axes = _grid(1, len(frames), 3.6, width=3.8 * len(frames))
    labels = labels or [None] * len(frames)
    for j, (f, label) in enumerate(zip(frames, labels)):
        heatmaps(f, epoch, axes=axes[0, j:j + 1], colorbar=j == len(frames) - 1, label=label)
    return axes[0]


def condensation_panel(frames, V_end, epoch):
    """Figs. 6, 12 and 13 in one row: the cosine heatmap at initialization and at ``epoch``,
    and (b) each kernel's amplitude and cosine with the all-ones vector at ``epoch``
    (``V_end``: the kernel vectors then, one row each). Returns the three axes."""
    _, axes = _grid(1, 3, 3.0, width_ratios=[1, 1, 1.4])
    axes = axes[0]
    heatmaps(frames, 0, axes=axes[:1], colorbar=False)
    heatmaps(frames, epoch, axes=axes[1:2], colorbar=False)
    amplitude_cosine(amplitudes(V_end), cosine_with_ones(V_end), ax=axes[2], title=f"(b) epoch {int(epoch)}")
    return axes


def before_after_kernels(V_before, V_after, titles):
    """The first chapter's two rows: the cosine heatmaps of the kernel vectors before and after,
    in one order (the clustering of ``V_after``), and each kernel's amplitude and cosine with
    the all-ones vector (Fig. 12 (a) and (b)). Returns the (2, 2) axes."""
    _, axes = _grid(2, 2, 6.4)
    order = cluster_order(cosine_matrix(V_after))
    for j, (V, title) in enumerate(zip((V_before, V_after), titles)):
        heatmap(cosine_matrix(np.asarray(V)[order]), ax=axes[0, j], title=title, colorbar=j == 1)
        amplitude_cosine(amplitudes(V), cosine_with_ones(V), ax=axes[1, j], title=title)
    return axes


def loss_curves(losses, marks=None):
    """One training-loss panel per run (``losses``: dict title -> loss per epoch), with dashed
    lines at ``marks[title]`` (the epochs shown). Returns the axes."""
    _, axes = _grid(1, len(losses), 2.8)
    for ax, (title, loss) in zip(axes[0], losses.items()):
        loss_curve(loss, ax=ax, title=title, marks=(marks or {}).get(title, ()))
    return axes[0]


def mean_images(images):
    """The label-weighted mean image z of eq. 31, one panel per channel (``images``: dict
    title -> (C, H, W))."""
    panels = [(f"{title}, channel {'RGB'[a]}" if len(img) == 3 else title, img[a])
              for title, img in images.items() for a in range(len(img))]
    _, axes = _grid(1, len(panels), 2.3)
    for ax, (title, img) in zip(axes[0], panels):
        image(img, ax=ax, title=title)
    return axes[0]


def eigenvalue_panels(spectra, k):
    """``eigenvalue_bars`` side by side (``spectra``: dict title -> eigenvalues (k,) or (T, k);
    ``k``: the count shown, one for all or a dict title -> count)."""
    _, axes = _grid(1, len(spectra), 3.0)
    for ax, (title, ev) in zip(axes[0], spectra.items()):
        eigenvalue_bars(ev, k=k[title] if isinstance(k, dict) else k, ax=ax, title=title)
    return axes[0]


def v1_images(parts, m):
    """The channel parts of v_1 as m x m images (``parts``: dict title -> (C, m^2))."""
    import matplotlib.pyplot as plt

    panels = [(f"{title}, {'RGB'[a]}" if len(p) == 3 else title, row) for title, p in parts.items() for a, row in enumerate(p)]
    _, axes = plt.subplots(1, len(panels), figsize=(WIDTH, 2.3), layout="constrained")
    return kernel_images(np.stack([row for _, row in panels]), m, axes=axes, titles=[t for t, _ in panels])


def angle_decay(lambda_t, angles, gap_rate):
    """The angle of each kernel to the line of v_1 along the closed form (grey), its median
    (blue) and the rate exp(-(lambda_1 - lambda_2) t) (dashed); ``lambda_t`` (T,), ``angles``
    (T, M) in radians, ``gap_rate`` (lambda_1 - lambda_2) / lambda_1."""
    ax = _axes(None, figsize=(6, 3.6))
    degrees = np.degrees(angles)
    ax.semilogy(lambda_t, degrees, color="0.75", lw=0.7)
    median = np.median(degrees, axis=1)
    ax.semilogy(lambda_t, median, color="tab:blue", lw=2.5, label=f"median over {angles.shape[1]} kernels")
    ax.semilogy(lambda_t, median[-1] * np.exp(-gap_rate * (lambda_t - lambda_t[-1])), "k--",
                label=r"slope $-(\lambda_1-\lambda_2)$")
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylabel(r"angle to the line of $\mathbf{v}_1$ (degrees)")
    ax.legend()
    return ax


def moving_frozen(lambda_t, moving, frozen):
    """The norm of the moving part (the span of the v_k) and of the frozen part (Remark 5)."""
    ax = _axes(None, figsize=(6, 3.4))
    ax.semilogy(lambda_t, moving, label=r"moving part, span of the $\mathbf{v}_k$")
    ax.semilogy(lambda_t, frozen, label="frozen part (Remark 5)")
    ax.set_xlabel(r"$\lambda_1 t$ (this crop's $\lambda_1$)")
    ax.set_ylabel("norm over the kernels")
    ax.legend()
    return ax


def real_vs_linear(regime, euler, kernels=4):
    """Left: the relative distance of the real run from the linear GD iterates, and of those
    from the gradient flow (``euler``, (S,)), with ``regime.tol`` and T_lin. Right: the norms of
    the first ``kernels`` theta_{W, beta}, real (colour) and linear (dotted)."""
    _, axes = _grid(1, 2, 3.4)
    left, right = axes[0]
    t = regime.times * regime.lambda_1
    left.semilogy(t, regime.distance, label="real GD vs linear GD")
    left.semilogy(t, euler, "--", label="linear GD vs gradient flow")
    left.axhline(regime.tol, color="0.6", lw=0.8)
    left.axvline(regime.T_lin * regime.lambda_1, color="0.6", lw=0.8)
    left.set_ylim(1e-9, 2)
    left.set_xlabel(r"$\lambda_1 t$")
    left.set_ylabel("relative distance")
    left.legend(fontsize=8)
    right.semilogy(t, np.linalg.norm(regime.theta_W[:, :kernels], axis=-1), lw=2)
    right.set_prop_cycle(None)
    right.semilogy(t, np.linalg.norm(regime.W_linear[:, :kernels], axis=-1), "k:", lw=1.2)
    right.set_xlabel(r"$\lambda_1 t$")
    right.set_ylabel(rf"$\|\theta_{{W,\beta}}\|$, kernels 1-{kernels}")
    right.set_title("real (colour), linear (dotted)", fontsize=10)
    return axes[0]


def energies(regime, E, threshold):
    """Each kernel's energy E_beta (eq. 46, grey), phi (eq. 52), the level M^((gamma_eps - 1)/4)
    of eq. 54 and T_eff."""
    ax = _axes(None, figsize=(6, 3.6))
    t = regime.times * regime.lambda_1
    ax.semilogy(t, E, color="0.75", lw=0.6)
    ax.semilogy(t, regime.phi, color="tab:red", lw=2, label=r"$\phi(t)$ (eq. 52)")
    ax.axhline(threshold, color="k", ls="--", lw=1, label=r"$M^{(\gamma_\varepsilon-1)/4}$")
    ax.axvline(regime.T_eff * regime.lambda_1, color="tab:red", ls=":", label=r"$T_{\mathrm{eff}}$ (eq. 54)")
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylabel(r"$E_\beta(t)$ (eq. 46)")
    ax.legend()
    return ax


def remainders(lambda_t, measured, bounds):
    """The remainder factors of Prop. 2 against time: ``measured`` and ``bounds`` are dicts
    label -> (S,) values, measured drawn solid and bounds in black."""
    ax = _axes(None, figsize=(6.5, 3.8))
    for label, values in measured.items():
        ax.semilogy(lambda_t, values, label=label)
    for (label, values), style in zip(bounds.items(), ("k-", "k--", "k:")):
        ax.semilogy(lambda_t, values, style, label=label)
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylabel("remainder factor")
    ax.legend(fontsize=8)
    return ax


def timeline(lambda_t, curves, marks):
    """Curves against lambda_1 t (``curves``: dict label -> (S,) values in [0, 1]) and vertical
    lines at the times in ``marks`` (dict label -> lambda_1 t)."""
    ax = _axes(None, figsize=(7, 3.8))
    for label, values in curves.items():
        ax.plot(lambda_t, values, label=label)
    styles = [("tab:purple", "--"), ("tab:red", ":"), ("tab:blue", "-."), ("k", "-"), ("tab:green", "--")]
    for (label, value), (color, ls) in zip(marks.items(), styles):
        ax.axvline(value, color=color, ls=ls, label=label)
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def width_runs(scan):
    """Theorem 1 along time, one colour per width: left, the alignment with v_1 (eq. 15), real
    (solid) and closed form (dotted), with the sup over [0, T_lin]; right, the distance of the
    real run from the closed form and the tolerance that defines T_lin."""
    _, axes = _grid(1, 2, 3.4)
    left, right = axes[0]
    t = scan.times * scan.lambda_1
    for k, M in enumerate(scan.widths):
        line, = left.plot(t, scan.align[k], label=f"M = {M}")
        left.plot(t, scan.align_linear[k], ":", color=line.get_color())
        right.semilogy(t, scan.distance[k], color=line.get_color())
    left.plot(scan.T_lin * scan.lambda_1, scan.sup("align"), "ko", label=r"sup over $[0, T_{\mathrm{lin}}]$")
    left.set_xlabel(r"$\lambda_1 t$")
    left.set_ylabel(r"$\|\theta_{W,v_1}\| / \|\theta_W\|$ (eq. 15)")
    left.legend(fontsize=7)
    right.axhline(scan.tol, color="k", lw=0.8)
    right.set_ylim(1e-8, 2)
    right.set_xlabel(r"$\lambda_1 t$")
    right.set_ylabel("distance from the closed form")
    return axes[0]


def width_scan(scans):
    """Theorem 1's two sups against the width M, one line per scan (``scans``: dict label ->
    ``Theorem1Scan``): the relative change (eq. 14, log-log) and the alignment (eq. 15)."""
    _, axes = _grid(1, 2, 3.2)
    left, right = axes[0]
    for label, s in scans.items():
        left.loglog(s.widths, s.sup("change"), "o-", label=label)
        right.semilogx(s.widths, s.sup("align"), "o-", label=label)
    left.set_xlabel("M")
    left.set_ylabel(r"sup$_{t \leq T_{\mathrm{lin}}}$ relative change (eq. 14)")
    right.axhline(1, color="k", lw=0.8)
    right.set_xlabel("M")
    right.set_ylabel(r"sup$_{t \leq T_{\mathrm{lin}}}$ alignment (eq. 15)")
    for ax in (left, right):
        ax.legend()
    return axes[0]


def regime_comparison(comparison):
    """The lazy and the condensed regime (``studies.RegimeComparison``) against lambda_1 t, one
    colour per width, solid for gamma_eps > 1 and dashed otherwise, a dot at each run's stop:
    the relative change of the kernels (eq. 14, log scale), their alignment with v_1 (eq. 15)
    and the loss as a share of the zero network's, with the common level. Returns the axes."""
    _, axes = _grid(1, 3, 3.2)
    change_ax, align_ax, loss_ax = axes[0]
    t = comparison.times * comparison.lambda_1
    colours = {M: f"C{j}" for j, M in enumerate(dict.fromkeys(comparison.widths.tolist()))}
    for k, (g, M) in enumerate(zip(comparison.gamma_eps, comparison.widths)):
        style = dict(color=colours[int(M)], ls="-" if g > 1 else "--", label=rf"$\gamma_\varepsilon = {g:g}$, M = {M}")
        s = comparison.stop[k]
        for ax, values in ((change_ax, comparison.change[k]), (align_ax, comparison.align[k]), (loss_ax, comparison.loss[k])):
            ax.plot(t, values, **style)
            ax.plot(t[s], values[s], "o", color=style["color"])
    change_ax.set_yscale("log")
    loss_ax.set_yscale("log")
    loss_ax.axhline(comparison.level, color="k", lw=0.8)
    for ax, label in ((change_ax, "relative change of the kernels (eq. 14)"),
                      (align_ax, r"alignment with $\mathbf{v}_1$ (eq. 15)"), (loss_ax, r"$R_S / R_S(\mathbf{0})$")):
        ax.set_xlabel(r"$\lambda_1 t$")
        ax.set_ylabel(label)
    align_ax.set_ylim(0, 1.02)
    align_ax.legend(fontsize=7)
    return axes[0]


# ----------------------------------------------------------------------------- the proof of Theorem 1

_BOUND_STYLES = ["--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]
_BOUND_COLORS = ["k", "tab:gray", "tab:brown", "tab:purple", "tab:olive"]


def tail_histogram(samples, levels, ax=None, xlabel="value", logx=False, bins=40, title=None):
    """A histogram of ``samples`` (one value per random draw) with a vertical line at each of
    ``levels`` ({label: value}, e.g. a bound holding with probability 1 - delta); a logarithmic
    x axis with ``logx`` (when a bound lies far out in the tail)."""
    ax = _axes(ax, figsize=(5.2, 3.6))
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
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def bound_curves(t, measured, bounds, ax=None, marks=None, levels=None, xlabel=r"$\lambda_1 t$",
                 ylabel="value", logy=True, title=None):
    """Measured curves (``measured``: {label: (T,) array}, solid) against bounds on them
    (``bounds``: {label: (T,) array or (t_b, values) pair}, dashed; a pair at one time is a marker),
    with vertical lines at the
    times in ``marks`` ({label: time}) and horizontal lines at ``levels`` ({label: value})."""
    ax = _axes(ax, figsize=(5.2, 3.6))
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
    ax.legend(fontsize=7.5)
    if title:
        ax.set_title(title)
    return ax


def failure_curves(widths, curves, delta, ax=None, marks=None, floor=1e-6, xlabel="M (kernels)",
                   ylabel="probability the step fails", title=None):
    """Failure probabilities against the width M (``curves``: {label: (K,) array}), on log-log axes;
    values below ``floor`` (zeros included) are drawn at ``floor``, the bottom edge. A horizontal
    line at ``delta`` and vertical lines at the widths in ``marks`` ({label: M})."""
    ax = _axes(ax, figsize=(5.2, 3.6))
    widths = np.asarray(widths, dtype=float)
    for label, p in curves.items():
        ax.loglog(widths, np.maximum(np.asarray(p, dtype=float), floor), "o-", ms=4, label=label)
    ax.axhline(delta, color="k", ls="--", lw=1, label=rf"$\delta = {delta:g}$")
    for (label, M), color in zip((marks or {}).items(), ["tab:red", "tab:purple"]):
        ax.axvline(M, color=color, ls=":", lw=1.4, label=label)
    ax.set_ylim(floor / 1.5, 1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (below {floor:g}: at the edge)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def seed_errorbars(spread, of="aligned"):
    """The key measure of each figure over seeds (``studies.SeedSpread``): every seed (grey
    dots), mean +- std (black error bar) and seed 0, the figure's own run (red star)."""
    _, axes = _grid(1, 1, 3.2, width=min(WIDTH, 1.6 + 1.4 * len(spread.figures)))
    ax = axes[0][0]
    values = getattr(spread, of)
    x = np.arange(len(spread.figures))
    jitter = np.linspace(-0.12, 0.12, values.shape[1])
    for k in x:
        ax.plot(k + jitter, values[k], "o", color="0.6", ms=4, zorder=1, label="one seed" if k == 0 else None)
    ax.errorbar(x + 0.25, spread.mean(of), yerr=spread.std(of), fmt="s", color="k", capsize=5, zorder=2,
                label="mean ± std")
    ax.plot(x, values[:, 0], "*", color="tab:red", ms=13, zorder=3, label="seed 0 (the book's figure)")
    ax.set_xticks(x, [f"{name}\n(epoch {e})" for name, e in zip(spread.figures, spread.shown)])
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xlabel("figure (fast scale), shown epoch")
    ax.set_ylabel("aligned fraction" if of == "aligned" else "effective directions")
    ax.legend(fontsize="small", loc="lower left")
    return ax


def phase_heatmaps(diagram, boundary=1.0):
    """Two heatmaps over (gamma_eps, M) of a ``studies.PhaseDiagram``, seed means: the relative
    change of the kernels (eq. 14, log colour scale) and their alignment with v_1 (eq. 15), both
    when the loss has fallen by ``diagram.drop``. One row per gamma_eps, one column per M; a
    dashed line between the rows gamma_eps <= ``boundary`` and those above it."""
    from matplotlib.colors import LogNorm

    _, axes = _grid(1, 2, 3.4)
    left, right = axes[0]
    gammas, widths = diagram.gammas, diagram.widths
    line = np.searchsorted(gammas, boundary, side="right") - 0.5  # between the last row <= boundary and the next
    panels = [(left, diagram.mean("change"), "relative change (eq. 14)", dict(norm=LogNorm(), cmap="viridis")),
              (right, diagram.mean("align"), "alignment with $v_1$ (eq. 15)", dict(vmin=0, vmax=1, cmap="magma"))]
    for ax, values, label, style in panels:
        mesh = ax.pcolormesh(np.arange(len(widths) + 1) - 0.5, np.arange(len(gammas) + 1) - 0.5, values, **style)
        ax.figure.colorbar(mesh, ax=ax, label=label)
        dark = values < (0.6 if style["cmap"] == "magma" else np.nanmedian(values))
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=6, color="w" if dark[i, j] else "k")
        ax.axhline(line, color="w", ls="--", lw=1.5)
        ax.text(len(widths) - 0.55, line + 0.08, rf"$\gamma_\varepsilon = {boundary:g}$", color="w", fontsize=7,
                ha="right", va="bottom")
        ax.set_xticks(np.arange(len(widths)), [str(M) for M in widths], fontsize=7)
        ax.set_yticks(np.arange(len(gammas)), [f"{g:g}" for g in gammas], fontsize=7)
        ax.set_xlabel("width M")
        ax.set_ylabel(r"$\gamma_\varepsilon$  ($\varepsilon^2 = M^{-\gamma_\varepsilon}$)")
    return axes[0]


# ----------------------------------------------------------------------------- Adam against GD


def _run_label(comparison, r):
    return f"{comparison.optimizers[r].upper() if comparison.optimizers[r] == 'gd' else 'Adam'}, lr = {comparison.lrs[r]:.2g}"


def optimizer_curves(comparison):
    """A ``studies.OptimizerComparison`` against the step, one colour per run (GD black): the
    aligned fraction of the kernels with the ``level`` and, dashed, the step at which each run's
    phi reaches eq. 54's level (T_eff for GD); eq. 15's alignment with v_1 (solid) and with the
    sign fixed point s_W (dotted); the loss over its initial value. Returns the three axes."""
    _, axes = _grid(1, 3, 3.3)
    frac_ax, align_ax, loss_ax = axes[0]
    epochs = comparison.epochs
    for r in range(len(comparison.optimizers)):
        color = "k" if r == 0 else f"C{r - 1}"
        label = _run_label(comparison, r)
        frac_ax.plot(epochs, comparison.aligned[r], color=color, label=label)
        if np.isfinite(comparison.energy_onset[r]):
            frac_ax.axvline(comparison.energy_onset[r], color=color, ls="--", lw=1)
        align_ax.plot(epochs, comparison.align_v1[r], color=color, label=label)
        align_ax.plot(epochs, comparison.align_sign[r], color=color, ls=":")
        loss_ax.plot(np.arange(len(comparison.loss[r])), comparison.loss[r] / comparison.loss[r, 0], color=color, label=label)
    frac_ax.axhline(comparison.level, color="0.6", lw=0.8)
    frac_ax.set_ylabel("aligned fraction (dashed: eq. 54's level)")
    align_ax.set_ylabel(r"eq. 15 with $\mathbf{v}_1$ (solid), $\mathbf{s}_W$ (dotted)")
    loss_ax.set_ylabel(r"$R_S / R_S(0)$")
    for ax in (frac_ax, align_ax):
        ax.set_ylim(0, 1.03)
    for ax in axes[0]:
        ax.set_xlabel("step")
    frac_ax.legend(fontsize=7, loc="lower right")
    return axes[0]


def optimizer_directions(comparison, runs=(0, 1)):
    """Where the kernels of two runs of a ``studies.OptimizerComparison`` point at the last step:
    the cosine heatmap (eq. 5) of each run's kernel weights, clustered, and the leading direction
    of theta_{W, beta} (weights, then the bias) of each run beside v_1 and the sign fixed point
    s_W, entry by entry (each of unit norm, the sign fixed so the weights sum to >= 0).
    Returns the three axes."""
    _, axes = _grid(1, 3, 3.2, width_ratios=[1, 1, 1.3])
    for ax, r in zip(axes[0][:2], runs):
        V = comparison.kernels[r]
        heatmap(cosine_matrix(V[cluster_order(cosine_matrix(V))]), ax=ax, title=_run_label(comparison, r),
                colorbar=r == runs[-1])
    ax = axes[0][2]
    D = len(comparison.s_W)
    k = np.arange(D)
    unit = lambda v: np.asarray(v) / np.linalg.norm(v) * (1 if np.sum(v[:-1]) >= 0 else -1)
    ax.plot(k, unit(comparison.spectrum.v1), "o-", color="tab:blue", label=r"$\mathbf{v}_1$ of $\mathbf{Z}$")
    ax.plot(k, unit(comparison.s_W), "s-", color="tab:red", label=r"sign fixed point $\mathbf{s}_W$")
    for r, marker in zip(runs, ("x", "+")):
        ax.plot(k, unit(comparison.lead_bias[r]), marker, color="k" if r == 0 else f"C{r - 1}", ms=9, ls="none",
                label=_run_label(comparison, r))
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xticks(k, [str(j + 1) for j in range(D - 1)] + ["b"])
    ax.set_xlabel("entry of theta_W (b: the bias)")
    ax.set_ylabel("leading direction, unit norm")
    ax.legend(fontsize=7)
    return axes[0]


def sensitivity_curves(study):
    """The sensitivity table as curves (``studies.Sensitivity``): one panel per factor, the
    aligned fraction (mean over seeds) against the gradient-flow time t = lr x epoch for each
    value (the baseline black, a dot where it reaches ``study.level``); a last panel with the
    time to condense (filled) and the end of the initial stage (open) of every row against
    1000 / lambda_1, and the line t = c / lambda_1 through the baseline's end of the initial stage."""
    factors = list(dict.fromkeys(study.factors))
    cols = 3
    rows = -(-(len(factors) + 1) // cols)
    _, axes = _grid(rows, cols, 2.6 * rows, sharey=False)
    axes = axes.ravel()
    curves, t = study.curves.mean(axis=1), study.times
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for ax, factor in zip(axes, factors):
        others = iter(colors)
        for r in study.rows(factor):
            base = bool(study.baseline[r])
            color = "k" if base else next(others)
            label = f"{factor} = {study.values[r]}" + (" (baseline)" if base else "") + (
                " (with its bias)" if study.bias[r] and factor != "bias" else "")
            ax.plot(t, curves[r], color=color, lw=2.2 if base else 1.4, ls="-" if base else "--", label=label)
            t90 = study.mean("t_level")[r]
            if np.isfinite(t90):
                ax.plot([t90], [study.level], "o", color=color, ms=4)
        ax.axhline(study.level, color="0.7", lw=0.8, ls=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("t = lr x epoch")
        ax.set_ylabel("aligned fraction")
        ax.legend(fontsize=6.5, loc="lower right")
    ax = axes[len(factors)]
    inv = 1e3 / study.mean("lambda_1")  # 1000 / lambda_1
    base = int(np.flatnonzero(study.baseline)[0])
    for r in range(len(study.factors)):
        if study.baseline[r] and r != base:
            continue
        label = "baseline" if r == base else f"{study.factors[r]} = {study.values[r]}"
        ax.plot(inv[r], study.mean("t_level")[r], "o", ms=5, label=label, color="k" if study.baseline[r] else None)
        ax.plot(inv[r], study.mean("t_stage")[r], "o", ms=7, mfc="none", color=ax.lines[-1].get_color())
    grid = np.linspace(0, inv.max() * 1.1, 2)
    ax.plot(grid, study.mean("t_stage")[base] / inv[base] * grid, color="0.5", lw=0.8, ls=":",
            label=r"$\propto 1/\lambda_1$")
    ax.set_xlabel(r"$1000/\lambda_1$ of Z")
    ax.set_ylabel("t: condensed (filled), stage end (open)")
    ax.legend(fontsize=6, loc="upper left", ncol=1)
    for extra in axes[len(factors) + 1:]:
        extra.set_visible(False)
    return axes


def sensitivity_table(study) -> Table:
    """The sensitivity table (``studies.Sensitivity``) for display: one row per factor value,
    means over seeds -- lambda_1 of Z, the time t = lr x epoch at which the aligned fraction
    reaches ``study.level`` and lambda_1 times it, the end of the initial stage, and there the
    aligned fraction, the effective directions, |cos| of the leading direction with v_1 and with
    the all-ones kernel -- and the verdict (``Sensitivity.verdict``)."""
    mean = {of: study.mean(of) for of in ("lambda_1", "t_level", "t_stage", "aligned", "directions", "cos_v1",
                                          "cos_ones")}
    time = lambda t: f"{t:.4f}" if np.isfinite(t) else "never"
    header = ["factor = value", "kernel vector", "λ1 of Z", f"t, aligned ≥ {study.level:g}", "λ1 t",
              "t, end of initial stage", "aligned", "directions", "|cos v1|", "|cos 1|", "verdict"]
    rows = []
    for r, verdict in enumerate(study.verdicts()):
        rows.append([f"{study.factors[r]} = {study.values[r]}", "weights + bias" if study.bias[r] else "weights",
                     f"{mean['lambda_1'][r]:.0f}", time(mean["t_level"][r]),
                     f"{mean['lambda_1'][r] * mean['t_level'][r]:.2f}" if np.isfinite(mean["t_level"][r]) else "never",
                     time(mean["t_stage"][r]), f"{mean['aligned'][r]:.2f}", f"{mean['directions'][r]:.2f}",
                     f"{mean['cos_v1'][r]:.3f}", f"{mean['cos_ones'][r]:.3f}",
                     f"**{verdict}**" if verdict.startswith("changes the") or verdict.startswith("changes only") else verdict])
    return table(header, rows)


def growth_vs_rate(studies, labels=None):
    """One panel per ``studies.MultiplicityStudy``: each kernel's growth ||theta_k(stop)|| /
    ||theta_k(0)|| (log scale) against its predicted growth rate times the time reached (the
    e-folds the frozen-readout flow predicts), coloured by its |cosine| with its predicted
    direction at ``stop``. Returns the axes."""
    _, axes = _grid(1, len(studies), 3.2)
    labels = labels or [s.activation for s in studies]
    for j, (study, label) in enumerate(zip(studies, labels)):
        ax = axes[0, j]
        dots = ax.scatter(study.rates * study.time, study.growth, c=study.cos_stop, vmin=0, vmax=1, cmap="viridis",
                          s=22, edgecolors="k", linewidths=0.3)
        ax.set_yscale("log")
        ax.set_xlabel("predicted rate × time (e-folds)")
        ax.set_ylabel(r"growth $\|\theta_k(t)\| / \|\theta_k(0)\|$")
        ax.set_title(f"{label}, epoch {study.stop}")
        if j == len(studies) - 1:
            ax.figure.colorbar(dots, ax=ax, label="|cos| with predicted direction")
    return axes[0]


# ----------------------------------------------------------------------------- after the initial stage

def accuracy_and_survival(study):
    """Three panels of a ``studies.AfterInitialStage``, one colour per gamma, a thin line per seed:
    (a) the training accuracy (solid) and the held-out accuracy (dashed) against the epoch;
    (b) the aligned fraction of the filters against the epoch, a dotted vertical line at each
    run's end of the initial stage (where it is after epoch 0); (c) for every filter of every
    seed, |cos| at the last epoch with the leading direction at the end of the initial stage,
    with the 0.9 threshold of the aligned fraction. Returns the axes."""
    _, axes = _grid(1, 3, 3.3)
    acc_ax, aligned_ax, survival_ax = axes[0]
    epochs = study.epochs
    for g, gamma in enumerate(study.gammas):
        colour = f"C{g}"
        for s in range(len(study.seeds)):
            first = s == 0
            acc_ax.plot(epochs, study.train_accuracy[g, s], color=colour, lw=1,
                        label=rf"$\gamma = {gamma:g}$: train" if first else None)
            acc_ax.plot(epochs, study.test_accuracy[g, s], color=colour, lw=1, ls="--",
                        label=rf"$\gamma = {gamma:g}$: held out" if first else None)
            aligned_ax.plot(epochs, study.aligned[g, s], color=colour, lw=1,
                            label=rf"$\gamma = {gamma:g}$" if first else None)
            if study.initial_end[g, s] > 0:
                aligned_ax.axvline(study.initial_end[g, s], color=colour, ls=":", lw=1,
                                   label="end of the initial stage" if first else None)
        values = study.survival[g].ravel()
        jitter = np.linspace(-0.15, 0.15, values.size)
        survival_ax.plot(g + jitter, values, "o", color=colour, ms=3, alpha=0.6)
    acc_ax.set_ylim(0, 1.02)
    acc_ax.set_ylabel("accuracy")
    aligned_ax.set_ylim(-0.02, 1.02)
    aligned_ax.set_ylabel("aligned fraction (filters)")
    for ax in (acc_ax, aligned_ax):
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    survival_ax.axhline(0.9, color="0.5", lw=0.8)
    survival_ax.set_xticks(np.arange(len(study.gammas)), [rf"$\gamma = {g:g}$" for g in study.gammas])
    survival_ax.set_xlim(-0.5, len(study.gammas) - 0.5)
    survival_ax.set_ylim(-0.02, 1.02)
    survival_ax.set_ylabel("|cos| at the end with the\ninitial stage's leading direction")
    return axes[0]
