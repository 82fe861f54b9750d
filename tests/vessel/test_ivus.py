"""IVUS analysis against phantom pullbacks whose geometry is known by construction.

Phantoms run at 1 mm/s and 15 frames/s (frame spacing 1/15 mm) on 128 px frames of
0.05 mm, so a 10 mm pullback is 150 frames.
"""

import numpy as np
import pytest

from napari_calcium.errors import InputError
from napari_calcium.phantoms.ivus import arc_grade, ivus_pullback
from napari_calcium.vessel.ivus import (
    IvusSettings,
    analyse_pullback,
    calcium_mask,
    measure,
    pullback_volume,
    run_ivus,
)
from napari_calcium.vessel.polar import PolarGrid, polygon_area

SPEED_MM_S, RATE_HZ = 1.0, 15.0
DZ_MM = SPEED_MM_S / RATE_HZ

SEVERE = [  # small vessel (EEM diameter 3.2-3.4 mm): 360 deg superficial; 300 deg over 5.5 mm
    {"kind": "calcium", "start_mm": 1.0, "length_mm": 1.5, "start_angle_deg": 0.0,
     "arc_deg": 360.0, "depth_fraction": 0.2, "reverberation": True},
    {"kind": "calcium", "start_mm": 3.5, "length_mm": 5.5, "start_angle_deg": 40.0,
     "arc_deg": 300.0, "depth_fraction": 0.2, "reverberation": False},
]  # fmt: skip
MIXED = [  # large vessel: deep 120, superficial 30 with reverberations, nodule, fibrous, deep 200
    {"kind": "calcium", "start_mm": 0.8, "length_mm": 2.0, "start_angle_deg": 100.0,
     "arc_deg": 120.0, "depth_fraction": 0.75, "reverberation": False},
    {"kind": "calcium", "start_mm": 3.8, "length_mm": 1.0, "start_angle_deg": 300.0,
     "arc_deg": 30.0, "depth_fraction": 0.2, "reverberation": True},
    {"kind": "fibrous", "start_mm": 5.0, "length_mm": 2.5, "start_angle_deg": 20.0,
     "arc_deg": 60.0, "depth_fraction": 0.3},
    {"kind": "nodule", "start_mm": 5.8, "length_mm": 0.8, "angle_deg": 200.0,
     "radius_mm": 0.45, "protrusion_mm": 0.35},
    {"kind": "calcium", "start_mm": 7.8, "length_mm": 1.5, "start_angle_deg": 200.0,
     "arc_deg": 200.0, "depth_fraction": 0.7, "reverberation": True},
]  # fmt: skip
MODERATE = [  # mid-size vessel: superficial 250 deg over 6 mm (score item 2 not met), deep 90
    {"kind": "calcium", "start_mm": 1.0, "length_mm": 6.0, "start_angle_deg": 180.0,
     "arc_deg": 250.0, "depth_fraction": 0.3, "reverberation": True},
    {"kind": "calcium", "start_mm": 8.0, "length_mm": 1.2, "start_angle_deg": 10.0,
     "arc_deg": 90.0, "depth_fraction": 0.8, "reverberation": False},
]  # fmt: skip

PHANTOMS = {
    "severe": {"lesions": SEVERE, "lumen_radius_mm": (1.35, 1.25), "eem_radius_mm": (1.7, 1.6), "seed": 1},
    "mixed": {"lesions": MIXED, "lumen_radius_mm": (1.6, 1.5), "eem_radius_mm": (2.3, 2.2), "seed": 2},
    "moderate": {"lesions": MODERATE, "lumen_radius_mm": (1.5, 1.4), "eem_radius_mm": (1.95, 1.85),
                     "vessel_offset_mm": (-0.1, 0.15), "seed": 3},
}  # fmt: skip


def make(name, **extra):
    kwargs = {
        "n_frames": 150,
        "size": 128,
        "pullback_speed_mm_s": SPEED_MM_S,
        "frame_rate_hz": RATE_HZ,
    }
    kwargs.update(PHANTOMS[name])
    kwargs.update(extra)
    return ivus_pullback(**kwargs)


@pytest.fixture(scope="module", params=sorted(PHANTOMS))
def analysed(request):
    volume, truth = make(request.param)
    kept = []
    result = run_ivus(volume, analysis_out=kept)
    return request.param, volume, truth, result, kept[0]


def test_frame_measurements_match_the_phantom(analysed):
    name, _, truth, result, _ = analysed
    assert result["frame_spacing_mm"] == pytest.approx(DZ_MM)
    measured, expected = result["per_frame"], truth["frames"]
    assert len(measured) == len(expected) == 150
    lumen = np.array(
        [
            m["lumen_area_mm2"] / e["lumen_area_mm2"] - 1
            for m, e in zip(measured, expected, strict=True)
        ]
    )
    vessel = np.array(
        [
            m["vessel_area_mm2"] / e["vessel_area_mm2"] - 1
            for m, e in zip(measured, expected, strict=True)
        ]
    )
    assert np.median(np.abs(lumen)) <= 0.05, name
    assert np.median(np.abs(vessel)) <= 0.05, name
    # plaque burden (EEM - lumen) / EEM, from the phantom's areas
    burden_err = [
        m["plaque_burden_percent"] - 100 * (1 - e["lumen_area_mm2"] / e["vessel_area_mm2"])
        for m, e in zip(measured, expected, strict=True)
    ]
    assert np.median(np.abs(burden_err)) <= 3.0, name
    # vessel (EEM) diameters of the phantom's circles: min = max = mean = 2 R
    diam_err = [
        m["vessel_diameter_mean_mm"] - e["vessel_diameter_mm"]
        for m, e in zip(measured, expected, strict=True)
    ]
    assert np.median(np.abs(diam_err)) <= 0.08, name
    calcified = [
        (m, e) for m, e in zip(measured, expected, strict=True) if e["calcium_arc_deg"] > 0
    ]
    arc_err = [abs(m["calcium_arc_deg"] - e["calcium_arc_deg"]) for m, e in calcified]
    assert np.median(arc_err) <= 10.0, name
    right = [m["superficial"] == e["superficial"] for m, e in calcified]
    assert np.mean(right) >= 0.95, name
    # no calcium where the phantom has none (including the fibrous echo without shadow)
    clean = [
        m["calcium_arc_deg"]
        for m, e in zip(measured, expected, strict=True)
        if e["calcium_arc_deg"] == 0
    ]
    assert np.mean(np.array(clean) > 0) <= 0.02, name


def test_lesions_and_score_match_the_phantom(analysed):
    name, _, truth, result, analysis = analysed
    found, expected = result["lesions"], truth["lesions"]
    assert len(found) == len(expected), name
    for lesion, true in zip(found, expected, strict=True):
        assert abs(lesion["start_mm"] - true["start_mm"]) <= 0.5
        assert abs(lesion["length_mm"] - true["length_mm"]) <= 0.5
        assert abs(lesion["max_arc_deg"] - true["max_arc_deg"]) <= 10.0
        # the truth grade follows the review (I < 90); an arc drawn on a boundary (the
        # moderate pullback's 90 degrees) may be measured a degree either side of it
        near = {arc_grade(true["max_arc_deg"] + d) for d in (-1.0, 0.0, 1.0)}
        assert lesion["arc_grade"] in near
        assert lesion["superficial"] == true["superficial"]
        assert lesion["full_circle"] == true["has_360"]
        assert lesion["nodule_candidate"] == true["nodule"]
        assert lesion["vessel_diameter_mm"] == pytest.approx(true["vessel_diameter_mm"], abs=0.15)
        # a nodule candidate is shown and not counted until the reader confirms it
        items = {i["key"]: bool(i["point"]) for i in lesion["ivus_calcium_score"]["items"]}
        assert not items["calcified_nodule"] and lesion["nodule_confirmed"] is None
    # the reader confirms every candidate: the score items are the construction's
    for lesion in found:
        if lesion["nodule_candidate"]:
            analysis.nodule_decisions[lesion["max_arc_frame"]] = True
    confirmed = measure(analysis)
    analysis.nodule_decisions.clear()
    for lesion, true in zip(confirmed["lesions"], expected, strict=True):
        items = {i["key"]: bool(i["point"]) for i in lesion["ivus_calcium_score"]["items"]}
        assert items == true["score_items"], (name, lesion["id"])
        assert lesion["ivus_calcium_score"]["total"] == true["score"]
    result = confirmed
    best = max(t["score"] for t in expected)
    assert result["ivus_calcium_score"]["total"] == best
    assert result["ivus_calcium_score"]["high_risk_of_underexpansion"] == (best >= 2)
    assert result["guidance"]["rule"] and result["guidance"]["values"]


def test_calcium_mask_is_the_echo_not_its_reverberations(analysed):
    name, volume, truth, _, analysis = analysed
    px = analysis.pixel_spacing_mm
    thickness_mm = (analysis.calcium_end - analysis.calcium_edge) * px
    # the drawn echo is 0.1 mm thick and the first replica starts 0.25 mm behind its front
    assert np.nanmax(thickness_mm) < 0.25
    frames = [f["index"] for f in truth["frames"] if f["calcium_arc_deg"] > 0][::10]
    mask = calcium_mask(analysis, volume.shape[1:], frames).astype(bool)
    image = volume.numpy()[frames]
    # mask pixels are the bright echo (drawn at 245, speckle 0.85-1.15, blurred at its
    # borders): almost all far above plaque (95) and adventitia (160) levels
    assert mask.any() and np.mean(image[mask] >= 120) >= 0.9


def test_angles_are_clockwise_from_twelve_o_clock():
    # one 40-degree calcium centred at 3 o'clock (70-110 deg), vessel centred on the catheter
    lesion = {"kind": "calcium", "start_mm": 1.0, "length_mm": 1.0, "start_angle_deg": 70.0,
              "arc_deg": 40.0, "depth_fraction": 0.3, "reverberation": False}  # fmt: skip
    volume, truth = ivus_pullback(
        n_frames=45, size=128, pullback_speed_mm_s=SPEED_MM_S, frame_rate_hz=RATE_HZ,
        lesions=[lesion], vessel_offset_mm=(0.0, 0.0), seed=4,
    )  # fmt: skip
    analysis = analyse_pullback(volume)
    frame = 22  # 1.47 mm, inside the lesion
    rays = np.flatnonzero(analysis.calcium_rays[frame])
    angles = analysis.grid.angles_deg[rays]
    assert angles.min() == pytest.approx(70.0, abs=4.0)
    assert angles.max() == pytest.approx(110.0, abs=4.0)


def test_gating_picks_one_end_diastolic_frame_per_cycle():
    # 75 beats/min at 15 frames/s: a cycle every 12 frames, end-diastole at 0, 12, 24 ...
    volume, truth = make("moderate", heart_rate_bpm=75.0, cardiac_amplitude=0.15)
    kept = []
    result = run_ivus(volume, gated=True, analysis_out=kept)
    analysis = kept[0]
    assert analysis.cycle_frames == pytest.approx(12.0, abs=1.0)
    expected = np.array(truth["end_diastolic_frames"])
    found = np.array(analysis.end_diastolic)
    assert abs(len(found) - len(expected)) <= 1
    nearest = np.abs(found[:, None] - expected[None, :]).min(axis=1)
    assert np.all(nearest <= 2)
    assert [r["index"] for r in result["per_frame"]] == list(found)
    # areas on the gated frames follow the pulsing phantom (radii scaled per frame)
    errors = [
        abs(r["lumen_area_mm2"] / truth["frames"][r["index"]]["lumen_area_mm2"] - 1)
        for r in result["per_frame"]
    ]
    assert np.median(errors) <= 0.05
    # lengths stay physical: the 6 mm lesion within one cycle (12 frames = 0.8 mm)
    long = max(result["lesions"], key=lambda d: d["length_mm"])
    assert long["length_mm"] == pytest.approx(6.0, abs=0.8)


def test_reader_correction_changes_the_frame_and_fades_into_neighbours():
    volume, _ = make("severe")
    analysis = analyse_pullback(volume)
    before = measure(analysis)
    frame = 60
    centre = np.array(analysis.grid.centre_yx_px)
    radius_px = 20.0  # 1.0 mm: a circle drawn by the reader about the catheter
    t = np.deg2rad(np.arange(0, 360, 2.0))
    polygon = centre + radius_px * np.stack([-np.cos(t), np.sin(t)], axis=1)
    analysis.set_contour("lumen", frame, polygon)
    after = measure(analysis)
    px2 = analysis.pixel_spacing_mm**2
    assert after["per_frame"][frame]["lumen_area_mm2"] == pytest.approx(
        polygon_area(polygon) * px2, rel=0.01
    )
    assert after["per_frame"][frame]["lumen_edited"]
    reach = int(round(analysis.settings.edit_propagation_mm / analysis.frame_spacing_mm))
    near, far = frame + reach // 2, frame + reach + 2

    def changed(i):
        return abs(
            after["per_frame"][i]["lumen_area_mm2"] - before["per_frame"][i]["lumen_area_mm2"]
        )

    assert changed(near) > 0.1
    assert changed(far) == 0.0
    # the lesion containing the frame now has the drawn lumen as its smallest lumen
    lesion = next(d for d in after["lesions"] if d["start_frame"] <= frame <= d["end_frame"])
    assert lesion["min_lumen_area_mm2"] == pytest.approx(np.pi * 1.0**2, rel=0.02)


def test_blank_frame_is_flagged_and_the_analysis_goes_on():
    volume, truth = make("severe")
    array = volume.numpy().copy()
    array[100] = 0
    result = run_ivus(volume.with_array(array))
    assert result["invalid_frames"] == [100]
    assert result["per_frame"][100]["valid"] is False
    assert result["per_frame"][100]["lumen_area_mm2"] is None
    assert any("frame 100" in m for m in result["messages"])
    assert len(result["lesions"]) == len(truth["lesions"])  # the gap of one frame is bridged


def test_rgb_frames_are_converted_with_a_message():
    volume, _ = make("severe", n_frames=30, lesions=[])
    grey = volume.numpy()
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    messages = []
    converted = pullback_volume(rgb, 0.05, SPEED_MM_S, RATE_HZ, messages)
    assert converted.shape == grey.shape
    assert np.array_equal(converted.numpy(), grey)
    assert any("RGB" in m for m in messages)
    result = run_ivus(converted, messages=messages)
    assert any("RGB" in m for m in result["messages"])


def test_missing_speed_or_frame_rate_is_asked_for_not_guessed():
    volume, _ = make("severe", n_frames=20, lesions=[])
    unknown = pullback_volume(volume.numpy(), 0.05, None, None)
    with pytest.raises(InputError, match="pullback speed and frame rate are unknown") as err:
        run_ivus(unknown)
    assert "--pullback-speed" in str(err.value) and "--frame-rate" in str(err.value)


def test_frames_of_different_sizes_are_refused():
    frames = [np.zeros((128, 128), np.uint8), np.zeros((120, 128), np.uint8)]
    with pytest.raises(InputError, match="different sizes"):
        pullback_volume(frames, 0.05, SPEED_MM_S, RATE_HZ)


def test_implausible_pixel_size_is_refused():
    volume, _ = make("severe", n_frames=20, lesions=[])
    with pytest.raises(InputError, match="pixel size"):
        run_ivus(volume.with_pullback(pixel_spacing_mm=1.0))


def test_settings_are_recorded_and_validated(analysed):
    _, _, _, result, _ = analysed
    assert result["settings"]["score_arc_inclusive"] is False
    assert result["settings"]["superficial_fraction"] == 0.5
    assert "clockwise from 12 o'clock" in result["angle_convention"]
    with pytest.raises(InputError):
        IvusSettings.from_dict({"no_such_setting": 1})


def test_polar_grid_samples_rays_clockwise_from_twelve():
    frame = np.zeros((1, 41, 41), np.float32)
    frame[0, 20, 30] = 1.0  # 10 px to the right of the centre: 3 o'clock = 90 deg
    grid = PolarGrid((20.0, 20.0), 360, 15, 1.0)
    polar = grid.sample(frame)[0]
    assert polar[90, 10] == pytest.approx(1.0)
    assert polar[270, 10] == 0.0


def test_sample_pullback_is_small_and_analysable():
    from napari_calcium.phantoms.ivus import ivus_sample

    volume, truth = ivus_sample()
    assert volume.shape == (150, 256, 256) and volume.array.dtype == np.uint8
    result = run_ivus(volume)
    assert len(result["lesions"]) == len(truth["lesions"]) == 3
    nodule = [d for d in result["lesions"] if d["nodule_candidate"]]
    assert len(nodule) == 1 and truth["lesions"][1]["nodule"]
    assert abs(nodule[0]["start_mm"] - truth["lesions"][1]["start_mm"]) <= 0.5


def test_catheter_centre_is_detected_or_taken_from_the_reader():
    volume, truth = make("severe", n_frames=20, lesions=[])
    detected = run_ivus(volume)["catheter_centre_yx_px"]
    assert detected == pytest.approx(truth["catheter_centre_yx_px"], abs=0.5)
    given = run_ivus(volume, {"catheter_centre_yx_px": [62.0, 65.0]})
    assert given["catheter_centre_yx_px"] == [62.0, 65.0]
    assert given["settings"]["catheter_centre_yx_px"] == [62.0, 65.0]


def test_arc_centre_lumen_centroid_or_catheter():
    # a 60-degree sector (60-120 deg, 3 o'clock) about a vessel centre 0.3 mm left of the
    # catheter (nearer the sector); its leading edge circle has radius R_L + 0.3 (R_E - R_L)
    lesion = {"kind": "calcium", "start_mm": 0.5, "length_mm": 1.0, "start_angle_deg": 60.0,
              "arc_deg": 60.0, "depth_fraction": 0.3, "reverberation": False}  # fmt: skip
    kwargs = {"n_frames": 30, "size": 128, "pullback_speed_mm_s": SPEED_MM_S,
              "frame_rate_hz": RATE_HZ, "lesions": [lesion], "vessel_offset_mm": (0.0, -0.3),
              "lumen_radius_mm": (1.4, 1.4), "eem_radius_mm": (1.9, 1.9), "seed": 9}  # fmt: skip
    volume, truth = ivus_pullback(**kwargs)
    r_c = 1.4 + 0.3 * 0.5
    ends = [
        np.array([0.0, -0.3]) + r_c * np.array([-np.cos(t), np.sin(t)])
        for t in np.deg2rad([60, 120])
    ]
    seen = [np.rad2deg(np.arctan2(p[1], -p[0])) for p in ends]  # from the catheter at (0, 0)
    catheter_arc = seen[1] - seen[0]  # about 73 deg: the catheter is nearer the sector
    frames = range(10, 20)  # 0.67-1.27 mm, inside the lesion
    about_lumen = run_ivus(volume)["per_frame"]
    about_catheter = run_ivus(volume, {"arc_centre": "catheter"})
    assert "about the catheter" in about_catheter["angle_convention"]
    assert np.median([about_lumen[i]["calcium_arc_deg"] for i in frames]) == pytest.approx(
        60.0, abs=3.0
    )
    measured = np.median([about_catheter["per_frame"][i]["calcium_arc_deg"] for i in frames])
    assert measured == pytest.approx(catheter_arc, abs=3.0)
    assert catheter_arc > 70.0


def test_superficial_tie_rule_is_a_parameter():
    from napari_calcium.vessel.ivus import _superficial

    depth = np.array([0.3, 0.5, 0.7])
    assert list(_superficial(depth, IvusSettings())) == [True, False, False]  # 0.5 -> deep
    tie_superficial = IvusSettings(superficial_tie="superficial")
    assert list(_superficial(depth, tie_superficial)) == [True, True, False]
    assert list(_superficial(depth, IvusSettings(superficial_fraction=0.75))) == [True, True, True]


def test_longitudinal_view_is_the_cut_through_the_catheter():
    from napari_calcium.vessel.ivus import longitudinal_view

    volume, _ = ivus_pullback(n_frames=6, size=129, lesions=[], seed=10)  # catheter at (64, 64)
    frames = volume.numpy()
    up = longitudinal_view(volume, (64.0, 64.0), 0.0)  # from 6 o'clock through 12 o'clock
    assert up.shape == (6, 129)
    # column j lies (j - 64) px from the catheter towards 12 o'clock: row 64 - (j - 64)
    assert np.allclose(up, frames[:, ::-1, 64])
    right = longitudinal_view(volume, (64.0, 64.0), 90.0)  # towards 3 o'clock = +x
    assert np.allclose(right, frames[:, 64, :])


def test_reference_frames_found_automatically_and_editable():
    volume, truth = make("moderate")
    analysis = analyse_pullback(volume)
    result = measure(analysis)
    rows = result["per_frame"]
    lesion = result["lesions"][0]  # 1-7 mm; frames before it are distal, after proximal
    distal, proximal = lesion["distal_reference_frame"], lesion["proximal_reference_frame"]
    # the largest lumen among calcium-free frames within 10 mm on each side
    calcium_free = [r for r in rows if r["calcium_arc_deg"] < 5.0]
    before = [r for r in calcium_free if r["index"] < lesion["start_frame"]]
    after = [
        r
        for r in calcium_free
        if lesion["end_frame"] < r["index"] < result["lesions"][1]["start_frame"]
    ]
    assert distal == max(before, key=lambda r: r["lumen_area_mm2"])["index"]
    assert proximal == max(after, key=lambda r: r["lumen_area_mm2"])["index"]
    assert lesion["reference_vessel_diameter_mm"] == pytest.approx(
        (rows[distal]["vessel_diameter_mean_mm"] + rows[proximal]["vessel_diameter_mean_mm"]) / 2
    )
    assert lesion["reference_source"] == "automatic"
    # the reader picks other reference frames: the IVL size check follows them
    analysis.reference_edits[lesion["max_arc_frame"]] = (2, None)
    edited = measure(analysis)["lesions"][0]
    assert edited["reference_source"] == "reader"
    assert (edited["distal_reference_frame"], edited["proximal_reference_frame"]) == (2, None)
    assert edited["reference_vessel_diameter_mm"] == rows[2]["vessel_diameter_mean_mm"]
    assert edited["guidance"]["values"]["vessel_diameter_source"] == "reference"
