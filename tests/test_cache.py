import warnings

import numpy as np
import pytest

from condense_lib import Config, cache_dir, config_hash, get_config, load_or_compute, run
from condense_lib import experiments


def test_round_trip_and_atomic_write(tmp_cache):
    calls = []
    compute = lambda: calls.append(1) or {"a": np.arange(3.0)}
    first = load_or_compute("t", {"k": 1}, compute)
    second = load_or_compute("t", {"k": 1}, compute)
    assert calls == [1] and np.array_equal(first["a"], second["a"])
    files = sorted(p.name for p in cache_dir().iterdir())
    assert files == [f"t-{config_hash({'k': 1})}.npz"]  # no temporary file left behind


def test_truncated_or_foreign_file_is_recomputed(tmp_cache):
    calls = []
    compute = lambda: calls.append(1) or {"a": np.ones(1000)}
    load_or_compute("t", {"k": 2}, compute)
    path = cache_dir() / f"t-{config_hash({'k': 2})}.npz"
    path.write_bytes(path.read_bytes()[:200])  # cut short
    with pytest.warns(UserWarning, match="recomputing"):
        out = load_or_compute("t", {"k": 2}, compute)
    assert calls == [1, 1] and out["a"].shape == (1000,)
    # a file holding another configuration under this name is not trusted
    other = cache_dir() / f"t-{config_hash({'k': 3})}.npz"
    other.write_bytes(path.read_bytes())
    with pytest.warns(UserWarning):
        load_or_compute("t", {"k": 3}, compute)
    assert calls == [1, 1, 1]


def test_hash_depends_on_every_field():
    c = Config()
    assert config_hash(c.to_dict()) != config_hash(c.replace(lr=1e-5).to_dict())
    assert config_hash(c.to_dict()) == config_hash(Config().to_dict())


def test_run_trains_once(tmp_cache, monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    cfg = Config(split="test", n=8, channels=(2,), epochs=3, lr=1e-3)
    first = run(cfg, progress=False)
    monkeypatch.setattr(experiments, "train", lambda *a, **k: pytest.fail("trained twice"))
    second = run(cfg, progress=False)
    assert np.array_equal(first.loss, second.loss) and first.epochs.tolist() == [0, 3]


def test_figure_and_scale_names(monkeypatch):
    assert get_config("fig12", "paper").lr == 5e-6 and get_config("fig12", "paper").epochs == 3600
    fast = get_config("fig12", "fast")
    assert fast.time == pytest.approx(get_config("fig12", "paper").time)
    with pytest.raises(ValueError, match="unknown figure 'fig99'"):
        get_config("fig99")
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        get_config("fig12", "huge")
    monkeypatch.setenv("CONDENSE_SCALE", "tiny")
    with pytest.raises(ValueError, match="CONDENSE_SCALE='tiny'"):
        get_config("fig12")
    with pytest.raises(TypeError, match="takes a Config"):
        run("fig12")
