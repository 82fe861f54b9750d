"""Every widget of the plugin docked from the Plugins menu and run for real on phantom data.

Shared by the window-size test (tests/widgets/test_dock.py) and the screenshots
(scripts/screenshot.py). Each run takes the viewer, a ``wait(condition, seconds)``
function that keeps the Qt event loop running until ``condition()`` is true (pytest-qt's
``qtbot.waitUntil`` in tests) and a scratch folder, and returns the docked widget after
its run. Only phantoms are used: never the local-only real images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_calcium.widgets.layers import image_tuple

PLUGIN = "napari-calcium"


def _add_image(viewer, volume, name):
    data, kwargs, _ = image_tuple(volume, name)
    return viewer.add_image(data, **kwargs)


def _dock(viewer, display_name):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, display_name)
    return widget


def run_coronary(viewer, wait, folder: Path):
    """The coronary phantom: candidates shown, the LAD and RCA lesions assigned by click."""
    from napari_calcium.phantoms.coronary import coronary_ct

    ct, _, truth = coronary_ct(3.0)
    _add_image(viewer, ct, "coronary CT phantom")
    widget = _dock(viewer, "Coronary calcium scoring")
    widget.show_candidates()
    wait(lambda: widget.report is not None, 60)
    for artery, hu in (("LAD", 450), ("RCA", 600)):
        lesion = next(t for t in truth["lesions"] if t["artery"] == artery and t["hu"] == hu)
        before = widget.report
        widget.assign_at(np.asarray(lesion["centroid_mm"][::-1]), artery=artery)
        wait(lambda before=before: widget.report is not before, 60)
    lesion = max(widget.report["lesions"], key=lambda row: row["agatston"])
    widget.go_to_row(widget.report["lesions"].index(lesion))
    return widget


def run_ivus(viewer, wait, folder: Path):
    """A 30-frame IVUS phantom pullback with one calcium lesion, analysed, with its L-mode
    view at the lesion's angle and the frame through the lesion shown."""
    from napari_calcium.phantoms.ivus import ivus_pullback

    lesion = {"kind": "calcium", "start_mm": 0.6, "length_mm": 1.2, "start_angle_deg": 60.0,
              "arc_deg": 200.0, "depth_fraction": 0.6, "reverberation": False}  # fmt: skip
    volume, _ = ivus_pullback(
        n_frames=30, size=128, pullback_speed_mm_s=1.0, frame_rate_hz=15.0, lesions=[lesion]
    )
    _add_image(viewer, volume, "IVUS pullback phantom")
    widget = _dock(viewer, "IVUS pullback analysis")
    widget.run()
    wait(lambda: widget.result is not None, 90)
    widget.angle.value = 160.0  # through the lesion's arc (60-260 deg)
    widget.show_lmode()
    viewer.dims.set_current_step(0, 13)  # 0.6-1.8 mm at 1/15 mm per frame: frames 9-27
    return widget


def run_registration(viewer, wait, folder: Path):
    """The head CT and MRI phantoms (3 and 2.5 mm) registered rigidly."""
    from napari_calcium.phantoms.head import head_ct_mri

    ct, mri, _ = head_ct_mri(
        rotation_deg=(5.0, 0.0, 8.0),
        translation_mm=(10.0, -5.0, 4.0),
        ct_spacing_mm=(3.0, 3.0, 3.0),
        mri_spacing_mm=(2.5, 2.5, 2.5),
        seed=4,
    )
    ct_layer = _add_image(viewer, ct, "head CT phantom")
    mri_layer = _add_image(viewer, mri, "MRI phantom")
    widget = _dock(viewer, "Registration")
    widget.fixed.value = ct_layer
    widget.moving.value = mri_layer
    widget.run()
    wait(lambda: widget.worker is None, 180)
    return widget


def run_intracranial(viewer, wait, folder: Path):
    """The intracranial vessel CT phantom with the reader's centreline, graded."""
    from napari_calcium.phantoms.vessel import vessel_ct

    ct, truth = vessel_ct()
    ct_layer = _add_image(viewer, ct, "head CT phantom")
    line = viewer.add_shapes(
        [np.asarray(truth["centerline_mm"])[:, ::-1]], shape_type="path", name="centreline"
    )
    widget = _dock(viewer, "Intracranial calcification (CT + VW-MRI)")
    widget.ct_layer.value = ct_layer
    widget.line_layer.value = line
    widget.run()
    wait(lambda: "calcifications" in viewer.layers, 180)
    return widget


def run_svd(viewer, wait, folder: Path):
    """The brain FLAIR + SWI phantoms with two microbleeds, graded."""
    from napari_calcium.phantoms.brain import brain_flair_swi

    flair, swi, _ = brain_flair_swi(n_microbleeds=2)
    _add_image(viewer, flair, "FLAIR")
    _add_image(viewer, swi, "SWI")
    widget = _dock(viewer, "Small vessel disease grading")
    widget.flair_layer.value = "FLAIR"
    widget.swi_layer.value = "SWI"
    widget.epvs_bg.value = "2"
    widget.run()
    wait(lambda: widget.record is not None, 120)
    return widget


def run_batch(viewer, wait, folder: Path):
    """A cohort of three coronary phantom subjects run on one worker."""
    from napari_calcium.sample_cohorts import write_phantom_cohort

    manifest = write_phantom_cohort(folder / "cohort", 3, analyses=["coronary"])
    widget = _dock(viewer, "Cohort batch run")
    widget.manifest.value = manifest
    widget.out.value = folder / "batch-out"
    widget.workers.value = 1
    widget.run()
    wait(lambda: widget.worker is None, 180)
    return widget


def run_window_presets(viewer, wait, folder: Path):
    """The coronary CT phantom in the bone window, picked from the presets."""
    from napari_calcium.phantoms.coronary import coronary_ct

    ct, _, _ = coronary_ct(3.0)
    layer = _add_image(viewer, ct, "coronary CT phantom")
    widget = _dock(viewer, "CT window presets")
    widget.image.value = layer
    widget.window.value = "bone"
    wait(lambda: tuple(layer.contrast_limits) != (-450.0, 1050.0), 10)
    return widget


def run_linked_views(viewer, wait, folder: Path):
    """The coronary CT phantom with its artery labels in the linked views, the point on
    the largest LAD lesion (opened with the coronary widget's button)."""
    from qtpy.QtWidgets import QPushButton

    from napari_calcium.phantoms.coronary import coronary_ct
    from napari_calcium.widgets.layers import labels_tuple
    from napari_calcium.widgets.views import ORTHO_DOCK

    ct, arteries, truth = coronary_ct(3.0)
    _add_image(viewer, ct, "coronary CT phantom")
    data, kwargs, _ = labels_tuple(arteries, "coronary arteries")
    viewer.add_labels(data, **kwargs)
    widget = _dock(viewer, "Coronary calcium scoring")
    buttons = getattr(widget, "native", widget).findChildren(QPushButton)
    next(button for button in buttons if button.text() == ORTHO_DOCK).click()
    lad = max((t for t in truth["lesions"] if t["artery"] == "LAD"), key=lambda t: t["hu"])
    viewer.window.dock_widgets[ORTHO_DOCK].set_point(np.asarray(lad["centroid_mm"])[::-1])
    return widget


#: Widget name (the screenshot's file name) -> its run.
RUNS = {
    "coronary": run_coronary,
    "ivus": run_ivus,
    "registration": run_registration,
    "intracranial": run_intracranial,
    "small-vessel": run_svd,
    "batch": run_batch,
    "window-presets": run_window_presets,
    "linked-views": run_linked_views,
}
