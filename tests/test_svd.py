"""Small vessel disease markers on the brain phantom, whose truth is known by construction."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from napari_calcium.errors import InputError
from napari_calcium.phantoms.brain import brain_ct, brain_flair_swi, brain_region_map
from napari_calcium.svd import (
    RECORD_FORMAT_VERSION,
    load_record,
    run_svd,
    save_record,
    set_calcification,
    summarise,
    wmh_fractions,
)
from napari_calcium.volume import Volume


def ellipsoid_ml(a, b, c):
    return 4.0 / 3.0 * np.pi * a * b * c / 1000.0


def end_ml(a, b, c, h):
    """Both ends |y| >= h of an ellipsoid with semi-axes a, b, c (mm), in mL."""
    return 2 * np.pi * a * c * (b**2 * (b - h) - (b**3 - h**3) / 3.0) / b**2 / 1000.0


# The phantom's construction (phantoms/brain.py), written out: two ventricles of
# semi-axes 6 x 25 x 9 mm; a 4 mm lining; caps beyond |y| = 22 mm; the PV 3 lining
# 16 mm taller; six 5 mm deep foci, a 8 x 14 x 8 mm and a 10 x 30 x 10 mm deep lesion.
PV_ML = {
    0: 0.0,
    1: 2 * (end_ml(10, 29, 13, 22) - end_ml(6, 25, 9, 22)),
    2: 2 * (ellipsoid_ml(10, 29, 13) - ellipsoid_ml(6, 25, 9)),
    3: 2 * (ellipsoid_ml(10, 29, 29) - ellipsoid_ml(6, 25, 9)),
}
DEEP_ML = {
    0: 0.0,
    1: 6 * ellipsoid_ml(2.5, 2.5, 2.5),
    2: 6 * ellipsoid_ml(2.5, 2.5, 2.5) + ellipsoid_ml(4, 7, 4),
    3: 6 * ellipsoid_ml(2.5, 2.5, 2.5) + ellipsoid_ml(4, 7, 4) + ellipsoid_ml(5, 15, 5),
}
MICROBLEEDS_MM = [  # centre (x, y, z) LPS, region of the region map
    ((34, -30, 15), "lobar"),
    ((-42, 20, -5), "lobar"),
    ((20, 12, -10), "deep"),
    ((-20, -14, -8), "deep"),
    ((6, 25, -34), "infratentorial"),
    ((0, -48, 8), "lobar"),
]
CALCIFIED_FOCUS_MM = (0, 30, 16)


@pytest.fixture(scope="module")
def phantom():
    return brain_flair_swi(seed=0)


@pytest.fixture(scope="module")
def result(phantom):
    flair, swi, truth = phantom
    lacune_points = [lac["position_mm"] for lac in truth["lacunes"]]
    return run_svd(flair, swi, region_map=brain_region_map(), lacune_points_mm=lacune_points)


def test_phantom_truth_is_the_construction(phantom):
    _, _, truth = phantom
    assert truth["wmh_periventricular_ml"] == pytest.approx(PV_ML[2])
    assert truth["wmh_deep_ml"] == pytest.approx(DEEP_ML[2])
    assert truth["microbleed_count"] == len(MICROBLEEDS_MM)


def test_wmh_volume_and_periventricular_deep_split(result):
    assert result["wmh_volume_ml"] == pytest.approx(PV_ML[2] + DEEP_ML[2], rel=0.05)
    assert result["wmh_periventricular_ml"] == pytest.approx(PV_ML[2], rel=0.05)
    assert result["wmh_deep_ml"] == pytest.approx(DEEP_ML[2], rel=0.08)
    assert result["settings"]["periventricular_distance_mm"] == 10.0


def test_suggested_fazekas_matches_the_construction(result):
    assert result["fazekas_periventricular_suggested"] == 2
    assert result["fazekas_deep_suggested"] == 2
    measured = result["fazekas_suggestion"]["measured"]
    # 4 mm lining all round: extent ~ 4-5 mm (< 10), nearly all of the surface lined.
    assert 3.0 <= measured["periventricular_extent_mm"] < 10.0
    assert measured["ventricle_coverage"] > 0.9
    # largest deep lesion: 14 mm along y (semi-axis 7 mm), within [10, 20) mm.
    assert measured["deep_largest_diameter_mm"] == pytest.approx(14.0, abs=1.5)
    assert result["fazekas_source"] == {"periventricular": "suggested", "deep": "suggested"}
    assert "not a validated automatic rating" in result["fazekas_suggestion"]["rule"]


@pytest.mark.parametrize("pv, deep", [(0, 0), (1, 1), (3, 3)])
def test_fazekas_grades_and_volume_for_other_grades(pv, deep):
    flair, _, _ = brain_flair_swi(seed=pv, fazekas_periventricular=pv, fazekas_deep=deep)
    out = run_svd(flair)
    assert (out["fazekas_periventricular"], out["fazekas_deep"]) == (pv, deep)
    expected = PV_ML[pv] + DEEP_ML[deep]
    assert out["wmh_volume_ml"] == pytest.approx(expected, rel=0.05, abs=0.01)
    if pv in (0, 1):
        assert out["wmh_periventricular_ml"] == pytest.approx(PV_ML[pv], rel=0.05, abs=0.01)


def _match(candidates, position_mm, tol_mm=2.0):
    hits = [
        c
        for c in candidates
        if np.linalg.norm(np.subtract(c["position_mm"], position_mm)) < tol_mm
    ]
    return hits[0] if hits else None


def test_microbleed_candidates_find_every_true_microbleed(result):
    candidates = result["microbleeds"]["candidates"]
    for position, region in MICROBLEEDS_MM:
        hit = _match(candidates, position)
        assert hit is not None, f"microbleed at {position} missed"
        assert hit["region"] == region
        assert 2.0 <= hit["diameter_mm"] <= 10.0
    false = [c for c in candidates if all(_match([c], p) is None for p, _ in MICROBLEEDS_MM)]
    # At most one false candidate: the calcified focus, dark on SWI like a microbleed,
    # which only a CT can tell apart.
    assert len(false) <= 1
    assert all(_match([c], CALCIFIED_FOCUS_MM) for c in false)
    # The vein (x = -22, y = -25..15, z = 34) is excluded as extending beyond 10 mm.
    assert not any(
        abs(c["position_mm"][0] + 22) < 3 and abs(c["position_mm"][2] - 34) < 3 for c in candidates
    )
    reasons = [e["reason"] for e in result["microbleeds"]["excluded"]]
    assert any("extends beyond 10 mm" in r for r in reasons)
    # Nothing is counted before the reader confirms.
    assert result["microbleeds"]["count"] == 0
    assert result["microbleeds"]["pending"] == len(candidates)


def test_ct_excludes_the_calcification(phantom):
    from napari_calcium.svd import brain_mask, detect_microbleeds

    flair, swi, _ = phantom
    found = detect_microbleeds(swi, brain_mask(flair), ct=brain_ct())
    assert len(found["candidates"]) == len(MICROBLEEDS_MM)
    for position, _ in MICROBLEEDS_MM:
        assert _match(found["candidates"], position) is not None
    excluded = _match(found["excluded"], CALCIFIED_FOCUS_MM)
    assert excluded is not None and "calcification" in excluded["reason"]
    assert excluded["ct_peak_hu"] >= 130


def test_lacune_size_check(result):
    lacunes = result["lacunes"]
    assert lacunes["count"] == 1  # the 6 mm lacune; the 16.5 mm cavity is too large
    small, large = lacunes["items"]
    assert small["is_lacune"] and small["diameter_mm"] == pytest.approx(6.0, abs=1.5)
    assert not large["is_lacune"] and "outside 3-15 mm" in large["reason"]


def test_lacune_labels_size_check(phantom):
    from napari_calcium.svd import measure_lacunes

    flair, _, _ = phantom
    k, j, i = np.indices(flair.shape)
    spacing = flair.spacing_zyx_mm
    labels = np.zeros(flair.shape, np.uint8)
    # a 7 mm sphere and a 1.5 mm focus (one voxel), marked by the reader as labels
    for centre, diameter in (((30, 70, 60), 7.0), ((30, 70, 30), 1.5)):
        r2 = sum(((a - c) * s) ** 2 for a, c, s in zip((k, j, i), centre, spacing, strict=True))
        labels[r2 <= (diameter / 2) ** 2] = 1
    out = measure_lacunes(flair, labels=flair.with_array(labels))
    diameters = sorted(item["diameter_mm"] for item in out["items"])
    assert diameters[0] < 3.0 <= diameters[1] <= 15.0
    assert out["count"] == 1


def test_svd_score_items_after_reader_review(result):
    record = json.loads(json.dumps(result))
    # Before review the microbleed item is unknown (candidates pending).
    assert record["svd_score"]["items"]["microbleeds"]["point"] is None
    for c in record["microbleeds"]["candidates"]:
        is_true = any(_match([c], p) for p, _ in MICROBLEEDS_MM)
        c["status"] = "confirmed" if is_true else "rejected"
    record["epvs_basal_ganglia_count"] = 12  # Potter: 11-20 -> grade 2
    summarise(record)
    score = record["svd_score"]
    # Truth: 1 lacune, 6 microbleeds, BG EPVS grade 2, Fazekas PV 2 / deep 2 (deep >= 2).
    assert record["epvs_basal_ganglia"] == 2
    assert {k: v["point"] for k, v in score["items"].items()} == {
        "lacunes": 1,
        "microbleeds": 1,
        "epvs_basal_ganglia": 1,
        "wmh": 1,
    }
    assert score["total"] == 4 and score["complete"]
    assert record["microbleeds"]["count"] == len(MICROBLEEDS_MM)
    # the patient's total microbleed volume: the six spheres of the construction,
    # pi / 6 (4^3 + 5^3 + 3^3 + 6^3 + 4^3 + 8^3) = 528 mm3 (voxelised: within 15 %)
    total = np.pi / 6 * (4**3 + 5**3 + 3**3 + 6**3 + 4**3 + 8**3)
    assert record["microbleeds"]["total_volume_mm3"] == pytest.approx(total, rel=0.15)
    assert record["microbleeds"]["pending_volume_mm3"] == 0.0
    # Fazekas sum PV 2 + deep 2 = 4; the study's periventricular lesion grade is "2"
    assert record["fazekas_sum"] == 2 + 2
    assert record["periventricular_lesion_grade"] == "2"
    assert record["microbleeds"]["by_region"]["lobar"]["definite"] + record["microbleeds"][
        "by_region"
    ]["lobar"]["possible"] == sum(r == "lobar" for _, r in MICROBLEEDS_MM)
    # The reader overrides the WMH grades: PV 1, deep 1 -> no WMH point.
    record["fazekas_periventricular_reader"] = 1
    record["fazekas_deep_reader"] = 1
    summarise(record)
    assert record["svd_score"]["items"]["wmh"]["point"] == 0
    assert record["svd_score"]["total"] == 3
    assert record["fazekas_sum"] == 1 + 1 and record["periventricular_lesion_grade"] == "0-1"


def test_geometry_mismatch_is_refused_or_resampled(phantom):
    flair, swi, _ = phantom
    # The same SWI on a grid shifted by half a voxel (same physical space): a different grid.
    image = swi.to_sitk()
    shifted_origin = tuple(
        o + s / 2 for o, s in zip(image.GetOrigin(), image.GetSpacing(), strict=True)
    )
    shifted = sitk.Resample(
        image,
        image.GetSize(),
        sitk.Transform(),
        sitk.sitkLinear,
        shifted_origin,
        image.GetSpacing(),
        image.GetDirection(),
        0.0,
        image.GetPixelID(),
    )
    swi_shifted = Volume.from_sitk(shifted, modality="MR")
    with pytest.raises(InputError) as err:
        run_svd(flair, swi_shifted)
    assert "grid differs from the FLAIR" in str(err.value)
    assert "origin (-59, -69, -49.5) vs (-59.5, -69.5, -50.25) mm" in str(err.value)
    assert "--resample" in str(err.value)
    out = run_svd(flair, swi_shifted, resample=True)
    assert out["inputs"]["resampled_onto_flair"] == ["swi"]
    for position, _ in MICROBLEEDS_MM:
        assert _match(out["microbleeds"]["candidates"], position, tol_mm=3.0) is not None
    # A CT elsewhere in space cannot be used to exclude calcifications.
    with pytest.raises(InputError, match="the CT does not cover the centre of the FLAIR"):
        run_svd(flair, ct=brain_ct().replace(origin_mm=(400.0, 0.0, 0.0)))
    # An SWI elsewhere in space cannot be resampled onto the FLAIR.
    far = swi.replace(origin_mm=tuple(o + 500.0 for o in swi.origin_mm))
    with pytest.raises(InputError, match="covers only 0%"):
        run_svd(flair, far, resample=True)


def test_record_round_trip_and_newer_version_refused(result, tmp_path):
    record = set_calcification(
        json.loads(json.dumps(result)), {"MCA_left": "moderate", "basilar": "severe"}
    )
    record["subject_id"] = "S001"
    assert record["calcification"]["overall"]["grade"] == "severe"
    path = save_record(record, tmp_path / "S001.json")
    assert load_record(path) == record
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary file

    newer = dict(record, format_version=RECORD_FORMAT_VERSION + 1)
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    with pytest.raises(
        InputError, match="format version 2; this napari-calcium reads versions up to 1"
    ):
        load_record(tmp_path / "newer.json")
    (tmp_path / "other.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(InputError, match="not a small vessel disease record"):
        load_record(tmp_path / "other.json")


def test_no_region_map_counts_total_only(phantom):
    from napari_calcium.svd import brain_mask, detect_microbleeds

    flair, swi, _ = phantom
    found = detect_microbleeds(swi, brain_mask(flair))
    record = summarise(
        {
            "microbleeds": {
                "candidates": [dict(c, status="confirmed") for c in found["candidates"]]
            },
            "settings": {},
        }
    )
    assert set(record["microbleeds"]["by_region"]) == {"unassigned"}
    assert record["microbleeds"]["count"] == len(found["candidates"])


def test_cli_svd_writes_a_record(phantom, tmp_path):
    from napari_calcium.cli import main
    from napari_calcium.io import write

    flair, swi, truth = phantom
    write(flair, tmp_path / "flair.nii.gz")
    write(swi, tmp_path / "swi.nii.gz")
    out = tmp_path / "P1.json"
    grades = {"arteries": [{"artery": "MCA", "side": "left", "grade": "moderate"}]}
    (tmp_path / "grades.json").write_text(json.dumps(grades))
    points = ";".join(",".join(str(v) for v in lac["position_mm"]) for lac in truth["lacunes"])
    rc = main(
        [
            "svd",
            "--flair", str(tmp_path / "flair.nii.gz"),
            "--swi", str(tmp_path / "swi.nii.gz"),
            "--lacune-points", points,
            "--epvs-bg-count", "12",
            "--calcification", str(tmp_path / "grades.json"),
            "--grade", "basilar=none/mild",
            "--subject", "P1",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert rc == 0
    record = load_record(out)
    for key in (
        "wmh_volume_ml", "wmh_periventricular_ml", "wmh_deep_ml", "fazekas_periventricular",
        "fazekas_deep", "microbleeds", "lacunes", "epvs_basal_ganglia", "epvs_centrum_semiovale",
        "svd_score", "settings", "format_version", "fazekas_sum", "periventricular_lesion_grade",
    ):  # fmt: skip
        assert key in record, key
    assert record["wmh_volume_ml"] == pytest.approx(PV_ML[2] + DEEP_ML[2], rel=0.05)
    assert record["lacunes"]["count"] == 1
    assert record["epvs_basal_ganglia"] == 2 and record["epvs_centrum_semiovale"] is None
    assert record["calcification"]["overall"]["grade"] == "moderate"
    assert record["calcification"]["grades"]["basilar"] == "none/mild"
    assert record["calcification"]["source"] == "grades.json and reader"
    assert record["fazekas_sum"] == 4 and "total_volume_mm3" in record["microbleeds"]
    candidates = record["microbleeds"]["candidates"]
    for position, _ in MICROBLEEDS_MM:
        assert _match(candidates, position) is not None  # positions in mm survive the files
    assert record["settings"]["wmh_threshold"] == 1.3


def test_cli_refuses_mismatched_grids_without_traceback(phantom, tmp_path, capsys):
    from napari_calcium.cli import main
    from napari_calcium.io import write

    flair, swi, _ = phantom
    write(flair, tmp_path / "flair.nii.gz")
    write(swi.replace(origin_mm=(0.0, 0.0, 0.0)), tmp_path / "swi.nii.gz")
    rc = main(
        ["svd", "--flair", str(tmp_path / "flair.nii.gz"), "--swi", str(tmp_path / "swi.nii.gz")]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "the swi grid differs from the FLAIR's (origin" in err and "--resample" in err
    assert "Traceback" not in err


def _ventricle_masks(flair):
    """The two ventricles of the construction: semi-axes 6 x 25 x 9 mm at (+-12, 0, 8) mm."""
    k, j, i = np.indices(flair.shape)
    x, y, z = np.moveaxis(flair.index_to_physical(np.stack([k, j, i], -1)), -1, 0)
    return [((x - cx) / 6) ** 2 + (y / 25) ** 2 + ((z - 8) / 9) ** 2 <= 1 for cx in (12.0, -12.0)]


def test_supplied_ventricle_labels(phantom):
    flair, _, truth = phantom
    right, left = _ventricle_masks(flair)
    out = run_svd(flair, ventricle_labels=flair.with_array((right | left).astype(np.uint8)))
    assert out["ventricle_source"] == "reader labels"
    assert out["wmh_periventricular_ml"] == pytest.approx(PV_ML[2], rel=0.05)
    assert out["wmh_deep_ml"] == pytest.approx(DEEP_ML[2], rel=0.08)
    assert out["ventricle_volume_ml"] == pytest.approx(2 * ellipsoid_ml(6, 25, 9), rel=0.05)
    assert (out["fazekas_periventricular"], out["fazekas_deep"]) == (2, 2)


def test_ventricles_found_on_a_t1(phantom):
    """A T1 (CSF dark, brain bright) whose only dark cavity is the right ventricle: the
    ventricles come from the T1, not from the FLAIR (which shows both)."""
    flair, _, _ = phantom
    right, _ = _ventricle_masks(flair)
    t1 = np.where(right, 150.0, 600.0).astype(np.float32)
    out = run_svd(flair, t1=flair.with_array(t1))
    assert out["ventricle_source"] == "CSF-dark on T1"
    assert out["ventricle_volume_ml"] == pytest.approx(ellipsoid_ml(6, 25, 9), rel=0.05)
    assert run_svd(flair)["ventricle_source"] == "CSF-dark on FLAIR"


def test_wmh_fractions_conserve_a_blurred_lesion_signal():
    """A 6 x 6 x 6 voxel lesion at 1.6 x white matter (100), blurred over its border:
    the fraction sum is its 216 voxels, and white matter beyond the shell counts 0."""
    from scipy import ndimage

    image = np.full((30, 30, 30), 100.0, np.float32)
    image[12:18, 12:18, 12:18] = 160.0
    blurred = ndimage.gaussian_filter(image, 0.8)
    flair = Volume(blurred, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), modality="MR")
    mask = blurred >= 130.0  # half-way between 100 and 160
    region = np.ones(mask.shape, bool)
    no_ventricles = np.zeros(mask.shape, bool)
    fractions = wmh_fractions(flair, mask, region, no_ventricles, 100.0)
    assert fractions.sum() == pytest.approx(6**3, rel=0.03)
    assert fractions[2, 2, 2] == 0.0


def test_real_flair_segmentation_is_plausible(local_data):
    """The NiiVue demo FLAIR (a real, skull-stripped 1 mm scan): an adult brain
    (0.9-1.8 L), lateral ventricles found (5-80 mL), no WMH inside them, and a WMH load
    within what scans hold (0.1-100 mL). Information, not accuracy: the demo's drawn
    lesion map is a stroke lesion, not WMH."""
    from napari_calcium.io import read
    from napari_calcium.svd import run_svd_with_masks

    flair = read(local_data("niivue/FLAIR.nii.gz"), modality="MR")
    record, masks = run_svd_with_masks(flair)
    voxel_ml = flair.voxel_volume_mm3 / 1000.0
    assert 900.0 <= masks["brain"].sum() * voxel_ml <= 1800.0
    assert 5.0 <= record["ventricle_volume_ml"] <= 80.0
    assert not (masks["wmh"] & masks["ventricles"]).any()
    assert 0.1 <= record["wmh_volume_ml"] <= 100.0


def test_blobness_of_a_gaussian_focus_follows_its_axes():
    """Frangi's R_B at the centre of a Gaussian focus of SDs (a, a, b) seen at scale s:
    the Hessian eigenvalues are -peak / (SD^2 + s^2), so R_B = (a^2 + s^2) / (b^2 + s^2)."""
    from napari_calcium.svd import _blobness

    spacing = np.array([0.25, 0.25, 0.25])
    z, y, x = np.mgrid[-40:41, -40:41, -40:41] * 0.25
    a, radius = 1.0, 1.5 * np.sqrt(3.0)  # the scale s = radius / sqrt(3) = 1.5 mm
    for b, expected in ((1.0, 1.0), (2.0, (a**2 + 1.5**2) / (2.0**2 + 1.5**2))):
        focus = np.exp(-(x**2 + y**2) / (2 * a**2) - z**2 / (2 * b**2)).astype(np.float32)
        assert _blobness(focus, (40, 40, 40), spacing, radius) == pytest.approx(expected, abs=0.02)
    vein = np.exp(-(x**2 + y**2) / (2 * a**2)).astype(np.float32)  # along z, no end
    assert _blobness(vein, (40, 40, 40), spacing, radius) < 0.05


def test_microbleed_touching_a_vein_is_kept_and_sized_apart_from_it():
    """A 6 mm dark ball whose half-maximum region joins a 2 mm vein running past it
    (1 mm of wall between them) is kept as a microbleed beside a vessel, its diameter
    6 mm within a voxel; the vein alone stays excluded."""
    from scipy import ndimage

    from napari_calcium.svd import detect_microbleeds

    n = 64
    z, y, x = np.mgrid[:n, :n, :n].astype(np.float32)
    swi = np.full((n, n, n), 100.0, np.float32)
    ball = (x - 32) ** 2 + (y - 32) ** 2 + (z - 32) ** 2 <= 3.0**2
    vein = (x - 37) ** 2 + (z - 32) ** 2 <= 1.0**2  # along y, 1 mm clear of the ball
    swi[ball | vein] = 20.0
    swi = ndimage.gaussian_filter(swi, 0.7)
    volume = Volume(swi, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), modality="MR")
    brain = np.ones(swi.shape, bool)
    found = detect_microbleeds(volume, brain)
    hits = [c for c in found["candidates"] if np.linalg.norm(np.subtract(c["index_zyx"], 32)) < 2]
    assert len(hits) == 1
    assert hits[0]["merged_with_vessel"]
    assert hits[0]["diameter_mm"] == pytest.approx(6.0, abs=1.0)
    on_vein = [c for c in found["candidates"] if abs(c["index_zyx"][2] - 37) < 2]
    assert not on_vein
