"""The paper's runs shipped in results/: what they hold, and that they still follow from their
Config and today's trainer (``cl.check_shipped``: the first epochs trained again on this CPU).
Each shipped run is checked; then the check is shown to fail when a Config or the trainer changes."""
import json
import shutil

import numpy as np
import pytest

import condense_lib as cl
import condense_lib.training.provenance as replay_module

MANIFEST = cl.read_manifest()["runs"]
FOLDER = cl.results_dir()


@pytest.fixture(autouse=True)
def _data(monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))


def test_the_manifest_lists_every_shipped_file_within_50_MB():
    assert FOLDER is not None and MANIFEST, "results/ holds the shipped runs"
    files = {p.name for p in FOLDER.glob("run-*.npz")}
    assert files == {e["file"] for e in MANIFEST.values()}
    assert sum((FOLDER / f).stat().st_size for f in files) <= 50e6
    for name, entry in MANIFEST.items():
        assert set(entry["provenance"]) >= {"library", "commit", "torch", "device", "threads", "seconds"}, name
        assert entry["key"] == cl.Config(**entry["config"]).cache_path().stem.rpartition("-")[2], name


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_the_book_reads_the_shipped_run_of_each_figure_and_it_is_not_stale(name, tmp_cache):
    config = cl.FIGURES[name].paper
    assert config.to_dict() == MANIFEST[name]["config"], f"FIGURES[{name!r}].paper is not the shipped run"
    assert cl.is_cached(config) and cl.FIGURES[name].scale("auto") == "paper"  # served from results/, cache empty
    errors = cl.check_shipped(name)
    assert all(v <= cl.REPLAY_RTOL for v in errors.values()), errors


def _smallest():
    return min(MANIFEST, key=lambda n: MANIFEST[n]["bytes"])


def test_a_changed_config_is_caught(tmp_path, tmp_cache):
    name = _smallest()
    folder = tmp_path / "results"
    shutil.copytree(FOLDER, folder)
    runs = cl.read_manifest(folder)["runs"]
    runs[name]["config"]["seed"] = runs[name]["config"].get("seed", 0) + 1
    cl.write_manifest(folder, runs)
    with pytest.raises(cl.ProvenanceError, match="no longer hashes to the shipped key"):
        cl.check_shipped(name, folder=folder)


def test_a_changed_trainer_is_caught(monkeypatch, tmp_cache):
    name = _smallest()
    import condense_lib.training.trainer as trainer_module

    original = trainer_module._optimizer
    monkeypatch.setattr(trainer_module, "_optimizer", lambda kind, params, lr: original(kind, params, lr * 1.01))
    with pytest.raises(cl.ProvenanceError, match=r"how far the conv weights moved .* relative error"):
        cl.check_shipped(name)


def test_a_changed_initialization_is_caught(monkeypatch, tmp_cache):
    name = _smallest()
    real = replay_module.replay

    def shifted(config, epochs=cl.REPLAY_EPOCHS):
        out = real(config, epochs)
        out["start"] = {k: v * 1.01 for k, v in out["start"].items()}
        return out

    monkeypatch.setattr(replay_module, "replay", shifted)
    with pytest.raises(cl.ProvenanceError, match="parameters at epoch 0"):
        cl.check_shipped(name)


def test_shipped_runs_are_fetched_where_the_package_has_no_results_folder(tmp_path, monkeypatch, tmp_cache):
    name = _smallest()
    monkeypatch.setenv("CONDENSE_RESULTS", str(tmp_path / "nowhere"))  # no local folder
    config = cl.Config(**MANIFEST[name]["config"])
    assert not cl.is_cached(config)
    monkeypatch.setenv("CONDENSE_RESULTS_URL", FOLDER.as_uri())  # as Colab reads GitHub's raw files
    from condense_lib.training import shipped

    shipped._REMOTE.clear()
    result = cl.run(config, progress=False)  # fetched, not trained
    with np.load(FOLDER / MANIFEST[name]["file"]) as f:
        np.testing.assert_array_equal(result.loss, f["loss"])
    assert (cl.cache_dir() / "shipped" / MANIFEST[name]["file"]).is_file()
    assert json.loads((cl.cache_dir() / "shipped" / "manifest.json").read_text())["runs"][name]["key"]
