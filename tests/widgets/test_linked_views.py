"""Linked axial / coronal / sagittal views in a real viewer: mirrored layers, one shared
world point moved by the slider, a scroll or a click in any view, crosshairs."""

import numpy as np
import pytest
from qtpy.QtWidgets import QPushButton

from napari_calcium.widgets.views import CROSSHAIR, ORTHO_DOCK, open_ortho_views

from .mouse import click


@pytest.fixture
def ortho(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    ct, arteries = viewer.open_sample("napari-calcium", "coronary_ct")
    views = open_ortho_views(viewer)
    qtbot.wait(50)
    return viewer, views, ct, arteries


def _screen_to_world(view, pos):
    """World (rows axis, columns axis) mm under canvas pixel ``pos`` (x right, y down),
    from the camera: centre, zoom (pixels per mm) and the superior-up orientation."""
    camera = view.model.scene.camera
    native = view.qt_viewer.canvas.native
    w, h = native.width(), native.height()
    centre = np.asarray(camera.center)[-2:]
    rows = centre[0] - (pos[1] - h / 2) / camera.zoom  # superior up: rows grow upwards
    columns = centre[1] + (pos[0] - w / 2) / camera.zoom
    return rows, columns


def test_side_views_mirror_the_layers_and_show_their_planes(ortho):
    viewer, views, ct, arteries = ortho
    assert viewer.window.dock_widgets[ORTHO_DOCK] is views
    for plane, view in views.views.items():
        names = [layer.name for layer in view.layers]
        assert names == [ct.name, arteries.name, CROSSHAIR]
        assert view.layers[ct.name].data is ct.data  # shared, not copied
        np.testing.assert_allclose(view.layers[ct.name].scale, ct.scale)
        displayed = {"coronal": (0, 2), "sagittal": (0, 1)}[plane]
        assert tuple(view.model.dims.displayed) == displayed
    # display settings follow the main layer
    ct.contrast_limits = (0.0, 80.0)
    arteries.opacity = 0.3
    for view in views.views.values():
        assert tuple(view.layers[ct.name].contrast_limits) == (0.0, 80.0)
        assert view.layers[arteries.name].opacity == pytest.approx(0.3)


def test_one_point_moves_every_view(ortho):
    viewer, views, ct, _ = ortho
    world = np.asarray(ct.data_to_world((5, 40, 90)))  # slice 5, row 40, column 90
    views.set_point(world)
    for view in views.views.values():
        np.testing.assert_allclose(view.model.dims.point, world)
    assert viewer.dims.current_step[0] == 5
    # crosshair in the coronal view: a vertical line at x and a horizontal one at z
    lines = [np.asarray(d) for d in views.views["coronal"].layers[CROSSHAIR].data]
    assert all(np.allclose(line[:, 1], world[1]) for line in lines)  # in the coronal plane
    assert np.allclose(lines[0][:, 2], world[2]) and np.allclose(lines[1][:, 0], world[0])
    # a side view's own slider (here the sagittal x position) moves the main point
    sagittal = views.views["sagittal"].model
    x = float(ct.data_to_world((0, 0, 30))[2])
    sagittal.dims.set_point(2, x)
    assert viewer.dims.point[2] == pytest.approx(x)
    assert views.views["coronal"].model.dims.point[2] == pytest.approx(x)
    # and the axial slider moves the side views' z
    viewer.dims.set_current_step(0, 2)
    z = float(ct.data_to_world((2, 0, 0))[0])
    assert views.views["coronal"].model.dims.point[0] == pytest.approx(z)


def test_a_click_in_the_coronal_view_moves_the_axial_slice(ortho, qtbot):
    viewer, views, ct, _ = ortho
    views.set_point(ct.data_to_world((5, 64, 64)))
    coronal = views.views["coronal"]
    native = coronal.qt_viewer.canvas.native
    pos = (native.width() / 2 + 20, native.height() / 2 - 10)  # right of and above the centre
    z, x = _screen_to_world(coronal, pos)
    click(qtbot, native, pos)
    # napari keeps the point on the voxel grid: the voxel holding the clicked point
    assert abs(viewer.dims.point[0] - z) <= ct.scale[0] / 2 + 1e-9
    assert abs(viewer.dims.point[2] - x) <= ct.scale[2] / 2 + 1e-9
    assert viewer.dims.current_step[0] == round((z - ct.translate[0]) / ct.scale[0])
    # superior is up and the patient's left on the right: a click lower and further left
    # lands at a lower z and a smaller x
    first = np.asarray(viewer.dims.point)
    click(qtbot, native, (pos[0] - 60, pos[1] + 40))
    assert viewer.dims.point[0] < first[0] and viewer.dims.point[2] < first[2]


def test_opened_from_the_widgets_and_the_layers_menu(make_napari_viewer, qtbot):
    from napari._app_model import get_app_model

    from napari_calcium.widgets.coronary import CoronaryWidget
    from napari_calcium.widgets.intracranial import IntracranialWidget
    from napari_calcium.widgets.registration import RegistrationWidget
    from napari_calcium.widgets.svd import SvdWidget

    viewer = make_napari_viewer()
    viewer.open_sample("napari-calcium", "head_ct_mri")
    for kind in (CoronaryWidget, IntracranialWidget, RegistrationWidget, SvdWidget):
        widget = kind(viewer)
        native = getattr(widget, "native", widget)
        buttons = [b for b in native.findChildren(QPushButton) if b.text() == ORTHO_DOCK]
        assert len(buttons) == 1, kind.__name__
        buttons[0].click()
        views = viewer.window.dock_widgets[ORTHO_DOCK]
        assert views.viewer is viewer  # the same views each time
    assert len([n for n in viewer.window.dock_widgets if n == ORTHO_DOCK]) == 1
    # Layers > Visualize > Linked views runs the same command
    get_app_model().commands.execute_command("napari-calcium.linked_views").result()
    assert viewer.window.dock_widgets[ORTHO_DOCK] is views
    mirrored = [layer.name for layer in views.views["coronal"].layers]
    assert "head T1 MRI phantom (MR)" in mirrored and "head CT phantom (CT)" in mirrored
