"""Centreline curve, rotation-minimising frames and the cross-sectional reformat."""

import numpy as np
import pytest

from napari_calcium.errors import InputError
from napari_calcium.phantoms.vessel import VesselGeometry, rotation_matrix, vessel_ct
from napari_calcium.vessel.centerline import (
    Centerline,
    check_inside,
    cross_sections,
    reformat,
    sample_physical,
    smooth_points,
    tube_mask,
)
from napari_calcium.volume import Volume

GEOMETRY = VesselGeometry()


def test_spline_follows_the_arc_and_measures_its_length():
    # Points every 3 mm on a circle of radius 30 mm: the curve through them is that
    # circle to within a few micrometres, and its length is the arc length (22 mm).
    line = Centerline(GEOMETRY.centerline_points(3.0))
    assert line.length_mm == pytest.approx(GEOMETRY.length_mm, abs=0.01)
    arc = np.linspace(0, line.length_mm, 50)
    _, rho, _ = GEOMETRY.tube_coordinates(line.position(arc))
    assert rho.max() < 0.005


def test_smoothing_leaves_a_smooth_curve_and_pulls_strayed_points_to_it():
    # Points every 1 mm on the circle of radius 30 mm stay on it (within 5 um) after
    # smoothing. Strayed by 0.3 mm (SD per axis), eight times over, they come back
    # towards the curve (median RMS distance below 0.7 x the stray's), and the tangent
    # of the curve through them, the normal of each cross-section, swings far less.
    exact = GEOMETRY.centerline_points(1.0)
    assert np.abs(GEOMETRY.tube_coordinates(smooth_points(exact))[1]).max() < 0.005

    def rms_mm(points):
        return np.sqrt(np.mean(GEOMETRY.tube_coordinates(points)[1] ** 2))

    def tilt_deg(points):  # largest angle between the curve's tangent and the axis'
        line = Centerline(points)
        arc = np.linspace(1.0, line.length_mm - 1.0, 80)
        s_mm = GEOMETRY.tube_coordinates(line.position(arc))[0]
        true = GEOMETRY.axis_points(s_mm + 0.01) - GEOMETRY.axis_points(s_mm - 0.01)
        true /= np.linalg.norm(true, axis=1, keepdims=True)
        cos = np.abs(np.einsum("ij,ij->i", true, line.tangent(arc)))
        return np.degrees(np.arccos(np.clip(cos, 0, 1))).max()

    ratios, tilts = [], []
    for seed in range(8):
        strayed = exact + 0.3 * np.random.default_rng(seed).normal(size=exact.shape)
        smoothed = smooth_points(strayed)
        ratios.append(rms_mm(smoothed) / rms_mm(strayed))
        tilts.append(tilt_deg(smoothed) / tilt_deg(strayed))
    assert np.median(ratios) < 0.7
    assert np.median(tilts) < 0.5
    # fewer than 5 points are kept as given (a GCV spline needs 5)
    assert np.array_equal(smooth_points(exact[:4]), exact[:4])


def test_frames_are_orthonormal_and_do_not_twist():
    sections = cross_sections(Centerline(GEOMETRY.centerline_points(3.0)), step_mm=0.5)
    t, u, v = sections.tangents, sections.u_axes, sections.v_axes
    for a, b in ((t, u), (t, v), (u, v)):
        np.testing.assert_allclose(np.einsum("ij,ij->i", a, b), 0, atol=1e-9)
    np.testing.assert_allclose(np.cross(u, v), t, atol=1e-9)
    # A planar arc has a constant binormal; a rotation-minimising frame keeps a fixed
    # angle to it all along (no twist), whereas a Frenet frame would be undefined on
    # a straight part. The angle to the circle's normal stays the same.
    normal = np.asarray(GEOMETRY.orientation)[:, 2]
    cos = u @ normal
    assert np.ptp(cos) < 1e-3


def test_frames_do_not_spin_about_a_helix():
    # Helix of radius 5 mm and pitch 10 mm: torsion c / (r^2 + c^2) = 0.058 rad/mm with
    # c = 10 / 2 pi, so a Frenet frame would turn 0.0144 rad about the tangent per 0.25 mm
    # step. A rotation-minimising frame does not turn about the tangent: u_(i+1) . v_i ~ 0.
    t = np.linspace(0, 4 * np.pi, 60)
    helix = np.column_stack([5 * np.cos(t), 5 * np.sin(t), 10 * t / (2 * np.pi)])
    sections = cross_sections(Centerline(helix), step_mm=0.25)
    spin = np.einsum("ij,ij->i", sections.u_axes[1:], sections.v_axes[:-1])
    assert np.abs(spin).max() < 1e-3


def test_reformat_round_trip_from_the_stack_and_back():
    # Oblique, anisotropic CT grid: a point picked in the reformat maps to the source
    # volume and back within half a source voxel, and the reverse.
    ct, _ = vessel_ct(spacing_mm=(0.45, 0.35, 0.6), direction=rotation_matrix((10, 20, -15)))
    line = Centerline(GEOMETRY.centerline_points(3.0))
    array, sections = reformat(ct, line, step_mm=0.3, field_of_view_mm=10.0, pixel_mm=0.2)
    assert array.shape == sections.shape
    rng = np.random.default_rng(0)
    picks = np.column_stack(
        [
            rng.integers(0, sections.n_frames, 40),
            rng.uniform(0, sections.size - 1, 40),
            rng.uniform(0, sections.size - 1, 40),
        ]
    ).astype(float)
    lps = sections.index_to_physical(picks)
    source_idx = ct.physical_to_index(lps)
    back = sections.physical_to_index(ct.index_to_physical(source_idx))
    half_voxel = 0.5 * min(ct.spacing_mm)
    err_mm = np.linalg.norm(sections.index_to_physical(back) - lps, axis=1)
    assert err_mm.max() < half_voxel
    np.testing.assert_allclose(back, picks, atol=1e-6)
    # Reverse: voxels of the source near the vessel -> stack -> source.
    s = rng.uniform(0.5, GEOMETRY.length_mm - 0.5, 40)
    offsets = rng.uniform(-3, 3, (40, 3))
    pts = (
        GEOMETRY.axis_points(s)
        + offsets
        - np.einsum("ij,ij->i", offsets, line.tangent(s))[:, None] * line.tangent(s)
    )
    voxel = np.round(ct.physical_to_index(pts))
    in_stack = sections.physical_to_index(ct.index_to_physical(voxel))
    assert np.all(np.isfinite(in_stack))
    again = ct.physical_to_index(sections.index_to_physical(in_stack))
    assert np.abs(again - voxel).max() < 0.5


def test_reformat_samples_the_lumen_at_its_true_radius():
    # The lumen (45 HU) is a tube of radius 2 mm around the axis; with nearest-voxel
    # sampling (voxel half-diagonal 0.36 mm) the pixels within 1.6 mm of the centre are
    # blood and those 2.4-2.6 mm out, where there is no calcium at s = 0.5-1.5 mm, are
    # tissue (30 HU).
    ct, truth = vessel_ct()
    line = Centerline(truth["centerline_mm"])
    array, sections = reformat(ct, line, step_mm=0.5, field_of_view_mm=8.0, pixel_mm=0.25, order=0)
    c = (sections.size - 1) / 2
    yy, xx = np.mgrid[: sections.size, : sections.size]
    r = np.hypot(yy - c, xx - c) * sections.pixel_mm
    frames = [1, 2, 3]
    assert np.all(array[frames][:, r < 1.6] == 45.0)
    assert np.all(array[frames][:, (r > 2.4) & (r < 2.6)] == 30.0)


def test_tube_mask_selects_voxels_within_the_radius():
    ct, truth = vessel_ct()
    line = Centerline(truth["centerline_mm"])
    mask = tube_mask(ct, line, 4.5)
    idx = np.argwhere(mask)
    _, rho, _ = GEOMETRY.tube_coordinates(ct.index_to_physical(idx))
    assert rho.max() <= 4.5 + 0.01  # the spline through the points is the arc within 10 um
    # the bony canal (rho >= 6.5 mm) is excluded, the calcium (rho <= 3.8 mm) included
    assert not np.any(ct.array[mask] >= truth["bone_hu"])
    assert (ct.array[mask] == truth["calcium_hu"]).sum() == sum(
        c["voxel_count"] for c in truth["calcifications"].values()
    )


def test_sample_physical_nearest_and_linear():
    vol = Volume(np.arange(27, dtype=float).reshape(3, 3, 3), spacing_mm=(1, 2, 3))
    point = vol.index_to_physical([1, 1, 1])
    assert sample_physical(vol, point, order=0) == 13
    mid = vol.index_to_physical([1, 1, 1.5])
    assert sample_physical(vol, mid, order=1) == pytest.approx(13.5)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[0, 0, 0]], "at least 2 points"),
        ([], "at least 2 points"),
        ([[0, 0, 0], [0, 0, 0], [5, 0, 0]], "placed twice"),
        ([[0, 0, 0], [1, 1]], "(x, y, z)"),
        ([[0, 0, np.nan], [1, 1, 1]], "missing"),
    ],
)
def test_bad_centerlines_are_refused(points, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Centerline(points if len(points) else np.zeros((0, 3)))


def test_centerline_outside_the_image_is_refused():
    ct, truth = vessel_ct()
    outside = np.asarray(truth["centerline_mm"]) + [200.0, 0, 0]
    with pytest.raises(InputError, match="leaves the CT"):
        check_inside(ct, Centerline(outside), "CT")
