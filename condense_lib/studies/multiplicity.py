"""Multiplicity 2 (Definition 1, Remark 1): a two-layer run measured against the direction each
kernel is predicted to take, v_1 of Z for tanh, the top eigenvector of its own B_k for x tanh x.
Used in the chapter "Multiplicity 2: x tanh x".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..theory.activations import get_activation
from ..theory.condensation import aligned_fraction, effective_directions
from ..theory.data_matrix import build_Z, spectrum, theta_bar
from ..theory.quadratic import build_B, build_Q, top_eigenpairs
from ..training.config import Config
from ..training.runner import run, run_variant
from ..training.trainer import TrainResult
from .uncertainty import Interval, difference_interval, mean_interval

__all__ = ["MultiplicityStudy", "multiplicity_study", "run_centred", "MultiplicitySeeds", "multiplicity_seeds"]


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


def run_centred(config: Config, *, device=None, use_cache: bool = True) -> TrainResult:
    """``run(config)`` with centred targets: the model of ``config`` trained on y - mean(y) of
    its own sample instead of y (``runner.run_variant``, cached under ``{"targets": "centred"}``)."""
    if config.target != "label" or config.loss != "mse":
        raise ValueError("run_centred centres the scalar label: config needs target='label' and loss='mse'")

    def build():
        x, y, model = config.build()
        return x, y - y.mean(), model

    return run_variant(config, {"targets": "centred"}, build, device=device, use_cache=use_cache)


def multiplicity_study(result: TrainResult, config: Config, drop: float = 0.9, *,
                       centred: bool = False) -> MultiplicityStudy:
    """Measure a two-layer run against the prediction of its Taylor expansion at zero weights.

    Multiplicity 1 (tanh): every kernel follows d theta / dt = A theta (eqs. 32-34) and turns to
    v_1 of Z at rate lambda_1 (Theorem 1). Multiplicity 2 (x tanh x): kernel k follows
    d theta_k / dt = B_k theta_k (``build_B``), with B_k set by its own readout at initialization,
    and turns to B_k's top eigenvector at the rate of its top eigenvalue (``top_eigenpairs``).

    ``result``: the run of ``config`` (a two-layer CNN, ``head="linear"``, d = 1, with snapshots);
    ``drop``: the initial stage ends at the last recorded epoch whose loss is >= drop R_S(0);
    ``centred``: the run was trained on y - mean(y) (``run_centred``), and Z, Q_p are built with
    those targets (then Q_p = (1/n) sum_i (y_i - mean y) x_p(i) x_p(i)^T need not be semidefinite).
    """
    if len(config.channels) != 1 or config.head != "linear" or config.d != 1:
        raise ValueError("multiplicity_study is for the two-layer CNN: one conv layer, head='linear', d=1")
    if not 0 < drop < 1:
        raise ValueError(f"drop must be in (0, 1), got {drop!r}")
    r = get_activation(config.activation).multiplicity
    if r not in (1, 2):
        raise ValueError(f"activation {config.activation!r} has multiplicity {r}: the study covers r = 1 and r = 2")
    x, y = config.data()
    if centred:
        y = y - y.mean()
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


@dataclass(frozen=True, eq=False)
class MultiplicitySeeds:
    """``multiplicity_study`` of each activation over seeds (``multiplicity_seeds``): per
    activation (rows, in the order of ``activations``) and seed (columns), at the end of each
    run's initial stage, the kernels grown more than twice (``grown``), the aligned fraction
    (``aligned``) and the effective directions (``directions``); ``left`` whether the run left
    its initial stage within its steps (if not, "the end of the stage" is its last step)."""

    activations: tuple
    seeds: np.ndarray
    grown: np.ndarray
    aligned: np.ndarray
    directions: np.ndarray
    left: np.ndarray

    def interval(self, of: str, activation: str) -> Interval:
        """The mean of ``of`` ("grown", "aligned" or "directions") over the seeds of
        ``activation``, with its 95% interval (Student t)."""
        return mean_interval(self._row(of, activation))

    def difference(self, of: str, a: str, b: str) -> Interval:
        """``of`` of activation ``a`` minus that of ``b``, paired by seed (the same images and
        initial parameters for both), with its 95% interval."""
        return difference_interval(self._row(of, a), self._row(of, b))

    def _row(self, of: str, activation: str) -> np.ndarray:
        if of not in ("grown", "aligned", "directions"):
            raise ValueError(f"of must be 'grown', 'aligned' or 'directions', got {of!r}")
        if activation not in self.activations:
            raise ValueError(f"activation {activation!r} was not run: choose one of {list(self.activations)}")
        return getattr(self, of)[self.activations.index(activation)].astype(np.float64)


def multiplicity_seeds(configs: dict, seeds, drop: float = 0.9, *, centred: bool = False, device=None) -> MultiplicitySeeds:
    """``multiplicity_study`` of each of ``configs`` (activation name -> its two-layer ``Config``)
    at every seed of ``seeds``: ``config.replace(seed=s)`` draws a new sample of images and new
    initial parameters, the same for every activation at one seed, so that differences pair by
    seed. Runs go through ``run`` (cached), or ``run_centred`` with ``centred``. ``drop``: the end
    of the initial stage, as in ``multiplicity_study``."""
    seeds = np.asarray(list(seeds), dtype=int)
    if seeds.size < 2 or len(set(seeds.tolist())) != seeds.size:
        raise ValueError(f"seeds must hold at least two distinct seeds, got {seeds.tolist()}")
    activations = tuple(configs)
    train = run_centred if centred else run
    studies = [[multiplicity_study(train(c, device=device), c, drop=drop, centred=centred)
                for c in (configs[a].replace(seed=int(s)) for s in seeds)] for a in activations]
    field = lambda f: np.array([[f(st) for st in row] for row in studies])
    return MultiplicitySeeds(
        activations=activations, seeds=seeds,
        grown=field(lambda st: int(st.grown().sum())), aligned=field(lambda st: st.at(st.stop)),
        directions=field(lambda st: st.at(st.stop, "directions")),
        left=field(lambda st: bool(st.stop < st.epochs[-1])),
    )
