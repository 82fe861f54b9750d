"""The intracranial widget takes the Registration widget's result, or a transform file,
for the sample head's vessel-wall MRI (a real viewer, the real registration)."""

import numpy as np
import pytest

from napari_calcium.intracranial import read_centerline_csv
from napari_calcium.registration import landmark_error_mm
from napari_calcium.widgets.intracranial import NO_TRANSFORM, TRANSFORM_FILE, IntracranialWidget
from napari_calcium.widgets.registration import RegistrationWidget

CT, T1, SLAB = "head CT phantom (CT)", "head T1 MRI phantom (MR)", "head vessel-wall MRI slab (MR)"


@pytest.fixture
def head(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-calcium", "head_ct_mri")
    truth = layers[0].metadata["truth"]
    points = read_centerline_csv("sample_data/head/centerline.csv")
    viewer.add_shapes([points[:, ::-1]], shape_type="path", name="centreline")
    widget = IntracranialWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.ct_layer.value = viewer.layers[CT]
    widget.mri_layer.value = viewer.layers[SLAB]
    widget.line_layer.value = viewer.layers["centreline"]
    return viewer, widget, truth


def _run(widget, qtbot):
    widget.result = None
    worker = widget.run()
    assert worker is not None, widget.status.value
    qtbot.waitUntil(lambda: widget.status.value != "running ...", timeout=180_000)
    return widget.result


def _wall_areas_match_the_tube(result, truth):
    """Lumen and outer-wall areas of the plain (calcium-free) stretch against the
    construction: a tube of lumen radius 1.75 mm and outer radius 2.75 mm."""
    r_lumen = truth["artery"]["lumen_diameter_mm"] / 2
    r_outer = r_lumen + truth["artery"]["wall_thickness_mm"]
    calc = truth["artery"]["calcification"]
    start = float(calc["centerline_start_index"])
    end = start + calc["length_mm"]
    rows = result["wall"]["table"]
    plain = [
        r
        for r in rows
        if 1 <= r["arc_mm"] <= rows[-1]["arc_mm"] - 1 and not start - 2 <= r["arc_mm"] <= end + 2
    ]
    assert len(plain) > 20
    lumen = np.median([r["lumen_area_mm2"] for r in plain])
    outer = np.median([r["outer_wall_area_mm2"] for r in plain])
    assert lumen == pytest.approx(np.pi * r_lumen**2, rel=0.12)
    assert outer == pytest.approx(np.pi * r_outer**2, rel=0.05)


@pytest.mark.slow
def test_registration_widget_result_and_a_transform_file(head, qtbot, tmp_path):
    viewer, widget, truth = head
    # without a transform the slab lies in the MRI's frame: a clear refusal, no CLI flag
    assert widget.transform.value is None
    assert widget.transform.choices == (None, TRANSFORM_FILE)
    assert _run_refused(widget)
    assert "only 95% of the centreline is inside it" in widget.status.value
    assert "MRI onto CT registration" in widget.status.value
    assert widget.result is None

    # register the whole-head T1 (moving) onto the CT (fixed) in the Registration widget
    registration = RegistrationWidget(viewer)
    viewer.window.add_dock_widget(registration)
    registration.fixed.value = viewer.layers[CT]
    registration.moving.value = viewer.layers[T1]
    registration.run()
    qtbot.waitUntil(lambda: registration.worker is None, timeout=180_000)
    error = landmark_error_mm(
        registration.result.transform, truth["landmarks_ct_mm"], truth["landmarks_mri_mm"]
    )
    assert error["max"] < 1.25  # one CT voxel: the slab lands on the artery

    # the intracranial widget offers it; the slab (same session as the T1) is carried over
    registered = viewer.layers[f"{T1} on {CT}"]
    assert registered in widget.transform.choices
    widget.transform.value = registered
    result = _run(widget, qtbot)
    assert result is not None, widget.status.value
    assert result["settings"]["mri_registration"].startswith("transform")
    assert f"registration of '{T1}' onto '{CT}' (rigid)" in widget.status.value
    _wall_areas_match_the_tube(result, truth)

    # the same transform saved by the Registration widget's "Save transform" button, then
    # given to the intracranial widget as a file: the same wall, read from the file
    path = tmp_path / "ct_to_mri.tfm"
    registration.transform_path.value = path
    assert registration.save_button.enabled
    registration.save_button.native.click()
    assert path.is_file()
    widget.transform.value = TRANSFORM_FILE
    widget.transform_file.value = path
    from_file, words = widget.mri_transform()
    assert words == f"file {path}"
    np.testing.assert_allclose(
        from_file.GetParameters(), registration.result.transform.GetParameters(), atol=1e-9
    )
    from_layer = result
    result = _run(widget, qtbot)
    assert result is not None, widget.status.value
    # (the status breaks the long path with zero-width spaces so that it wraps)
    assert f"MRI onto CT: file {path}" in widget.status.value.replace("\u200b", "")
    _wall_areas_match_the_tube(result, truth)
    for key in ("lumen_area_mm2", "outer_wall_area_mm2"):
        np.testing.assert_allclose(
            [row[key] for row in result["wall"]["table"]],
            [row[key] for row in from_layer["wall"]["table"]],
            atol=1e-6,
        )

    # the registered layer itself is already on the CT: not with a transform as well
    widget.mri_layer.value = registered
    assert _run_refused(widget)
    assert "already registered onto the CT" in widget.status.value
    widget.transform.value = None
    assert NO_TRANSFORM in [widget.transform.native.itemText(i) for i in range(3)]


def _run_refused(widget):
    return widget.run() is None
