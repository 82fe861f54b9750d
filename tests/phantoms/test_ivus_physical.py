"""The physical IVUS phantom family: its construction truth and its display chain."""

import numpy as np
import pytest

from napari_calcium.phantoms.ivus import arc_grade, lesion_truth
from napari_calcium.phantoms.ivus_physical import (
    HELD_OUT_SEEDS,
    TUNING_SEEDS,
    PhysicalConfig,
    physical_case,
    physical_pullback,
)


def small(**changes) -> PhysicalConfig:
    """A short, concentric pullback (catheter at the vessel centre) on a 5 mm field."""
    base = {
        "n_frames": 8, "field_of_view_mm": 5.0, "pixel_spacing_mm": 0.05,
        "pullback_speed_mm_s": 3.0, "frame_rate_hz": 30.0, "frequency_mhz": 20.0,
        "eem_radius_mm": (1.9, 1.9), "lumen_radius_mm": (1.3, 1.3), "lumen_waviness": 0.0,
        "catheter_offset_mm": (0.0, 0.0), "wire": None,
    }  # fmt: skip
    base.update(changes)
    return PhysicalConfig(**base)


def calcium(start_mm, length_mm, arc_deg, depth, start_angle_deg=30.0):
    return {
        "kind": "calcium", "start_mm": start_mm, "length_mm": length_mm,
        "start_angle_deg": start_angle_deg, "arc_deg": arc_deg, "depth_fraction": depth,
        "thickness_mm": 0.3, "surface_db": 24.0, "attenuation_db_mm_mhz": 2.0,
        "reverberation_mm": 0.0,
    }  # fmt: skip


def test_concentric_truth_is_circle_arithmetic():
    config = small(lesions=[calcium(0.2, 0.4, 120.0, 0.2), calcium(0.2, 0.4, 50.0, 0.7, 200.0)])
    volume, truth = physical_pullback(config)
    assert volume.shape == (8, 100, 100) and volume.spacing_mm[2] == pytest.approx(0.1)
    frame = truth["frames"][3]  # 0.3 mm: both lesions
    assert frame["lumen_area_mm2"] == pytest.approx(np.pi * 1.3**2, rel=1e-3)
    assert frame["vessel_area_mm2"] == pytest.approx(np.pi * 1.9**2)
    # arcs about the lumen centroid = the common centre: the drawn sectors
    assert frame["calcium_arc_deg"] == pytest.approx(120.0 + 50.0, abs=1.0)
    assert frame["superficial_arc_deg"] == pytest.approx(120.0, abs=1.0)
    assert frame["depth_fraction"] == 0.2 and frame["superficial"] is True
    assert truth["frames"][0]["calcium_arc_deg"] == 0.0  # 0.0 mm: before both lesions
    assert truth["frames"][0]["superficial"] is None
    # lesions span frames 2-5 (0.2 <= z < 0.6 mm): 4 frames of 0.1 mm
    first, second = truth["lesions"]
    assert first["start_mm"] == pytest.approx(0.2) and first["length_mm"] == pytest.approx(0.4)
    assert first["arc_grade"] == "II" and first["superficial"] and not second["superficial"]
    assert first["score_items"]["small_vessel"] is False  # EEM diameter 3.8 mm


def test_eccentric_lumen_keeps_its_circle_area_and_centroid():
    config = small(lumen_offset_mm=(0.25, -0.1), lesions=[calcium(0.0, 0.8, 360.0, 0.1)])
    _, truth = physical_pullback(config)
    frame = truth["frames"][0]
    assert frame["lumen_area_mm2"] == pytest.approx(np.pi * 1.3**2, rel=1e-3)
    assert frame["calcium_arc_deg"] == 360.0
    assert truth["lesions"][0]["has_360"] and truth["lesions"][0]["score_items"]["superficial_360"]


def test_radii_pulse_with_the_heart():
    # 60 /min at 30 frames/s: a 30-frame cycle, peak contraction at frame 7.5 (phase 0.25)
    config = small(n_frames=31, heart_rate_bpm=60.0, cardiac_amplitude=0.04)
    _, truth = physical_pullback(config)
    vessel = [f["vessel_area_mm2"] for f in truth["frames"]]
    assert vessel[0] == vessel[15] == vessel[30] == pytest.approx(np.pi * 1.9**2)
    squeeze = 0.5 * (1 - np.cos(2 * np.pi * (7 / 30) / 0.5))  # frame 7
    assert vessel[7] == pytest.approx(np.pi * (1.9 * (1 - 0.04 * squeeze)) ** 2)
    assert truth["frames"][7]["lumen_area_mm2"] == pytest.approx(
        np.pi * (1.3 * (1 - 0.04 * squeeze)) ** 2, rel=1e-3
    )


def test_nodule_takes_its_lens_out_of_the_lumen():
    rn, protrusion, r_l = 0.4, 0.3, 1.3
    nodule = {"kind": "nodule", "start_mm": 0.0, "length_mm": 0.8, "angle_deg": 90.0,
              "radius_mm": rn, "protrusion_mm": protrusion, "surface_db": 24.0}  # fmt: skip
    _, truth = physical_pullback(small(lesions=[nodule]))
    d = r_l + rn - protrusion  # disc centre from the lumen centre
    a1 = r_l**2 * np.arccos((d**2 + r_l**2 - rn**2) / (2 * d * r_l))
    a2 = rn**2 * np.arccos((d**2 + rn**2 - r_l**2) / (2 * d * rn))
    a3 = 0.5 * np.sqrt((-d + r_l + rn) * (d + r_l - rn) * (d - r_l + rn) * (d + r_l + rn))
    frame = truth["frames"][0]
    assert frame["lumen_area_mm2"] == pytest.approx(np.pi * r_l**2 - (a1 + a2 - a3), abs=0.01)
    # about (nearly) the vessel centre the disc spans 2 asin(rn / d) degrees
    assert frame["calcium_arc_deg"] == pytest.approx(np.rad2deg(2 * np.arcsin(rn / d)), abs=2.0)
    (lesion,) = truth["lesions"]
    assert lesion["nodule"] and lesion["superficial"] and lesion["score_items"]["calcified_nodule"]


def frames_of(arcs, superficial_arcs, diameter=3.2, dz=0.1):
    return [
        {"position_mm": k * dz, "calcium_arc_deg": a, "superficial_arc_deg": s,
         "vessel_diameter_mm": diameter}
        for k, (a, s) in enumerate(zip(arcs, superficial_arcs, strict=True))
    ]  # fmt: skip


def test_score_items_follow_the_review():
    lesion = calcium(0.0, 10.0, 300.0, 0.2)
    # 300-degree superficial arc over 51 frames of 0.1 mm (5.1 mm > 5): the arc-length item
    long = lesion_truth(lesion, frames_of([300.0] * 51, [300.0] * 51), 0.1)
    assert long["superficial_arc_length_mm"] == pytest.approx(5.1)
    assert long["score_items"] == {"superficial_360": False, "superficial_arc_length": True,
                                   "calcified_nodule": False, "small_vessel": True}  # fmt: skip
    assert long["score"] == 2 and long["arc_grade"] == "IV"
    # exactly 5.0 mm is not "> 5 mm"; a 270-degree arc is not "> 270"
    assert not lesion_truth(lesion, frames_of([300.0] * 50, [300.0] * 50), 0.1)["score_items"][
        "superficial_arc_length"
    ]
    assert not lesion_truth(lesion, frames_of([270.0] * 60, [270.0] * 60), 0.1)["score_items"][
        "superficial_arc_length"
    ]
    # the run must be continuous: 30 + 30 frames with a gap of one frame
    split = [300.0] * 30 + [200.0] + [300.0] * 30
    assert lesion_truth(lesion, frames_of(split, split), 0.1)["superficial_arc_length_mm"] == (
        pytest.approx(3.0)
    )
    ring = lesion_truth(
        calcium(0.0, 2.0, 360.0, 0.2), frames_of([360.0] * 20, [360.0] * 20, 3.8), 0.1
    )
    assert ring["score_items"]["superficial_360"] and ring["score"] == 1
    deep = lesion_truth(
        calcium(0.0, 2.0, 360.0, 0.7), frames_of([360.0] * 20, [0.0] * 20, 3.8), 0.1
    )
    assert deep["score"] == 0 and not deep["superficial"]


@pytest.mark.parametrize(
    ("arc", "grade"),
    [
        (0.0, "0"),
        (89.9, "I"),
        (90.0, "II"),
        (179.9, "II"),
        (180.0, "III"),
        (270.0, "IV"),
        (360.0, "IV"),
    ],
)
def test_arc_grade_boundaries_are_the_reviews(arc, grade):
    assert arc_grade(arc) == grade


def test_display_puts_tissue_mid_grey_blood_dark_and_calcium_bright():
    """Console reference: plaque speckle mid-grey, blood darker (brighter at 60 than at
    20 MHz), a calcium surface near white with a shadow behind it."""
    levels = {}
    for f in (20.0, 60.0):
        config = small(frequency_mhz=f, n_frames=2, lesions=[calcium(0.0, 0.5, 90.0, 0.1, 45.0)])
        volume, truth = physical_pullback(config)
        img = volume.array[1].astype(float)
        cy, cx = truth["catheter_centre_yx_px"]
        yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
        r = np.hypot(yy - cy, xx - cx) * 0.05
        angle = np.rad2deg(np.arctan2(xx - cx, -(yy - cy))) % 360.0
        free = (angle > 180) & (angle < 330)  # no calcium, no shadow
        levels[f] = {
            "plaque": np.mean(img[free & (r > 1.4) & (r < 1.6)]),
            "blood": np.mean(img[free & (r > 0.9) & (r < 1.2)]),
            "echo": np.percentile(img[(angle > 55) & (angle < 125) & (r > 1.3) & (r < 1.55)], 95),
            "shadow": np.mean(img[(angle > 55) & (angle < 125) & (r > 1.9) & (r < 2.3)]),
            "beside": np.mean(img[free & (r > 1.9) & (r < 2.3)]),
        }
    for f, lv in levels.items():
        assert 0.3 * 255 < lv["plaque"] < 0.7 * 255, (f, lv)
        assert lv["blood"] < lv["plaque"] - 40, (f, lv)
        assert lv["echo"] > 0.85 * 255, (f, lv)
        assert lv["shadow"] < 0.5 * lv["beside"], (f, lv)
    assert levels[20.0]["blood"] < 20 < levels[60.0]["blood"]


def test_cases_vary_and_keep_clear_of_the_rules_boundaries():
    assert not set(TUNING_SEEDS) & set(HELD_OUT_SEEDS) and len(TUNING_SEEDS + HELD_OUT_SEEDS) >= 6
    configs = [physical_case(s) for s in TUNING_SEEDS + HELD_OUT_SEEDS]
    assert {c.frequency_mhz for c in configs} == {20.0, 40.0, 60.0}
    assert len({c.pixel_spacing_mm for c in configs}) >= 2
    assert max(c.gain_db for c in configs) - min(c.gain_db for c in configs) > 6.0
    calcium_lesions = [les for c in configs for les in c.lesions if les["kind"] == "calcium"]
    arcs = [les["arc_deg"] for les in calcium_lesions]
    assert min(arcs) < 60 and 360.0 in arcs
    for arc in arcs:
        assert all(abs(arc - b) >= 8.0 for b in (90.0, 180.0, 270.0)), arc
    assert any(les["depth_fraction"] < 0.5 for les in calcium_lesions)
    assert any(les["depth_fraction"] > 0.5 for les in calcium_lesions)
    for les in calcium_lesions:
        assert abs(les["length_mm"] - 5.0) >= 0.9 and abs(les["depth_fraction"] - 0.5) >= 0.15
    assert any(les["kind"] == "nodule" for c in configs for les in c.lesions)
    assert any(c.side_branches for c in configs) and all(c.wire for c in configs)
    assert any(les["kind"] == "fibrous" for c in configs for les in c.lesions)
    for c in configs:
        smallest = 2 * min(c.eem_radius_mm) * (1 - c.cardiac_amplitude)
        assert 2 * max(c.eem_radius_mm) <= 3.3 or smallest >= 3.7, c.seed
        assert min(c.lumen_radius_mm) >= 0.9


def test_fibrous_plaque_is_bright_without_shadow_and_not_calcium():
    fibrous = {"kind": "fibrous", "start_mm": 0.0, "length_mm": 0.5, "start_angle_deg": 45.0,
               "arc_deg": 90.0, "depth_fraction": 0.1, "thickness_mm": 0.25, "echo_db": 14.0}  # fmt: skip
    volume, truth = physical_pullback(small(n_frames=2, lesions=[fibrous]))
    assert truth["lesions"] == [] and truth["frames"][1]["calcium_arc_deg"] == 0.0
    img = volume.array[1].astype(float)
    cy, cx = truth["catheter_centre_yx_px"]
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    r = np.hypot(yy - cy, xx - cx) * 0.05
    angle = np.rad2deg(np.arctan2(xx - cx, -(yy - cy))) % 360.0
    on, free = (angle > 55) & (angle < 125), (angle > 180) & (angle < 330)
    assert (
        np.mean(img[on & (r > 1.35) & (r < 1.55)])
        > np.mean(img[free & (r > 1.35) & (r < 1.55)]) + 30
    )
    behind, beside = (
        np.mean(img[on & (r > 1.9) & (r < 2.3)]),
        np.mean(img[free & (r > 1.9) & (r < 2.3)]),
    )
    assert 0.7 * beside < behind < 1.5 * beside
