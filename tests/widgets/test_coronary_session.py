"""Save a coronary reading and reload it in a new viewer: nothing lost."""

import numpy as np
import pytest

from napari_calcium.errors import InputError
from napari_calcium.session import load_session
from napari_calcium.volume import Volume
from napari_calcium.widgets.coronary import ARTERIES, CoronaryWidget
from tests.widgets.coronary_reading import TIMEOUT_MS, lesion_world


def test_session_save_reload_is_identical(scoring, make_napari_viewer, qtbot, tmp_path):
    viewer, widget, _, _, truth = scoring
    widget.set_artery_names("LM, LAD, LCX, RCA, D1")
    widget.threshold.setValue(140.0)
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.assign_at(lesion_world(truth, "LAD", 450), artery="D1")
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.assign_at(lesion_world(truth, "RCA", 600), artery="RCA")
    saved = widget.report
    widget.save_session(tmp_path / "patient")
    html = widget.write_report(tmp_path / "report.html")
    assert "Agatston" in html.read_text() and "RCA" in html.read_text()

    other = make_napari_viewer()
    again = CoronaryWidget(other)
    other.window.add_dock_widget(again)
    with qtbot.waitSignal(again.scores_updated, timeout=TIMEOUT_MS) as blocker:
        assert again.load_session(tmp_path / "patient")
        qtbot.waitSignal(again.candidates_ready, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: again.report is not None, timeout=TIMEOUT_MS)
    for name in ("phantom CT", ARTERIES):
        a, b = viewer.layers[name], other.layers[name]
        assert a.data.dtype == b.data.dtype and np.array_equal(a.data, b.data)
        assert np.array_equal(a.scale, b.scale) and np.array_equal(a.translate, b.translate)
        assert np.array_equal(a.affine.affine_matrix, b.affine.affine_matrix)
        va, vb = Volume.from_layer(a), Volume.from_layer(b)
        assert va.same_grid(vb, tol_mm=0.0)
    assert again.settings() == widget.settings()
    assert again.artery.currentText() == widget.artery.currentText()
    report = blocker.args[0] if blocker.args else again.report
    assert report["per_artery"] == saved["per_artery"]
    assert report["agatston"] == saved["agatston"]


def test_a_folder_that_is_not_a_session_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a napari-calcium session"):
        load_session(tmp_path)
