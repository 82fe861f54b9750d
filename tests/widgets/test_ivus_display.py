"""IVUS display in a real viewer: borders a fixed screen width, the current-frame
marker on the plots, and the IVUS calcium score in words."""

import numpy as np
import pytest

from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.widgets.ivus import CONTOUR_COLOURS, IvusWidget
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.views import BORDER_PX

LESION = {"kind": "calcium", "start_mm": 0.6, "length_mm": 1.2, "start_angle_deg": 60.0,
          "arc_deg": 200.0, "depth_fraction": 0.6, "reverberation": False}  # fmt: skip
FRAME_RATE_HZ, SPEED_MM_S, PIXEL_MM = 15.0, 1.0, 0.05


@pytest.fixture
def analysed(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    volume, truth = ivus_pullback(
        n_frames=30, size=128, pullback_speed_mm_s=SPEED_MM_S, frame_rate_hz=FRAME_RATE_HZ,
        lesions=[LESION], seed=7,
    )  # fmt: skip
    data, kwargs, _ = image_tuple(volume, name="pullback")
    viewer.add_image(data, **kwargs)
    widget = IvusWidget(viewer)
    viewer.window.add_dock_widget(widget, name="IVUS")
    worker = widget.run()
    qtbot.waitUntil(lambda: widget.result is not None, timeout=30000)
    worker.quit()
    return viewer, widget


def _runs(mask_row):
    """Lengths of the runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], mask_row, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return edges[1::2] - edges[::2]


@pytest.mark.parametrize("zoom_factor", [1.0, 4.0])
def test_borders_are_two_screen_pixels_wide_at_any_zoom(analysed, zoom_factor):
    viewer, widget = analysed
    camera = viewer.scene.camera
    viewer.dims.set_current_step(0, 15)
    for name in ("IVUS calcium", "IVUS calcium mask", "pullback", "IVUS EEM"):
        viewer.layers[name].visible = False
    lumen = viewer.layers["IVUS lumen"]
    vertices = next(np.asarray(v) for v in lumen.data if round(np.asarray(v)[0, 0]) == 15)
    right = vertices[np.argmax(vertices[:, 2])]  # where the contour runs up and down
    camera.center = tuple(lumen.data_to_world(right)[1:])
    camera.zoom = camera.zoom * zoom_factor
    # the width in data units (image pixels of 0.05 mm) times mm per unit times screen
    # pixels per mm is 2 screen pixels
    assert lumen.edge_width[0] * PIXEL_MM * camera.zoom == pytest.approx(BORDER_PX)
    assert viewer.layers["IVUS EEM"].current_edge_width == pytest.approx(lumen.edge_width[0])
    # and what is drawn: the yellow outline crosses the rows at the centre ~2 px wide
    shot = viewer.screenshot(canvas_only=True, flash=False)
    yellow = (shot[..., 0] > 150) & (shot[..., 1] > 150) & (shot[..., 2] < 100)
    centre = shot.shape[0] // 2
    widths = np.concatenate([_runs(yellow[r]) for r in range(centre - 3, centre + 4)])
    assert len(widths) >= 7
    assert 1 <= np.median(widths) <= 3
    assert CONTOUR_COLOURS["lumen"] == "yellow"


def test_plots_mark_the_current_frame_and_follow_it(analysed):
    viewer, widget = analysed
    frame_mm = SPEED_MM_S / FRAME_RATE_HZ
    viewer.dims.set_current_step(0, 12)
    assert widget.frame_marker_mm == pytest.approx(12 * frame_mm)
    widget.go_to_position(20 * frame_mm)  # a click on a plot at 1.33 mm
    assert viewer.dims.current_step[0] == 20
    assert widget.frame_marker_mm == pytest.approx(20 * frame_mm)


def test_the_score_is_explained_in_words(analysed):
    _, widget = analysed
    score = widget.result["ivus_calcium_score"]
    text = widget.score.value
    assert text.startswith(f"IVUS calcium score {score['total']} of 4 points")
    assert "2 or more predicts stent underexpansion" in text
    # one line per item, with its point and its measured value
    lines = text.splitlines()[1:5]
    assert [line.startswith("+1") for line in lines] == [bool(i["point"]) for i in score["items"]]
    arc = score["items"][0]["measured"]["max_superficial_arc_deg"]
    assert f"maximum superficial arc {arc:g} deg" in lines[0]
    assert widget.result["guidance"]["text"] in text


def test_lmode_in_its_own_view_linked_to_the_frame_both_ways(analysed, qtbot):
    from napari_calcium.widgets.ivus import LMODE_DOCK, LMODE_LAYER

    from .mouse import click

    viewer, widget = analysed
    frame_mm = SPEED_MM_S / FRAME_RATE_HZ
    layer = widget.show_lmode()
    qtbot.wait(100)  # the dock is laid out
    assert LMODE_LAYER not in viewer.layers  # not painted over the cross-section
    view = viewer.window.dock_widgets[LMODE_DOCK]
    assert view.layers[LMODE_LAYER] is layer and layer.data.shape[0] == 30
    assert tuple(view.model.dims.displayed) == (1, 0)  # the pullback along the canvas
    viewer.dims.set_current_step(0, 7)
    assert widget.lmode_marker_mm == pytest.approx(7 * frame_mm)
    # a click on the L-mode 40 screen px right of its centre: the frame at that position,
    # from the camera (centre and screen pixels per mm along the pullback)
    native = view.qt_viewer.canvas.native
    camera = view.model.scene.camera
    pos = (native.width() / 2 + 40, native.height() / 2)
    position_mm = np.asarray(camera.center)[-1] + 40 / camera.zoom
    click(qtbot, native, pos)
    expected = int(np.clip(round(position_mm / frame_mm), 0, 29))
    assert viewer.dims.current_step[0] == expected != 7
    assert widget.lmode_marker_mm == pytest.approx(expected * frame_mm)
    # another angle replaces the L-mode in the same view
    widget.angle.value = 90.0
    widget.show_lmode()
    assert [ly.name for ly in view.layers].count(LMODE_LAYER) == 1
    assert view.layers[LMODE_LAYER].metadata["angle_deg"] == 90.0
