"""The linearized two-layer CNN: the data matrix Z and the matrix A (App. C.2, D).

Near zero weights, with e_i ~ -y_i, gradient flow on each kernel beta is the
linear system d theta_beta / dt = A theta_beta (eqs. 32-34), whose matrix is
built from the data alone through Z (eqs. 31, 35; several channels: 66, 70).

Here: Z and A; the SVD of Z with its rank and spectral gap (eqs. 11-12, 36-37)
and v_1 split by channel; the check of the linearization against autograd on a
real two-layer CNN (eqs. 20, 27-34); and v_1's cosine with the all-ones vector
over many random samples (Sec. 5). Used in the theory chapters ("Linearization",
"Z, its SVD and the spectral gap").
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .activations import get_activation
from .condensation import cosine_with_ones
from .models import CNN
from .train import loss_fn

__all__ = [
    "build_Z",
    "label_weighted_mean",
    "build_A",
    "Spectrum",
    "spectrum",
    "v1_parts",
    "constant_share",
    "derivatives_at_zero",
    "theta_bar",
    "theta_per_kernel",
    "vector_fields",
    "LinearizationCheck",
    "linearization_check",
    "V1Trials",
    "v1_cosine_trials",
]


def _as_float64(a, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or inf: clean the data first")
    return a


def build_Z(x, y, m: int) -> np.ndarray:
    r"""The data matrix Z of eqs. 35 (one channel) and 70 (C channels).

    With the label-weighted mean image z_{alpha, r, c} = (1/n) sum_i y_i x_{r, c, alpha}(i)
    and z = (1/n) sum_i y_i (eq. 31), the row of output position (u, v) is

    .. math:: Z_{(u,v),:} = (z_{1,u:u+m-1,v:v+m-1}, \dots, z_{C,u:u+m-1,v:v+m-1}, z),

    each m x m block flattened row-major (p, then q).

    Parameters
    ----------
    x : array (n, C, H, W), numpy or torch. The first spatial axis is the paper's u.
    y : array (n,), the scalar targets.
    m : kernel size.

    Returns
    -------
    float64 array of shape (H1 * W1, C * m * m + 1), H1 = H - m + 1, W1 = W - m + 1:
    rows are positions (u, v) row-major, columns are input channel outermost,
    then (p, q) row-major, then the bias column z.
    """
    x, y = _check_xy(x, y)
    _check_m(m, x.shape[2], x.shape[3])
    return _Z_from_mean(_mean_image(x, y), y.mean(), m)  # eq. 31, then eq. 35


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = _as_float64(x, "x")
    y = _as_float64(y, "y")
    if x.ndim != 4:
        raise ValueError(f"x must have shape (n, C, H, W), got {x.shape}; add a channel axis for grey images")
    if y.ndim != 1:
        raise ValueError(f"y must have shape (n,) of scalar targets, got {y.shape}; for one-hot labels pick a scalar target")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}: pass matching inputs and targets")
    return x, y


def _check_m(m, H: int, W: int) -> None:
    if not (isinstance(m, (int, np.integer)) and 1 <= m <= min(H, W)):
        raise ValueError(f"m = {m!r} must be an integer in 1..{min(H, W)} for {H}x{W} images")


def _mean_image(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("i,ichw->chw", y, x) / x.shape[0]  # (C, H, W), eq. 31


def _Z_from_mean(z_img: np.ndarray, z, m: int) -> np.ndarray:
    """Eq. 35 from the mean image(s) z_img (..., C, H, W) and z (...): shape (..., H1 W1, C m^2 + 1)."""
    windows = np.lib.stride_tricks.sliding_window_view(z_img, (m, m), axis=(-2, -1))  # (..., C, H1, W1, m, m)
    lead, C = z_img.shape[:-3], z_img.shape[-3]
    H1, W1 = windows.shape[-4], windows.shape[-3]
    rows = np.moveaxis(windows, -5, -3).reshape(*lead, H1 * W1, C * m * m)  # (..., H1 W1, C m^2)
    bias = np.broadcast_to(np.asarray(z, dtype=np.float64)[..., None, None], (*lead, H1 * W1, 1))
    return np.concatenate([rows, bias], axis=-1)


def label_weighted_mean(x, y) -> np.ndarray:
    """The label-weighted mean image z_{u, v, alpha} = (1/n) sum_i y_i x_{u, v, alpha}(i) of eq. 31.

    Parameters
    ----------
    x : array (n, C, H, W); y : array (n,).

    Returns
    -------
    float64 array (C, H, W). Its m x m patches are the rows of Z (eq. 35).
    """
    return _mean_image(*_check_xy(x, y))


def build_A(Z) -> np.ndarray:
    r"""The matrix A of the linear dynamics d theta_beta / dt = A theta_beta (eqs. 33-34):

    .. math:: A = \begin{bmatrix} 0 & Z^\top \\ Z & 0 \end{bmatrix},

    square of size D + P for Z of shape (P, D) (P = H1 W1 positions, D = C m^2 + 1),
    acting on theta_beta = (theta_{W, beta}; theta_{a, beta}) (see ``theta_per_kernel``).
    Its eigenvalues are +-lambda_k (the singular values of Z) and zeros.
    """
    Z = _as_float64(Z, "Z")
    if Z.ndim != 2:
        raise ValueError(f"Z must be a matrix (P, D), got shape {Z.shape}; build it with build_Z")
    P, D = Z.shape
    A = np.zeros((D + P, D + P))
    A[:D, D:] = Z.T
    A[D:, :D] = Z
    return A


def _fix_signs(U: np.ndarray, V: np.ndarray):
    # A singular pair (u_k, v_k) is defined up to a common sign: take the one whose kernel
    # part (every entry of v_k but the last, the bias) sums to >= 0.
    sign = np.where(V[..., :-1, :].sum(axis=-2) < 0, -1.0, 1.0)[..., None, :]  # (..., 1, k)
    return U * sign, V * sign


@dataclass(frozen=True, eq=False)
class Spectrum:
    """The SVD Z = U Lambda V^T of eqs. 11 and 36, k = min(P, D) singular triples.

    ``singular_values`` lambda_1 >= ... >= lambda_k (k,); ``U`` (P, k) with columns u_k;
    ``V`` (D, k) with columns v_k; ``rank`` r, the number of nonzero lambda_k. Each pair
    (u_k, v_k) has the sign that makes the kernel part of v_k sum to >= 0.
    """

    singular_values: np.ndarray
    U: np.ndarray
    V: np.ndarray
    rank: int

    @property
    def v1(self) -> np.ndarray:
        """The top right singular vector v_1 (D,): the direction the kernels condense onto."""
        return self.V[:, 0]

    @property
    def u1(self) -> np.ndarray:
        """The top left singular vector u_1 (P,), the direction of theta_{a, beta}."""
        return self.U[:, 0]

    @property
    def gap(self) -> float:
        """The spectral gap Delta lambda = lambda_1 - lambda_2 (Assumption 4, eq. 12)."""
        return float(self.singular_values[0] - self.singular_values[1])

    @property
    def ratio(self) -> float:
        """lambda_1 / lambda_2: the growth of v_1 over v_2 per unit time is exp(Delta lambda t)."""
        return float(self.singular_values[0] / self.singular_values[1])

    @property
    def eigenvalues(self) -> np.ndarray:
        """The k largest eigenvalues lambda_k^2 of Z^T Z (Figs. 7 and 14)."""
        return self.singular_values**2


def spectrum(Z) -> Spectrum:
    """The SVD of Z (eq. 36), its rank r and spectral gap (Assumption 4, eq. 12).

    Z : array (P, D), e.g. from ``build_Z``. The rank counts singular values above
    lambda_1 max(P, D) times the float64 machine epsilon (as ``numpy.linalg.matrix_rank``).

    >>> s = spectrum(np.diag([3.0, 1.0, 0.0]))
    >>> s.rank, s.gap, s.v1.tolist()
    (2, 2.0, [1.0, 0.0, 0.0])
    """
    Z = _as_float64(Z, "Z")
    if Z.ndim != 2 or min(Z.shape) < 2:
        raise ValueError(f"Z must be a matrix (P, D) with P, D >= 2, got shape {Z.shape}; build it with build_Z")
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    U, V = _fix_signs(U, Vt.T)
    rank = int((s > s[0] * max(Z.shape) * np.finfo(np.float64).eps).sum())
    return Spectrum(s, U, V, rank)


def v1_parts(v1, C: int, m: int) -> tuple[np.ndarray, float]:
    """Split v_1 (C m^2 + 1,) into its C kernel parts and its bias entry.

    Returns ``(parts, bias)``: ``parts`` of shape (C, m^2), row alpha is input channel
    alpha's m x m part flattened row-major (the column order of Z, eq. 70); ``bias``
    the last entry. ``condense_lib.cosine_with_ones(parts)`` gives each part's
    cosine with the all-ones vector (Sec. 5: 0.99974 for MNIST).
    """
    v1 = _as_float64(v1, "v1")
    if v1.ndim != 1 or v1.shape[0] != C * m * m + 1:
        raise ValueError(f"v1 must have C m^2 + 1 = {C * m * m + 1} entries for C = {C}, m = {m}; got shape {v1.shape}")
    return v1[:-1].reshape(C, m * m), float(v1[-1])


def constant_share(Z, C: int, m: int) -> np.ndarray:
    """How constant the m x m patches of the mean image are: for each channel alpha, the
    share of ||Z_alpha||_F^2 (the columns of channel alpha) that lies along the all-ones vector,

        ||Z_alpha 1||^2 / (m^2 ||Z_alpha||_F^2),

    the energy-weighted mean of the squared cosines of the patches with 1. Equals 1 when
    every patch is constant. Shape (C,).
    """
    Z = _as_float64(Z, "Z")
    if Z.ndim != 2 or Z.shape[1] != C * m * m + 1:
        raise ValueError(f"Z must have C m^2 + 1 = {C * m * m + 1} columns for C = {C}, m = {m}; got shape {Z.shape}")
    K = Z[:, :-1].reshape(Z.shape[0], C, m * m)  # (P, C, m^2)
    return np.square(K.sum(axis=2)).sum(axis=0) / (m * m * np.square(K).sum(axis=(0, 2)))


def derivatives_at_zero(sigma, order: int = 3) -> np.ndarray:
    """sigma^(s)(0) for s = 0..order, by autograd (the Taylor coefficients times s!).

    The first nonzero one gives the multiplicity (Definition 1); sigma''(0) sets the
    size of the first correction to the linear dynamics (eq. 30): O(eps) when
    sigma''(0) != 0, O(eps^2) when sigma''(0) = 0 (tanh).

    >>> np.allclose(derivatives_at_zero("tanh"), [0, 1, 0, -2])  # tanh = x - x^3 / 3 + ...
    True
    """
    act = get_activation(sigma)
    if not (isinstance(order, (int, np.integer)) and order >= 0):
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    value, out = act(t), []
    for _ in range(order + 1):
        out.append(value.item())
        if not value.requires_grad:  # a polynomial's higher derivatives are zero
            value = torch.zeros((), dtype=torch.float64)
            continue
        (value,) = torch.autograd.grad(value, t, create_graph=True)
    return np.asarray(out)


# ----------------------------------------------------------------------------- linearization check


def _check_two_layer(model) -> None:
    if not isinstance(model, CNN) or len(model.convs) != 1 or model.head != "linear" or model.d != 1:
        raise ValueError(
            "the linear dynamics (eqs. 32-34) are for the two-layer CNN: "
            "use CNN(in_shape, (M,), m, activation, head='linear', d=1)"
        )


def theta_bar(params: dict, eps: float = 1.0):
    """The rescaled parameters theta_bar = theta / eps (eqs. 27-28) of every kernel of a
    two-layer CNN, from its parameters by name (``dict(model.named_parameters())``, a
    ``TrainResult``'s ``snapshots`` or ``result.snapshot(e)``; arrays or tensors).

    theta_{W, beta} = (W[beta].ravel(), b[beta]): the weights W_{., ., alpha, beta}
    (alpha, then p, then q), then the bias; theta_{a, beta} = readout.weight.reshape(M, H1 W1)[beta]
    (u, then v), since the readout takes sigma(x^[1]) (n, M, H1, W1) flattened. These are
    the column and row orders of ``build_Z`` (eqs. 33, 35, 70).

    Returns
    -------
    theta_W (S, M, D) and theta_a (S, M, P), float64, for S snapshots (S = 1 for one).
    """
    keys = ("convs.0.weight", "convs.0.bias", "readout.weight")
    if any(k not in params for k in keys) or "convs.1.weight" in params or "fc.weight" in params:
        raise ValueError("theta_bar needs the parameters of a two-layer CNN (one conv layer, head='linear')")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be positive (theta = eps theta_bar, eq. 27), got {eps!r}")
    W, b, a = (np.asarray(params[k].detach().cpu() if torch.is_tensor(params[k]) else params[k], dtype=np.float64)
               for k in keys)
    if W.ndim == 4:  # one snapshot
        W, b, a = W[None], b[None], a[None]
    S, M = W.shape[:2]
    if a.shape[1] != 1 or a.shape[2] % M:
        raise ValueError(f"readout.weight {a.shape[1:]} is not a d = 1 readout over M = {M} channels")
    theta_W = np.concatenate([W.reshape(S, M, -1), b[..., None]], axis=2) / eps  # (S, M, D)
    theta_a = a.reshape(S, M, -1) / eps  # (S, M, P)
    return theta_W, theta_a


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
    linear = theta @ build_A(build_Z(x, y, model.m)).T  # rows A theta_bar_beta
    return field, linear


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
    for each eps in ``eps``: the network ``CNN(..., (channels,), m, activation, head="linear",
    init="theory", eps=eps, seed=seed)`` (the same theta_bar up to float32 rounding for every eps)."""
    x, y = _check_xy(x, y)
    eps = np.asarray(eps, dtype=np.float64).ravel()
    error, ratio = [], []
    for e in eps:
        model = CNN(x.shape[1:], (channels,), m, activation, head="linear", d=1, init="theory", eps=float(e), seed=seed)
        field, linear = vector_fields(model, x, y, float(e))
        error.append(np.linalg.norm(field - linear) / np.linalg.norm(linear))
        ratio.append(np.linalg.norm(field) / np.linalg.norm(linear))
    return LinearizationCheck(get_activation(activation).name, eps, np.asarray(error), np.asarray(ratio))


# ----------------------------------------------------------------------------- v1 over many samples

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
