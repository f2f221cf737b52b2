"""The paper's own settings, trained on the CPU and held to the chapters' claims (``cl.CLAIMS``).

Marker ``paper``: deselected by default (pyproject's ``addopts``); ``make paper-check`` runs
them. Each figure is first timed (``cl.seconds_per_epoch``) and skipped, with its estimate,
when the whole run would take longer than ``CONDENSE_PAPER_LIMIT`` seconds (default 900).
A failure means the paper's own setting does not show what the paper says of its figure;
the message gives the numbers. Results go to ``CONDENSE_CACHE`` like every run.
"""
import os
import time

import pytest

import condense_lib as cl

pytestmark = pytest.mark.paper

# The figures a CPU can afford at the paper scale (the others take hours: see
# `python -m condense_lib list --scale paper --estimate`).
AFFORDABLE = ["fig10_sigmoid", "fig10_relu", "fig10_tanh", "fig11", "fig9", "fig5", "fig12", "fig6", "fig4_tanh"]


@pytest.fixture(autouse=True)
def _data(monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))


@pytest.mark.parametrize("name", AFFORDABLE)
def test_the_papers_setting_shows_the_papers_claim(name, record_property):
    config = cl.get_config(name, "paper")
    limit = float(os.environ.get("CONDENSE_PAPER_LIMIT", "900"))
    if not cl.is_cached(config):
        estimate = config.epochs * cl.seconds_per_epoch(config)
        if estimate > limit:
            pytest.skip(f"{name} at the paper scale: about {estimate:.0f} s here, over CONDENSE_PAPER_LIMIT={limit:.0f}")
    start = time.perf_counter()
    result = cl.run(config, progress=False)
    record_property("seconds", round(time.perf_counter() - start, 1))
    numbers = cl.figure_numbers(name, result, "paper")
    shown = {k: (v.round(3).tolist() if hasattr(v, "round") else round(v, 4)) for k, v in numbers.items()}
    record_property("numbers", shown)
    print(f"\n{name} (paper scale): {time.perf_counter() - start:.0f} s; {shown}")
    cl.check_figure(name, result, "paper")


def test_the_layer_order_follows_each_layers_own_scale_at_the_papers_setting(record_property):
    """The MNIST chapter's causal test of "deeper layers first" (``cl.layer_order``), at Fig. 11's
    paper setting on 100 of its images (five runs, about two minutes here), held to ``cl.LAYER_ORDER_CLAIMS``, the
    claims the chapter checks."""
    start = time.perf_counter()
    order = cl.layer_order(cl.get_config("fig11", "paper").replace(n=100), cl.LAYER_ORDER_FACTORS)
    record_property("seconds", round(time.perf_counter() - start, 1))
    record_property("onsets", order.onsets.tolist())
    cl.check_layer_order(order)
