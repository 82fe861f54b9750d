"""Linked axial / coronal / sagittal views in a real viewer: mirrored layers, one shared
world point moved by the slider, a scroll or a click in any view, crosshairs; what the
side views draw checked against SimpleITK's reading of the same points."""

import numpy as np
import pytest
from napari.layers import Layer
from qtpy.QtWidgets import QPushButton

from napari_calcium.volume import Volume
from napari_calcium.widgets.views import CROSSHAIR, ORTHO_DOCK, ORTHO_PLANES, open_ortho_views

from .mouse import click, wait_for_layout


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
    # one screen pixel wide at the view's zoom (screen pixels per mm)
    coronal = views.views["coronal"].model
    widths = np.asarray(coronal.layers[CROSSHAIR].edge_width) * coronal.scene.camera.zoom
    np.testing.assert_allclose(widths, 1.0)
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
    ct, arteries = viewer.open_sample("napari-calcium", "coronary_ct")
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
    assert mirrored == [ct.name, arteries.name, CROSSHAIR]


def _grey_at(view, plane, world):
    """Grey level (0-255) the side view draws at the world point ``(z, y, x)`` mm: the
    canvas pixel from the camera (centre, screen pixels per mm; superior up)."""
    shot = view.qt_viewer.screenshot(flash=False)
    camera = view.model.scene.camera
    rows, columns = ORTHO_PLANES[plane]
    centre = np.asarray(camera.center)[-2:]
    height, width = shot.shape[:2]
    y = height / 2 - (world[rows] - centre[0]) * camera.zoom
    x = width / 2 + (world[columns] - centre[1]) * camera.zoom
    return int(shot[int(y), int(x), 0])


def test_side_views_draw_the_planes_through_the_point(make_napari_viewer, qtbot):
    """The head phantom's CT (2.5 mm) and T1 MRI (2 mm, another origin), each shown
    alone: with the point in the left lateral ventricle (the phantom's labels), each side
    view draws, at the pixel of that point and of voxel centres up to 12 voxels away in
    its plane, the value SimpleITK reads at the same physical point (through the window).
    """
    from napari_calcium.phantoms.head import head_ct_mri
    from napari_calcium.widgets.layers import image_tuple, labels_tuple

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 768)
    ct, mri, truth = head_ct_mri(ct_spacing_mm=(2.5, 2.5, 2.5), mri_spacing_mm=(2.0, 2.0, 2.0))
    for volume, name, kind in (
        (ct, "CT", image_tuple),
        (mri, "MRI", image_tuple),
        (truth["labels_ct"], "CT structures", labels_tuple),
        (truth["labels_mri"], "MRI structures", labels_tuple),
    ):
        viewer.add_layer(Layer.create(*kind(volume, name)))
    views = open_ortho_views(viewer)
    for view in views.views.values():
        view.layers[CROSSHAIR].visible = False
    wait_for_layout(qtbot, views)
    cases = {  # image: (its structure labels, grey window)
        "CT": ("CT structures", (-10.0, 60.0)),
        "MRI": ("MRI structures", (0.0, 600.0)),
    }
    for shown, (structures, (low, high)) in cases.items():
        for layer in viewer.layers:
            layer.visible = layer.name == shown
        layer = viewer.layers[shown]
        layer.colormap, layer.gamma, layer.interpolation2d = "gray", 1.0, "nearest"
        layer.contrast_limits = (low, high)
        image = Volume.from_layer(layer).to_sitk()
        ventricle = np.argwhere(np.asarray(viewer.layers[structures].data) == 1)  # z, y, x
        centre = np.round(ventricle.mean(axis=0)).astype(int)[::-1]  # SimpleITK's x, y, z

        def world(index_xyz, image=image):  # voxel index -> LPS mm -> napari (z, y, x)
            point = image.TransformIndexToPhysicalPoint([int(i) for i in index_xyz])
            return np.asarray(point)[::-1]

        views.set_point(world(centre))
        # napari keeps the point on its slider grid (the finest layer's, the MRI's 2 mm):
        # within half a step of the CT voxel centre, so inside that voxel
        np.testing.assert_allclose(viewer.dims.point, world(centre), atol=1.0 + 1e-9)
        steps = [0, 6, -6, 12, -12]
        offsets = {  # in-plane offsets (x, y, z voxels): coronal keeps y, sagittal keeps x
            "coronal": [(a, 0, b) for a in steps for b in (0, 6)],
            "sagittal": [(0, a, b) for a in steps for b in (0, 6)],
        }
        for plane, view in views.views.items():
            camera = view.model.scene.camera  # 3 screen pixels per mm, on the point
            camera.center = tuple(world(centre)[list(ORTHO_PLANES[plane])])
            camera.zoom = 3.0
            qtbot.wait(50)
            drawn, truth = [], []
            for offset in offsets[plane]:
                index = centre + np.asarray(offset)
                drawn.append(_grey_at(view, plane, world(index)))
                value = image[[int(i) for i in index]]
                truth.append(255 * np.clip((value - low) / (high - low), 0, 1))
            np.testing.assert_allclose(drawn, truth, atol=3, err_msg=f"{shown}: {plane}")
            assert np.ptp(truth) > 60, "the points differ, so a wrong plane would show"


def test_views_opened_on_an_empty_viewer_take_the_images_added_later(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    views = open_ortho_views(viewer)
    ct, arteries = viewer.open_sample("napari-calcium", "coronary_ct")
    for plane, view in views.views.items():
        assert tuple(view.model.dims.displayed) == ORTHO_PLANES[plane]
        assert [layer.name for layer in view.layers] == [ct.name, arteries.name, CROSSHAIR]
        # framed on the CT: the camera looks at the middle of its extent
        extent = np.asarray(ct.extent.world)[:, list(ORTHO_PLANES[plane])]
        np.testing.assert_allclose(
            np.asarray(view.model.scene.camera.center)[-2:], extent.mean(axis=0), atol=2.0
        )
    # a renamed or removed layer is followed
    ct.name = "CT"
    assert all("CT" in view.layers for view in views.views.values())
    viewer.layers.remove(arteries)
    assert all(arteries.name not in view.layers for view in views.views.values())


def test_closing_the_dock_releases_the_views_and_unlinks_them(ortho, qtbot):
    viewer, views, ct, _ = ortho
    callbacks = len(viewer.mouse_drag_callbacks)
    viewer.window.remove_dock_widget(viewer.window.dock_widgets[ORTHO_DOCK])
    qtbot.wait(50)
    assert views.views == {}  # canvases closed
    assert len(viewer.mouse_drag_callbacks) == callbacks - 1
    viewer.dims.set_current_step(0, 3)  # the main viewer goes on alone
    again = open_ortho_views(viewer)
    assert again is not views and viewer.window.dock_widgets[ORTHO_DOCK] is again
    assert viewer.dims.current_step[0] == 3  # opening the views moves no slice
    z = float(ct.data_to_world((3, 0, 0))[0])
    assert again.views["coronal"].model.dims.point[0] == pytest.approx(z)


def test_closing_the_viewer_releases_every_view(ortho, qtbot):
    """The side views and a docked view of other coordinates (as the L-mode's) let their
    canvases go when the main viewer closes, and the main viewer is unlinked."""
    from napari_calcium.widgets.views import LinkedView, dock_view

    viewer, views, ct, _ = ortho
    other = dock_view(viewer, "a view of its own", lambda: LinkedView("a view of its own"))
    canvases = [view.qt_viewer for view in views.views.values()] + [other.qt_viewer]
    assert all(canvas is not None for canvas in canvases)
    viewer.close()
    assert views.views == {} and other.qt_viewer is None
    assert all(canvas.parent() is None for canvas in canvases)  # out of every dock
    assert views._copies == {}  # no main layer still drives a copy
