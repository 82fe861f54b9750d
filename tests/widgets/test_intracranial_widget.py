"""The intracranial widget in a real napari viewer (run under ``xvfb-run -a``)."""

import numpy as np
import pytest

from napari_calcium.phantoms.vessel import VesselGeometry, vessel_ct, vessel_mri
from napari_calcium.widgets.intracranial import IntracranialWidget, centerline_from_layer
from napari_calcium.widgets.layers import image_tuple


def _add(viewer, layer_tuple):
    data, kwargs, kind = layer_tuple
    return getattr(viewer, f"add_{kind}")(data, **kwargs)


@pytest.fixture
def head(make_napari_viewer):
    viewer = make_napari_viewer(show=True)
    ct, truth = vessel_ct()
    ct_layer = _add(viewer, image_tuple(ct, "head CT"))
    # the reader draws the path through the artery: world (z, y, x) = LPS reversed
    path = np.asarray(truth["centerline_mm"])[:, ::-1]
    line = viewer.add_shapes([path], shape_type="path", name="centreline")
    widget = IntracranialWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.ct_layer.value = ct_layer
    widget.line_layer.value = line
    return viewer, widget, ct, truth


def test_draw_centreline_run_and_read_the_table(head, qtbot):
    viewer, widget, _, truth = head
    np.testing.assert_allclose(
        centerline_from_layer(viewer.layers["centreline"]), truth["centerline_mm"], atol=1e-9
    )
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: "calcifications" in viewer.layers, timeout=120_000)
    features = viewer.layers["calcifications"].features
    assert list(features["index"]) == [1, 2, 3]
    # one artery segment: its Kockelkoren pattern (4 + 3 + 1 = 8, IEL) on every row
    assert list(features["pattern"]) == ["IEL-predominant"] * 3
    assert list(features["spotty"]) == [False, False, True]
    centroids = viewer.layers["calcification centroids"]
    assert list(centroids.features["pattern"]) == list(features["pattern"])
    assert "grade" in widget.status.value


def test_points_centreline_reformat_and_linked_clicks(head):
    viewer, widget, ct, truth = head
    points = viewer.add_points(np.asarray(truth["centerline_mm"])[:, ::-1], name="clicks")
    widget.line_layer.value = points
    layer = widget.reformat()
    sections = widget.sections
    assert layer.data.shape == sections.shape
    # the cross-sections view is in mm along the vessel and from the centreline: a click
    # at the centre of frame 20 marks the axis point 20 steps along
    c = (sections.size - 1) / 2
    world = np.array([20 * sections.step_mm, 0.0, 0.0])
    np.testing.assert_allclose(layer.world_to_data(world), [20, c, c], atol=1e-9)
    lps = widget.show_in_source(sections, world)
    expected = VesselGeometry().axis_points(20 * sections.step_mm)
    assert np.linalg.norm(lps - expected) < 0.5 * min(ct.spacing_mm)
    np.testing.assert_allclose(viewer.layers["linked point (source)"].data[0], lps[::-1])
    # and the reverse: that source point maps back to the same reformat position
    index = widget.show_in_reformat(sections, lps[::-1])
    np.testing.assert_allclose(index, [20, c, c], atol=1e-6)


def test_reformat_in_its_own_view_linked_both_ways(head, qtbot):
    """Real clicks on the reformat's canvas and on the CT's move the other marker, and
    the frame shown in the reformat moves the CT's slice."""
    from napari_calcium.widgets.intracranial import LINK_REFORMAT, LINK_SOURCE, REFORMAT_DOCK

    from .mouse import click, wait_for_layout

    viewer, widget, ct, _ = head
    widget.reformat()
    view = viewer.window.dock_widgets[REFORMAT_DOCK]
    assert "CT reformat" in view.layers and "CT reformat" not in viewer.layers
    sections = widget.sections
    # the frame shown: frame 30 puts the CT's slice at that cross-section's centre
    view.model.dims.set_current_step(0, 30)
    centre = VesselGeometry().axis_points(30 * sections.step_mm)[::-1]
    assert np.linalg.norm(viewer.layers[LINK_SOURCE].data[0] - centre) < 0.5 * min(ct.spacing_mm)
    assert abs(viewer.dims.point[0] - centre[0]) <= ct.spacing_zyx_mm[0] / 2 + 1e-9
    # a click where the view shows frame 30's centre, (along 7.5 mm, v 0, u 0) in its mm,
    # from the camera (screen pixels per mm, the world point at the canvas centre) ...
    native = view.qt_viewer.canvas.native
    wait_for_layout(qtbot, native)
    camera = view.model.scene.camera
    on_axis = np.array([30 * sections.step_mm, 0.0, 0.0])
    click(qtbot, native, (
        native.width() / 2 + (on_axis[2] - camera.center[-1]) * camera.zoom,
        native.height() / 2 + (on_axis[1] - camera.center[-2]) * camera.zoom,
    ))  # fmt: skip
    # ... marks the artery's axis point there in the CT, within a screen pixel (1 / zoom mm)
    assert np.linalg.norm(viewer.layers[LINK_SOURCE].data[0] - centre) <= 1.5 / camera.zoom
    # a click on the CT where the artery's axis crosses slice 30's plane ...
    target = VesselGeometry().axis_points(40 * sections.step_mm)[::-1]
    viewer.dims.set_point(0, target[0])
    main = viewer.window._qt_viewer.canvas.native
    wait_for_layout(qtbot, main)
    main_camera = viewer.scene.camera
    pixel = (
        main.width() / 2 + (target[2] - main_camera.center[-1]) * main_camera.zoom,
        main.height() / 2 + (target[1] - main_camera.center[-2]) * main_camera.zoom,
    )
    click(qtbot, main, pixel)
    # ... marks it in the reformat and shows its frame (the one nearest to it)
    # (a screen pixel is 1 / zoom mm: the click lands within one of the axis point)
    reformat = view.layers["CT reformat"]
    marker_index = np.asarray(reformat.world_to_data(view.layers[LINK_REFORMAT].data[0]))
    expected = sections.physical_to_index(target[::-1])
    pixel_mm = 1 / main_camera.zoom
    assert np.all(np.abs(marker_index - expected) * sections.scale_mm <= pixel_mm + 1e-6)
    assert view.model.dims.current_step[0] == round(marker_index[0])


def test_mri_contours_are_editable(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    geometry = VesselGeometry(length_mm=16.0)
    ct, truth = vessel_ct(geometry=geometry)
    mri, mri_truth = vessel_mri(geometry=geometry)
    ct_layer = _add(viewer, image_tuple(ct, "CT"))
    mri_layer = _add(viewer, image_tuple(mri, "VW-MRI"))
    line = viewer.add_shapes(
        [np.asarray(truth["centerline_mm"])[:, ::-1]], shape_type="path", name="centreline"
    )
    widget = IntracranialWidget(viewer)
    widget.ct_layer.value, widget.mri_layer.value, widget.line_layer.value = (
        ct_layer,
        mri_layer,
        line,
    )
    widget.step_mm.value = 1.0
    widget.reformat()
    widget.run()
    qtbot.waitUntil(lambda: "outer wall" in widget.reformat_view.layers, timeout=120_000)
    view = widget.reformat_view
    assert "lumen" not in viewer.layers  # the contours live with the cross-sections
    plaque = view.layers["lumen"].metadata["plaque"]
    # the CT and MRI cross-sections differ in pixel size and field of view, yet both put
    # the centreline of the narrowest frame at one point of the view, their centre pixel
    f = plaque["narrowest_frame"]
    centre = np.array([f * 1.0, 0.0, 0.0])  # 1 mm steps, on the centreline
    for name, pixel_mm in (("CT reformat", min(ct.spacing_mm) / 2), ("VW-MRI reformat", None)):
        layer = view.layers[name]
        c = (layer.data.shape[1] - 1) / 2
        np.testing.assert_allclose(layer.world_to_data(centre), [f, c, c], atol=1e-9)
        if pixel_mm is not None:
            assert layer.scale[1] == pytest.approx(pixel_mm)
    assert view.layers["CT reformat"].scale[1] != view.layers["VW-MRI reformat"].scale[1]
    np.testing.assert_allclose(view.layers["plaque (narrowest site)"].data, [centre])
    assert plaque["stenosis_pct"] == pytest.approx(mri_truth["stenosis_pct"], abs=5)
    summary = view.layers["plaque (narrowest site)"].features
    assert summary["remodeling"][0] == "positive"
    assert summary["stenosis_pct"][0] == pytest.approx(plaque["stenosis_pct"])
    # the reader widens the lumen at the narrowest site to a 1.6 mm radius circle
    lumen = view.layers["lumen"]
    sections = widget.result["wall"]["sections"]
    t = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    uv = 1.6 * np.column_stack([np.cos(t), np.sin(t)])
    data = list(lumen.data)
    data[f] = widget._contour_to_world(sections, f, uv)
    lumen.data = data
    edited = widget.recompute()
    assert lumen.features["lumen_area_mm2"][f] == pytest.approx(np.pi * 1.6**2, rel=0.01)
    assert edited["lumen_area_mm2"] > plaque["lumen_area_mm2"]
    new_summary = view.layers["plaque (narrowest site)"].features
    assert new_summary["stenosis_pct"][0] == pytest.approx(edited["stenosis_pct"])


def test_head_sample_centreline_gives_iel_pattern_table(make_napari_viewer, qtbot):
    """File > Open Sample > head CT/MRI, draw the artery's path, run: the table's pattern.

    The head phantom's artery carries a thin (0.6 mm), continuous, 300 deg ring:
    IEL-predominant by construction (``truth["artery"]["calcification"]``).
    """
    viewer = make_napari_viewer()
    viewer.open_sample("napari-calcium", "head_ct_mri")
    ct_layer = viewer.layers["head CT phantom (CT)"]
    truth = ct_layer.metadata["truth"]
    # the reader draws the path along the artery: napari world (z, y, x) = LPS reversed
    path = np.asarray(truth["artery"]["centerline_mm"])[:, ::-1]
    line = viewer.add_shapes([path], shape_type="path", name="artery path")
    widget = IntracranialWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.ct_layer.value = ct_layer
    widget.line_layer.value = line
    assert widget.mri_layer.value is None  # CT only
    assert widget.run() is not None
    qtbot.waitUntil(lambda: "calcifications" in viewer.layers, timeout=120_000)
    features = viewer.layers["calcifications"].features
    assert list(features["index"]) == [1]
    assert list(features["pattern"]) == ["IEL-predominant"]
    assert list(features["thickness_class"]) == ["thin"]
    assert list(features["morphology"]) == ["continuous"]
    assert features["arc_deg"][0] == pytest.approx(
        truth["artery"]["calcification"]["arc_deg"], abs=15
    )
