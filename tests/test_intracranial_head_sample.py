"""Intracranial calcification on the sample head CT/MRI pair (coarse 1.25 x 1.25 x 1.5 mm CT).

The head phantom's artery carries, by construction, a thin (0.6 mm), continuous,
300 deg circumferential calcified ring 6 mm long at 450 HU inside a 45 HU wall:
an IEL-predominant pattern (``truth["artery"]["calcification"]``). Its thickness is
half a CT voxel, so these tests check the measurement where partial volume matters.
The phantom is generated with the parameters of the sample data
(``napari-calcium sample head``, File > Open Sample), i.e. the defaults.
"""

import numpy as np
import pytest

from napari_calcium.intracranial import run_intracranial
from napari_calcium.phantoms.head import head_ct_mri
from napari_calcium.registration import landmark_error_mm, register

#: Noise of the phantom CT (HU), its default.
CT_NOISE_HU = 5.0


@pytest.fixture(scope="module")
def head():
    ct, mri, truth = head_ct_mri()  # the sample's parameters
    return ct, mri, truth


@pytest.fixture(scope="module")
def ct_only(head):
    ct, _, truth = head
    return run_intracranial(ct, truth["artery"]["centerline_mm"])


def _calcification(result):
    calcs = result["calcifications"]
    assert len(calcs) == 1  # one ring, nothing else within 4.5 mm of the artery
    return calcs[0]


def test_head_sample_pattern_is_iel_predominant(ct_only):
    c = _calcification(ct_only)
    # Kockelkoren items of the construction (CLINICAL_RULES 3.2): 300 deg -> 270-360 (4),
    # 0.6 mm < 1.5 mm -> thin (3), one uninterrupted ring of constant section ->
    # continuous (4): 11 points >= 7 -> IEL-predominant.
    assert c["circularity"] == "270-360"
    assert c["thickness_class"] == "thin"
    assert c["morphology"] == "continuous"
    assert c["pattern_points"] == 11
    assert c["pattern"] == "IEL-predominant"
    assert ct_only["segments"]["artery"]["pattern"] == "IEL-predominant"


def test_head_sample_geometry_within_tolerance(head, ct_only):
    ct, _, truth = head
    t = truth["artery"]["calcification"]
    c = _calcification(ct_only)
    # arc: the ring covers 300 deg; within 15 deg (rays every 1 deg, boundary blurred
    # by partial volume over one 1.25 mm voxel at radius ~2.2 mm).
    assert c["arc_deg"] == pytest.approx(t["arc_deg"], abs=15)
    # thickness: within one voxel (1.25 mm, the finest CT spacing) of 0.6 mm. The
    # ring is thinner than a voxel, so its peak HU is below its density and the
    # excess-integral thickness is an upper bound of the truth (less noise).
    assert c["thickness_mm"] == pytest.approx(t["thickness_mm"], abs=min(ct.spacing_mm))
    assert c["thickness_mm"] >= 0.9 * t["thickness_mm"]
    assert c["resolution_limit_mm"] == max(ct.spacing_mm)
    # length: 6 mm along the straight part of the artery, within 0.5 mm (two
    # 0.25 mm cross-section steps); it starts 9 mm along the truth centreline.
    assert c["length_mm"] == pytest.approx(t["length_mm"], abs=0.5)
    assert c["start_mm"] == pytest.approx(9.0, abs=0.5)


def test_head_sample_volume_and_density_bounds(head, ct_only):
    ct, _, truth = head
    t = truth["artery"]["calcification"]
    c = _calcification(ct_only)
    wall_hu = truth["tissue_ct_hu"]["vessel_wall"]  # 45 HU, what the calcium displaces
    density = t["density_hu"]  # 450 HU, uniform
    assert density == truth["tissue_ct_hu"]["wall_calcification"]
    v_true = t["volume_mm3"]  # 300/360 * pi * (2.55^2 - 1.95^2) * 6 = 42.4 mm3
    assert v_true == pytest.approx(300 / 360 * np.pi * (2.55**2 - 1.95**2) * 6.0)

    # Volume (PyRadiomics VoxelVolume of the voxels >= 130 HU) is the voxel count
    # times the voxel volume exactly.
    assert c["volume_mm3"] == pytest.approx(c["voxel_count"] * ct.voxel_volume_mm3, rel=1e-9)
    # Partial-volume tolerance: a voxel reaches 130 HU when its calcium fraction f is
    # at least f_min = (130 - 45) / (450 - 45) = 0.21, so the counted volume holds at
    # least f_min of calcium per voxel: volume <= V_true / f_min (202 mm3). The ring is
    # thinner than a voxel and every voxel it crosses is counted when it fills more
    # than a fifth of it, so the count does not fall below the true volume.
    f_min = (130.0 - wall_hu) / (density - wall_hu)
    assert v_true <= c["volume_mm3"] <= v_true / f_min

    # Calcium excess: partial volume conserves (density - wall) x volume = 405 x 42.4
    # = 17.2e3 HU mm3 summed over the component and its one-voxel rim. The rim
    # (~240 voxels, ~560 mm3) holds lumen (40 HU), wall (45), the CSF sleeve (8) and
    # brain (28-38) around the single background level subtracted, so a background off
    # by 5 HU moves the sum by ~2.8e3: within 20 %.
    assert c["excess_hu_mm3"] == pytest.approx((density - wall_hu) * v_true, rel=0.20)

    # Density: the ring (0.6 mm) is thinner than every voxel (>= 1.25 mm), so no voxel
    # is fully calcified and no HU equals 450 exactly. What holds exactly: the peak
    # cannot exceed the density plus noise (3 SD), and the mean of the counted voxels
    # lies between the threshold and the peak. Exact uniform density on voxels that
    # resolve the calcium is tested on the 0.4 mm vessel phantom (test_intracranial.py).
    assert c["peak_hu"] <= density + 3 * CT_NOISE_HU
    assert 130.0 <= c["mean_hu"] <= c["peak_hu"]
    # the background is the vessel region's median: lumen 40, wall 45, CSF 8, brain 28-38
    csf_hu = truth["tissue_ct_hu"]["csf"]
    assert csf_hu <= c["background_hu"] <= wall_hu


@pytest.fixture(scope="module")
def mri_to_ct(head):
    """Rigid registration, CT fixed and whole-head MRI moving (two levels for speed)."""
    ct, mri, truth = head
    reg = register(ct, mri, shrink_factors=(4, 2), smoothing_sigmas_mm=(2.0, 1.0))
    error = landmark_error_mm(reg.transform, truth["landmarks_ct_mm"], truth["landmarks_mri_mm"])
    # the MRI must land on the artery: landmark error below one CT voxel (1.25 mm)
    assert error["max"] < min(ct.spacing_mm)
    return reg.transform


def test_head_sample_with_registered_mri(head, ct_only, mri_to_ct):
    ct, mri, truth = head
    # the MRI and the transform are passed as the CLI passes them (--mri, --transform)
    out = run_intracranial(ct, truth["artery"]["centerline_mm"], mri=mri, transform=mri_to_ct)
    # the calcification comes from the CT alone: same table with or without the MRI
    c, c0 = _calcification(out), _calcification(ct_only)
    for key in ("pattern", "arc_deg", "thickness_mm", "length_mm", "volume_mm3"):
        assert c[key] == c0[key], key
    # plaque metrics are measured on the pair: every metric present and finite
    p = out["plaque"]
    assert p["class"] != "unknown"
    for key in (
        "lumen_area_mm2",
        "outer_wall_area_mm2",
        "normalized_wall_index",
        "stenosis_pct",
        "remodeling_index",
        "calcified_fraction",
    ):
        assert np.isfinite(p[key]), key
    # the outer wall contains the lumen
    assert 0 < p["lumen_area_mm2"] < p["outer_wall_area_mm2"]
    assert 0 < p["normalized_wall_index"] < 1
    assert out["settings"]["mri_registration"].startswith("transform")
    # the whole-head MRI is 1 mm, not a 0.55 mm vessel-wall acquisition: the wall
    # metrics come with a warning that says so (the slab is measured below)
    (warning,) = out["warnings"]
    assert "in-plane voxel is 1.00 mm" in warning and "unreliable" in warning


def test_vessel_wall_slab_metrics_with_the_whole_head_registration(head, mri_to_ct):
    # The 0.5 mm vessel-wall slab shares the whole-head MRI's space, so the transform
    # found on the whole-head T1 carries it onto the CT. The artery is a plain tube by
    # construction: lumen r 1.75 mm, outer wall r 2.75 mm (LA 9.62, OWA 23.76 mm2), wall
    # 1 mm all round, no stenosis, no remodeling.
    from napari_calcium.phantoms.head import vessel_wall_mri

    ct, _, truth = head
    out = run_intracranial(
        ct, truth["artery"]["centerline_mm"], mri=vessel_wall_mri(truth), transform=mri_to_ct
    )
    assert out["warnings"] == []  # 0.5 mm resolves the wall
    r_lumen = truth["artery"]["lumen_diameter_mm"] / 2
    r_outer = r_lumen + truth["artery"]["wall_thickness_mm"]
    calc = truth["artery"]["calcification"]
    start = float(calc["centerline_start_index"])  # centreline points are 1 mm apart
    end = start + calc["length_mm"]
    rows = out["wall"]["table"]
    last = rows[-1]["arc_mm"]
    plain = [
        r for r in rows if 1 <= r["arc_mm"] <= last - 1 and not start - 2 <= r["arc_mm"] <= end + 2
    ]
    for r in plain:
        assert r["lumen_area_mm2"] == pytest.approx(np.pi * r_lumen**2, rel=0.12)
        assert r["outer_wall_area_mm2"] == pytest.approx(np.pi * r_outer**2, rel=0.05)
        for key in ("max_wall_thickness_mm", "min_wall_thickness_mm"):
            assert r[key] == pytest.approx(1.0, abs=0.5)  # one slab voxel
    # over the calcified stretch the CT's calcium keeps the outer wall where it is
    calcified = [r for r in rows if start + 1 <= r["arc_mm"] <= end - 1]
    for r in calcified:
        assert r["outer_wall_area_mm2"] == pytest.approx(np.pi * r_outer**2, rel=0.05)
    # the wall holds the CT calcium over the calcified stretch and nowhere more than
    # one CT voxel beyond it
    inside = [r["calcified_fraction"] for r in calcified]
    outside = [
        r["calcified_fraction"] for r in rows if not start - 1.5 <= r["arc_mm"] <= end + 1.5
    ]
    assert min(inside) > 0 and max(outside) == 0
    # no stenosis and no remodeling by construction, against a calcium-free reference
    p = out["plaque"]
    assert "no calcium on CT" in p["reference_choice"]
    assert not start <= p["reference_mm"] <= end
    assert p["stenosis_pct"] < 15
    assert p["remodeling"] == "intermediate"

    # The calcified ring is dark on MRI like the lumen. Taken from the CT as wall (the
    # default), the calcified stretch keeps about the lumen area of its calcium-free
    # neighbours (the 1.25 mm CT blurs the ring inwards); read as lumen it inflates it.
    def mean_lumen_mm2(stretch):
        return np.mean([r["lumen_area_mm2"] for r in stretch])

    assert mean_lumen_mm2(calcified) == pytest.approx(mean_lumen_mm2(plain), rel=0.2)
    as_lumen = run_intracranial(
        ct,
        truth["artery"]["centerline_mm"],
        mri=vessel_wall_mri(truth),
        transform=mri_to_ct,
        wall_settings={"ct_calcium_as_wall": False},
    )["wall"]["table"]
    inflated = [r for r in as_lumen if start + 1 <= r["arc_mm"] <= end - 1]
    assert mean_lumen_mm2(inflated) > 1.5 * mean_lumen_mm2(plain)
