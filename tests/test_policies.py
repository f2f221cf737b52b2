"""The library's one device policy, one scale policy and one progress policy."""
import numpy as np
import pytest
import torch

import condense_lib as cl
from condense_lib.training.progress import progress_bar, set_progress_policy, show_progress

TINY = cl.Config(split="test", n=6, crop=6, channels=(2,), epochs=2, lr=1e-3)


def test_device_none_is_the_best_this_machine_has(monkeypatch):
    monkeypatch.delenv("CONDENSE_DEVICE", raising=False)
    assert cl.resolve_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("CONDENSE_DEVICE", "cpu")
    assert cl.resolve_device() == torch.device("cpu")
    assert cl.resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a torch device"):
        cl.resolve_device("bogus")


def test_every_function_that_trains_takes_device_by_keyword_only():
    import inspect

    for fn in (cl.run, cl.train, cl.sweep, cl.seconds_per_epoch, cl.layer_order, cl.linear_regime, cl.theorem1_scan,
               cl.regimes, cl.phase_diagram, cl.seed_spread, cl.compare_optimizers, cl.sensitivity,
               cl.after_initial_stage, cl.figure_report, cl.train_group):
        p = inspect.signature(fn).parameters["device"]
        assert p.kind == p.KEYWORD_ONLY and p.default is None, fn.__name__


def test_scale_policy(monkeypatch, tmp_cache, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    monkeypatch.delenv("CONDENSE_SCALE", raising=False)
    assert cl.resolve_scale() == "fast" and cl.resolve_scale("paper") == "paper"
    monkeypatch.setenv("CONDENSE_SCALE", "paper")
    assert cl.resolve_scale() == "paper" and cl.resolve_scale("fast") == "fast"
    runs = lambda scale: [TINY.replace(seed=1 if scale == "paper" else 0)]
    assert cl.resolve_scale("auto", runs) == "fast"  # the paper's run is not cached
    cl.run(runs("paper")[0], progress=False)
    assert cl.resolve_scale("auto", runs) == "paper"
    monkeypatch.setenv("CONDENSE_SCALE", "auto")
    assert cl.resolve_scale(None, runs) == "paper"
    with pytest.raises(ValueError, match="needs the runs"):
        cl.resolve_scale("auto")
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        cl.resolve_scale("huge")
    assert cl.FIGURES["fig12"].scale("fast") == "fast"


def test_progress_policy_is_passed_in_from_above(monkeypatch):
    monkeypatch.delenv("CONDENSE_PROGRESS", raising=False)
    saved = show_progress.__globals__["_POLICY"][0]
    try:
        set_progress_policy(lambda: True)
        assert show_progress() and show_progress(False) is False
        set_progress_policy(lambda: False)
        assert not show_progress() and progress_bar(5) is None
        monkeypatch.setenv("CONDENSE_PROGRESS", "1")
        assert show_progress()
    finally:
        set_progress_policy(saved)
    bars = []

    class Bar:
        def __init__(self, total):
            self.total, self.n = total, 0
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    model = cl.CNN((1, 5, 5), (2,), m=3, head="linear", d=1, init="theory", eps=0.1, seed=0)
    cl.train(model, torch.zeros(3, 1, 5, 5), torch.ones(3), epochs=4, progress=Bar, device="cpu")
    assert len(bars) == 1 and bars[0].total == bars[0].n == 4
    with pytest.raises(TypeError):
        set_progress_policy("yes")
    np.testing.assert_equal(progress_bar(0, True), None)
