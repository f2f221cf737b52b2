"""The two-layer CNN of the theory (Sec. 5) without autograd: its output and the
gradient of R_S in closed form (eq. 23, App. B.3, in its two-layer form of App. C.1),
for S networks of one architecture at once.

With one conv layer and a linear readout, every sum of eq. 23 is a matrix product
over the patches of the input. Write z_{u,v}(i) for the m x m window of x_i at
output position (u, v), all input channels, followed by a 1 (the rows of eq. 35
before the label-weighted average: Z = (1/n) sum_i y_i z(i)), and theta_beta =
(W_beta, b_beta) for kernel beta. Then

.. math::

    x^{[1]}_{u,v,\\beta}(i) = \\langle z_{u,v}(i), \\theta_\\beta \\rangle, \\qquad
    f(x_i) = \\sum_{u,v,\\beta} a_{u,v,\\beta}\\, \\sigma(x^{[1]}_{u,v,\\beta}(i)),

    \\nabla_{a} R_S = \\frac{1}{n} \\sum_i e_i\\, \\sigma(x^{[1]}(i)), \\qquad
    \\nabla_{\\theta_\\beta} R_S = \\frac{1}{n} \\sum_i e_i \\sum_{u,v}
        a_{u,v,\\beta}\\, \\sigma'(x^{[1]}_{u,v,\\beta}(i))\\, z_{u,v}(i),

with e_i = n dR_S / df(x_i) (e_i = f(x_i) - y_i for the MSE of eq. 1). Each activation
is written once, into a buffer reused every epoch, read for f and for the gradient of a,
overwritten in place by a sigma'(x^[1]) and read once more for the gradient of theta.
The samples go through in chunks of at most ``CHUNK_ELEMENTS`` activations, the
gradient summed chunk by chunk (the only Python loop, a few iterations).

``condense_lib.train`` uses this for the networks it covers (``covers``); the
tests compare it with autograd. Used by every chapter that trains a two-layer CNN.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..theory.losses import LOSSES, output_gradient

__all__ = ["patches", "covers", "TwoLayerStack"]

# sigma(h), in place.
_FORWARD = {"tanh": torch.tanh_, "sigmoid": torch.sigmoid_, "relu": torch.relu_, "linear": lambda h: h}
# sigma'(h) * g from s = sigma(h), the fused kernels autograd itself calls; written into `out`.
_BACKWARD = {
    "tanh": lambda g, s, out: torch.ops.aten.tanh_backward(g, s, grad_input=out),  # g (1 - s^2)
    "sigmoid": lambda g, s, out: torch.ops.aten.sigmoid_backward(g, s, grad_input=out),  # g s (1 - s)
    "relu": lambda g, s, out: torch.ops.aten.threshold_backward(g, s, 0, grad_input=out),  # g [s > 0]
    "linear": lambda g, s, out: out.copy_(g.expand_as(out)),  # g
}
# Most elements of one chunk's activations (S * chunk * H1 W1 * M): 2^23, 32 MiB in float32.
# Measured on a 2-core Xeon (benchmarks/bench.py): 8 models at once run 1.6x faster in chunks
# of this size than in one piece; chunks sized for the L2 cache (2^18-2^20 elements) are no
# faster on a quiet machine and many times slower on a loaded one, where each of their many
# small parallel operations waits for both threads to get a core.
CHUNK_ELEMENTS = 2**23


def patches(x: torch.Tensor, m: int, padding: int = 0) -> torch.Tensor:
    """The vectors z_{u,v}(i) of every image: its m x m windows, then a 1 (eq. 31, per image).

    Parameters
    ----------
    x : tensor (..., n, C, H, W).
    m : kernel size.
    padding : zero pixels added on each side of the image before the windows are taken
        (0..m-1; the padding of ``CNN``).

    Returns
    -------
    tensor (..., n, H1 W1, C m^2 + 1), H1 = H + 2 padding - m + 1, W1 likewise: rows are the
    positions (u, v) row-major, columns the input channel outermost, then (p, q)
    row-major, then the constant 1 that multiplies the bias -- the column order of
    ``build_Z``, so that ``build_Z(x, y, m, padding) = (1/n) sum_i y_i patches(x, m, padding)[i]``
    (eq. 35). A padded window holds zeros where it leaves the image; its last entry is still 1.
    """
    x = torch.as_tensor(x)
    if x.dim() < 4:
        raise ValueError(f"x must have shape (..., n, C, H, W), got {tuple(x.shape)}")
    if not (isinstance(m, int) and isinstance(padding, int) and 0 <= padding <= m - 1):
        raise ValueError(f"padding = {padding!r} must be an integer in 0..m-1 for m = {m!r}")
    if padding:
        x = torch.nn.functional.pad(x, (padding,) * 4)
    C, H, W = x.shape[-3:]
    if not (isinstance(m, int) and 1 <= m <= min(H, W)):
        raise ValueError(f"m = {m!r} must be an integer in 1..{min(H, W)} for {H}x{W} images")
    windows = x.unfold(-2, m, 1).unfold(-2, m, 1)  # (..., n, C, H1, W1, m, m)
    H1, W1 = windows.shape[-4:-2]
    rows = windows.movedim(-5, -3).reshape(*x.shape[:-3], H1 * W1, C * m * m)  # (..., n, H1 W1, C m^2)
    ones = torch.ones(*rows.shape[:-1], 1, dtype=x.dtype, device=x.device)
    return torch.cat([rows, ones], dim=-1)


def covers(models: Sequence[torch.nn.Module], loss: str) -> bool:
    """Whether ``TwoLayerStack`` trains ``models``: ``condense_lib.CNN`` s of one architecture
    with one conv layer, the linear readout and an activation whose derivative is coded above."""
    from .models import CNN

    first = models[0]
    if not all(isinstance(mod, CNN) for mod in models) or loss not in LOSSES:
        return False
    if len(first.channels) != 1 or first.head != "linear" or first.sigma.name not in _BACKWARD:
        return False
    same = lambda mod: (mod.in_shape, mod.channels, mod.m, mod.padding, mod.d, mod.sigma.name, mod.head) == (
        first.in_shape, first.channels, first.m, first.padding, first.d, first.sigma.name, first.head)
    dtype, device = first.readout.weight.dtype, first.readout.weight.device
    return all(same(mod) and all(p.dtype == dtype and p.device == device for p in mod.parameters()) for mod in models)


class TwoLayerStack:
    """S two-layer CNNs (``covers``) and their data, in the layout of the closed form.

    Parameters
    ----------
    models : S ``CNN`` s of one architecture (M kernels of size m, one padding, d outputs).
    x : tensor (n, C, H, W) shared by every model, or (S, n, C, H, W), one sample each.
    y : targets (n, ...) or (S, n, ...) as ``condense_lib.train`` takes them.
    loss : "mse", "mse_softmax" or "ce".
    chunk : samples per chunk (default: as many as ``CHUNK_ELEMENTS`` allows).

    ``theta`` (S, M, C m^2 + 1) holds (W_beta, b_beta) per kernel and ``a`` (S, d, H1 W1 M)
    the readout, positions outermost; ``step(grad=True)`` returns f (S, n, d) and leaves
    the gradient of R_S in ``theta.grad`` and ``a.grad``; f has shape (S, n) when d = 1.
    """

    def __init__(self, models, x: torch.Tensor, y: torch.Tensor, loss: str, chunk: int | None = None):
        first = self.first = models[0]
        (M,), C, self.d = first.channels, first.in_shape[0], first.d
        self.M, self.m, self.S, self.loss = M, first.m, len(models), loss
        self.HW = first.out_shape[1] * first.out_shape[2]
        self.n = x.shape[-4]
        self.P = patches(x, self.m, first.padding).reshape(-1, self.n * self.HW, C * self.m**2 + 1).contiguous()  # (S or 1, n HW, K)
        target = y.to(self.P.dtype) if loss != "ce" else y
        self.y = target.reshape(-1, self.n, self.d) if loss != "ce" else target.reshape(-1, self.n)
        with torch.no_grad():
            self.theta = torch.stack([
                torch.cat([mod.convs[0].weight.reshape(M, -1), mod.convs[0].bias[:, None]], dim=1) for mod in models
            ]).contiguous()  # (S, M, K)
            self.a = torch.stack([
                mod.readout.weight.reshape(self.d, M, self.HW).transpose(1, 2).reshape(self.d, self.HW * M)
                for mod in models
            ]).contiguous()  # (S, d, HW M): a_{u,v,beta} at (u, v) * M + beta
        per_sample = self.S * self.HW * M
        if chunk is None:
            chunk = max(1, min(self.n, CHUNK_ELEMENTS // per_sample))
        self.chunk = int(chunk)
        self._T = torch.empty(self.S, self.chunk * self.HW, M, dtype=self.P.dtype, device=self.P.device)
        self._Pe = torch.empty(self.S, self.chunk * self.HW, self.P.shape[-1], dtype=self.P.dtype, device=self.P.device)
        self._forward, self._backward = _FORWARD[first.sigma.name], _BACKWARD[first.sigma.name]

    def params(self) -> list[torch.Tensor]:
        """The tensors the optimizer updates: theta and a (elementwise updates do not see the layout)."""
        return [self.theta, self.a]

    @torch.no_grad()
    def step(self, grad: bool = True) -> torch.Tensor:
        """f(x_i) of every model (S, n, d); with ``grad``, the gradient of R_S (eq. 23) into ``.grad``."""
        S, M, HW, d, n = self.S, self.M, self.HW, self.d, self.n
        out = torch.empty(S, n, d, dtype=self.P.dtype, device=self.P.device)
        if grad:
            g_theta_t = torch.zeros_like(self.theta.transpose(1, 2), memory_format=torch.contiguous_format)  # (S, K, M)
            g_a = torch.zeros_like(self.a)
        theta_t, a_t = self.theta.transpose(1, 2), self.a.transpose(1, 2)  # (S, K, M), (S, HW M, d)
        for i in range(0, n, self.chunk):
            j = min(n, i + self.chunk)
            b = j - i
            P = self.P[:, i * HW:j * HW].expand(S, -1, -1)  # (S, b HW, K)
            T = torch.bmm(P, theta_t, out=self._T[:, :b * HW])  # x^[1], (S, b HW, M)
            self._forward(T)  # sigma(x^[1])
            Tf = T.view(S, b, HW * M)
            f = torch.bmm(Tf, a_t, out=out[:, i:j])  # f(x_i) = <a, sigma(x^[1](i))>, (S, b, d)
            if not grad:
                continue
            e = output_gradient(f, self.y[:, i:j], self.loss, n=n)  # e_i / n, (S, b, d)
            g_a.baddbmm_(e.transpose(1, 2), Tf)  # sum_i e_i sigma(x^[1](i)) / n
            if d == 1:  # a sigma'(x^[1]) in place of sigma(x^[1]); e_i goes onto z(i), K < M columns
                self._backward(self.a, Tf, Tf)
                Pe = torch.mul(P.view(S, b, HW, -1), e.view(S, b, 1, 1), out=self._Pe[:, :b * HW].view(S, b, HW, -1))
                g_theta_t.baddbmm_(Pe.view(S, b * HW, -1).transpose(1, 2), T)  # z^T G: twice as fast as G^T z
            else:  # (e a) sigma'(x^[1]), then sum over i, u, v against z(i)
                self._backward(torch.bmm(e, self.a), Tf, Tf)
                g_theta_t.baddbmm_(P.transpose(1, 2), T)
        if grad:
            self.theta.grad, self.a.grad = g_theta_t.transpose(1, 2).contiguous(), g_a
        return out[..., 0] if d == 1 else out  # the shape of CNN.forward, per model

    def parameters_of(self, s: int, grad: bool = False) -> dict[str, torch.Tensor]:
        """Model ``s``'s parameters (or, with ``grad``, their gradients) in the model's own
        layout, by ``named_parameters`` name."""
        theta, a = (self.theta.grad, self.a.grad) if grad else (self.theta, self.a)
        M, d, HW = self.M, self.d, self.HW
        return {
            "convs.0.weight": theta[s, :, :-1].reshape(self.first.convs[0].weight.shape),
            "convs.0.bias": theta[s, :, -1],
            "readout.weight": a[s].view(d, HW, M).transpose(1, 2).reshape(d, M * HW),
        }

    @torch.no_grad()
    def write_back(self, models) -> None:
        """Copy the trained parameters into ``models``."""
        for s, mod in enumerate(models):
            values = self.parameters_of(s)
            for name, p in mod.named_parameters():
                p.copy_(values[name])
