"""The paper's CNN (Sec. 3.2, eqs. 2-4; App. A.1).

L conv layers (cross-correlation, stride 1, m x m kernels, bias, activation sigma;
valid by default, as in the paper, or on the input zero-padded by ``padding`` pixels
on each side), then a head:

- ``"linear"``: the readout f = <a, sigma(x^[L])> (Sec. 3.2, no bias); with
  L = 1 this is the two-layer CNN of the theory (Sec. 5);
- ``"fc"``: the experiments' head, a ReLU fully connected layer of 1024 units,
  then d outputs (architecture ``L x 32C-(1024)-d``, Sec. 4.1), the output layer with a
  bias (``out_bias=False`` leaves it out, as the linear readout does).

Initialization (``init``):

- ``"paper"``: conv weights and biases ~ N(0, sigma_1^2) with
  sigma_1 = ((c_in + c_out) m^2 / 2)^(-gamma); linear layers ~ N(0, sigma_2^2),
  sigma_2 = 1e-4 (Sec. 4.1);
- ``"theory"``: every parameter ~ N(0, eps^2) (eqs. 3-4 with beta_1 = beta_2 = eps).

Used in every chapter.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn

from ..theory.activations import get_activation

__all__ = ["CNN", "sigma_1"]


def sigma_1(c_in: int, c_out: int, m: int, *, gamma: float) -> float:
    """Std of the conv initialization, ((c_in + c_out) m^2 / 2)^(-gamma) (Sec. 4.1)."""
    return ((c_in + c_out) * m * m / 2.0) ** (-gamma)


class CNN(nn.Module):
    """``L`` conv layers then a head (Sec. 3.2).

    Parameters
    ----------
    in_shape : (C_0, H_0, W_0) of one input image.
    channels : (C_1, ..., C_L), e.g. ``(32,)`` or ``(32, 32, 32)``.
    m : kernel size.
    padding : zero pixels added on each side of every conv layer's input (0..m-1; default 0,
        valid convolutions as in the paper; (m - 1) / 2 keeps the size, "same").
    activation : name of sigma (see ``condense_lib.activations``).
    head : ``"linear"`` or ``"fc"``.
    d : number of outputs.
    init : ``"paper"`` (with ``gamma``, ``sigma_2``) or ``"theory"`` (with ``eps``).
    seed : seed of the initialization.
    out_bias : whether the "fc" head's output layer has a bias (default True, PyTorch's
        ``nn.Linear``); the linear readout never has one.

    The forward pass returns ``(n,)`` when d = 1 and ``(n, d)`` otherwise. Every parameter
    after ``channels`` is keyword-only; ``CNN.from_config(config, in_shape)`` builds the
    network of a ``Config``.
    """

    @classmethod
    def from_config(cls, config, in_shape: Sequence[int], **options) -> "CNN":
        """The freshly initialized network of ``config`` (an ``experiments.Config``) for
        images of shape ``in_shape`` (C, H, W); ``options``: keywords a ``Config`` does not hold
        (``out_bias``)."""
        return cls(in_shape, config.channels, m=config.m, padding=config.padding, activation=config.activation, head=config.head,
                   d=config.d, hidden=config.hidden, init=config.init, gamma=config.gamma, sigma_2=config.sigma_2,
                   eps=config.eps, seed=config.seed, **options)

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (32,),
        *,
        m: int = 3,
        padding: int = 0,
        activation: str = "tanh",
        head: str = "linear",
        d: int = 1,
        hidden: int = 1024,
        init: str = "paper",
        gamma: float = 2.0,
        sigma_2: float = 1e-4,
        eps: Optional[float] = None,
        seed: int = 0,
        out_bias: bool = True,
    ):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (C, H, W), got {tuple(in_shape)}")
        c, h, w = (int(s) for s in in_shape)
        channels = tuple(int(ch) for ch in channels)
        if not channels or min(channels) < 1:
            raise ValueError(f"channels must be a non-empty list of positive ints, got {channels}")
        if head not in ("linear", "fc"):
            raise ValueError(f"unknown head {head!r}: choose 'linear' (readout a) or 'fc' (ReLU FC {hidden} then d)")
        if init not in ("paper", "theory"):
            raise ValueError(f"unknown init {init!r}: choose 'paper' (sigma_1 from gamma) or 'theory' (eps)")
        if init == "theory" and eps is None:
            raise ValueError("init='theory' needs eps, the std of every parameter (eqs. 3-4)")
        if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding <= m - 1:
            raise ValueError(f"padding = {padding!r} must be an integer in 0..m-1 = 0..{m - 1} (zero pixels per side)")
        shrink = m - 1 - 2 * padding  # pixels each layer removes
        if h - len(channels) * shrink < 1 or w - len(channels) * shrink < 1:
            raise ValueError(
                f"{len(channels)} convolutions with m = {m}, padding = {padding} do not fit a {h}x{w} image: "
                f"use a smaller m, fewer layers or more padding (each layer removes {shrink} pixels)"
            )
        self.in_shape, self.channels, self.m, self.head, self.d = (c, h, w), channels, m, head, d
        self.padding = padding
        self.sigma = get_activation(activation)
        self.convs = nn.ModuleList()
        for c_out in channels:
            self.convs.append(nn.Conv2d(c, c_out, m, padding=padding, bias=True))
            c, h, w = c_out, h - shrink, w - shrink
        self.out_shape = (c, h, w)  # (C_L, H_L, W_L)
        features = c * h * w
        if head == "linear":
            self.readout = nn.Linear(features, d, bias=False)  # a of Sec. 3.2
        else:
            self.fc = nn.Linear(features, hidden)
            self.readout = nn.Linear(hidden, d, bias=bool(out_bias))
        self.reset_parameters(init=init, gamma=gamma, sigma_2=sigma_2, eps=eps, seed=seed)

    @torch.no_grad()
    def reset_parameters(self, *, init="paper", gamma=2.0, sigma_2=1e-4, eps=None, seed=0):
        """Draw every parameter from its normal law (Sec. 4.1, or eqs. 3-4)."""
        gen = torch.Generator().manual_seed(int(seed))
        for conv in self.convs:
            std = eps if init == "theory" else sigma_1(conv.in_channels, conv.out_channels, self.m, gamma=gamma)
            for p in (conv.weight, conv.bias):
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * std)
        linears = [self.readout] if self.head == "linear" else [self.fc, self.readout]
        for lin in linears:
            std = eps if init == "theory" else sigma_2
            for p in (lin.weight, lin.bias):
                if p is not None:
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * std)

    @torch.no_grad()
    def load_parameters(self, params: dict) -> "CNN":
        """Set every parameter from ``params`` (name -> array, e.g. ``TrainResult.snapshot(epoch)``),
        converted to the parameter's dtype; returns the model. Raises ``ValueError`` naming a
        missing parameter (a run does not record the FC head, ``experiments.UNRECORDED``) or a
        wrong shape."""
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in params]
        if missing:
            raise ValueError(f"params lack {', '.join(missing)}: the run did not record them (the 'fc' head's "
                             f"hidden layer is never recorded); only a linear-readout run can be rebuilt")
        for name, p in own.items():
            value = torch.as_tensor(params[name])
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"{name} has shape {tuple(value.shape)}, but this model's is {tuple(p.shape)}")
            p.copy_(value.to(p.dtype))
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """sigma(x^[L]) of shape (n, C_L, H_L, W_L)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"input must have shape (n, {', '.join(map(str, self.in_shape))}), got {tuple(x.shape)}")
        for conv in self.convs:
            x = self.sigma(conv(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x).flatten(1)
        if self.head == "fc":
            z = torch.relu(self.fc(z))
        out = self.readout(z)
        return out[:, 0] if self.d == 1 else out

    def conv_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W, b) of each conv layer: W (C_out, C_in, m, m), b (C_out,)."""
        return [(conv.weight, conv.bias) for conv in self.convs]
