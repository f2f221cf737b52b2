"""The theory chapters' figures: the spectrum of Z and v_1, the order of the linearization error,
the linear dynamics against the real ones, T_eff, the width scan of Theorem 1, the lazy and the
condensed regime and the phase diagram. Draws, never computes.
"""
from __future__ import annotations

import numpy as np

from .base import WIDTH, image, new_axes, new_grid

__all__ = ["eigenvalue_bars", "kernel_images", "order_plot", "mean_images", "eigenvalue_panels", "v1_images", "angle_decay", "moving_frozen", "real_vs_linear", "energies", "remainders", "timeline", "width_runs", "width_scan", "regime_comparison", "phase_heatmaps"]


def eigenvalue_bars(eigenvalues, k=None, ax=None, *, title=None, log=True, label=None, color=None):
    """The k largest eigenvalues of Z^T Z against their index (Figs. 7 and 14), as bars,
    log scale by default (the gap lambda_1^2 / lambda_2^2 reads as a step).

    ``eigenvalues``: (k,) for one sample, or (T, k) for T samples: bars at the median,
    whiskers from the smallest to the largest value."""
    ax = new_axes(ax, figsize=(WIDTH, 3.6))
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


def kernel_images(parts, m, axes=None, *, titles=None, cmap="RdBu_r", annotate=True):
    """Each row of ``parts`` (k, m*m) -- e.g. the channel parts of v_1 -- drawn as an m x m
    image, one panel each, on a shared colour scale centred at 0, values written in the cells."""
    import matplotlib.pyplot as plt

    parts = np.asarray(parts, dtype=float).reshape(-1, m, m)
    if axes is None:
        _, axes = plt.subplots(1, len(parts), figsize=(min(WIDTH, 2.2 * len(parts) + 0.8), 2.4), layout="constrained")
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
                ax.text(q, p, f"{v:.3f}", ha="center", va="center")
    axes[0].figure.colorbar(im, ax=list(axes), fraction=0.046, pad=0.04)
    return axes


def order_plot(eps, curves, ax=None, *, ref_slopes=(1, 2), ylabel="relative error", title=None):
    """Log-log plot of each curve (dict label -> values over ``eps``) with dashed reference
    lines eps^s for s in ``ref_slopes``: the order in eps reads as the slope."""
    ax = new_axes(ax, figsize=(WIDTH, 4.0))
    eps = np.asarray(eps)
    for label, values in curves.items():
        ax.loglog(eps, values, "o-", label=label)
    small = np.argmin(eps)  # reference lines fan out from below the curves at the smallest eps
    anchor = 0.3 * min(np.asarray(v)[small] for v in curves.values())
    big = np.argmax(eps)
    for s in ref_slopes:
        ax.loglog(eps, anchor * (eps / eps[small]) ** s, "--", color="0.6", lw=0.9)
        ax.annotate(rf"$\varepsilon^{s}$", (eps[big], anchor * (eps[big] / eps[small]) ** s), color="0.4",
                    ha="right", va="bottom")
    ax.set_xlabel(r"$\varepsilon$")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def mean_images(images):
    """The label-weighted mean image z of eq. 31, one panel per channel (``images``: dict
    title -> (C, H, W))."""
    panels = [(f"{title}, channel {'RGB'[a]}" if len(img) == 3 else title, img[a])
              for title, img in images.items() for a in range(len(img))]
    _, axes = new_grid(1, len(panels), 2.3)
    for ax, (title, img) in zip(axes[0], panels):
        image(img, ax=ax, title=title)
    return axes[0]


def eigenvalue_panels(spectra, k):
    """``eigenvalue_bars`` side by side (``spectra``: dict title -> eigenvalues (k,) or (T, k);
    ``k``: the count shown, one for all or a dict title -> count)."""
    import textwrap

    _, axes = new_grid(1, len(spectra), 3.0)
    for ax, (title, ev) in zip(axes[0], spectra.items()):
        shown = "\n".join(textwrap.wrap(title, 26 if len(spectra) < 3 else 16))
        eigenvalue_bars(ev, k=k[title] if isinstance(k, dict) else k, ax=ax, title=shown)
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
    ax = new_axes(None, figsize=(WIDTH, 3.6))
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
    ax = new_axes(None, figsize=(WIDTH, 3.4))
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
    _, axes = new_grid(1, 2, 3.4)
    left, right = axes[0]
    t = regime.times * regime.lambda_1
    left.semilogy(t, regime.distance, label="real GD vs linear GD")
    left.semilogy(t, euler, "--", label="linear GD vs gradient flow")
    left.axhline(regime.tol, color="0.6", lw=0.8)
    left.axvline(regime.T_lin * regime.lambda_1, color="0.6", lw=0.8)
    left.set_ylim(1e-9, 2)
    left.set_xlabel(r"$\lambda_1 t$")
    left.set_ylabel("relative distance")
    left.legend()
    right.semilogy(t, np.linalg.norm(regime.theta_W[:, :kernels], axis=-1), lw=2)
    right.set_prop_cycle(None)
    right.semilogy(t, np.linalg.norm(regime.W_linear[:, :kernels], axis=-1), "k:", lw=1.2)
    right.set_xlabel(r"$\lambda_1 t$")
    right.set_ylabel(rf"$\|\theta_{{W,\beta}}\|$, kernels 1-{kernels}")
    right.set_title("real (colour), linear (dotted)")
    return axes[0]


def energies(regime, E, threshold):
    """Each kernel's energy E_beta (eq. 46, grey), phi (eq. 52), the level M^((gamma_eps - 1)/4)
    of eq. 54 and T_eff."""
    ax = new_axes(None, figsize=(WIDTH, 3.6))
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
    ax = new_axes(None, figsize=(WIDTH, 3.8))
    for label, values in measured.items():
        ax.semilogy(lambda_t, values, label=label)
    for (label, values), style in zip(bounds.items(), ("k-", "k--", "k:")):
        ax.semilogy(lambda_t, values, style, label=label)
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylabel("remainder factor")
    ax.legend()
    return ax


def timeline(lambda_t, curves, marks):
    """Curves against lambda_1 t (``curves``: dict label -> (S,) values in [0, 1]) and vertical
    lines at the times in ``marks`` (dict label -> lambda_1 t)."""
    ax = new_axes(None, figsize=(WIDTH, 3.8))
    for label, values in curves.items():
        ax.plot(lambda_t, values, label=label)
    styles = [("tab:purple", "--"), ("tab:red", ":"), ("tab:blue", "-."), ("k", "-"), ("tab:green", "--")]
    for (label, value), (color, ls) in zip(marks.items(), styles):
        ax.axvline(value, color=color, ls=ls, label=label)
    ax.set_xlabel(r"$\lambda_1 t$")
    ax.set_ylim(-0.02, 1.05)
    ax.legend(loc="lower right")
    return ax


def width_runs(scan):
    """Theorem 1 along time, one colour per width: left, the alignment with v_1 (eq. 15), real
    (solid) and closed form (dotted), with the sup over [0, T_lin]; right, the distance of the
    real run from the closed form and the tolerance that defines T_lin."""
    _, axes = new_grid(1, 2, 3.4)
    left, right = axes[0]
    t = scan.times * scan.lambda_1
    for k, M in enumerate(scan.widths):
        line, = left.plot(t, scan.align[k], label=f"M = {M}")
        left.plot(t, scan.align_linear[k], ":", color=line.get_color())
        right.semilogy(t, scan.distance[k], color=line.get_color())
    left.plot(scan.T_lin * scan.lambda_1, scan.sup("align"), "ko", label=r"sup over $[0, T_{\mathrm{lin}}]$")
    left.set_xlabel(r"$\lambda_1 t$")
    left.set_ylabel(r"$\|\theta_{W,v_1}\| / \|\theta_W\|$ (eq. 15)")
    left.legend()
    right.axhline(scan.tol, color="k", lw=0.8)
    right.set_ylim(1e-8, 2)
    right.set_xlabel(r"$\lambda_1 t$")
    right.set_ylabel("distance from the closed form")
    return axes[0]


def width_scan(scans):
    """Theorem 1's two sups against the width M, one line per scan (``scans``: dict label ->
    ``Theorem1Scan``): the relative change (eq. 14, log-log) and the alignment (eq. 15)."""
    _, axes = new_grid(1, 2, 3.2)
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


def regime_comparison(regimes):
    """The lazy and the condensed regime (``studies.Regimes``, seed 0 of each point) against
    lambda_1 t, one colour per width, solid for gamma_eps > 1 and dashed otherwise, a dot at each
    run's stop: the relative change of the kernels (eq. 14, log scale), their alignment with v_1
    (eq. 15) and the loss as a share of the reference loss, with the common level. Returns the axes."""
    _, axes = new_grid(1, 3, 3.2)
    change_ax, align_ax, loss_ax = axes[0]
    colours = {int(M): f"C{j}" for j, M in enumerate(regimes.widths)}
    for i, g in enumerate(regimes.gammas_eps):
        for k, M in enumerate(regimes.widths):
            style = dict(color=colours[int(M)], ls="-" if g > 1 else "--", label=rf"$\gamma_\varepsilon = {g:g}$, M = {M}")
            t, s = regimes.lambda_t[i, k, 0], regimes.stop[i, k, 0]
            for ax, values in ((change_ax, regimes.change), (align_ax, regimes.align), (loss_ax, regimes.loss)):
                ax.plot(t, values[i, k, 0], **style)
                if s >= 0:
                    ax.plot(t[s], values[i, k, 0, s], "o", color=style["color"])
    change_ax.set_yscale("log")
    loss_ax.set_yscale("log")
    loss_ax.axhline(regimes.level, color="k", lw=0.8)
    reference = r"$R_S / R_S(\mathbf{0})$" if regimes.reference == "zero" else r"$R_S / R_S(\theta(0))$"
    for ax, label in ((change_ax, "relative change of the kernels (eq. 14)"),
                      (align_ax, r"alignment with $\mathbf{v}_1$ (eq. 15)"), (loss_ax, reference)):
        ax.set_xlabel(r"$\lambda_1 t$")
        ax.set_ylabel(label)
    align_ax.set_ylim(0, 1.02)
    align_ax.legend()
    return axes[0]


def phase_heatmaps(diagram, boundary=1.0):
    """Two heatmaps over (gamma_eps, M) of a ``studies.Regimes`` (``studies.phase_diagram``), seed
    means: the relative change of the kernels (eq. 14, log colour scale) and their alignment with
    v_1 (eq. 15), both at each run's stop. One row per gamma_eps, one column per M; a
    dashed line between the rows gamma_eps <= ``boundary`` and those above it."""
    from matplotlib.colors import LogNorm

    _, axes = new_grid(1, 2, 3.4)
    left, right = axes[0]
    gammas, widths = diagram.gammas_eps, diagram.widths
    line = np.searchsorted(gammas, boundary, side="right") - 0.5  # between the last row <= boundary and the next
    panels = [(left, diagram.mean("change"), "relative change (eq. 14)", dict(norm=LogNorm(), cmap="viridis")),
              (right, diagram.mean("align"), "alignment with $v_1$ (eq. 15)", dict(vmin=0, vmax=1, cmap="magma"))]
    for ax, values, label, style in panels:
        mesh = ax.pcolormesh(np.arange(len(widths) + 1) - 0.5, np.arange(len(gammas) + 1) - 0.5, values, **style)
        ax.figure.colorbar(mesh, ax=ax, label=label)
        dark = values < (0.6 if style["cmap"] == "magma" else np.nanmedian(values))
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", color="w" if dark[i, j] else "k")
        ax.axhline(line, color="w", ls="--", lw=1.5)
        ax.text(len(widths) - 0.55, line + 0.08, rf"$\gamma_\varepsilon = {boundary:g}$", color="w",
                ha="right", va="bottom")
        ax.set_xticks(np.arange(len(widths)), [str(M) for M in widths])
        ax.set_yticks(np.arange(len(gammas)), [f"{g:g}" for g in gammas])
        ax.set_xlabel("width M")
        ax.set_ylabel(r"$\gamma_\varepsilon$  ($\varepsilon^2 = M^{-\gamma_\varepsilon}$)")
    return axes[0]
