"""The paper's experimental figures (Sec. 4, App. A), each with its training run at two scales.

``FIGURES[name]`` is a ``Figure``: one figure (or sub-panel) of the paper, with its run at
``"paper"`` scale, the paper's setting, and at ``"fast"`` scale, the setting the book executes
on a CPU, and the epochs the figure shows. ``FIGURES[name][scale]`` is the ``Config``; a scale
given as ``None`` or ``"auto"`` is resolved by ``runner.resolve_scale``.

How a fast scale is derived from the paper's setting. GD with step lr is the
Euler scheme of the gradient flow (eq. 20): lr * epochs is the time t reached,
so fewer, larger steps reach the same t. Adam moves each parameter by about lr
per step (its update is lr * m / (sqrt(v) + eps')), so lr * epochs is the
analogous budget of displacement; the fast scale keeps it (Figs. 2 and 5 excepted,
see their ``differs``), with 5 to 140 times larger steps. The data, activation, architecture, gamma, optimizer and loss stay
the paper's; runs whose cost per epoch is large use fewer images (``n``).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..training.config import Config
from ..training.runner import SCALES, resolve_scale

__all__ = ["Figure", "FIGURES", "get_config", "figure_names"]


@dataclass(frozen=True)
class Figure:
    """One experimental figure (or sub-panel) of the paper: its run at each scale,
    and the epoch it shows for each conv layer (from the paper's caption)."""

    name: str           # "fig4_relu": the figure and, after "_", the sub-panel
    caption: str        # the setting and what the paper observes, in a line
    paper: Config       # the paper's setting
    fast: Config        # the book's CPU setting
    shown_paper: tuple  # epoch shown per conv layer at the paper scale
    shown_fast: tuple   # the same at the fast scale
    differs: str        # what the fast scale changes, and why

    def scale(self, scale: Optional[str] = None) -> str:
        """``scale`` resolved for this figure (``runner.resolve_scale``): ``"auto"`` is
        ``"paper"`` when its paper-scale run is cached."""
        return resolve_scale(scale, lambda s: [self.paper if s == "paper" else self.fast])

    def config(self, scale: Optional[str] = None) -> Config:
        """The ``Config`` at ``scale`` (``None``: ``CONDENSE_SCALE``; see ``scale``)."""
        return self.paper if self.scale(scale) == "paper" else self.fast

    def shown(self, scale: Optional[str] = None) -> tuple:
        """The epoch shown for each conv layer at ``scale``."""
        return self.shown_paper if self.scale(scale) == "paper" else self.shown_fast

    def setting(self, scale: Optional[str] = None) -> str:
        """Which setting the figure shows at ``scale``, in a line for its caption: "the paper's
        setting: n = 500, Adam lr = 5e-06 for 200 epochs, shown at epoch 200" (or "the book's fast
        setting (not the paper's): ...")."""
        scale = self.scale(scale)
        c = self.config(scale)
        which = "the paper's setting" if scale == "paper" else "the book's fast setting (not the paper's)"
        shown = ", ".join(map(str, dict.fromkeys(self.shown(scale))))
        return (f"{which}: n = {c.n}, {'GD' if c.optimizer == 'gd' else 'Adam'} lr = {c.lr:g} for {c.epochs} epochs, "
                f"shown at epoch {shown}")

    def describe(self, scale: Optional[str] = None) -> str:
        """The caption, the run's setting at ``scale`` and, at the fast scale, what differs from the paper."""
        scale = self.scale(scale)
        c = self.config(scale)
        lines = [self.caption,
                 f"{scale} scale: n = {c.n}, {c.optimizer} lr = {c.lr:g} for {c.epochs} epochs "
                 f"(lr x epochs = {c.lr * c.epochs:.3g}), shown at epoch(s) {', '.join(map(str, self.shown(scale)))}"]
        if scale == "fast":
            lines.append(f"differs from the paper: {self.differs}")
        return "\n".join(textwrap.fill(line, 78, subsequent_indent="    ") for line in lines)

    def __getitem__(self, scale: str) -> Config:
        if scale not in SCALES:
            raise KeyError(f"unknown scale {scale!r}: choose one of {SCALES}")
        return self.config(scale)

    def __post_init__(self):
        for scale in SCALES:
            config, shown = self.config(scale), self.shown(scale)
            recorded = set(config.recorded())
            if len(shown) != len(config.channels) or not set(shown) <= recorded or 0 not in recorded:
                raise ValueError(f"{self.name} ({scale}): shown epochs {shown} must be recorded, one per conv layer, with 0")


def _every(epochs: int, frames: int, *extra: int) -> tuple:
    """Snapshot epochs: 0, ``frames`` evenly spaced epochs up to ``epochs``, and ``extra``."""
    return tuple(sorted({0, *np.linspace(0, epochs, frames + 1).round().astype(int).tolist(), *extra}))


# The two settings of the experiments (Sec. 4.1, App. A.1): n = 500 random images, full
# batch; conv weights ~ N(0, sigma_1^2), linear layers ~ N(0, 1e-4^2).
_CIFAR = Config(dataset="cifar10", split="train", n=500, m=5, activation="tanh", gamma=2.0, optimizer="adam")


_MNIST = Config(dataset="mnist", split="test", n=500, m=5, activation="tanh", gamma=2.0, optimizer="adam")


# Heads: "L x 32C-(1024)-10" with cross-entropy, or a linear readout of d outputs.
_CE = dict(head="fc", d=10, target="class", loss="ce")


_MSE_SOFTMAX = dict(head="linear", d=10, target="onehot", loss="mse_softmax")


_REGRESSION = dict(head="linear", d=1, target="label", loss="mse")


_THREE = (32, 32, 32)


# Recorded every 50 epochs to 300 (Fig. 3's epoch), where the layers condense one after another.
_FIG2_PAPER = _CIFAR.replace(channels=_THREE, lr=2e-6, epochs=10000, **_CE,
                             snapshot_epochs=(0, 50, 100, 150, 200, 250, 300, 500, 1000, 2000, 5000, 10000))


# Fig. 3's epoch 300 as a run of its own: the first 300 epochs of Fig. 2's (the same steps),
# recorded every 25 epochs; a CPU affords it (about 25 minutes), the 10,000 epochs need a GPU.
_FIG3_PAPER = _FIG2_PAPER.replace(epochs=300, snapshot_epochs=tuple(range(0, 301, 25)))
_FIG2_FAST = _CIFAR.replace(channels=_THREE, n=100, lr=2e-4, epochs=80, **_CE,
                            snapshot_epochs=(0, 4, 6, 8, 10, 20, 40, 60, 80))


_FIG2_DIFFERS = (
    "n = 100 images instead of 500, and lr = 2e-4 for 80 epochs instead of 2e-6 for a length the "
    "paper does not give (10,000 epochs at the paper scale): a step that costs a fifth as much on a "
    "CPU, and a hundred times fewer steps. The initial stage is shown at epoch 8, a recorded epoch "
    "before the accuracy rises, as the paper shows epoch 300.")


_FIG12_PAPER = Config(
    dataset="mnist", split="test", n=500, channels=(32,), m=3, activation="tanh", head="linear",
    gamma=2.0, optimizer="gd", lr=5e-6, epochs=3600, loss="mse", snapshot_epochs=(0, 1800, 3600),
)


def _fig4(activation, epochs, lr_fast, epochs_fast):
    paper = _CIFAR.replace(channels=(32,), activation=activation, lr=5e-7, epochs=epochs, **_CE,
                           snapshot_epochs=_every(epochs, 8))
    fast = paper.replace(n=100, lr=lr_fast, epochs=epochs_fast, snapshot_epochs=_every(epochs_fast, 5))
    return Figure(
        name=f"fig4_{activation}",
        caption=f"CIFAR-10, 32C-(1024)-10, {activation}, m = 5, gamma = 2, Adam, cross-entropy (Fig. 4)",
        paper=paper, fast=fast, shown_paper=(epochs,), shown_fast=(epochs_fast,),
        differs=f"n = 100 instead of 500, and lr = {lr_fast:g} for {epochs_fast} epochs instead of 5e-7 for "
                f"{epochs}: the same Adam budget lr x epochs = {5e-7 * epochs:.2g}. Most of an epoch's cost is "
                f"the 25-million-weight FC layer, which grows with n.")


def _fig10(activation, lr, epochs, lr_fast, epochs_fast):
    paper = _MNIST.replace(channels=(32,), activation=activation, lr=lr, epochs=epochs, **_REGRESSION,
                           snapshot_epochs=_every(epochs, 8))
    fast = paper.replace(lr=lr_fast, epochs=epochs_fast, snapshot_epochs=_every(epochs_fast, 8))
    return Figure(
        name=f"fig10_{activation}",
        caption=f"MNIST, 32C-1, {activation}, m = 5, gamma = 2, Adam, MSE (Fig. 10)",
        paper=paper, fast=fast, shown_paper=(epochs,), shown_fast=(epochs_fast,),
        differs=f"lr = {lr_fast:g} for {epochs_fast} epochs instead of {lr:g} for {epochs}: the same Adam "
                f"budget lr x epochs = {lr * epochs:.3g}. Adam is not exactly invariant under this change.")


_FIG_LIST = [
    Figure(name="fig2", caption="CIFAR-10, 3 x 32C-(1024)-10, tanh, m = 5, gamma = 2, Adam, cross-entropy: "
                                "the end of training (Fig. 2; at the paper scale shown at epoch 5000 of 10,000, see the errata)",
           paper=_FIG2_PAPER, fast=_FIG2_FAST, shown_paper=(5000,) * 3, shown_fast=(80,) * 3, differs=_FIG2_DIFFERS),
    Figure(name="fig3", caption="The initial stage of the Fig. 2 run, at accuracy below 20% (Fig. 3; at the paper "
                                "scale the same run's first 300 epochs, a run of its own)",
           paper=_FIG3_PAPER, fast=_FIG2_FAST, shown_paper=(300,) * 3, shown_fast=(8,) * 3, differs=_FIG2_DIFFERS),
    Figure(name="fig8", caption="The training accuracy of the Fig. 2 run (Fig. 8)",
           paper=_FIG2_PAPER, fast=_FIG2_FAST, shown_paper=(10000,) * 3, shown_fast=(80,) * 3, differs=_FIG2_DIFFERS),
    _fig4("relu", 1000, 2e-5, 25),
    _fig4("sigmoid", 5000, 1e-4, 25),
    _fig4("tanh", 300, 1e-5, 15),
    Figure(
        name="fig5",
        caption="CIFAR-10, 3 x 32C-10 with softmax, tanh, m = 5, gamma = 1.2, Adam, MSE on one-hot labels (Fig. 5; "
                "at the paper scale run to 1000 epochs and shown where each layer condenses, see the errata)",
        paper=_CIFAR.replace(channels=_THREE, gamma=1.2, lr=1e-6, epochs=1000, **_MSE_SOFTMAX,
                             snapshot_epochs=_every(1000, 20)),
        fast=_CIFAR.replace(channels=_THREE, gamma=1.2, lr=1e-4, epochs=40, **_MSE_SOFTMAX,
                            snapshot_epochs=_every(40, 8)),
        shown_paper=(900, 450, 450), shown_fast=(40, 40, 40),
        differs="lr = 1e-4 for 40 epochs instead of 1e-6: four times the Adam budget lr x epochs of the "
                "paper-scale run (1000 epochs; the paper's 300 do not show its figure, errata 21). At this "
                "initialization the gradients that reach the conv layers sit below Adam's eps = 1e-8, where "
                "Adam moves by about lr x gradient / eps rather than by lr, so the same budget in fewer steps "
                "barely moves the kernels. All three layers are shown at the last epoch."),
    Figure(
        name="fig6", caption="CIFAR-10, two-layer CNN 32C-1, tanh, m = 3, gamma = 4, GD, MSE (Fig. 6)",
        paper=_CIFAR.replace(channels=(32,), m=3, gamma=4.0, optimizer="gd", lr=5e-6, epochs=4500, **_REGRESSION,
                             snapshot_epochs=_every(4500, 9)),
        fast=_CIFAR.replace(channels=(32,), m=3, gamma=4.0, optimizer="gd", lr=1.5e-4, epochs=150, **_REGRESSION,
                            snapshot_epochs=_every(150, 6)),
        shown_paper=(4500,), shown_fast=(150,),
        differs="lr = 1.5e-4 for 150 epochs instead of 5e-6 for 4500: the same gradient-flow time "
                "t = lr x epochs = 0.0225 (eq. 20) in 30 times fewer steps."),
    Figure(
        name="fig9", caption="CIFAR-10, 3 x 32C-1, tanh, m = 3, gamma = 2, Adam, MSE on the label (Fig. 9)",
        paper=_CIFAR.replace(channels=_THREE, m=3, lr=5e-6, epochs=200, **_REGRESSION, snapshot_epochs=_every(200, 8)),
        fast=_CIFAR.replace(channels=_THREE, m=3, lr=3.3e-5, epochs=30, **_REGRESSION,
                            snapshot_epochs=_every(30, 6)),
        shown_paper=(200,) * 3, shown_fast=(30,) * 3,
        differs="lr = 3.3e-5 for 30 epochs instead of 5e-6 for 200: the same Adam budget lr x epochs = 1e-3 "
                "in about 7 times fewer steps."),
    _fig10("sigmoid", 5e-7, 252, 3.15e-6, 40),
    _fig10("relu", 5e-7, 302, 3.775e-6, 40),
    _fig10("tanh", 5e-6, 200, 2.5e-5, 40),
    Figure(
        name="fig11", caption="MNIST, 3 x 32C-1, tanh, m = 5, gamma = 2, Adam, MSE (Fig. 11)",
        paper=_MNIST.replace(channels=_THREE, lr=5e-7, epochs=100, **_REGRESSION, snapshot_epochs=_every(100, 5)),
        fast=_MNIST.replace(channels=_THREE, lr=2.5e-6, epochs=20, **_REGRESSION, snapshot_epochs=_every(20, 5)),
        shown_paper=(100,) * 3, shown_fast=(20,) * 3,
        differs="lr = 2.5e-6 for 20 epochs instead of 5e-7 for 100: the same Adam budget lr x epochs = 5e-5."),
    Figure(
        name="fig12", caption="MNIST, two-layer CNN 32C-1, tanh, m = 3, gamma = 2, GD, MSE (Fig. 12)",
        paper=_FIG12_PAPER, fast=_FIG12_PAPER.replace(lr=5e-5, epochs=360, snapshot_epochs=(0, 180, 360)),
        shown_paper=(3600,), shown_fast=(360,),
        differs="lr = 5e-5 for 360 epochs instead of 5e-6 for 3600: the same gradient-flow time t = 0.018 "
                "(eq. 20) in 10 times fewer steps."),
    Figure(
        name="fig13", caption="MNIST, two-layer CNN 320C-1, tanh, m = 3, gamma = 2, GD, MSE (Fig. 13)",
        paper=_FIG12_PAPER.replace(channels=(320,), epochs=7000, snapshot_epochs=_every(7000, 7)),
        fast=_FIG12_PAPER.replace(channels=(320,), lr=7e-4, epochs=50, snapshot_epochs=_every(50, 5)),
        shown_paper=(7000,), shown_fast=(50,),
        differs="lr = 7e-4 for 50 epochs instead of 5e-6 for 7000: the same gradient-flow time "
                "t = 0.035 (eq. 20) in 140 times fewer steps."),
]


class _Figures(dict):
    """``FIGURES[name]``: a missing name is an error that lists the figures."""

    def __missing__(self, name):
        raise KeyError(f"unknown figure {name!r}: choose one of {sorted(self)}")


FIGURES = _Figures((f.name, f) for f in _FIG_LIST)


def get_config(name: str, scale: Optional[str] = None) -> Config:
    """The configuration of figure ``name`` at ``scale`` (``None``: ``CONDENSE_SCALE``; ``"auto"``: the
    paper's if it is cached):
    ``FIGURES[name].config(scale)``."""
    return FIGURES[name].config(scale)


def figure_names(selection) -> list[str]:
    """Figure names from a selection: exact names, a figure's prefix (``"fig4"`` names
    ``fig4_relu``, ``fig4_sigmoid``, ``fig4_tanh``), or ``"all"``."""
    selection = [selection] if isinstance(selection, str) else list(selection)
    names = []
    for item in selection:
        hits = list(FIGURES) if item == "all" else [n for n in FIGURES if n == item or n.startswith(item + "_")]
        if not hits:
            raise ValueError(f"unknown figure {item!r}: choose one of {sorted(FIGURES)}, a prefix such as 'fig4', or 'all'")
        names += [n for n in hits if n not in names]
    return names
