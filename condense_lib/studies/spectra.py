"""The spectrum of Z (eqs. 35-36) of each distinct data sample among many runs: the points of
a grid share a few samples, and each Z is built once. Used by the regimes and sensitivity studies."""
from __future__ import annotations

from ..theory.data_matrix import Spectrum, spectrum
from ..training.config import Config

__all__ = ["sample_key", "spectra"]


def sample_key(c: Config) -> tuple:
    """What fixes a run's Z (eq. 35): its data sample and preprocessing, m and padding."""
    return (c.dataset, c.split, c.n, c.seed, c.crop, c.normalization, c.m, c.padding)


def spectra(configs) -> "dict[tuple, Spectrum]":
    """The spectrum of Z of each distinct ``sample_key`` among ``configs``, keyed by it."""
    out = {}
    for c in configs:
        if sample_key(c) not in out:
            out[sample_key(c)] = spectrum(c.Z())
    return out
