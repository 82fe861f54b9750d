"""Volume geometry against SimpleITK's own index-to-physical mapping."""

import numpy as np
import pytest
import SimpleITK as sitk

import napari_calcium as nc
from napari_calcium.volume import Volume


def rotation(axis, degrees):
    return sitk.VersorTransform(axis, np.deg2rad(degrees)).GetMatrix()


@pytest.fixture
def oblique():
    """An anisotropic volume with an oblique direction and a non-zero origin."""
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    direction = np.asarray(rotation((1, 2, 3), 25)).reshape(3, 3)
    return Volume(
        array, (0.4, 0.7, 3.0), (-10.5, 22.0, -804.5), direction, modality="CT", units="HU"
    )


def test_index_to_physical_matches_simpleitk(oblique):
    image = oblique.to_sitk()
    for k, j, i in [(0, 0, 0), (3, 4, 5), (1, 2, 3), (2, 0, 5)]:
        expected = image.TransformIndexToPhysicalPoint((i, j, k))
        np.testing.assert_allclose(oblique.index_to_physical((k, j, i)), expected, atol=1e-9)


def test_physical_to_index_inverts(oblique):
    idx = np.array([[0.0, 0.0, 0.0], [3.0, 4.0, 5.0], [1.5, 2.25, 0.5]])
    np.testing.assert_allclose(
        oblique.physical_to_index(oblique.index_to_physical(idx)), idx, atol=1e-9
    )


def test_sitk_round_trip_is_exact(oblique):
    back = Volume.from_sitk(oblique.to_sitk(), modality="CT", units="HU")
    np.testing.assert_array_equal(back.array, oblique.array)
    assert back.same_grid(oblique, tol_mm=1e-9)
    assert back.array.shape == (4, 5, 6)
    assert back.to_sitk().GetSize() == (6, 5, 4)


def test_layer_kwargs_map_index_to_world_in_zyx_mm(oblique):
    kw = oblique.layer_kwargs()
    scale, translate, affine = np.asarray(kw["scale"]), np.asarray(kw["translate"]), kw["affine"]
    for idx in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        world = affine[:3, :3] @ (translate + scale * np.asarray(idx)) + affine[:3, 3]
        np.testing.assert_allclose(world[::-1], oblique.index_to_physical(idx), atol=1e-9)


def test_identity_direction_gives_identity_affine():
    vol = Volume(np.zeros((2, 3, 4)), (0.5, 0.5, 3.0), (1.0, 2.0, 3.0))
    kw = vol.layer_kwargs()
    np.testing.assert_allclose(kw["affine"], np.eye(4))
    assert kw["scale"] == (3.0, 0.5, 0.5)
    assert kw["translate"] == (3.0, 2.0, 1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spacing_mm": (1, 0, 1)}, "spacing_mm"),
        ({"direction": np.ones((3, 3))}, "orthonormal"),
        ({"modality": "PET"}, "modality"),
    ],
)
def test_bad_geometry_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Volume(np.zeros((2, 2, 2)), **kwargs)


def test_two_dimensional_array_is_refused():
    with pytest.raises(ValueError, match="3-D"):
        Volume(np.zeros((2, 2)))


def test_with_pullback_sets_frame_spacing_from_speed_and_rate():
    vol = Volume(np.zeros((5, 8, 8), np.uint8), (0.02, 0.02, 1.0), modality="IVUS")
    assert vol.frame_spacing_mm is None
    ivus = vol.with_pullback(pullback_speed_mm_s=0.5, frame_rate_hz=30.0, pixel_spacing_mm=0.025)
    assert ivus.frame_spacing_mm == pytest.approx(0.5 / 30.0)
    assert ivus.spacing_mm == pytest.approx((0.025, 0.025, 0.5 / 30.0))
    with pytest.raises(ValueError, match="frame_rate_hz"):
        vol.with_pullback(pullback_speed_mm_s=0.5, frame_rate_hz=-1)


def test_grid_differences_name_what_differs(oblique):
    assert oblique.grid_differences(oblique) == []
    moved = oblique.replace(origin_mm=(0.0, 0.0, 0.0), spacing_mm=(0.4, 0.7, 2.0))
    assert oblique.grid_differences(moved) == [
        "spacing (0.4, 0.7, 2) vs (0.4, 0.7, 3) mm",
        "origin (0, 0, 0) vs (-10.5, 22, -804.5) mm",
    ]
    assert not oblique.same_grid(moved)


@pytest.mark.parametrize(
    "call",
    [
        lambda v: nc.run_coronary(v.array),
        lambda v: nc.run_coronary(v, arteries="labels.nii.gz"),
        lambda v: nc.register(v, str(v)),
        lambda v: nc.run_ivus(v.array),
        lambda v: nc.run_intracranial(v.array, [[0, 0, 0], [1, 0, 0]]),
        lambda v: nc.run_svd(v, swi=v.array),
    ],
    ids=["coronary", "coronary-labels", "register", "ivus", "intracranial", "svd"],
)
def test_analyses_refuse_what_is_not_a_volume_with_a_hint(call):
    volume = Volume(np.zeros((4, 5, 6), np.int16))
    with pytest.raises(TypeError, match=r"must be a napari_calcium\.Volume.*napari_calcium\.read"):
        call(volume)
