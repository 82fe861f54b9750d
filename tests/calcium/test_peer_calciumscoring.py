"""The test cases of MolloiLab/CalciumScoring.jl (MIT), written in this project's API.

Each test names the peer file it comes from (``test/agatston.jl``,
``test/integrated.jl``, ``test/volume_fraction.jl``, ``test/spatially_weighted.jl``)
and holds the peer's literal inputs and expected values. The peer's arrays are
``(x, y, z)`` with z last; here they are ``(z, y, x)``. Its arrays hold no air, so the
HU check is turned off (``hu_check=False``), which is how a cropped CT in HU is scored.
"""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.volume import Acquisition, Volume


def peer_volume(array_xyz, spacing_mm=(0.5, 0.5, 0.5), kvp=120):
    """A peer array (x, y, z) as a Volume (z, y, x) with every voxel labelled LAD."""
    array = np.transpose(np.asarray(array_xyz, dtype=np.float32), (2, 1, 0))
    acquisition = Acquisition(kvp=kvp, slice_increment_mm=spacing_mm[2])
    ct = Volume(array, spacing_mm, modality="CT", units="HU", acquisition=acquisition)
    return ct, ct.replace(array=np.full(array.shape, 2, np.uint8), modality="LABELS")


def test_agatston_volume_and_mass():
    # test/agatston.jl: vol = hcat(ones(4,2,2), zeros(4,2,2)) * 400, spacing 0.5 mm:
    # Agatston 16 and volume 2 mm³; mass 0.6 mg with mass_cal_factor 0.00075 (per mm³,
    # i.e. 0.75 mg/cm³ per HU here).
    vol = np.concatenate([np.ones((4, 2, 2)), np.zeros((4, 2, 2))], axis=1) * 400
    ct, arteries = peer_volume(vol)
    settings = CoronarySettings(
        slice_mode="native", hu_check=False, calibration_mg_cm3_per_hu=0.75
    )
    result = run_coronary(ct, arteries, settings)
    # the peer sums area x weight over the slices without the increment / 3 mm factor
    raw = sum(s["area_mm2"] * s["weight"] for s in result["slice_lesions"])
    assert raw == pytest.approx(16)
    assert result["agatston"] == pytest.approx(16 * 0.5 / 3)
    assert result["volume_mm3"] == pytest.approx(2)
    assert result["mass_mg"] == pytest.approx(0.6)


def test_agatston_of_zeros():
    # test/agatston.jl: score(zeros(3, 3, 3), ...) == (0, 0, 0)
    ct, arteries = peer_volume(np.zeros((3, 3, 3)))
    settings = CoronarySettings(hu_check=False, calibration_mg_cm3_per_hu=0.75)
    result = run_coronary(ct, arteries, settings)
    assert (result["agatston"], result["volume_mm3"], result["mass_mg"]) == (0, 0, 0)


@pytest.mark.parametrize(("hu", "kvp"), [(260, 135), (280, 120), (310, 100), (400, 80)])
def test_kv_specific_thresholds_give_the_same_score(hu, kvp):
    # test/agatston.jl "Various kVs": a 4 x 3 block of `hu` on two 0.5-mm slices scores 12
    # at its kV (weight 2 in the kV table each time); the peer thresholds with ">".
    block = np.zeros((4, 7))
    block[:, 1:4] = hu
    vol = np.stack([block, block], axis=2)
    ct, arteries = peer_volume(vol, kvp=kvp)
    settings = CoronarySettings(
        slice_mode="native",
        hu_check=False,
        threshold_rule="kvp_formula",
        inclusive_threshold=False,
    )
    result = run_coronary(ct, arteries, settings)
    raw = sum(s["area_mm2"] * s["weight"] for s in result["slice_lesions"])
    assert raw == pytest.approx(12)
    assert [s["weight"] for s in result["slice_lesions"]] == [2, 2]


def test_kvp_formula_band_counts_in_volume_not_in_agatston():
    # 120 kV: the formula threshold is 128 HU, the kV table gives weight 1 from 130 HU.
    # A 4 x 4 px (4 mm²) region at 129 HU on one 3-mm slice is a candidate of weight 0.
    ct, arteries = peer_volume(np.zeros((12, 12, 3)), spacing_mm=(0.5, 0.5, 3.0))
    array = np.array(ct.array)
    array[1, 4:8, 4:8] = 129
    ct = ct.replace(array=array)
    settings = CoronarySettings(threshold_rule="kvp_formula", hu_check=False)
    result = run_coronary(ct, arteries, settings)
    assert result["settings"]["threshold_hu_used"] == 128
    assert result["settings"]["weight_one_hu_used"] == 130
    assert result["agatston"] == 0
    assert result["lesion_count"] == 1
    assert result["volume_mm3"] == pytest.approx(16 * 0.25 * 3.0)  # 12 mm³
    assert result["slice_lesions"][0]["weight"] == 0
    # the default rule does not see it
    assert run_coronary(ct, arteries, CoronarySettings(hu_check=False))["lesion_count"] == 0
