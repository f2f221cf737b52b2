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
the host inside the loop except the parameter snapshots that were asked for.
Used in every chapter that trains.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import torch

__all__ = ["LOSSES", "OPTIMIZERS", "TrainResult", "loss_fn", "accuracy", "train"]

LOSSES = ("mse", "mse_softmax", "ce")
OPTIMIZERS = ("gd", "adam")


def loss_fn(out: torch.Tensor, y: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """The empirical risk R_S of eq. 1 (or its variants named above)."""
    n = out.shape[0]
    if loss == "mse":
        return 0.5 * (out - y).square().sum() / n
    if loss == "mse_softmax":
        return 0.5 * (torch.softmax(out, dim=1) - y).square().sum() / n
    if loss == "ce":
        return torch.nn.functional.cross_entropy(out, y)
    raise ValueError(f"unknown loss {loss!r}: choose one of {LOSSES}")


@torch.no_grad()
def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of correct predictions, as a 0-dim tensor (no host sync).

    d > 1 outputs: argmax of f against the class (y indices or one-hot).
    d = 1 output regressing the label: f rounded to the nearest class.
    """
    if out.dim() == 2:
        label = y.argmax(1) if y.dim() == 2 else y
        return (out.argmax(1) == label).float().mean()
    return (out.round().clamp(0, 9) == y).float().mean()


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
        hits = np.flatnonzero(self.epochs == epoch)
        if hits.size == 0:
            raise KeyError(f"epoch {epoch} was not recorded; recorded: {self.epochs.tolist()}")
        return {k: v[hits[0]] for k, v in self.snapshots.items()}

    def kernels(self, epoch: int, layer: int = 0, per: str = "kernel", bias: bool = False) -> np.ndarray:
        """The kernel vectors of conv layer ``layer`` at ``epoch`` (see ``condensation.kernel_vectors``)."""
        from .condensation import kernel_vectors

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
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer: str = "gd",
    lr: float = 5e-6,
    epochs: int = 1000,
    loss: str = "mse",
    snapshot_epochs: Optional[Iterable[int]] = None,
    device: str | torch.device = "cpu",
    progress: Optional[bool] = None,
) -> TrainResult:
    """Train ``model`` on the full batch ``(x, y)`` for ``epochs`` steps.

    ``snapshot_epochs``: epochs e in 0..epochs at which the parameters are
    recorded (after e steps; 0 is the initialization). Default: 0 and ``epochs``.
    ``progress``: show a progress bar; by default unless ``CONDENSE_PROGRESS=0``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {OPTIMIZERS}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {LOSSES}")
    if not (isinstance(epochs, (int, np.integer)) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]}: pass matching inputs and targets")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf: clean the inputs before training")
    snapshot_epochs = sorted({0, epochs} if snapshot_epochs is None else {int(e) for e in snapshot_epochs})
    if snapshot_epochs and not 0 <= snapshot_epochs[0] <= snapshot_epochs[-1] <= epochs:
        raise ValueError(f"snapshot epochs must lie in 0..{epochs}, got {snapshot_epochs}")

    device = torch.device(device)
    model = model.to(device)
    x, y = x.to(device), y.to(device)
    params = [p for p in model.parameters()]
    opt = torch.optim.SGD(params, lr=lr) if optimizer == "gd" else torch.optim.Adam(params, lr=lr)
    losses = torch.empty(epochs + 1, device=device)
    accs = torch.empty(epochs + 1, device=device)
    wanted, snaps = set(snapshot_epochs), []
    bar = _progress(epochs, progress)
    for e in range(epochs + 1):
        if e in wanted:
            snaps.append([p.detach().clone() for p in params])
        if e == epochs:
            with torch.no_grad():
                out = model(x)
                losses[e], accs[e] = loss_fn(out, y, loss), accuracy(out, y)
            break
        out = model(x)
        value = loss_fn(out, y, loss)
        losses[e], accs[e] = value.detach(), accuracy(out.detach(), y)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.set_postfix(loss=f"{losses[-1].item():.4g}")
        bar.close()
    names = [name for name, _ in model.named_parameters()]
    snapshots = {
        name: torch.stack([s[k] for s in snaps]).cpu().numpy() for k, name in enumerate(names)
    }
    return TrainResult(losses.cpu().numpy(), accs.cpu().numpy(), np.asarray(snapshot_epochs), snapshots)


def _progress(total: int, enabled: Optional[bool]):
    if enabled is None:
        enabled = os.environ.get("CONDENSE_PROGRESS", "1") != "0"
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="epoch", mininterval=1.0, leave=False)
