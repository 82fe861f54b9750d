"""``napari-calcium info`` with the reading options, run in-process."""

import json

import numpy as np
import pytest

from napari_calcium.cli import main
from napari_calcium.io import write_dicom_series, write_ultrasound_multiframe
from napari_calcium.volume import Volume


def series(tmp_path, n, description):
    volume = Volume(np.zeros((n, 4, 6), np.int16), (0.5, 0.5, 2.0), modality="CT")
    return write_dicom_series(volume, tmp_path / description, series_description=description)


def test_several_series_open_the_largest_with_a_note(tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name, n in (("small", 2), ("large", 5)):
        for f in series(tmp_path, n, name).iterdir():
            f.rename(folder / f"{name}_{f.name}")
    assert main(["info", str(folder)]) == 0
    out, err = capsys.readouterr()
    info = json.loads(out)
    assert info["shape_zyx"] == [5, 4, 6]
    assert "holds 2 series; opening the largest" in err and "small" in err and "large" in err
    uid = err.split("(others: ")[1].split(" ")[0]  # the small series' uid
    assert main(["info", str(folder), "--series", uid]) == 0
    assert json.loads(capsys.readouterr().out)["shape_zyx"] == [2, 4, 6]


def test_pullback_flags(tmp_path, capsys):
    pullback = Volume(np.zeros((4, 8, 8), np.uint8), (0.03, 0.03, 1.0), modality="IVUS")
    path = write_ultrasound_multiframe(pullback, tmp_path / "pb.dcm")
    args = ["info", str(path), "--pullback-speed", "0.5", "--frame-rate", "25"]
    assert main([*args, "--pixel-spacing", "0.02"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modality"] == "IVUS"
    assert info["frame_spacing_mm"] == pytest.approx(0.5 / 25)
    assert info["spacing_mm"] == pytest.approx([0.02, 0.02, 0.02])
    assert main(["info", str(path)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["frame_spacing_mm"] is None


def test_missing_slice_needs_resample(tmp_path, capsys):
    folder = series(tmp_path, 5, "ct")
    sorted(folder.iterdir())[2].unlink()
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing slice" in err and "--resample" in err
    assert "Traceback" not in err
    assert main(["info", str(folder), "--resample"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape_zyx"] == [5, 4, 6] and info["acquisition"]["resampling"]
