"""condense_lib.cache: the round trip, atomic writes, files cut short or holding another
configuration, and the hash of a configuration."""
import errno
import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import condense_lib as cl
from condense_lib import Config, cache_dir, config_hash, load_or_compute, run
from condense_lib.training import runner as experiments
from condense_lib.training.cache import CacheError, cache_path, lookup, read_npz, write_npz

CACHE_PY = Path(__file__).resolve().parents[1] / "condense_lib" / "training" / "cache.py"
TINY = Config(split="test", n=10, crop=8, channels=(2,), epochs=3, lr=1e-3)
ARRAYS = lambda: {"a": np.arange(4.0)}


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


@pytest.fixture(autouse=True)
def _data(monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))


def _no_training(monkeypatch):
    monkeypatch.setattr(experiments, "train", lambda *a, **k: pytest.fail("trained although the cache is unusable"))


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_an_unwritable_cache_fails_before_training(tmp_path, monkeypatch, data_dir, where):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CONDENSE_CACHE", str(blocker / "cache" if where == "under-a-file" else blocker))
    _no_training(monkeypatch)
    with pytest.raises(CacheError, match=rf"the results cache folder {blocker}.* is not writable.*set CONDENSE_CACHE"):
        run(TINY, progress=False)
    assert blocker.read_text() == "not a folder"


def test_a_full_disk_at_the_probe_fails_before_computing(tmp_cache, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CacheError, match="No space left on device"):
        load_or_compute("t", {"k": 1}, lambda: pytest.fail("computed although the cache is full"))
    assert list(tmp_cache.iterdir()) == []  # the probe file is gone


def test_a_write_that_fails_after_training_returns_the_result(tmp_cache, monkeypatch, data_dir):
    import shutil

    real = experiments.train

    def train_then_lose_the_folder(*args, **kwargs):
        result = real(*args, **kwargs)
        shutil.rmtree(tmp_cache)
        tmp_cache.write_text("the cache folder became a file")  # a fault during training
        return result

    monkeypatch.setattr(experiments, "train", train_then_lose_the_folder)
    with pytest.warns(RuntimeWarning, match=rf"could not store the result in the cache folder {tmp_cache} .*returned"):
        result = run(TINY, progress=False)
    assert result.loss.shape == (4,) and np.isfinite(result.loss).all()


def test_a_full_disk_at_the_write_returns_the_result_and_leaves_no_temporary_file(tmp_cache, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        out = load_or_compute("t", {"k": 1}, ARRAYS)
    assert out["a"].tolist() == [0, 1, 2, 3] and list(tmp_cache.iterdir()) == []


def test_a_folder_at_the_files_path_fails_before_computing(tmp_cache):
    (tmp_cache / f"t-{config_hash({'k': 1})}.npz").mkdir(parents=True)
    with pytest.raises(CacheError, match=r"t-[0-9a-f]{16}.npz is in the way of the cache file and is not a file"):
        load_or_compute("t", {"k": 1}, lambda: pytest.fail("computed although the file cannot be written"))


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_cache_variable_means_the_default(monkeypatch, value):
    monkeypatch.setenv("CONDENSE_CACHE", value)
    assert cache_dir() == Path.home() / ".cache" / "condense_lib" / "results"


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "", "/abs", ".hidden", "a\\b", "x/../../y"])
def test_a_name_cannot_leave_the_cache_folder(tmp_cache, name):
    with pytest.raises(ValueError, match="must be a plain file name"):
        load_or_compute(name, {"k": 1}, ARRAYS)
    assert not tmp_cache.exists() and not (tmp_cache.parent / "escape").exists()


def test_nan_or_wrong_shapes_in_a_cached_file_are_recomputed(tmp_cache, data_dir):
    first = run(TINY, progress=False)
    path = TINY.cache_path()  # run writes under the key the CLI reads
    key = {**TINY.to_dict(), "results_version": cl.RESULTS_VERSION}
    good = read_npz(path, key)
    faults = {
        "nan-weights": {"param/convs.0.weight": np.full_like(good["param/convs.0.weight"], np.nan)},
        "inf-loss": {"loss": np.r_[good["loss"][:-1], np.inf]},
        "wrong-conv-shape": {"param/convs.0.weight": good["param/convs.0.weight"][:, :, :, :2]},
        "wrong-epochs": {"epochs": np.array([0, 2])},
        "no-readout": {"param/readout.weight": None},
        "short-loss": {"loss": good["loss"][:2]},
    }
    for name, change in faults.items():
        arrays = {k: v for k, v in {**good, **change}.items() if v is not None}
        write_npz(path, arrays, key)
        assert lookup(TINY.cache_path().stem, cl.result_check(TINY)) is None, name
        with pytest.warns(UserWarning, match="ignoring the cache file .*recomputing"):
            again = run(TINY, progress=False)
        assert np.array_equal(again.loss, first.loss), name
        assert np.array_equal(again.snapshots["convs.0.weight"], first.snapshots["convs.0.weight"]), name


def test_a_diverged_run_is_returned_with_a_warning_and_not_cached(tmp_cache, data_dir):
    diverging = TINY.replace(lr=1e12, epochs=6)
    with pytest.warns(RuntimeWarning, match=r"returned but not cached: the loss is (inf|nan) at epoch \d: the training diverged"):
        result = run(diverging, progress=False)
    assert not np.isfinite(result.loss).all()
    assert not (diverging.cache_path()).exists()
    with pytest.warns(RuntimeWarning, match="returned: a hold NaN or inf"):  # any computation, no cache
        load_or_compute("t", {"k": 1}, lambda: {"a": np.array([1.0, np.nan])}, use_cache=False)


def test_numpy_fields_run_and_hit_the_cache_of_python_fields(tmp_cache, data_dir, monkeypatch):
    first = run(TINY, progress=False)
    numpy = Config(split="test", n=np.int64(10), crop=np.int64(8), channels=np.array([2]), epochs=np.int64(3),
                   lr=np.float32(1e-3), snapshot_epochs=np.array([], dtype=int))
    monkeypatch.setattr(experiments, "train", lambda *a, **k: pytest.fail("trained twice"))
    assert np.array_equal(run(numpy, progress=False).loss, first.loss)
    load_or_compute("t", {"n": np.int64(3), "lr": np.float32(0.5), "e": np.arange(2)}, ARRAYS)  # no json TypeError


def _load_cache_module():
    spec = importlib.util.spec_from_file_location("cache_alone", CACHE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_killed_writer_leaves_a_temporary_file_the_next_write_removes(tmp_cache):
    tmp_cache.mkdir()
    # a process that dies in the middle of a write (os._exit: no clean-up)
    die = (f"import importlib.util, os, tempfile, pathlib; s = importlib.util.spec_from_file_location('c', {str(CACHE_PY)!r}); "
           f"c = importlib.util.module_from_spec(s); s.loader.exec_module(c); "
           f"p = pathlib.Path({str(tmp_cache)!r}) / 't-0.npz'; "
           f"fd, _ = tempfile.mkstemp(dir=p.parent, prefix=c._tmp_prefix(p), suffix='.tmp'); os.write(fd, b'half'); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", die]).returncode == 9
    (left,) = tmp_cache.glob("*.tmp")
    host = socket.gethostname()
    mine = tmp_cache / f"t-1.npz.{host}.{os.getpid()}.abc.tmp"  # a live writer: kept
    other_new = tmp_cache / "t-2.npz.elsewhere.1.abc.tmp"  # another machine's, recent: kept
    other_old = tmp_cache / "t-3.npz.elsewhere.1.abc.tmp"  # another machine's, two days old: removed
    legacy_old = tmp_cache / "t-4.npzk2j3.tmp"  # no writer in the name, two days old: removed
    for p in (mine, other_new, other_old, legacy_old):
        p.write_bytes(b"x")
    for p in (other_old, legacy_old):
        os.utime(p, (time.time() - 2 * 86400,) * 2)
    load_or_compute("t", {"k": 1}, ARRAYS)
    assert sorted(p.name for p in tmp_cache.glob("*.tmp")) == sorted([mine.name, other_new.name])
    assert not left.exists()


def test_two_processes_writing_one_key_leave_one_valid_file(tmp_cache):
    # each process misses the cache, waits for the other (a file barrier), then both write
    script = (
        "import importlib.util, os, sys, time, pathlib, numpy as np\n"
        f"s = importlib.util.spec_from_file_location('c', {str(CACHE_PY)!r}); c = importlib.util.module_from_spec(s)\n"
        "s.loader.exec_module(c)\n"
        "barrier = pathlib.Path(sys.argv[1])\n"
        "def compute():\n"
        "    (barrier / f'ready-{os.getpid()}').touch()\n"
        "    deadline = time.time() + 30\n"
        "    while len(list(barrier.glob('ready-*'))) < 2 and time.time() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    return {'a': np.arange(100000.0)}\n"
        "out = c.load_or_compute('race', {'k': 7}, compute)\n"
        "assert out['a'].shape == (100000,)\n"
    )
    barrier = tmp_cache.parent / "barrier"
    barrier.mkdir()
    env = {**os.environ, "CONDENSE_CACHE": str(tmp_cache)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(barrier)], env=env, stderr=subprocess.PIPE)
             for _ in range(2)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert len(list(barrier.glob("ready-*"))) == 2  # both computed: the writes really raced
    assert [p.name for p in tmp_cache.iterdir()] == [f"race-{config_hash({'k': 7})}.npz"]
    assert read_npz(next(tmp_cache.iterdir()), {"k": 7})["a"].shape == (100000,)
    assert _load_cache_module().config_hash({"k": 7}) == config_hash({"k": 7})


def test_run_variant_trains_as_run_and_caches_apart(tmp_cache, data_dir):
    """A variant built like the Config trains to the same numbers as run (the same computation),
    under a key of its own, and is read back rather than retrained."""
    from condense_lib.training.runner import run_variant

    plain = run(TINY, progress=False)
    same = run_variant(TINY, {"variant": "same"}, TINY.build)
    np.testing.assert_allclose(same.loss, plain.loss, rtol=1e-6)
    assert len(list(tmp_cache.glob("run-*.npz"))) == 2  # one file each
    calls = []
    again = run_variant(TINY, {"variant": "same"}, lambda: calls.append(1) or TINY.build())
    assert calls == [] and np.array_equal(again.loss, same.loss)  # read back, not retrained
    with pytest.raises(ValueError, match="non-empty dict"):
        run_variant(TINY, {}, TINY.build)
