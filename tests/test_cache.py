"""condense_lib.cache: the round trip, atomic writes, files cut short or holding another
configuration, and the hash of a configuration."""
import numpy as np
import pytest

from condense_lib import Config, cache_dir, config_hash, load_or_compute
from condense_lib.cache import cache_path


def test_round_trip_and_atomic_write(tmp_cache):
    calls = []
    compute = lambda: calls.append(1) or {"a": np.arange(3.0)}
    first = load_or_compute("t", {"k": 1}, compute)
    second = load_or_compute("t", {"k": 1}, compute)
    assert calls == [1] and np.array_equal(first["a"], second["a"])
    files = sorted(p.name for p in cache_dir().iterdir())
    assert files == [f"t-{config_hash({'k': 1})}.npz"]  # no temporary file left behind
    assert cache_path("t", {"k": 1}) == cache_dir() / files[0]


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
