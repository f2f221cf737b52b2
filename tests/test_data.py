import gzip

import numpy as np
import pytest
import torch

import condense_lib as cl
from condense_lib import (
    CHANNEL_STATS,
    DEFAULT_NORMALIZATION,
    NORMALIZATIONS,
    image_pool,
    load_images,
    normalize,
    sample,
)


def test_mnist_test_split_matches_the_data_readme(data_dir):
    x, y = load_images("mnist", "test", data_dir)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.uint8
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.mean() == pytest.approx(33.79, abs=0.01)


def test_cifar10_subset_matches_the_data_readme(data_dir):
    x, y = load_images("cifar10", "train", data_dir)
    assert x.shape == (4000, 3, 32, 32) and x.dtype == np.uint8
    assert y[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    np.testing.assert_allclose(x.mean(axis=(0, 2, 3)), [125.4, 122.8, 113.4], atol=0.6)
    xt, yt = load_images("cifar10", "test", data_dir)
    assert xt.shape == (1000, 3, 32, 32) and yt[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


def test_sample_normalizes_and_is_seeded(data_dir):
    x, y = sample("mnist", 10000, seed=0, split="test", data_dir=data_dir, dtype=torch.float64)
    mean, std = CHANNEL_STATS["mnist"]
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    # the whole pool: the normalized mean is (33.79/255 - 0.1307) / 0.3081
    assert x.mean().item() == pytest.approx((33.79 / 255 - mean[0]) / std[0], abs=1e-3)
    a, ya = sample("mnist", 500, seed=3, split="test", data_dir=data_dir)
    b, yb = sample("mnist", 500, seed=3, split="test", data_dir=data_dir)
    c, _ = sample("mnist", 500, seed=4, split="test", data_dir=data_dir)
    assert torch.equal(a, b) and torch.equal(ya, yb) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and set(ya.tolist()) <= set(range(10))


def test_sample_cifar_targets(data_dir):
    x, y = sample("cifar10", 50, seed=1, target="onehot", data_dir=data_dir)
    assert x.shape == (50, 3, 32, 32) and y.shape == (50, 10)
    assert torch.equal(y.sum(1), torch.ones(50))
    _, c = sample("cifar10", 50, seed=1, target="class", data_dir=data_dir)
    assert c.dtype == torch.int64 and torch.equal(y.argmax(1), c)
    # per-channel normalization of the CIFAR-10 constants, when asked for
    xs, _ = sample("cifar10", 4000, seed=0, data_dir=data_dir, dtype=torch.float64, normalization="standard")
    raw, _ = load_images("cifar10", "train", data_dir)
    mean, std = CHANNEL_STATS["cifar10"]
    expect = (raw.mean(axis=(0, 2, 3)) / 255 - np.array(mean)) / np.array(std)
    np.testing.assert_allclose(xs.mean(dim=(0, 2, 3)).numpy(), expect, rtol=1e-6)


def test_image_pool_standard_is_what_sample_draws(data_dir):
    x, labels = image_pool("mnist", "test", "standard", data_dir=data_dir)
    assert x.shape == (10000, 1, 28, 28) and labels.shape == (10000,)
    idx = np.sort(np.random.default_rng(3).choice(10000, size=20, replace=False))
    xs, ys = sample("mnist", 20, 3, split="test", data_dir=data_dir, dtype=torch.float64)
    np.testing.assert_allclose(x[idx], xs.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(labels[idx], ys.numpy())
    unit, _ = image_pool("mnist", "test", "unit", data_dir=data_dir)
    sym, _ = image_pool("mnist", "test", "symmetric", data_dir=data_dir)
    assert unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(sym, 2 * unit - 1)
    with pytest.raises(ValueError, match="unknown normalization"):  # checked before the images are read
        image_pool("mnist", "test", "zscore", data_dir=data_dir)


def test_default_normalization_is_the_papers_per_dataset(data_dir):
    assert DEFAULT_NORMALIZATION == {"mnist": "standard", "cifar10": "symmetric"}
    assert set(DEFAULT_NORMALIZATION.values()) <= set(NORMALIZATIONS)
    for dataset, split in (("mnist", "test"), ("cifar10", "train")):
        default, _ = sample(dataset, 30, 2, split=split, data_dir=data_dir, dtype=torch.float64)
        named, _ = sample(dataset, 30, 2, split=split, data_dir=data_dir, dtype=torch.float64,
                          normalization=DEFAULT_NORMALIZATION[dataset])
        assert torch.equal(default, named)
        pool, _ = image_pool(dataset, split, data_dir=data_dir)
        idx = np.sort(np.random.default_rng(2).choice(len(pool), size=30, replace=False))
        np.testing.assert_allclose(pool[idx], default.numpy(), rtol=1e-12)
    x, _ = sample("cifar10", 30, 2, data_dir=data_dir, dtype=torch.float64)
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.9 and x.max() > 0.9  # [-1, 1] pixels


def test_normalize_against_a_loop():
    images = np.random.default_rng(0).integers(0, 256, size=(2, 3, 4, 4), dtype=np.uint8)
    mean, std = CHANNEL_STATS["cifar10"]
    want = {"unit": lambda v, c: v / 255, "symmetric": lambda v, c: (v / 255 - 0.5) / 0.5,
            "standard": lambda v, c: (v / 255 - mean[c]) / std[c]}
    for name, formula in want.items():
        got = normalize(images, "cifar10", name)
        loop = np.array([[[[formula(float(images[i, c, p, q]), c) for q in range(4)] for p in range(4)]
                          for c in range(3)] for i in range(2)])
        np.testing.assert_allclose(got, loop, rtol=1e-12)
    np.testing.assert_array_equal(normalize(images, "cifar10"), normalize(images, "cifar10", "symmetric"))
    np.testing.assert_array_equal(normalize(images[:, :1], "mnist"), normalize(images[:, :1], "mnist", "standard"))
    with pytest.raises(ValueError, match="unknown normalization 'zscore'.*None for the dataset's default"):
        normalize(images, "cifar10", "zscore")


def test_n_larger_than_the_pool_is_refused(data_dir):
    with pytest.raises(ValueError, match="n = 20000 must be an integer in 1..10000"):
        sample("mnist", 20000, split="test", data_dir=data_dir)


def test_missing_data_folder_names_what_was_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_DOWNLOAD", "0")
    monkeypatch.setenv("CONDENSE_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    with pytest.raises(FileNotFoundError, match=r"no mnist train images found in: .*nowhere.*Set CONDENSE_DATA"):
        load_images("mnist", "train", tmp_path / "nowhere")


def test_unknown_dataset_split_target():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_images("svhn")
    with pytest.raises(ValueError, match="unknown split"):
        load_images("mnist", "validation")
    with pytest.raises(ValueError, match="unknown target"):
        sample("mnist", 5, target="soft")


def test_idx_reader_plain_and_truncated(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (raw / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 5]))
    x, y = load_images("mnist", "train", tmp_path)
    assert np.array_equal(x[:, 0], images) and y.tolist() == [3, 5]
    (raw / "train-images-idx3-ubyte").write_bytes(header + images.tobytes()[:100])
    with pytest.raises(ValueError, match="truncated"):
        load_images("mnist", "train", tmp_path)


# ----------------------------------------------------------------------------- bad files (issue 11)

def _idx(array: np.ndarray) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    return bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape) + array.tobytes()


def _mnist_folder(tmp_path, images, labels, gz=False):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, data in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)):
        blob = data if isinstance(data, bytes) else _idx(data)
        if gz:
            with gzip.open(raw / (stem + ".gz"), "wb") as f:
                f.write(blob)
        else:
            (raw / stem).write_bytes(blob)
    return raw


GOOD_IMAGES, GOOD_LABELS = np.zeros((3, 28, 28), np.uint8), np.array([1, 2, 3], np.uint8)

BAD_MNIST = {
    "labels-above-9": (GOOD_IMAGES, np.array([1, 2, 12]), r"labels range over 1..12, not 0..9"),
    "lengths-differ": (GOOD_IMAGES, np.array([1, 2]), r"3 images but 2 labels"),
    "images-64x64": (np.zeros((3, 64, 64)), GOOD_LABELS, r"images have shape \(3, 64, 64\), not \(N, 28, 28\)"),
    "images-flat": (np.zeros((3, 784)), GOOD_LABELS, r"images have shape \(3, 784\)"),
    "labels-2d": (GOOD_IMAGES, np.ones((3, 1)), r"labels are uint8 of shape \(3, 1\), not integers \(N,\)"),
    "header-cut": (GOOD_IMAGES, bytes([0, 0, 8, 1, 0]), r"truncated \(its header is cut short\)"),
}


@pytest.mark.parametrize("case", sorted(BAD_MNIST))
def test_bad_mnist_files_are_refused_naming_them(tmp_path, case):
    images, labels, message = BAD_MNIST[case]
    raw = _mnist_folder(tmp_path, images, labels)
    with pytest.raises(ValueError, match=message) as err:
        load_images("mnist", "train", tmp_path)
    assert str(raw / "train-") in str(err.value) and "re-download" in str(err.value)


@pytest.mark.parametrize("fault", ["truncated-gz", "not-gzip", "bad-crc"])
def test_corrupt_gzip_files_name_the_file(tmp_path, fault):
    raw = _mnist_folder(tmp_path, GOOD_IMAGES, GOOD_LABELS, gz=True)
    path = raw / "train-images-idx3-ubyte.gz"
    blob = path.read_bytes()
    if fault == "truncated-gz":
        blob = blob[: len(blob) // 2]
    elif fault == "not-gzip":
        blob = b"<html>proxy error</html>"
    else:
        blob = blob[:-8] + bytes(8)  # the CRC and length trailer zeroed
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=rf"{path} cannot be read \((EOFError|BadGzipFile|error)"):
        load_images("mnist", "train", tmp_path)


def _cifar(tmp_path, **changes):
    arrays = dict(x_train=np.zeros((4, 32, 32, 3), np.uint8), y_train=np.array([0, 1, 2, 9]),
                  x_test=np.zeros((2, 32, 32, 3), np.uint8), y_test=np.array([3, 4]))
    arrays.update(changes)
    np.savez(tmp_path / "cifar10_subset.npz", **{k: v for k, v in arrays.items() if v is not None})
    return tmp_path / "cifar10_subset.npz"


BAD_CIFAR = {
    "float-pixels": (dict(x_train=np.zeros((4, 32, 32, 3))), r"the images are float64, not uint8 pixels"),
    "64x64": (dict(x_train=np.zeros((4, 64, 64, 3), np.uint8)), r"shape \(4, 64, 64, 3\), not \(N, 32, 32, 3\)"),
    "chw-order": (dict(x_train=np.zeros((4, 3, 32, 32), np.uint8)), r"shape \(4, 3, 32, 32\), not \(N, 32, 32, 3\)"),
    "labels-above-9": (dict(y_train=np.array([0, 1, 2, 10])), r"labels range over 0..10, not 0..9"),
    "negative-labels": (dict(y_train=np.array([0, -1, 2, 3])), r"labels range over -1..3"),
    "float-labels": (dict(y_train=np.array([0.0, 1, 2, 3])), r"labels are float64 of shape \(4,\), not integers"),
    "lengths-differ": (dict(y_train=np.array([0, 1, 2])), r"4 images but 3 labels"),
    "missing-key": (dict(y_train=None), r"has no y_train"),
}


@pytest.mark.parametrize("case", sorted(BAD_CIFAR))
def test_bad_cifar_npz_is_refused_naming_the_file_and_the_layout(tmp_path, case):
    changes, message = BAD_CIFAR[case]
    path = _cifar(tmp_path, **changes)
    with pytest.raises(ValueError, match=message) as err:
        load_images("cifar10", "train", tmp_path)
    assert str(path) in str(err.value) and "x_train, y_train, x_test, y_test" in str(err.value)


@pytest.mark.parametrize("fault", ["not-a-zip", "cut-short", "object-array"])
def test_unreadable_cifar_npz_names_the_file(tmp_path, fault):
    path = _cifar(tmp_path)
    if fault == "not-a-zip":
        path.write_bytes(b"garbage")
    elif fault == "cut-short":
        path.write_bytes(path.read_bytes()[:300])
    else:
        np.savez(path, x_train=np.array([None, 1], dtype=object), y_train=np.array([0, 1]))
    with pytest.raises(ValueError, match=rf"{path} cannot be read.*re-download"):
        load_images("cifar10", "train", tmp_path)


def test_a_good_small_cifar_npz_still_loads(tmp_path):
    _cifar(tmp_path)
    x, y = load_images("cifar10", "test", tmp_path)
    assert x.shape == (2, 3, 32, 32) and y.dtype == np.int64 and y.tolist() == [3, 4]


@pytest.mark.parametrize("n", [True, 0, 2.0])
def test_sample_refuses_bool_or_float_n(data_dir, n):
    with pytest.raises(ValueError, match=rf"n = {n!r} must be an integer"):
        sample("mnist", n, split="test", data_dir=data_dir)


def test_split_index_is_the_sample_and_its_complement():
    train, held = cl.split_index(50, 20, 10, seed=4)
    assert np.array_equal(train, np.sort(np.random.default_rng(4).choice(50, size=20, replace=False)))
    assert len(held) == 10 and np.all(np.diff(held) > 0) and not set(train) & set(held)
    _, rest = cl.split_index(50, 20, None, seed=4)
    assert sorted(set(train) | set(rest)) == list(range(50)) and set(held) <= set(rest)
    with pytest.raises(ValueError, match="at most 30 are held out"):
        cl.split_index(50, 20, 31, seed=4)
    with pytest.raises(ValueError, match="n_train"):
        cl.split_index(50, 0, 5)


def test_held_out_images_are_never_in_the_training_sample(data_dir):
    x, y = sample("mnist", 300, seed=2, split="test", target="class", data_dir=data_dir, dtype=torch.float64, crop=20)
    xh, yh = cl.held_out("mnist", 400, n_train=300, seed=2, split="test", target="class", data_dir=data_dir,
                         dtype=torch.float64, crop=20)
    assert xh.shape == (400, 1, 20, 20) and yh.dtype == torch.int64
    # by index: the pool's images at the two index sets, against what the functions return
    pool, labels = image_pool("mnist", "test", data_dir=data_dir)
    train, held = cl.split_index(10000, 300, 400, seed=2)
    assert not set(train.tolist()) & set(held.tolist())
    np.testing.assert_allclose(xh.numpy(), pool[held][:, :, 4:24, 4:24], rtol=1e-12)
    np.testing.assert_allclose(x.numpy(), pool[train][:, :, 4:24, 4:24], rtol=1e-12)
    np.testing.assert_array_equal(yh.numpy(), labels[held])
    # by content: no held-out image equals a training image
    same = (xh.reshape(400, 1, -1) == x.reshape(1, 300, -1)).all(-1)
    assert not same.any()
    # the CIFAR-10 pools are small: 4,000 training images, 3,500 of them left by a sample of 500
    with pytest.raises(ValueError, match="cifar10 train pool.*at most 3500 are held out"):
        cl.held_out("cifar10", 3501, n_train=500, data_dir=data_dir)
    assert cl.held_out("cifar10", 3500, n_train=500, data_dir=data_dir)[0].shape == (3500, 3, 32, 32)
