"""Full-batch training by GD or Adam (Sec. 3.2, App. B.3).

GD with learning rate lr is the Euler scheme of the gradient flow
d theta / dt = -grad R_S(theta) (eq. 20) with time step lr, so ``lr * epochs``
is the gradient-flow time t reached.

Losses (``loss``):

- ``"mse"``: R_S = 1/(2n) sum_i ||f(x_i) - y_i||^2 (eq. 1);
- ``"mse_softmax"``: the same on softmax(f), with one-hot y (Fig. 5);
- ``"ce"``: cross-entropy with softmax, y the class indices (Figs. 2-4).

The loop keeps the full batch on the device and records the loss and the
accuracy of every epoch into preallocated device tensors: nothing is copied to
the host inside the loop (snapshots are copied on the device). The gradient of a
two-layer CNN with a linear readout comes in closed form (eq. 23, see
``condense_lib.two_layer``), for several models at once; other models use autograd.
``benchmarks/bench.py`` measures this against a plain PyTorch loop.
Used in every chapter that trains.
"""
from __future__ import annotations

import ctypes
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import torch

from ..theory.losses import LOSSES, accuracy, loss_fn
from .device import resolve_device
from .progress import progress_bar
from .two_layer import TwoLayerStack, covers

__all__ = ["OPTIMIZERS", "TrainResult", "train", "recorded_epochs", "epoch_index", "NotRecorded"]

OPTIMIZERS = ("gd", "adam")


def recorded_epochs(snapshot_epochs: Iterable[int], epochs: int) -> list[int]:
    """The one snapshot convention: the sorted epochs a run records; empty means 0 and ``epochs``."""
    chosen = sorted({int(e) for e in snapshot_epochs})
    return chosen or sorted({0, int(epochs)})


class NotRecorded(KeyError, ValueError):
    """An epoch whose parameters the run did not keep."""

    def __str__(self):  # KeyError would quote the message
        return str(self.args[0])


def epoch_index(recorded, epoch) -> int:
    """The position of ``epoch`` among the ``recorded`` epochs (the one epoch lookup)."""
    hits = np.flatnonzero(np.asarray(recorded) == int(epoch))
    if hits.size == 0:
        raise NotRecorded(f"epoch {epoch} was not recorded; recorded epochs: {np.asarray(recorded).tolist()}")
    return int(hits[0])


@dataclass
class TrainResult:
    """What a run records: ``loss`` and ``accuracy`` at epochs 0..E (shape (E+1,)),
    and the parameters at ``epochs`` (``snapshots[name]`` has shape (S, *param.shape))."""

    loss: np.ndarray
    accuracy: np.ndarray
    epochs: np.ndarray
    snapshots: dict = field(default_factory=dict)

    def snapshot(self, epoch: int) -> dict:
        """Parameters at one recorded epoch, as a dict name -> array."""
        k = epoch_index(self.epochs, epoch)
        return {name: v[k] for name, v in self.snapshots.items()}

    def kernels(self, epoch: int, layer: int = 0, per: str = "filter", *, bias: bool = False) -> np.ndarray:
        """The kernel vectors of conv layer ``layer`` at ``epoch`` (see ``condensation.kernel_vectors``)."""
        from ..theory.condensation import kernel_vectors

        params = self.snapshot(epoch)
        key = f"convs.{layer}.weight"
        if key not in params:
            raise KeyError(f"no conv layer {layer}: this run has {sum(k.endswith('.weight') and k.startswith('convs.') for k in params)}")
        return kernel_vectors(params[key], params[f"convs.{layer}.bias"], per=per, bias=bias)

    def to_arrays(self) -> dict:
        arrays = {"loss": self.loss, "accuracy": self.accuracy, "epochs": self.epochs}
        arrays.update({f"param/{k}": v for k, v in self.snapshots.items()})
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> "TrainResult":
        snaps = {k[len("param/"):]: np.asarray(arrays[k]) for k in arrays if k.startswith("param/")}
        return cls(np.asarray(arrays["loss"]), np.asarray(arrays["accuracy"]), np.asarray(arrays["epochs"]), snaps)


def train(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    optimizer: str = "gd",
    lr: float = 5e-6,
    epochs: int = 1000,
    loss: str = "mse",
    snapshot_epochs: Iterable[int] = (),
    device: Optional[str | torch.device] = None,
    progress=None,
    unrecorded: tuple = (),
):
    """Train ``model`` on the full batch ``(x, y)`` for ``epochs`` steps.

    ``model``: a ``torch.nn.Module``, or a list of S ``CNN`` s of one architecture
    (S seeds, say), trained together; then ``x`` is either shared, (n, C, H, W), or one
    sample per model, (S, n, C, H, W) with ``y`` (S, n, ...), and a list of S results
    comes back. The parameters of the model(s) end trained.
    ``snapshot_epochs``: epochs e in 0..epochs at which the parameters are
    recorded (after e steps; 0 is the initialization); empty (the default) means 0 and
    ``epochs``, as in ``Config``. The loss and the accuracy are recorded at every epoch.
    ``unrecorded``: name prefixes of parameters left out of the snapshots (``("fc.",)``: the
    13-26 million weights of the FC head, which no figure draws, are then never copied).
    ``device``: where to train (``device.resolve_device``; None: the best this machine has).
    ``progress``: a progress bar (``progress.progress_bar``: True, False, None for the policy, or a
    callable that makes one).

    How: two-layer ``CNN`` s with a linear readout (Figs. 6, 10, 12, 13 and the theory
    chapters) take the gradient of eq. 23 in closed form, all S at once
    (``condense_lib.two_layer``); other models take autograd, their convolutions in the
    channels-last layout. Adam is PyTorch's fused Adam. On a CPU the memory freed inside
    the loop is kept for reuse (``_reuse_freed_memory``). Both give the gradient of
    plain autograd to float rounding (``tests/test_fast_paths.py``).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {OPTIMIZERS}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {LOSSES}")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    many = not isinstance(model, torch.nn.Module)
    models = list(model) if many else [model]
    if not models or not all(isinstance(mod, torch.nn.Module) for mod in models):
        raise ValueError("model must be a torch.nn.Module or a non-empty list of them")
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    stacked = many and x.dim() == 5
    if stacked and not (x.shape[0] == y.shape[0] == len(models)):
        raise ValueError(f"x (S, n, C, H, W) and y (S, n, ...) need S = {len(models)} models, got {x.shape[0]} and {y.shape[0]}")
    nx, ny = (x.shape[1], y.shape[1]) if stacked else (x.shape[0], y.shape[0])
    if nx != ny:
        raise ValueError(f"x has {nx} samples but y has {ny}: pass matching inputs and targets")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf: clean the inputs before training")
    dtype = next((p.dtype for p in models[0].parameters()), x.dtype)
    if x.is_floating_point() and x.dtype != dtype:
        raise ValueError(f"x is {x.dtype} but the model's parameters are {dtype}: convert one of them (x.to({dtype}))")
    snapshot_epochs = recorded_epochs(snapshot_epochs, epochs)
    if not 0 <= snapshot_epochs[0] <= snapshot_epochs[-1] <= epochs:
        raise ValueError(f"snapshot epochs must lie in 0..{epochs}, got {snapshot_epochs}")

    device = resolve_device(device)
    models = [mod.to(device) for mod in models]
    x, y = x.to(device), y.to(device)
    if covers(models, loss):
        net = TwoLayerStack(models, x, y, loss)
    else:
        net = _Autograd(models, x, y, loss, stacked)
    Y = y if stacked else y[None]  # (S or 1, n, ...)
    opt = _optimizer(optimizer, net.params(), lr)
    S = len(models)
    losses = torch.empty(S, epochs + 1, device=device)
    accs = torch.empty(S, epochs + 1, device=device)
    slot = {e: k for k, e in enumerate(snapshot_epochs)}
    snaps = [{} for _ in range(S)]  # name -> (len(snapshot_epochs), *shape), filled slot by slot
    unrecorded = tuple(unrecorded)
    bar = progress_bar(epochs, progress, desc="training", unit="epoch")
    with _reuse_freed_memory(device):
        _loop(net, opt, epochs, slot, snaps, unrecorded, Y, loss, losses, accs, bar)
    net.write_back(models)
    if bar is not None:
        bar.set_postfix(loss=f"{losses[0, -1].item():.4g}")
        bar.close()
    losses, accs = losses.cpu().numpy(), accs.cpu().numpy()
    results = []
    for s, mod in enumerate(models):
        snapshots = {name: snaps[s][name].cpu().numpy() for name, _ in mod.named_parameters() if name in snaps[s]}
        results.append(TrainResult(losses[s], accs[s], np.asarray(snapshot_epochs), snapshots))
    return results if many else results[0]


def _loop(net, opt, epochs, slot, snaps, unrecorded, Y, loss, losses, accs, bar) -> None:
    """The epochs: snapshot, step (the loss and accuracy of the parameters before it), update."""
    for e in range(epochs + 1):
        if e in slot:
            _record(snaps, net, slot[e], len(slot), unrecorded)
        out = net.step(grad=e < epochs)  # (S, n) or (S, n, d); gradients in .grad
        losses[:, e], accs[:, e] = _measure(out, Y, loss)
        if e == epochs:
            break
        opt.step()
        if bar is not None:
            bar.update(1)


@contextmanager
def _reuse_freed_memory(device):
    """On a CPU under glibc, keep the memory that autograd frees inside the loop for its next use.

    By default glibc hands a freed block above 128 KiB straight back to the operating system,
    and the next epoch's tensor of the same size costs fresh page faults: every step of
    Fig. 4 frees and asks again for the 100-MB gradient of its FC layer. Raising the
    thresholds for the run (``mallopt``) makes the allocator reuse those blocks. Afterwards the
    thresholds go to 32 and 64 MiB, the values glibc's own adaptive thresholds reach once a
    program has freed blocks that large (``mallopt`` cannot switch the adaptation back on), and
    ``malloc_trim`` returns what the run left free to the system."""
    libc = _glibc() if torch.device(device).type == "cpu" else None
    if libc is None:
        yield
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, MiB = -1, -3, 1 << 20
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)
    try:
        yield
    finally:
        libc.mallopt(M_MMAP_THRESHOLD, 32 * MiB)
        libc.mallopt(M_TRIM_THRESHOLD, 64 * MiB)
        libc.malloc_trim(0)


def _glibc():
    """glibc through ctypes, or None elsewhere (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):
        return None


@torch.no_grad()
def _record(snaps: list, net, k: int, total: int, unrecorded: tuple) -> None:
    """Copy every model's parameters (but the ``unrecorded``) into slot k of its snapshot tensors
    (allocated at the first call)."""
    for s, store in enumerate(snaps):
        for name, value in net.parameters_of(s).items():
            if name.startswith(unrecorded):
                continue
            if name not in store:
                store[name] = torch.empty((total, *value.shape), dtype=value.dtype, device=value.device)
            store[name][k].copy_(value)


def _optimizer(name: str, params: list, lr: float) -> torch.optim.Optimizer:
    if name == "gd":
        return torch.optim.SGD(params, lr=lr)
    # fused: one kernel per tensor for the whole update (the default loops over its formula's steps).
    # torch refuses it where it has none (on a CPU before torch 2.4): then the default.
    if all(p.device.type in ("cpu", "cuda") for p in params):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except RuntimeError:
            pass
    return torch.optim.Adam(params, lr=lr)


def _measure(out: torch.Tensor, Y: torch.Tensor, loss: str):
    """R_S (eq. 1) and the accuracy of each of the S models: two (S,) tensors (no host sync)."""
    if out.shape[0] == 1:
        return loss_fn(out[0], Y[0], loss), accuracy(out[0], Y[0])
    per_model = lambda o, t: (loss_fn(o, t, loss), accuracy(o, t))
    shared = Y.shape[0] == 1
    return torch.vmap(per_model, in_dims=(0, None if shared else 0))(out, Y[0] if shared else Y)


class _Autograd:
    """Models the closed form does not cover: plain autograd, model after model.

    ``CNN`` s run their convolutions in the channels-last layout (oneDNN's fast one on a
    CPU); ``write_back`` puts the parameters back in the default layout."""

    def __init__(self, models, x, y, loss, stacked):
        from .models import CNN

        self.models, self.loss = models, loss
        self.cnn = x.dim() in (4, 5) and all(isinstance(mod, CNN) for mod in models)
        fmt = torch.channels_last if self.cnn else torch.contiguous_format
        xs = list(x) if stacked else [x] * len(models)
        self.xs = [xi.contiguous(memory_format=fmt) if xi.dim() == 4 else xi for xi in xs]
        self.ys = list(y) if stacked else [y] * len(models)
        for mod in models:
            mod.to(memory_format=fmt)

    def params(self) -> list:
        return [p for mod in self.models for p in mod.parameters()]

    def parameters_of(self, s: int) -> dict:
        return dict(self.models[s].named_parameters())

    def step(self, grad: bool = True) -> torch.Tensor:
        outs = []
        for mod, x, y in zip(self.models, self.xs, self.ys):
            for p in mod.parameters():
                p.grad = None
            with torch.set_grad_enabled(grad):
                out = mod(x)
                if grad:
                    loss_fn(out, y, self.loss).backward()
            outs.append(out.detach())
        return torch.stack(outs)

    def write_back(self, models) -> None:
        if self.cnn:
            for mod in models:
                mod.to(memory_format=torch.contiguous_format)
