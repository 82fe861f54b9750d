"""PyRadiomics per lesion: equal to the phantom's truth and honouring the geometry."""

import numpy as np
import pytest
import SimpleITK as sitk

from napari_calcium.calcium import CoronarySettings, measure_coronary
from napari_calcium.calcium.radiomics import lesion_radiomics
from napari_calcium.phantoms.coronary import coronary_ct
from napari_calcium.volume import Volume


def test_radiomics_of_phantom_lesions_equal_truth():
    ct, arteries, truth = coronary_ct()
    result = measure_coronary(ct, arteries, CoronarySettings(radiomics=True))
    settings = result.report["settings"]["radiomics_settings"]
    assert settings["extractor_settings"]["normalize"] is False
    assert settings["extractor_settings"]["resampledPixelSpacing"] is None
    assert settings["package"].startswith("pyradiomics")
    counted = [les for les in truth["lesions"] if les["counted"]]
    assert len(result.report["lesions"]) == len(counted)
    for lesion in result.report["lesions"]:
        expected = next(
            t
            for t in counted
            if t["artery"] == lesion["artery"]
            and np.allclose(t["centroid_mm"], lesion["centroid_mm"], atol=1e-6)
        )
        # uniform lesion: every density statistic is its HU, exactly
        for key in ("rad_mean_hu", "rad_max_hu", "rad_min_hu", "rad_p10_hu", "rad_p90_hu"):
            assert lesion[key] == expected["hu"], key
        # voxel volume: count x 0.45 x 0.45 x 3 mm, exact
        assert lesion["rad_voxel_volume_mm3"] == pytest.approx(expected["volume_mm3"], rel=1e-9)
        # mesh volume: the marching-cubes surface cuts the box's edges and corners
        # (partial volume of the outer voxel layer), so it lies between 60 % and 100 %
        # of the voxel volume for boxes of at least 3 x 3 pixels
        ratio = lesion["rad_mesh_volume_mm3"] / expected["volume_mm3"]
        assert 0.6 < ratio < 1.0
        assert 0 < lesion["rad_sphericity"] < 1


def _box_lesion(spacing_mm, box_voxels, direction, origin_mm=(5.0, -12.0, 40.0)):
    """A CT (0 HU, one air voxel) holding a 300-HU box of ``box_voxels`` (z, y, x)."""
    shape = tuple(n + 6 for n in box_voxels)
    ct = np.zeros(shape, np.int16)
    ct[0, 0, 0] = -1000
    box = tuple(slice(3, 3 + n) for n in box_voxels)
    ct[box] = 300
    labels = np.zeros(shape, np.uint8)
    labels[box] = 1
    volume = Volume(ct, spacing_mm, origin_mm, direction, modality="CT", units="HU")
    return volume, volume.replace(array=labels), box


def test_oblique_anisotropic_grid_gives_the_same_mm3():
    """One physical lesion of 6 x 2 x 2 mm in two grids with different spacing and direction."""
    axial = np.eye(3)
    rotation = np.asarray(sitk.VersorTransform((1, 2, 3), np.deg2rad(35)).GetMatrix()).reshape(
        3, 3
    )
    # grid A: spacing (x, y, z) = (0.5, 0.5, 1.0) mm, 6 mm along x = 12 voxels, 2 mm = 4 and 2
    ct_a, lab_a, _ = _box_lesion((0.5, 0.5, 1.0), (2, 4, 12), axial)
    # grid B: oblique, spacing (1.0, 0.25, 0.5): 6 voxels along i, 8 along j, 4 along k
    ct_b, lab_b, box_b = _box_lesion((1.0, 0.25, 0.5), (4, 8, 6), rotation)
    feats_a, _ = lesion_radiomics(ct_a, lab_a)
    feats_b, _ = lesion_radiomics(ct_b, lab_b)
    # 6 x 2 x 2 = 24 mm³ in both (96 voxels in A, 192 in B)
    assert feats_a[1]["rad_voxel_volume_mm3"] == pytest.approx(24.0)
    assert feats_b[1]["rad_voxel_volume_mm3"] == pytest.approx(24.0)
    # major axis = 4 sqrt(variance of voxel centres along the long side), the variance of
    # n points spaced s being s² (n² - 1) / 12: A (12 x 0.5 mm), B (6 x 1.0 mm)
    assert feats_a[1]["rad_major_axis_length_mm"] == pytest.approx(4 * np.sqrt(0.25 * 143 / 12))
    assert feats_b[1]["rad_major_axis_length_mm"] == pytest.approx(4 * np.sqrt(1.0 * 35 / 12))
    assert feats_b[1]["rad_mean_hu"] == 300.0

    # the scoring core honours the direction too: same mm³, centroid where the box is
    result = measure_coronary(ct_b, lab_b, CoronarySettings(slice_mode="native"))
    lesion = result.report["lesions"][0]
    assert lesion["volume_mm3"] == pytest.approx(24.0)
    centre_index = [(s.start + s.stop - 1) / 2 for s in box_b]  # (z, y, x)
    ijk = np.array(centre_index[::-1]) * np.array((1.0, 0.25, 0.5))
    expected = np.array((5.0, -12.0, 40.0)) + rotation @ ijk
    assert lesion["centroid_mm"] == pytest.approx(expected.tolist())
    assert any("not axial" in w for w in result.report["warnings"])
