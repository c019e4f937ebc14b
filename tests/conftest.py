"""Shared test fixtures.

Real public datasets live in ``../shared/data`` next to the repository (never copied into
it).  Tests that need them use the ``shared_data`` fixture, which skips with a clear reason
when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HETFIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_data_path(*parts: str) -> Path:
    """Path under ../shared/data, or skip the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public dataset not available: {path} (set HETFIT_SHARED_DATA to its folder)")
    return path


@pytest.fixture
def shared_data():
    """Callable fixture: ``shared_data('allen_cell_types', 'x.csv')`` -> Path or skip."""
    return shared_data_path
