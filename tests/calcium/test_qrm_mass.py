"""Integrated and volume-fraction mass on the QRM-like insert phantom against its design.

The phantom (:mod:`napari_calcium.phantoms.qrm`) is built from geometry alone: each
insert's mass is rho x pi r² L. These three configurations are the ones the method was
developed on; ``benchmarks/qrm_mass.py`` also runs held-out ones.
"""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.calcium.coronary import calibration_from_rois, calibration_settings
from napari_calcium.phantoms.qrm import qrm_ct

CONFIGS = [
    {},  # 0.5-mm pixels, 1-mm slices, noise 10 HU, PSF sigma 0.4 mm
    {"pixel_mm": 0.4, "slice_mm": 0.5, "noise_hu": 15.0, "seed": 1},
    {"slice_mm": 3.0, "psf_sigma_mm": 0.5, "seed": 2},
]


def scored(config):
    ct, labels, rois, truth = qrm_ct(**config)
    cal = calibration_from_rois(ct, rois, truth["calibration"]["rho_mg_cm3"])
    result = run_coronary(ct, labels, CoronarySettings(**calibration_settings(cal)))
    matched = []
    for insert in truth["inserts"]:
        x, y = insert["centre_xy_mm"]
        region = min(
            result["mass_regions"],
            key=lambda r: np.hypot(r["centroid_mm"][0] - x, r["centroid_mm"][1] - y),
        )
        matched.append((insert, region))
    return result, matched, cal, truth


@pytest.mark.parametrize("config", CONFIGS)
def test_both_mass_methods_within_5_percent_of_the_design(config):
    result, matched, cal, truth = scored(config)
    # the calibration ROIs recover the construction: 1 / 1.1 mg/cm³ per HU
    assert cal["factor_mg_cm3_per_hu"] == pytest.approx(
        truth["calibration"]["factor_mg_cm3_per_hu"], rel=0.02
    )
    assert len(result["mass_regions"]) == len(truth["inserts"])
    for insert, region in matched:
        if insert["diameter_mm"] < 3:
            continue  # 1-mm inserts: 0.16-0.63 mg in noise, reported by the benchmark
        for key in ("integrated_mass_mg", "volume_fraction_mass_mg"):
            assert region[key] == pytest.approx(insert["mass_mg"], rel=0.05), (insert, key)


def test_low_density_insert_scores_0_agatston_but_has_mass():
    result, matched, _, _ = scored(CONFIGS[0])
    insert, region = next((i, r) for i, r in matched if i["rho_mg_cm3"] == 40)
    # 40 mg HA/cm³ x 1.1 HU per mg/cm³ = 44 HU above the 40 HU resin: below 130 HU
    assert region["lesion_ids"] == []  # no lesion above threshold: Agatston 0
    assert insert["mass_mg"] == pytest.approx(40 * np.pi * 2.5**2 * 5 / 1000)  # 3.93 mg
    assert region["integrated_mass_mg"] == pytest.approx(insert["mass_mg"], rel=0.05)
    assert region["volume_fraction_mass_mg"] == pytest.approx(insert["mass_mg"], rel=0.05)
    # it counts in its artery's threshold-free total, not in Agatston, volume or mass
    per_artery = result["per_artery"][region["artery"]]
    lesion_mass = sum(
        les["integrated_mass_mg"] for les in result["lesions"] if les["artery"] == region["artery"]
    )
    assert per_artery["integrated_mass_mg"] > lesion_mass + 0.9 * insert["mass_mg"]
    # the 800 mg 5-mm insert has the largest SWCS, the low-density one almost none
    swcs = {(i["diameter_mm"], i["rho_mg_cm3"]): r["swcs"] for i, r in matched}
    assert swcs[(5.0, 800.0)] == max(swcs.values()) and swcs[(5.0, 40.0)] < 1.0
