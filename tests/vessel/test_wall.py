"""Lumen / outer-wall contours and wall metrics on a VW-MRI phantom with a known plaque."""

import numpy as np
import pytest

from napari_calcium.phantoms.vessel import PlaqueSpec, rotation_matrix, vessel_mri
from napari_calcium.vessel.centerline import Centerline
from napari_calcium.vessel.wall import (
    contour_metrics,
    distance_to_polygon,
    measure_wall,
    polygon_area,
    summarise_plaque,
    wall_table,
)

GRIDS = {
    "anisotropic": {"spacing_mm": (0.3, 0.3, 0.35)},
    "oblique": {"spacing_mm": (0.3, 0.25, 0.35), "direction": rotation_matrix((10, 20, -15))},
}


@pytest.fixture(scope="module", params=list(GRIDS))
def wall(request):
    mri, truth = vessel_mri(**GRIDS[request.param])
    post, _ = vessel_mri(post_contrast=True, **GRIDS[request.param])
    line = Centerline(truth["centerline_mm"])
    result = measure_wall(mri, line, step_mm=0.5, post=post)
    return mri, truth, result, summarise_plaque(result["table"])


def test_metrics_at_the_narrowest_site(wall):
    # Truth from the construction (PlaqueSpec defaults): lumen circle r = 1.2 mm offset
    # 0.8 mm inside an outer wall circle r = 3.2 mm -> LA = pi 1.2^2, OWA = pi 3.2^2,
    # max WT = 3.2 - 1.2 + 0.8 = 2.8, min WT = 3.2 - 1.2 - 0.8 = 1.2, EI = 1.6 / 2.8.
    mri, truth, _, p = wall
    n = truth["narrowest"]
    assert n["arc_range_mm"][0] <= p["narrowest_mm"] <= n["arc_range_mm"][1]
    for key in ("lumen_area_mm2", "outer_wall_area_mm2", "wall_area_mm2"):
        assert p[key] == pytest.approx(n[key], rel=0.05), key
    half_voxel = 0.5 * min(mri.spacing_mm)
    assert p["max_wall_thickness_mm"] == pytest.approx(n["max_wall_thickness_mm"], abs=half_voxel)
    assert p["min_wall_thickness_mm"] == pytest.approx(n["min_wall_thickness_mm"], abs=half_voxel)
    assert p["eccentricity_index"] == pytest.approx(n["eccentricity_index"], abs=0.05)
    assert p["eccentric"] is True  # EI 0.57 >= 0.5
    assert p["plaque_burden_pct"] == pytest.approx(n["plaque_burden_pct"], abs=2)


def test_stenosis_remodeling_and_enhancement(wall):
    # WASID: 1 - 1.2 / 2.0 = 40 %; RI = (3.2 / 2.8)^2 = 1.31 -> positive;
    # enhancement (1.8 / 1.2) = 1.5 (plaque wall x1.8, normal wall x1.2 after contrast)
    _, truth, _, p = wall
    assert p["stenosis_pct"] == pytest.approx(truth["stenosis_pct"], abs=5)
    assert p["remodeling_index"] == pytest.approx(truth["remodeling_index"], rel=0.05)
    assert p["remodeling"] == "positive"
    assert p["enhancement_ratio"] == pytest.approx(truth["enhancement_ratio"], rel=0.03)
    # reference chosen automatically in the normal proximal segment (ends at 8.5 mm)
    assert p["reference_mm"] <= truth["reference"]["arc_range_mm"][1] + 0.5
    assert p["reference_choice"].startswith("automatic: proximal")
    assert p["class"] == "unknown"  # no CT given


def test_normal_segment_is_a_concentric_ring(wall):
    # proximal normal wall: lumen r 2.0, outer r 2.8, concentric -> WT 0.8, EI 0
    mri, truth, result, _ = wall
    rows = [r for r in result["table"] if 1.0 <= r["arc_mm"] <= 7.0]
    ref = truth["reference"]
    la = np.median([r["lumen_area_mm2"] for r in rows])
    owa = np.median([r["outer_wall_area_mm2"] for r in rows])
    assert la == pytest.approx(ref["lumen_area_mm2"], rel=0.05)
    assert owa == pytest.approx(ref["outer_wall_area_mm2"], rel=0.05)
    for r in rows:
        assert r["max_wall_thickness_mm"] == pytest.approx(0.8, abs=0.5 * min(mri.spacing_mm))
        assert r["eccentricity_index"] < 0.25


def test_edited_contours_change_the_metrics(wall):
    # The reader replaces the lumen contour of the narrowest frame by a circle of
    # radius 1.0 mm about the centre: LA becomes pi (to polygon accuracy) and the
    # recomputed summary follows the edit.
    _, _, result, p = wall
    f = p["narrowest_frame"]
    lumen = list(result["lumen_uv"])
    angles = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    lumen[f] = np.column_stack([np.cos(angles), np.sin(angles)])
    table = wall_table(result["sections"], lumen, result["outer_uv"])
    assert table[f]["lumen_area_mm2"] == pytest.approx(np.pi, rel=1e-3)
    edited = summarise_plaque(table)
    assert edited["lumen_area_mm2"] == pytest.approx(np.pi, rel=1e-3)


def test_plaque_length_from_the_construction(wall):
    # NWI(s) = 1 - (r_lumen / r_outer)^2 from PlaqueSpec; plaque = NWI >= NWI_ref + 0.1
    _, _, _, p = wall
    spec = PlaqueSpec()
    s = np.linspace(0, 22, 22001)
    lumen, outer, _ = spec.radii(s)
    ref = 1 - (spec.lumen_ref_mm / spec.outer_ref_mm) ** 2
    expected = ((1 - (lumen / outer) ** 2) >= ref + 0.1).sum() * (s[1] - s[0])
    assert p["plaque_length_mm"] == pytest.approx(expected, abs=0.75)


def test_contour_metrics_of_exact_circles():
    # Two circles: outer R = 3 at the origin, lumen r = 1 centred at (0.5, 0): WT
    # ranges over 3 - 1 -/+ 0.5 -> min 1.5, max 2.5, EI = 1 / 2.5.
    t = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    outer = 3 * np.column_stack([np.cos(t), np.sin(t)])
    lumen = np.column_stack([0.5 + np.cos(t), np.sin(t)])
    m = contour_metrics(lumen, outer)
    assert m["lumen_area_mm2"] == pytest.approx(np.pi, rel=1e-4)
    assert m["outer_wall_area_mm2"] == pytest.approx(9 * np.pi, rel=1e-4)
    assert m["normalized_wall_index"] == pytest.approx(8 / 9, rel=1e-4)
    assert m["min_wall_thickness_mm"] == pytest.approx(1.5, abs=1e-3)
    assert m["max_wall_thickness_mm"] == pytest.approx(2.5, abs=1e-3)
    assert m["eccentricity_index"] == pytest.approx(0.4, abs=1e-3)
    assert polygon_area(np.array([[0, 0], [2, 0], [2, 1], [0, 1.0]])) == 2.0
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1.0]])
    assert distance_to_polygon(np.array([[0.5, 3.0]]), square)[0] == pytest.approx(2.0)


def test_centerline_refined_to_the_lumen_centre():
    # The reader's path is 0.6 mm off the axis (along the arc's binormal, which is
    # perpendicular to it everywhere). Refined: on the axis in the normal segments and,
    # on the plaque plateau, at the lumen centre 0.8 mm from the axis towards 60 deg.
    from napari_calcium.phantoms.vessel import VesselGeometry
    from napari_calcium.vessel.wall import refine_centerline

    geometry = VesselGeometry()
    mri, truth = vessel_mri(spacing_mm=(0.3, 0.3, 0.35))
    binormal = np.asarray(geometry.orientation)[:, 2]
    drawn = Centerline(np.asarray(truth["centerline_mm"]) + 0.6 * binormal)
    refined = refine_centerline(mri, drawn, step_mm=1.0)
    arc = np.linspace(0, refined.length_mm, 200)
    s, a, h = geometry.in_plane_offsets(refined.position(arc))
    normal = ((s > 1) & (s < 7)) | ((s > 17) & (s < 21))
    assert np.hypot(a, h)[normal].max() < 0.1
    plateau = (s > 11.2) & (s < 12.8)
    t0 = np.deg2rad(60.0)
    assert np.hypot(a - 0.8 * np.cos(t0), h - 0.8 * np.sin(t0))[plateau].max() < 0.15


def test_contours_hold_with_noise():
    # Gaussian noise SD 10 (wall-lumen contrast 280): areas within 10 %, stenosis
    # within 5 points, remodeling class unchanged.
    mri, truth = vessel_mri()
    rng = np.random.default_rng(1)
    noisy = mri.replace(array=(mri.array + rng.normal(0, 10, mri.shape)).astype(np.float32))
    p = summarise_plaque(
        measure_wall(noisy, Centerline(truth["centerline_mm"]), step_mm=0.5)["table"]
    )
    n = truth["narrowest"]
    for key in ("lumen_area_mm2", "outer_wall_area_mm2", "wall_area_mm2"):
        assert p[key] == pytest.approx(n[key], rel=0.10), key
    assert p["stenosis_pct"] == pytest.approx(truth["stenosis_pct"], abs=5)
    assert p["remodeling"] == "positive"


def _row(arc_mm, lumen_r_mm, outer_r_mm, calcified_fraction):
    la, owa = np.pi * lumen_r_mm**2, np.pi * outer_r_mm**2
    return {
        "arc_mm": arc_mm,
        "lumen_area_mm2": la,
        "outer_wall_area_mm2": owa,
        "wall_area_mm2": owa - la,
        "normalized_wall_index": 1 - la / owa,
        "plaque_burden_pct": 100 * (1 - la / owa),
        "max_wall_thickness_mm": outer_r_mm - lumen_r_mm,
        "min_wall_thickness_mm": outer_r_mm - lumen_r_mm,
        "eccentricity_index": 0.0,
        "lumen_diameter_mm": 2 * lumen_r_mm,
        "lumen_min_diameter_mm": 2 * lumen_r_mm,
        "lumen_mean_diameter_mm": 2 * lumen_r_mm,
        "calcified_fraction": calcified_fraction,
    }


def _ellipse(a_mm, b_mm, n=720):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([a_mm * np.cos(t), b_mm * np.sin(t)], axis=1)


def test_caliper_diameters_of_measured_contours():
    # ellipse semi-axes 1.2 x 0.6: minimum caliper 2 x 0.6 = 1.2 mm; circle r 1.5: 3.0 mm
    m = contour_metrics(_ellipse(1.2, 0.6), _ellipse(2.4, 2.4))
    assert m["lumen_min_diameter_mm"] == pytest.approx(1.2, rel=1e-3)
    assert m["lumen_diameter_mm"] == pytest.approx(2 * np.sqrt(1.2 * 0.6), rel=1e-3)
    c = contour_metrics(_ellipse(1.5, 1.5), _ellipse(2.4, 2.4))
    assert c["lumen_min_diameter_mm"] == pytest.approx(3.0, rel=1e-3)
    assert c["lumen_mean_diameter_mm"] == pytest.approx(3.0, rel=1e-3)


def test_wasid_uses_measured_diameters():
    # 0-10 mm normal round lumen r 1.5; at 5 mm an elliptic residual lumen 1.2 x 0.6 mm.
    # WASID on diameters: 1 - 1.2 / 3.0 = 60 %; from area-equivalent diameters
    # 1 - 2 sqrt(1.2 x 0.6) / 3.0 = 43.4 %, kept as stenosis_area_based_pct.
    outer = _ellipse(2.4, 2.4)
    table = []
    for a in np.arange(0.0, 10.01, 0.5):
        lumen = _ellipse(1.2, 0.6) if a == 5.0 else _ellipse(1.5, 1.5)
        table.append({"arc_mm": float(a), **contour_metrics(lumen, outer)})
    p = summarise_plaque(table, end_margin_mm=0.5)
    assert p["narrowest_mm"] == 5.0
    assert p["d_stenosis_mm"] == pytest.approx(1.2, rel=1e-3)
    assert p["d_normal_mm"] == pytest.approx(3.0, rel=1e-3)
    assert p["stenosis_pct"] == pytest.approx(100 * (1 - 1.2 / 3.0), abs=0.2)
    area_based = 100 * (1 - 2 * np.sqrt(1.2 * 0.6) / 3.0)
    assert p["stenosis_area_based_pct"] == pytest.approx(area_based, abs=0.2)


def test_automatic_reference_is_free_of_ct_calcium():
    # 0-4 mm normal wall (lumen r 2.0, outer 2.8: NWI 0.49); 4-8 mm calcified, where the
    # dark calcium lets the MRI lumen contour reach the outer wall (r 2.6: NWI 0.14, the
    # lowest); 10 mm a stenosis (lumen r 1.2). WASID against the calcium-free segment:
    # 1 - 1.2 / 2.0 = 40 %, not 1 - 1.2 / 2.6 = 54 %.
    table = [_row(a, 2.0, 2.8, 0.0) for a in np.arange(0.0, 4.0, 0.5)]
    table += [_row(a, 2.6, 2.8, 0.4) for a in np.arange(4.0, 8.0, 0.5)]
    table += [_row(a, 2.0, 2.8, 0.0) for a in np.arange(8.0, 10.0, 0.5)]
    table += [_row(10.0, 1.2, 2.8, 0.0)]
    table += [_row(a, 2.0, 2.8, 0.0) for a in np.arange(10.5, 14.0, 0.5)]
    p = summarise_plaque(table, end_margin_mm=0.5)
    assert p["narrowest_mm"] == 10.0
    assert p["reference_lumen_area_mm2"] == pytest.approx(np.pi * 4.0)
    assert p["stenosis_pct"] == pytest.approx(40.0)
    assert p["reference_choice"].endswith("no calcium on CT)")
    # with calcium in every cross-section the lowest NWI is used, as without a CT
    everywhere = [dict(r, calcified_fraction=0.1) for r in table]
    assert summarise_plaque(everywhere, end_margin_mm=0.5)["reference_lumen_area_mm2"] == (
        pytest.approx(np.pi * 2.6**2)
    )


def test_resolution_warning_names_the_in_plane_voxel():
    from napari_calcium.vessel.wall import resolution_warning
    from napari_calcium.volume import Volume

    def mri(spacing_mm):
        return Volume(np.zeros((4, 4, 4), np.float32), spacing_mm, modality="MR")

    assert resolution_warning(mri((0.5, 0.5, 0.8)), 0.55) is None  # thick slab axis ignored
    assert resolution_warning(mri((0.55, 0.55, 0.55)), 0.55) is None
    text = resolution_warning(mri((1.0, 1.0, 1.0)), 0.55)
    assert "in-plane voxel is 1.00 mm" in text and "0.55 mm" in text
    assert resolution_warning(mri((0.3, 0.7, 0.7)), 0.55).count("0.70 mm") == 1


def test_default_resolution_accepts_the_vertebrobasilar_study_acquisition():
    from napari_calcium.vessel.wall import default_wall_settings, resolution_warning
    from napari_calcium.volume import Volume

    cfg = default_wall_settings()
    assert cfg["max_in_plane_voxel_mm"] == 0.7 and "PMC7963837" in cfg["resolution_source"]
    # the study's 0.7 x 0.7 x 1.1 mm VW-MRI (z, y, x = 1.1, 0.7, 0.7) passes; 0.8 mm does not
    study = Volume(np.zeros((4, 4, 4), np.float32), (0.7, 0.7, 1.1), modality="MR")
    assert resolution_warning(study, cfg["max_in_plane_voxel_mm"]) is None
    coarse = Volume(np.zeros((4, 4, 4), np.float32), (0.8, 0.8, 1.1), modality="MR")
    assert "0.80 mm" in resolution_warning(coarse, cfg["max_in_plane_voxel_mm"])
