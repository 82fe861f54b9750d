"""The main job on the sample data writes its report, and the figures match the truth."""

import json
from pathlib import Path

import pytest

from napari_calcium.demo import run_demo

REPO_SAMPLES = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.mark.skipif(not REPO_SAMPLES.is_dir(), reason="runs on the repository's sample_data/")
def test_demo_reads_every_sample_and_reports_each_analysis(tmp_path):
    report = run_demo(tmp_path, gui=False, samples=REPO_SAMPLES)
    assert len(report["read"]) == 9
    assert all(info["spacing_mm"] for info in report["read"].values())
    measured = report["measured"]
    coronary = measured["coronary calcium (CT)"]
    assert coronary["agatston"] == pytest.approx(coronary["truth_agatston"], abs=0.01)
    registration = measured["CT-MRI registration (head)"]
    assert registration["landmark_error_max_mm"] < 1.0  # one MRI voxel
    # the wall is measured on the 0.5 mm vessel-wall slab: no resolution warning
    assert measured["intracranial calcification and vessel wall (head)"]["warnings"] == []
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["measured"].keys() == measured.keys()
    assert "coronary calcium (CT)" in (tmp_path / "report.html").read_text()
    for summary in measured.values():
        for name in summary["files"]:
            assert (tmp_path / name).is_file(), name


def test_demo_refuses_a_samples_folder_without_the_samples(tmp_path):
    from napari_calcium.demo import sample_folder
    from napari_calcium.errors import InputError

    (tmp_path / "coronary-ct").mkdir()
    with pytest.raises(InputError, match="does not hold the samples coronary-ct, "):
        sample_folder(tmp_path / "report", tmp_path)
