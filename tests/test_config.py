"""Config checks itself when built: each bad field, the error that must name it; numpy
scalars and arrays normalized so that a sweep written with numpy hashes and runs like one
written with Python numbers."""
import json

import numpy as np
import pytest
import torch

import condense_lib as cl
from condense_lib import Config
from condense_lib.training.cache import config_hash
from condense_lib.training.config import RESULTS_VERSION

# A small valid base (MNIST test split, 2 kernels, 3 epochs); each case changes some fields.
BASE = dict(split="test", n=20, crop=10, channels=(2,), epochs=3, lr=1e-3)
CE = dict(head="fc", hidden=8, d=10, target="class", loss="ce")

BAD = {
    # types and ranges of single fields: (changes, what the message must say)
    "channels-str": (dict(channels="32"), r"Config.channels = '32' \(str\): must be a tuple of integers >= 1"),
    "channels-float": (dict(channels=(4.9,)), r"Config.channels = \(4.9,\).*4.9 \(float\) is not"),
    "channels-empty": (dict(channels=()), r"Config.channels = \(\): give at least one conv layer"),
    "channels-zero": (dict(channels=(2, 0)), r"Config.channels = \(2, 0\).*0 \(int\) is not"),
    "channels-bool": (dict(channels=(True,)), r"Config.channels.*True \(bool\) is not"),
    "channels-set": (dict(channels={2}), r"Config.channels = \{2\} \(set\)"),
    "channels-2d-array": (dict(channels=np.ones((1, 2), dtype=int)), r"Config.channels"),
    "n-zero": (dict(n=0), r"Config.n = 0 \(int\): must be an integer >= 1"),
    "n-bool": (dict(n=True), r"Config.n = True \(bool\).*True and False are not integers"),
    "n-str": (dict(n="20"), r"Config.n = '20' \(str\)"),
    "n-float": (dict(n=20.0), r"Config.n = 20.0 \(float\)"),
    "n-above-pool": (dict(n=10001), r"Config.n = 10001: must be an integer in 1..10000: the mnist test pool"),
    "n-above-cifar-pool": (dict(dataset="cifar10", n=1001, crop=0), r"cifar10 test pool has 1000 images"),
    "seed-negative": (dict(seed=-1), r"Config.seed = -1 \(int\): must be an integer >= 0"),
    "epochs-bool": (dict(epochs=True, snapshot_epochs=()), r"Config.epochs = True \(bool\)"),
    "epochs-negative": (dict(epochs=-1), r"Config.epochs = -1"),
    "epochs-float": (dict(epochs=3.5), r"Config.epochs = 3.5 \(float\)"),
    "hidden-zero": (dict(hidden=0), r"Config.hidden = 0 \(int\): must be an integer >= 1"),
    "m-zero": (dict(m=0), r"Config.m = 0 \(int\)"),
    "d-zero": (dict(d=0), r"Config.d = 0 \(int\)"),
    "lr-nan": (dict(lr=float("nan")), r"Config.lr = nan \(float\): must be a finite number > 0"),
    "lr-inf": (dict(lr=float("inf")), r"Config.lr = inf \(float\): must be a finite number > 0"),
    "lr-numpy-nan": (dict(lr=np.float32("nan")), r"Config.lr = .*nan.*must be a finite number > 0"),
    "lr-zero": (dict(lr=0.0), r"Config.lr = 0.0"),
    "lr-negative": (dict(lr=-1e-3), r"Config.lr = -0.001"),
    "lr-str": (dict(lr="1e-3"), r"Config.lr = '1e-3' \(str\)"),
    "lr-bool": (dict(lr=True), r"Config.lr = True \(bool\)"),
    "gamma-zero": (dict(gamma=0), r"Config.gamma = 0 \(int\): must be a finite number > 0"),
    "gamma-negative": (dict(gamma=-2.0), r"Config.gamma = -2.0"),
    "sigma_2-nan": (dict(sigma_2=float("nan")), r"Config.sigma_2 = nan"),
    "eps-zero": (dict(init="theory", eps=0.0), r"Config.eps = 0.0 \(float\): must be a finite number > 0"),
    "eps-inf": (dict(init="theory", eps=float("inf")), r"Config.eps = inf"),
    "snapshots-float": (dict(snapshot_epochs=(0, 1.7, 3)), r"Config.snapshot_epochs = \(0, 1.7, 3\).*1.7 \(float\) is not"),
    "snapshots-beyond": (dict(snapshot_epochs=(0, 5)), r"Config.snapshot_epochs = \(0, 5\): must lie in 0..epochs = 3"),
    "snapshots-negative": (dict(snapshot_epochs=(-1, 3)), r"Config.snapshot_epochs = \(-1, 3\).*-1 \(int\) is not"),
    "snapshots-str": (dict(snapshot_epochs="0,3"), r"Config.snapshot_epochs = '0,3' \(str\)"),
    "snapshots-bool": (dict(snapshot_epochs=(False, 3)), r"False \(bool\) is not"),
    # names
    "dataset": (dict(dataset="svhn"), r"Config.dataset = 'svhn': choose one of 'mnist', 'cifar10'"),
    "dataset-case": (dict(dataset="MNIST"), r"Config.dataset = 'MNIST': choose one of"),
    "split": (dict(split="validation"), r"Config.split = 'validation': choose one of 'train', 'test'"),
    "target": (dict(target="soft"), r"Config.target = 'soft': choose one of 'label', 'onehot', 'class'"),
    "head": (dict(head="conv"), r"Config.head = 'conv': choose one of 'linear', 'fc'"),
    "init": (dict(init="xavier"), r"Config.init = 'xavier': choose one of 'paper', 'theory'"),
    "optimizer": (dict(optimizer="sgd"), r"Config.optimizer = 'sgd': choose one of 'gd', 'adam'"),
    "loss": (dict(loss="l1"), r"Config.loss = 'l1': choose one of 'mse', 'mse_softmax', 'ce'"),
    "activation": (dict(activation="gelu"), r"Config.activation = 'gelu': choose one of 'tanh', 'relu'"),
    "activation-none": (dict(activation=None), r"Config.activation = None: choose one of"),
    "normalization": (dict(normalization="zscore"), r"Config.normalization = 'zscore': unknown normalization.*'standard'"),
    "normalization-int": (dict(normalization=1), r"Config.normalization = 1: unknown normalization"),
    # fields that must agree
    "ce-label": (dict(CE, target="label", d=1), r"Config.target = 'label' does not fit loss='ce': use target='class' \(d = 10\)"),
    "ce-d1": (dict(CE, d=1), r"Config.d = 1: loss='ce' with target='class' needs d = 10"),
    "mse_softmax-class": (dict(loss="mse_softmax", target="class", d=10), r"does not fit loss='mse_softmax': use target='onehot'"),
    "mse_softmax-d1": (dict(loss="mse_softmax", target="onehot", d=1), r"Config.d = 1: loss='mse_softmax'.*needs d = 10"),
    "mse-class": (dict(target="class", d=10), r"Config.target = 'class' does not fit loss='mse'"),
    "mse-label-d10": (dict(d=10), r"Config.d = 10: loss='mse' with target='label' needs d = 1"),
    "mse-onehot-d1": (dict(target="onehot"), r"Config.d = 1: loss='mse' with target='onehot' needs d = 10"),
    "theory-without-eps": (dict(init="theory"), r"Config.eps = None: init='theory' needs eps"),
    "paper-with-eps": (dict(eps=1e-3), r"Config.eps = 0.001 is unused by init='paper'"),
    "crop-mnist": (dict(crop=40), r"Config.crop = 40: must be in 0..28 for 28x28 mnist images"),
    "crop-cifar": (dict(dataset="cifar10", split="train", crop=33), r"Config.crop = 33: must be in 0..32 for 32x32 cifar10"),
    "m-too-large": (dict(crop=0, m=29), r"Config.m = 29: 1 valid convolution\(s\) with m = 29 remove 28 pixels, more than the 28x28"),
    "m-three-layers": (dict(crop=0, channels=(2, 2, 2), m=11), r"Config.m = 11: 3 valid convolution\(s\) with m = 11 remove 30 pixels"),
    "m-crop": (dict(crop=5, channels=(2, 2, 2), m=3), r"remove 6 pixels, more than the 5x5 input"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_field_is_refused_by_name(case):
    changes, message = BAD[case]
    with pytest.raises(ValueError, match=message):
        Config(**{**BASE, **changes})


def test_replace_checks_again():
    good = Config(**BASE)
    with pytest.raises(ValueError, match="Config.lr = nan"):
        good.replace(lr=float("nan"))
    with pytest.raises(ValueError, match="Config.crop = 40"):
        cl.theory_config(crop=40)


def test_numpy_scalars_and_arrays_hash_and_compare_like_python_numbers():
    python = Config(**{**BASE, "snapshot_epochs": (0, 1, 2, 3), "channels": (2, 2), "gamma": 2.0, "lr": 5e-6})
    numpy = Config(split="test", n=np.int64(20), crop=np.array(10), channels=np.array([2, 2]), epochs=np.int32(3),
                   lr=np.float32(5e-6), gamma=np.int64(2), snapshot_epochs=np.arange(4), seed=np.uint8(0))
    assert numpy == python and numpy.cache_key() == python.cache_key()
    for name, value in vars(numpy).items():  # plain Python values, JSON-ready
        assert type(value) in (int, float, str, tuple, type(None)), (name, type(value))
    assert all(type(e) is int for e in numpy.snapshot_epochs + numpy.channels)
    json.dumps(numpy.to_dict())
    # a list is a tuple; unordered or repeated snapshot epochs are one set of recorded epochs
    assert Config(**{**BASE, "channels": [2]}).channels == (2,)
    assert Config(**{**BASE, "snapshot_epochs": [3, 0, 3]}).snapshot_epochs == (0, 3)
    assert hash(numpy) == hash(python)  # usable in sets, as the CLI does


def test_every_figure_and_the_theory_setting_validate_unchanged():
    for figure in cl.FIGURES.values():
        for scale in cl.SCALES:
            config = figure[scale]
            again = Config(**{**vars(config)})
            assert again == config and again.cache_key() == config.cache_key()
    theory = cl.theory_config(M=np.int64(3), eps=np.float64(1e-4), n=20, crop=8, snapshot_epochs=np.arange(0, 5, 2),
                              epochs=4)
    assert theory.channels == (3,) and theory.snapshot_epochs == (0, 2, 4) and type(theory.eps) is float


def test_cache_key_is_the_hash_of_the_fields_and_the_results_version():
    c = Config(**BASE)
    assert c.cache_key() == {**c.to_dict(), "results_version": RESULTS_VERSION}
    assert c.cache_path().name == f"run-{config_hash(c.cache_key())}.npz"
    assert c.cache_key() != c.replace(seed=1).cache_key()


def test_padding_is_checked_same_is_half_the_kernel_and_zero_keeps_old_keys():
    c = Config(**BASE)
    assert c.padding == 0 and "padding" not in c.to_dict() and "padding" not in c.cache_key()
    same = c.replace(padding="same")
    assert same.padding == 1 and same == c.replace(padding=1) and same.cache_key()["padding"] == 1
    assert same.cache_path() != c.cache_path() and Config(**same.to_dict()) == same
    assert c.replace(m=5, padding="same").padding == 2 and c.replace(padding=np.int64(2)).padding == 2
    for bad, message in [(3, r"0\.\.m-1 = 0\.\.2"), (-1, "0..m-1"), (True, "0..m-1"), (1.0, "0..m-1"),
                         ("valid", "'same'")]:
        with pytest.raises(ValueError, match=f"Config.padding = .*{message}"):
            c.replace(padding=bad)
    with pytest.raises(ValueError, match="odd m"):
        c.replace(m=4, padding="same")
    # padding widens what fits: m = 11 on the 10 x 10 crop only with padding
    with pytest.raises(ValueError, match="Config.m = 11"):
        c.replace(m=11)
    assert c.replace(m=11, padding=1).m == 11


def test_normalization_none_is_the_datasets_default_and_hashes_alike():
    mnist, cifar = Config(**BASE), Config(**{**BASE, "dataset": "cifar10", "split": "train"})
    assert mnist.normalization == cl.DEFAULT_NORMALIZATION["mnist"] == "standard"
    assert cifar.normalization == cl.DEFAULT_NORMALIZATION["cifar10"] == "symmetric"
    named = Config(**BASE, normalization="standard")
    assert named == mnist and hash(named) == hash(mnist) and named.cache_key() == mnist.cache_key()
    other = mnist.replace(normalization="unit")
    assert other.cache_key()["normalization"] == "unit" and other.cache_path() != mnist.cache_path()
    # a new dataset takes its own default unless a normalization is named
    assert mnist.replace(dataset="cifar10", split="train").normalization == "symmetric"
    assert mnist.replace(dataset="cifar10", split="train", normalization="standard").normalization == "standard"
    assert other.replace(seed=1).normalization == "unit"


def test_config_data_uses_its_normalization(data_dir, monkeypatch):
    monkeypatch.setenv("CONDENSE_DATA", str(data_dir))
    base = Config(**{**BASE, "dataset": "cifar10", "split": "train", "crop": 0, "n": 5})
    for name in cl.NORMALIZATIONS:
        x, _ = base.replace(normalization=name).data()
        want, _ = cl.sample("cifar10", 5, 0, normalization=name, data_dir=data_dir)
        assert torch.equal(x, want)
