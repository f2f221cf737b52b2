"""A results cache on disk: ``.npz`` files (no pickle), written atomically, keyed
by a hash of the configuration that produced them, and checked when read back.

The folder is ``CONDENSE_CACHE`` if set and not empty, else ``~/.cache/condense_lib/results``.

What the cache promises (``load_or_compute``):

- it never costs a result: the folder is checked writable (created, a probe file
  written and deleted) *before* computing, and a write that still fails afterwards
  (disk full, folder removed) is a warning, not an error: the result is returned;
- it serves and stores only complete results: a file that cannot be read, was cut
  short, holds another configuration, fails the caller's ``validate`` or holds NaN
  or inf is recomputed, never trusted; a computed result that fails the same checks
  is returned with a warning and not stored;
- two processes computing one key both succeed and leave one valid file: each
  writes its own temporary file (named after its host and pid) and renames it;
  temporary files of dead writers, or older than a day, are removed;
- names stay inside the folder: a name holding ``/`` or ``..`` is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Mapping, Optional

import numpy as np

__all__ = ["CacheError", "cache_dir", "cache_path", "check_writable", "config_hash", "load_or_compute", "lookup",
           "read_npz", "remove_stale", "write_npz"]

_KEY = "__config__"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
STALE_AFTER = 24 * 3600.0  # seconds: a temporary file this old is left over, whoever wrote it


class CacheError(OSError):
    """The results cache cannot be used (raised before anything is computed)."""


def cache_dir() -> Path:
    """The cache folder (``CONDENSE_CACHE``, or ``~/.cache/condense_lib/results`` when unset or empty)."""
    folder = os.environ.get("CONDENSE_CACHE", "")
    return Path(folder).expanduser() if folder.strip() else Path.home() / ".cache" / "condense_lib" / "results"


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return list(value)


def _canonical(config: Mapping) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_json_default)


def config_hash(config: Mapping) -> str:
    """First 16 hex digits of the SHA-256 of the configuration as canonical JSON."""
    return hashlib.sha256(_canonical(config).encode()).hexdigest()[:16]


def cache_path(name: str, config: Mapping) -> Path:
    """``cache_dir() / f"{name}-{config_hash(config)}.npz"``; ``name`` must be a plain file name."""
    return cache_dir() / f"{_plain(name)}-{config_hash(config)}.npz"


def _plain(name: str) -> str:
    name = str(name)
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"cache name {name!r} must be a plain file name (letters, digits, '_', '-' and '.', "
                         f"no '/' and no '..'): the cache writes only inside {cache_dir()}")
    return name


# ----------------------------------------------------------------------------- writing

def _tmp_prefix(path: Path) -> str:
    """Temporary files are ``{name}.{host}.{pid}.{random}.tmp``: who wrote them, to tell left-overs."""
    return f"{path.name}.{socket.gethostname()}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows: rely on the age there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporary files of writers that are gone (this host, pid not running) or
    older than ``STALE_AFTER`` seconds; return what was removed."""
    host, now, removed = socket.gethostname(), time.time(), []
    for tmp in Path(folder).glob("*.tmp"):
        try:
            parts = tmp.name[: -len(".tmp")].rsplit(".", 2)  # [name.host, pid, random]
            dead = (len(parts) == 3 and parts[0].endswith("." + host) and parts[1].isdigit()
                    and not _alive(int(parts[1])))
            if dead or now - tmp.stat().st_mtime > STALE_AFTER:
                tmp.unlink()
                removed.append(tmp)
        except OSError:  # removed meanwhile by another process
            continue
    return removed


def check_writable(folder: Optional[Path] = None) -> Path:
    """Create ``folder`` (default ``cache_dir()``), write and delete a probe file in it.

    Raises ``CacheError`` naming the folder and what to do when any step fails (a path
    under a file, a read-only mount, a full disk)."""
    folder = cache_dir() if folder is None else Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".probe.{socket.gethostname()}.{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"\0" * 4096)
                f.flush()
                os.fsync(f.fileno())
        finally:
            Path(probe).unlink(missing_ok=True)
    except OSError as err:
        raise CacheError(
            f"the results cache folder {folder} is not writable ({err.strerror or err}): set CONDENSE_CACHE "
            f"to a writable folder, or run without the cache (use_cache=False)") from err
    return folder


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], config: Mapping) -> None:
    """Write ``arrays`` and the configuration to ``path`` atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_tmp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_KEY: np.array(_canonical(config))}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- reading

def _open(path: Path):
    """(stored configuration text, arrays), or None when the file cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if _KEY not in f.files:
                return None
            return str(f[_KEY]), {k: f[k] for k in f.files if k != _KEY}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError):
        return None


def read_npz(path: Path, config: Mapping) -> Optional[dict]:
    """The arrays in ``path`` if it is a complete file for ``config``, else ``None``."""
    found = _open(path)
    return found[1] if found is not None and found[0] == _canonical(config) else None


def _problem(arrays: dict, validate: Optional[Callable]) -> Optional[str]:
    """What is wrong with ``arrays``: ``validate``'s answer, then NaN or inf anywhere; None if nothing."""
    if validate is not None:
        try:
            verdict = validate(arrays)
        except (KeyError, AttributeError, TypeError, ValueError, IndexError) as err:
            return f"incomplete ({type(err).__name__}: {err})"
        if verdict is False:
            return "it fails the validation"
        if isinstance(verdict, str):
            return verdict
    bad = [k for k, v in arrays.items()
           if np.asarray(v).dtype.kind in "fc" and not np.isfinite(np.asarray(v)).all()]
    return f"{', '.join(bad)} hold NaN or inf" if bad else None


def _lookup(path: Path, expected: Callable[[str], bool], validate) -> tuple[Optional[dict], Optional[str]]:
    if not path.exists():
        return None, None
    found = _open(path)
    if found is None:
        return None, "it cannot be read or is cut short"
    if not expected(found[0]):
        return None, "it holds another configuration"
    problem = _problem(found[1], validate)
    return (None, problem) if problem else (found[1], None)


def lookup(stem: str, validate: Optional[Callable] = None) -> Optional[dict]:
    """The arrays of the cache file ``cache_dir() / f"{stem}.npz"`` (``stem`` is
    ``f"{name}-{config_hash(config)}"``) if it is valid, else ``None``: it must hold the
    configuration of that hash, pass ``validate`` and hold no NaN or inf."""
    path = cache_dir() / f"{_plain(stem)}.npz"
    digest = path.stem.rpartition("-")[2]
    if not path.is_file():
        return None
    same = lambda text: hashlib.sha256(text.encode()).hexdigest()[:16] == digest
    return _lookup(path, same, validate)[0]


def load_or_compute(
    name: str,
    config: Mapping,
    compute: Callable[[], Mapping[str, np.ndarray]],
    *, validate: Optional[Callable[[dict], Optional[str]]] = None,
    use_cache: bool = True,
) -> dict:
    """Return the cached arrays for ``config``, or compute, store and return them.

    The file is ``cache_dir() / f"{name}-{config_hash(config)}.npz"``. ``validate(arrays)``
    (optional) says what is wrong with a result, as a sentence, or returns ``None`` (``True``
    and ``False`` are read as valid and invalid). A file that fails it, or holds NaN or inf,
    is recomputed with a warning. Before computing, the folder is checked writable (else
    ``CacheError``, nothing computed). A computed result that fails the checks is returned
    with a ``RuntimeWarning`` and not stored; a write that fails is a ``RuntimeWarning`` too,
    and the result is returned.
    """
    path = cache_path(name, config)
    if use_cache:
        if path.exists() and not path.is_file():
            raise CacheError(f"{path} is in the way of the cache file and is not a file: remove it, "
                             f"or set CONDENSE_CACHE to another folder")
        text = _canonical(config)
        arrays, problem = _lookup(path, lambda stored: stored == text, validate)
        if arrays is not None:
            return arrays
        if problem:
            warnings.warn(f"ignoring the cache file {path}: {problem}; recomputing", stacklevel=2)
        check_writable(path.parent)
        remove_stale(path.parent)
    arrays = {k: np.asarray(v) for k, v in compute().items()}
    problem = _problem(arrays, validate)
    if problem:
        warnings.warn(f"the result for {path.name} is returned" + (" but not cached" if use_cache else "")
                      + f": {problem}", RuntimeWarning, stacklevel=2)
        return arrays
    if use_cache:
        try:
            write_npz(path, arrays, config)
        except OSError as err:
            warnings.warn(f"could not store the result in the cache folder {path.parent} ({err}): it is returned, "
                          f"not cached, and will be computed again next time", RuntimeWarning, stacklevel=2)
    return arrays
