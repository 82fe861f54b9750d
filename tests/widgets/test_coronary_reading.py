"""The coronary reading loop in a real viewer: click with any layer selected, hotkeys,
undo from another layer, HU in the status bar, the legend, a refusal clears the tables."""

from types import SimpleNamespace

import numpy as np
from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks
from qtpy.QtCore import Qt

from napari_calcium.phantoms.coronary import PIXEL_MM
from napari_calcium.widgets.coronary import ARTERIES, CANDIDATES, LESIONS
from tests.widgets.coronary_reading import TIMEOUT_MS, lesion_world

LAD_450 = 30 * PIXEL_MM**2 * 4 * 2  # 6 x 5 pixels at 450 HU (x4) on two 3-mm slices


class ReadOnlyWrapper:
    """The event a drag generator holds: napari swaps ``__wrapped__`` as the mouse moves."""

    def __init__(self, event):
        self.__wrapped__ = event

    def __getattr__(self, name):
        return getattr(self.__wrapped__, name)


def mouse(**fields):
    """A mouse event with the fields napari's own viewer callbacks read."""
    defaults = {"button": 1, "modifiers": (), "pos": (0, 0), "is_dragging": False}
    defaults.update(dims_displayed=[1, 2], view_direction=None, handled=False)
    return SimpleNamespace(**{**defaults, **fields})


def click(viewer, world_zyx):
    """A press and a release at one point, through napari's own callback machinery."""
    press = mouse(type="mouse_press", button=1, position=tuple(world_zyx))
    mouse_press_callbacks(viewer, ReadOnlyWrapper(press))
    release = mouse(type="mouse_release", button=1, position=tuple(world_zyx))
    mouse_release_callbacks(viewer, release)


def test_click_assigns_with_the_ct_selected_and_hotkeys_choose(scoring, qtbot):
    viewer, widget, ct, _, truth = scoring
    viewer.layers.selection.active = viewer.layers["phantom CT"]
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)  # Alt+2: LAD
    assert widget.artery.currentText() == "LAD"
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        click(viewer, lesion_world(truth, "LAD", 450))
    assert blocker.args[0]["per_artery"]["LAD"]["agatston"] == LAD_450
    assert np.count_nonzero(viewer.layers[ARTERIES].data == 2) == 30 * 2

    # Alt+4 (RCA) and a click with the lesions layer selected
    viewer.layers.selection.active = viewer.layers[LESIONS]
    qtbot.keyClick(canvas, Qt.Key.Key_4, Qt.KeyboardModifier.AltModifier)
    assert widget.artery.currentText() == "RCA"
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        click(viewer, lesion_world(truth, "RCA", 600))
    assert blocker.args[0]["per_artery"]["RCA"]["agatston"] == 48 * PIXEL_MM**2 * 4 * 3

    # a press, a move and a release is a pan, not a click
    lad = lesion_world(truth, "LAD", 450)
    qtbot.keyClick(canvas, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)  # exclude
    press = mouse(type="mouse_press", button=1, position=tuple(lad))
    mouse_press_callbacks(viewer, ReadOnlyWrapper(press))
    moving = SimpleNamespace(
        type="mouse_move", button=1, position=tuple(lad + 1), is_dragging=True
    )
    from napari.utils.interactions import mouse_move_callbacks

    mouse_move_callbacks(viewer, moving)
    mouse_release_callbacks(viewer, mouse(type="mouse_release", position=tuple(lad)))
    assert np.count_nonzero(viewer.layers[ARTERIES].data == 2) == 30 * 2

    # painting on the arteries layer paints; it does not assign
    arteries = viewer.layers[ARTERIES]
    viewer.layers.selection.active = arteries
    arteries.mode = "paint"
    click(viewer, lad)
    assert np.count_nonzero(arteries.data == 2) == 30 * 2


def test_undo_and_redo_from_another_layer(scoring, qtbot):
    viewer, widget, _, _, truth = scoring
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.assign_at(lesion_world(truth, "LAD", 450), artery="LAD")
    canvas = viewer.window._qt_viewer.canvas.native
    for layer in ("phantom CT", CANDIDATES):
        viewer.layers.selection.active = viewer.layers[layer]
        with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
            qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        assert blocker.args[0]["per_artery"]["LAD"]["agatston"] == 0
        modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
            qtbot.keyClick(canvas, Qt.Key.Key_Z, modifiers)
        assert blocker.args[0]["per_artery"]["LAD"]["agatston"] == LAD_450


def test_status_bar_shows_hu_and_the_legend_names_the_keys(scoring):
    viewer, widget, ct, _, truth = scoring
    lesion = next(t for t in truth["lesions"] if t["artery"] == "LAD" and t["hu"] == 450)
    viewer.layers.selection.active = viewer.layers[CANDIDATES]
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(lesion_world(truth, "LAD", 450))
    viewer.update_status_from_cursor()
    status = viewer.status if isinstance(viewer.status, str) else viewer.status["coordinates"]
    assert "CT 450 HU" in status or f"CT {lesion['hu']}" in status
    legend = widget.legend.text()
    for name, key in (("LM", 1), ("LAD", 2), ("LCX", 3), ("RCA", 4)):
        assert f"{name} (Alt+{key})" in legend
    assert "#3cb44b" in legend  # the LAD colour of the arteries layer


def test_a_refused_threshold_clears_the_tables(scoring, qtbot):
    _, widget, _, _, truth = scoring
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.assign_at(lesion_world(truth, "LAD", 450), artery="LAD")
    assert widget.summary.rowCount() > 0
    widget.threshold.setValue(250.0)  # above the weight-2 edge (200 HU): refused
    qtbot.waitUntil(lambda: widget.status.text().startswith("error"), timeout=TIMEOUT_MS)
    assert widget.summary.rowCount() == 0 and widget.lesion_table.rowCount() == 0
    assert widget.report is None
