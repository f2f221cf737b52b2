"""The command line on expected failures (one line on stderr, exit status 2), on a write that
fails after training (a warning, the run kept), and a real tiny run into the cache."""
import errno
import os
import subprocess
import sys

import pytest
import torch

import condense_lib as cl
from condense_lib.__main__ import main
from condense_lib.training import runner as experiments

# fig12's run shrunk: 20 MNIST images cropped to 10 x 10, 3 GD steps (well under a second).
TINY = ["--set", "n=20", "crop=10", "epochs=3", "snapshot_epochs=0,3", "--quiet"]


@pytest.fixture(autouse=True)
def _data(monkeypatch, data_dir):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))


def _fails(capsys, argv, message):
    """main(argv) exits with 2 and one line on stderr that matches ``message``."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert __import__("re").search(message, err), err
    return err


def test_a_real_tiny_run_fills_the_cache_and_list_marks_it(tmp_cache, capsys):
    assert main(["run", "fig12", *TINY]) == 0
    out = capsys.readouterr().out
    assert "fig12: mnist   n=20" in out and "done in" in out
    config = cl.get_config("fig12", "fast").replace(n=20, crop=10, epochs=3, snapshot_epochs=(0, 3))
    path = config.cache_path()
    assert [p.name for p in tmp_cache.iterdir()] == [path.name]
    result = cl.run(config)  # the notebooks read what the CLI wrote
    assert result.loss.shape == (4,) and result.snapshots["convs.0.weight"].shape == (2, 32, 1, 3, 3)
    assert main(["list", "fig12", "--set", "n=20", "crop=10", "epochs=3", "snapshot_epochs=0,3"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "fig12 " in l)
    assert line.endswith("cached")
    path.write_bytes(b"garbage")  # a file that is not a result is not "cached"
    assert main(["list", "fig12", "--set", "n=20", "crop=10", "epochs=3", "snapshot_epochs=0,3"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if "fig12 " in l)
    assert not line.endswith("cached")


DEVICES = {
    "bogus": r"--device 'bogus' is not a torch device \(Expected one of cpu, cuda.*\); use cpu, cuda or cuda:N",
    "mps": r"--device mps: no MPS device \(Apple GPU\) is available here; use --device cpu",
    "meta": r"--device meta holds no numbers",
    "cuda": r"--device cuda: no CUDA device is available here",
    "cuda:x": r"--device 'cuda:x' is not a torch device \(Invalid device string",
    "": r"--device '' is not a torch device",
}


@pytest.mark.parametrize("device", sorted(DEVICES))
def test_a_device_that_is_not_there_is_one_line(tmp_cache, monkeypatch, capsys, device):
    if device == "mps" and torch.backends.mps.is_available() or device == "cuda" and torch.cuda.is_available():
        pytest.skip(f"{device} is available here")
    monkeypatch.setattr(experiments, "train", lambda *a, **k: pytest.fail("trained on a bad device"))
    _fails(capsys, ["run", "fig12", "--device", device, *TINY], DEVICES[device])


def test_a_missing_cuda_device_index_is_one_line(tmp_cache, capsys):
    index = torch.cuda.device_count() if torch.cuda.is_available() else 0
    _fails(capsys, ["run", "fig12", "--device", f"cuda:{index + 7}", *TINY],
           r"--device cuda:\d+: (no CUDA device is available here|this machine has \d+ CUDA device)")


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_an_unwritable_cache_is_one_line_before_training(tmp_path, monkeypatch, capsys, where):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("CONDENSE_CACHE", str(blocker / "sub" if where == "under-a-file" else blocker))
    monkeypatch.setattr(experiments, "train", lambda *a, **k: pytest.fail("trained into an unwritable cache"))
    _fails(capsys, ["run", "fig12", *TINY], rf"the results cache folder {blocker}.* is not writable")


BAD_ARGS = {
    "unknown-figure": (["run", "fig99"], r"unknown figure 'fig99'"),
    "unknown-field": (["run", "fig12", "--set", "size=3"], r"unknown field 'size'"),
    "no-equals": (["run", "fig12", "--set", "n"], r"--set 'n': write FIELD=VALUE"),
    "bad-value": (["run", "fig12", "--set", "n=0"], r"Config.n = 0"),
    "nan-lr": (["run", "fig12", "--set", "lr=nan"], r"Config.lr = 'nan' \(str\)"),
    "float-snapshots": (["run", "fig12", "--set", "epochs=3", "snapshot_epochs=0,1.7,3"], r"1.7 \(float\) is not"),
    "string-channels": (["run", "fig12", "--set", "channels=32"], r"Config.channels = 32 \(int\)"),
    "list-bad-field": (["list", "--set", "gamma=-1"], r"fig2 with --set gamma=-1: Config.gamma = -1"),
    "list-unknown-figure": (["list", "fig7"], r"unknown figure 'fig7'"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
def test_bad_arguments_are_one_line(tmp_cache, capsys, case):
    argv, message = BAD_ARGS[case]
    _fails(capsys, argv, message)


def test_a_bad_scale_variable_is_one_line(tmp_cache, monkeypatch, capsys):
    monkeypatch.setenv("CONDENSE_SCALE", "huge")
    _fails(capsys, ["run", "fig12"], r"CONDENSE_SCALE='huge'")
    _fails(capsys, ["list"], r"CONDENSE_SCALE='huge'")


def test_missing_data_is_one_line(tmp_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONDENSE_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("CONDENSE_DOWNLOAD", "0")
    monkeypatch.setenv("CONDENSE_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    _fails(capsys, ["run", "fig12", *TINY], r"no mnist test images found in: .*empty")


def test_a_write_that_fails_after_training_is_a_warning_and_the_run_succeeds(tmp_cache, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("condense_lib.training.cache.write_npz", full)
    assert main(["run", "fig12", *TINY]) == 0
    captured = capsys.readouterr()
    assert "fig12: done" in captured.out
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        f"warning: could not store the result in the cache folder {tmp_cache} ([Errno 28] No space left on device)")


def test_the_program_exits_2_with_one_line(tmp_cache):
    env = {**os.environ, "CONDENSE_CACHE": str(tmp_cache)}
    bad = subprocess.run([sys.executable, "-m", "condense_lib", "run", "fig12", "--device", "bogus"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: --device 'bogus' is not a torch device")


def test_list_estimate_times_each_run_and_trains_nothing_into_the_cache(tmp_cache, capsys):
    assert main(["list", "fig12", "fig13", "--estimate", "--set", "n=20", "crop=10", "epochs=30",
                 "snapshot_epochs=0,30"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.strip().startswith(("fig12 ", "fig13 "))]
    assert len(lines) == 2 and all("(30 x " in l and " s)" in l for l in lines), out
    assert "estimated on cpu" in out and not (tmp_cache.exists() and list(tmp_cache.iterdir()))
    seconds = cl.seconds_per_epoch(cl.get_config("fig12", "fast").replace(n=20, crop=10, epochs=3, snapshot_epochs=()))
    assert 0 < seconds < 5
    with pytest.raises(ValueError, match="positive integer"):
        cl.seconds_per_epoch(cl.get_config("fig12", "fast"), epochs=0)
    _fails(capsys, ["list", "fig12", "--estimate", "--device", "nonsense"], r"--device 'nonsense' is not a torch device")
