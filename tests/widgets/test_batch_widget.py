"""The cohort batch widget in a real viewer."""

from napari_calcium.widgets.batch import BatchWidget


def test_manifest_problems_are_shown_and_nothing_runs(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    widget = BatchWidget(viewer)
    viewer.window.add_dock_widget(widget)
    manifest = tmp_path / "m.csv"
    manifest.write_text("subject_id,analysis,flair\ns1,svd,absent.nii.gz\ns1,pet,\n")
    widget.manifest.value = manifest
    widget.out.value = tmp_path / "out"
    with qtbot.waitSignal(widget.run().finished, timeout=30_000):
        pass
    assert "has 3 problem(s)" in widget.status.value
    assert "line 2: flair 'absent.nii.gz' not found" in widget.status.value
    assert "line 3: subject_id 's1' already used on line 2" in widget.status.value
    assert widget.result is None and widget.run_button.enabled
    assert not (tmp_path / "out").exists()
