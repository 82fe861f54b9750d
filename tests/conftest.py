"""Shared fixtures."""

import os
from pathlib import Path

import pytest


def _find_real_data() -> Path | None:
    """``shared/data/real`` beside the repository (or in ``NAPARI_CALCIUM_REAL_DATA``)."""
    if os.environ.get("NAPARI_CALCIUM_REAL_DATA"):
        return Path(os.environ["NAPARI_CALCIUM_REAL_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "real"
        if candidate.is_dir():
            return candidate
    return None


REAL_DATA = _find_real_data()


@pytest.fixture
def real_data() -> Path:
    """Real, de-identified scanner files (see their README); skips when absent."""
    if REAL_DATA is None or not REAL_DATA.is_dir():
        pytest.skip("real scanner files (shared/data/real) not present")
    return REAL_DATA
