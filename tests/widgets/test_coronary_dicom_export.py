"""The coronary widget's DICOM SEG + SR button in a real viewer: the CT opened from its
DICOM folder is referenced as it is, a CT without DICOM behind it through a derived
series; the SEG holds the arteries layer voxel for voxel and the SR the scores shown."""

import json
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from napari.layers import Image

from napari_calcium.widgets.coronary import ARTERIES, CoronaryWidget
from tests.widgets.coronary_reading import TIMEOUT_MS, lesion_world

SAMPLE_CT = Path(__file__).resolve().parents[2] / "sample_data" / "coronary-ct" / "ct"


def _export(widget, qtbot, folder):
    with qtbot.waitSignal(widget.dicom_written, timeout=TIMEOUT_MS) as blocker:
        widget.export_dicom(folder)
    return blocker.args[0]


def _check(widget, written, ct_files):
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in ct_files]
    seg = hd.seg.segread(written["seg"])
    labels = seg.get_pixels_by_source_instance(uids, combine_segments=True)
    assert np.array_equal(labels, np.asarray(widget.viewer.layers[ARTERIES].data))
    sr = hd.sr.srread(written["sr"])
    scores = {}
    for group in sr.content.get_volumetric_roi_measurement_groups():
        number = group.referenced_segment.referenced_segment_numbers[0]
        name = written["segments"][number]
        score = next(m for m in group.get_measurements() if m.name.value == "112058")
        scores[name] = score.value
    assert scores == {n: v["agatston"] for n, v in widget.report["per_artery"].items()}
    return scores


def _by_position(folder):
    files = list(Path(folder).iterdir())
    return sorted(files, key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))


def test_export_of_a_ct_opened_from_dicom_references_its_series(
    make_napari_viewer, qtbot, tmp_path
):
    viewer = make_napari_viewer()
    viewer.open(str(SAMPLE_CT), plugin="napari-calcium")
    widget = CoronaryWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.ct_combo.setCurrentText(next(la.name for la in viewer.layers if isinstance(la, Image)))
    with qtbot.waitSignal(widget.candidates_ready, timeout=TIMEOUT_MS):
        widget.show_candidates()
    truth = json.loads((SAMPLE_CT.parent / "truth.json").read_text())
    for artery, hu in (("LAD", 450), ("RCA", 600)):
        with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
            widget.assign_at(lesion_world(truth, artery, hu), artery=artery)
    written = _export(widget, qtbot, tmp_path)
    assert written["referenced_ct"]["kind"] == "source"
    scores = _check(widget, written, _by_position(SAMPLE_CT))
    assert scores["RCA"] > 0 and scores["LAD"] > 0 and scores["LM"] == 0
    assert "the CT's own DICOM series" in widget.status.text()


def test_export_of_a_ct_without_dicom_writes_a_derived_series(scoring, qtbot, tmp_path):
    viewer, widget, _, _, truth = scoring
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.assign_at(lesion_world(truth, "LAD", 450), artery="LAD")
    written = _export(widget, qtbot, tmp_path)
    assert written["referenced_ct"]["kind"] == "derived"
    assert written["referenced_ct"]["folder"] == tmp_path / "ct"
    _check(widget, written, _by_position(tmp_path / "ct"))
    assert "derived CT series" in widget.status.text()
