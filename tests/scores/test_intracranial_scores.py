"""Intracranial scores as pure functions of measurements (CLINICAL_RULES 0b, 3, 4)."""

import pytest

from napari_calcium.scores import intracranial as s


def test_spotty_both_conditions_strict():
    assert s.is_spotty(2.9, 89.0)
    assert not s.is_spotty(3.0, 45.0)  # length must be < 3 mm
    assert not s.is_spotty(2.0, 90.0)  # arc must be < 90 deg
    assert s.is_spotty(3.4, 45.0, max_length_mm=3.5)


@pytest.mark.parametrize(
    ("arc", "length", "category"),
    [
        (0, 0, "absent"),
        (40, 2, "dots"),
        (40, 5, "<90"),
        (89.9, 5, "<90"),
        (90, 5, "90-270"),
        (269.9, 5, "90-270"),
        (270, 5, "270-360"),
        (360, 9, "270-360"),
        (100, 1, "90-270"),
    ],
)
def test_circularity_bins(arc, length, category):
    assert s.circularity_category(arc, length) == category


def test_thickness_and_morphology():
    assert s.thickness_category(1.5) == "thick"
    assert s.thickness_category(1.49) == "thin"
    assert s.thickness_category(0) == "absent"
    assert s.morphology_category("270-360", 1.0, 0.1) == "continuous"
    assert s.morphology_category("270-360", 0.8, 0.1) == "irregular"  # a gap
    assert s.morphology_category("90-270", 1.0, 0.6) == "irregular"  # varying area
    assert s.morphology_category("dots", 1.0, 0.0) == "indistinguishable"


def test_kockelkoren_points_and_classes():
    # CLINICAL_RULES 3.2 table: thin 3 + 270-360 4 + continuous 4 = 11 -> IEL
    assert s.kockelkoren_score("270-360", "thin", "continuous") == (11, "IEL-predominant")
    # thick 1 + 90-270 3 + irregular 1 = 5 -> intimal
    assert s.kockelkoren_score("90-270", "thick", "irregular") == (5, "intimal-predominant")
    # 7 is the IEL cut-off: <90 (2) + thin (3) + irregular (1) = 6 -> intimal; with
    # 270-360 (4) + thick (1) + irregular (1) = 6 too; 90-270 (3) + thin (3) + irregular (1) = 7
    assert s.kockelkoren_score("<90", "thin", "irregular") == (6, "intimal-predominant")
    assert s.kockelkoren_score("90-270", "thin", "irregular") == (7, "IEL-predominant")
    assert s.kockelkoren_score("absent", "absent", "indistinguishable") == (
        0,
        "absent/indistinguishable",
    )
    assert s.kockelkoren_score("dots", "thin", "indistinguishable") == (
        4,
        "absent/indistinguishable",
    )
    assert s.kockelkoren_score(
        "dots", "thin", "indistinguishable", dots_indistinguishable=False
    ) == (
        4,
        "intimal-predominant",
    )
    assert s.kockelkoren_score("90-270", "thin", "irregular", iel_min_points=8)[1] == (
        "intimal-predominant"
    )


CALCS = [
    {
        "circularity": "270-360",
        "thickness_mm": 0.8,
        "morphology": "continuous",
        "length_mm": 6,
        "arc_deg": 320,
    },
    {
        "circularity": "90-270",
        "thickness_mm": 1.8,
        "morphology": "irregular",
        "length_mm": 4.5,
        "arc_deg": 200,
    },
    {
        "circularity": "dots",
        "thickness_mm": 0.8,
        "morphology": "indistinguishable",
        "length_mm": 2,
        "arc_deg": 50,
    },
]


def test_babiarz_and_woodcock_per_segment():
    b = s.babiarz_grade(CALCS)
    assert (b["circumference_grade"], b["thickness_grade"], b["grade"]) == (4, 2, 6)
    assert s.babiarz_grade(CALCS, combine="product")["grade"] == 8
    assert s.babiarz_grade([])["grade"] == 0
    assert s.babiarz_grade(CALCS[2:])["grade"] == 1 + 1  # dot + thin
    assert s.woodcock_grade([]) == 0
    assert s.woodcock_grade(CALCS[2:]) == 1  # thin discontinuous
    assert s.woodcock_grade(CALCS[:1]) == 2  # thin continuous
    assert s.woodcock_grade(CALCS[1:2]) == 2  # thick discontinuous
    assert s.woodcock_grade(CALCS) == 3  # thick and continuous in the segment


def test_overall_grade_rules():
    assert s.overall_grade([])["grade"] == "none/mild"
    assert s.overall_grade(CALCS[2:])["grade"] == "none/mild"
    assert s.overall_grade(CALCS[2:] * 3)["grade"] == "moderate"  # several spots
    # extensive (arc 320 >= 270) without MRI: severe, and the rule says narrowing was not measured
    g = s.overall_grade(CALCS)
    assert g["grade"] == "severe" and "not measured" in g["rule"]
    assert s.overall_grade(CALCS, stenosis_pct=60)["grade"] == "severe"
    assert s.overall_grade(CALCS, stenosis_pct=40)["grade"] == "moderate"
    assert s.overall_grade(CALCS, stenosis_pct=40, severe_min_stenosis_pct=30)["grade"] == "severe"


def test_wall_scores():
    assert s.wasid_stenosis_pct(1.2, 2.0) == pytest.approx(40.0)
    assert s.remodeling_class(1.05) == "positive"
    assert s.remodeling_class(0.95) == "negative"
    assert s.remodeling_class(0.95, negative_max=0.949) == "intermediate"
    assert s.remodeling_class(1.0) == "intermediate"
    assert s.eccentricity_index(2.8, 1.2) == pytest.approx(1.6 / 2.8)
    assert s.is_eccentric(0.5) and not s.is_eccentric(0.49)
    assert s.plaque_class(0.0) == "non-calcified"
    assert s.plaque_class(0.49) == "partially calcified"
    assert s.plaque_class(0.5) == "calcified"
    assert s.plaque_class(0.5, calcified_min_fraction=0.51) == "partially calcified"
    assert s.plaque_class(None) == "unknown"
    settings = s.default_settings()
    assert settings["kockelkoren_iel_min_points"] == 7 and "[R]" in settings["kockelkoren_source"]
