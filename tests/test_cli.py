"""The command line: JSON out, clear errors without tracebacks."""

import json

import numpy as np

from napari_calcium import Volume, write
from napari_calcium.cli import main


def test_info_prints_geometry_as_json(tmp_path, capsys):
    volume = Volume(np.zeros((3, 4, 5), np.int16), (0.5, 0.6, 2.0), (1.0, -2.0, 30.0))
    path = write(volume, tmp_path / "v.nii.gz")
    assert main(["info", str(path), "--modality", "CT"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modality"] == "CT"
    assert info["shape_zyx"] == [3, 4, 5]
    np.testing.assert_allclose(info["spacing_mm"], [0.5, 0.6, 2.0])
    np.testing.assert_allclose(info["origin_mm"], [1.0, -2.0, 30.0])
    np.testing.assert_allclose(info["direction"], np.eye(3))
    assert info["units"] == "HU"
    assert info["frame_spacing_mm"] is None


def test_missing_path_is_an_error_message_with_exit_status_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nowhere.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not exist" in err
    assert "Traceback" not in err


def test_output_under_a_file_is_an_error_message_and_nothing_is_written(tmp_path, capsys):
    volume = Volume(np.full((3, 8, 8), -1000, np.int16), (0.5, 0.5, 3.0), (0.0, 0.0, 0.0))
    ct = write(volume, tmp_path / "ct.nii.gz")
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    out = blocker / "result.json"
    assert main(["coronary", str(ct), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: could not read or write" in err and str(blocker) in err
    assert "Traceback" not in err
    assert blocker.read_text() == "a file, not a folder"
