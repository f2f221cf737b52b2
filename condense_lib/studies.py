"""Studies that build or train networks and measure them against the theory: the
linearization check (eqs. 27-34), v_1 over many samples (Sec. 5), the linear regime of
one run against the closed form (Prop. 1, eq. 54), the width scan of Theorem 1, and the
lazy and condensed regimes compared at a common loss (eqs. 8, 14-15), and a small and a
large initialization followed to the end of training and tested on held-out images.

This is the top layer: it uses the maths (``data_matrix``, ``linear_dynamics``,
``effective_time``) and the runner (``experiments``), never the other way round.
Used in the theory chapters and those "Beyond the paper".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .activations import get_activation
from .condensation import aligned_fraction, cosine_with_ones, effective_directions, leading_direction
from .data import SHAPES
from .data_matrix import (
    Spectrum,
    _check_m,
    _check_xy,
    _fix_signs,
    _Z_from_mean,
    build_A,
    build_B,
    build_Q,
    build_Z,
    quadratic_field,
    sign_fixed_point,
    spectrum,
    theta_bar,
    top_eigenpairs,
)
from .effective_time import T_eff, alignment, first_time, phi, projection_shares, relative_change, sup_until
from .experiments import FIGURES, UNRECORDED, Config, is_cached, run
from .linear_dynamics import closed_form, gd_step, relative_distance
from .losses import loss_fn
from .models import CNN, sigma_1
from .sweep import PHASE_DIAGRAM, SENSITIVITY, phase_diagram_configs, seed_sweep, sensitivity_rows, sweep
from .train import TrainResult, train
from .trajectory import measure

__all__ = [
    "theta_per_kernel", "vector_fields", "LinearizationCheck", "linearization_check", "V1Trials", "v1_cosine_trials",
    "LinearRegime", "linear_regime", "Theorem1Scan", "theorem1_scan", "RegimeComparison", "compare_regimes",
    "SeedSpread", "seed_spread", "PhaseDiagram", "phase_diagram", "all_cached",
    "DirectionShares", "direction_shares", "layer_gradients", "LayerOrder", "layer_order",
    "OptimizerComparison", "compare_optimizers", "adam_step_ratios", "Sensitivity", "sensitivity",
    "quadratic_fields", "quadratic_check", "MultiplicityStudy", "multiplicity_study",
    "AfterInitialStage", "after_initial_stage", "held_out_accuracy",
]


def _check_two_layer(model) -> None:
    if not isinstance(model, CNN) or len(model.convs) != 1 or model.head != "linear" or model.d != 1:
        raise ValueError(
            "the linear dynamics (eqs. 32-34) are for the two-layer CNN: "
            "use CNN(in_shape, (M,), m=m, activation=..., head='linear', d=1)"
        )


def theta_per_kernel(model) -> np.ndarray:
    """theta_beta = (theta_{W, beta}; theta_{a, beta}) of eq. 33 for every kernel beta, shape
    (M, C m^2 + 1 + H1 W1): ``theta_bar`` with eps = 1, the two parts side by side. Row beta
    pairs with A of eq. 34."""
    _check_two_layer(model)
    return np.concatenate(theta_bar(dict(model.named_parameters())), axis=2)[0]


def vector_fields(model, x, y, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The gradient-flow vector field of the rescaled parameters and its linearization.

    With theta = eps theta_bar (eqs. 27-28), gradient flow (eq. 20) reads
    d theta_bar / dt = -(1/eps) grad_theta R_S(eps theta_bar). Returns, per kernel beta,

    - ``field``: that vector field, from autograd on ``model`` (in float64), R_S of eq. 1;
    - ``linear``: A theta_bar_beta (eqs. 32-34), A built from ``x, y`` by ``build_A(build_Z)``.

    Parameters
    ----------
    model : a two-layer ``CNN`` (one conv layer, ``head="linear"``, ``d=1``), typically
        ``init="theory"`` with this ``eps``.
    x : (n, C, H, W) inputs; y : (n,) targets; eps : the scale of eq. 27.

    Returns
    -------
    ``(field, linear)``, each of shape (M, C m^2 + 1 + H1 W1), rows in the order of
    ``theta_per_kernel``. They agree up to O(eps) (O(eps^2) when sigma''(0) = 0).
    """
    x, y, field, theta = _rescaled_field(model, x, y, eps)
    linear = theta @ build_A(build_Z(x, y, model.m, model.padding)).T  # rows A theta_bar_beta
    return field, linear


def _rescaled_field(model, x, y, eps: float):
    """The checked inputs ``(x, y)``, d theta_bar / dt = -(1/eps) grad R_S(eps theta_bar) by autograd
    in float64, and theta_bar, both (M, D + P) in the order of ``theta_per_kernel``."""
    _check_two_layer(model)
    x, y = _check_xy(x, y)
    if tuple(x.shape[1:]) != model.in_shape:
        raise ValueError(f"x has images of shape {x.shape[1:]} but the model takes {model.in_shape}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive number (theta = eps theta_bar, eq. 27), got {eps!r}")
    net = copy.deepcopy(model).double()
    params = dict(net.named_parameters())
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    grads = torch.autograd.grad(loss_fn(net(xt), yt, "mse"), list(params.values()))
    field = -np.concatenate(theta_bar(dict(zip(params, grads)), eps), axis=2)[0]  # d theta_bar / dt
    theta = np.concatenate(theta_bar(params, eps), axis=2)[0]  # (M, D + P)
    return x, y, field, theta


@dataclass(frozen=True, eq=False)
class LinearizationCheck:
    """The real vector field against A theta_bar over a range of eps (see ``linearization_check``).

    ``eps`` (k,); ``error`` (k,): ||field - A theta_bar|| / ||A theta_bar|| over all kernels;
    ``ratio`` (k,): ||field|| / ||A theta_bar||.
    """

    activation: str
    eps: np.ndarray
    error: np.ndarray
    ratio: np.ndarray

    def slope(self, of: str = "error", eps_max: float = np.inf) -> float:
        """The least-squares slope of log(``of``) against log(eps) over eps <= ``eps_max``:
        the order in eps of ``of`` ("error" or "ratio")."""
        if of not in ("error", "ratio"):
            raise ValueError(f"of must be 'error' or 'ratio', got {of!r}")
        keep = self.eps <= eps_max
        if keep.sum() < 2:
            raise ValueError(f"fewer than two eps values are <= eps_max = {eps_max}: raise eps_max")
        return float(np.polyfit(np.log(self.eps[keep]), np.log(getattr(self, of)[keep]), 1)[0])


def linearization_check(x, y, eps, channels: int = 8, m: int = 3, activation: str = "tanh", seed: int = 0) -> LinearizationCheck:
    """Compare the gradient-flow vector field of a two-layer CNN with A theta_bar (eqs. 30-34)
    for each eps in ``eps``: the network ``CNN(in_shape, (channels,), m=m, activation=activation,
    head="linear", init="theory", eps=eps, seed=seed)`` (the same theta_bar up to float32 rounding for every eps)."""
    return _field_check(vector_fields, x, y, eps, channels, m, activation, seed)


def _field_check(fields, x, y, eps, channels: int, m: int, activation: str, seed: int) -> LinearizationCheck:
    """For each eps, ``fields(model, x, y, eps)`` = (the real rescaled field, its Taylor term) on the
    two-layer CNN of that eps: ||field - term|| / ||term|| and ||field|| / ||term||."""
    x, y = _check_xy(x, y)
    eps = np.asarray(eps, dtype=np.float64).ravel()
    error, ratio = [], []
    for e in eps:
        model = CNN(x.shape[1:], (channels,), m=m, activation=activation, head="linear", d=1, init="theory",
                    eps=float(e), seed=seed)
        field, term = fields(model, x, y, float(e))
        error.append(np.linalg.norm(field - term) / np.linalg.norm(term))
        ratio.append(np.linalg.norm(field) / np.linalg.norm(term))
    return LinearizationCheck(get_activation(activation).name, eps, np.asarray(error), np.asarray(ratio))


@dataclass(frozen=True, eq=False)
class V1Trials:
    """v_1 of Z over T independent samples (see ``v1_cosine_trials``).

    ``index`` (T, n): the images of each trial; ``cosines`` (T, C): each channel part of
    v_1 against the all-ones vector; ``singular_values`` (T, k): lambda_1..lambda_k of each Z.
    """

    index: np.ndarray
    cosines: np.ndarray
    singular_values: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean cosine per channel (C,)."""
        return self.cosines.mean(axis=0)

    @property
    def median(self) -> np.ndarray:
        """Median cosine per channel (C,): the typical trial, insensitive to rare outliers."""
        return np.median(self.cosines, axis=0)

    @property
    def std(self) -> np.ndarray:
        """Standard deviation (ddof = 1) of the cosine per channel (C,)."""
        return self.cosines.std(axis=0, ddof=1)

    @property
    def ratio(self) -> np.ndarray:
        """lambda_1 / lambda_2 of each trial (T,)."""
        return self.singular_values[:, 0] / self.singular_values[:, 1]

    def summary(self, digits: int = 5) -> list[str]:
        """``"mean ± std"`` per channel, as the paper reports them."""
        return [f"{mu:.{digits}f} ± {sd:.{digits}f}" for mu, sd in zip(self.mean, self.std)]


def v1_cosine_trials(x, y, n: int = 500, trials: int = 50, m: int = 3, target: str = "label", seed: int = 0) -> V1Trials:
    """Cosine of each channel part of v_1 with the all-ones vector over ``trials`` random samples
    of ``n`` images of the pool ``(x, y)`` (Sec. 5 and App. A.3: 50 trials of 500 images).

    All trials at once: one matrix product gives the T mean images (eq. 31), one batched
    symmetric eigensolver on the small Z^T Z (D x D) the T spectra (eq. 36): lambda_k^2
    and v_k are its eigenpairs.

    Parameters
    ----------
    x : (N, C, H, W) the pool (e.g. from ``data.image_pool``); y : (N,) its labels.
    target : ``"label"`` -- y_i as given; ``"centred"`` -- y_i minus its mean over the trial's
        sample, which removes the bias column (z = 0).
    seed : seeds the draws (each trial n distinct images).
    """
    x, y = _check_xy(x, y)
    N, C, H, W = x.shape
    _check_m(m, H, W)
    if target not in ("label", "centred"):
        raise ValueError(f"unknown target {target!r}: choose 'label' or 'centred'")
    if not (isinstance(n, (int, np.integer)) and 1 <= n <= N):
        raise ValueError(f"n = {n!r} must be an integer in 1..{N}, the size of the pool")
    if not (isinstance(trials, (int, np.integer)) and trials >= 1):
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    rng = np.random.default_rng(seed)
    index = np.sort(np.argsort(rng.random((trials, N)), axis=1)[:, :n], axis=1)  # (T, n), distinct per row
    w = y[index]  # (T, n)
    if target == "centred":
        w = w - w.mean(axis=1, keepdims=True)
    S = np.zeros((trials, N))
    np.put_along_axis(S, index, w / n, axis=1)
    z_img = (S @ x.reshape(N, -1)).reshape(trials, C, H, W)  # eq. 31 for every trial
    Z = _Z_from_mean(z_img, w.mean(axis=1), m)  # (T, P, D), eq. 35
    evals, V = np.linalg.eigh(np.swapaxes(Z, 1, 2) @ Z)  # (T, D), (T, D, D), ascending
    evals, V = evals[:, ::-1], V[:, :, ::-1]
    _, V = _fix_signs(V, V)
    parts = V[:, :-1, 0].reshape(trials * C, m * m)  # kernel parts of v_1, channel by channel
    return V1Trials(index, cosine_with_ones(parts).reshape(trials, C), np.sqrt(np.clip(evals, 0.0, None)))


@dataclass(frozen=True, eq=False)
class LinearRegime:
    """One real GD run of the two-layer CNN against the linear dynamics from the same
    initialization (see ``linear_regime``). Rescaled variables theta / eps (eqs. 27-28).

    ``times`` (S,) the recorded times lr x epoch; ``theta_W`` (S, M, D), ``theta_a`` (S, M, P)
    the real run; ``W_linear``, ``a_linear`` the closed form's GD iterates from theta(0)
    (``closed_form(..., lr)``); ``distance`` (S,) the relative distance between the two;
    ``phi`` (S,) of eq. 52; ``T_eff`` of eq. 54 on the run; ``T_lin`` the first recorded time
    the distance exceeds ``tol`` (``inf`` if never). ``result`` is the run itself; ``change`` and
    ``align`` (S,) are eqs. 14 and 15 along the run, ``change_linear`` and ``align_linear``
    along the closed form.
    """

    config: Config
    Z: np.ndarray
    spectrum: Spectrum
    tol: float
    times: np.ndarray
    theta_W: np.ndarray
    theta_a: np.ndarray
    W_linear: np.ndarray
    a_linear: np.ndarray
    distance: np.ndarray
    phi: np.ndarray
    T_eff: float
    T_lin: float
    result: TrainResult

    change: np.ndarray
    align: np.ndarray
    change_linear: np.ndarray
    align_linear: np.ndarray

    @property
    def eps(self) -> float:
        return float(self.config.eps)

    @property
    def lambda_1(self) -> float:
        return float(self.spectrum.singular_values[0])


def linear_regime(base: Config, *, steps: Optional[int] = None, horizon: Optional[float] = None,
                  lr_lambda: float = 0.05, every: int = 1, tol: float = 0.05, device: str = "cpu") -> LinearRegime:
    """Train ``base`` (a ``theory_config``) by GD with step ``gd_step(lambda_1, lr_lambda)``
    (lambda_1 of its own Z) and compare the run with the closed form from the same
    initialization: Prop. 1 against the real dynamics, T_eff (eq. 54) and the end of the
    linear regime. Give ``steps`` (GD steps) or ``horizon`` (run until lambda_1 t = horizon);
    snapshots every ``every`` steps. The run is cached (``run``) and trained on ``device``."""
    if not isinstance(base, Config) or base.init != "theory" or len(base.channels) != 1 or base.optimizer != "gd":
        raise ValueError("base must be a two-layer GD run in the theory's setting: use theory_config(...)")
    if (steps is None) == (horizon is None):
        raise ValueError("give exactly one of steps (GD steps) and horizon (run until lambda_1 t = horizon)")
    if not (isinstance(every, (int, np.integer)) and every >= 1):
        raise ValueError(f"every must be a positive integer, got {every!r}")
    Z = build_Z(*base.data(), base.m, base.padding)
    spec = spectrum(Z)
    lr = gd_step(spec.singular_values[0], lr_lambda)
    steps = int(steps) if horizon is None else round(horizon / (lr * spec.singular_values[0]))
    config = base.replace(lr=lr, epochs=steps, snapshot_epochs=tuple(range(0, steps + 1, every)))
    result = run(config, device=device)
    W, a = theta_bar(result.snapshots, config.eps)
    times = config.times()
    W_lin, a_lin = closed_form(Z, W[0], a[0], times, lr=lr)
    distance = relative_distance((W, a), (W_lin, a_lin))
    phi_t = phi(W, a)
    M = config.channels[0]
    return LinearRegime(config=config, Z=Z, spectrum=spec, tol=float(tol), times=times, theta_W=W, theta_a=a,
                        W_linear=W_lin, a_linear=a_lin, distance=distance, phi=phi_t,
                        T_eff=T_eff(times, phi_t, M, config.eps), T_lin=first_time(times, distance > tol), result=result,
                        change=relative_change(W), align=alignment(W, spec.v1),
                        change_linear=relative_change(W_lin), align_linear=alignment(W_lin, spec.v1))


@dataclass(frozen=True, eq=False)
class Theorem1Scan:
    """The two quantities of Theorem 1 along real GD runs, one per width M (see ``theorem1_scan``).

    ``widths`` (K,), ``eps`` (K,) = M^(-gamma_eps/2); ``times`` (S,) the recorded times (lr x epoch);
    per width and time (K, S): ``change`` and ``align`` (eqs. 14, 15) of the real run,
    ``change_linear`` and ``align_linear`` of the closed form from the same initialization
    (GD iterates, ``closed_form(..., lr)``), ``distance`` the relative distance between the
    two trajectories (theta_W and theta_a); per width (K,): ``phi0`` = phi(0), ``T_eff`` of
    eq. 54 on the run, and ``T_lin``, the first recorded time the distance exceeds ``tol``
    (``inf`` if never).
    """

    dataset: str
    gamma_eps: float
    tol: float
    lr: float
    lambda_1: float
    lambda_2: float
    D: int
    P: int
    widths: np.ndarray
    eps: np.ndarray
    times: np.ndarray
    change: np.ndarray
    align: np.ndarray
    change_linear: np.ndarray
    align_linear: np.ndarray
    distance: np.ndarray
    phi0: np.ndarray
    T_eff: np.ndarray
    T_lin: np.ndarray

    def sup(self, quantity: str = "change", until: str = "T_lin") -> np.ndarray:
        """sup over t in [0, T] of ``quantity`` ("change" or "align") for each width, with T the
        per-width ``T_lin`` or ``T_eff`` (``until``); a T beyond the run is cut at its end."""
        if quantity not in ("change", "align") or until not in ("T_lin", "T_eff"):
            raise ValueError("quantity is 'change' or 'align'; until is 'T_lin' or 'T_eff'")
        values, ends = getattr(self, quantity), getattr(self, until)
        return np.array([sup_until(self.times, v, T) for v, T in zip(values, ends)])


def theorem1_scan(base: Config, widths, gamma_eps: float, *, steps: int, lr_lambda: float = 0.05,
                  every: int = 2, tol: float = 0.05, device: str = "cpu") -> Theorem1Scan:
    """``linear_regime`` at each width M of ``widths`` with eps^2 = M^(-gamma_eps) (Assumption 3,
    eq. 8), ``steps`` GD steps each, and the quantities of Theorem 1 (eqs. 14-15), T_eff (eq. 54)
    and the end of the linear regime per width. Runs are cached (``run``) and trained on ``device``."""
    widths = np.asarray(widths)
    if widths.ndim != 1 or widths.size == 0 or not np.issubdtype(widths.dtype, np.integer) or (widths < 2).any():
        raise ValueError(f"widths must be a list of integers >= 2, got {widths!r}")
    if not (np.isfinite(gamma_eps) and gamma_eps > 0):
        raise ValueError(f"gamma_eps must be positive (eps^2 = M^-gamma_eps), got {gamma_eps!r}")
    if not isinstance(base, Config):
        raise ValueError("base must be a theory_config(...)")
    regimes = [linear_regime(base.replace(channels=(int(M),), eps=float(M) ** (-gamma_eps / 2)), steps=steps,
                             lr_lambda=lr_lambda, every=every, tol=tol, device=device) for M in widths]
    first = regimes[0]
    per_width = lambda name: np.array([getattr(r, name) for r in regimes])
    return Theorem1Scan(
        dataset=base.dataset, gamma_eps=float(gamma_eps), tol=float(tol), lr=first.config.lr,
        lambda_1=first.lambda_1, lambda_2=float(first.spectrum.singular_values[1]), D=first.Z.shape[1],
        P=first.Z.shape[0], widths=widths.astype(np.int64), eps=np.array([r.eps for r in regimes]), times=first.times,
        change=per_width("change"), align=per_width("align"), change_linear=per_width("change_linear"),
        align_linear=per_width("align_linear"), distance=per_width("distance"),
        phi0=np.array([r.phi[0] for r in regimes]), T_eff=per_width("T_eff"), T_lin=per_width("T_lin"))


@dataclass(frozen=True, eq=False)
class RegimeComparison:
    """Real GD runs of the two-layer CNN at several (gamma_eps, M), stopped at a common loss
    (see ``compare_regimes``). Row k is the run at ``gamma_eps[k]``, ``widths[k]``.

    ``eps`` (K,) = M^(-gamma_eps/2); ``times`` (S,) the recorded times lr x epoch; per run and
    time (K, S): ``loss``, R_S divided by R_S of the zero network, (1/2n) sum_i y_i^2; ``change``
    and ``align``, eqs. 14 and 15; ``aligned``, the aligned fraction of the kernels. ``stop`` (K,)
    is the index of the first recorded time with ``loss <= level``.
    """

    gamma_eps: np.ndarray
    widths: np.ndarray
    eps: np.ndarray
    level: float
    lr: float
    lambda_1: float
    times: np.ndarray
    loss: np.ndarray
    change: np.ndarray
    align: np.ndarray
    aligned: np.ndarray
    stop: np.ndarray

    def at_stop(self, quantity: str) -> np.ndarray:
        """``quantity`` ("loss", "change", "align", "aligned" or "times") of each run at its stop, (K,)."""
        if quantity not in ("loss", "change", "align", "aligned", "times"):
            raise ValueError(f"quantity must be 'loss', 'change', 'align', 'aligned' or 'times', got {quantity!r}")
        values = getattr(self, quantity)
        if quantity == "times":
            return values[self.stop]
        return values[np.arange(len(self.stop)), self.stop]


def compare_regimes(base: Config, widths, gammas_eps, *, steps: int, lr_lambda: float = 0.02, level: float = 0.7,
                    device: str = "cpu") -> RegimeComparison:
    r"""The lazy and the condensed regime side by side: ``linear_regime`` runs at every width M of
    ``widths`` and every exponent of ``gammas_eps``, with eps^2 = M^(-gamma_eps) (Assumption 3,
    eq. 8), each stopped when it has fitted the data equally well.

    The common stopping point is the first recorded step at which the training loss (eq. 1) is
    at most ``level`` times the loss of the zero network,

    .. math::
        R_S(\theta) \le \text{level}\cdot\frac{1}{2n}\sum_{i=1}^n y_i^2 ,

    and the measures there are Theorem 1's relative change of the kernels (eq. 14), their
    alignment with v_1 (eq. 15) and the aligned fraction. For gamma_eps < 1 the initial output
    is large and the network fits the data with kernels that barely move (the linear, NTK or
    lazy regime); for gamma_eps > 1 the kernels grow out of their start along v_1 before the
    loss moves (the condensed regime): Luo, Xu, Ma and Zhang, "Phase diagram for two-layer ReLU
    neural networks at infinite-width limit", JMLR 22 (2021), whose gamma is gamma_eps here.

    Parameters
    ----------
    base : a ``theory_config``; its width and eps are replaced.
    widths : the widths M (integers >= 2); gammas_eps : the exponents (positive).
    steps : GD steps of every run, of size ``gd_step(lambda_1, lr_lambda)``, the same for all
        runs (every step recorded); it must be enough for every run to reach ``level``.
    level : the loss, as a share of the zero network's, at which the runs are compared.

    Returns
    -------
    ``RegimeComparison`` with K = len(gammas_eps) * len(widths) runs, gamma_eps outer.
    Raises ``ValueError`` when a run does not reach ``level`` within ``steps``.
    Used in the chapter "Why a small initialization: lazy against condensed".
    """
    widths = np.asarray(widths)
    gammas = np.asarray(gammas_eps, dtype=np.float64).ravel()
    if widths.ndim != 1 or widths.size == 0 or not np.issubdtype(widths.dtype, np.integer) or (widths < 2).any():
        raise ValueError(f"widths must be a list of integers >= 2, got {widths!r}")
    if gammas.size == 0 or not (np.isfinite(gammas) & (gammas > 0)).all():
        raise ValueError(f"gammas_eps must be positive numbers (eps^2 = M^-gamma_eps), got {gammas_eps!r}")
    if not (np.isfinite(level) and level > 0):
        raise ValueError(f"level must be positive, a share of the zero network's loss, got {level!r}")
    if not isinstance(base, Config):
        raise ValueError("base must be a theory_config(...)")
    _, y = base.data()
    zero_loss = 0.5 * float(np.mean(np.square(np.asarray(y, dtype=np.float64))))  # R_S of f = 0, eq. 1
    pairs = [(g, int(M)) for g in gammas for M in widths]
    regimes = [linear_regime(base.replace(channels=(M,), eps=float(M) ** (-g / 2)), steps=steps,
                             lr_lambda=lr_lambda, every=1, device=device) for g, M in pairs]
    loss = np.array([np.asarray(r.result.loss)[r.result.epochs] / zero_loss for r in regimes])  # (K, S)
    stop = []
    for (g, M), row in zip(pairs, loss):
        hits = np.flatnonzero(row <= level)
        if not hits.size:
            raise ValueError(f"the run at gamma_eps = {g:g}, M = {M} ends at a loss of {row.min():.3g} x R_S(0), "
                             f"above level = {level:g}: raise steps")
        stop.append(int(hits[0]))
    aligned = np.array([[aligned_fraction(r.result.kernels(e)) for e in r.result.epochs] for r in regimes])
    first = regimes[0]
    return RegimeComparison(
        gamma_eps=np.array([g for g, _ in pairs]), widths=np.array([M for _, M in pairs], dtype=np.int64),
        eps=np.array([r.eps for r in regimes]), level=float(level), lr=first.config.lr, lambda_1=first.lambda_1,
        times=first.times, loss=loss, change=np.array([r.change for r in regimes]),
        align=np.array([r.align for r in regimes]), aligned=aligned, stop=np.array(stop))


def all_cached(configs) -> bool:
    """Whether every configuration of ``configs`` has a valid cached result (``is_cached``):
    a chapter then reads a named sweep's full grid instead of computing its small live one."""
    return all(is_cached(c) for c in configs)


def _over_seeds(study, of: str, statistic) -> np.ndarray:
    """``statistic`` of the measure ``of`` of a study over its seeds, the last axis."""
    return statistic(getattr(study, of), axis=-1)


@dataclass(frozen=True, eq=False)
class SeedSpread:
    """The key measure of figures over seeds (see ``seed_spread``).

    ``figures`` (F,) names; ``seeds`` (S,); ``shown`` (F,) the epoch measured; ``aligned`` and
    ``directions`` (F, S): the aligned fraction and the effective directions of the conv layer
    at the shown epoch, seed by seed (seed 0 is the book's figure, the paper's single run).
    """

    scale: str
    figures: tuple
    seeds: np.ndarray
    shown: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray

    def mean(self, of: str = "aligned") -> np.ndarray:
        """Mean over seeds per figure (F,) of ``of`` ("aligned" or "directions")."""
        return _over_seeds(self, of, np.mean)

    def std(self, of: str = "aligned") -> np.ndarray:
        """Standard deviation (ddof = 1) over seeds per figure (F,)."""
        return _over_seeds(self, of, lambda v, axis: np.std(v, axis=axis, ddof=1))

    def inside(self, of: str = "aligned", k: float = 2.0) -> np.ndarray:
        """Whether seed 0 (the figure's run) lies within mean +- ``k`` std of the seeds (F,);
        with zero spread, whether it equals the mean."""
        values = getattr(self, of)
        return np.abs(values[:, 0] - self.mean(of)) <= k * self.std(of) + 1e-12


def seed_spread(figures, seeds: int = 8, scale: str = "fast", *, client=None, device: str = "cpu") -> SeedSpread:
    """Train each figure of ``figures`` (two-layer ones: one conv layer) with seeds
    0..``seeds``-1 at ``scale`` (``sweep.seed_sweep``; the seed changes the n-image sample and
    the initialization) through ``sweep`` (cached; on ``client`` if given), and measure the
    aligned fraction and effective directions (``trajectory.measure``, per filter) at the epoch
    each figure shows."""
    figures = tuple(figures)
    if any(len(FIGURES[name][scale].channels) != 1 for name in figures):
        raise ValueError("seed_spread measures two-layer figures (one conv layer), e.g. fig12, fig6, fig10_tanh")
    configs = seed_sweep(scale, seeds, figures)
    results = sweep(configs, client, device=device)
    shown = np.array([FIGURES[name].shown(scale)[0] for name in figures])
    aligned, directions = np.zeros((len(figures), seeds)), np.zeros((len(figures), seeds))
    for k, result in enumerate(results):
        f, s = divmod(k, seeds)
        (aligned[f, s],), (directions[f, s],) = measure(result).at(int(shown[f]))
    return SeedSpread(scale, figures, np.arange(seeds), shown, aligned, directions)


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """Theorem 1's two quantities over (gamma_eps, M), at a fixed relative loss decrease
    (see ``phase_diagram``).

    ``gammas`` (G,) the exponents gamma_eps of eps^2 = M^-gamma_eps (eq. 8); ``widths`` (K,);
    ``seeds`` (S,); per (G, K, S): ``change``, the relative change of the kernels (eq. 14),
    ``align``, their alignment with v_1 (eq. 15), and ``time``, lambda_1 t, all at the first
    recorded epoch where R_S <= (1 - ``drop``) R_S(0) (NaN if the run never gets there);
    ``align0`` (G, K, S) the alignment at initialization.
    """

    drop: float
    gammas: np.ndarray
    widths: np.ndarray
    seeds: np.ndarray
    change: np.ndarray
    align: np.ndarray
    align0: np.ndarray
    time: np.ndarray

    def mean(self, of: str = "change") -> np.ndarray:
        """Mean over seeds (G, K) of ``of`` ("change", "align", "align0" or "time")."""
        return _over_seeds(self, of, np.mean)

    def slope(self, of: str = "change") -> np.ndarray:
        """Per gamma_eps (G,): the least-squares slope of log(mean ``of``) against log M, the
        exponent of its growth with the width."""
        return np.array([np.polyfit(np.log(self.widths), np.log(row), 1)[0] for row in self.mean(of)])


def _sample_key(c: Config) -> tuple:
    """What fixes a run's Z (eq. 35): its data sample and preprocessing, m and padding."""
    return (c.dataset, c.split, c.n, c.seed, c.crop, c.normalization, c.m, c.padding)


def _spectra(configs) -> dict:
    """The spectrum of Z (eqs. 35-36) of each distinct ``_sample_key`` among ``configs``: the
    points of a grid share a few samples, and each Z is built once."""
    spectra = {}
    for c in configs:
        if _sample_key(c) not in spectra:
            spectra[_sample_key(c)] = spectrum(build_Z(*c.data(), c.m, c.padding))
    return spectra


def _at_drop(result: TrainResult, config: Config, drop: float, spec: Spectrum):
    """(change, align, align at 0, lambda_1 t) at the first recorded epoch where the loss has
    fallen by ``drop``; NaNs for the first three when it never has. ``spec``: the spectrum of
    the run's Z."""
    W, _ = theta_bar(result.snapshots, config.eps)
    change, align = relative_change(W), alignment(W, spec.v1)
    below = (result.loss[result.epochs] <= (1 - drop) * result.loss[0])
    if not below.any():
        return np.nan, np.nan, align[0], np.nan
    k = int(np.argmax(below))
    return change[k], align[k], align[0], config.lr * result.epochs[k] * spec.singular_values[0]


def phase_diagram(gammas=None, widths=None, seeds: Optional[int] = None, *, scale: str = "fast", drop: float = 0.5,
                  client=None, device: str = "cpu", **options) -> PhaseDiagram:
    """Train the two-layer CNN over a grid of gamma_eps (eps^2 = M^-gamma_eps, eq. 8) and width M
    (``sweep.phase_diagram_configs``; defaults: the grid ``sweep.PHASE_DIAGRAM[scale]``), through
    ``sweep`` (cached; on ``client`` if given), and measure eq. 14 and eq. 15 when the loss has
    fallen by the fraction ``drop`` of R_S(0): the same stage of training for every point,
    whatever its time scale. ``options`` go to ``phase_diagram_configs``."""
    if not 0 < drop < 1:
        raise ValueError(f"drop is a fraction of the initial loss in (0, 1), got {drop!r}")
    grid = PHASE_DIAGRAM[scale]
    gammas = np.asarray(grid["gammas"] if gammas is None else gammas, dtype=np.float64)
    widths = np.asarray(grid["widths"] if widths is None else widths, dtype=np.int64)
    seeds = int(grid["seeds"] if seeds is None else seeds)
    options = {"horizon": grid["horizon"], "every": grid["every"], **options}
    configs = phase_diagram_configs(gammas.tolist(), widths.tolist(), seeds, **options)
    results = sweep(configs, client, device=device)
    spectra = _spectra(configs)  # the grid's points share a few samples (one per seed)
    values = np.array([_at_drop(r, c, drop, spectra[_sample_key(c)]) for r, c in zip(results, configs)])  # (G K S, 4)
    change, align, align0, time = values.reshape(len(gammas), len(widths), seeds, 4).transpose(3, 0, 1, 2)
    return PhaseDiagram(float(drop), gammas, widths, np.arange(seeds), change, align, align0, time)


@dataclass(frozen=True, eq=False)
class DirectionShares:
    """Which singular direction of Z a trained two-layer CNN's kernels follow (eqs. 14-15).

    ``epochs`` (S,); ``shares`` (S, K): ||theta_{W, v_k}|| / ||theta_W|| for v_1..v_K, weights
    and bias (eq. 15 for k = 1); ``kernel_shares`` (S, K): the same for the kernel parts only
    (the weights against the kernel part of v_k, each normalized, the bias left out);
    ``spectrum``: the SVD of the run's own Z (eq. 36).
    """

    epochs: np.ndarray
    shares: np.ndarray
    kernel_shares: np.ndarray
    spectrum: Spectrum

    def at(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """``(shares, kernel_shares)`` at a recorded epoch, each (K,)."""
        k = int(np.flatnonzero(self.epochs == epoch)[0]) if epoch in self.epochs else None
        if k is None:
            raise KeyError(f"epoch {epoch} is not recorded: choose one of {self.epochs.tolist()}")
        return self.shares[k], self.kernel_shares[k]

    @property
    def followed(self) -> np.ndarray:
        """At each epoch, the k (0-based) of the direction with the largest kernel share (S,)."""
        return self.kernel_shares.argmax(axis=1)


def direction_shares(result: TrainResult, config: Config, k: int = 2) -> DirectionShares:
    """Decompose the kernels theta_W (weights and bias, the columns of ``build_Z``) of a trained
    two-layer CNN onto the top ``k`` right singular vectors of the Z of its own data
    (eqs. 35-36; eq. 15's ratio for v_1), at every recorded epoch.

    Parameters
    ----------
    result : the run of ``config`` (``experiments.run(config)``).
    config : a two-layer setting (one conv layer, ``head="linear"``, d = 1, the label as target).
    k : how many directions v_1..v_k.
    """
    if len(config.channels) != 1 or config.head != "linear" or config.d != 1:
        raise ValueError("direction_shares needs a two-layer CNN with a scalar readout (the Z of eq. 35)")
    x, y = config.data()
    spec = spectrum(build_Z(x.double().numpy(), y.double().numpy(), config.m, config.padding))
    theta_W, _ = theta_bar(result.snapshots)  # (S, M, D)
    V = spec.V[:, :k]  # (D, k)
    return DirectionShares(np.asarray(result.epochs), projection_shares(theta_W, V),
                           projection_shares(theta_W[..., :-1], V[:-1]), spec)


def layer_gradients(config: Config) -> np.ndarray:
    """The root-mean-square gradient of the loss with respect to each conv layer's weights at
    initialization, (L,): the scale of dR_S / dW^[l] (eqs. 20-23), which for layer l holds a
    product of the weights of every layer above it. Adam compares it with its eps (1e-8): a
    gradient far above eps moves every weight by about lr per step whatever its size; one below
    moves it by about lr x gradient / eps.
    """
    x, y, model = config.build()
    return _rms_gradients(model, x, y, config.loss)


def _rms_gradients(model, x, y, loss: str) -> np.ndarray:
    """The root-mean-square gradient of the loss with respect to each conv layer's weights (L,)."""
    grads = torch.autograd.grad(loss_fn(model(x), y, loss), [conv.weight for conv in model.convs])
    return np.array([float(g.double().pow(2).mean().sqrt()) for g in grads])


@dataclass(frozen=True, eq=False)
class LayerOrder:
    """Which layer condenses first, with each layer's initial weights rescaled.

    ``factors`` (K, L): the factor each conv layer's initial weights were multiplied by, one row
    per run (a row of ones: the figure's own initialization); ``gradients`` (K, L): the RMS
    gradient of each layer's weights at initialization (``layer_gradients``); ``onsets`` (K, L):
    the first recorded epoch at which each layer's aligned fraction reaches ``level`` (-1: not
    within the run); ``epochs``: the recorded epochs.
    """

    factors: np.ndarray
    gradients: np.ndarray
    onsets: np.ndarray
    epochs: np.ndarray
    level: float


def layer_order(config: Config, factors, *, level: float = 0.9, every: int = 1) -> LayerOrder:
    """Train ``config`` once per row of ``factors`` (K, L), its conv layers' initial weights (not
    the biases) multiplied by that row, and measure each layer's initial gradient and onset.

    The causal test of "a layer's gradient is a product of the weights above it (eqs. 20-23), so
    the layers whose gradient is largest condense first": multiplying the weights of the layers
    above layer l by c multiplies layer l's gradient by about c^(number of such layers); under
    Adam below its eps (``layer_gradients``) the layer then moves that much faster. The runs are
    not cached (their initialization is not a ``Config``'s); snapshots every ``every`` epochs.
    """
    factors = np.asarray(factors, dtype=np.float64)
    L = len(config.channels)
    if factors.ndim != 2 or factors.shape[1] != L or not (np.isfinite(factors).all() and (factors > 0).all()):
        raise ValueError(f"factors must be (K, {L}): one positive factor per conv layer of {config.channels}, per run")
    x, y = config.data()
    snapshots = tuple(range(0, config.epochs + 1, every))
    gradients, onsets = [], []
    for row in factors:
        model = CNN.from_config(config, tuple(x.shape[1:]))
        with torch.no_grad():
            for conv, c in zip(model.convs, row):
                conv.weight.mul_(float(c))
        gradients.append(_rms_gradients(model, x, y, config.loss))
        result = train(model, x, y, optimizer=config.optimizer, lr=config.lr, epochs=config.epochs, loss=config.loss,
                       snapshot_epochs=snapshots, progress=False, unrecorded=UNRECORDED)
        onsets.append(measure(result).onsets(level))
    return LayerOrder(factors, np.array(gradients), np.array(onsets), np.array(snapshots), float(level))


# ----------------------------------------------------------------------------- Adam against GD


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
                       every: int = 1, level: float = 0.9, device: str = "cpu") -> OptimizerComparison:
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
    level : the aligned fraction that counts as condensed (``onset``).
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
    Z = build_Z(x.double().numpy(), y.double().numpy(), base.m, base.padding)
    spec, (s_W, s_a) = spectrum(Z), sign_fixed_point(Z)
    gd_lr = gd_step(spec.singular_values[0], lr_lambda) if gd_lr is None else float(gd_lr)
    recorded = tuple(range(0, steps + 1, every)) + (() if steps % every == 0 else (steps,))
    configs = [base.replace(optimizer="gd", lr=gd_lr, epochs=int(steps), snapshot_epochs=recorded)]
    configs += [base.replace(optimizer="adam", lr=float(lr), epochs=int(steps), snapshot_epochs=recorded) for lr in adam_lrs]
    results = [run(c, device=device) for c in configs]
    theory = base.init == "theory"
    M = base.channels[0]
    c_in = x.shape[1]
    scale = float(base.eps) if theory else sigma_1(c_in, M, base.m, base.gamma)
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
            energy_onset=T_eff(epochs.astype(np.float64), phi_t, M, scale) if theory else np.nan))
    stack = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    return OptimizerComparison(
        config=base, optimizers=tuple(c.optimizer for c in configs), lrs=np.array([c.lr for c in configs]),
        scale=scale, level=float(level), epochs=epochs, spectrum=spec, s_W=s_W, s_a=s_a, **stack)


def adam_step_ratios(scale: str = "paper") -> dict:
    """For every figure of the paper trained by Adam, its learning rate over the std of its first
    conv layer's initialization, lr / sigma_1 (Sec. 4.1): how far Adam moves each first-layer
    weight per step, in units of the initial weights. A dict figure name -> ratio, one entry per
    distinct run (Figs. 3 and 8 share Fig. 2's)."""
    runs = {}
    for name, figure in FIGURES.items():
        c = figure[scale]
        if c.optimizer == "adam" and c not in runs.values():
            runs[name] = c
    return {name: c.lr / sigma_1(SHAPES[c.dataset][0], c.channels[0], c.m, c.gamma) for name, c in runs.items()}


# ---------------------------------------------------------------------------------------
# What matters: one factor at a time around a baseline (the chapter "What matters").


def _direction_cosines(lead: np.ndarray, v1: np.ndarray, bias: bool) -> tuple[float, float]:
    """|cos| of the kernels' leading direction ``lead`` with v_1 of Z (its kernel part, or all of
    it with the bias) and with the all-ones kernel (bias entry 0)."""
    target = v1 if bias else v1[:-1]
    weights = lead[:-1] if bias else lead
    ones = abs(weights.sum()) / np.sqrt(weights.size)  # cos(lead, (1, ..., 1, 0)), lead a unit vector
    return float(abs(lead @ target) / np.linalg.norm(target)), float(ones)


def _sensitivity_measures(result: TrainResult, config: Config, bias: bool, spec: Spectrum, stage: float,
                          level: float) -> dict:
    """The measures of one run: the aligned fraction at every recorded epoch, the time it first
    reaches ``level``, and the picture at the first recorded epoch where R_S <= (1 - stage) R_S(0)
    (the last recorded epoch if the loss never falls that far)."""
    epochs = np.asarray(result.epochs)
    vectors = [result.kernels(int(e), bias=bias) for e in epochs]
    aligned = np.array([aligned_fraction(V) for V in vectors])
    fallen = result.loss[epochs] <= (1 - stage) * result.loss[0]
    k = int(np.argmax(fallen)) if fallen.any() else len(epochs) - 1
    cos_v1, cos_ones = _direction_cosines(leading_direction(vectors[k]), spec.v1, bias)
    times = config.lr * epochs
    return dict(curve=aligned, t_level=first_time(times, aligned >= level), stage_epoch=int(epochs[k]),
                t_stage=first_time(times, fallen),
                aligned=aligned[k], directions=effective_directions(vectors[k]), cos_v1=cos_v1, cos_ones=cos_ones,
                lambda_1=float(spec.singular_values[0]), ratio=spec.ratio)


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """The sensitivity table (see ``sensitivity``): R rows (factor, value), S seeds.

    ``factors``, ``values`` (R,): the row; ``bias`` (R,): the kernel vectors carry the bias;
    ``baseline`` (R,): the row is the baseline; ``times`` (T,): lr x epoch of the snapshots;
    per row and seed (R, S): ``lambda_1`` and ``ratio`` (lambda_1 / lambda_2) of the run's own Z
    (eqs. 35-36; for the "fc" head, the Z of the linear readout on the same data), ``t_level``
    the gradient-flow time at which the aligned fraction first reaches ``level`` (``inf`` if
    never), ``t_stage`` the time of the picture point -- the first recorded epoch with
    R_S <= (1 - ``stage``) R_S(0), the end of the initial stage (``stage_epoch``; the last
    epoch, and ``t_stage`` = ``inf``, if the loss never falls that far) -- and there ``aligned``, ``directions``,
    ``cos_v1`` (|cos| of the kernels' leading direction with v_1) and ``cos_ones`` (with the
    all-ones kernel); ``curves`` (R, S, T): the aligned fraction at every snapshot.
    """

    scale: str
    level: float
    stage: float
    factors: tuple
    values: tuple
    bias: np.ndarray
    baseline: np.ndarray
    seeds: np.ndarray
    times: np.ndarray
    lambda_1: np.ndarray
    ratio: np.ndarray
    t_level: np.ndarray
    t_stage: np.ndarray
    stage_epoch: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    cos_v1: np.ndarray
    cos_ones: np.ndarray
    curves: np.ndarray

    # The thresholds of the verdict: the picture changes when, against the baseline measured the
    # same way, the aligned fraction moves by more than PICTURE_ALIGNED or a cosine of the
    # direction condensed on by more than PICTURE_COSINE; else the time changes when t_level (the
    # condensation) or t_stage (the end of the initial stage) is more than TIME_FACTOR times the
    # baseline's, or less than 1 / TIME_FACTOR times, or is reached by one run and not the other.
    PICTURE_ALIGNED = 0.2
    PICTURE_COSINE = 0.1
    TIME_FACTOR = 1.25

    def mean(self, of: str) -> np.ndarray:
        """Mean over seeds per row (R,) of ``of`` (a (R, S) field)."""
        return _over_seeds(self, of, np.mean)

    def reference(self, row: int) -> int:
        """The row that ``row`` is compared with: the baseline measured with the same kernel
        vectors -- the row "bias in" for a row measured with the bias (m = 1), the baseline with
        the bias left out for every other row, "bias in" included."""
        factors, values = np.array(self.factors), np.array([str(v) for v in self.values])
        with_bias = self.bias[row] and self.factors[row] != "bias"
        hits = np.flatnonzero((factors == "bias") & (values == "in")) if with_bias else np.flatnonzero(
            self.baseline & ~self.bias)
        if not hits.size:
            raise ValueError(f"row {row} ({self.factors[row]} = {self.values[row]}) has no baseline row to compare with: "
                             f"the grid needs the factor bias with the values 'out' and 'in'")
        return int(hits[0])

    def verdict(self, row: int) -> str:
        """"baseline", "changes the picture", "changes only the time" or "changes neither",
        by the thresholds above, on the means over seeds."""
        if self.baseline[row]:
            return "baseline"
        ref = self.reference(row)
        aligned, cos_v1, cos_ones = (self.mean(of) for of in ("aligned", "cos_v1", "cos_ones"))
        if (abs(aligned[row] - aligned[ref]) > self.PICTURE_ALIGNED or abs(cos_v1[row] - cos_v1[ref]) > self.PICTURE_COSINE
                or abs(cos_ones[row] - cos_ones[ref]) > self.PICTURE_COSINE):
            return "changes the picture"
        for t in (self.mean("t_level"), self.mean("t_stage")):
            if np.isfinite(t[row]) != np.isfinite(t[ref]):
                return "changes only the time"
            factor = t[row] / t[ref] if np.isfinite(t[ref]) else 1.0
            if not 1 / self.TIME_FACTOR <= factor <= self.TIME_FACTOR:
                return "changes only the time"
        return "changes neither"

    def verdicts(self) -> list:
        """``verdict`` of every row."""
        return [self.verdict(r) for r in range(len(self.factors))]

    def rows(self, factor: str) -> np.ndarray:
        """The rows of ``factor``, in their order."""
        return np.flatnonzero(np.array(self.factors) == factor)


def sensitivity(scale: str = "fast", *, level: float = 0.9, stage: float = 0.05, grid: Optional[dict] = None,
                client=None, device: str = "cpu") -> Sensitivity:
    """Vary one factor at a time around a baseline (``sweep.sensitivity_rows``: n, m, padding,
    bias in or out of the kernel vector, the head) and measure, per row and seed,

    - the picture: at the end of the initial stage (the first recorded epoch where the loss has
      fallen by ``stage``, R_S <= (1 - stage) R_S(0), eq. 1), the aligned fraction, the effective
      directions, and the direction condensed on: |cos| of the kernels' leading direction with
      v_1 of the run's own Z (eqs. 35-36, with the run's m and padding) and with the all-ones kernel;
    - the time: the gradient-flow time t = lr x epoch (eq. 20) at which the aligned fraction
      first reaches ``level``, beside lambda_1 of Z, which sets the time scale of the linear
      dynamics (Prop. 1: the kernels grow like exp(lambda_1 t)).

    Every run goes through ``sweep`` (cached; on ``client`` if given). ``grid``: a dict in the
    form of ``sweep.SENSITIVITY[scale]`` (default that). The verdicts: ``Sensitivity.verdict``.
    """
    if not 0 < level < 1 or not 0 < stage < 1:
        raise ValueError(f"level and stage are fractions in (0, 1), got level={level!r}, stage={stage!r}")
    grid = SENSITIVITY[scale] if grid is None else grid
    rows, seeds = sensitivity_rows(scale, grid), int(grid["seeds"])
    runs = list(dict.fromkeys(row.config.replace(seed=s) for row in rows for s in range(seeds)))
    results = dict(zip(runs, sweep(runs, client, device=device)))
    spectra = _spectra(runs)
    measures = [[_sensitivity_measures(results[c], c, row.bias, spectra[_sample_key(c)], stage, level)
                 for c in (row.config.replace(seed=s) for s in range(seeds))] for row in rows]
    field = lambda name: np.array([[m[name] for m in per_seed] for per_seed in measures])
    times = rows[0].config.times()
    if any(not np.array_equal(row.config.times(), times) for row in rows):
        raise ValueError("the rows of a sensitivity grid must share lr, epochs and snapshots (one time axis)")
    return Sensitivity(
        scale=scale, level=float(level), stage=float(stage), factors=tuple(r.factor for r in rows),
        values=tuple(r.value for r in rows), bias=np.array([r.bias for r in rows]),
        baseline=np.array([r.baseline for r in rows]), seeds=np.arange(seeds), times=times,
        lambda_1=field("lambda_1"), ratio=field("ratio"), t_level=field("t_level"), t_stage=field("t_stage"), stage_epoch=field("stage_epoch"),
        aligned=field("aligned"), directions=field("directions"), cos_v1=field("cos_v1"), cos_ones=field("cos_ones"),
        curves=field("curve"))


# ---------------------------------------------------------------------------------------------
# Multiplicity 2 (Definition 1, Remark 1): x tanh x and the second-order term of eq. 30.


def quadratic_fields(model, x, y, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The rescaled gradient-flow vector field of a two-layer CNN whose activation has
    multiplicity 2 (x tanh x), and its leading, second-order term.

    - ``field``: d theta_bar / dt = -(1/eps) grad R_S(eps theta_bar) (eqs. 27-28), by autograd;
    - ``quadratic``: eps times ``quadratic_field(build_Q(x, y, m), theta_bar_W, theta_bar_a)``,
      i.e. (eps B_k(theta_bar_a) theta_bar_k ; eps theta_bar_k^T Q_p theta_bar_k) per kernel.

    Same arguments and layout as ``vector_fields``: ``(field, quadratic)``, each (M, D + P). They
    agree up to a relative O(eps^2): the z^4 / 3 term of x tanh x and e_i = -y_i + O(eps^3).
    """
    x, y, field, theta = _rescaled_field(model, x, y, eps)
    Q = build_Q(x, y, model.m)
    D = Q.shape[1]
    quadratic = eps * np.concatenate(quadratic_field(Q, theta[:, :D], theta[:, D:]), axis=1)
    return field, quadratic


def quadratic_check(x, y, eps, channels: int = 8, m: int = 3, activation: str = "xtanh",
                    seed: int = 0) -> LinearizationCheck:
    """``linearization_check`` for multiplicity 2: for each eps, the real rescaled vector field
    against its second-order term (``quadratic_fields``) on ``CNN(in_shape, (channels,), m=m,
    activation=activation, head="linear", init="theory", eps=eps, seed=seed)``. ``error`` is
    ||field - quadratic|| / ||quadratic|| and ``ratio`` ||field|| / ||quadratic|| over all kernels."""
    if get_activation(activation).multiplicity != 2:
        raise ValueError(f"activation {activation!r} does not have multiplicity 2: use linearization_check")
    return _field_check(quadratic_fields, x, y, eps, channels, m, activation, seed)


@dataclass(frozen=True, eq=False)
class MultiplicityStudy:
    """A two-layer run measured against the direction each kernel is predicted to take
    (see ``multiplicity_study``). The growth and the cosines with the prediction are those of
    theta_{W, k} = (W_k, b_k), the vector the flow acts on (``kernel_vectors(..., per="filter",
    bias=True)``); the aligned fraction and effective directions, as in every chapter, those of
    the filters without their bias (``per="filter"``).

    ``activation``, its ``multiplicity`` r; ``epochs`` (S,) recorded; ``loss_ratio`` (S,)
    R_S / R_S(0); ``stop``: the last recorded epoch with R_S >= ``drop`` R_S(0), the end of the
    initial stage; ``time``: the gradient-flow time lr * stop; ``aligned`` and ``directions``
    (S,): aligned fraction and effective directions at each recorded epoch;
    ``predicted`` (M, D): each kernel's predicted direction (r = 1: v_1 of Z for all; r = 2: the
    top eigenvector of its own B_k at initialization); ``rates`` (M,): its predicted growth rate
    (lambda_1; the top eigenvalue of B_k), per unit of time; ``predicted_shared`` (M, D): the r = 2
    prediction if the readout were shared over positions (each a_{k,p} replaced by its mean over p);
    ``growth`` (M,): ||theta_k(stop)|| / ||theta_k(0)||; ``cos_start`` and ``cos_stop`` (M,):
    |cosine| of theta_k with its predicted direction at initialization and at ``stop``.
    """

    activation: str
    multiplicity: int
    epochs: np.ndarray
    loss_ratio: np.ndarray
    stop: int
    time: float
    drop: float
    aligned: np.ndarray
    directions: np.ndarray
    predicted: np.ndarray
    rates: np.ndarray
    predicted_shared: np.ndarray
    growth: np.ndarray
    cos_start: np.ndarray
    cos_stop: np.ndarray

    def at(self, epoch: int, of: str = "aligned") -> float:
        """``aligned`` or ``directions`` at a recorded ``epoch``."""
        if of not in ("aligned", "directions"):
            raise ValueError(f"of must be 'aligned' or 'directions', got {of!r}")
        hit = np.flatnonzero(self.epochs == epoch)
        if not hit.size:
            raise ValueError(f"epoch {epoch} was not recorded; recorded: {self.epochs.tolist()}")
        return float(getattr(self, of)[hit[0]])

    @property
    def predicted_directions(self) -> float:
        """Effective directions of the kernel parts of the predicted vectors (their bias entry
        left out, as for the filters): 1 for r = 1, every kernel on v_1."""
        return effective_directions(self.predicted[:, :-1])

    def grown(self, factor: float = 2.0) -> np.ndarray:
        """The kernels whose norm grew by more than ``factor`` by ``stop`` (a boolean mask (M,))."""
        return self.growth > factor

    @property
    def rank_correlation(self) -> float:
        """Spearman's rank correlation of the predicted rates with the measured growth (nan when
        every rate is the same, as for r = 1)."""
        from scipy.stats import spearmanr

        if np.ptp(self.rates) == 0:
            return float("nan")
        return float(spearmanr(self.rates, self.growth)[0])


def _unit(V: np.ndarray) -> np.ndarray:
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def multiplicity_study(result: TrainResult, config: Config, drop: float = 0.9) -> MultiplicityStudy:
    """Measure a two-layer run against the prediction of its Taylor expansion at zero weights.

    Multiplicity 1 (tanh): every kernel follows d theta / dt = A theta (eqs. 32-34) and turns to
    v_1 of Z at rate lambda_1 (Theorem 1). Multiplicity 2 (x tanh x): kernel k follows
    d theta_k / dt = B_k theta_k (``build_B``), with B_k set by its own readout at initialization,
    and turns to B_k's top eigenvector at the rate of its top eigenvalue (``top_eigenpairs``).

    ``result``: the run of ``config`` (a two-layer CNN, ``head="linear"``, d = 1, with snapshots);
    ``drop``: the initial stage ends at the last recorded epoch whose loss is >= drop R_S(0).
    """
    if len(config.channels) != 1 or config.head != "linear" or config.d != 1:
        raise ValueError("multiplicity_study is for the two-layer CNN: one conv layer, head='linear', d=1")
    if not 0 < drop < 1:
        raise ValueError(f"drop must be in (0, 1), got {drop!r}")
    r = get_activation(config.activation).multiplicity
    if r not in (1, 2):
        raise ValueError(f"activation {config.activation!r} has multiplicity {r}: the study covers r = 1 and r = 2")
    x, y = config.data()
    epochs = np.asarray(result.epochs)
    loss = np.asarray(result.loss, dtype=np.float64)
    if not np.isfinite(loss).all():
        raise ValueError(f"the run diverged (the loss is not finite from epoch {int(np.argmin(np.isfinite(loss)))}): "
                         f"lower lr = {config.lr:g}")
    loss_ratio = loss[epochs] / loss[0]
    before = epochs[loss_ratio >= drop]
    stop = int(before[-1])
    vectors = {int(e): np.asarray(result.kernels(int(e), 0, per="filter", bias=True), dtype=np.float64)
               for e in epochs}  # theta_{W, k} = (W_k, b_k), (M, D)
    theta_W0, theta_a0 = (t[0] for t in theta_bar(result.snapshot(0)))
    if r == 1:
        spec = spectrum(build_Z(x, y, config.m))
        predicted = np.tile(spec.v1, (theta_W0.shape[0], 1))
        rates = np.full(theta_W0.shape[0], spec.singular_values[0])
        shared = predicted
    else:
        Q = build_Q(x, y, config.m)
        rates, predicted = top_eigenpairs(build_B(Q, theta_a0))
        mean_a = np.repeat(theta_a0.mean(axis=1, keepdims=True), theta_a0.shape[1], axis=1)
        shared = top_eigenpairs(build_B(Q, mean_a))[1]
    V0, Vs = vectors[0], vectors[stop]
    return MultiplicityStudy(
        activation=config.activation, multiplicity=r, epochs=epochs, loss_ratio=loss_ratio, stop=stop,
        time=config.lr * stop, drop=drop,
        aligned=np.array([aligned_fraction(vectors[int(e)][:, :-1]) for e in epochs]),
        directions=np.array([effective_directions(vectors[int(e)][:, :-1]) for e in epochs]),
        predicted=predicted, rates=rates, predicted_shared=shared,
        growth=np.linalg.norm(Vs, axis=1) / np.linalg.norm(V0, axis=1),
        cos_start=np.abs((_unit(V0) * predicted).sum(axis=1)), cos_stop=np.abs((_unit(Vs) * predicted).sum(axis=1)),
    )


# ---------------------------------------------------------------------------------------
# After the initial stage: does the condensed direction last, and does the network generalize?

@dataclass(frozen=True, eq=False)
class AfterInitialStage:
    """Runs from a small and a large initialization followed to the end of training, tested on
    held-out images (see ``after_initial_stage``).

    ``gammas`` (G,) the conv-initialization exponents (sigma_1 = fan^-gamma, Sec. 4.1); ``seeds``
    (S,); ``epochs`` (E,) the recorded epochs, the same for every run; per (G, S, E):
    ``loss`` (R_S, eq. 1), ``train_accuracy``, ``test_accuracy`` (on ``n_test`` held-out images),
    ``aligned`` and ``directions`` (aligned fraction and effective directions of the filters);
    per (G, S): ``initial_end``, the end of the initial stage (the last recorded epoch whose loss
    is within ``drop`` of R_S(0)), and ``lead_cosine``, |cos| between the leading direction of
    the filters there and at the last epoch; ``survival`` (G, S, M): |cos| of each filter at the
    last epoch with the leading direction at ``initial_end``.
    """

    gammas: np.ndarray
    seeds: np.ndarray
    epochs: np.ndarray
    n_test: int
    drop: float
    loss: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    initial_end: np.ndarray
    lead_cosine: np.ndarray
    survival: np.ndarray

    _PER_EPOCH = ("loss", "train_accuracy", "test_accuracy", "aligned", "directions")
    _PER_RUN = ("initial_end", "lead_cosine", "survived")

    def at(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Per run (G, S): a per-epoch measure ``of`` ("loss", "train_accuracy", "test_accuracy",
        "aligned", "directions") at the last epoch (``when="end"``) or at the end of the initial
        stage (``when="initial_end"``); or a per-run one: "initial_end", "lead_cosine", "survived"
        (the share of filters with ``survival`` > 0.9)."""
        if when not in ("end", "initial_end"):
            raise ValueError(f"when must be 'end' or 'initial_end', got {when!r}")
        if of in self._PER_EPOCH:
            values = getattr(self, of)
            if when == "end":
                return values[..., -1]
            k = np.searchsorted(self.epochs, self.initial_end)
            return np.take_along_axis(values, k[..., None], axis=-1)[..., 0]
        if of == "survived":
            return (self.survival > 0.9).mean(axis=-1)
        if of in self._PER_RUN:
            return getattr(self, of)
        raise ValueError(f"unknown measure {of!r}: choose one of {self._PER_EPOCH + self._PER_RUN}")

    def mean(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Mean over seeds (G,) of ``at(of, when)``."""
        return self.at(of, when).mean(axis=-1)

    def std(self, of: str = "test_accuracy", when: str = "end") -> np.ndarray:
        """Standard deviation over seeds (ddof = 1; 0 for one seed), (G,), of ``at(of, when)``."""
        values = self.at(of, when)
        return values.std(axis=-1, ddof=1) if values.shape[-1] > 1 else np.zeros(values.shape[0])

    def summary(self, of: str = "test_accuracy", when: str = "end", digits: int = 3) -> list[str]:
        """``"mean ± std"`` over seeds of ``at(of, when)``, one string per gamma."""
        return [f"{mu:.{digits}f} ± {sd:.{digits}f}" for mu, sd in zip(self.mean(of, when), self.std(of, when))]

    def difference(self, of: str = "test_accuracy", first: int = 0, second: int = 1) -> np.ndarray:
        """Seed by seed (S,), ``at(of)`` of the gamma ``gammas[first]`` minus that of
        ``gammas[second]``: a paired difference, the two runs of a seed sharing their training
        sample and their held-out images."""
        values = self.at(of)
        return values[first] - values[second]


def held_out_accuracy(result: TrainResult, config: Config, x, y) -> np.ndarray:
    """The accuracy on ``(x, y)`` (images the run never saw, e.g. ``data.held_out``) of the network
    of ``config`` at every recorded epoch of its run ``result``, (E,): the network rebuilt from
    each snapshot (``CNN.load_parameters``; a linear-readout run, whose every parameter is kept)."""
    from .losses import accuracy

    model = CNN.from_config(config, tuple(x.shape[1:]))
    out = []
    with torch.no_grad():
        for e in result.epochs:
            model.load_parameters(result.snapshot(int(e)))
            out.append(float(accuracy(model(x), y)))
    return np.array(out)


def _initial_end(result: TrainResult, drop: float) -> int:
    """The last recorded epoch whose loss is still within ``drop`` (a fraction) of R_S(0)."""
    loss = np.asarray(result.loss)[result.epochs]
    return int(result.epochs[np.flatnonzero(loss >= (1 - drop) * loss[0])[-1]])


def _survival(result: TrainResult, start: int) -> tuple[float, np.ndarray]:
    """|cos| between the leading direction of the filters at ``start`` and at the last epoch, and
    |cos| (eq. 5) of each filter at the last epoch with the leading direction at ``start``, (M,)."""
    from .condensation import leading_direction

    v = leading_direction(result.kernels(start))
    end = result.kernels(int(result.epochs[-1]))
    U = end / np.linalg.norm(end, axis=1, keepdims=True)
    return abs(float(leading_direction(end) @ v)), np.abs(U @ v)


def after_initial_stage(gammas=(2.0, 0.5), seeds: Optional[int] = None, *, scale: str = "fast",
                        n_test: Optional[int] = None, drop: float = 0.01, client=None, device: str = "cpu",
                        **options) -> AfterInitialStage:
    """Train the two-layer CNN of ``sweep.after_initial_stage_configs`` (d = 10 outputs,
    cross-entropy, GD) from each conv initialization gamma of ``gammas`` with seeds
    0..``seeds``-1 (defaults and sizes: ``sweep.AFTER_INITIAL_STAGE[scale]``; ``options`` go to
    ``after_initial_stage_configs``), through ``sweep`` (cached; on ``client`` if given; the seeds
    of one gamma train together, ``batch=seeds``, several times faster on a loaded CPU), and
    measure, at every recorded epoch, the training and the held-out accuracy (``n_test`` images
    of the pool outside the run's sample, ``data.held_out``), the aligned fraction and the
    effective directions of the filters; and whether the direction the filters share at the end
    of the initial stage survives to the end of training.

    The end of the initial stage is the last recorded epoch whose loss is still within ``drop``
    of R_S(0) (log 10 for cross-entropy at a near-zero output): the stage in which the loss has
    not yet moved and the kernels condense (the paper's "accuracy below 20%", Fig. 8, is no
    clock here: with a linear readout the argmax of the tiny outputs is right for about half of
    the images while the loss is still at log 10).
    """
    from .data import held_out
    from .sweep import AFTER_INITIAL_STAGE, after_initial_stage_configs

    if scale not in AFTER_INITIAL_STAGE:
        raise ValueError(f"unknown scale {scale!r}: choose one of {sorted(AFTER_INITIAL_STAGE)}")
    if not 0 < drop < 1:
        raise ValueError(f"drop is a fraction of the initial loss in (0, 1), got {drop!r}")
    grid = AFTER_INITIAL_STAGE[scale]
    seeds = int(grid["seeds"] if seeds is None else seeds)
    n_test = int(grid["n_test"] if n_test is None else n_test)
    gammas = np.asarray(gammas, dtype=np.float64).ravel()
    options = {k: grid[k] for k in ("n", "crop", "epochs")} | options
    configs = after_initial_stage_configs(gammas.tolist(), seeds, **options)
    results = sweep(configs, client, device=device, batch=seeds)  # the seeds of a gamma train together
    rows = []
    for c, r in zip(configs, results):
        x, y = held_out(c.dataset, n_test, n_train=c.n, seed=c.seed, split=c.split, target=c.target,
                        normalization=c.normalization, crop=c.crop)
        m = measure(r)
        start = _initial_end(r, drop)
        lead, survival = _survival(r, start)
        rows.append((np.asarray(r.loss)[r.epochs], np.asarray(r.accuracy)[r.epochs], held_out_accuracy(r, c, x, y),
                     m.aligned[:, 0], m.directions[:, 0], start, lead, survival))
    G, S = len(gammas), seeds
    stack = lambda j: np.array([row[j] for row in rows]).reshape(G, S, *np.shape(rows[0][j]))
    return AfterInitialStage(
        gammas=gammas, seeds=np.arange(S), epochs=np.asarray(results[0].epochs), n_test=n_test, drop=float(drop),
        loss=stack(0), train_accuracy=stack(1), test_accuracy=stack(2), aligned=stack(3), directions=stack(4),
        initial_end=stack(5), lead_cosine=stack(6), survival=stack(7))
