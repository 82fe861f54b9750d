"""The IVUS widget in a real napari viewer: analyse, correct a lumen contour, see it count."""

import numpy as np
import pytest

from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.vessel.polar import polygon_area
from napari_calcium.widgets.ivus import IvusWidget
from napari_calcium.widgets.layers import image_tuple

LESION = {"kind": "calcium", "start_mm": 0.6, "length_mm": 1.2, "start_angle_deg": 60.0,
          "arc_deg": 200.0, "depth_fraction": 0.6, "reverberation": False}  # fmt: skip


def phantom(lesion):
    """A 30-frame phantom pullback at 1 mm/s and 15 frames/s with ``lesion``."""
    return ivus_pullback(
        n_frames=30,
        size=128,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=15.0,
        lesions=[lesion],
        seed=7,
    )


def analysed(viewer, qtbot, lesion):
    """The :func:`phantom` with ``lesion``, analysed by the widget."""
    volume, truth = phantom(lesion)
    data, kwargs, _ = image_tuple(volume, name="pullback")
    viewer.add_image(data, **kwargs)
    w = IvusWidget(viewer)
    viewer.window.add_dock_widget(w, name="IVUS")
    assert w.speed.value == 1.0 and w.frame_rate.value == 15.0 and w.pixel.value == 0.05
    worker = w.run()
    qtbot.waitUntil(lambda: w.result is not None, timeout=30000)
    worker.quit()
    return viewer, w, truth


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    return analysed(make_napari_viewer(), qtbot, LESION)


def test_editing_a_lumen_contour_updates_areas_and_lesion_table(widget):
    viewer, w, truth = widget
    lumen = viewer.layers["IVUS lumen"]
    assert len(lumen.data) == 30
    assert {"IVUS EEM", "IVUS calcium", "IVUS calcium mask"} <= {
        layer.name for layer in viewer.layers
    }
    assert viewer.layers["IVUS calcium mask"].data[15].any()
    (lesion,) = w.result["lesions"]
    frame = 15  # 1.0 mm: inside the lesion (frames 9-26)
    before_area = w.result["per_frame"][frame]["lumen_area_mm2"]
    before_depth = w.result["per_frame"][frame]["calcium_depth_fraction"]
    assert before_area == pytest.approx(truth["frames"][frame]["lumen_area_mm2"], rel=0.05)
    assert w.table.to_dict("list")["min_lumen_area_mm2"][0] == pytest.approx(
        lesion["min_lumen_area_mm2"]
    )
    assert w.table.to_dict("list")["ivus_calcium_score"] == [lesion["ivus_calcium_score"]["total"]]
    # the reader draws a smaller lumen (radius 18 px = 0.9 mm about the catheter) on frame 15
    centre = np.array(w.analysis.grid.centre_yx_px)
    t = np.deg2rad(np.arange(0, 360, 4.0))
    yx = centre + 18.0 * np.stack([-np.cos(t), np.sin(t)], axis=1)
    data = [np.asarray(v) for v in lumen.data]
    index = next(k for k, v in enumerate(data) if round(v[:, 0].mean()) == frame)
    closed = np.vstack([yx, yx[:1]])
    data[index] = np.column_stack([np.full(len(closed), float(frame)), closed])
    lumen.data = data
    row = w.result["per_frame"][frame]
    expected = polygon_area(yx) * 0.05**2
    assert row["lumen_edited"] and row["lumen_area_mm2"] == pytest.approx(expected, rel=0.01)
    # with the lumen border moved inwards the leading edge lies deeper in plaque+media
    assert row["calcium_depth_fraction"] > before_depth
    # the lesion table now shows the drawn lumen as the lesion's smallest lumen
    assert w.table.to_dict("list")["min_lumen_area_mm2"][0] == pytest.approx(expected, rel=0.01)
    assert lumen.features["lumen_area_mm2"][index] == pytest.approx(expected, rel=0.01)
    # a neighbouring frame was re-estimated towards the correction
    assert w.result["per_frame"][frame + 2]["lumen_area_mm2"] < before_area


def test_lmode_view_plot_click_gating_and_opening_a_file(widget, tmp_path):
    viewer, w, _ = widget
    assert (w.centre_y.value, w.centre_x.value) == pytest.approx((63.5, 63.5), abs=0.5)
    # the reader's own end-diastolic frames: only those are measured
    w.gated.value = True
    w.ed_frames.value = "3, 12, 21"
    w._remeasure()
    assert [r["index"] for r in w.result["per_frame"]] == [3, 12, 21]
    w.angle.value = 90.0
    layer = w.show_lmode()
    assert layer.data.shape[0] == 30 and layer.scale[0] == pytest.approx(1.0 / 15.0)
    w.go_to_position(1.2)  # 1.2 mm at 1/15 mm per frame = frame 18
    assert viewer.dims.current_step[0] == 18
    # open a pullback file (NIfTI keeps no speed): without a speed the widget asks for it
    from napari_calcium.io import write

    small, _ = ivus_pullback(n_frames=12, size=128, lesions=[], seed=8)
    path = write(small, tmp_path / "pullback.nii.gz")
    w.file.value = path
    w.open_file()
    assert w.image.value.data.shape == (12, 128, 128)
    w.speed.value = 0.0
    assert w.run() is None
    assert "pullback speed and frame rate are unknown" in w.status.value


def test_nodule_confirm_and_reject_change_the_score(make_napari_viewer, qtbot):
    from napari_calcium.phantoms.ivus import ivus_sample

    viewer = make_napari_viewer()
    volume, truth = ivus_sample()
    data, kwargs, _ = image_tuple(volume, name="sample")
    viewer.add_image(data, **kwargs)
    w = IvusWidget(viewer)
    worker = w.run()
    qtbot.waitUntil(lambda: w.result is not None, timeout=60000)
    worker.quit()
    (nodule,) = [d for d in w.result["lesions"] if d["nodule_candidate"]]
    before = nodule["ivus_calcium_score"]["total"]
    viewer.dims.set_current_step(0, nodule["max_arc_frame"])
    w.decide_nodule(True)
    after = next(d for d in w.result["lesions"] if d["id"] == nodule["id"])
    assert after["nodule_confirmed"] is True
    assert after["ivus_calcium_score"]["total"] == before + 1
    w.decide_nodule(False)
    back = next(d for d in w.result["lesions"] if d["id"] == nodule["id"])
    assert back["nodule_confirmed"] is False and back["ivus_calcium_score"]["total"] == before


def test_reader_reference_frames_drive_the_lithotripsy_size_check_and_the_report(
    make_napari_viewer, qtbot, tmp_path
):
    # a superficial lesion is severe, so its guidance names the lithotripsy size check
    superficial = {**LESION, "depth_fraction": 0.2}
    viewer, w, _ = analysed(make_napari_viewer(), qtbot, superficial)
    (auto,) = w.result["lesions"]  # frames 9-26
    assert auto["reference_source"] == "automatic"
    viewer.dims.set_current_step(0, auto["max_arc_frame"])
    assert w.distal_ref.value == auto["distal_reference_frame"]  # shown for the lesion here
    diameters = {r["index"]: r["vessel_diameter_mean_mm"] for r in w.result["per_frame"]}
    # the reader picks frame 2 as distal reference and no proximal one
    assert auto["distal_reference_frame"] != 2 or auto["proximal_reference_frame"] is not None
    w.distal_ref.value, w.proximal_ref.value = 2, -1
    w.set_reference_frames()
    (lesion,) = w.result["lesions"]
    assert lesion["reference_source"] == "reader"
    assert (lesion["distal_reference_frame"], lesion["proximal_reference_frame"]) == (2, None)
    assert lesion["reference_vessel_diameter_mm"] == pytest.approx(diameters[2])
    values = lesion["guidance"]["values"]
    assert values["vessel_diameter_source"] == "reference"
    assert values["vessel_diameter_mm"] == pytest.approx(round(diameters[2], 2))
    assert f"reference vessel {diameters[2]:.2f} mm" in lesion["guidance"]["text"]
    assert w.result["guidance"] == lesion["guidance"]  # the pullback's guidance follows
    assert w.table.to_dict("list")["reference_vessel_diameter_mm"] == [pytest.approx(diameters[2])]
    # the report written from the widget shows the reader's choice
    page = w.write_report(tmp_path / "ivus.html").read_text()
    assert "<td>2</td><td>n/a</td><td>reader</td>" in page
    # a frame inside the lesion is refused, and nothing changes
    w.distal_ref.value = 15
    w.set_reference_frames()
    assert "outside lesion 1" in w.status.value
    assert w.result["lesions"][0]["distal_reference_frame"] == 2
    # back to the automatic reference frames
    w.set_reference_frames(auto=True)
    (back,) = w.result["lesions"]
    assert back["reference_source"] == "automatic"
    assert back["reference_vessel_diameter_mm"] == pytest.approx(
        auto["reference_vessel_diameter_mm"]
    )


def test_pullback_start_stop_frames_limit_what_the_widget_measures(
    make_napari_viewer, qtbot, tmp_path
):
    from napari_calcium.io import read, write_ultrasound_multiframe
    from napari_calcium.volume import Acquisition

    volume, _ = phantom(LESION)
    acquisition = Acquisition(pullback_speed_mm_s=1.0, frame_rate_hz=15.0,
                              pullback_start_frame=5, pullback_stop_frame=24)  # fmt: skip
    path = write_ultrasound_multiframe(volume.replace(acquisition=acquisition), tmp_path / "p.dcm")
    viewer = make_napari_viewer()
    data, kwargs, _ = image_tuple(read(path), name="pullback")
    viewer.add_image(data, **kwargs)
    w = IvusWidget(viewer)
    worker = w.run()
    qtbot.waitUntil(lambda: w.result is not None, timeout=30000)
    worker.quit()
    assert [r["index"] for r in w.result["per_frame"]] == list(range(5, 25))
    assert w.result["pullback_span"]["first"] == 5
    w.all_frames.value = True
    w._remeasure()
    assert len(w.result["per_frame"]) == 30 and w.result["pullback_span"] is None
    assert "all 30 frames were measured, as asked" in w.status.value
