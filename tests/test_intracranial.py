"""Calcification along a curved artery on CT, and the combined CT + VW-MRI job."""

import json

import numpy as np
import pytest

from napari_calcium.errors import InputError
from napari_calcium.intracranial import (
    find_calcifications,
    measure_calcifications,
    run_intracranial,
    segment_grades,
)
from napari_calcium.phantoms.vessel import (
    CT_CALCIFICATIONS,
    PlaqueSpec,
    VesselGeometry,
    rotation_matrix,
    vessel_ct,
    vessel_mri,
)
from napari_calcium.vessel.centerline import Centerline
from napari_calcium.volume import Volume

GRIDS = {
    # anisotropic, axis-aligned grid
    "anisotropic": {"spacing_mm": (0.4, 0.4, 0.45)},
    # anisotropic grid rotated obliquely against LPS and against the artery
    "oblique": {"spacing_mm": (0.45, 0.35, 0.6), "direction": rotation_matrix((10, 20, -15))},
}


@pytest.fixture(scope="module", params=list(GRIDS))
def measured(request):
    ct, truth = vessel_ct(**GRIDS[request.param])
    line = Centerline(truth["centerline_mm"])
    labels, _ = find_calcifications(ct, line)
    return ct, truth, measure_calcifications(ct, labels, line)


def test_one_component_per_calcification_in_proximal_order(measured):
    _, truth, calcs = measured
    assert [c["id"] for c in calcs] == [1, 2, 3]
    # proximal to distal: the construction puts iel (2-8 mm), intimal (10-14.5), spotty (16.5-18.5)
    starts = [c["start_mm"] for c in calcs]
    assert starts == sorted(starts)
    for c, t in zip(calcs, truth["calcifications"].values(), strict=True):
        assert c["start_mm"] == pytest.approx(t["s_range_mm"][0], abs=0.5)


def test_geometry_of_each_calcification(measured):
    ct, truth, calcs = measured
    for c, (name, t) in zip(calcs, truth["calcifications"].items(), strict=True):
        # arc within 15 deg, thickness within one voxel, length within 0.5 mm
        assert c["arc_deg"] == pytest.approx(t["arc_deg"], abs=15), name
        assert c["thickness_mm"] == pytest.approx(t["thickness_mm"], abs=min(ct.spacing_mm)), name
        assert c["length_mm"] == pytest.approx(t["length_mm"], abs=0.5), name


def test_volume_and_density_through_pyradiomics(measured):
    ct, truth, calcs = measured
    for c, (name, t) in zip(calcs, truth["calcifications"].items(), strict=True):
        # Voxels are calcified by their centre, so the voxel volume is exactly the
        # count of such voxels; against the analytic volume the partial-volume
        # (voxelisation) tolerance is 10 %, 15 % below 5 mm3 (a 2 mm spot of ~40 voxels).
        assert c["volume_mm3"] == pytest.approx(t["voxel_count"] * ct.voxel_volume_mm3, rel=1e-6)
        rel = 0.15 if t["volume_mm3"] < 5 else 0.10
        assert c["volume_mm3"] == pytest.approx(t["volume_mm3"], rel=rel), name
        # uniform calcium: mean and peak density are exact
        assert c["mean_hu"] == pytest.approx(t["mean_hu"], abs=1e-4)
        assert c["peak_hu"] == pytest.approx(t["peak_hu"], abs=1e-4)


#: One artery segment per calcification of :func:`vessel_ct` (mm along the centreline).
SEGMENTS = {"iel": (0.0, 9.0), "intimal": (9.0, 15.5), "spotty": (15.5, 22.0)}


def test_pattern_class_and_kockelkoren_items(measured):
    _, truth, calcs = measured
    segments = segment_grades(calcs, SEGMENTS, {"pattern_reading": "three-class"})
    for c, (name, t) in zip(calcs, truth["calcifications"].items(), strict=True):
        assert c["segment"] == name
        for key in ("circularity", "thickness_class", "morphology", "pattern", "spotty"):
            assert c[key] == t[key], (name, key)
    # points from CLINICAL_RULES 3.2: IEL thin(3) + 270-360(4) + continuous(4) = 11;
    # intimal thick(1) + 90-270(3) + irregular(1) = 5; spot dots(1) + thin(3) + 0 = 4
    assert [c["pattern_points"] for c in calcs] == [11, 5, 4]
    assert [segments[n]["pattern_points"] for n in SEGMENTS] == [11, 5, 4]
    # the two-class reading (default) puts the dots (4 < 7) with the intimal pattern
    two = segment_grades(calcs, SEGMENTS)
    assert two["spotty"]["pattern"] == "intimal-predominant"
    assert two["spotty"]["pattern_three_class"] == "absent/indistinguishable"
    # as one artery the three are scored together: interrupted along 2-14.5 mm
    # (plaques cover 6 + 4.5 of 12.5 mm = 0.84 < 0.9) -> irregular
    whole = segment_grades(calcs, {"artery": (0.0, 22.0)})["artery"]
    assert whole["morphology"] == "irregular" and whole["circularity"] == "270-360"
    assert whole["covered_fraction"] == pytest.approx(10.5 / 12.5, abs=0.05)


def test_bone_outside_the_vessel_region_is_not_calcification():
    ct, truth = vessel_ct()
    line = Centerline(truth["centerline_mm"])
    labels, region = find_calcifications(ct, line, region_radius_mm=4.5)
    assert not np.any(np.asarray(ct.array)[labels.array > 0] >= truth["bone_hu"])
    # with a region reaching the bony canal (rho 6.5-8 mm) the bone is picked up
    wide, _ = find_calcifications(ct, line, region_radius_mm=8.5)
    assert np.any(np.asarray(ct.array)[wide.array > 0] >= truth["bone_hu"])


def test_threshold_is_a_parameter():
    ct, truth = vessel_ct(calcium_hu=300.0)
    line = Centerline(truth["centerline_mm"])
    assert find_calcifications(ct, line, threshold_hu=130)[0].array.max() == 3
    assert find_calcifications(ct, line, threshold_hu=301)[0].array.max() == 0


# ------------------------------------------------------------ combined CT + MRI
def _plaque_nwi_length_mm(plaque: PlaqueSpec, margin: float) -> float:
    """Length over which NWI = 1 - (r_lumen / r_outer)^2 exceeds the reference by ``margin``."""
    s = np.linspace(0, 22, 22001)
    lumen, outer, _ = plaque.radii(s)
    nwi = 1 - (lumen / outer) ** 2
    ref = 1 - (plaque.lumen_ref_mm / plaque.outer_ref_mm) ** 2
    return float((nwi >= ref + margin).sum() * (s[1] - s[0]))


def _calcified_fraction_truth(geometry: VesselGeometry, plaque: PlaqueSpec, s_values) -> float:
    """Largest fraction of the wall area that lies in a CT calcification (fine grid)."""
    a, h = np.meshgrid(np.arange(-4, 4, 0.01), np.arange(-4, 4, 0.01))
    rho = np.hypot(a, h)
    theta = np.rad2deg(np.arctan2(h, a)) % 360
    best = 0.0
    t0 = np.deg2rad(plaque.offset_theta_deg)
    for s in s_values:
        lumen, outer, off = plaque.radii(s)
        wall = (rho <= outer) & (np.hypot(a - off * np.cos(t0), h - off * np.sin(t0)) > lumen)
        calc = np.zeros_like(wall)
        for spec in CT_CALCIFICATIONS.values():
            for (s0, s1), (r0, r1), (th0, th1) in spec["boxes"]:
                if s0 <= s <= s1:
                    calc |= (rho >= r0) & (rho <= r1) & (theta >= th0) & (theta <= th1)
        best = max(best, (wall & calc).sum() / wall.sum())
    return best


@pytest.fixture(scope="module")
def combined(tmp_path_factory):
    """CT, and pre/post MRI in another scanner frame related by a known rigid transform."""
    import SimpleITK as sitk

    geometry = VesselGeometry()
    ct, ct_truth = vessel_ct(geometry=geometry)
    # CT point p -> MRI point R p + t
    tx = sitk.Euler3DTransform()
    tx.SetRotation(0.1, -0.2, 0.15)
    tx.SetTranslation((12.0, -7.0, 4.0))
    rot = np.asarray(tx.GetMatrix()).reshape(3, 3)
    mri_geometry = VesselGeometry(
        orientation=tuple(map(tuple, rot @ np.asarray(geometry.orientation))),
        center_mm=tuple(tx.TransformPoint(geometry.center_mm)),
    )
    mri, mri_truth = vessel_mri(geometry=mri_geometry)
    post, _ = vessel_mri(geometry=mri_geometry, post_contrast=True)
    path = tmp_path_factory.mktemp("tfm") / "mri_to_ct.tfm"
    sitk.WriteTransform(tx, str(path))
    return ct, ct_truth, mri, post, mri_truth, path


def test_run_intracranial_with_registered_pre_and_post_mri(combined):
    import SimpleITK as sitk

    ct, ct_truth, mri, post, mri_truth, tfm = combined
    out = run_intracranial(
        ct,
        ct_truth["centerline_mm"],
        mri=mri,
        mri_post=post,
        transform=sitk.ReadTransform(str(tfm)),
        step_mm=0.5,
        # the CT and MRI phantoms are separate constructions: the CT's calcium reaches
        # 3.8 mm from the axis, beyond the MRI's 3.2 mm outer wall, so it must not
        # shape the MRI contours here
        wall_settings={"ct_calcium_as_wall": False},
    )
    p = out["plaque"]
    # the MRI is measured at its own 0.3 mm, not on the coarser 0.4-0.45 mm CT grid
    assert out["wall"]["volumes"]["mri"].spacing_mm == pytest.approx((0.3, 0.3, 0.3))
    assert out["settings"]["mri_grid"].startswith("isotropic 0.3 mm")
    assert out["warnings"] == []  # 0.3 mm resolves the wall
    # areas within 5 %
    n = mri_truth["narrowest"]
    assert p["lumen_area_mm2"] == pytest.approx(n["lumen_area_mm2"], rel=0.05)
    assert p["wall_area_mm2"] == pytest.approx(n["wall_area_mm2"], rel=0.05)
    assert p["stenosis_pct"] == pytest.approx(mri_truth["stenosis_pct"], abs=5)
    assert p["remodeling"] == mri_truth["remodeling"] == "positive"
    assert p["enhancement_ratio"] == pytest.approx(mri_truth["enhancement_ratio"], rel=0.05)
    plaque = PlaqueSpec()
    assert p["plaque_length_mm"] == pytest.approx(_plaque_nwi_length_mm(plaque, 0.1), abs=0.75)
    lo, hi = p["narrowest_mm"] - 3, p["narrowest_mm"] + 3
    frac = _calcified_fraction_truth(VesselGeometry(), plaque, np.arange(lo, hi, 0.25))
    assert 0 < frac < 0.5
    assert p["calcified_fraction"] == pytest.approx(frac, abs=0.1)
    assert p["class"] == "partially calcified"
    assert p["reference_choice"].startswith("automatic: proximal")
    seg = out["segments"]["artery"]
    assert seg["calcification_ids"] == [1, 2, 3]
    # one artery: largest arc 270-360 (4) + thin (3: the thin ring, 69 mm3, holds most
    # of the plaque volume) + irregular (1: interrupted between 8 and 10 mm) = 8 -> IEL
    assert seg["pattern_points"] == 4 + 3 + 1
    assert seg["pattern"] == "IEL-predominant"
    assert seg["babiarz"]["grade"] == 4 + 2  # 270-360 deg + thick (1.8 mm) somewhere
    assert seg["woodcock"] == 2  # thick, but interrupted along the artery (not continuous)
    # each calcification carries its artery segment's pattern
    assert [c["pattern"] for c in out["calcifications"]] == ["IEL-predominant"] * 3
    # narrowing 40 % < 50 %: extensive calcification (320 deg arc) without the
    # required narrowing is moderate, and the rule says why
    assert out["grade"]["grade"] == "moderate"
    assert "stenosis" in out["grade"]["rule"]
    json.dumps({k: out[k] for k in ("calcifications", "plaque", "grade", "segments", "settings")})


# ------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors(combined):
    ct, ct_truth, mri, _, _, _ = combined
    line = ct_truth["centerline_mm"]
    with pytest.raises(InputError, match="leaves the CT"):
        run_intracranial(ct, np.asarray(line) + [0, 0, 100.0])
    with pytest.raises(InputError, match="at least 2 points"):
        run_intracranial(ct, line[:1])
    with pytest.raises(InputError, match="placed twice"):
        run_intracranial(ct, [line[0], line[0], line[1]])
    raw = ct.replace(array=np.asarray(ct.array) + 1024.0)
    with pytest.raises(InputError, match="do not look like HU"):
        run_intracranial(raw, line)
    with pytest.raises(InputError, match="not in Hounsfield"):
        run_intracranial(ct.replace(units="a.u.", modality="OT"), line)
    # the MRI lives in another scanner frame: without the transform it misses the CT
    with pytest.raises(InputError, match="of the centreline is inside it"):
        run_intracranial(ct, line, mri=mri)
    with pytest.raises(InputError, match="reference position"):
        run_intracranial(
            ct,
            line,
            mri=Volume.from_sitk(ct.to_sitk(), modality="MR"),
            reference_mm=100.0,
        )


# ------------------------------------------------------------------------- CLI
def test_cli_writes_json_and_csv(combined, tmp_path):
    import pandas as pd

    from napari_calcium.cli import main
    from napari_calcium.io import write

    ct, ct_truth, mri, post, mri_truth, tfm = combined
    write(ct, tmp_path / "ct.mha")
    write(mri, tmp_path / "vw.mha")
    write(post, tmp_path / "vw_post.mha")
    (tmp_path / "line.csv").write_text(
        "x,y,z\n" + "\n".join(",".join(f"{v:.4f}" for v in p) for p in ct_truth["centerline_mm"])
    )
    argv = [
        "intracranial",
        str(tmp_path / "ct.mha"),
        "--centerline",
        str(tmp_path / "line.csv"),
        "--mri",
        str(tmp_path / "vw.mha"),
        "--mri-post",
        str(tmp_path / "vw_post.mha"),
        "--transform",
        str(tfm),
        "--step-mm",
        "0.5",
        "--reference-mm",
        "4.0",
        "--json",
        str(tmp_path / "out.json"),
        "--csv",
        str(tmp_path / "out.csv"),
    ]
    assert main(argv) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert set(out) >= {"calcifications", "plaque", "grade", "settings"}
    keys = {
        "id", "volume_mm3", "mean_hu", "peak_hu", "length_mm", "arc_deg", "thickness_mm",
        "spotty", "circularity", "thickness_class", "morphology", "pattern_points", "pattern",
    }  # fmt: skip
    assert all(keys <= set(c) for c in out["calcifications"])
    plaque_keys = {
        "class", "stenosis_pct", "remodeling_index", "remodeling", "lumen_area_mm2",
        "wall_area_mm2", "max_wall_thickness_mm", "min_wall_thickness_mm",
        "eccentricity_index", "plaque_burden_pct", "enhancement_ratio",
    }  # fmt: skip
    assert plaque_keys <= set(out["plaque"])
    assert out["plaque"]["stenosis_pct"] == pytest.approx(mri_truth["stenosis_pct"], abs=5)
    assert out["plaque"]["enhancement_ratio"] == pytest.approx(1.5, rel=0.05)
    assert out["settings"]["threshold_hu"] == 130.0
    # the reader's reference site (4 mm, in the normal proximal segment) is used and recorded
    assert out["plaque"]["reference_mm"] == pytest.approx(4.0)
    assert out["plaque"]["reference_choice"].startswith("reader")
    table = pd.read_csv(tmp_path / "out.csv")
    assert list(table["pattern"]) == ["IEL-predominant"] * 3  # one artery segment
    assert list(table["segment"]) == ["artery"] * 3
    assert "volume_mm3" in table.columns and "arc_deg" in table.columns


def test_cli_input_errors_exit_2(combined, tmp_path, capsys):
    from napari_calcium.cli import main
    from napari_calcium.io import write

    ct, ct_truth, *_ = combined
    write(ct, tmp_path / "ct.mha")
    (tmp_path / "one.csv").write_text("x,y,z\n1,2,3\n")
    assert (
        main(["intracranial", str(tmp_path / "ct.mha"), "--centerline", str(tmp_path / "one.csv")])
        == 2
    )
    assert "at least 2 points" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("x,y,z\n1,2,abc\n")
    assert (
        main(["intracranial", str(tmp_path / "ct.mha"), "--centerline", str(tmp_path / "bad.csv")])
        == 2
    )
    assert "not a table of numbers" in capsys.readouterr().err
    (tmp_path / "line.csv").write_text(
        "\n".join(",".join(map(str, p)) for p in ct_truth["centerline_mm"])
    )
    (tmp_path / "bad.tfm").write_text("not a transform")
    argv = ["intracranial", str(tmp_path / "ct.mha"), "--centerline", str(tmp_path / "line.csv")]
    assert (
        main([*argv, "--mri", str(tmp_path / "ct.mha"), "--transform", str(tmp_path / "bad.tfm")])
        == 2
    )
    assert "ITK transform" in capsys.readouterr().err


def test_density_and_volume_of_tiny_components():
    from napari_calcium.intracranial import radiomics_density_volume

    a = np.full((9, 9, 9), 30.0, np.float32)
    a[4, 4, 4] = 500.0
    ct = Volume(a, (0.4, 0.5, 0.6), modality="CT", units="HU")
    one = radiomics_density_volume(ct, ct.replace(array=(a > 130).astype(np.int32)), 1)
    assert one["volume_mm3"] == pytest.approx(0.4 * 0.5 * 0.6)
    assert one["mean_hu"] == one["peak_hu"] == 500.0
    assert one["density_source"].startswith("single voxel")
    a[4, 4, 5] = 300.0
    two = radiomics_density_volume(
        ct.replace(array=a), ct.replace(array=(a > 130).astype(np.int32)), 1
    )
    assert two["density_source"] == "PyRadiomics"
    assert two["volume_mm3"] == pytest.approx(0.24)
    assert two["mean_hu"] == pytest.approx(400.0)
    assert two["peak_hu"] == pytest.approx(500.0)


def test_no_calcification_gives_empty_table_and_mild_grade(combined):
    from napari_calcium.intracranial import calcification_table, result_json

    ct, ct_truth, *_ = combined
    # 420 HU calcium stays below a 500 HU threshold: nothing is found
    out = run_intracranial(ct, ct_truth["centerline_mm"], threshold_hu=500.0)
    assert out["calcifications"] == []
    assert out["grade"]["grade"] == "none/mild"
    assert out["plaque"]["class"] == "unknown" and out["plaque"]["stenosis_pct"] is None
    assert out["segments"]["artery"]["woodcock"] == 0
    table = calcification_table(out)
    assert len(table) == 0 and "pattern" in table.columns
    json.dumps(result_json(out))
