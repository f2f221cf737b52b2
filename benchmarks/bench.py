"""How fast condense_lib trains, against a plain PyTorch loop (``make bench``).

    python benchmarks/bench.py [--repeats 5] [--book] [--out benchmarks/results.md]

Three of the paper's settings (n = 500 images, full batch, the paper's step sizes):

- Fig. 12: MNIST, one conv layer of 32 kernels (m = 3), tanh, linear readout, GD, MSE;
- Fig. 4: CIFAR-10, one conv layer (32, m = 5), ReLU FC 1024, 10 outputs, Adam, cross-entropy;
- Fig. 11: MNIST, three conv layers (32 each, m = 5), tanh, linear readout d = 1, Adam, MSE.

For each, in one process and interleaved (library, reference, library, ...), so that a
load on the machine hits both alike:

- ``condense_lib.training.trainer`` on ``condense_lib.CNN`` (what ``condense_lib.run`` computes, without
  its cache) against a reference loop written the way such research code usually is: a
  ``torch.nn`` model, a ``DataLoader`` over a ``TensorDataset`` with the full batch,
  ``zero_grad(); backward(); step()``, ``loss.item()`` every epoch and the kernels' cosine
  matrix recomputed every epoch. Both start from the same parameters; the benchmark asserts
  that their loss curves agree to float tolerance;
- epochs per second (median of the repeats; wall clock, and the process's CPU time), the ratio
  library / reference, the achieved GFLOP/s of the training step against this machine's
  float32 matmul rate (``torch.mm``, measured in the same run), and the peak memory;
- where the time goes, for the settings that go through autograd: each convolution and matrix
  product of the step timed alone at its shape (``floor_seconds``), their share of the
  library's step, and the best ratio any trainer could reach (reference step / their sum);
- the cost of recording: epoch 0 only, the default (epochs 0 and E), every epoch;
- many seeds at once: S models trained together against a loop over the S seeds.

FLOP count (analytic, multiply-adds count 2): a conv layer's forward is 2 n C_out H_out W_out
C_in m^2, a linear layer's 2 n in out; the backward is twice the forward (the gradients of the
weights and of the layer's input), except for the first conv layer, whose input needs no
gradient: once its forward. Activations, losses and the optimizer are not counted.

Peak memory: the largest resident set size (``/proc/self/statm``, sampled every 2 ms by a
thread) above the one before the run, in a separate, untimed run in a fresh process, after
the data and the model are built and a run on 8 images has loaded the libraries' code
(``resource.getrusage``'s ``ru_maxrss`` is a process's
high-water mark, set as well by loading the data, and memory freed by one run is reused by
the next one in the same process).

``--book`` also executes every ``book/*.ipynb`` with nbclient in a fresh ``CONDENSE_CACHE``
and reports each notebook's wall and CPU time.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import condense_lib as cl
from condense_lib.training.config import UNRECORDED
from condense_lib.training.trainer import _Autograd, _optimizer, _reuse_freed_memory
from condense_lib.training.two_layer import TwoLayerStack, covers

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("CONDENSE_PROGRESS", "0")

# name -> (figure, epochs per timed run)
SETTINGS = {"Fig. 12": ("fig12", 30), "Fig. 4": ("fig4_tanh", 4), "Fig. 11": ("fig11", 5)}
SEEDS = 8


# ----------------------------------------------------------------------------- the reference

class ReferenceCNN(nn.Module):
    """The paper's CNN as research code writes it: conv + activation blocks, then the head."""

    def __init__(self, in_channels, channels, m, image, head, d, hidden=1024):
        super().__init__()
        layers, c, h = [], in_channels, image
        for c_out in channels:
            layers += [nn.Conv2d(c, c_out, m), nn.Tanh()]
            c, h = c_out, h - m + 1
        self.features = nn.Sequential(*layers)
        if head == "fc":
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * h * h, hidden), nn.ReLU(), nn.Linear(hidden, d))
        else:
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * h * h, d, bias=False))
        self.d = d

    def forward(self, x):
        out = self.head(self.features(x))
        return out[:, 0] if self.d == 1 else out


def reference_model(config, model):
    """A ReferenceCNN holding ``model``'s parameters (the same initialization)."""
    ref = ReferenceCNN(model.in_shape[0], config.channels, config.m, model.in_shape[1], config.head, config.d, config.hidden)
    with torch.no_grad():
        for p, q in zip(ref.parameters(), model.parameters(), strict=True):
            p.copy_(q)
    return ref


def reference_train(model, x, y, optimizer, lr, epochs, loss):
    """The plain loop: DataLoader, zero_grad / backward / step, loss.item() and the cosine matrix each epoch."""
    loader = DataLoader(TensorDataset(x, y), batch_size=len(x), shuffle=False)
    opt = torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "gd" else torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss() if loss == "ce" else (lambda out, t: 0.5 * nn.functional.mse_loss(out, t))
    losses, cosines = [], []
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            value = criterion(model(xb), yb)
            value.backward()
            opt.step()
            losses.append(value.item())
        w = nn.functional.normalize(model.features[0].weight.detach().flatten(1), dim=1)
        cosines.append((w @ w.T).numpy())
    return np.array(losses), model.features[0].weight.detach().numpy()


# ----------------------------------------------------------------------------- measuring

def timed(fn):
    """(result, wall seconds, CPU seconds of this process) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory_of(label: str, which: str, epochs: int) -> float:
    """``peak_memory`` of one run (``which``: "library" or "reference") of setting ``label``, in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--peak-memory", label, which, str(epochs)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def peak_memory(fn) -> float:
    """Peak resident memory (MiB) above the level before ``fn()``, sampled every 2 ms."""
    base, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(0, peak[0] - base) / 2**20


def matmul_gflops(shape=(500, 25088, 1024), repeats=5) -> float:
    """float32 torch.mm rate (GFLOP/s, best of ``repeats``) for (a x b) @ (b x c)."""
    a, b, c = shape
    A, B = torch.randn(a, b), torch.randn(b, c)
    torch.mm(A, B)
    best = min(timed(lambda: torch.mm(A, B))[1] for _ in range(repeats))
    return 2 * a * b * c / best / 1e9


def step_gflop(config, model) -> float:
    """FLOPs of one training step (see the module docstring), in GFLOP."""
    n, (c, h, w), total = config.n, model.in_shape, 0.0
    for layer, c_out in enumerate(config.channels):
        h, w = h - config.m + 1, w - config.m + 1
        forward = 2 * n * c_out * h * w * c * config.m**2
        total += forward * (2 if layer == 0 else 3)
        c = c_out
    features = c * h * w
    widths = [features, config.hidden, config.d] if config.head == "fc" else [features, config.d]
    for a, b in zip(widths[:-1], widths[1:]):
        total += 3 * 2 * n * a * b
    return total / 1e9


def floor_seconds(config, repeats=5) -> dict:
    """The time of the products no trainer of this network can skip, each measured alone at its
    shape (median of ``repeats``): every conv layer's forward and backward pass (oneDNN,
    channels-last; no input gradient for the first layer) and each linear layer's three matrix
    products (forward, the weights' and the input's gradients). The reference runs the same
    kernels, so reference step / floor bounds the ratio any library could reach."""
    x, _, model = config.build()
    h, parts = x.contiguous(memory_format=torch.channels_last), {"convolutions": [], "matrix products": []}
    with torch.no_grad():
        for layer, conv in enumerate(model.convs):
            w = conv.weight.contiguous(memory_format=torch.channels_last)
            out = torch.nn.functional.conv2d(h, w, conv.bias)
            grad = torch.randn_like(out).contiguous(memory_format=torch.channels_last)
            mask = [layer > 0, True, True]
            forward = lambda h=h, w=w, b=conv.bias: torch.nn.functional.conv2d(h, w, b)
            backward = lambda g=grad, h=h, w=w, mask=mask: torch.ops.aten.convolution_backward(
                g, h, w, [w.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, mask)
            parts["convolutions"] += [forward, backward]
            h = torch.tanh(out)
        z = h.flatten(1)
        linears = [model.fc, model.readout] if config.head == "fc" else [model.readout]
        for lin in linears:
            W, G = lin.weight.detach(), torch.randn(z.shape[0], lin.weight.shape[0])
            parts["matrix products"] += [lambda z=z, W=W: z @ W.T, lambda z=z, G=G: G.T @ z, lambda G=G, W=W: G @ W]
            z = torch.randn(z.shape[0], lin.weight.shape[0])
    out = {}
    with _reuse_freed_memory("cpu"):  # as train() does: no page faults for the outputs
        for kind, fns in parts.items():
            for fn in fns:
                fn()  # warm-up: oneDNN builds its primitives on the first call
            out[kind] = statistics.median(sum(timed(fn)[1] for fn in fns) for _ in range(repeats))
    return out


def library_run(config, epochs, snapshot_epochs=()):
    """``train`` as ``run`` calls it (the FC head's weights are not recorded)."""
    x, y, model = config.build()
    return lambda: cl.train(model, x, y, optimizer=config.optimizer, lr=config.lr, epochs=epochs, loss=config.loss,
                            snapshot_epochs=snapshot_epochs, progress=False, unrecorded=UNRECORDED)


def library_step_only(config, epochs):
    """The library's training step alone: no loss, accuracy or snapshot recorded."""
    x, y, model = config.build()
    net = TwoLayerStack([model], x, y, config.loss) if covers([model], config.loss) else _Autograd([model], x, y, config.loss, False)
    opt = _optimizer(config.optimizer, net.params(), config.lr)

    def go():
        with _reuse_freed_memory("cpu"):  # as train() does
            for _ in range(epochs):
                net.step(grad=True)
                opt.step()

    return go


def reference_run(config, epochs):
    x, y, model = config.build()
    ref = reference_model(config, model)
    y = y.float() if config.loss != "ce" else y
    return lambda: reference_train(ref, x, y, config.optimizer, config.lr, epochs, config.loss)


def interleaved(makers: dict, repeats: int) -> dict:
    """Run each maker's function ``repeats`` times, round-robin; (wall, cpu) lists per name."""
    out = {name: ([], []) for name in makers}
    for name, make in makers.items():  # warm-up (oneDNN primitives, allocator)
        make()()
    for _ in range(repeats):
        for name, make in makers.items():
            fn = make()
            _, wall, cpu = timed(fn)
            out[name][0].append(wall)
            out[name][1].append(cpu)
    return out


def check_same_run(config, epochs) -> tuple[float, float]:
    """How far the library's run is from the reference's: the largest relative difference of
    their loss curves (asserted < 1e-5), and the difference of the first conv layer's kernels
    at the end relative to how far they moved (asserted < 1e-3)."""
    lib = library_run(config, epochs)()
    ref_loss, ref_w = reference_run(config, epochs)()
    loss_diff = float(np.max(np.abs(lib.loss[:epochs] - ref_loss) / np.abs(ref_loss)))
    w0, w1 = lib.snapshots["convs.0.weight"]
    kernel_diff = float(np.linalg.norm(w1 - ref_w) / np.linalg.norm(w1 - w0))
    if not (loss_diff < 1e-5 and kernel_diff < 1e-3):
        raise AssertionError(f"{config}: library and reference differ: loss {loss_diff:.1e}, kernels {kernel_diff:.1e}")
    return loss_diff, kernel_diff


def bench_setting(label, name, epochs, repeats):
    config = cl.get_config(name, "paper")
    diff = check_same_run(config, epochs)
    times = interleaved({"library": lambda: library_run(config, epochs),
                         "reference": lambda: reference_run(config, epochs)}, repeats)
    lib, ref = (statistics.median(times[k][0]) for k in ("library", "reference"))
    ratios = [r / l for l, r in zip(times["library"][0], times["reference"][0])]
    cpu_lib, cpu_ref = (statistics.median(times[k][1]) for k in ("library", "reference"))
    model = config.build()[2]
    flop = step_gflop(config, model)
    mem_lib, mem_ref = (peak_memory_of(label, which, epochs) for which in ("library", "reference"))
    floor = None if covers([model], config.loss) else floor_seconds(config, repeats)  # autograd settings only
    return dict(label=label, name=name, epochs=epochs, lib_eps=epochs / lib, ref_eps=epochs / ref, floor=floor,
                ratio=statistics.median(ratios), lib_cpu=cpu_lib / lib, ref_cpu=cpu_ref / ref, gflop=flop,
                lib_gflops=flop * epochs / lib, ref_gflops=flop * epochs / ref,
                mem_lib=mem_lib, mem_ref=mem_ref, diff=diff)


def bench_recording(label, name, epochs, repeats):
    config = cl.get_config(name, "paper")
    every = range(epochs + 1)
    times = interleaved({
        "step only": lambda: library_step_only(config, epochs),
        "epoch 0 only": lambda: library_run(config, epochs, (0,)),
        "default": lambda: library_run(config, epochs),
        "every epoch": lambda: library_run(config, epochs, every),
    }, repeats)
    base = statistics.median(times["step only"][0])
    return {k: (epochs / statistics.median(v[0]), statistics.median(v[0]) / base - 1) for k, v in times.items()}


def bench_seeds(label, x, y, make, epochs, repeats, S=SEEDS, optimizer="gd", lr=5e-6, loss="mse"):
    """S seeds (models ``make(seed)``) trained together on (x, y), against one run and a loop over the seeds."""
    args = dict(optimizer=optimizer, lr=lr, epochs=epochs, loss=loss)

    def batched():
        ms = [make(seed) for seed in range(S)]
        return lambda: cl.train(ms, x, y, **args, progress=False)

    def single():
        m = make(0)
        return lambda: cl.train(m, x, y, **args, progress=False)

    def overhead():  # the same run on one image: the operations' fixed cost, nearly no arithmetic
        m = make(0)
        return lambda: cl.train(m, x[:1], y[:1], **args, progress=False)

    def loop():
        ms = [make(seed) for seed in range(S)]
        return lambda: [cl.train(m, x, y, **args, progress=False) for m in ms]

    together, apart = batched()(), loop()()
    diff = max(float(np.max(np.abs(a.loss - b.loss) / np.abs(b.loss))) for a, b in zip(together, apart))
    if not diff < 1e-5:
        raise AssertionError(f"{label}: seeds trained together differ from seeds trained apart by {diff:.2e}")
    times = interleaved({"single": single, "overhead": overhead, "batched": batched, "loop": loop}, repeats)
    med = {k: statistics.median(v[0]) for k, v in times.items()}
    # if S seeds shared the fixed cost perfectly and each did its own arithmetic: overhead + S (single - overhead)
    best = (med["overhead"] + S * (med["single"] - med["overhead"])) / med["single"]
    return dict(label=label, S=S, epochs=epochs, single=med["single"], batched=med["batched"], loop=med["loop"],
                in_singles=med["batched"] / med["single"], diff=diff, overhead=med["overhead"], best=best)


def seed_settings():
    """(label, x, y, make(seed), epochs, lr): the two-layer model at the paper's size and at the theory chapters' sizes."""
    fig12 = cl.get_config("fig12", "paper")
    x, y, _ = fig12.build()
    paper = lambda seed: fig12.replace(seed=seed).build()[2]
    theory = lambda x, M: (lambda seed: cl.CNN(tuple(x.shape[1:]), (M,), m=3, activation="tanh", init="theory", eps=1e-5, seed=seed))
    # the theory chapters' runs: GD steps lr = lr_lambda / lambda_1 (condense_lib.gd_step)
    (x100, y100), (x50, y50) = cl.theory_config(n=100).data(), cl.theory_config(n=50, crop=6).data()
    lr_small = cl.gd_step(cl.spectrum(cl.build_Z(x100, y100, 3)).singular_values[0], 0.05)
    lr_tiny = cl.gd_step(cl.spectrum(cl.build_Z(x50, y50, 3)).singular_values[0], 0.1)
    return [("Fig. 12: n = 500 MNIST images, M = 32", x, y, paper, 20, fig12.lr),
            ("real vs linear chapter: n = 100, M = 32", x100, y100, theory(x100, 32), 100, lr_small),
            ("Theorem 1 chapter: n = 50, 6 x 6 crops, M = 16", x50, y50, theory(x50, 16), 35, lr_tiny)]


def bench_book():
    """Execute every notebook of the book with a fresh cache; (name, wall, CPU) per notebook."""
    import nbformat
    from nbclient import NotebookClient

    rows = []
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CONDENSE_CACHE"] = cache
        os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend draws the figures
        try:
            for path in sorted((ROOT / "book").glob("*.ipynb")):
                nb = nbformat.read(path, as_version=4)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                _, wall, _ = timed(lambda: NotebookClient(nb, timeout=1800, kernel_name="python3",
                                                          resources={"metadata": {"path": str(path.parent)}}).execute())
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                rows.append((path.name, wall, cpu))
                checkpoint()
                print(f"  {path.name:40s} {wall:7.1f} s wall {cpu:7.1f} s CPU", flush=True)
        finally:
            os.environ.clear()
            os.environ.update(env)
    return rows


# ----------------------------------------------------------------------------- report

def machine() -> list[str]:
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [f"- CPU: {model}, {os.cpu_count()} cores; torch {torch.__version__}, "
            f"`torch.get_num_threads()` = {torch.get_num_threads()}; Python {platform.python_version()}",
            "- load: see below"]


LOADS = []  # the 1-minute load average at each stage of the run


def checkpoint() -> None:
    LOADS.append(os.getloadavg()[0])


def report(rows, recording, seeds, book, mm_square, mm_fc) -> str:
    lines = ["| setting | library epochs/s | reference epochs/s | library / reference | GFLOP per step "
             "| library GFLOP/s (% of matmul) | reference GFLOP/s | library CPU/wall | peak memory library / reference (MiB) "
             "| max rel. diff.: loss curve; final kernels |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    mm = max(mm_fc, mm_square)  # the best rate of the whole run
    for r in rows:
        lines.append(
            f"| {r['label']} (`{r['name']}`, {r['epochs']} epochs a run) | {r['lib_eps']:.2f} | {r['ref_eps']:.2f} "
            f"| **{r['ratio']:.1f}x** | {r['gflop']:.2f} | {r['lib_gflops']:.0f} ({100 * r['lib_gflops'] / mm:.0f}%) "
            f"| {r['ref_gflops']:.0f} | {r['lib_cpu']:.2f} | {r['mem_lib']:.0f} / {r['mem_ref']:.0f} "
            f"| {r['diff'][0]:.0e}; {r['diff'][1]:.0e} |")
    lines += ["", f"Matmul rate of this machine (float32 `torch.mm`, the best of 5 runs before each setting): {mm_fc:.0f} GFLOP/s for "
              f"(500 x 25088) @ (25088 x 1024), the shape of Fig. 4's FC layer; {mm_square:.0f} GFLOP/s for "
              f"2048 x 2048 squares. The percentages use the larger.", ""]
    lines += ["Where the time goes: the convolutions and matrix products of one step, each timed alone at its "
              "shape (`floor_seconds`); both loops must run them, so the reference's step over their sum bounds "
              "the ratio any trainer could reach on this machine (Fig. 12 is not listed: its closed form replaces "
              "the convolution by products over the cut-out windows, see the appendix):", "",
              "| setting | library step (s) | reference step (s) | convolutions (s) | matrix products (s) "
              "| share of the library step | best possible ratio | library / reference |",
              "|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["floor"]):
        conv, mm_s = r["floor"]["convolutions"], r["floor"]["matrix products"]
        lib_step, ref_step = 1 / r["lib_eps"], 1 / r["ref_eps"]
        lines.append(f"| {r['label']} | {lib_step:.4f} | {ref_step:.4f} | {conv:.4f} | {mm_s:.4f} "
                     f"| {100 * (conv + mm_s) / lib_step:.0f}% | {ref_step / (conv + mm_s):.1f}x | {r['ratio']:.1f}x |")
    lines.append("")
    if recording:
        lines += ["Cost of recording (library, epochs per second; extra time against the training step alone):", "",
                  "| setting | step alone | loss + accuracy, epoch 0 only | + snapshots at 0 and E (default) | + snapshot every epoch |",
                  "|---|---|---|---|---|"]
        for label, rec in recording.items():
            cells = [f"{rec[k][0]:.2f} ({100 * rec[k][1]:+.0f}%)" for k in ("step only", "epoch 0 only", "default", "every epoch")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    if seeds:
        lines += ["Many seeds at once (the two-layer model; seconds for the whole run, median):", "",
                  "| setting | epochs | one seed | one seed on 1 image | S seeds together | S seeds one after another "
                  "| together, in single runs | the fixed cost shared, in single runs | max rel. diff. |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for s in seeds:
            lines.append(f"| {s['label']} | {s['epochs']} | {s['single']:.3f} | {s['overhead']:.3f} "
                         f"| {s['batched']:.3f} (S = {s['S']}) | {s['loop']:.3f} | **{s['in_singles']:.2f}** "
                         f"| {s['best']:.2f} | {s['diff']:.1e} |")
        lines += ["", "The run on one image costs the run's operations without their arithmetic: the fixed part "
                  "that S seeds trained together can share. Each seed's own arithmetic and memory traffic cannot be "
                  "shared: sharing the fixed part and nothing else, S seeds would cost that part plus S times the "
                  "rest (the column before last). Together below that column means the wider products of S seeds "
                  "also run faster per seed; above it, that the fixed part is not all shared."]
        lines.append("")
    if book:
        total_wall, total_cpu = sum(r[1] for r in book), sum(r[2] for r in book)
        lines += ["Executing the book at the fast scale, fresh cache (nbclient, one notebook after another):", "",
                  "| notebook | wall (s) | CPU (s) |", "|---|---|---|"]
        lines += [f"| {name} | {wall:.1f} | {cpu:.1f} |" for name, wall, cpu in book]
        lines += [f"| **total** | **{total_wall:.1f}** | **{total_cpu:.1f}** |", ""]
    checkpoint()
    lines += ["Machine:", ""] + machine()
    lines[-1] = (f"- 1-minute load average, read at each stage of the run: from {min(LOADS):.2f} to {max(LOADS):.2f}; "
                 f"the benchmark alone keeps about 2 threads busy, so much more than that means other "
                 f"processes shared the {os.cpu_count()} cores, and the times above are noisier for it")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (median reported)")
    parser.add_argument("--book", action="store_true", help="also execute every notebook of the book")
    parser.add_argument("--only", nargs="*", default=None, help="settings to run (e.g. 'Fig. 12'); default all")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    parser.add_argument("--peak-memory", nargs=3, metavar=("SETTING", "WHICH", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_memory:  # the child process of peak_memory_of
        label, which, epochs = args.peak_memory
        config = cl.get_config(SETTINGS[label][0], "paper")
        make = library_run if which == "library" else reference_run
        make(config.replace(n=8), 1)()  # loads the libraries' code (MKL, oneDNN), which counts in the RSS
        print(f"{peak_memory(make(config, int(epochs))):.1f}")
        return 0
    checkpoint()
    mm_fc, mm_square = 0.0, 0.0
    rows, recording = [], {}
    for label, (name, epochs) in SETTINGS.items():
        if args.only and label not in args.only:
            continue
        # the machine's rate: the best of a measurement before each setting (a load lowers it)
        mm_fc, mm_square = max(mm_fc, matmul_gflops()), max(mm_square, matmul_gflops((2048, 2048, 2048)))
        print(f"matmul so far: {mm_fc:.0f} GFLOP/s (FC shape), {mm_square:.0f} GFLOP/s (square)", flush=True)
        row = bench_setting(label, name, epochs, args.repeats)
        checkpoint()
        print(f"{label}: library {row['lib_eps']:.2f} epochs/s, reference {row['ref_eps']:.2f}, "
              f"ratio {row['ratio']:.2f}, library {row['lib_gflops']:.0f} GFLOP/s, floor {row['floor']}", flush=True)
        rows.append(row)
        recording[label] = bench_recording(label, name, epochs, args.repeats)
        checkpoint()
        print(f"  recording: {recording[label]}", flush=True)
    seeds = []
    if not args.only or "seeds" in args.only:
        for label, x, y, make, epochs, lr in seed_settings():
            seeds.append(bench_seeds(label, x, y, make, epochs, args.repeats, lr=lr))
            checkpoint()
            print(f"seeds: {seeds[-1]}", flush=True)
    book = bench_book() if args.book else []
    text = report(rows, recording, seeds, book, mm_square, mm_fc)
    print(text)
    Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
