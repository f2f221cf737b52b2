"""Shared fixtures: the offline data folder, a private results cache and a small run."""
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CONDENSE_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir():
    if not (DATA / "MNIST").is_dir():
        pytest.skip(f"the offline data folder {DATA} is missing: set CONDENSE_DATA to it "
                    f"(by default ../shared/data next to the repository)")
    return DATA


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def small_run():
    """A small two-conv-layer run, recorded at epochs 0, 3, 6 (a toy problem: the tests
    that use it check arithmetic and drawing, not the paper)."""
    import condense_lib as cl

    g = torch.Generator().manual_seed(3)
    x = torch.randn((12, 2, 9, 9), generator=g, dtype=torch.float64)
    y = torch.randn(12, generator=g, dtype=torch.float64)
    model = cl.CNN((2, 9, 9), (4, 5), m=3, init="theory", eps=0.5, seed=1).double()
    return cl.train(model, x, y, optimizer="gd", lr=0.05, epochs=6, snapshot_epochs=[0, 3, 6], progress=False)


@pytest.fixture
def two_layer_problem():
    """A maker of small two-layer problems: seeded random images (n, *shape) and labels 0..9,
    and the theory's two-layer tanh CNN of M kernels, every parameter N(0, eps^2), in float64."""
    import torch

    from condense_lib import CNN

    def make(seed=0, n=12, shape=(1, 7, 6), M=4, eps=1e-7):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn((n, *shape), generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (n,), generator=g).double()
        model = CNN(shape, (M,), m=3, activation="tanh", head="linear", init="theory", eps=eps, seed=seed).double()
        return x, y, model

    return make
