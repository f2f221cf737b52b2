"""The data matrix Z, the matrix A of the linear dynamics, and the spectrum of Z
(Sec. 5, App. C.2, D: eqs. 11-12, 31-37, 66, 70).

Near zero weights, with e_i ~ -y_i, gradient flow on each kernel beta is the linear
system d theta_beta / dt = A theta_beta (eqs. 32-34), whose matrix is built from the
data alone through Z (eqs. 31, 35; several channels: 66, 70). Here: Z and A; the SVD
of Z with its rank and spectral gap (eqs. 11-12, 36-37) and v_1 split by channel; and
the rescaled parameters theta_bar of a two-layer CNN in the layout of Z. For an activation of
multiplicity 2 (Definition 1: x tanh x), the second-order term of the Taylor expansion
(eq. 30 carried one order further): the per-position label-weighted second moments Q_p and
each kernel's matrix B_k of its leading-order flow d theta_k / dt = B_k theta_k.

Maths only: imports numpy and torch, nothing of the model or the trainer.
Used in the theory chapters ("Linearization", "Z, its SVD and the spectral gap", ...);
``sign_fixed_point`` in "Adam against gradient descent".
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._checks import as_array

__all__ = [
    "build_Z", "label_weighted_mean", "build_A", "Spectrum", "spectrum", "v1_parts", "constant_share", "theta_bar",
    "sign_fixed_point",
    "build_Q", "build_B", "quadratic_field", "top_eigenpairs",
]


def _check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = as_array(x, "x")
    y = as_array(y, "y")
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


def _check_padding(padding, m) -> None:
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or not 0 <= padding <= m - 1:
        raise ValueError(f"padding = {padding!r} must be an integer in 0..m-1 = 0..{m - 1} (zero pixels per side)")


def build_Z(x, y, m: int, padding: int = 0) -> np.ndarray:
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
    x, y = _check_xy(x, y)
    _check_m(m, x.shape[2], x.shape[3])
    _check_padding(padding, m)
    return _Z_from_mean(_mean_image(x, y), y.mean(), m, int(padding))  # eq. 31, then eq. 35


def _mean_image(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("i,ichw->chw", y, x) / x.shape[0]  # (C, H, W), eq. 31


def _rows(img: np.ndarray, m: int, padding: int = 0) -> np.ndarray:
    """The m x m windows of image(s) ``img`` (..., C, H, W), zero-padded by ``padding`` pixels on
    each side first, as rows (..., H1 W1, C m^2): positions row-major, channel outermost (eq. 35)."""
    if padding:
        img = np.pad(img, [(0, 0)] * (img.ndim - 2) + [(padding, padding)] * 2)
    windows = np.lib.stride_tricks.sliding_window_view(img, (m, m), axis=(-2, -1))  # (..., C, H1, W1, m, m)
    lead, C = img.shape[:-3], img.shape[-3]
    H1, W1 = windows.shape[-4], windows.shape[-3]
    return np.moveaxis(windows, -5, -3).reshape(*lead, H1 * W1, C * m * m)


def _Z_from_mean(z_img: np.ndarray, z, m: int, padding: int = 0) -> np.ndarray:
    """Eq. 35 from the mean image(s) z_img (..., C, H, W) and z (...): shape (..., H1 W1, C m^2 + 1),
    the image zero-padded by ``padding`` pixels on each side first."""
    rows = _rows(z_img, m, padding)  # (..., H1 W1, C m^2)
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
    return _mean_image(*_check_xy(x, y))


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
    Z = as_array(Z, "Z")
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


# Multiplicity 2 (Definition 1): the second-order term of the Taylor expansion.


def _patches(x: np.ndarray, m: int) -> np.ndarray:
    """The vectors xtilde_p(i) of every image: its m x m window at position p, then a 1 (n, P, D)."""
    rows = _rows(x, m)  # (n, P, C m^2)
    return np.concatenate([rows, np.ones((*rows.shape[:2], 1))], axis=2)


def build_Q(x, y, m: int) -> np.ndarray:
    r"""The label-weighted second moments of the patches, one matrix per output position p:

    .. math:: Q_p = \frac{1}{n} \sum_{i=1}^n y_i\, \tilde{x}_p(i)\, \tilde{x}_p(i)^\top ,

    with xtilde_p(i) the m x m window of x_i at p (all channels), then a 1 for the bias: the
    rows of eq. 35 before the label-weighted average, whose first moment is the row Z_p
    (``build_Z``: Z_p = (1/n) sum_i y_i xtilde_p(i)). Q_p is to an activation of multiplicity 2
    what Z is to multiplicity 1: with sigma(z) = z^2 + O(z^4) the Taylor expansion (eq. 30) gives
    d a_{k,p} / dt = theta_k^T Q_p theta_k and d theta_k / dt = B_k theta_k (``build_B``).

    Parameters
    ----------
    x : array (n, C, H, W); y : array (n,) scalar targets; m : kernel size.

    Returns
    -------
    float64 array (P, D, D), P = H1 W1 positions row-major, D = C m^2 + 1 in the column order of
    ``build_Z``. Each Q_p is symmetric, and positive semi-definite when every y_i >= 0.
    """
    x, y = _check_xy(x, y)
    _check_m(m, x.shape[2], x.shape[3])
    X = _patches(x, m)  # (n, P, D)
    return np.einsum("i,ipd,ipe->pde", y, X, X) / x.shape[0]


def _check_Q(Q) -> np.ndarray:
    Q = as_array(Q, "Q")
    if Q.ndim != 3 or Q.shape[1] != Q.shape[2]:
        raise ValueError(f"Q must have shape (P, D, D), got {Q.shape}; build it with build_Q")
    return Q


def _check_theta(theta, P_or_D: int, name: str, what: str) -> np.ndarray:
    theta = as_array(theta, name)
    if theta.ndim != 2 or theta.shape[1] != P_or_D:
        raise ValueError(f"{name} must have shape (M, {P_or_D}), one row of {what} per kernel; got {theta.shape}")
    return theta


def build_B(Q, theta_a) -> np.ndarray:
    r"""Each kernel's matrix B_k of the leading-order flow for an activation of multiplicity 2:

    .. math:: B_k = 2 \sum_p a_{k,p}\, Q_p = \frac{2}{n} \sum_{i=1}^n y_i \sum_p a_{k,p}\,
              \tilde{x}_p(i)\, \tilde{x}_p(i)^\top .

    Derivation (the expansion of eq. 30 one order further). Gradient flow on R_S (eq. 1) moves
    kernel k by d theta_k / dt = -(1/n) sum_i e_i sum_p a_{k,p} sigma'(theta_k . xtilde_p(i)) xtilde_p(i)
    (eq. 23). With weights of size eps, e_i = -y_i + O(eps^3), and sigma'(z) = sigma''(0) z + O(z^3)
    = 2 z + O(z^3) for x tanh x; so d theta_k / dt = B_k theta_k up to a relative O(eps^2): a linear
    flow, but with a matrix of its own for each kernel, set by its readout a_k (Q_p from
    ``build_Q``). Multiplying theta_a by eps multiplies B_k by eps: the time scale is 1 / eps.

    Parameters
    ----------
    Q : (P, D, D) from ``build_Q``; theta_a : (M, P), the readout of each kernel position by
        position (``theta_bar``'s theta_a, one snapshot).

    Returns
    -------
    float64 array (M, D, D), symmetric.
    """
    Q = _check_Q(Q)
    theta_a = _check_theta(theta_a, Q.shape[0], "theta_a", "P readout weights")
    return 2.0 * np.einsum("kp,pde->kde", theta_a, Q)


def quadratic_field(Q, theta_W, theta_a) -> tuple[np.ndarray, np.ndarray]:
    r"""The leading (second-order) term of the gradient-flow vector field for an activation of
    multiplicity 2 with sigma''(0) = 2 (x tanh x), kernel by kernel:

    .. math:: \frac{d\theta_k}{dt} = B_k \theta_k, \qquad
              \frac{d a_{k,p}}{dt} = \theta_k^\top Q_p\, \theta_k ,

    from d a_{k,p} / dt = -(1/n) sum_i e_i sigma(theta_k . xtilde_p(i)) (eq. 23) with
    sigma(z) = z^2 + O(z^4) and e_i = -y_i. Homogeneous of degree 2: at theta = eps theta_bar
    the rescaled field d theta_bar / dt (eqs. 27-28) is eps times this field of theta_bar, up
    to a relative O(eps^2).

    Parameters
    ----------
    Q : (P, D, D); theta_W : (M, D) kernels with their bias; theta_a : (M, P) readouts.

    Returns
    -------
    ``(dW, da)``: (M, D) and (M, P).
    """
    Q = _check_Q(Q)
    theta_W = _check_theta(theta_W, Q.shape[1], "theta_W", "D = C m^2 + 1 kernel entries")
    theta_a = _check_theta(theta_a, Q.shape[0], "theta_a", "P readout weights")
    if theta_W.shape[0] != theta_a.shape[0]:
        raise ValueError(f"theta_W has {theta_W.shape[0]} kernels but theta_a {theta_a.shape[0]}: pass one row each")
    dW = np.einsum("kde,ke->kd", build_B(Q, theta_a), theta_W)
    da = np.einsum("kd,pde,ke->kp", theta_W, Q, theta_W)
    return dW, da


def top_eigenpairs(B) -> tuple[np.ndarray, np.ndarray]:
    """The largest eigenvalue of each symmetric B_k and its unit eigenvector: the growth rate
    and the direction of kernel k under d theta_k / dt = B_k theta_k (``build_B``). The
    eigenvector's sign is arbitrary (x tanh x is even: theta and -theta give one network),
    here the one whose kernel part sums to >= 0.

    B : (M, D, D). Returns ``(rates, directions)``: (M,) and (M, D).

    >>> rates, u = top_eigenpairs(np.diag([1.0, 3.0, 2.0])[None])
    >>> rates.tolist(), u.tolist()
    ([3.0], [[0.0, 1.0, 0.0]])
    """
    B = as_array(B, "B")
    if B.ndim != 3 or B.shape[1] != B.shape[2]:
        raise ValueError(f"B must have shape (M, D, D), got {B.shape}; build it with build_B")
    evals, V = np.linalg.eigh(B)  # ascending
    u = V[:, :, -1]
    sign = np.where(u[:, :-1].sum(axis=1) < 0, -1.0, 1.0)
    return evals[:, -1], (u * sign[:, None]) + 0.0
