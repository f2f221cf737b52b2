"""Adam against GD on the theory's two-layer CNN at the same number of steps: the direction
each condenses on (v_1 of Z for GD, the sign fixed point for Adam) and when.
Used in the chapter "Adam against gradient descent".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..paper.claims import ONSET_LEVEL
from ..paper.figures import FIGURES
from ..theory.condensation import aligned_fraction, effective_directions, leading_direction
from ..theory.data_matrix import Spectrum, build_Z, sign_fixed_point, spectrum, theta_bar
from ..theory.effective_time import T_eff, alignment, first_time, phi
from ..theory.linear_dynamics import gd_step
from ..training.config import Config
from ..training.data import SHAPES
from ..training.models import sigma_1
from ..training.runner import resolve_scale, run
from ..training.sweep import sweep

__all__ = ["OptimizerComparison", "compare_optimizers", "compare_optimizers_seeds", "adam_step_ratios"]


@dataclass(frozen=True, eq=False)
class OptimizerComparison:
    """One two-layer setting trained by GD and by Adam for the same number of full-batch steps
    (see ``compare_optimizers``). Run 0 is GD, runs 1.. are Adam, one per learning rate.

    ``optimizers`` (R,) and ``lrs`` (R,); ``scale``: the initial scale of the conv weights (eps
    of ``init="theory"``, else sigma_1), the unit of the rescaled theta_bar = theta / scale
    (eqs. 27-28); ``epochs`` (S,) the recorded steps; ``loss`` (R, E+1); per run and recorded
    step (R, S): ``aligned`` (aligned fraction, 1 on one line) and ``directions`` (effective
    directions) of the kernel weights, ``align_v1`` and ``align_sign`` (eq. 15 with v_1 and with
    s_W, weights and bias), ``phi`` (eq. 52, in units of ``scale``); at the last step:
    ``lead`` (R, D - 1) the leading direction of the kernel weights, ``lead_bias`` (R, D) that
    of theta_{W, beta} (weights and bias), ``kernels`` (R, M, D - 1) the kernel weights;
    ``onset`` (R,) the first recorded step with ``aligned >= level`` (inf if none);
    ``energy_onset`` (R,) the first recorded step with phi above eq. 54's level
    M^((gamma_eps - 1)/4) (``init="theory"`` only, else NaN; inf if never on the record);
    ``spectrum`` of Z (eq. 36) and ``s_W``, ``s_a`` its sign fixed point (``sign_fixed_point``).
    """

    config: Config
    optimizers: tuple
    lrs: np.ndarray
    scale: float
    level: float
    epochs: np.ndarray
    loss: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    align_v1: np.ndarray
    align_sign: np.ndarray
    phi: np.ndarray
    lead: np.ndarray
    lead_bias: np.ndarray
    kernels: np.ndarray
    onset: np.ndarray
    energy_onset: np.ndarray
    spectrum: Spectrum
    s_W: np.ndarray
    s_a: np.ndarray

    @property
    def T_eff(self) -> float:
        """T_eff of eq. 54 on the GD run, in gradient-flow time (lr x step); NaN without eps."""
        return float(self.lrs[0] * self.energy_onset[0])

    @property
    def displacement(self) -> np.ndarray:
        """lr x onset / scale per run (R,): for GD the gradient-flow time of the onset in units
        of the scale, for Adam about how far (in units of the initial scale) each parameter has
        moved by the onset, since Adam moves each by about lr per step."""
        return self.lrs * self.onset / self.scale

    @property
    def onset_over_crossing(self) -> np.ndarray:
        """Per run (R,), its condensation onset over the step at which its OWN phi passes eq. 54's
        level (``onset / energy_onset``): below 1, the run lines up before its largest neuron
        energy reaches the level; NaN without eps, 0 or inf when either is off the record."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.onset / self.energy_onset

    def cosines(self, vector, bias: bool = False) -> np.ndarray:
        """|cos| (eq. 5) between each run's leading direction at the last step and ``vector``
        (R,): the kernel weights' direction against the kernel part of ``vector`` (its first
        D - 1 entries, or all of a (D - 1,) vector), or with ``bias`` the direction of
        theta_{W, beta} against the whole (D,) ``vector``."""
        vector = np.asarray(vector, dtype=np.float64)
        lead = self.lead_bias if bias else self.lead
        if not bias and vector.shape == (lead.shape[1] + 1,):
            vector = vector[:-1]
        if vector.shape != (lead.shape[1],):
            raise ValueError(f"vector must have {lead.shape[1]} entries{'' if bias else ' (or one more, the bias)'}, "
                             f"got shape {vector.shape}")
        return np.abs(lead @ vector) / np.linalg.norm(vector)

    def between(self, i: int = 0, j: int = 1, bias: bool = False) -> float:
        """|cos| between the leading directions of runs ``i`` and ``j`` at the last step."""
        lead = self.lead_bias if bias else self.lead
        return float(abs(lead[i] @ lead[j]))


def compare_optimizers(base: Config, *, steps: int, adam_lrs, gd_lr: Optional[float] = None, lr_lambda: float = 0.05,
                       every: int = 1, level: float = ONSET_LEVEL, device=None) -> OptimizerComparison:
    r"""Train the two-layer setting ``base`` by full-batch GD and by Adam at each of ``adam_lrs``,
    every run for ``steps`` steps (one gradient each: the same budget of computation), snapshots
    every ``every`` steps, and measure the condensation of each.

    GD takes the step ``gd_lr``, by default ``gd_step(lambda_1, lr_lambda)`` with lambda_1 of the
    Z of ``base``'s data (eq. 35): GD then follows the gradient flow of the theory (eq. 20) to
    O(lr lambda_1). Near zero weights the gradient of kernel beta is
    -(Z^T theta_{a, beta}, Z theta_{W, beta}) (eq. 33): GD grows theta_beta along (v_1, u_1) like
    exp(lambda_1 t); Adam moves every parameter by about lr x sign(gradient), so its kernels turn
    to the sign fixed point s_W of ``sign_fixed_point`` once the steps outweigh the
    initialization, after about (initial scale) / lr steps whatever lambda_1.

    Parameters
    ----------
    base : a two-layer setting (one conv layer, ``head="linear"``, d = 1, the MSE on the label):
        ``theory_config(...)`` (then T_eff of eq. 54 is measured) or e.g. ``FIGURES["fig6"][scale]``.
    steps : full-batch steps of every run. adam_lrs : Adam's learning rates (at least one).
    level : the aligned fraction that counts as condensed (``onset``; ``ONSET_LEVEL``, that of "on one line").
    """
    if (not isinstance(base, Config) or len(base.channels) != 1 or base.head != "linear" or base.d != 1
            or base.loss != "mse" or base.target != "label"):
        raise ValueError("base must be a two-layer setting with a scalar readout and the MSE on the label, "
                         "e.g. theory_config(...) or FIGURES['fig6']['fast']")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not (isinstance(every, (int, np.integer)) and 1 <= every <= steps):
        raise ValueError(f"every must be an integer in 1..steps, got {every!r}")
    adam_lrs = np.atleast_1d(np.asarray(adam_lrs, dtype=np.float64))
    if adam_lrs.ndim != 1 or adam_lrs.size == 0 or not (np.isfinite(adam_lrs) & (adam_lrs > 0)).all():
        raise ValueError(f"adam_lrs must be one or more positive learning rates, got {adam_lrs!r}")
    if not 0 < level <= 1:
        raise ValueError(f"level is an aligned fraction in (0, 1], got {level!r}")
    x, y = base.data()
    spec, (s_W, s_a), configs = _setting(base, x, y, steps, adam_lrs, gd_lr, lr_lambda, every)
    results = [run(c, device=device) for c in configs]
    theory = base.init == "theory"
    M = base.channels[0]
    c_in = x.shape[1]
    scale = float(base.eps) if theory else sigma_1(c_in, M, base.m, gamma=base.gamma)
    epochs = np.asarray(results[0].epochs)
    rows = []
    for result in results:
        W, a = theta_bar(result.snapshots, scale)  # (S, M, D), (S, M, P)
        kernels = [result.kernels(int(e)).astype(np.float64) for e in epochs]  # weights only, (M, D - 1) each
        aligned = np.array([aligned_fraction(V) for V in kernels])
        phi_t = phi(W, a)
        rows.append(dict(
            loss=np.asarray(result.loss, dtype=np.float64), aligned=aligned,
            directions=np.array([effective_directions(V) for V in kernels]),
            align_v1=alignment(W, spec.v1), align_sign=alignment(W, s_W), phi=phi_t,
            lead=leading_direction(kernels[-1]), lead_bias=leading_direction(W[-1]), kernels=kernels[-1],
            onset=first_time(epochs.astype(np.float64), aligned >= level),
            energy_onset=T_eff(epochs.astype(np.float64), phi_t, M, eps=scale) if theory else np.nan))
    stack = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return OptimizerComparison(
        config=base, optimizers=tuple(c.optimizer for c in configs), lrs=np.array([c.lr for c in configs]),
        scale=scale, level=float(level), epochs=epochs, spectrum=spec, s_W=s_W, s_a=s_a, **stack)


def _setting(base, x, y, steps, adam_lrs, gd_lr, lr_lambda, every):
    """The spectrum and sign fixed point of ``base``'s Z, and its runs: GD first, then Adam."""
    Z = build_Z(x.double().numpy(), y.double().numpy(), base.m, padding=base.padding)
    spec, signs = spectrum(Z), sign_fixed_point(Z)
    gd_lr = gd_step(spec.singular_values[0], lr_lambda) if gd_lr is None else float(gd_lr)
    recorded = tuple(range(0, steps + 1, every)) + (() if steps % every == 0 else (steps,))
    configs = [base.replace(optimizer="gd", lr=gd_lr, epochs=int(steps), snapshot_epochs=recorded)]
    configs += [base.replace(optimizer="adam", lr=float(lr), epochs=int(steps), snapshot_epochs=recorded) for lr in adam_lrs]
    return spec, signs, configs


def compare_optimizers_seeds(base: Config, seeds, *, steps: int, adam_lrs, gd_lr: Optional[float] = None,
                             lr_lambda: float = 0.05, every: int = 1, level: float = ONSET_LEVEL, device=None) -> list:
    """``compare_optimizers`` on ``base`` at each seed of ``seeds`` (the seed draws the images and
    the initialization), a list of ``OptimizerComparison`` in the order of ``seeds``. The runs of
    one optimizer and learning rate train together, all seeds in one call (``sweep`` with
    ``batch``; with the default ``gd_lr`` each seed's GD step is its own 0.05 / lambda_1 and GD
    trains seed by seed), and are cached as ``run`` caches them."""
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    adam_lrs = np.atleast_1d(np.asarray(adam_lrs, dtype=np.float64))
    configs = []
    for s in seeds:
        b = base.replace(seed=s)
        x, y = b.data()
        configs += _setting(b, x, y, steps, adam_lrs, gd_lr, lr_lambda, every)[2]
    sweep(configs, device=device, batch=len(seeds))
    return [compare_optimizers(base.replace(seed=s), steps=steps, adam_lrs=adam_lrs, gd_lr=gd_lr, lr_lambda=lr_lambda,
                               every=every, level=level, device=device) for s in seeds]


def adam_step_ratios(scale: Optional[str] = None) -> dict:
    """For every figure of the paper trained by Adam, its learning rate over the std of its first
    conv layer's initialization, lr / sigma_1 (Sec. 4.1): how far Adam moves each first-layer
    weight per step, in units of the initial weights. A dict figure name -> ratio, one entry per
    distinct setting (Figs. 3 and 8 share Fig. 2's). ``scale``: ``runner.resolve_scale``; the ratios
    need no training, so ``"auto"`` reads as ``"paper"``."""
    scale = "paper" if scale == "auto" else resolve_scale(scale)
    runs, seen = {}, set()
    for name, figure in FIGURES.items():
        c = figure[scale]
        setting = c.replace(epochs=0, snapshot_epochs=())  # Fig. 3's run of its own is Fig. 2's setting
        if c.optimizer == "adam" and setting not in seen:
            runs[name] = c
            seen.add(setting)
    return {name: c.lr / sigma_1(SHAPES[c.dataset][0], c.channels[0], c.m, gamma=c.gamma) for name, c in runs.items()}
