"""A results cache on disk: ``.npz`` files (no pickle), written atomically, keyed
by a hash of the configuration that produced them, and checked when read back.

The folder is ``CONDENSE_CACHE`` if set, else ``~/.cache/condense_lib/results``.
A file that cannot be read, was cut short, or holds another configuration is
recomputed, never trusted.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Mapping, Optional

import numpy as np

__all__ = ["cache_dir", "cache_path", "config_hash", "load_or_compute", "read_npz", "write_npz"]

_KEY = "__config__"


def cache_dir() -> Path:
    """The cache folder (``CONDENSE_CACHE`` or ``~/.cache/condense_lib/results``)."""
    return Path(os.environ.get("CONDENSE_CACHE", Path.home() / ".cache" / "condense_lib" / "results"))


def _canonical(config: Mapping) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=list)


def config_hash(config: Mapping) -> str:
    """First 16 hex digits of the SHA-256 of the configuration as canonical JSON."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def cache_path(name: str, config: Mapping) -> Path:
    """The file that holds the arrays computed for ``config``: ``cache_dir() / f"{name}-{config_hash(config)}.npz"``."""
    return cache_dir() / f"{name}-{config_hash(config)}.npz"


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], config: Mapping) -> None:
    """Write ``arrays`` and the configuration to ``path`` atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_KEY: np.array(_canonical(config))}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_npz(path: Path, config: Mapping) -> Optional[dict]:
    """The arrays in ``path`` if it is a complete file for ``config``, else ``None``."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if _KEY not in f.files or str(f[_KEY]) != _canonical(config):
                return None
            return {k: f[k] for k in f.files if k != _KEY}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError):
        return None


def load_or_compute(
    name: str,
    config: Mapping,
    compute: Callable[[], Mapping[str, np.ndarray]],
    validate: Optional[Callable[[dict], bool]] = None,
    use_cache: bool = True,
) -> dict:
    """Return the cached arrays for ``config``, or compute, store and return them.

    The file is ``cache_path(name, config)``. ``validate``
    (optional) checks the arrays read back; a file that fails it is recomputed.
    """
    path = cache_path(name, config)
    if use_cache and path.exists():
        arrays = read_npz(path, config)
        if arrays is not None and (validate is None or validate(arrays)):
            return arrays
        warnings.warn(f"ignoring the unreadable or stale cache file {path}; recomputing", stacklevel=2)
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    if use_cache:
        write_npz(path, arrays, config)
    return arrays
