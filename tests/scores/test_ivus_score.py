"""IVUS calcium score, arc grades, guidance and ULTIMATE criteria (CLINICAL_RULES 0b, 2.x)."""

import numpy as np
import pytest

from napari_calcium.scores.ivus import (
    arc_grade,
    ivus_calcium_score,
    treatment_guidance,
    ultimate_criteria,
)


@pytest.mark.parametrize(
    ("arc", "inclusive", "grade"),
    [(0, False, "0"), (45, False, "I"), (89.9, False, "I"), (90, False, "II"),
     (179.9, False, "II"), (180, False, "III"), (269.9, False, "III"), (270, False, "IV"),
     (360, False, "IV"),
     (90, True, "I"), (90.1, True, "II"), (270, True, "III"), (270.5, True, "IV")],
)  # fmt: skip
def test_arc_grade_boundaries(arc, inclusive, grade):
    # the review: I < 90, II 90-180, III 180-270, IV >= 270 (boundaries to the grade above)
    assert arc_grade(arc, upper_inclusive=inclusive) == grade


def test_arc_grade_default_puts_each_boundary_in_the_grade_above():
    assert [arc_grade(a) for a in (90.0, 180.0, 270.0)] == ["II", "III", "IV"]


def points(score):
    return {i["key"]: i["point"] for i in score["items"]}


def test_each_item_scores_one_point_with_its_measured_value():
    score = ivus_calcium_score(360.0, 6.0, True, 3.0)
    assert points(score) == {"superficial_360": 1, "superficial_arc_length": 1,
                             "calcified_nodule": 1, "small_vessel": 1}  # fmt: skip
    assert score["total"] == 4 and score["high_risk_of_underexpansion"]
    assert score["items"][3]["measured"] == {"vessel_diameter_mm": 3.0}
    assert "CLINICAL_RULES" in score["rule"]
    none = ivus_calcium_score(200.0, 6.0, False, 3.5)  # 3.5 mm is not < 3.5 mm
    assert none["total"] == 0 and not none["high_risk_of_underexpansion"]


def test_the_270_degree_boundary_is_a_parameter():
    # exactly 270 degrees over 6 mm: "> 270" (0b wording, default) gives no point, ">= 270" one
    assert points(ivus_calcium_score(270.0, 6.0, False, 4.0))["superficial_arc_length"] == 0
    inclusive = ivus_calcium_score(270.0, 6.0, False, 4.0, arc_inclusive=True)
    assert points(inclusive)["superficial_arc_length"] == 1
    # the length must exceed 5 mm
    assert points(ivus_calcium_score(300.0, 5.0, False, 4.0))["superficial_arc_length"] == 0


def lesion(**kw):
    """A mild deep lesion: 60 deg, 3 mm, all frames deep, 3.2 mm vessel, no reference."""
    base = {"max_arc_deg": 60.0, "length_mm": 3.0, "superficial_frame_fraction": 0.0,
            "superficial": False, "max_superficial_arc_deg": 0.0,
            "superficial_arc_length_mm": 0.0, "vessel_diameter_mm": 3.2}  # fmt: skip
    base.update(kw)
    return base


def guidance(**kw):
    score = kw.pop("score", ivus_calcium_score(0.0, 0.0, False, 3.8))
    return treatment_guidance(lesion(**kw), score)


def test_without_a_severe_feature_balloon_preparation_is_suggested():
    g = guidance()
    assert g["category"] == "mild_moderate" and g["triggers"] == []
    assert "cutting or scoring" in g["text"] and "Decision support" in g["text"]


@pytest.mark.parametrize(
    ("changes", "trigger", "measured"),
    [({"max_arc_deg": 270.0}, "max_arc", "270 deg"),
     ({"length_mm": 5.5}, "length", "5.5 mm"),
     ({"superficial": True, "superficial_frame_fraction": 1.0}, "superficial", "100% of calcified frames superficial"),
     ({"score": {"total": 2}}, "ivus_calcium_score", "2")],
)  # fmt: skip
def test_each_severe_feature_on_its_own_points_to_plaque_modification(changes, trigger, measured):
    g = guidance(**changes)
    assert [t["trigger"] for t in g["triggers"]] == [trigger]
    assert g["triggers"][0]["measured"] == measured
    assert g["category"] in ("severe_deep", "severe_superficial")
    assert g["triggers"][0]["rule"] in g["text"] and measured in g["text"]
    assert "0b" in g["rule"]


def test_severe_boundaries_are_the_reviews():
    assert guidance(max_arc_deg=269.9)["triggers"] == []  # ">= 270"
    assert guidance(length_mm=5.0)["triggers"] == []  # "> 5 mm"
    assert guidance(score={"total": 1})["triggers"] == []  # ">= 2"


def test_superficial_severe_calcium_gets_atherectomy_deep_gets_lithotripsy():
    superficial = guidance(max_arc_deg=200.0, superficial=True, superficial_frame_fraction=0.8)
    assert superficial["category"] == "severe_superficial"
    assert "rotational or orbital atherectomy" in superficial["text"]
    deep = guidance(max_arc_deg=300.0, length_mm=8.0, superficial_frame_fraction=0.1)
    assert deep["category"] == "severe_deep" and "lithotripsy" in deep["text"]


def test_circumferential_calcium_is_named():
    # the sample's case: a 300-degree superficial ring, never a cutting balloon
    g = guidance(max_arc_deg=300.0, length_mm=1.2, superficial=True,
                 superficial_frame_fraction=1.0)  # fmt: skip
    assert g["circumferential"] and g["category"] == "severe_superficial"
    assert "Circumferential calcium (max arc 300 deg >= 270 deg)" in g["text"]
    assert "atherectomy or lithotripsy before stenting" in g["text"]
    assert "cutting" not in g["text"]
    assert not guidance(max_arc_deg=269.0)["circumferential"]


def test_mild_superficial_balloon_is_reached_when_superficial_is_not_severe():
    mild = lesion(superficial=True, superficial_frame_fraction=1.0)
    g = treatment_guidance(
        mild, ivus_calcium_score(60, 0, False, 3.8), superficial_is_severe=False
    )
    assert g["category"] == "mild_superficial" and "semi-compliant" in g["text"]


def test_lithotripsy_size_is_checked_on_the_reference_vessel():
    # 4.5 mm vessel at the lesion (outside 2.5-4.0 mm) but a 3.5 mm reference: suits
    deep = {"max_arc_deg": 300.0, "length_mm": 20.0, "superficial_frame_fraction": 0.0,
            "vessel_diameter_mm": 4.5}  # fmt: skip
    g = guidance(**deep, reference_vessel_diameter_mm=3.5)
    assert "suits this lesion" in g["text"] and "reference vessel 3.50 mm" in g["text"]
    assert g["values"]["vessel_diameter_source"] == "reference"
    too_big = guidance(**deep, reference_vessel_diameter_mm=4.2)
    assert "suits" not in too_big["text"] and "reference vessel 4.20 mm" in too_big["text"]
    # no reference found: the lesion's diameter, said so
    fallback = guidance(**deep)
    assert "no reference found" in fallback["text"] and "4.50 mm" in fallback["text"]
    long = guidance(**{**deep, "length_mm": 61.0}, reference_vessel_diameter_mm=3.0)
    assert "suits" not in long["text"]


def test_a_nodule_candidate_scores_only_when_confirmed():
    candidate = ivus_calcium_score(0.0, 0.0, False, 4.0, nodule_candidate=True)
    assert points(candidate)["calcified_nodule"] == 0
    assert candidate["items"][2]["measured"] == {"nodule_candidate": True, "confirmed": False}
    confirmed = ivus_calcium_score(0.0, 0.0, True, 4.0, nodule_candidate=True)
    assert points(confirmed)["calcified_nodule"] == 1


def test_ultimate_criteria_on_a_constructed_stent():
    # 40 frames 0.5 mm apart; stent 5-15 mm; lumen 6 mm2 in stent, 7 mm2 outside;
    # vessel 12 mm2 -> edge plaque burden (12-7)/12 = 41.7 %
    pos = np.arange(40) * 0.5
    inside = (pos >= 5) & (pos <= 15)
    lumen = np.where(inside, 6.0, 7.0)
    vessel = np.full(40, 12.0)
    stent = np.where(inside, 6.0, np.nan)
    result = ultimate_criteria(pos, lumen, vessel, stent, 5.0, 15.0, edge_dissection_length_mm=0.0)
    assert [c["met"] for c in result["criteria"]] == [True, True, True] and result["optimal"]
    assert result["criteria"][1]["measured"]["distal_edge_max_burden_percent"] == pytest.approx(
        41.7, abs=0.1
    )
    # MLA 4.8 mm2 < 5 but > 90 % of the distal reference 5.0 mm2 -> still met
    lumen2 = np.where(inside, 4.8, 5.0)
    vessel2 = np.full(40, 9.0)  # burden (9-5)/9 = 44 %
    r2 = ultimate_criteria(pos, lumen2, vessel2, stent, 5.0, 15.0, edge_dissection_length_mm=None)
    assert r2["criteria"][0]["met"] and r2["criteria"][2]["met"] is None and r2["optimal"] is None
    # edge burden 60 % fails criterion 2
    r3 = ultimate_criteria(pos, lumen, np.where(inside, 12.0, 17.5), stent, 5.0, 15.0,
                           edge_dissection_length_mm=4.0)  # fmt: skip
    assert not r3["criteria"][1]["met"] and not r3["criteria"][2]["met"] and r3["optimal"] is False
