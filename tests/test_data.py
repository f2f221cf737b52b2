import gzip

import numpy as np
import pytest
import torch

from condense_lib import NORMALIZATION, image_pool, load_images, sample


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
    mean, std = NORMALIZATION["mnist"]
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
    # per-channel normalization of the CIFAR-10 constants
    xs, _ = sample("cifar10", 4000, seed=0, data_dir=data_dir, dtype=torch.float64)
    raw, _ = load_images("cifar10", "train", data_dir)
    mean, std = NORMALIZATION["cifar10"]
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
    with pytest.raises(ValueError, match="unknown normalization"):  # checked after the images are read
        image_pool("mnist", "test", "zscore", data_dir=data_dir)


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
