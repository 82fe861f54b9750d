"""The test cases of MolloiLab/CalciumScoring.jl (MIT), written in this project's API.

Each test names the peer file it comes from (``test/agatston.jl``,
``test/integrated.jl``, ``test/volume_fraction.jl``, ``test/spatially_weighted.jl``)
and holds the peer's literal inputs and expected values. The peer's arrays are
``(x, y, z)`` with z last; here they are ``(z, y, x)``. Its arrays hold no air: they are
scored as a CT in HU cropped inside the body (``hu_check="cropped"``).
"""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.scores import agatston as score
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
        slice_mode="native", hu_check="cropped", calibration_mg_cm3_per_hu=0.75
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
    settings = CoronarySettings(hu_check="cropped", calibration_mg_cm3_per_hu=0.75)
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
        hu_check="cropped",
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
    settings = CoronarySettings(threshold_rule="kvp_formula", hu_check="cropped")
    result = run_coronary(ct, arteries, settings)
    assert result["settings"]["threshold_hu_used"] == 128
    assert result["settings"]["weight_one_hu_used"] == 130
    assert result["agatston"] == 0
    assert result["lesion_count"] == 1
    assert result["volume_mm3"] == pytest.approx(16 * 0.25 * 3.0)  # 12 mm³
    assert result["slice_lesions"][0]["weight"] == 0
    # the default rule does not see it
    assert run_coronary(ct, arteries, CoronarySettings(hu_check="cropped"))["lesion_count"] == 0


def in_a_padded_ct(array_zyx, pad_hu, spacing_mm, pad=12):
    """The peer's array as one LAD region inside a uniform ``pad_hu`` surround (its ROI is
    the whole array: the region here, grown by the ROI margin into the surround, which
    adds nothing since it is at the background). Scored in native mode, on its voxels."""
    array = np.asarray(array_zyx, dtype=float)
    padded = np.pad(array, pad, constant_values=pad_hu)
    labels = np.zeros(padded.shape, np.uint8)
    labels[(slice(pad, -pad),) * 3] = 2
    ct = Volume(padded, spacing_mm, modality="CT", units="HU")
    return ct, ct.replace(array=labels, modality="LABELS")


def test_integrated_intensity():
    # test/integrated.jl: a 4 x 4 slice with a 2 x 2 core of 800 in -1024, twice along z;
    # S_Bkg = -1024, S_Obj = 800: N_obj = (I - N S_Bkg) / (S_Obj - S_Bkg) = 8 object voxels,
    # volume 8 x 0.5³ = 1 (mm³), mass x rho 10 (mg/mm³) = 10 (mg)
    v1 = np.full((4, 4), -1024.0)
    v1[1:3, 1:3] = 800
    vol = np.stack([v1, v1])
    # here the object density enters through c = rho / (S_Obj - S_Bkg):
    # 10 mg/mm³ = 10000 mg/cm³ over 1824 HU
    c = 10000 / 1824
    mass_mg = score.integrated_mass_mg(vol, 0.5**3, -1024, c).sum()
    assert mass_mg == pytest.approx(10.0)
    assert mass_mg / (10 * 0.5**3) == pytest.approx(8)  # N_obj
    assert mass_mg / 10 == pytest.approx(1.0)  # object volume (mm³)
    # the whole pipeline: the array as a labelled region in -1024 HU, the background
    # measured in the shell around it (exactly -1024): the same 10 mg
    ct, arteries = in_a_padded_ct(vol, -1024.0, (0.5, 0.5, 0.5))
    settings = CoronarySettings(slice_mode="native", calibration_mg_cm3_per_hu=c)
    result = run_coronary(ct, arteries, settings)
    (region,) = result["mass_regions"]
    assert region["background_hu"] == -1024
    assert result["integrated_mass_mg"] == pytest.approx(10.0)
    assert result["per_artery"]["LAD"]["integrated_mass_mg"] == pytest.approx(10.0)


def test_volume_fraction():
    # test/volume_fraction.jl: [400 300; 200 100; 0 0], hu_calcium 400, heart tissue 100
    vol = np.array([[400, 300], [200, 100], [0, 0]])
    fractions = score.calcium_fraction(vol, 100, 400)
    assert fractions.sum() == pytest.approx(4 / 3)  # 1 + 2/3 + 1/3 + 0 - 1/3 - 1/3
    # voxel size 0.5 and density 1.5 (mg/mm³ = 1500 mg/cm³): s3 = s1 x 0.5 x 1.5 = 1 mg
    mass = score.volume_fraction_mass_mg(vol, 0.5, 100, 400, 1500)
    assert mass.sum() == pytest.approx(4 / 3 * 0.5 * 1.5)
    # 3-D: the slice twice along z: s1 = 8/3, s3 = 8/3 x 0.5 x 1.5 = 2 mg
    assert score.calcium_fraction(np.stack([vol, vol]), 100, 400).sum() == pytest.approx(8 / 3)
    mass_3d = score.volume_fraction_mass_mg(np.stack([vol, vol]), 0.5, 100, 400, 1500)
    assert mass_3d.sum() == pytest.approx(2.0)
    assert score.calcium_fraction(np.zeros((3, 3)), 0, 400).sum() == 0
    # the whole pipeline: the 3-D array as a labelled region in 100 HU tissue (the shell's
    # mean is the peer's hu_heart_tissue), 0.5 mm³ voxels, insert 400 HU of 1500 mg/cm³
    ct, arteries = in_a_padded_ct(np.stack([vol, vol]), 100.0, (0.5, 1.0, 1.0))
    settings = CoronarySettings(
        slice_mode="native",
        hu_check="cropped",
        calibration_insert_hu=400,
        calibration_rho_mg_cm3=1500,
    )
    result = run_coronary(ct, arteries, settings)
    assert result["mass_regions"][0]["background_hu"] == 100
    assert result["volume_fraction_mass_mg"] == pytest.approx(2.0)


SWCS_2D = [
    [10, 30, 135, 145, 5, 150, 100, 80, 9],
    [9, 40, 135, 130, 5, 150, 190, 80, 9],
    [10, 100, 100, 130, 5, 9, 0, 80, 18],
    [4, 40, 135, -10, 5, 150, 100, 0, 9],
    [10, 0, 189, 130, 5, 150, 40, 80, 22],
]
SWCS_2D_CALIBRATION = [
    [196.569, 207.709, 177.004, 207.147, 178.809],
    [207.359, 211.824, 0.0, 168.913, 202.965],
    [160.564, 0.0, 208.593, 214.862, 220.32],
    [158.685, 188.71, 226.872, 202.076, 226.995],
    [186.996, 212.137, 185.208, 228.175, 234.261],
]
SWCS_3D_SLICE = [
    [0, 46, 58, 123, 133, 104, 65, 7],
    [19, 25, 20, 125, 163, 83, -22, -134],
    [127, 99, 65, 104, 139, 57, -51, -102],
    [123, 88, 112, 140, 104, 57, 46, 34],
    [122, 31, 71, 121, 93, 83, 101, 72],
    [97, 24, 59, 99, 68, 27, 22, 52],
    [0, 22, 29, 72, 80, 54, 28, 72],
    [0, 17, -20, 15, 42, 61, 80, 83],
    [0, 66, 14, -3, 11, 54, 110, 148],
    [0, 121, 127, 102, 103, 93, 118, 167],
]
SWCS_3D_CALIBRATION = [
    [153.984, 185.388, 176.888, 168.15, 165.752],
    [155.811, 161.226, 160.228, 183.94, 151.235],
    [149.247, 196.509, 167.052, 158.717, 230.236],
    [174.404, 184.419, 177.621, 149.801, 182.128],
    [161.85, 192.528, 160.222, 178.946, 176.578],
]


@pytest.mark.parametrize(
    ("slices", "calibration", "expected"),
    [
        # test/spatially_weighted.jl, 2-D case: 3.7176620417439796
        ([SWCS_2D], SWCS_2D_CALIBRATION, 3.7176620417439796),
        # 3-D case: the 10 x 8 slice twice along z: 1.4580418264134944
        ([SWCS_3D_SLICE, SWCS_3D_SLICE], SWCS_3D_CALIBRATION, 1.4580418264134944),
    ],
)
def test_spatially_weighted_calcium_score(slices, calibration, expected):
    """The peer scores the whole array; here the whole array is one labelled region.

    mu and sigma are the mean and sample SD of the calibration array (Julia's std); the
    ROI is the array itself, so the 5-point average has zeros outside it.
    """
    cal = np.asarray(calibration)
    mu, sd = float(cal.mean()), float(cal.std(ddof=1))
    weights = score.swcs_weight(np.asarray(slices, float), mu, sd)
    from scipy import ndimage

    smoothed = ndimage.convolve(weights, score.SWCS_KERNEL[None], mode="constant")
    assert smoothed.sum() == pytest.approx(expected, rel=1e-12)
    # through run_coronary, with the array as one labelled region padded with air: the ROI
    # grows by one voxel along each axis into the air (weight Phi(-1000 HU) = 0), which
    # catches all that the 5-point average spreads past the array's edge, so the score is
    # the plain sum of the weights; the peer loses that part (its zero padding)
    array = np.asarray(slices, float)
    padded = np.full((array.shape[0] + 2, array.shape[1] + 8, array.shape[2] + 8), -1000.0)
    padded[1:-1, 4:-4, 4:-4] = array
    labels = np.zeros(padded.shape, np.uint8)
    labels[1:-1, 4:-4, 4:-4] = 2
    ct = Volume(padded, (0.5, 0.5, 3.0), modality="CT", units="HU")
    settings = CoronarySettings(
        calibration_insert_hu=mu, calibration_insert_sd_hu=sd, mass_roi_margin_mm=1e-3
    )
    result = run_coronary(ct, ct.replace(array=labels), settings)
    assert result["swcs"] == pytest.approx(weights.sum(), rel=1e-9)
    assert result["per_artery"]["LAD"]["swcs"] == result["swcs"]
    assert result["swcs"] > expected  # the edge part the peer's zero padding drops
