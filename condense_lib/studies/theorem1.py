"""Theorem 1 measured on real GD runs of the two-layer CNN: one run against the closed form from
the same initialization (Prop. 1, T_eff of eq. 54, the end of the linear regime), the width scan
of Theorem 1 (eqs. 14-15), and which singular direction of Z a trained run's kernels follow.
Used in the chapters "Real versus linear dynamics", "Theorem 1" and the figure chapters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..theory.data_matrix import Spectrum, build_Z, spectrum, theta_bar
from ..theory.effective_time import T_eff, alignment, first_time, phi, projection_shares, relative_change, sup_until
from ..theory.linear_dynamics import closed_form, gd_step, relative_distance
from ..training.config import Config
from ..training.runner import run
from ..training.trainer import TrainResult

__all__ = ["LinearRegime", "linear_regime", "Theorem1Scan", "theorem1_scan", "DirectionShares", "direction_shares"]


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
                  lr_lambda: float = 0.05, every: int = 1, tol: float = 0.05, device=None) -> LinearRegime:
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
    Z = base.Z()
    spec = spectrum(Z)
    lr = gd_step(spec.singular_values[0], lr_lambda)
    steps = int(steps) if horizon is None else round(horizon / (lr * spec.singular_values[0]))
    config = base.replace(lr=lr, epochs=steps, snapshot_epochs=tuple(range(0, steps + 1, every)))
    result = run(config, device=device)
    W, a = theta_bar(result.snapshots, config.eps)
    times = config.times()
    W_lin, a_lin = closed_form(Z, W[0], a[0], times=times, lr=lr)
    distance = relative_distance((W, a), (W_lin, a_lin))
    phi_t = phi(W, a)
    M = config.channels[0]
    return LinearRegime(config=config, Z=Z, spectrum=spec, tol=float(tol), times=times, theta_W=W, theta_a=a,
                        W_linear=W_lin, a_linear=a_lin, distance=distance, phi=phi_t,
                        T_eff=T_eff(times, phi_t, M, eps=config.eps), T_lin=first_time(times, distance > tol), result=result,
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
                  every: int = 2, tol: float = 0.05, device=None) -> Theorem1Scan:
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
    spec = spectrum(build_Z(x.double().numpy(), y.double().numpy(), config.m, padding=config.padding))
    theta_W, _ = theta_bar(result.snapshots)  # (S, M, D)
    V = spec.V[:, :k]  # (D, k)
    return DirectionShares(np.asarray(result.epochs), projection_shares(theta_W, V),
                           projection_shares(theta_W[..., :-1], V[:-1]), spec)
