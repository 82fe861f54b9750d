"""Agatston, volume and mass on tiny CTs whose answers are worked out by hand.

Every CT has a 0 HU background with one air voxel (-1000 HU, so it reads as HU), and
the artery label image marks the lesion voxels. Pixel size 0.5 mm unless stated:
a pixel is 0.25 mm².
"""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, measure_coronary, run_coronary
from napari_calcium.calcium.coronary import resample_to_slabs
from napari_calcium.volume import Acquisition, Volume

PX = 0.5


def make_ct(nz, dz, ny=24, nx=24, px=PX):
    ct = np.zeros((nz, ny, nx), np.int16)
    ct[0, 0, 0] = -1000
    acquisition = Acquisition(kvp=120, slice_thickness_mm=dz, slice_increment_mm=dz)
    return ct, {
        "spacing_mm": (px, px, dz),
        "origin_mm": (10.0, -20.0, -100.0),
        "acquisition": acquisition,
    }


def score(ct, geometry, labels=None, **settings):
    if labels is None:
        labels = (ct >= 130).astype(np.uint8) * 2  # everything above threshold is LAD
    ct_volume = Volume(ct, modality="CT", units="HU", **geometry)
    return run_coronary(ct_volume, ct_volume.replace(array=labels), CoronarySettings(**settings))


@pytest.mark.parametrize(
    ("peak_hu", "expected"),
    [
        # 5 x 5 pixels = 25 x 0.25 = 6.25 mm², one 3-mm slice: 6.25 x weight
        (129, 0.0),  # below 130 HU: not calcium
        (130, 6.25 * 1),
        (199, 6.25 * 1),
        (200, 6.25 * 2),
        (299, 6.25 * 2),
        (300, 6.25 * 3),
        (399, 6.25 * 3),
        (400, 6.25 * 4),
    ],
)
def test_weight_boundaries(peak_hu, expected):
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = peak_hu
    labels = np.zeros(ct.shape, np.uint8)
    labels[1, 5:10, 5:10] = 2  # reader assigned the region to LAD, calcium or not
    result = score(ct, geometry, labels, calibration_mg_cm3_per_hu=0.8)
    assert result["agatston"] == pytest.approx(expected)
    assert result["per_artery"]["LAD"]["agatston"] == pytest.approx(expected)
    counted = expected > 0
    # volume 25 voxels x 0.25 mm² x 3 mm = 18.75 mm³; mass 0.8 x 0.01875 cm³ x peak HU
    assert result["volume_mm3"] == pytest.approx(18.75 if counted else 0.0)
    assert result["mass_mg"] == pytest.approx(0.8 * 0.01875 * peak_hu if counted else 0.0)


def test_peak_pixel_sets_the_weight_and_mean_sets_the_mass():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = 150
    ct[1, 7, 7] = 420  # one pixel reaches weight 4
    result = score(ct, geometry, calibration_mg_cm3_per_hu=1.0)
    # 6.25 mm² x 4 = 25
    assert result["agatston"] == pytest.approx(25.0)
    mean = (24 * 150 + 420) / 25  # 160.8 HU
    assert result["lesions"][0]["mean_hu"] == pytest.approx(mean)
    assert result["lesions"][0]["peak_hu"] == 420
    # mass = 1.0 x 0.01875 cm³ x 160.8 HU
    assert result["mass_mg"] == pytest.approx(0.01875 * mean)


@pytest.mark.parametrize(
    ("n_pixels", "px", "counts"),
    [
        (4, 0.5, True),  # 4 x 0.25 = 1.00 mm² >= 1
        (3, 0.5, False),  # 0.75 mm² < 1
        (5, 0.45, True),  # 5 x 0.2025 = 1.0125 mm²
        (4, 0.45, False),  # 0.81 mm²
    ],
)
def test_minimum_area_boundary(n_pixels, px, counts):
    ct, geometry = make_ct(3, 3.0, px=px)
    ct[1, 10, 5 : 5 + n_pixels] = 500  # a row of pixels, weight 4
    result = score(ct, geometry)
    area = n_pixels * px * px
    assert result["agatston"] == pytest.approx(area * 4 if counts else 0.0)
    assert result["lesion_count"] == (1 if counts else 0)


def test_minimum_pixel_count_option():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 10, 5:8] = 500  # 3 pixels = 0.75 mm²
    assert score(ct, geometry)["agatston"] == 0.0
    # ">= 3 contiguous pixels" convention, no area floor: 0.75 x 4 = 3
    result = score(ct, geometry, min_area_mm2=0.0, min_pixels=3)
    assert result["agatston"] == pytest.approx(3.0)
    assert score(ct, geometry, min_area_mm2=0.0, min_pixels=4)["agatston"] == 0.0


def test_connectivity_parameter():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:7, 5] = 300  # 2 pixels (0.5 mm²) ...
    ct[1, 7:9, 6] = 300  # ... touching the first only at a corner
    # 8-connected: one 1.0 mm² lesion x 3 = 3; 4-connected: two 0.5 mm² regions, too small
    assert score(ct, geometry)["agatston"] == pytest.approx(3.0)
    assert score(ct, geometry, connectivity_2d=4, connectivity_3d=6)["agatston"] == 0.0


def test_lesion_spanning_slices_has_a_peak_per_slice():
    ct, geometry = make_ct(5, 3.0)
    ct[1, 5:10, 5:10] = 250  # slice 1: 6.25 mm² x 2
    ct[2, 5:10, 5:10] = 250
    ct[2, 6, 6] = 450  # slice 2: 6.25 mm² x 4
    ct[3, 6:9, 6:9] = 150  # slice 3: 9 px = 2.25 mm² x 1
    result = score(ct, geometry, calibration_mg_cm3_per_hu=0.8)
    assert result["agatston"] == pytest.approx(6.25 * 2 + 6.25 * 4 + 2.25 * 1)  # 39.75
    assert result["lesion_count"] == 1
    lesion = result["lesions"][0]
    assert lesion["n_slice_lesions"] == 3
    n_voxels = 25 + 25 + 9
    assert lesion["volume_mm3"] == pytest.approx(n_voxels * 0.25 * 3.0)  # 44.25 mm³
    mean = (25 * 250 + 24 * 250 + 450 + 9 * 150) / n_voxels
    assert lesion["mean_hu"] == pytest.approx(mean)
    assert result["mass_mg"] == pytest.approx(0.8 * 44.25 / 1000 * mean)
    assert [s["weight"] for s in result["slice_lesions"]] == [2, 4, 1]


def test_slice_lesion_split_between_arteries():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = 250
    ct[1, 9, 9] = 450  # the peak lies in the RCA part
    labels = np.zeros(ct.shape, np.uint8)
    labels[1, 5:10, 5:8] = 2  # 15 px LAD
    labels[1, 5:10, 8:10] = 4  # 10 px RCA
    result = score(ct, geometry, labels)
    # LAD 15 x 0.25 = 3.75 mm² x 2; RCA 2.5 mm² x 4
    assert result["per_artery"]["LAD"]["agatston"] == pytest.approx(7.5)
    assert result["per_artery"]["RCA"]["agatston"] == pytest.approx(10.0)
    assert result["cac_drs"] == "A1/N2"


def test_3mm_slices_native_equals_resampled():
    ct, geometry = make_ct(6, 3.0)
    ct[1:3, 5:9, 5:9] = 300  # 4 x 4 px = 4 mm², 2 slices, weight 3 -> 24
    for mode in ("native", "resample3mm"):
        result = score(ct, geometry, slice_mode=mode)
        assert result["agatston"] == pytest.approx(4.0 * 3 * 2)
        assert result["volume_mm3"] == pytest.approx(16 * 0.25 * 3.0 * 2)  # 24 mm³
        assert result["settings"]["resampled_to_3mm"] is False


def test_1_5mm_slices_aligned_with_3mm_slabs():
    ct, geometry = make_ct(8, 1.5)
    ct[2:6, 5:9, 5:9] = 300  # z in [3, 9) mm: 4 thin slices = 2 full slabs
    native = score(ct, geometry, slice_mode="native")
    # 4 slices x 4 mm² x 3 x (1.5 / 3) = 24
    assert native["agatston"] == pytest.approx(4 * 4.0 * 3 * 0.5)
    assert native["volume_mm3"] == pytest.approx(4 * 16 * 0.25 * 1.5)  # 24 mm³
    resampled = score(ct, geometry, slice_mode="resample3mm")
    # slabs [3, 6) and [6, 9) are 300 HU throughout: 2 x 4 mm² x 3 = 24
    assert resampled["agatston"] == pytest.approx(2 * 4.0 * 3)
    assert resampled["volume_mm3"] == pytest.approx(2 * 16 * 0.25 * 3.0)


def test_1_5mm_slices_straddling_slabs():
    ct, geometry = make_ct(8, 1.5)
    ct[1:5, 5:9, 5:9] = 300  # z in [1.5, 7.5) mm
    assert score(ct, geometry, slice_mode="native")["agatston"] == pytest.approx(24.0)
    resampled = score(ct, geometry, slice_mode="resample3mm")
    # slab [0,3): (0 + 300) / 2 = 150 HU -> 4 mm² x 1; slab [3,6): 300 -> x 3;
    # slab [6,9): 150 -> x 1. Total 4 + 12 + 4 = 20; volume 3 slabs x 4 mm² x 3 mm = 36
    assert resampled["agatston"] == pytest.approx(20.0)
    assert resampled["volume_mm3"] == pytest.approx(36.0)
    assert [s["peak_hu"] for s in resampled["slice_lesions"]] == [150.0, 300.0, 150.0]


def test_0_625mm_slices_native_and_resampled():
    ct, geometry = make_ct(16, 0.625)  # 10 mm: slabs [0,3) [3,6) [6,9) [9,10)
    ct[0:8, 5:9, 5:9] = 1000  # z in [0, 5) mm, 4 mm², weight 4
    native = score(ct, geometry, slice_mode="native", calibration_mg_cm3_per_hu=1.0)
    # 8 slices x 4 mm² x 4 x (0.625 / 3) = 26.667
    assert native["agatston"] == pytest.approx(8 * 4.0 * 4 * 0.625 / 3)
    assert native["settings"]["agatston_slice_factor"] == pytest.approx(0.625 / 3)
    assert native["volume_mm3"] == pytest.approx(8 * 16 * 0.25 * 0.625)  # 20 mm³
    assert native["mass_mg"] == pytest.approx(0.020 * 1000)  # 20 mg
    resampled = score(ct, geometry, slice_mode="resample3mm", calibration_mg_cm3_per_hu=1.0)
    # slab [0,3): 1000 HU -> 4 x 4 = 16; slab [3,6): lesion covers 2 of 3 mm ->
    # 666.7 HU, still weight 4 -> 16. Total 32; volume 2 slabs x 4 mm² x 3 mm = 24 mm³
    assert resampled["agatston"] == pytest.approx(32.0)
    assert resampled["volume_mm3"] == pytest.approx(24.0)
    assert resampled["slice_lesions"][1]["peak_hu"] == pytest.approx(2000 / 3, rel=1e-6)
    # mass is an integral of HU: 1.0 x (0.012 x 1000 + 0.012 x 666.7) = 20 mg, as native
    assert resampled["mass_mg"] == pytest.approx(20.0, rel=1e-6)
    assert resampled["settings"]["scoring_spacing_mm"] == [0.5, 0.5, 3.0]


def test_slab_geometry_and_labels():
    ct, geometry = make_ct(6, 1.0)
    labels = np.zeros(ct.shape, np.uint8)
    labels[4, 3, 3] = 3  # one thin slice of the second slab carries LCX
    ct_volume = Volume(ct, modality="CT", units="HU", **geometry)
    slabs, slab_labels = resample_to_slabs(ct_volume, ct_volume.replace(array=labels))
    assert slabs.shape == (2, 24, 24)
    assert slabs.spacing_mm == (0.5, 0.5, 3.0)
    # slab 0 spans slices 0-2 (centres -100, -99, -98 mm): centre at -99 mm
    assert slabs.origin_mm == pytest.approx((10.0, -20.0, -99.0))
    assert slab_labels.array[1, 3, 3] == 3 and slab_labels.array.sum() == 3
    assert slabs.array[0, 0, 0] == pytest.approx(-1000 / 3)


def test_native_mode_reports_the_lesion_image():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = 250
    ct[1, 15:18, 15:18] = 500
    ct_volume = Volume(ct, modality="CT", units="HU", **geometry)
    result = measure_coronary(ct_volume, ct_volume.replace(array=(ct >= 130).astype(np.uint8)))
    labels = result.lesion_labels()
    assert labels.same_grid(ct_volume)
    assert set(np.unique(labels.array)) == {0, 1, 2}
    assert (labels.array == 1).sum() == 25 and (labels.array == 2).sum() == 9
    # LM lesion 1 centroid: pixel (y, x) = (7, 7) of slice 1 -> origin + index x spacing
    assert result.report["lesions"][0]["centroid_mm"] == pytest.approx(
        [10.0 + 7 * 0.5, -20.0 + 7 * 0.5, -100.0 + 3.0]
    )


def test_kvp_adjusted_thresholds_are_an_option():
    ct, geometry = make_ct(3, 3.0)
    geometry["acquisition"] = Acquisition(kvp=100, slice_thickness_mm=3.0, slice_increment_mm=3.0)
    ct[1, 2:6, 2:6] = 140  # 4 mm²: standard weight 1; below the 145 HU 100-kVp threshold [R]
    ct[1, 10:14, 10:14] = 220  # standard weight 2; 100-kVp weight 1 (222 HU edge)
    standard = score(ct, geometry)
    assert standard["agatston"] == pytest.approx(4.0 * 1 + 4.0 * 2)
    assert any("100 kVp" in w for w in standard["warnings"])
    adjusted = score(ct, geometry, kvp_adjusted=True)
    assert adjusted["agatston"] == pytest.approx(4.0 * 1)
    assert adjusted["settings"]["threshold_hu_used"] == 145
    assert adjusted["settings"]["weight_edges_hu_used"] == [222, 334, 446]


def test_strict_threshold_option():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = 130  # exactly at the threshold: 6.25 mm² x 1 with ">=" only
    assert score(ct, geometry)["agatston"] == pytest.approx(6.25)
    strict = score(ct, geometry, inclusive_threshold=False)
    assert strict["agatston"] == 0.0
    assert strict["settings"]["threshold_comparison"] == ">"


def test_category_scheme_option():
    ct, geometry = make_ct(3, 3.0)
    ct[1, 5:10, 5:10] = 400  # 6.25 mm² x 4 = 25
    assert score(ct, geometry)["category"] == "11-100"  # default 0/1-10/11-100/101-400/>400
    mesa = score(ct, geometry, category_scheme="mesa")
    assert mesa["category"] == "1-99" and mesa["cac_drs"] == "A1/N1"
    assert mesa["settings"]["category_scheme"] == "mesa"
