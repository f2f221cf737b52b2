"""Sweeps (condense_lib.sweep): grouping, batched seeds against run point by point, a Dask
LocalCluster on loopback (results equal run, a killed worker's points recomputed, a second
call served from the cache), the named sweeps and the command line."""
import importlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import condense_lib as cl
from condense_lib.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
sweep_module = importlib.import_module("condense_lib.training.sweep")  # cl.sweep is the function


def tiny(seed=0, M=3, epochs=4, **fields):
    """A two-layer GD run on 12 MNIST test images cropped to 8 x 8 (a few milliseconds)."""
    return cl.theory_config(M=M, eps=0.1, n=12, crop=8, m=3, lr=1e-3, epochs=epochs, seed=seed,
                            snapshot_epochs=(0, epochs // 2, epochs), **fields)


def same(a, b, rtol=1e-5):
    """Two TrainResults equal to float rounding."""
    np.testing.assert_array_equal(a.epochs, b.epochs)
    np.testing.assert_allclose(a.loss, b.loss, rtol=rtol)
    assert a.snapshots.keys() == b.snapshots.keys()
    for k in a.snapshots:
        np.testing.assert_allclose(a.snapshots[k], b.snapshots[k], rtol=rtol, atol=1e-7 * np.abs(b.snapshots[k]).max())


@pytest.fixture(autouse=True)
def _env(monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    monkeypatch.setenv("CONDENSE_PROGRESS", "0")


def test_groups_put_seeds_of_one_two_layer_setting_together():
    a = [tiny(seed=s) for s in range(5)]
    b = [tiny(seed=s, M=2) for s in range(2)]
    deep = cl.get_config("fig11", "fast")  # three conv layers: never batched
    groups = cl.sweep_groups([a[0], b[0], deep, *a[1:], b[1], a[0]], batch=3)
    assert groups == [a[:3], a[3:], b, [deep]]
    assert cl.sweep_groups(a) == [[c] for c in a]  # no batching by default
    with pytest.raises(ValueError, match="batch"):
        cl.sweep_groups(a, batch=0)


def test_batched_seeds_equal_run_point_by_point_and_are_cached(tmp_cache):
    configs = [tiny(seed=s) for s in range(3)] + [tiny(M=2)]
    results = cl.sweep(configs, batch=8)
    for c, r in zip(configs, results):
        same(r, cl.run(c, use_cache=False))
        assert cl.is_cached(c)
    with pytest.raises(TypeError, match="Config"):
        cl.sweep(["fig12"])


@pytest.fixture(scope="module")
def client(data_dir):
    distributed = pytest.importorskip("distributed")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "CONDENSE_DATA", "CONDENSE_PROGRESS")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [saved["PYTHONPATH"]])])
    os.environ["CONDENSE_DATA"], os.environ["CONDENSE_PROGRESS"] = str(data_dir), "0"
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_dask_results_equal_run_and_a_second_call_is_read_from_the_cache(client, tmp_cache, monkeypatch):
    configs = [tiny(seed=s) for s in range(2)] + [tiny(M=4, seed=s) for s in range(2)]
    results = cl.sweep(configs, client, batch=2)  # two groups of two seeds, one task each
    for c, r in zip(configs, results):
        same(r, cl.run(c, use_cache=False))
    files = {p: p.stat().st_mtime_ns for p in tmp_cache.iterdir()}
    assert len(files) == 4  # the workers wrote into the driver's folder

    def no_training(*args, **kwargs):
        raise AssertionError("a cached point was trained again")

    monkeypatch.setattr(client, "submit", no_training)
    monkeypatch.setattr(sweep_module, "train_group", no_training)
    again = cl.sweep(configs, client)
    for a, b in zip(again, results):
        same(a, b, rtol=0)
    assert {p: p.stat().st_mtime_ns for p in tmp_cache.iterdir()} == files


def test_a_killed_worker_has_its_points_recomputed(client, tmp_cache):
    configs = [tiny(seed=s, M=4, epochs=300) for s in range(8)]  # each long enough to be caught running
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("results", cl.sweep(configs, client, batch=1)))
    thread.start()
    deadline = time.monotonic() + 30
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    busy = next(addr for addr, tasks in client.processing().items() if tasks)
    pid = client.run(os.getpid, workers=[busy])[busy]
    os.kill(pid, signal.SIGKILL)  # the nanny starts a new worker; the scheduler reassigns its tasks
    thread.join(timeout=60)
    assert not thread.is_alive() and len(out["results"]) == len(configs)
    for c, r in zip(configs, out["results"]):
        same(r, cl.run(c, use_cache=False))


def test_named_sweeps():
    seeds = cl.SWEEPS["seeds"]("fast")
    assert len(seeds) == 24 and seeds[0] == cl.get_config("fig12", "fast") and {c.seed for c in seeds} == set(range(8))
    grid = cl.SWEEPS["phase_diagram"]("fast")
    G, K = (len(cl.PHASE_DIAGRAM["fast"][key]) for key in ("gammas_eps", "widths"))
    assert len(grid) == G * K * cl.PHASE_DIAGRAM["fast"]["seeds"] and G >= 6 and K >= 5
    M, eps = grid[0].channels[0], grid[0].eps
    assert np.isclose(eps**2, M ** -cl.PHASE_DIAGRAM["fast"]["gammas_eps"][0])
    # the seeds of one point differ only in seed, so they train together
    assert all(len(group) == cl.PHASE_DIAGRAM["fast"]["seeds"] for group in cl.sweep_groups(grid, batch=8))
    after = cl.SWEEPS["after_initial_stage"]("paper")
    assert [(c.gamma, c.seed) for c in after] == [(g, s) for g in (2.0, 0.5) for s in range(8)]
    assert {(c.n, c.crop, c.d, c.loss, c.optimizer) for c in after} == {(500, 0, 10, "ce", "gd")}
    assert after[0].recorded()[:12] == [*range(0, 21, 2), 30] and after[0].recorded()[-1] == after[0].epochs
    # the paper scale's training and held-out images fit in the MNIST test pool
    assert cl.AFTER_INITIAL_STAGE["paper"]["n"] + cl.AFTER_INITIAL_STAGE["paper"]["n_test"] <= cl.POOL["mnist", "test"]
    with pytest.raises(KeyError, match="unknown sweep"):
        cl.SWEEPS["nope"]


def test_cli_sweep_errors_are_one_line(capsys):
    assert main(["sweep", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: unknown sweep 'nope'")
    assert main(["sweep", "seeds", "--device", "cuda:99"]) == 2
    assert capsys.readouterr().err.startswith("error: --device cuda:99")


def test_the_library_works_without_dask(tmp_cache, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    monkeypatch.setitem(sys.modules, "dask", None)
    configs = [tiny(seed=s) for s in range(2)]
    for c, r in zip(configs, cl.sweep(configs)):
        same(r, cl.run(c))
    assert main(["sweep", "phase_diagram", "--scheduler", "local", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'condense_lib[sweep]'" in err
