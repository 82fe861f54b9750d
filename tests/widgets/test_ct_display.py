"""CT display in a real viewer: CT NIfTI opened as CT, right-drag window / level in HU."""

import numpy as np
import pytest

from napari_calcium import read, write

from .mouse import drag


@pytest.fixture
def ct_viewer(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    ct, arteries = viewer.open_sample("napari-calcium", "coronary_ct")
    return viewer, ct, arteries


def _canvas(viewer):
    return viewer.window._qt_viewer.canvas.native


def test_right_drag_sets_window_and_level_in_hu(ct_viewer, qtbot):
    viewer, ct, arteries = ct_viewer
    camera = viewer.scene.camera
    zoom = camera.zoom
    viewer.layers.selection.active = arteries  # the CT is windowed whichever layer is selected
    assert tuple(ct.contrast_limits) == (-450.0, 1050.0)  # calcium window W 1500 / L 300
    # 200 px right doubles the width; 100 px down raises the level by 100/400 of W 1500
    drag(qtbot, _canvas(viewer), (100, 100), (300, 200), button="right")
    width, level = 1500 * 2.0, 300 + 1500 * 100 / 400
    np.testing.assert_allclose(ct.contrast_limits, (level - width / 2, level + width / 2))
    assert "W 3000 / L 675 HU" in str(viewer.status)
    assert camera.zoom == zoom and camera.mouse_pan  # no zoom during the drag, pan back after
    # 100 px left halves the width back by a factor sqrt(2); 200 px up lowers the level
    drag(qtbot, _canvas(viewer), (300, 200), (200, 0), button="right")
    width2, level2 = width / np.sqrt(2), level - width * 200 / 400
    np.testing.assert_allclose(ct.contrast_limits, (level2 - width2 / 2, level2 + width2 / 2))


def test_right_drag_without_a_ct_keeps_napari_zoom(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    flair = viewer.open_sample("napari-calcium", "brain_flair_swi")[0]
    limits = tuple(flair.contrast_limits)
    from napari_calcium.widgets.layers import enable_window_level

    enable_window_level(viewer)
    zoom = viewer.scene.camera.zoom
    drag(qtbot, _canvas(viewer), (100, 100), (100, 250), button="right")
    assert tuple(flair.contrast_limits) == limits
    assert viewer.scene.camera.zoom != zoom  # vispy's right-drag zoom, as before


def test_ct_nifti_opens_as_ct_with_the_ct_window(make_napari_viewer, tmp_path):
    from napari.utils.notifications import notification_manager

    messages = []
    notification_manager.notification_ready.connect(lambda n: messages.append(str(n.message)))
    ct = read("sample_data/coronary-ct/ct")
    path = write(ct, tmp_path / "ct.nii.gz")  # NIfTI has no modality
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin="napari-calcium")
    assert layer.name == "ct (CT)"
    assert layer.metadata["napari_calcium"]["modality"] == "CT"
    assert layer.metadata["napari_calcium"]["units"] == "HU"
    assert tuple(layer.contrast_limits) == (-450.0, 1050.0)
    assert any("opened as CT (HU)" in m for m in messages)
