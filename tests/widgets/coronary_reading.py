"""Shared pieces of the coronary widget tests: the scored viewer and table readers."""

import numpy as np
import pytest

from napari_calcium.phantoms.coronary import coronary_ct
from napari_calcium.widgets.coronary import CoronaryWidget
from napari_calcium.widgets.layers import image_tuple

TIMEOUT_MS = 20000


def summary(widget) -> dict[str, str]:
    """Artery -> Agatston cell text of the summary table."""
    table = widget.summary
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def reported(agatston: float) -> str:
    """Agatston as reported clinically: the integer, rounded half up."""
    return str(int(np.floor(agatston + 0.5)))


def lesion_world(truth, artery, hu):
    """World point (z, y, x mm) at the centre of the phantom lesion of that artery and HU."""
    lesion = next(t for t in truth["lesions"] if t["artery"] == artery and t["hu"] == hu)
    return np.asarray(lesion["centroid_mm"][::-1])


def open_in_widget(viewer, qtbot, ct, name: str) -> CoronaryWidget:
    """Add ``ct`` to the viewer, dock the widget, show the candidates and wait for the
    first scoring (nothing assigned yet)."""
    data, kwargs, _ = image_tuple(ct, name)
    viewer.add_image(data, **kwargs)
    widget = CoronaryWidget(viewer)
    viewer.window.add_dock_widget(widget)
    with qtbot.waitSignal(widget.candidates_ready, timeout=TIMEOUT_MS):
        widget.show_candidates()
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        pass
    return widget


@pytest.fixture
def scoring(make_napari_viewer, qtbot):
    """A viewer with the 3-mm phantom CT and the docked widget, candidates shown and
    the first scoring (nothing assigned yet) done."""
    viewer = make_napari_viewer()
    ct, arteries, truth = coronary_ct(3.0)
    widget = open_in_widget(viewer, qtbot, ct, "phantom CT")
    return viewer, widget, ct, arteries, truth
