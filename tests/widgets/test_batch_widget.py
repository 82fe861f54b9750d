"""The cohort batch widget in a real viewer."""

import numpy as np
import pandas as pd
import pytest

from napari_calcium.sample_cohorts import write_phantom_cohort
from napari_calcium.widgets.batch import BatchWidget


def test_manifest_problems_are_shown_and_nothing_runs(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    viewer.window.add_dock_widget(widget)
    manifest = tmp_path / "m.csv"
    manifest.write_text("subject_id,analysis,flair\ns1,svd,absent.nii.gz\ns1,pet,\n")
    widget.manifest.value = manifest
    widget.out.value = tmp_path / "out"
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=30_000)
    assert "has 3 problem(s)" in widget.status.value
    assert "line 2: flair 'absent.nii.gz' not found" in widget.status.value
    assert "line 3: subject_id 's1' already used on line 2" in widget.status.value
    assert widget.result is None and widget.run_button.enabled
    assert not (tmp_path / "out").exists()


def test_widget_runs_a_cohort_and_shows_the_subjects_table(make_napari_viewer, qtbot, tmp_path):
    manifest = write_phantom_cohort(tmp_path / "cohort", 3, analyses=["coronary"])
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.manifest.value = manifest
    widget.out.value = tmp_path / "out"
    widget.workers.value = 1
    done = []
    widget.progress.changed.connect(done.append)
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert done == [1, 2, 3]
    assert (widget.progress.value, widget.progress.max) == (3, 3)
    table = widget.table.to_dataframe()
    assert list(table["subject_id"]) == ["coronary-000", "coronary-001", "coronary-002"]
    assert list(table["status"]) == ["ok"] * 3
    expected = pd.read_csv(tmp_path / "out" / "subjects.csv")
    agatston = [float(v) for v in table["agatston"]]
    assert agatston == pytest.approx(list(expected["agatston"]), nan_ok=True)
    # the first subject has no artery labels: no headline score, its calcium shown apart
    assert np.isnan(agatston[0]) and table["cac_drs"][0] == "not scored"
    assert float(table["unassigned_agatston"][0]) > 0
    assert widget.status.value == "3 subjects: 3 computed, 0 kept, 0 failed"
