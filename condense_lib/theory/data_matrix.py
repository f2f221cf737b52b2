"""The data matrix Z, the matrix A of the linear dynamics, and the spectrum of Z
(Sec. 5, App. C.2, D: eqs. 11-12, 31-37, 66, 70).

Near zero weights, with e_i ~ -y_i, gradient flow on each kernel beta is the linear
system d theta_beta / dt = A theta_beta (eqs. 32-34), whose matrix is built from the
data alone through Z (eqs. 31, 35; several channels: 66, 70). Here: Z and A; the SVD
of Z with its rank and spectral gap (eqs. 11-12, 36-37) and v_1 split by channel; and
the rescaled parameters theta_bar of a two-layer CNN in the layout of Z. Multiplicity 2
(x tanh x) has its own module, ``multiplicity``.

Maths only: imports numpy and torch, nothing of the model or the trainer.
Used in the theory chapters ("Linearization", "Z, its SVD and the spectral gap", ...);
``sign_fixed_point`` in "Adam against gradient descent".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .checks import as_array, check_m, check_padding, check_xy
from .condensation import cosine_with_ones

__all__ = [
    "build_Z", "label_weighted_mean", "build_A", "Spectrum", "spectrum", "v1_parts", "constant_share", "theta_bar",
    "sign_fixed_point", "fix_signs", "Z_from_mean", "patch_rows", "mean_image", "V1Trials", "v1_cosine_trials",
]


def build_Z(x, y, m: int, *, padding: int = 0) -> np.ndarray:
    r"""The data matrix Z of eqs. 35 (one channel) and 70 (C channels).

    With the label-weighted mean image z_{alpha, r, c} = (1/n) sum_i y_i x_{r, c, alpha}(i)
    and z = (1/n) sum_i y_i (eq. 31), the row of output position (u, v) is

    .. math:: Z_{(u,v),:} = (z_{1,u:u+m-1,v:v+m-1}, \dots, z_{C,u:u+m-1,v:v+m-1}, z),

    each m x m block flattened row-major (p, then q).

    With ``padding`` p > 0 (a CNN whose convolution zero-pads its input, which the paper's
    valid convolutions do not), the patches are those of the mean image zero-padded by p
    pixels on each side -- the mean of the padded images, padding being linear -- and the
    bias column is z at every position, the padded ones included.

    Parameters
    ----------
    x : array (n, C, H, W), numpy or torch. The first spatial axis is the paper's u.
    y : array (n,), the scalar targets.
    m : kernel size.
    padding : zero pixels on each side, 0..m-1 (default 0: valid, as in the paper).

    Returns
    -------
    float64 array of shape (H1 * W1, C * m * m + 1), H1 = H + 2 padding - m + 1, W1 likewise:
    rows are positions (u, v) row-major, columns are input channel outermost,
    then (p, q) row-major, then the bias column z.
    """
    x, y = check_xy(x, y)
    check_m(m, x.shape[2], x.shape[3])
    check_padding(padding, m)
    return Z_from_mean(mean_image(x, y), y.mean(), m, padding=int(padding))  # eq. 31, then eq. 35


def mean_image(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(1/n) sum_i y_i x_i of checked arrays (eq. 31), (C, H, W)."""
    return np.einsum("i,ichw->chw", y, x) / x.shape[0]  # (C, H, W), eq. 31


def patch_rows(img: np.ndarray, m: int, padding: int = 0) -> np.ndarray:
    """The m x m windows of image(s) ``img`` (..., C, H, W), zero-padded by ``padding`` pixels on
    each side first, as rows (..., H1 W1, C m^2): positions row-major, channel outermost (eq. 35)."""
    if padding:
        img = np.pad(img, [(0, 0)] * (img.ndim - 2) + [(padding, padding)] * 2)
    windows = np.lib.stride_tricks.sliding_window_view(img, (m, m), axis=(-2, -1))  # (..., C, H1, W1, m, m)
    lead, C = img.shape[:-3], img.shape[-3]
    H1, W1 = windows.shape[-4], windows.shape[-3]
    return np.moveaxis(windows, -5, -3).reshape(*lead, H1 * W1, C * m * m)


def Z_from_mean(z_img: np.ndarray, z, m: int, *, padding: int = 0) -> np.ndarray:
    """Eq. 35 from the mean image(s) z_img (..., C, H, W) and z (...): shape (..., H1 W1, C m^2 + 1),
    the image zero-padded by ``padding`` pixels on each side first."""
    rows = patch_rows(z_img, m, padding)  # (..., H1 W1, C m^2)
    bias = np.broadcast_to(np.asarray(z, dtype=np.float64)[..., None, None], (*rows.shape[:-1], 1))
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
    return mean_image(*check_xy(x, y))


def build_A(Z) -> np.ndarray:
    r"""The matrix A of the linear dynamics d theta_beta / dt = A theta_beta (eqs. 33-34):

    .. math:: A = \begin{bmatrix} 0 & Z^\top \\ Z & 0 \end{bmatrix},

    square of size D + P for Z of shape (P, D) (P = H1 W1 positions, D = C m^2 + 1),
    acting on theta_beta = (theta_{W, beta}; theta_{a, beta}) (see ``theta_per_kernel``).
    Its eigenvalues are +-lambda_k (the singular values of Z) and zeros.
    """
    Z = as_array(Z, "Z")
    if Z.ndim != 2:
        raise ValueError(f"Z must be a matrix (P, D), got shape {Z.shape}; build it with build_Z")
    P, D = Z.shape
    A = np.zeros((D + P, D + P))
    A[:D, D:] = Z.T
    A[D:, :D] = Z
    return A


def fix_signs(U: np.ndarray, V: np.ndarray):
    """The singular vectors with the book's sign convention (below), columns of (..., k) arrays."""
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
    Z = as_array(Z, "Z")
    if Z.ndim != 2 or min(Z.shape) < 2:
        raise ValueError(f"Z must be a matrix (P, D) with P, D >= 2, got shape {Z.shape}; build it with build_Z")
    U, s, Vt = np.linalg.svd(Z, full_matrices=False)
    U, V = fix_signs(U, Vt.T)
    rank = int((s > s[0] * max(Z.shape) * np.finfo(np.float64).eps).sum())
    return Spectrum(s, U, V, rank)


def v1_parts(v1, C: int, m: int) -> tuple[np.ndarray, float]:
    """Split v_1 (C m^2 + 1,) into its C kernel parts and its bias entry.

    Returns ``(parts, bias)``: ``parts`` of shape (C, m^2), row alpha is input channel
    alpha's m x m part flattened row-major (the column order of Z, eq. 70); ``bias``
    the last entry. ``condense_lib.cosine_with_ones(parts)`` gives each part's
    cosine with the all-ones vector (Sec. 5: 0.99974 for MNIST).
    """
    v1 = as_array(v1, "v1")
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
    Z = as_array(Z, "Z")
    if Z.ndim != 2 or Z.shape[1] != C * m * m + 1:
        raise ValueError(f"Z must have C m^2 + 1 = {C * m * m + 1} columns for C = {C}, m = {m}; got shape {Z.shape}")
    K = Z[:, :-1].reshape(Z.shape[0], C, m * m)  # (P, C, m^2)
    return np.square(K.sum(axis=2)).sum(axis=0) / (m * m * np.square(K).sum(axis=(0, 2)))


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


def sign_fixed_point(Z, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    r"""The sign vectors that the linear dynamics (eqs. 32-34) grow fastest under sign descent:
    a pair (s_W, s_a) in {-1, 1}^D x {-1, 1}^P with

    .. math:: \mathbf{s}_a = \mathrm{sign}(\mathbf{Z}\mathbf{s}_W), \qquad
              \mathbf{s}_W = \mathrm{sign}(\mathbf{Z}^\top \mathbf{s}_a),

    found by alternating these two maximizations of the bilinear form s_a^T Z s_W from
    s_W = sign(v_1) (sign(0) taken as +1). Each half-step cannot lower s_a^T Z s_W = ||Z s_W||_1,
    so the iteration stops, at a local maximum of ||Z s||_1 over sign vectors s (the
    infinity-to-1 norm of Z where it is the global one).

    Why: near zero weights the gradient of kernel beta is -(Z^T theta_{a, beta}, Z theta_{W, beta})
    (eq. 33). Gradient descent multiplies theta_beta by exp(A t) and ends along (v_1, u_1), the
    maximizer of ||Z v||_2 / ||v||_2. Adam's first steps move every parameter by about lr times
    the sign of its gradient, so once the steps outweigh the initialization
    theta_{W, beta} ~ +-s_W and theta_{a, beta} ~ +-s_a: the same alternation, in signs.

    Z : (P, D), e.g. from ``build_Z``. Returns ``(s_W, s_a)``, float64 arrays of +-1, with the
    sign that makes the kernel part of s_W (all but its last entry, the bias) sum to >= 0.
    Raises ``ValueError`` if the signs still change after ``max_iter`` rounds.

    >>> s_W, s_a = sign_fixed_point(np.array([[3.0, 1.0, -1.0], [1.0, 2.0, 0.5]]))
    >>> s_W.tolist(), s_a.tolist()
    ([1.0, 1.0, -1.0], [1.0, 1.0])
    """
    Z = as_array(Z, "Z", ndim=2)
    if min(Z.shape) < 2:
        raise ValueError(f"Z must be a matrix (P, D) with P, D >= 2, got shape {Z.shape}; build it with build_Z")
    sign = lambda v: np.where(v >= 0, 1.0, -1.0)
    s_W = sign(spectrum(Z).v1)
    for _ in range(max_iter):
        s_a = sign(Z @ s_W)
        new = sign(Z.T @ s_a)
        if s_a @ Z @ new <= s_a @ Z @ s_W:  # no gain: s_W is the best response to s_a
            break
        s_W = new
    else:
        raise ValueError(f"the sign iteration did not settle within max_iter = {max_iter} rounds: raise max_iter")
    s_a = sign(Z @ s_W)
    flip = -1.0 if s_W[:-1].sum() < 0 else 1.0
    return flip * s_W, flip * s_a


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


def v1_cosine_trials(x, y, n: int = 500, *, trials: int = 50, m: int = 3, target: str = "label", seed: int = 0) -> V1Trials:
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
    x, y = check_xy(x, y)
    N, C, H, W = x.shape
    check_m(m, H, W)
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
    Z = Z_from_mean(z_img, w.mean(axis=1), m)  # (T, P, D), eq. 35
    evals, V = np.linalg.eigh(np.swapaxes(Z, 1, 2) @ Z)  # (T, D), (T, D, D), ascending
    evals, V = evals[:, ::-1], V[:, :, ::-1]
    _, V = fix_signs(V, V)
    parts = V[:, :-1, 0].reshape(trials * C, m * m)  # kernel parts of v_1, channel by channel
    return V1Trials(index, cosine_with_ones(parts).reshape(trials, C), np.sqrt(np.clip(evals, 0.0, None)))
