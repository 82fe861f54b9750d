"""Docks fit the screen: a long result, or a widget's real run, cannot widen or heighten
the main window."""

import pytest
from qtpy.QtWidgets import QApplication, QLabel, QScrollArea

from napari_calcium.widgets.batch import BatchWidget
from napari_calcium.widgets.coronary import CoronaryWidget
from napari_calcium.widgets.dock import SCROLL_NAME
from napari_calcium.widgets.intracranial import IntracranialWidget
from napari_calcium.widgets.ivus import IvusWidget
from napari_calcium.widgets.registration import RegistrationWidget
from napari_calcium.widgets.svd import SvdWidget
from tests.widgets.widget_runs import RUNS

SCREEN = (1366, 768)
WIDGETS = (
    BatchWidget,
    CoronaryWidget,
    IntracranialWidget,
    IvusWidget,
    RegistrationWidget,
    SvdWidget,
)


@pytest.mark.parametrize("widget_class", WIDGETS, ids=lambda c: c.__name__)
def test_long_labels_wrap_inside_a_scroll_area(make_napari_viewer, widget_class):
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*SCREEN)
    widget = widget_class(viewer)
    viewer.window.add_dock_widget(widget)
    native = getattr(widget, "native", widget)
    assert isinstance(native.findChild(QScrollArea, SCROLL_NAME), QScrollArea)
    labels = native.findChildren(QLabel)
    assert labels and all(label.wordWrap() for label in labels)
    # a one-line result of ~3000 px (words) and a 400-character token, as IVUS results were
    for label in labels:
        label.setText("score " * 500 + "x" * 400)
    QApplication.processEvents()
    assert window.width() <= SCREEN[0] and window.height() <= SCREEN[1]


@pytest.mark.parametrize("name", list(RUNS))
def test_window_fits_the_screen_after_each_widget_runs(make_napari_viewer, qtbot, tmp_path, name):
    """Each widget docked from the Plugins menu and run for real on a phantom in a
    1366 x 768 main window: after the run (tables, reports, new layers) the window is
    still no wider or taller than the screen."""
    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(*SCREEN)
    QApplication.processEvents()
    assert (window.width(), window.height()) == SCREEN

    def wait(condition, seconds):
        qtbot.waitUntil(condition, timeout=int(seconds * 1000))

    widget = RUNS[name](viewer, wait, tmp_path)
    assert widget is not None
    qtbot.wait(300)  # let the docks lay out the results (one processEvents is not enough)
    assert window.width() <= SCREEN[0] and window.height() <= SCREEN[1], (
        f"{name}: {window.width()} x {window.height()}"
    )
    # the dock's content fits its width: no button or field is cut off on the right
    native = getattr(widget, "native", widget)
    scroll = native.findChild(QScrollArea, SCROLL_NAME)
    content, shown = (native, native) if scroll is None else (scroll.widget(), scroll.viewport())
    needed = content.minimumSizeHint().width()
    assert needed <= shown.width(), f"{name}: {needed} px wide in {shown.width()} px"
    if name == "ivus":
        _plots_are_readable(widget._figure)


def _plots_are_readable(figure):
    """The pullback plots at their dock's size: each plot's ticks, labels and title
    inside the figure and clear of the others' (tight layout could be applied)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Tight layout not applied" fails
        figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes]
    assert len(boxes) == 3
    width, height = figure.canvas.get_width_height()
    for k, box in enumerate(boxes):
        assert 0 <= box.x0 < box.x1 <= width and 0 <= box.y0 < box.y1 <= height, box
        for other in boxes[k + 1 :]:
            assert not box.overlaps(other), (box, other)
