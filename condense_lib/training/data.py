"""MNIST and CIFAR-10: the paper's training sets of n = 500 random images (Sec. 4.1).

Where the images come from, in order:

1. the folder ``data_dir`` given to a function, else the folder named by the
   environment variable ``CONDENSE_DATA``;
2. the download folder ``~/.cache/condense_lib/data`` (or ``CONDENSE_DOWNLOAD_DIR``),
   filled by ``torchvision.datasets`` when downloading is allowed
   (``CONDENSE_DOWNLOAD`` is not ``0``) and the machine is online.

Layouts read: MNIST IDX files ``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``
(torchvision's layout); CIFAR-10 as ``cifar10_subset.npz`` (keys ``x_train``,
``y_train``, ``x_test``, ``y_test``, HWC uint8) or torchvision's
``cifar-10-batches-py`` folder.

What is read is checked: uint8 pixels of shape (N, 28, 28) for MNIST and (N, 32, 32, 3)
for the CIFAR-10 npz, as many labels as images, labels in 0..9; a file that fails, or
cannot be read (a corrupt or cut-short ``.gz``), raises ``ValueError`` naming it and saying
what to do (delete it and re-download, or the layout expected).

Sampling is reproducible across machines: ``sample`` draws from the first
``POOL[dataset, split]`` images of a split, which are the same images in the
full download and in the offline subset.
"""
from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch

__all__ = ["DATASETS", "SHAPES", "TARGETS", "POOL", "CHANNEL_STATS", "NORMALIZATIONS", "DEFAULT_NORMALIZATION",
           "resolve_normalization", "data_dirs", "load_images", "normalize", "image_pool", "sample", "split_index",
           "held_out"]

DATASETS = ("mnist", "cifar10")
SPLITS = ("train", "test")
TARGETS = ("label", "onehot", "class")
CLASSES = 10
# (C, H, W) of one image, as load_images returns it.
SHAPES = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}

# Per-channel mean and std of the training split, the usual constants.
CHANNEL_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}

# Ways to turn uint8 pixels into inputs. The paper does not say which it used; the
# theory chapter shows which one reproduces its numbers.
NORMALIZATIONS = {
    "standard": "(pixel / 255 - mean) / std per channel, the constants of CHANNEL_STATS",
    "unit": "pixel / 255, in [0, 1]",
    "symmetric": "(pixel / 255 - 0.5) / 0.5, in [-1, 1]",
}

# The book's preprocessing of each dataset, the one that reproduces the paper's numbers
# for v1 of Z (the chapter on Z): PyTorch's tutorial conventions, Normalize(0.1307, 0.3081)
# for MNIST and Normalize(0.5, 0.5), pixels in [-1, 1], for CIFAR-10.
DEFAULT_NORMALIZATION = {"mnist": "standard", "cifar10": "symmetric"}

# Sampling pool: the first POOL images of each split. The offline CIFAR-10 subset
# holds the first 4,000 training and 1,000 test images, so a seed picks the
# same images here and after a full torchvision download.
POOL = {
    ("mnist", "train"): 60000,
    ("mnist", "test"): 10000,
    ("cifar10", "train"): 4000,
    ("cifar10", "test"): 1000,
}

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _check(dataset: str, split: str) -> str:
    dataset = str(dataset).lower().replace("-", "")
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose 'mnist' or 'cifar10'")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose 'train' or 'test'")
    return dataset


def download_dir() -> Path:
    """Where torchvision downloads go (``CONDENSE_DOWNLOAD_DIR`` or ``~/.cache/condense_lib/data``)."""
    return Path(os.environ.get("CONDENSE_DOWNLOAD_DIR", Path.home() / ".cache" / "condense_lib" / "data"))


def data_dirs(data_dir: Optional[str | os.PathLike] = None) -> list[Path]:
    """The folders searched for images, in order."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    elif os.environ.get("CONDENSE_DATA"):
        dirs.append(Path(os.environ["CONDENSE_DATA"]))
    dirs.append(download_dir())
    return dirs


# ----------------------------------------------------------------------------- readers

_MNIST_LAYOUT = "IDX files of uint8 images (N, 28, 28) and uint8 labels 0..9 (N,), as torchvision downloads them"
_CIFAR_LAYOUT = ("keys x_train, y_train, x_test, y_test: x uint8 pixels (N, 32, 32, 3), height, width, channel; "
                 "y integer labels 0..9, (N,)")
_REDOWNLOAD = "delete it and re-download (CONDENSE_DOWNLOAD=1), or put a good copy there"


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): magic 0x0000 08 <ndim>, big-endian dims, uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} cannot be read ({type(err).__name__}: {err}): it is corrupt or cut short; "
                         f"{_REDOWNLOAD}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an uint8 IDX file (bad magic number); {_REDOWNLOAD}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated (its header is cut short); {_REDOWNLOAD}")
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated ({data.size} bytes for shape {dims}); {_REDOWNLOAD}")
    return data.reshape(dims)


def _checked(x: np.ndarray, y: np.ndarray, dataset: str, source, layout: str):
    """x uint8 (N, H, W) or (N, H, W, C) as ``SHAPES`` says, y integer labels 0..9 (N,); else a
    ``ValueError`` naming ``source`` (the file or files) and the expected ``layout``."""
    c, h, w = SHAPES[dataset]
    want = (h, w) if c == 1 else (h, w, c)
    where = f"{source}: " if isinstance(source, (str, Path)) else f"{' and '.join(map(str, source))}: "
    fix = f"; {_REDOWNLOAD}; the layout read: {layout}"
    if x.dtype != np.uint8:
        raise ValueError(f"{where}the images are {x.dtype}, not uint8 pixels{fix}")
    if x.ndim != 1 + len(want) or tuple(x.shape[1:]) != want:
        raise ValueError(f"{where}the images have shape {x.shape}, not (N, {', '.join(map(str, want))}){fix}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"{where}the labels are {y.dtype} of shape {y.shape}, not integers (N,){fix}")
    if len(x) != len(y):
        raise ValueError(f"{where}{len(x)} images but {len(y)} labels{fix}")
    if len(y) and not (0 <= y.min() and y.max() < CLASSES):
        raise ValueError(f"{where}labels range over {y.min()}..{y.max()}, not 0..{CLASSES - 1}{fix}")
    return x, y.astype(np.int64)


def _find(folder: Path, stem: str) -> Optional[Path]:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _mnist_from(root: Path, split: str):
    for folder in (root / "MNIST" / "raw", root / "mnist" / "raw", root):
        images, labels = (_find(folder, s) for s in _MNIST_FILES[split])
        if images and labels:
            x, y = _checked(_read_idx(images), _read_idx(labels), "mnist", (images, labels), _MNIST_LAYOUT)
            return x[:, None, :, :], y  # (N, 1, 28, 28)
    return None


def _cifar_from(root: Path, split: str):
    npz = root / "cifar10_subset.npz"
    if npz.is_file():
        keys = (f"x_{split}", f"y_{split}")
        try:
            with np.load(npz, allow_pickle=False) as f:
                missing = [k for k in keys if k not in f.files]
                x, y = (None, None) if missing else (f[keys[0]], f[keys[1]])
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{npz} cannot be read ({type(err).__name__}: {err}); {_REDOWNLOAD}; "
                             f"the layout read: {_CIFAR_LAYOUT}") from err
        if missing:
            raise ValueError(f"{npz} has no {' or '.join(missing)}; the layout read: {_CIFAR_LAYOUT}")
        x, y = _checked(x, y, "cifar10", npz, _CIFAR_LAYOUT)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y  # HWC -> CHW
    folder = root / "cifar-10-batches-py"
    if folder.is_dir():
        from torchvision.datasets import CIFAR10  # reads torchvision's own layout

        try:
            ds = CIFAR10(str(root), train=(split == "train"), download=False)
            x, y = np.asarray(ds.data), np.asarray(ds.targets)
        except Exception as err:  # torchvision: RuntimeError (checksums), pickle and OS errors
            raise ValueError(f"{folder} cannot be read ({type(err).__name__}: {err}); {_REDOWNLOAD}") from err
        x, y = _checked(x, y, "cifar10", folder, "torchvision's cifar-10-batches-py")
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y
    return None


def _download(dataset: str, split: str, root: Path) -> None:
    try:
        from torchvision import datasets
    except ImportError as err:  # pragma: no cover - torchvision is optional
        raise FileNotFoundError("torchvision is needed to download; pip install torchvision") from err
    cls = datasets.MNIST if dataset == "mnist" else datasets.CIFAR10
    root.mkdir(parents=True, exist_ok=True)
    cls(str(root), train=(split == "train"), download=True)


def load_images(dataset: str, split: str = "train", data_dir=None, *, download: Optional[bool] = None):
    """All images of a split as uint8 ``(N, C, H, W)`` and labels ``(N,)`` int64.

    Raises ``FileNotFoundError`` naming every folder searched and the settings
    to change when the images are nowhere to be found.
    """
    dataset = _check(dataset, split)
    reader = _mnist_from if dataset == "mnist" else _cifar_from
    searched = data_dirs(data_dir)
    for root in searched:
        found = reader(root, split) if root.is_dir() else None
        if found is not None:
            return found
    if download is None:
        download = os.environ.get("CONDENSE_DOWNLOAD", "1") != "0"
    error = None
    if download:
        try:
            _download(dataset, split, download_dir())
            found = reader(download_dir(), split)
            if found is not None:
                return found
        except Exception as err:  # offline, or the server refused
            error = err
    where = ", ".join(str(p) for p in searched)
    raise FileNotFoundError(
        f"no {dataset} {split} images found in: {where}. "
        f"Set CONDENSE_DATA to a folder holding MNIST/raw/*-ubyte[.gz] or cifar10_subset.npz, "
        f"or allow a download on a machine with internet (CONDENSE_DOWNLOAD=1)."
        + (f" The download failed: {error}" if error else "")
    )


def resolve_normalization(dataset: str, normalization: Optional[str] = None) -> str:
    """``normalization``, or the dataset's ``DEFAULT_NORMALIZATION`` when it is None; checked
    against ``NORMALIZATIONS`` (``ValueError`` listing them otherwise)."""
    if normalization is None:
        return DEFAULT_NORMALIZATION[_check(dataset, "train")]
    if not isinstance(normalization, str) or normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}: choose one of {sorted(NORMALIZATIONS)} "
                         f"(or None for the dataset's default, {DEFAULT_NORMALIZATION})")
    return normalization


def normalize(images: np.ndarray, dataset: str, normalization: Optional[str] = None) -> np.ndarray:
    """uint8 images (N, C, H, W) -> float64 inputs by one of ``NORMALIZATIONS``
    (None: the dataset's ``DEFAULT_NORMALIZATION``)."""
    normalization = resolve_normalization(dataset, normalization)
    x = images / 255.0
    if normalization == "standard":
        mean, std = (np.asarray(v, dtype=np.float64)[None, :, None, None] for v in CHANNEL_STATS[dataset])
        return (x - mean) / std
    if normalization == "symmetric":
        return (x - 0.5) / 0.5
    return x


def image_pool(dataset: str, split: str = "train", normalization: Optional[str] = None, *, data_dir=None):
    """The whole sampling pool of a split (its first ``POOL[dataset, split]`` images), normalized.

    Returns ``x`` float64 (N, C, H, W) and the class labels as float64 (N,); with the same
    ``normalization`` (None: the dataset's ``DEFAULT_NORMALIZATION``) these are the images
    ``sample`` draws from.
    """
    normalization = resolve_normalization(dataset, normalization)  # before reading (or downloading) anything
    images, labels = load_images(dataset, split, data_dir)
    dataset = _check(dataset, split)
    N = min(POOL[dataset, split], len(images))
    return normalize(images[:N], dataset, normalization), labels[:N].astype(np.float64)


def sample(
    dataset: str,
    n: int = 500,
    seed: int = 0,
    *, split: str = "train",
    target: str = "label",
    data_dir=None,
    dtype: torch.dtype = torch.float32,
    normalization: Optional[str] = None,
    crop: int = 0,
):
    """``n`` random images of a split, normalized, with their targets (Sec. 4.1).

    Parameters
    ----------
    dataset : ``"mnist"`` or ``"cifar10"``.
    n : number of images, drawn without replacement from the first
        ``POOL[dataset, split]`` images with ``numpy.random.default_rng(seed)``.
    target : ``"label"`` -- the class label 0..9 as a float, shape ``(n,)``, the
        scalar target y of eq. 1 for d = 1 outputs; ``"onehot"`` -- shape ``(n, 10)``;
        ``"class"`` -- int64 class indices ``(n,)`` for cross-entropy.
    crop : keep the centre ``crop x crop`` pixels of each image (the small inputs of the
        theory chapters); 0 keeps the whole image.

    Returns
    -------
    x : tensor ``(n, C, H, W)``, normalized by ``normalization``, one of ``NORMALIZATIONS``
        (None: the dataset's ``DEFAULT_NORMALIZATION``, per-channel mean and std for MNIST,
        [-1, 1] for CIFAR-10).
    y : tensor of targets as above.
    """
    images, labels, dataset, pool, normalization = _pool(dataset, split, target, data_dir, normalization, crop)
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or not 1 <= n <= pool:
        raise ValueError(f"n = {n!r} must be an integer in 1..{pool}: the {dataset} {split} pool has {pool} images")
    index, _ = split_index(pool, n, 0, seed=seed)
    return _inputs_targets(images, labels, index, dataset, target, normalization, crop, dtype)


def _pool(dataset, split, target, data_dir, normalization, crop):
    """The checked arguments of ``sample`` and ``held_out`` and the split they draw from:
    ``(images, labels, dataset, pool size, normalization)``."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}: choose 'label', 'onehot' or 'class'")
    normalization = resolve_normalization(dataset, normalization)
    images, labels = load_images(dataset, split, data_dir)
    dataset = _check(dataset, split)
    _check_crop(crop, *images.shape[-2:])
    return images, labels, dataset, min(POOL[dataset, split], len(images)), normalization


def _check_crop(crop, H: int, W: int) -> None:
    if isinstance(crop, (bool, np.bool_)) or not (isinstance(crop, (int, np.integer)) and 0 <= crop <= min(H, W)):
        raise ValueError(f"crop = {crop!r} must be an integer in 0..{min(H, W)} for {H}x{W} images (0 keeps them whole)")


def _inputs_targets(images, labels, index, dataset, target, normalization, crop, dtype):
    """The images ``index`` of a split, normalized and cropped, with their targets (see ``sample``)."""
    H, W = images.shape[-2:]
    x = torch.as_tensor(normalize(images[index], dataset, normalization), dtype=dtype)
    if crop:
        top, left = (H - crop) // 2, (W - crop) // 2
        x = x[:, :, top:top + crop, left:left + crop].contiguous()
    if not torch.isfinite(x).all():
        raise ValueError(f"the {dataset} images contain NaN or inf: the data files are corrupt; re-download them")
    label = torch.as_tensor(labels[index])
    if target == "class":
        y = label
    elif target == "onehot":
        y = torch.nn.functional.one_hot(label, 10).to(dtype)
    else:
        y = label.to(dtype)
    return x, y


def split_index(pool: int, n_train: int, n_held: Optional[int], *, seed: int = 0):
    """The positions in a pool of ``pool`` images of a training sample and of held-out images.

    ``train``: the ``n_train`` images ``sample(..., n_train, seed)`` draws, sorted,
    ``numpy.random.default_rng(seed).choice(pool, n_train, replace=False)``; ``held``: ``n_held``
    of the other ``pool - n_train`` images (all of them when ``n_held`` is None), drawn with
    ``default_rng([seed, 1])``, sorted. The two never share an image. Raises ``ValueError`` when
    the pool has fewer than ``n_train + n_held`` images.
    """
    whole = lambda v: not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, np.integer))
    if not (whole(pool) and pool >= 1 and whole(n_train) and 1 <= n_train <= pool):
        raise ValueError(f"n_train = {n_train!r} must be an integer in 1..{pool}: the pool has {pool} images")
    train = np.sort(np.random.default_rng(seed).choice(pool, size=n_train, replace=False))
    rest = np.setdiff1d(np.arange(pool), train, assume_unique=True)
    if n_held is None:
        return train, rest
    if not (whole(n_held) and 0 <= n_held <= len(rest)):
        raise ValueError(f"n = {n_held!r} held-out images asked for, but the pool has {pool} images and {n_train} "
                         f"of them are the training sample: at most {len(rest)} are held out; ask for fewer, "
                         f"or train on fewer")
    held = np.sort(np.random.default_rng([seed, 1]).choice(rest, size=n_held, replace=False))
    return train, held


def held_out(
    dataset: str,
    n: Optional[int],
    *,
    n_train: int,
    seed: int = 0,
    split: str = "train",
    target: str = "label",
    data_dir=None,
    dtype: torch.dtype = torch.float32,
    normalization: Optional[str] = None,
    crop: int = 0,
):
    """``n`` images of the same pool as ``sample(dataset, n_train, seed, split, ...)`` that are
    never in that training sample (None: all the others), with the same normalization, crop
    and targets: the test set of a run trained on that sample (``split_index`` picks them).

    The pools are small offline (MNIST: the 10,000 test images; CIFAR-10: the first 4,000
    training and 1,000 test images, ``POOL``): ``n + n_train`` must fit in the pool, else
    ``ValueError`` says how many are left. Returns ``(x, y)`` as ``sample`` does.
    Used in the chapter "After the initial stage".
    """
    images, labels, dataset, pool, normalization = _pool(dataset, split, target, data_dir, normalization, crop)
    try:
        _, index = split_index(pool, n_train, n, seed=seed)
    except ValueError as err:
        raise ValueError(f"the {dataset} {split} pool: {err}") from None
    return _inputs_targets(images, labels, index, dataset, target, normalization, crop, dtype)
