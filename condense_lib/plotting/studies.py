"""The figures of the chapters "Beyond the paper": seeds, Adam against GD, the sensitivity table,
multiplicity 2, after the initial stage. Draws, never computes.
"""
from __future__ import annotations

import numpy as np

from ..theory.condensation import cluster_order, cosine_matrix
from .base import WIDTH, Table, new_grid, table
from .heatmaps import heatmap

__all__ = ["merge_curves", "seed_errorbars", "optimizer_curves", "optimizer_directions", "sensitivity_curves", "sensitivity_table", "growth_vs_rate", "accuracy_and_survival"]


def seed_errorbars(spread, of="aligned"):
    """The key measure of each figure over seeds (``studies.SeedSpread``): every seed (grey
    dots), the mean over all seeds with its 95% interval (black), the other seeds' 95%
    prediction interval for one new seed (grey bar, seed 0 left out) and seed 0, the figure's
    own run (red star)."""
    _, axes = new_grid(1, 1, 3.2, width=min(WIDTH, 2.6 + 1.4 * len(spread.figures)))
    ax = axes[0][0]
    values = getattr(spread, of)
    x = np.arange(len(spread.figures))
    jitter = np.linspace(-0.12, 0.12, values.shape[1])
    for k in x:
        ax.plot(k + jitter, values[k], "o", color="0.6", ms=4, zorder=1, label="one seed" if k == 0 else None)
    means, refs = spread.interval(of), spread.reference(of)
    ax.errorbar(x + 0.25, [c.estimate for c in means], yerr=[[c.estimate - c.low for c in means], [c.high - c.estimate for c in means]],
                fmt="s", color="k", capsize=5, zorder=2, label="mean, 95% interval")
    ax.errorbar(x - 0.25, [r.estimate for r in refs], yerr=[[r.estimate - r.low for r in refs], [r.high - r.estimate for r in refs]],
                fmt="none", ecolor="0.5", elinewidth=6, alpha=0.5, zorder=1, label="other seeds: 95% prediction")
    ax.plot(x - 0.25, values[:, 0], "*", color="tab:red", ms=13, zorder=3, label="seed 0 (the book's figure)")
    ax.set_xticks(x, [f"{name}\n(epoch {e})" for name, e in zip(spread.figures, spread.shown)])
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xlabel("figure (fast scale), shown epoch")
    ax.set_ylabel("aligned fraction" if of == "aligned" else "effective directions")
    ax.legend(loc="lower left", fontsize="small")
    return ax


def _run_label(comparison, r):
    return f"{comparison.optimizers[r].upper() if comparison.optimizers[r] == 'gd' else 'Adam'}, lr = {comparison.lrs[r]:.2g}"


def optimizer_curves(comparison):
    """A ``studies.OptimizerComparison`` against the step, one colour per run (GD black): the
    aligned fraction of the kernels with the ``level`` and, dashed, the step at which each run's
    phi reaches eq. 54's level (T_eff for GD); eq. 15's alignment with v_1 (solid) and with the
    sign fixed point s_W (dotted); the loss over its initial value. Returns the three axes."""
    _, axes = new_grid(1, 3, 3.3)
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
    frac_ax.legend(loc="lower right")
    return axes[0]


def optimizer_directions(comparison, runs=(0, 1)):
    """Where the kernels of two runs of a ``studies.OptimizerComparison`` point at the last step:
    the cosine heatmap (eq. 5) of each run's kernel weights, clustered, and the leading direction
    of theta_{W, beta} (weights, then the bias) of each run beside v_1 and the sign fixed point
    s_W, entry by entry (each of unit norm, the sign fixed so the weights sum to >= 0).
    Returns the three axes."""
    _, axes = new_grid(1, 3, 3.0, width_ratios=[1, 1, 1.3])
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
    ax.set_xlabel(r"entry of $\theta_W$ (b: bias)")
    ax.set_ylabel("leading direction")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize="small", ncol=2, columnspacing=0.6,
              handlelength=1)
    return axes[0]


def sensitivity_curves(study):
    """The sensitivity table as curves (``studies.Sensitivity``): one panel per factor, the
    aligned fraction (mean over seeds, shaded its 95% Student-t interval when there are several
    seeds) against the gradient-flow time t = lr x epoch for each value (the baseline black, a
    dot where the mean reaches ``study.level``); a last panel with the
    time to condense (filled) and the end of the initial stage (open) of every row against
    1000 / lambda_1, and the line t = c / lambda_1 through the baseline's end of the initial stage."""
    factors = list(dict.fromkeys(study.factors))
    cols = 2
    rows = -(-(len(factors) + 1) // cols)
    _, axes = new_grid(rows, cols, 2.5 * rows, sharey=False)
    axes = axes.ravel()
    curves, t = study.curves.mean(axis=1), study.times
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for ax, factor in zip(axes, factors):
        others = iter(colors)
        for r in study.rows(factor):
            base = bool(study.baseline[r])
            color = "k" if base else next(others)
            label = f"{study.values[r]}" + (" (base)" if base else "") + (
                " + bias" if study.bias[r] and factor != "bias" else "")
            ax.plot(t, curves[r], color=color, lw=2.2 if base else 1.4, ls="-" if base else "--", label=label)
            S = study.curves.shape[1]
            if S > 1:
                from scipy.stats import t as student
                half = student.ppf(0.975, S - 1) * study.curves[r].std(axis=0, ddof=1) / np.sqrt(S)
                ax.fill_between(t, curves[r] - half, curves[r] + half, color=color, alpha=0.15, lw=0)
            t90 = study.mean("t_level")[r]
            if np.isfinite(t90):
                ax.plot([t90], [study.level], "o", color=color, ms=4)
        ax.axhline(study.level, color="0.7", lw=0.8, ls=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(factor)
        ax.set_xlabel(r"$t = \mathrm{lr}\times\mathrm{epoch}$")
        ax.set_ylabel("aligned fraction")
        ax.legend(loc="lower right", ncol=2 if len(study.rows(factor)) > 2 else 1, columnspacing=0.8,
                  handlelength=1.5)
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
    ax.set_ylabel("t (filled: condensed,\nopen: stage end)")
    ax.legend(loc="upper left", ncol=2, fontsize="small", columnspacing=0.6, handlelength=1)
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
    _, axes = new_grid(1, len(studies), 3.2)
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


def accuracy_and_survival(study):
    """Three panels of a ``studies.AfterInitialStage``, one colour per gamma, a thin line per seed:
    (a) the training accuracy (solid) and the held-out accuracy (dashed) against the epoch;
    (b) the aligned fraction of the filters against the epoch, a dotted vertical line at each
    run's end of the initial stage (where it is after epoch 0); (c) for every filter of every
    seed, |cos| at the last epoch with the leading direction at the end of the initial stage,
    with the 0.9 threshold of the aligned fraction. Returns the axes."""
    _, axes = new_grid(1, 3, 3.3)
    acc_ax, aligned_ax, survival_ax = axes[0]
    epochs = study.epochs
    for g, gamma in enumerate(study.gammas_sigma):
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
        ax.legend()
    survival_ax.axhline(0.9, color="0.5", lw=0.8)
    survival_ax.set_xticks(np.arange(len(study.gammas_sigma)), [rf"$\gamma = {g:g}$" for g in study.gammas_sigma])
    survival_ax.set_xlim(-0.5, len(study.gammas_sigma) - 0.5)
    survival_ax.set_ylim(-0.02, 1.02)
    survival_ax.set_ylabel("|cos| at the end with the\ninitial stage's leading direction")
    return axes[0]


def merge_curves(checks: dict, lrs: dict):
    """Fig. 1 in numbers: for each run (``studies.MergeCheck`` by label; ``lrs`` its step, for the
    time axis), the relative error of the merged network's output (left, log scale) and the loss
    of the trained network (solid) and of the merged one (dashed), over R_S(0) (right), against
    the gradient-flow time lr x epoch. Returns the axes."""
    _, axes = new_grid(1, 2, 3.2)
    err_ax, loss_ax = axes[0]
    for j, (label, check) in enumerate(checks.items()):
        t = lrs[label] * check.epochs
        err_ax.plot(t[1:], check.error[1:], "o-", color=f"C{j}", label=label)
        loss_ax.plot(t, check.loss, "-", color=f"C{j}")
        loss_ax.plot(t, check.loss_merged, "--", color=f"C{j}")
    loss_ax.plot([], [], "-", color="0.3", label="trained")
    loss_ax.plot([], [], "--", color="0.3", label="merged")
    err_ax.set_yscale("log")
    for ax in (err_ax, loss_ax):
        ax.set_xlabel(r"$t = \mathrm{lr}\times\mathrm{epoch}$")
    err_ax.set_ylabel(r"$\|f_{\mathrm{merged}} - f\| \,/\, \|f\|$")
    loss_ax.set_ylabel(r"$R_S / R_S(0)$")
    err_ax.legend()
    loss_ax.legend()
    return axes[0]
