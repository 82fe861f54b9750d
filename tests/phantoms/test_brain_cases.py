"""The second brain-MRI family: WMH volume and microbleeds (2 mm included) against the design."""

import numpy as np
import pytest

from napari_calcium.phantoms.brain_cases import BrainCase, brain_case
from napari_calcium.svd import run_svd_with_masks


@pytest.fixture(scope="module")
def case():
    # a light case (two sub-samples per axis, few extras) so the test stays quick
    spec = BrainCase(wmh_load_ml=1.5, n_microbleeds=4, n_veins=5, n_lacunes=1, n_epvs=2,
                     supersample=2)  # fmt: skip
    return brain_case(7, spec)


def test_truth_is_the_construction(case):
    flair, _, truth = case
    # the WMH fractions sum to the designed volume, which meets the asked load
    voxel_ml = flair.voxel_volume_mm3 / 1000.0
    assert truth["wmh_fraction"].sum() * voxel_ml == pytest.approx(
        truth["wmh_volume_ml"], rel=1e-4
    )
    assert 1.5 <= truth["wmh_volume_ml"] < 1.5 + 0.5
    diameters = [m["diameter_mm"] for m in truth["microbleeds"]]
    assert diameters[0] == 2.0 and all(2.0 <= d <= 10.0 for d in diameters)


def test_wmh_volume_and_microbleeds(case):
    flair, swi, truth = case
    record, _ = run_svd_with_masks(flair, swi)
    # the half-way redraw leaves the volume 2-6 % below the design on these cases
    # (benchmarks/validate_patterns_svd.py); 8 % bounds it here
    assert record["wmh_volume_ml"] == pytest.approx(truth["wmh_volume_ml"], rel=0.08)
    found = np.array([c["position_mm"] for c in record["microbleeds"]["candidates"]])
    for m in truth["microbleeds"]:
        d = np.linalg.norm(found - m["position_mm"], axis=1)
        assert d.min() < max(2.0, m["diameter_mm"] / 2), m
    truth_pos = np.array([m["position_mm"] for m in truth["microbleeds"]])
    false = [p for p in found if np.linalg.norm(truth_pos - p, axis=1).min() >= 3.0]
    assert len(false) <= 2
