"""condense_lib.plotting: the animated heatmaps are self-contained, and the scrubber
picks a slider only in a live notebook session."""
import sys

import pytest

import condense_lib as cl


def test_animation_is_self_contained_html(small_run):
    pytest.importorskip("IPython")  # the player is an IPython.display.HTML
    import matplotlib

    matplotlib.use("Agg")
    frames = cl.cosine_frames(small_run)
    html = cl.heatmap_animation(frames).data
    assert html.count("data:image/png;base64") == len(small_run.epochs)  # one embedded frame per snapshot
    assert "http" not in html.replace("http://www.w3.org", "")  # nothing to fetch
    assert "fa fa-" not in html and "&#9654;" in html  # the buttons are characters, not web-font icons
    assert len(html) < 200_000


def test_scrubber_picks_a_slider_only_in_a_live_session(small_run, monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("Agg")
    frames = cl.cosine_frames(small_run)
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


def test_regime_comparison_draws_three_labelled_panels_within_the_width():
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    G, K, S, T = 2, 2, 1, 6
    shape = (G, K, S, T)
    comp = cl.Regimes(
        scale="fast", gammas_eps=np.array([0.5, 2.0]), widths=np.array([4, 16]), seeds=np.arange(S),
        eps=np.full((G, K), 0.1), reference="zero", level=0.7, lr=np.full((G, K), 0.01),
        loss=np.broadcast_to(np.linspace(1, 0.5, T), shape), change=rng.uniform(0.01, 1, shape),
        align=rng.uniform(0.3, 1, shape), lambda_t=np.broadcast_to(np.arange(T) * 0.1, shape),
        stop=np.array([2, 2, 3, -1]).reshape(G, K, S), aligned=np.zeros((G, K, S)))
    axes = cl.regime_comparison(comp)
    assert len(axes) == 3 and all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert axes[0].figure.get_figwidth() <= 8.0
    assert len(axes[1].get_legend().get_texts()) == G * K
    assert comp.at_stop("change")[0, 0, 0] == comp.change[0, 0, 0, 2] and np.isnan(comp.at_stop("change")[1, 1, 0])


def test_optimizer_figures_draw_labelled_panels_within_the_width():
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)
    R, S, M, D = 3, 5, 6, 10
    Z = rng.normal(size=(8, D)) + 2
    comp = cl.OptimizerComparison(
        config=cl.theory_config(), optimizers=("gd", "adam", "adam"), lrs=np.array([1e-2, 1e-6, 2e-6]), scale=1e-5,
        level=0.9, epochs=np.arange(S) * 2, loss=np.linspace(2, 1, 9)[None].repeat(R, 0),
        aligned=rng.uniform(0, 1, (R, S)), directions=rng.uniform(1, 3, (R, S)), align_v1=rng.uniform(0, 1, (R, S)),
        align_sign=rng.uniform(0, 1, (R, S)), phi=rng.uniform(1, 9, (R, S)), lead=rng.normal(size=(R, D - 1)),
        lead_bias=rng.normal(size=(R, D)), kernels=rng.normal(size=(R, M, D - 1)), onset=np.array([4.0, 2.0, np.inf]),
        energy_onset=np.array([6.0, np.inf, 4.0]), spectrum=cl.spectrum(Z), s_W=np.sign(rng.normal(size=D)),
        s_a=np.ones(8))
    for axes in (cl.optimizer_curves(comp), cl.optimizer_directions(comp)):
        assert len(axes) == 3 and all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
        assert axes[0].figure.get_figwidth() <= 8.0
    assert comp.displacement.tolist()[:2] == pytest.approx([4e3, 0.2])


def test_growth_vs_rate_draws_one_labelled_panel_per_study_with_the_kernels():
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)
    M, S = 5, 3

    def study(name, rates):
        return cl.MultiplicityStudy(
            activation=name, multiplicity=2, epochs=np.arange(S) * 2, loss_ratio=np.ones(S), stop=2, time=0.5, drop=0.9,
            aligned=np.zeros(S), directions=np.full(S, 4.0), predicted=rng.normal(size=(M, 4)), rates=rates,
            predicted_shared=rng.normal(size=(M, 4)), growth=rng.uniform(1, 5, M), cos_start=rng.uniform(0, 1, M),
            cos_stop=rng.uniform(0, 1, M))

    studies = [study("xtanh", rng.uniform(0, 4, M)), study("tanh", np.full(M, 3.0))]
    axes = cl.growth_vs_rate(studies)
    assert len(axes) == 2 and all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    assert axes[0].figure.get_figwidth() <= 8.0 and axes[0].get_title() == "xtanh, epoch 2"
    np.testing.assert_allclose(axes[0].collections[0].get_offsets()[:, 0], studies[0].rates * 0.5)
    np.testing.assert_allclose(axes[1].collections[0].get_offsets()[:, 1], studies[1].growth)
