"""Shared fixtures: the offline data folder and a private results cache."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CONDENSE_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_dir():
    if not (DATA / "MNIST").is_dir():
        pytest.fail(f"the offline data folder {DATA} is missing: set CONDENSE_DATA to ../shared/data")
    return DATA


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
