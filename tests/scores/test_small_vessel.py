"""Small vessel disease scores: boundaries written out from CLINICAL_RULES section 5 and 0b."""

import pytest

from napari_calcium.scores.small_vessel import (
    fazekas_suggestion,
    grade_index,
    intracranial_overall_grade,
    mars_counts,
    potter_grade,
    staals_svd_score,
)


@pytest.mark.parametrize(
    "count, grade",
    [(0, 0), (1, 1), (10, 1), (11, 2), (20, 2), (21, 3), (40, 3), (41, 4), (200, 4)],
)
def test_potter_grade_boundaries(count, grade):
    # Potter 5.4: 0 none, 1 = 1-10, 2 = 11-20, 3 = 21-40, 4 = > 40
    assert potter_grade(count) == grade


def test_potter_grade_refuses_bad_counts():
    with pytest.raises(ValueError):
        potter_grade(-1)
    with pytest.raises(ValueError):
        potter_grade(2.5)


def staals(**kw):
    base = {
        "lacune_count": 0,
        "microbleed_count": 0,
        "epvs_basal_ganglia_grade": 0,
        "fazekas_periventricular": 0,
        "fazekas_deep": 0,
    }
    base.update(kw)
    return staals_svd_score(**base)


def test_staals_items_one_point_each():
    assert staals()["total"] == 0
    assert staals(lacune_count=1)["total"] == 1
    assert staals(microbleed_count=3)["total"] == 1
    assert staals(epvs_basal_ganglia_grade=1)["total"] == 0  # grade >= 2 needed (> 10 PVS)
    assert staals(epvs_basal_ganglia_grade=2)["total"] == 1
    assert staals(fazekas_periventricular=2, fazekas_deep=1)["total"] == 0
    assert staals(fazekas_periventricular=3)["total"] == 1
    assert staals(fazekas_deep=2)["total"] == 1
    full = staals(lacune_count=2, microbleed_count=1, epvs_basal_ganglia_grade=4, fazekas_deep=3)
    assert full["total"] == 4 and full["complete"]


def test_staals_variant_and_missing_items():
    # hypertensive-type variant "> 20 PVS" = grade >= 3
    assert staals(epvs_basal_ganglia_grade=2, epvs_min_grade=3)["total"] == 0
    partial = staals(lacune_count=None, epvs_basal_ganglia_grade=None, microbleed_count=2)
    assert partial["total"] == 1
    assert partial["missing"] == ["lacunes", "epvs_basal_ganglia"]
    assert not partial["complete"]
    # one WMH grade unknown: decided only when the known one gives the point
    assert staals(fazekas_periventricular=None, fazekas_deep=2)["items"]["wmh"]["point"] == 1
    assert staals(fazekas_periventricular=None, fazekas_deep=1)["items"]["wmh"]["point"] is None


def test_mars_counts_by_region_and_certainty():
    mbs = [
        {"region": "lobar", "certainty": "definite"},
        {"region": "lobar", "certainty": "possible"},
        {"region": "deep", "certainty": "definite"},
        {"region": None, "certainty": "definite"},
    ]
    out = mars_counts(mbs)
    assert out["count"] == 4 and out["definite"] == 3 and out["possible"] == 1
    assert out["by_region"]["lobar"] == {"definite": 1, "possible": 1}
    assert out["by_region"]["unassigned"] == {"definite": 1, "possible": 0}
    with pytest.raises(ValueError):
        mars_counts([{"region": "cortex", "certainty": "definite"}])


def test_intracranial_overall_grade_is_the_worst_artery():
    assert intracranial_overall_grade({})["grade"] is None
    out = intracranial_overall_grade({"MCA_left": "none/mild", "ICA_right": "none/mild"})
    assert out["grade"] == "none/mild" and out["calcified_arteries"] == []
    out = intracranial_overall_grade({"MCA_left": "moderate", "basilar": "mild"})
    assert out["grade"] == "moderate" and out["grade_index"] == 1
    out = intracranial_overall_grade(
        {"MCA_left": 1, "vertebral_right": "severe", "ICA_left": None}
    )
    assert out["grade"] == "severe"
    assert out["calcified_arteries"] == ["MCA_left", "vertebral_right"]
    assert out["graded"] == ["MCA_left", "vertebral_right"]
    assert "worst" in out["rule"]
    with pytest.raises(ValueError):
        intracranial_overall_grade({"aorta": "severe"})
    with pytest.raises(ValueError):
        grade_index("huge")


def faz(**kw):
    base = {
        "periventricular_volume_ml": 1.0,
        "periventricular_extent_mm": 4.0,
        "ventricle_coverage": 0.1,
        "deep_volume_ml": 0.1,
        "deep_largest_diameter_mm": 5.0,
    }
    base.update(kw)
    return fazekas_suggestion(**base)


def test_fazekas_suggestion_boundaries():
    assert (faz()["periventricular"], faz()["deep"]) == (1, 1)
    assert faz(periventricular_volume_ml=0.0, deep_volume_ml=0.0)["periventricular"] == 0
    assert faz(periventricular_volume_ml=0.0, deep_volume_ml=0.0)["deep"] == 0
    assert faz(ventricle_coverage=0.5)["periventricular"] == 2
    assert faz(ventricle_coverage=0.49)["periventricular"] == 1
    assert faz(periventricular_extent_mm=10.0)["periventricular"] == 3
    assert faz(deep_largest_diameter_mm=9.9)["deep"] == 1
    assert faz(deep_largest_diameter_mm=10.0)["deep"] == 2
    assert faz(deep_largest_diameter_mm=20.0)["deep"] == 3
    out = faz(large_confluence_mm=25.0, deep_largest_diameter_mm=20.0)
    assert out["deep"] == 2 and out["settings"]["large_confluence_mm"] == 25.0
    assert out["measured"]["deep_largest_diameter_mm"] == 20.0


def test_fazekas_sum_and_periventricular_lesion_grade():
    from napari_calcium.scores.small_vessel import fazekas_sum, periventricular_lesion_grade

    assert fazekas_sum(3, 2) == 5 and fazekas_sum(0, 0) == 0 and fazekas_sum(3, 3) == 6
    assert fazekas_sum(None, 2) is None and fazekas_sum(1, None) is None
    # 0 and 1 are one class (0-1), then 2, then 3
    assert [periventricular_lesion_grade(g) for g in (0, 1, 2, 3)] == ["0-1", "0-1", "2", "3"]
    assert periventricular_lesion_grade(None) is None
    with pytest.raises(ValueError):
        periventricular_lesion_grade(4)
