"""The figures' configurations, the cached runner on bad cache files, the command line,
the measures along a run (against a loop written from eqs. 5 and the SVD) and the
epoch scrubbers."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import condense_lib as cl
from condense_lib import experiments
from condense_lib.__main__ import main
from condense_lib.cache import cache_dir, config_hash

ROOT = Path(__file__).resolve().parents[1]

# The paper's settings (Sec. 4, App. A; /shared/PAPER_MAP.md): dataset, conv channels, m,
# activation, gamma, optimizer, lr, loss, head, last epoch shown.
PAPER = {
    "fig2": ("cifar10", (32, 32, 32), 5, "tanh", 2.0, "adam", 2e-6, "ce", "fc", None),
    "fig3": ("cifar10", (32, 32, 32), 5, "tanh", 2.0, "adam", 2e-6, "ce", "fc", 300),
    "fig4_relu": ("cifar10", (32,), 5, "relu", 2.0, "adam", 5e-7, "ce", "fc", 1000),
    "fig4_sigmoid": ("cifar10", (32,), 5, "sigmoid", 2.0, "adam", 5e-7, "ce", "fc", 5000),
    "fig4_tanh": ("cifar10", (32,), 5, "tanh", 2.0, "adam", 5e-7, "ce", "fc", 300),
    "fig5": ("cifar10", (32, 32, 32), 5, "tanh", 1.2, "adam", 1e-6, "mse_softmax", "linear", 300),
    "fig6": ("cifar10", (32,), 3, "tanh", 4.0, "gd", 5e-6, "mse", "linear", 4500),
    "fig9": ("cifar10", (32, 32, 32), 3, "tanh", 2.0, "adam", 5e-6, "mse", "linear", 200),
    "fig10_sigmoid": ("mnist", (32,), 5, "sigmoid", 2.0, "adam", 5e-7, "mse", "linear", 252),
    "fig10_relu": ("mnist", (32,), 5, "relu", 2.0, "adam", 5e-7, "mse", "linear", 302),
    "fig10_tanh": ("mnist", (32,), 5, "tanh", 2.0, "adam", 5e-6, "mse", "linear", 200),
    "fig11": ("mnist", (32, 32, 32), 5, "tanh", 2.0, "adam", 5e-7, "mse", "linear", 100),
    "fig12": ("mnist", (32,), 3, "tanh", 2.0, "gd", 5e-6, "mse", "linear", 3600),
    "fig13": ("mnist", (320,), 3, "tanh", 2.0, "gd", 5e-6, "mse", "linear", 7000),
}
# Fast runs whose lr x epochs differs from the paper's, on purpose (see their `differs`).
OTHER_BUDGET = {"fig2", "fig3", "fig8", "fig5"}


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_scale_is_the_papers_setting(name):
    dataset, channels, m, act, gamma, opt, lr, loss, head, last = PAPER[name]
    c = cl.get_config(name, "paper")
    assert (c.dataset, c.channels, c.m, c.activation, c.gamma, c.optimizer, c.lr, c.loss, c.head) == (
        dataset, channels, m, act, gamma, opt, lr, loss, head)
    assert c.n == 500 and c.sigma_2 == 1e-4 and c.init == "paper"
    assert c.d == (10 if loss in ("ce", "mse_softmax") else 1)
    if last is not None:
        assert max(cl.shown_epochs(name, "paper")) == last


@pytest.mark.parametrize("name", sorted(cl.FIGURES))
def test_fast_scale_keeps_the_phenomenon(name):
    paper, fast = cl.get_config(name, "paper"), cl.get_config(name, "fast")
    same = ("dataset", "split", "channels", "m", "activation", "head", "d", "gamma", "optimizer", "loss", "target", "init")
    assert all(getattr(paper, k) == getattr(fast, k) for k in same)
    assert fast.n <= paper.n and fast.epochs < paper.epochs
    if name not in OTHER_BUDGET:  # same gradient-flow time (GD) or Adam budget lr x epochs
        assert fast.lr * fast.epochs == pytest.approx(paper.lr * paper.epochs, rel=0.02)
    frames = len(fast.snapshot_epochs or (0, fast.epochs))
    assert frames >= (3 if name == "fig12" else 6)  # enough snapshots for a scrubber
    assert cl.get_figure(name).differs  # the book says what differs


def test_figures_2_3_8_share_one_run_and_fig12_feeds_the_first_chapter():
    assert cl.get_config("fig2", "fast") == cl.get_config("fig3", "fast") == cl.get_config("fig8", "fast")
    assert cl.shown_epochs("fig3", "fast") < cl.shown_epochs("fig2", "fast")
    fast = cl.get_config("fig12", "fast")
    assert (fast.lr, fast.epochs, fast.snapshot_epochs) == (5e-5, 360, (0, 180, 360))


def test_names_scales_and_selections(monkeypatch):
    assert cl.FIGURES["fig12"]["paper"] is cl.get_config("fig12", "paper")
    assert cl.figure_names("fig4") == ["fig4_relu", "fig4_sigmoid", "fig4_tanh"]
    assert cl.figure_names(["fig12", "fig10", "fig12"]) == ["fig12", "fig10_sigmoid", "fig10_relu", "fig10_tanh"]
    assert cl.figure_names("all") == list(cl.FIGURES)
    with pytest.raises(ValueError, match="unknown figure 'fig7'"):
        cl.figure_names(["fig2", "fig7"])
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        cl.get_config("fig99")
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        cl.shown_epochs("fig5", "huge")
    with pytest.raises(KeyError, match="unknown scale"):
        cl.FIGURES["fig5"]["huge"]
    monkeypatch.setenv("CONDENSE_SCALE", "paper")
    assert cl.get_config("fig5") is cl.get_config("fig5", "paper")
    assert cl.shown_epochs("fig5") == (200, 300, 300)
    monkeypatch.setenv("CONDENSE_SCALE", "huge")
    with pytest.raises(ValueError, match="CONDENSE_SCALE='huge'"):
        cl.shown_epochs("fig5")


def test_a_figure_must_show_recorded_epochs():
    c = cl.get_config("fig12", "fast")
    with pytest.raises(ValueError, match="must be recorded"):
        experiments.Figure("x", "", c, c, (3600,), (359,), "")


# ----------------------------------------------------------------------------- the runner

TINY = cl.Config(split="test", n=8, channels=(2, 3), m=3, epochs=4, lr=1e-3, snapshot_epochs=(0, 2, 4))


def _path(config):
    return cache_dir() / f"run-{config_hash({**config.to_dict(), 'results_version': experiments.RESULTS_VERSION})}.npz"


def test_cut_short_or_foreign_cache_files_are_recomputed(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    first = cl.run(TINY, progress=False)
    path = _path(TINY)
    path.write_bytes(path.read_bytes()[:300])  # cut short
    with pytest.warns(UserWarning, match="recomputing"):
        again = cl.run(TINY, progress=False)
    assert np.array_equal(first.loss, again.loss)
    # another configuration's file under this configuration's name is not trusted
    other = TINY.replace(lr=2e-3)
    cl.run(other, progress=False)
    path.write_bytes(_path(other).read_bytes())
    with pytest.warns(UserWarning, match="recomputing"):
        third = cl.run(TINY, progress=False)
    assert np.array_equal(first.loss, third.loss)


def test_a_file_without_the_conv_snapshots_is_recomputed(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    from condense_lib.cache import read_npz, write_npz

    cl.run(TINY, progress=False)
    key = {**TINY.to_dict(), "results_version": experiments.RESULTS_VERSION}
    arrays = read_npz(_path(TINY), key)
    del arrays["param/convs.1.weight"]
    write_npz(_path(TINY), arrays, key)
    with pytest.warns(UserWarning, match="recomputing"):
        result = cl.run(TINY, progress=False)
    assert result.snapshots["convs.1.weight"].shape == (3, 3, 2, 3, 3)


def test_the_fc_hidden_layer_is_not_recorded(tmp_cache, data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    config = TINY.replace(head="fc", hidden=16, d=10, target="class", loss="ce", optimizer="adam")
    result = cl.run(config, progress=False)
    assert sorted(result.snapshots) == ["convs.0.bias", "convs.0.weight", "convs.1.bias", "convs.1.weight",
                                        "readout.bias", "readout.weight"]
    assert np.array_equal(result.epochs, [0, 2, 4])


def test_no_progress_bar_in_a_headless_run(tmp_cache, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    monkeypatch.delenv("CONDENSE_PROGRESS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    cl.run(TINY, use_cache=False)  # stderr is captured, not a terminal: no bar, no timings
    assert "training" not in capsys.readouterr().err
    monkeypatch.setenv("CONDENSE_PROGRESS", "1")
    cl.run(TINY, use_cache=False)
    assert "training" in capsys.readouterr().err


def test_tf32_is_off_during_a_cuda_run_and_restored_after():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        with experiments._full_float32("cuda"):
            assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        with experiments._full_float32("cpu"):
            assert torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_describe_says_what_differs_at_the_fast_scale():
    fast, paper = cl.get_figure("fig6").describe("fast"), cl.get_figure("fig6").describe("paper")
    assert "lr = 0.00015 for 150 epochs" in fast and "differs from the paper" in fast
    assert "lr = 5e-06 for 4500 epochs" in paper and "differs" not in paper
    assert all(len(line) <= 100 for line in fast.splitlines())


# ----------------------------------------------------------------------------- command line

def test_cli_list_and_unknown_names(tmp_cache, capsys):
    assert main(["list", "--scale", "paper"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cl.FIGURES) and "lr=5e-06" in out
    assert main(["run", "fig99"]) == 2
    assert "unknown figure 'fig99'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["run", "fig12", "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


def test_cli_as_a_program(tmp_cache):
    env = {**os.environ, "CONDENSE_CACHE": str(tmp_cache)}
    ok = subprocess.run([sys.executable, "-m", "condense_lib", "list"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "fig12" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "condense_lib", "run", "fig1"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "unknown figure 'fig1'" in bad.stderr
    scale = subprocess.run([sys.executable, "-m", "condense_lib", "run", "fig12", "--scale", "huge"],
                           capture_output=True, text=True, env=env)
    assert scale.returncode != 0 and "invalid choice: 'huge'" in scale.stderr


def test_cli_run_fills_the_cache_once_for_a_shared_run(tmp_cache, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("condense_lib.__main__.run", lambda config, **kw: calls.append((config, kw)))
    assert main(["run", "fig2", "fig3", "fig8", "--scale", "fast", "--quiet"]) == 0
    assert len(calls) == 1 and calls[0][0] == cl.get_config("fig2", "fast")
    assert calls[0][1] == {"device": "cpu", "progress": False}
    assert capsys.readouterr().out.count("same run as above") == 2


# ----------------------------------------------------------------------------- measures along a run

@pytest.fixture(scope="module")
def result():
    """A small two-conv-layer run (a toy problem: the tests check arithmetic, not the paper)."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn((12, 2, 9, 9), generator=g, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)
    model = cl.CNN((2, 9, 9), (4, 5), m=3, init="theory", eps=0.5, seed=1).double()
    return cl.train(model, x, y, "gd", lr=0.05, epochs=6, snapshot_epochs=[0, 3, 6], progress=False)


def _loop_measures(W):
    """aligned fraction and participation ratio of the rows of W, from the definitions."""
    rows = [w / np.sqrt(sum(v * v for v in w)) for w in W]
    M = np.array(rows)
    s = np.linalg.svd(M, compute_uv=False)
    v = np.linalg.svd(M)[2][0]
    aligned = np.mean([abs(float(np.dot(u, v))) > 0.9 for u in rows])
    return aligned, (s ** 2).sum() ** 2 / (s ** 4).sum()


@pytest.mark.parametrize("per", ["kernel", "filter"])
def test_measure_matches_a_loop(result, per):
    got = cl.measure(result, per=per)
    assert got.aligned.shape == got.directions.shape == (3, 2)
    for s, e in enumerate(result.epochs):
        for layer in range(2):
            W = result.snapshots[f"convs.{layer}.weight"][s]  # (C_out, C_in, m, m)
            rows = W.reshape(W.shape[0] * W.shape[1], -1) if per == "kernel" else W.reshape(W.shape[0], -1)
            aligned, directions = _loop_measures(rows)
            assert got.aligned[s, layer] == pytest.approx(aligned)
            assert got.directions[s, layer] == pytest.approx(directions)
    a, d = got.at((6, 3))  # one epoch per layer
    assert a.tolist() == [got.aligned[2, 0], got.aligned[1, 1]] and d[1] == got.directions[1, 1]
    assert "layer 2" in got.table() and len(got.table().splitlines()) == 4
    with pytest.raises(ValueError, match="epoch 5 was not recorded"):
        got.at(5)
    with pytest.raises(ValueError, match="one per conv layer"):
        got.at((0, 3, 6))


def test_cosine_frames_keep_one_order_and_equal_eq5(result):
    frames = cl.cosine_frames(result, per="kernel", order_at=(3, 6))
    assert frames.layers == (0, 1) and frames.ordered_at == (3, 6)
    for j, layer in enumerate(frames.layers):
        order = frames.order[j]
        assert sorted(order.tolist()) == list(range(frames.cos[j].shape[1]))
        for s, e in enumerate(result.epochs):
            W = result.snapshots[f"convs.{layer}.weight"][s]
            V = W.reshape(-1, 9)[order]
            loop = np.array([[u @ v / np.sqrt((u @ u) * (v @ v)) for v in V] for u in V])  # eq. 5
            np.testing.assert_allclose(frames.at(int(e), layer), loop, atol=1e-6)
    only = cl.cosine_frames(result, layers=[1])
    assert only.layers == (1,) and only.cos[0].shape == (3, 5, 5)
    with pytest.raises(ValueError, match="was not drawn"):
        only.at(0, 0)
    with pytest.raises(ValueError, match="no conv layer 2"):
        cl.cosine_frames(result, layers=[2])
    with pytest.raises(ValueError, match="epoch 4 was not recorded"):
        cl.cosine_frames(result, order_at=4)
    with pytest.raises(ValueError, match="unknown per"):
        cl.measure(result, per="channel")
    with pytest.raises(TypeError, match="TrainResult"):
        cl.measure({"loss": 1})


# ----------------------------------------------------------------------------- scrubbers

def test_animation_is_self_contained_html(result):
    pytest.importorskip("IPython")  # the player is an IPython.display.HTML
    import matplotlib

    matplotlib.use("Agg")
    frames = cl.cosine_frames(result)
    html = cl.heatmap_animation(frames).data
    assert html.count("data:image/png;base64") == len(result.epochs)  # one embedded frame per snapshot
    assert "http" not in html.replace("http://www.w3.org", "")  # nothing to fetch
    assert "fa fa-" not in html and "&#9654;" in html  # the buttons are characters, not web-font icons
    assert len(html) < 200_000


def test_scrubber_picks_a_slider_only_in_a_live_session(result, monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    frames = cl.cosine_frames(result)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not cl.live_frontend()
    assert "data:image/png" in cl.scrubber(frames).data
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/figures_mnist.ipynb")
    assert cl.live_frontend()
    box = cl.scrubber(frames)
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.SelectionSlider) and list(slider.options) == [0, 3, 6]
    assert "data:image/png" in cl.scrubber(frames, interactive=False).data
