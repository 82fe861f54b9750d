"""The registration widget in a real napari viewer (run under ``xvfb-run -a``)."""

import numpy as np
import pytest

from napari_calcium.phantoms.head import head_ct_mri
from napari_calcium.registration import landmark_error_mm, load_transform
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.registration import RegistrationWidget, points_to_lps


@pytest.fixture(scope="module")
def pair():
    return head_ct_mri(
        rotation_deg=(5.0, 0.0, 8.0),
        translation_mm=(10.0, -5.0, 4.0),
        ct_spacing_mm=(3.0, 3.0, 3.0),
        mri_spacing_mm=(2.5, 2.5, 2.5),
        seed=4,
    )


def add(viewer, volume, name):
    data, kwargs, _ = image_tuple(volume, name)
    return viewer.add_image(data, **kwargs)


def test_widget_registers_off_the_event_loop(make_napari_viewer, qtbot, pair, tmp_path):
    ct, mri, truth = pair
    viewer = make_napari_viewer()
    ct_layer = add(viewer, ct, "CT")
    add(viewer, mri, "MRI")
    widget = RegistrationWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.fixed.value = viewer.layers["CT"]
    widget.moving.value = viewer.layers["MRI"]

    widget.run()
    assert widget.worker is not None  # run() returned while the registration works
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)

    # iteration events reached the progress bar through the running event loop
    assert widget.progress.value == widget.progress.max > 0
    assert "final metric" in widget.report.value and "stop:" in widget.report.value
    # the default start search chose the start and says which
    assert widget.result.start["search"] and "start: " in widget.report.value
    assert widget.result.warnings == [] and "WARNING" not in widget.report.value
    registered = widget.registered_layer
    assert registered is not None
    np.testing.assert_allclose(registered.scale, ct_layer.scale)
    np.testing.assert_allclose(registered.translate, ct_layer.translate)
    assert registered.data.shape == ct.shape
    error = landmark_error_mm(
        widget.result.transform, truth["landmarks_ct_mm"], truth["landmarks_mri_mm"]
    )
    assert error["mean"] < 1.5  # half the largest voxel spacing (3 mm)

    # checking views
    widget.check.value = "checkerboard"
    assert widget.checkerboard_layer.visible and not registered.visible
    np.testing.assert_allclose(widget.checkerboard_layer.scale, ct_layer.scale)
    widget.check.value = "blend"
    assert registered.visible and not widget.checkerboard_layer.visible

    widget.transform_path.value = tmp_path / "mri_to_ct.tfm"
    widget.save()
    saved = load_transform(tmp_path / "mri_to_ct.tfm")
    np.testing.assert_allclose(
        saved.TransformPoint((0.0, 0.0, 40.0)),
        widget.result.transform.TransformPoint((0.0, 0.0, 40.0)),
        atol=1e-6,
    )


def test_cancel_adds_no_layer(make_napari_viewer, qtbot, pair):
    ct, mri, _ = pair
    viewer = make_napari_viewer()
    add(viewer, ct, "CT")
    add(viewer, mri, "MRI")
    widget = RegistrationWidget(viewer)
    widget.fixed.value = viewer.layers["CT"]
    widget.moving.value = viewer.layers["MRI"]
    widget.run()
    widget.cancel()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert widget.result.cancelled
    assert "cancelled" in widget.report.value
    assert widget.registered_layer is None and len(viewer.layers) == 2


def test_landmark_points_layers_are_read_as_lps(make_napari_viewer, pair):
    _, _, truth = pair
    viewer = make_napari_viewer()
    lps = np.asarray(truth["landmarks_ct_mm"])[:4]
    layer = viewer.add_points(lps[:, ::-1])  # napari world = (z, y, x) = LPS reversed
    np.testing.assert_allclose(points_to_lps(layer), lps)
    scaled = viewer.add_points(lps[:, ::-1] / 2.0, scale=(2.0, 2.0, 2.0))
    np.testing.assert_allclose(points_to_lps(scaled), lps)


def test_bad_landmark_layers_are_refused_before_running(make_napari_viewer, pair):
    ct, mri, truth = pair
    viewer = make_napari_viewer()
    add(viewer, ct, "CT")
    add(viewer, mri, "MRI")
    fixed = viewer.add_points(np.asarray(truth["landmarks_ct_mm"])[:3, ::-1], name="on CT")
    moving = viewer.add_points(np.asarray(truth["landmarks_mri_mm"])[:2, ::-1], name="on MRI")
    widget = RegistrationWidget(viewer)
    widget.fixed.value = viewer.layers["CT"]
    widget.moving.value = viewer.layers["MRI"]
    widget.fixed_points.value = fixed
    widget.moving_points.value = moving
    widget.run()
    assert widget.worker is None and widget.result is None  # nothing started
