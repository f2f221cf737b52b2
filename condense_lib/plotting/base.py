"""The common ground of the book's figures: new axes and grids of the column's width, epoch
curves (loss, accuracy), images and tables. Functions here draw, never compute: they take
results and an optional ``ax`` and return the axes.
"""
from __future__ import annotations

import numpy as np

__all__ = ["loss_panel", "new_axes", "WIDTH", "DPI", "FONT", "STYLE", "book_style", "new_grid", "panels", "epoch_curve", "loss_curve", "accuracy_curve", "loss_curves", "image", "Table", "table"]


WIDTH = 6.4  # inches: a figure as wide as the book's column
DPI = 84  # CSS pixels per inch: a 6.4-inch figure is 538 px, shown whole at 1280 px, at 63% on a phone
FONT = 10.5  # points, every text of a figure: 10.5 pt at 84 dpi is 12 CSS px (9 pt) shown whole
STYLE = {
    "figure.dpi": DPI, "figure.figsize": (WIDTH, 4.0), "font.size": FONT,
    "axes.titlesize": FONT, "axes.labelsize": FONT, "legend.fontsize": FONT, "figure.titlesize": FONT,
    "figure.labelsize": FONT, "xtick.labelsize": FONT, "ytick.labelsize": FONT,
    "axes.formatter.useoffset": False,  # no "+1.33e1" offsets: the axes show the values
}


def book_style() -> None:
    """Draw every figure for the book's column (``STYLE``: 7 inches at ``DPI``, ``FONT``-point
    text, no axis offsets). ``notebook_setup`` calls it, with PNGs at twice ``DPI`` (retina)."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def new_axes(ax, figsize=(WIDTH, 3.8)):
    """``ax``, or new axes of ``figsize`` inches when it is None."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax



def new_grid(rows, cols, height, *, width=WIDTH, **kw):
    """A figure of ``rows`` x ``cols`` axes (always 2-d), ``width`` x ``height`` inches."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(width, height), layout="constrained", squeeze=False, **kw)
    return fig, axes


def panels(n: int, height: float = 3.2):
    """A row of ``n`` empty axes at the book's width, for the drawing functions' ``ax=``."""
    return new_grid(1, n, height)[1][0]


def epoch_curve(values, ax, title, *, label, marks, ylabel):
    """``values`` against the epoch, with dashed lines at the epochs ``marks``."""
    ax = new_axes(ax, figsize=(WIDTH, 3.6))
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


def loss_curve(loss, ax=None, title=None, *, label=None, marks=()):
    """Training loss against the epoch (Fig. 15; log scale when it spans decades), with vertical
    lines at the epochs in ``marks`` (e.g. the epochs whose heatmaps are shown)."""
    ax = epoch_curve(loss, ax, title, label=label, marks=marks, ylabel="training loss")
    loss = np.asarray(loss)
    if loss.min() > 0 and loss.max() / loss.min() > 10:  # log scale only when it spans decades
        ax.set_yscale("log")
    return ax


def accuracy_curve(acc, ax=None, title=None, *, label=None, marks=(), level=None):
    """Training accuracy against the epoch (Fig. 8), with dashed lines at the epochs in
    ``marks`` and a horizontal line at ``level``."""
    ax = epoch_curve(acc, ax, title, label=label, marks=marks, ylabel="training accuracy")
    if level is not None:
        ax.axhline(level, color="0.6", lw=0.8)
    ax.set_ylim(0, 1.02)
    return ax


def loss_curves(losses, marks=None):
    """One training-loss panel per run (``losses``: dict title -> loss per epoch), with dashed
    lines at ``marks[title]`` (the epochs shown). Returns the axes."""
    _, axes = new_grid(1, len(losses), 2.8)
    for ax, (title, loss) in zip(axes[0], losses.items()):
        loss_curve(loss, ax=ax, title=title, marks=(marks or {}).get(title, ()))
    return axes[0]


def image(img, ax=None, title=None, *, cmap="viridis", colorbar=True):
    """One image (H, W), e.g. a channel of the label-weighted mean image of eq. 31."""
    ax = new_axes(ax, figsize=(4.2, 3.8))
    im = ax.imshow(np.asarray(img), cmap=cmap)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
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


def loss_panel(curves: dict, cols: int = 4):
    """Fig. 15 of the paper as one panel: for each figure (``curves[name] = (loss, shown)``), its
    training loss over its start against the epoch, a dashed line at each shown epoch, one small
    axes per figure in a grid of ``cols`` columns. Returns the axes (flat)."""
    rows = -(-len(curves) // cols)
    fig, axes = new_grid(rows, cols, 2.0 * rows + 0.4, sharey=False)
    flat = axes.ravel()
    for ax, (name, (loss, shown)) in zip(flat, curves.items()):
        loss = np.asarray(loss, dtype=np.float64)
        ax.plot(np.arange(len(loss)), loss / loss[0], lw=1.2)
        for e in sorted(set(shown)):
            ax.axvline(e, color="0.6", ls="--", lw=0.8)
        ax.set_title(name.replace("_", " "))
    for ax in flat[len(curves):]:
        ax.set_visible(False)
    fig.supxlabel("epoch")
    fig.supylabel(r"$R_S / R_S(0)$")
    return flat[:len(curves)]
