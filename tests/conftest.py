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
