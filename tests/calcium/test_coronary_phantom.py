"""The coronary phantom scored with its shipped artery labels gives its truth."""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, measure_coronary, run_coronary
from napari_calcium.calcium.coronary import calibration_from_rois
from napari_calcium.errors import InputError
from napari_calcium.phantoms.coronary import LESIONS, PIXEL_MM, calibration_rois, coronary_ct


def test_truth_is_the_hand_arithmetic():
    _, _, truth = coronary_ct()
    a = PIXEL_MM**2  # 0.2025 mm²
    # LM 4x4 px, 250 HU (x2), one slab; LAD 6x5 px 450 HU (x4) two slabs + 3x3 px 160 HU (x1);
    # LCX 5x5 px 350 HU (x3); RCA 8x6 px 600 HU (x4) three slabs; RCA 2x2 px = 0.81 mm² too small
    assert truth["per_artery"]["LM"]["agatston"] == pytest.approx(16 * a * 2)
    assert truth["per_artery"]["LAD"]["agatston"] == pytest.approx(30 * a * 4 * 2 + 9 * a * 1)
    assert truth["per_artery"]["LCX"]["agatston"] == pytest.approx(25 * a * 3)
    assert truth["per_artery"]["RCA"]["agatston"] == pytest.approx(48 * a * 4 * 3)
    assert truth["agatston"] == pytest.approx(188.73)
    assert truth["category"] == "101-400" and truth["cac_drs"] == "A2/N4"
    assert truth["lesion_count"] == 5 and len(LESIONS) == 6
    # RCA volume: 48 px x 0.2025 mm² x 9 mm; mass 0.8 mg/cm³/HU x volume_cm3 x 600 HU
    assert truth["per_artery"]["RCA"]["volume_mm3"] == pytest.approx(48 * a * 9)
    assert truth["per_artery"]["RCA"]["mass_mg"] == pytest.approx(0.8 * 48 * a * 9 / 1000 * 600)


@pytest.mark.parametrize("thickness", [3.0, 1.0])
@pytest.mark.parametrize("mode", ["native", "resample3mm"])
def test_phantom_scores_equal_truth(thickness, mode):
    ct, arteries, truth = coronary_ct(thickness)
    c = truth["calibration"]["factor_mg_cm3_per_hu"]
    result = run_coronary(
        ct, arteries, CoronarySettings(slice_mode=mode, calibration_mg_cm3_per_hu=c)
    )
    for key in ("agatston", "volume_mm3", "mass_mg"):
        assert result[key] == pytest.approx(truth[key], rel=1e-9), key
    assert result["lesion_count"] == truth["lesion_count"]
    assert result["category"] == truth["category"]
    assert result["cac_drs"] == truth["cac_drs"]
    for name, expected in truth["per_artery"].items():
        got = result["per_artery"][name]
        for key in ("agatston", "volume_mm3", "mass_mg"):
            assert got[key] == pytest.approx(expected[key], rel=1e-9), (name, key)
        assert got["lesions"] == expected["lesions"]
    counted = [les for les in truth["lesions"] if les["counted"]]
    for lesion in counted:
        match = [
            r
            for r in result["lesions"]
            if np.allclose(r["centroid_mm"][:2], lesion["centroid_mm"][:2], atol=1e-6)
            and r["artery"] == lesion["artery"]
            and r["peak_hu"] == lesion["hu"]
        ]
        assert len(match) == 1, lesion
        assert match[0]["mean_hu"] == lesion["hu"]
        assert match[0]["agatston"] == pytest.approx(lesion["agatston"])
        if mode == "native":
            assert match[0]["centroid_mm"] == pytest.approx(lesion["centroid_mm"])


def test_bone_and_inserts_never_count():
    ct, arteries, truth = coronary_ct()
    result = measure_coronary(ct, arteries)
    (y0, y1), (x0, x1) = truth["bone"]["box_yx"]
    lesions = result.lesion_labels().array
    assert not lesions[:, y0:y1, x0:x1].any()
    assert (ct.array[:, y0:y1, x0:x1] == 700).all()
    # without artery labels every candidate, bone and HA insert included, is measured
    # apart as 'unassigned': no headline score, category or CAC-DRS
    unassigned = run_coronary(ct, None)
    assert unassigned["unassigned"]["agatston"] > truth["agatston"] + 100
    assert unassigned["agatston"] is None and unassigned["cac_drs"] == "not scored"
    assert any("no artery labels" in w for w in unassigned["warnings"])
    assert set(unassigned["per_artery"]) == {"LM", "LAD", "LCX", "RCA"}
    assert unassigned["per_artery"]["LAD"]["agatston"] == 0
    assert all(not row["counted"] for row in unassigned["lesions"])


def test_calibration_factor_from_the_phantom_inserts():
    ct, _, truth = coronary_ct(noise_hu=10)
    cal = truth["calibration"]
    rois = calibration_rois(ct, truth)
    got = calibration_from_rois(ct, rois, cal["rho_ha_mg_cm3"])
    # 200 mg HA/cm³ / (250 HU - 0 HU) = 0.8 mg/cm³ per HU
    assert got["factor_mg_cm3_per_hu"] == pytest.approx(200 / 250)
    assert got["insert_hu"] == 250 and got["water_hu"] == 0
    with pytest.raises(InputError, match="no water ROI"):
        calibration_from_rois(ct, rois.replace(array=(rois.array == 1).astype(np.uint8)), 200.0)


def test_thin_phantom_geometry():
    ct, arteries, truth = coronary_ct(1.0, seed=3)
    assert ct.shape == (30, 128, 128) and ct.spacing_mm == (0.45, 0.45, 1.0)
    assert ct.acquisition.kvp == 120 and ct.acquisition.slice_increment_mm == 1.0
    assert arteries.same_grid(ct)
    assert ct.array.max() == 700 and ct.array.min() < -990
    # noise never reaches the threshold outside lesions, bone and inserts
    assert int(np.count_nonzero(arteries.array)) == sum(
        np.prod([b - a for a, b in les["box_zyx"]]) for les in truth["lesions"]
    )
    with pytest.raises(ValueError, match="divide 3 mm"):
        coronary_ct(0.625)


def test_a_result_can_be_recomputed_from_its_settings():
    ct, arteries, truth = coronary_ct(1.0)
    first = run_coronary(
        ct, arteries, CoronarySettings(slice_mode="native", min_area_mm2=0.5, min_pixels=2)
    )
    again = run_coronary(ct, arteries, first["settings"])
    assert again["settings"]["min_area_mm2"] == 0.5 and again["settings"]["slice_mode"] == "native"
    assert again["agatston"] == first["agatston"]
    # with a 0.5 mm² floor the 0.81 mm² RCA lesion (500 HU, x4, one slab) counts too
    assert first["agatston"] == pytest.approx(truth["agatston"] + 4 * PIXEL_MM**2 * 4)
