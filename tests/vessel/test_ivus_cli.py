"""``napari-calcium ivus`` on a phantom pullback written to NIfTI."""

import csv
import json

import pytest

from napari_calcium.cli import main
from napari_calcium.io import write
from napari_calcium.phantoms.ivus import ivus_pullback

LESION = {"kind": "calcium", "start_mm": 1.0, "length_mm": 1.5, "start_angle_deg": 30.0,
          "arc_deg": 150.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip


@pytest.fixture(scope="module")
def pullback_file(tmp_path_factory):
    volume, truth = ivus_pullback(
        n_frames=60,
        size=128,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=15.0,
        lesions=[LESION],
        seed=5,
    )
    path = tmp_path_factory.mktemp("ivus") / "pullback.nii.gz"
    write(volume, path)  # NIfTI keeps the pixel size, not the pullback speed or frame rate
    return path, truth


def test_cli_writes_json_csv_and_contours(pullback_file, tmp_path):
    path, truth = pullback_file
    out, table, contours = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "c.json"
    code = main(["ivus", str(path), "--pullback-speed", "1.0", "--frame-rate", "15",
                 "--json", str(out), "--csv", str(table), "--contours-out", str(contours)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("frame_spacing_mm", "frames", "per_frame", "lesions", "ivus_calcium_score",
                "guidance", "settings", "angle_convention"):  # fmt: skip
        assert key in result
    assert result["frame_spacing_mm"] == pytest.approx(1.0 / 15.0)
    assert result["frames"] == 60
    row = result["per_frame"][0]
    for key in ("index", "position_mm", "lumen_area_mm2", "vessel_area_mm2", "calcium_arc_deg",
                "calcium_depth_fraction", "superficial"):  # fmt: skip
        assert key in row
    (lesion,) = result["lesions"]
    for key in ("start_mm", "end_mm", "length_mm", "max_arc_deg", "arc_grade", "superficial",
                "circumferential", "nodule_candidate", "vessel_diameter_mm"):  # fmt: skip
        assert key in lesion
    assert lesion["length_mm"] == pytest.approx(truth["lesions"][0]["length_mm"], abs=0.5)
    assert lesion["arc_grade"] == "II"
    assert all("measured" in item for item in result["ivus_calcium_score"]["items"])
    assert {"text", "rule", "values"} <= set(result["guidance"])
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 60 and "lumen_area_mm2" in rows[0]
    borders = json.loads(contours.read_text())
    assert len(borders["lumen_radius_mm"]) == 60 and len(borders["lumen_radius_mm"][0]) == 360


def test_cli_asks_for_speed_and_frame_rate(pullback_file, capsys):
    path, _ = pullback_file
    assert main(["ivus", str(path)]) == 2
    err = capsys.readouterr().err
    assert "pullback speed and frame rate are unknown" in err
    assert "--pullback-speed" in err and "Traceback" not in err


def test_cli_settings_file_is_checked(pullback_file, tmp_path, capsys):
    path, _ = pullback_file
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"lesion_gap_mm": 1.0, "arc_degrees": 3}))
    code = main(["ivus", str(path), "--pullback-speed", "1", "--frame-rate", "15",
                 "--settings", str(settings)])  # fmt: skip
    assert code == 2
    assert "unknown IVUS settings: arc_degrees" in capsys.readouterr().err


def test_cli_refuses_a_negative_speed(pullback_file, capsys):
    path, _ = pullback_file
    assert main(["ivus", str(path), "--pullback-speed", "-1", "--frame-rate", "15"]) == 2
    assert "pullback_speed_mm_s must be a positive number" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiff_pullback(tmp_path_factory):
    """A 26-frame ImageJ TIFF stack (0.05 mm pixels, no frame interval) of a phantom."""
    import tifffile

    volume, _ = ivus_pullback(
        n_frames=26,
        size=128,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=15.0,
        lesions=[LESION],
        seed=6,
    )
    path = tmp_path_factory.mktemp("tiff") / "pullback.tif"
    tifffile.imwrite(
        path, volume.numpy(), imagej=True, resolution=(20.0, 20.0), metadata={"unit": "mm"}
    )
    return path


def test_cli_reads_a_tiff_stack_with_its_frames(tiff_pullback, tmp_path):
    out = tmp_path / "r.json"
    code = main(["ivus", str(tiff_pullback), "--pullback-speed", "1", "--frame-rate", "15",
                 "--json", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["frames"] == 26 and result["pixel_spacing_mm"] == pytest.approx(0.05)


@pytest.mark.parametrize("n_frames", [1, 2, 26])
@pytest.mark.parametrize("rate", [1.0, 30.0])
def test_any_number_of_frames_at_any_rate_gives_a_result_or_one_line(
    tiff_pullback, tmp_path, capsys, n_frames, rate
):
    import tifffile

    path = tmp_path / f"pb{n_frames}.tif"
    frames = tifffile.imread(tiff_pullback)[:n_frames]
    tifffile.imwrite(path, frames, imagej=True, resolution=(20.0, 20.0), metadata={"unit": "mm"})
    out = tmp_path / "r.json"
    args = ["ivus", str(path), "--pullback-speed", "0.5", "--frame-rate", str(rate)]
    assert main([*args, "--json", str(out)]) == 0
    assert json.loads(out.read_text())["frames"] == n_frames
    # gating needs a rhythm: too few frames or a rate of one frame per beat says so
    code = main([*args, "--gated", "--json", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:
        assert code == 2 and "cannot be gated" in err
        expected = "too few for a cardiac rhythm" if rate == 30.0 else "frames/s"
        assert expected in err
