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
    [(0, True, "0"), (45, True, "I"), (90, True, "I"), (90.1, True, "II"), (180, True, "II"),
     (270, True, "III"), (270.5, True, "IV"), (360, True, "IV"),
     (90, False, "II"), (270, False, "IV"), (89.9, False, "I")],
)  # fmt: skip
def test_arc_grade_boundaries(arc, inclusive, grade):
    assert arc_grade(arc, upper_inclusive=inclusive) == grade


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
    base = {"max_arc_deg": 60.0, "length_mm": 3.0, "superficial_frame_fraction": 1.0,
            "max_superficial_arc_deg": 60.0, "superficial_arc_length_mm": 0.0,
            "vessel_diameter_mm": 3.2}  # fmt: skip
    base.update(kw)
    return base


def test_guidance_follows_the_decision_path():
    mild = lesion()
    g = treatment_guidance(mild, ivus_calcium_score(60, 0, False, 3.2))
    assert g["category"] == "mild_superficial" and "semi-compliant" in g["text"]
    moderate = lesion(
        max_arc_deg=150.0, superficial_frame_fraction=0.2, max_superficial_arc_deg=0.0
    )
    g = treatment_guidance(moderate, ivus_calcium_score(0, 0, False, 3.8))
    assert g["category"] == "mild_moderate" and "cutting or scoring" in g["text"]
    severe = lesion(max_arc_deg=320.0, length_mm=7.0, max_superficial_arc_deg=320.0,
                    superficial_arc_length_mm=6.0)  # fmt: skip
    g = treatment_guidance(severe, ivus_calcium_score(320, 6.0, False, 3.2))
    assert g["category"] == "severe_superficial" and "atherectomy" in g["text"]
    assert g["values"]["max_superficial_arc_deg"] == 320.0 and "0b" in g["rule"]
    deep = lesion(max_arc_deg=300.0, length_mm=20.0, superficial_frame_fraction=0.1,
                  max_superficial_arc_deg=40.0, vessel_diameter_mm=3.0)  # fmt: skip
    score = ivus_calcium_score(40.0, 0.0, True, 3.0)  # nodule + small vessel = 2
    g = treatment_guidance(deep, score)
    assert g["category"] == "severe_deep" and "lithotripsy" in g["text"]
    assert "suits this lesion" in g["text"]  # 20 mm <= 60 mm, 3.0 mm within 2.5-4.0 mm
    assert "Decision support" in g["text"]
    # deep calcium of 300 deg over 8 mm is severe by extent even with a score of 0
    wide_deep = lesion(max_arc_deg=300.0, length_mm=8.0, superficial_frame_fraction=0.0,
                       max_superficial_arc_deg=0.0, vessel_diameter_mm=4.5)  # fmt: skip
    g = treatment_guidance(wide_deep, ivus_calcium_score(0.0, 0.0, False, 4.5))
    assert g["category"] == "severe_deep" and "300 deg >= 270 deg over 8.0 mm" in g["text"]
    assert "4.50 mm vessel" in g["text"]  # outside 2.5-4.0 mm: lithotripsy size note


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
