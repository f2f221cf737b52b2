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
