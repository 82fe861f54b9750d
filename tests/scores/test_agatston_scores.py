"""Agatston score functions against the published tables (CLINICAL_RULES 1.1-1.6)."""

import math

import pytest

from napari_calcium.scores import agatston as score


@pytest.mark.parametrize(
    ("peak_hu", "weight"),
    [(130, 1), (199, 1), (199.9, 1), (200, 2), (299, 2), (300, 3), (399, 3), (400, 4), (2500, 4)],
)
def test_density_weight_boundaries(peak_hu, weight):
    assert score.density_weight([peak_hu])[0] == weight


def test_density_weight_with_other_edges():
    # 100 kVp edges [R]: weight 2 from 222, 3 from 334, 4 from 446 HU
    _, *edges = score.kvp_edges_hu(100)
    assert list(score.density_weight([221, 222, 333, 334, 445, 446], edges)) == [1, 2, 2, 3, 3, 4]
    assert score.kvp_edges_hu(120) == (130.0, 200.0, 300.0, 400.0)
    with pytest.raises(ValueError, match="90 kVp"):
        score.kvp_edges_hu(90)


def test_slice_lesion_scores_area_times_weight_times_factor():
    # 2 mm² at 250 HU (x2) and 1.5 mm² at 450 HU (x4) on 1.5-mm slices (x 1.5/3)
    scores = score.slice_lesion_scores([2.0, 1.5], [250, 450], slice_factor=0.5)
    assert list(scores) == [2.0 * 2 * 0.5, 1.5 * 4 * 0.5]
    assert score.native_slice_factor(0.625) == pytest.approx(0.625 / 3)
    assert score.native_slice_factor(3.0) == 1.0


@pytest.mark.parametrize(
    ("agatston", "category"),
    [
        (0, "0"),
        (0.01, "1-10"),
        (10, "1-10"),
        (10.2, "11-100"),
        (100, "11-100"),
        (100.4, "101-400"),
        (400, "101-400"),
        (400.01, ">400"),
    ],
)
def test_categories_on_unrounded_scores(agatston, category):
    assert score.agatston_category(agatston) == category


@pytest.mark.parametrize(
    ("agatston", "n", "expected"),
    [
        (0, 0, "A0"),
        (0.5, 1, "A1/N1"),
        (99.9, 2, "A1/N2"),
        (100, 2, "A2/N2"),
        (299.99, 3, "A2/N3"),
        (300, 4, "A3/N4"),
        (300, None, "A3"),
    ],
)
def test_cac_drs(agatston, n, expected):
    assert score.cac_drs(agatston, n) == expected


def test_vessels_with_calcium_counts_lm_separately():
    per_artery = {"LM": 1.0, "LAD": 0.0, "LCX": 3.0, "RCA": 0.0, "unassigned": 50.0}
    assert score.vessels_with_calcium(per_artery, ("LM", "LAD", "LCX", "RCA")) == 2


def test_mass_calibration_and_mass():
    # 200 mg HA/cm³ insert reads 250 HU, water 0 HU -> c = 0.8 mg/cm³ per HU
    c = score.mass_calibration_factor(200.0, 250.0, 0.0)
    assert c == pytest.approx(0.8)
    # 50 mm³ = 0.05 cm³ at mean 400 HU -> 0.8 * 0.05 * 400 = 16 mg
    assert score.lesion_mass_mg(50.0, 400.0, c) == pytest.approx(16.0)
    with pytest.raises(ValueError):
        score.mass_calibration_factor(200.0, 0.0, 10.0)


def test_negative_or_nan_scores_refused():
    with pytest.raises(ValueError):
        score.agatston_category(-1)
    with pytest.raises(ValueError):
        score.cac_drs(math.nan, 1)


@pytest.mark.parametrize(
    ("kvp", "threshold_hu"),
    # round(378 x exp(-0.009 kV)): 378 x e^-0.63 = 201.32, e^-0.72 -> 183.99,
    # e^-0.9 -> 153.68, e^-1.08 -> 128.37, e^-1.215 -> 112.16
    [(70, 201), (80, 184), (100, 154), (120, 128), (135, 112)],
)
def test_kvp_formula_threshold(kvp, threshold_hu):
    assert score.kvp_formula_threshold_hu(kvp) == threshold_hu


def test_weight_zero_below_the_weight_one_edge():
    # kvp_formula at 120 kV: candidates from 128 HU, weight 1 only from 130 HU
    weights = score.density_weight([128, 129.9, 130, 250], (200, 300, 400), weight_one_hu=130)
    assert list(weights) == [0, 0, 1, 2]
    assert list(score.slice_lesion_scores([2.0, 2.0], [129, 131], weight_one_hu=130)) == [0, 2]


@pytest.mark.parametrize(
    ("agatston", "category"),
    [
        (0, "0"),
        (0.4, "1-99"),
        (99.9, "1-99"),
        (100, "100-399"),
        (399.9, "100-399"),
        (400, ">=400"),
    ],
)
def test_mesa_category_groups(agatston, category):
    # 0 / 1-99 / 100-399 / >=400: lower bounds inclusive, unrounded scores
    assert score.agatston_category(agatston, "mesa") == category
    assert score.category_description(category, "mesa")
    with pytest.raises(ValueError, match="unknown"):
        score.agatston_category(5, "other")
