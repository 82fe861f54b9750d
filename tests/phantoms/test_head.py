"""The head CT/MRI phantom: geometry, tissue values and truth agree by construction."""

from dataclasses import replace

import numpy as np
import pytest

from napari_calcium.phantoms.head import (
    ARTERY,
    CT_HU,
    _render,
    head_ct_mri,
    transform_points_4x4,
    truth_transform,
)


@pytest.fixture(scope="module")
def pair():
    return head_ct_mri(
        rotation_deg=(10.0, -5.0, 12.0),
        translation_mm=(15.0, -10.0, 8.0),
        ct_spacing_mm=(1.5, 1.5, 1.5),
        mri_spacing_mm=(2.0, 2.0, 2.0),
        ct_fov_mm=(150.0, 120.0, 90.0),
        ct_noise_hu=0.0,
        mri_noise=0.0,
        mri_bias=0.0,
        seed=3,
    )


def value_at(volume, point_xyz):
    """Value of the voxel nearest to an LPS point."""
    index = np.round(volume.physical_to_index([point_xyz])[0]).astype(int)
    return float(volume.numpy()[tuple(index)])


def test_modalities_grids_and_types(pair):
    ct, mri, truth = pair
    assert ct.modality == "CT" and ct.units == "HU" and ct.array.dtype == np.int16
    assert mri.modality == "MR" and mri.array.dtype == np.float32
    assert ct.spacing_mm == (1.5, 1.5, 1.5) and mri.spacing_mm == (2.0, 2.0, 2.0)
    # field of view 150 x 120 x 90 mm at 1.5 mm -> 100 x 80 x 60 voxels (x, y, z)
    assert ct.shape == (60, 80, 100)
    assert truth["labels_ct"].same_grid(ct) and truth["labels_mri"].same_grid(mri)


def test_truth_transform_matrix_and_parameters_agree(pair):
    _, _, truth = pair
    transform = truth_transform(truth)
    points = np.asarray(truth["landmarks_ct_mm"])
    by_matrix = transform_points_4x4(np.asarray(truth["transform"]["matrix_4x4"]), points)
    by_itk = np.array([transform.TransformPoint(tuple(p)) for p in points])
    np.testing.assert_allclose(by_matrix, by_itk, atol=1e-9)
    np.testing.assert_allclose(by_matrix, truth["landmarks_mri_mm"], atol=1e-9)
    # the head centre moves by exactly the translation (rotation is about it)
    centre = np.asarray(truth["head_centre_mm"])
    np.testing.assert_allclose(transform.TransformPoint(tuple(centre)) - centre, (15, -10, 8))
    # a rigid matrix: orthonormal with determinant +1, angles as requested
    rotation = np.asarray(truth["transform"]["matrix_4x4"])[:3, :3]
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(np.rad2deg(truth["transform"]["parameters"][:3]), (10, -5, 12))
    assert len(points) >= 8 and np.ptp(points, axis=0).min() >= 60.0


def test_tissue_values_on_ct_and_same_anatomy_on_mri(pair):
    ct, mri, truth = pair
    centre = np.asarray(truth["head_centre_mm"])
    transform = truth_transform(truth)
    hu, t1 = truth["tissue_ct_hu"], truth["tissue_mri_t1"]
    # skull: between the skull's outer (67 mm) and inner (61 mm) semi-axis along x
    skull = centre + (-64.0, 0.0, 0.0)
    assert value_at(ct, skull) == pytest.approx(hu["skull"], abs=60)
    # left lateral ventricle centre (9, -2, 12) mm from the head centre
    ventricle = centre + (9.0, -2.0, 12.0)
    assert value_at(ct, ventricle) == pytest.approx(hu["ventricle"], abs=2)
    assert value_at(mri, transform.TransformPoint(tuple(ventricle))) == pytest.approx(
        t1["ventricle"], abs=5
    )
    # white matter at the head centre + (20, 30, 30) (inside the 45 x 62 x 48 mm core)
    white = centre + (20.0, 30.0, 30.0)
    assert value_at(ct, white) == pytest.approx(hu["white_matter"], abs=2)
    assert value_at(mri, transform.TransformPoint(tuple(white))) == pytest.approx(
        t1["white_matter"], abs=5
    )
    # MRI contrast differs from CT: skull dark, white matter brighter than CSF
    assert t1["skull"] < t1["csf"] < t1["grey_matter"] < t1["white_matter"]


def test_artery_centreline_lumen_and_calcified_ring(pair):
    ct, mri, truth = pair
    artery = truth["artery"]
    calc = artery["calcification"]
    centreline = np.asarray(artery["centerline_mm"])
    steps = np.linalg.norm(np.diff(centreline, axis=0), axis=1)
    np.testing.assert_allclose(steps, 1.0, atol=1e-3)  # one point per mm of arc length (chords)
    assert 3.0 <= artery["lumen_diameter_mm"] <= 4.0
    # lumen: CT blood value at the centreline away from the ring, black on MRI
    transform = truth_transform(truth)
    far = centreline[-5]
    assert value_at(ct, far) == pytest.approx(artery["lumen_hu"], abs=6)
    assert (
        value_at(mri, transform.TransformPoint(tuple(far))) < truth["tissue_mri_t1"]["grey_matter"]
    )
    # IEL pattern: thin, continuous, circumferential (>= 270 deg) over ~6 mm
    assert calc["arc_deg"] >= 270 and calc["thickness_mm"] < 1.0 and calc["length_mm"] == 6.0
    # analytic volume: arc/360 * pi * (r_out^2 - r_in^2) * length
    r_in, t = calc["inner_radius_mm"], calc["thickness_mm"]
    expected = calc["arc_deg"] / 360 * np.pi * ((r_in + t) ** 2 - r_in**2) * calc["length_mm"]
    assert calc["volume_mm3"] == pytest.approx(expected)
    # the CT renders that much calcium: a box of the CT grid around the ring minus the
    # same box without the ring is the calcium's excess over the wall it replaces
    wall = truth["tissue_ct_hu"]["vessel_wall"]
    mid = (np.asarray(calc["start_mm"]) + np.asarray(calc["end_mm"])) / 2
    index = np.round(ct.physical_to_index([mid])[0]).astype(int)
    box = ct.numpy()[tuple(slice(i - 8, i + 9) for i in index)].astype(float)
    grid = ct.replace(
        array=np.zeros(box.shape, np.float32),
        origin_mm=tuple(ct.index_to_physical([index - 8])[0]),
    )
    centre = np.asarray(truth["head_centre_mm"])
    rendered = {
        ring: _render(grid, np.eye(4), centre, CT_HU, 2, 4, artery)
        for ring, artery in ((True, ARTERY), (False, replace(ARTERY, calc_length_mm=0.0)))
    }
    fraction = (rendered[True] - rendered[False]) / (calc["density_hu"] - wall)
    assert fraction.sum() * ct.voxel_volume_mm3 == pytest.approx(calc["volume_mm3"], rel=0.05)
    assert box.max() > 130  # calcium by the 130 HU rule despite partial volume


def test_ventricle_labels_match_analytic_volumes(pair):
    ct, _, truth = pair
    labels = truth["labels_ct"]
    for label, volume_mm3 in truth["ventricle_volumes_mm3"].items():
        counted = np.sum(labels.numpy() == int(label)) * labels.voxel_volume_mm3
        assert counted == pytest.approx(volume_mm3, rel=0.1), truth["ventricle_labels"][label]


def test_same_seed_same_images_and_noise_options():
    kwargs = {
        "ct_spacing_mm": (4.0, 4.0, 4.0),
        "mri_spacing_mm": (4.0, 4.0, 4.0),
        "supersample": 1,
    }
    ct1, mri1, _ = head_ct_mri(seed=5, **kwargs)
    ct2, mri2, _ = head_ct_mri(seed=5, **kwargs)
    np.testing.assert_array_equal(ct1.numpy(), ct2.numpy())
    np.testing.assert_array_equal(mri1.numpy(), mri2.numpy())
    _, clean, _ = head_ct_mri(seed=5, mri_noise=0.0, mri_bias=0.0, **kwargs)
    _, biased, _ = head_ct_mri(seed=5, mri_noise=0.0, mri_bias=0.3, **kwargs)
    ratio = biased.numpy()[clean.numpy() > 100] / clean.numpy()[clean.numpy() > 100]
    # exp(0.3 * f) with f in [-1, 1]
    assert ratio.min() >= np.exp(-0.3) - 1e-4 and ratio.max() <= np.exp(0.3) + 1e-4
    assert ratio.max() / ratio.min() > 1.3


def test_vessel_wall_slab_shares_the_mri_space_and_shows_the_wall(pair):
    # The slab is in the whole-head MRI's physical space: CT points map to it by the
    # same transform. Across the artery (away from the ring) it shows the dark lumen,
    # the bright wall 1.75-2.75 mm from the axis and dark CSF around it.
    from napari_calcium.phantoms.head import vessel_wall_mri

    _, _, truth = pair
    slab = vessel_wall_mri(truth, noise=0.0)
    assert slab.spacing_mm == (0.5, 0.5, 0.5) and slab.modality == "MR"
    line = np.asarray(truth["artery"]["centerline_mm"])
    to_mri = np.asarray(truth["transform"]["matrix_4x4"])
    inside = slab.physical_to_index(transform_points_4x4(to_mri, line))
    assert np.all(inside >= 0) and np.all(inside <= np.asarray(slab.shape) - 1)
    t1 = truth["tissue_mri_t1"]
    p, q = line[-12], line[-11]
    axis = (q - p) / np.linalg.norm(q - p)
    across = np.cross(axis, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)

    def at(r_mm):
        return value_at(slab, transform_points_4x4(to_mri, [p + r_mm * across])[0])

    assert at(0.0) == pytest.approx(t1["lumen"], abs=1)
    assert at(2.25) == pytest.approx(t1["vessel_wall"], rel=0.15)
    assert at(3.5) == pytest.approx(t1["csf"], rel=0.15)
