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


def test_thickness_bins():
    assert s.thickness_category(1.5) == "thick"
    assert s.thickness_category(1.49) == "thin"
    assert s.thickness_category(0) == "absent"


def test_kockelkoren_points_and_classes():
    # CLINICAL_RULES 3.2 table: thin 3 + 270-360 4 + continuous 4 = 11 -> IEL
    assert s.kockelkoren_score("270-360", "thin", "continuous") == (11, "IEL-predominant")
    # thick 1 + 90-270 3 + irregular 1 = 5 -> intimal
    assert s.kockelkoren_score("90-270", "thick", "irregular") == (5, "intimal-predominant")
    # 7 is the IEL cut-off: <90 (2) + thin (3) + irregular (1) = 6 -> intimal;
    # 90-270 (3) + thin (3) + irregular (1) = 7 -> IEL
    assert s.kockelkoren_score("<90", "thin", "irregular") == (6, "intimal-predominant")
    assert s.kockelkoren_score("90-270", "thin", "irregular") == (7, "IEL-predominant")
    assert s.kockelkoren_score("absent", "absent", "indistinguishable") == (
        0,
        "absent/indistinguishable",
    )
    # dots (1) + thin (3) + indistinguishable (0) = 4: the two-class reading (default)
    # classes it by its sum, the three-class reading calls it indistinguishable
    assert s.kockelkoren_score("dots", "thin", "indistinguishable") == (4, "intimal-predominant")
    assert s.kockelkoren_score("dots", "thin", "indistinguishable", reading="three-class") == (
        4,
        "absent/indistinguishable",
    )
    assert s.kockelkoren_score("90-270", "thin", "irregular", iel_min_points=8)[1] == (
        "intimal-predominant"
    )
    with pytest.raises(ValueError, match="reading"):
        s.kockelkoren_score("dots", "thin", "indistinguishable", reading="four-class")


def _piece(start, end, arc, thickness, volume=10.0, covered=1.0, cv=0.1):
    return {
        "start_mm": start,
        "end_mm": end,
        "length_mm": end - start,
        "arc_deg": arc,
        "thickness_mm": thickness,
        "volume_mm3": volume,
        "covered_fraction": covered,
        "area_cv": cv,
    }


def test_two_thick_focal_pieces_are_one_intimal_artery():
    # each piece alone covers its own length (covered 1.0, uniform area): scored apart,
    # each would be continuous, < 90 (2) + thick (1) + continuous (4) = 7 -> IEL.
    # Along the artery they are interrupted: span 2-12 mm, covered 4 + 4 = 8 of 10 mm
    # (0.8 < 0.9) -> irregular: < 90 (2) + thick (1) + irregular (1) = 4 -> intimal.
    pieces = [_piece(2.0, 6.0, 70.0, 2.0), _piece(8.0, 12.0, 60.0, 2.1)]
    out = s.segment_pattern(pieces)
    assert (out["circularity"], out["thickness_class"], out["morphology"]) == (
        "<90",
        "thick",
        "irregular",
    )
    assert out["covered_fraction"] == pytest.approx(8.0 / 10.0)
    assert out["pattern_points"] == 2 + 1 + 1
    assert out["pattern_two_class"] == out["pattern_three_class"] == "intimal-predominant"


def test_thin_continuous_circumferential_is_iel():
    # one ring 3-11 mm, arc 320, 0.6 mm thick: 270-360 (4) + thin (3) + continuous (4) = 11
    out = s.segment_pattern([_piece(3.0, 11.0, 320.0, 0.6)])
    assert (out["circularity"], out["thickness_class"], out["morphology"]) == (
        "270-360",
        "thin",
        "continuous",
    )
    assert out["pattern_points"] == 11 and out["pattern_two_class"] == "IEL-predominant"
    # shorter than continuous_min_length_mm (5): a focal deposit, irregular: 4 + 3 + 1 = 8
    short = s.segment_pattern([_piece(3.0, 7.0, 320.0, 0.6)])
    assert short["morphology"] == "irregular" and short["pattern_points"] == 8
    # an uneven calcium area along it (CV 0.6 > 0.35) is patchy, not continuous
    assert s.segment_pattern([_piece(3.0, 11.0, 320.0, 0.6, cv=0.6)])["morphology"] == "irregular"


def test_spotty_dots_follow_the_configured_reading():
    # two dots (length < 3 mm and arc < 90): dots (1) + thin (3) + indistinguishable (0) = 4
    dots = [_piece(2.0, 3.5, 40.0, 0.9), _piece(9.0, 10.5, 50.0, 1.0)]
    out = s.segment_pattern(dots)
    assert (out["circularity"], out["thickness_class"], out["morphology"]) == (
        "dots",
        "thin",
        "indistinguishable",
    )
    assert out["pattern_points"] == 4
    assert out["pattern_two_class"] == "intimal-predominant"
    assert out["pattern_three_class"] == "absent/indistinguishable"
    # dots next to a plaque do not change the plaque's items
    ring = [_piece(3.0, 11.0, 320.0, 0.6, volume=40.0)]
    assert s.segment_pattern(ring + dots)["pattern_points"] == 11
    empty = s.segment_pattern([])
    assert (
        empty["pattern_points"] == 0 and empty["pattern_two_class"] == "absent/indistinguishable"
    )


def test_predominant_thickness_is_by_volume():
    # a thin ring of 30 mm3 and a thick piece of 10 mm3: thick holds 10/40 < 0.5 -> thin
    pieces = [_piece(2.0, 10.0, 300.0, 0.7, volume=30.0), _piece(12.0, 16.0, 80.0, 2.0)]
    out = s.segment_pattern(pieces)
    assert out["thick_volume_fraction"] == pytest.approx(10.0 / 40.0)
    assert out["thickness_class"] == "thin"


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


def _spot(start, length, arc):
    return {"start_mm": start, "end_mm": start + length, "length_mm": length, "arc_deg": arc}


def test_overall_grade_rules():
    assert s.overall_grade([])["grade"] == "none/mild"
    # one larger calcification (6 mm, 150 deg): one spot, not extensive -> none/mild
    one = s.overall_grade([_spot(4.0, 6.0, 150.0)])
    assert one["grade"] == "none/mild" and one["n_spots"] == 1
    # three small spots over 2-16 mm: several (3 > 2), widely distributed (14 >= 10 mm)
    spread = [_spot(2.0, 1.5, 40.0), _spot(9.0, 1.5, 40.0), _spot(14.5, 1.5, 40.0)]
    out = s.overall_grade(spread)
    assert out["grade"] == "moderate" and out["spread_mm"] == pytest.approx(16.0 - 2.0)
    # the same three spots clustered within 2-6 mm are not widely distributed
    clustered = [_spot(2.0, 1.0, 40.0), _spot(3.5, 1.0, 40.0), _spot(5.0, 1.0, 40.0)]
    assert s.overall_grade(clustered)["grade"] == "none/mild"
    # extensive (arc 320 >= 270) with no narrowing measured (CT alone): not severe
    ring = [_spot(2.0, 6.0, 320.0)]
    ct_only = s.overall_grade(ring)
    assert ct_only["grade"] == "moderate" and "not measured" in ct_only["rule"]
    assert ct_only["severe_if_narrowed"] and not ct_only["narrowing_measured"]
    # extensive by length (6 + 5 = 11 >= 10 mm) with a measured 60 % stenosis -> severe
    long = [_spot(2.0, 6.0, 120.0), _spot(9.0, 5.0, 100.0)]
    assert s.overall_grade(long, stenosis_pct=60)["grade"] == "severe"
    assert s.overall_grade(ring, stenosis_pct=40)["grade"] == "moderate"
    assert s.overall_grade(ring, stenosis_pct=40, severe_min_stenosis_pct=30)["grade"] == "severe"
    # narrowing without extensive calcification is not severe
    assert s.overall_grade([_spot(4.0, 2.0, 40.0)], stenosis_pct=70)["grade"] == "none/mild"


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
    assert (
        settings["pattern_reading"] == "two-class" and "default" in settings["pattern_reading_why"]
    )
