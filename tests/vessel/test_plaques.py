"""Per-plaque records: plaques found along the wall table, each with its own metrics and
the calcifications inside it, against the construction of a two-plaque phantom."""

import pytest

from napari_calcium.intracranial import run_intracranial
from napari_calcium.phantoms.study import plaque_images
from napari_calcium.vessel.plaques import find_plaque_runs

#: One patient as the study generator draws them: an intimal plaque with two spotty
#: calcifications (11 mm) and an IEL plaque (26 mm).
SUBJECT = {
    "subject_id": "T001",
    "plaques": [
        {
            "centre_mm": 11.0, "pattern": "intimal", "lumen_min_mm": 1.2, "outer_max_mm": 3.1,
            "offset_max_mm": 0.5, "offset_theta_deg": 40.0, "enhancement": 2.0,
            "calcium_hu": 260.0, "n_spotty": 2,
        },
        {
            "centre_mm": 26.0, "pattern": "iel", "lumen_min_mm": 1.5, "outer_max_mm": 3.3,
            "offset_max_mm": 0.2, "offset_theta_deg": 200.0, "enhancement": 1.5,
            "calcium_hu": 340.0, "n_spotty": 0,
        },
    ],
}  # fmt: skip


def test_runs_of_thickened_cross_sections_by_hand():
    # NWI 0.5 at the reference (frame 0); thickened >= 0.6; 0.25 mm steps
    nwi = [0.5] * 8 + [0.7] * 6 + [0.5] * 2 + [0.65] * 2 + [0.5] * 8 + [0.8] * 3 + [0.5] * 10
    table = [{"arc_mm": 0.25 * i, "normalized_wall_index": v} for i, v in enumerate(nwi)]
    runs = find_plaque_runs(table, 0, 0.1, end_margin_mm=1.0, min_length_mm=1.0, merge_gap_mm=1.0)
    # 8-13 and 16-17 are 2 frames (0.5 mm) apart: one plaque; 26-28 is 0.75 mm: too short
    assert runs == [(8, 17)]
    assert find_plaque_runs(table, 0, 0.1, 1.0, 0.5, 0.25) == [(8, 13), (16, 17), (26, 28)]


@pytest.fixture(scope="module")
def measured():
    ct, mri, post, centerline, truth = plaque_images(SUBJECT)
    result = run_intracranial(ct, centerline, mri=mri, mri_post=post, artery="basilar")
    return result, truth, ct, centerline


def test_two_plaques_with_their_own_metrics(measured):
    result, truth, _, _ = measured
    plaques = result["plaques"]
    assert [p["id"] for p in plaques] == [1, 2]
    for plaque, design in zip(plaques, truth["plaques"], strict=True):
        centre = design["centre_mm"]
        # the wall is thickened over the plateau (7 mm) and part of the 2 mm tapers
        assert plaque["start_mm"] <= centre - 3.5 and plaque["end_mm"] >= centre + 3.5
        assert plaque["end_mm"] - plaque["start_mm"] <= 11.0
        assert plaque["location"] == "basilar"
        mri = design["mri"]
        assert plaque["stenosis_pct"] == pytest.approx(mri["stenosis_pct"], abs=3.0)
        assert plaque["remodeling_index"] == pytest.approx(mri["remodeling_index"], abs=0.06)
        assert plaque["enhancement_ratio"] == pytest.approx(mri["enhancement_ratio"], abs=0.06)
        assert plaque["plaque_burden_pct"] == pytest.approx(
            mri["narrowest"]["plaque_burden_pct"], abs=3.0
        )
        assert plaque["reference_mm"] < 6.0  # the proximal normal segment, for both


def test_calcifications_attributed_to_their_plaque(measured):
    result, truth, _, _ = measured
    intimal, iel = result["plaques"]
    calcium = truth["calcifications"]
    # plaque 1: two thick focal pieces and two spots; plaque 2: one ring
    assert (intimal["n_calcifications"], intimal["n_spotty"]) == (4, 2)
    assert (iel["n_calcifications"], iel["n_spotty"]) == (1, 0)
    assert intimal["pattern"] == "intimal-predominant" and intimal["intimal_predominant"] == 1
    assert iel["pattern"] == "IEL-predominant" and iel["iel_predominant"] == 1
    assert iel["calcium_mean_hu"] == pytest.approx(340.0) and iel[
        "calcium_peak_hu"
    ] == pytest.approx(340.0)
    ring = calcium["plaque2_main"]["volume_mm3"]
    assert iel["calcium_volume_mm3"] == pytest.approx(ring, rel=0.15)
    volumes = [c["volume_mm3"] for k, c in calcium.items() if k.startswith("plaque1")]
    assert intimal["calcium_volume_mm3"] == pytest.approx(sum(volumes), rel=0.15)
    # density: the voxel-weighted mean of the main pieces (260 HU) and spots (250 HU)
    main = calcium["plaque1_main"]["volume_mm3"]
    expected = (260.0 * main + 250.0 * (sum(volumes) - main)) / sum(volumes)
    assert intimal["calcium_mean_hu"] == pytest.approx(expected, abs=2.0)
    every = sorted(i for p in result["plaques"] for i in p["calcification_ids"])
    assert every == [c["id"] for c in result["calcifications"]]  # each in one plaque


def test_no_plaques_without_mri(measured):
    _, _, ct, centerline = measured
    ct_only = run_intracranial(ct, centerline, step_mm=0.5)
    assert ct_only["plaques"] == [] and ct_only["plaque"]["class"] == "unknown"
