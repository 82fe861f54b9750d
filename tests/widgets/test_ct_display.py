"""CT and MRI display in a real viewer: CT NIfTI opened as CT, right-drag window / level
(in HU on a CT), in the main view and the linked views."""

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


def _window(layer):
    low, high = layer.contrast_limits
    return high - low, (high + low) / 2


def test_right_drag_sets_an_mri_window_and_works_in_the_linked_views(make_napari_viewer, qtbot):
    """The head sample (CT and T1 MRI): with the MRI selected a right-drag sets its window
    in its own units; a right-drag in the coronal view sets the selected CT's window in
    HU, and the side views' copies show it."""
    from napari_calcium.widgets.views import open_ortho_views

    viewer = make_napari_viewer(show=True)
    layers = viewer.open_sample("napari-calcium", "head_ct_mri")
    ct = next(layer for layer in layers if layer.name.endswith("(CT)"))
    mri = next(layer for layer in layers if layer.name.startswith("head T1 MRI"))
    viewer.layers.selection.active = mri
    ct_limits = tuple(ct.contrast_limits)
    width, level = _window(mri)
    # 200 px left halves the width; 80 px up lowers the level by 80/400 of the width
    drag(qtbot, _canvas(viewer), (300, 200), (100, 120), button="right")
    np.testing.assert_allclose(_window(mri), (width / 2, level - width * 80 / 400))
    assert tuple(ct.contrast_limits) == ct_limits  # only the selected image
    assert f"W {width / 2:.0f} / L {level - width * 80 / 400:.0f} a.u." in str(viewer.status)

    views = open_ortho_views(viewer)
    coronal = views.views["coronal"]
    qtbot.wait(100)
    viewer.layers.selection.active = ct
    zoom = coronal.model.scene.camera.zoom
    width, level = _window(ct)
    # in the coronal view: 100 px right widens by sqrt(2), 40 px down raises the level
    drag(qtbot, coronal.qt_viewer.canvas.native, (100, 100), (200, 140), button="right")
    expected = (width * np.sqrt(2), level + width * 40 / 400)
    np.testing.assert_allclose(_window(ct), expected)
    for copy in views.mirrors(ct):
        np.testing.assert_allclose(_window(copy), expected)
    assert "HU" in str(viewer.status)
    assert coronal.model.scene.camera.zoom == zoom  # the side view did not zoom


def test_right_drag_on_other_images_keeps_napari_zoom(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    (ivus,) = viewer.open_sample("napari-calcium", "ivus_pullback")
    limits = tuple(ivus.contrast_limits)
    from napari_calcium.widgets.layers import enable_window_level

    enable_window_level(viewer)
    zoom = viewer.scene.camera.zoom
    drag(qtbot, _canvas(viewer), (100, 100), (100, 250), button="right")
    assert tuple(ivus.contrast_limits) == limits  # an IVUS pullback has no HU window
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
