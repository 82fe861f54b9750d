"""`napari-calcium coronary`: outputs, and clear refusals of bad input."""

import csv
import json

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.cli import main
from napari_calcium.errors import InputError
from napari_calcium.io import read, write
from napari_calcium.phantoms.coronary import calibration_rois, coronary_ct
from napari_calcium.volume import Volume


@pytest.fixture(scope="module")
def phantom_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coronary")
    ct, arteries, truth = coronary_ct(1.5)
    write(ct, folder / "ct.nii.gz")
    write(arteries, folder / "arteries.nii.gz")
    return folder, ct, truth


def test_cli_writes_json_csv_html_and_lesions(phantom_files, tmp_path):
    folder, ct, truth = phantom_files
    out = tmp_path / "out"
    code = main(
        [
            "coronary",
            str(folder / "ct.nii.gz"),
            "--arteries",
            str(folder / "arteries.nii.gz"),
            "--calibration-mg-per-hu",
            "0.8",
            "--json",
            str(out / "r.json"),
            "--csv",
            str(out / "r.csv"),
            "--html",
            str(out / "r.html"),
            "--lesions-out",
            str(out / "lesions.nii.gz"),
        ]
    )
    assert code == 0
    result = json.loads((out / "r.json").read_text())
    assert result["agatston"] == pytest.approx(truth["agatston"])
    assert result["mass_mg"] == pytest.approx(truth["mass_mg"])
    assert result["cac_drs"] == "A2/N4" and result["category"] == "101-400"
    for name in ("LM", "LAD", "LCX", "RCA"):
        assert set(result["per_artery"][name]) >= {"agatston", "volume_mm3", "mass_mg", "lesions"}
    assert set(result["lesions"][0]) >= {
        "id",
        "artery",
        "agatston",
        "volume_mm3",
        "peak_hu",
        "mean_hu",
        "centroid_mm",
    }
    settings = result["settings"]
    assert settings["slice_mode"] == "resample3mm" and settings["resampled_to_3mm"] is True
    assert settings["threshold_hu_used"] == 130 and settings["min_area_mm2"] == 1.0
    assert "series_description" not in settings["acquisition"]

    rows = list(csv.DictReader((out / "r.csv").open()))
    assert len(rows) == truth["lesion_count"]
    assert {"volume_mm3", "peak_hu", "mass_mg", "centroid_z_mm"} <= set(rows[0])
    assert sum(float(r["agatston"]) for r in rows) == pytest.approx(truth["agatston"])

    page = (out / "r.html").read_text()
    assert "CAC-DRS A2/N4" in page and page.count("data:image/png;base64") == 1 + 4
    lesions = read(out / "lesions.nii.gz")
    assert lesions.spacing_mm == pytest.approx((0.45, 0.45, 3.0))  # the 3-mm scoring grid
    assert int(lesions.array.max()) == truth["lesion_count"]
    assert not list(out.glob(".*tmp"))


def test_cli_without_arteries_shows_unassigned_apart_with_no_headline(
    phantom_files, capsys, caplog
):
    folder, _, truth = phantom_files
    assert main(["coronary", str(folder / "ct.nii.gz"), "--slice-mode", "native"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "no artery labels" in caplog.text
    assert any("no artery labels" in w for w in result["warnings"])
    assert result["mass_mg"] is None
    assert result["agatston"] is None and result["agatston_reported"] is None
    assert result["scored"] is False
    assert result["category"] == result["cac_drs"] == "not scored"
    assert "unassigned" not in result["per_artery"]
    assert result["unassigned"]["agatston"] > truth["agatston"]


def test_ct_not_in_hu_is_refused(tmp_path, capsys):
    raw = np.zeros((3, 16, 16), np.uint16)  # unsigned raw values starting at 0
    raw[1, 4:8, 4:8] = 1300
    volume = Volume(raw, (0.5, 0.5, 3.0), modality="CT")
    with pytest.raises(InputError, match="Hounsfield"):
        run_coronary(volume, None)
    signed = volume.replace(array=raw.astype(np.int16) - 24)  # min -24 > -200
    with pytest.raises(InputError, match="minimum is -24"):
        run_coronary(signed, None)
    # turned off (False, as before the check had a rule, is "off"), nothing is checked
    scored = run_coronary(signed, None, CoronarySettings(hu_check=False))
    assert scored["unassigned"]["lesions"] == 1
    assert scored["settings"]["hu_check"] == "off"
    write(volume, tmp_path / "raw.nii.gz")
    assert main(["coronary", str(tmp_path / "raw.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Hounsfield" in err and "Traceback" not in err
    assert "--hu-check cropped" in err
    with pytest.raises(InputError, match="HU check 'maybe' is unknown"):
        CoronarySettings(hu_check="maybe")


def test_a_cropped_ct_in_hu_is_scored_and_raw_values_are_still_refused(tmp_path, capsys):
    ct, arteries, truth = coronary_ct(3.0)
    # the heart region of the phantom around the LAD: 40 HU heart and artery, both LAD
    # lesions (450 HU, 6 x 5 px of 0.2025 mm² over two 3-mm slabs: 6.075 x 4 x 2 = 48.6;
    # 160 HU, 3 x 3 px over one slab: 1.8225 x 1)
    crop = (slice(None), slice(20, 50), slice(60, 100))
    cropped = ct.replace(array=np.asarray(ct.array)[crop])
    labels = arteries.replace(array=np.asarray(arteries.array)[crop])
    assert float(np.min(cropped.array)) > -200  # no air: the default check refuses it
    with pytest.raises(InputError, match="hu_check='cropped'"):
        run_coronary(cropped, labels)
    result = run_coronary(cropped, labels, CoronarySettings(hu_check="cropped"))
    assert result["per_artery"]["LAD"]["agatston"] == pytest.approx(48.6 + 1.8225)
    assert truth["per_artery"]["LAD"]["agatston"] == pytest.approx(48.6 + 1.8225)
    assert result["settings"]["hu_check"] == "cropped"
    assert "cropped inside the body" in result["settings"]["hu_check_rule"]
    # raw stored values (HU + 1024, unsigned), cropped or whole, fail the cropped rule: their
    # soft tissue lies at 874..1174 and the whole scan's air near 0
    for raw in (cropped, ct):
        stored = raw.replace(array=(np.asarray(raw.array) + 1024).astype(np.uint16))
        with pytest.raises(InputError, match="cropped inside the body"):
            run_coronary(stored, None, CoronarySettings(hu_check="cropped"))
    write(cropped, tmp_path / "crop.nii.gz")
    write(labels, tmp_path / "crop_arteries.nii.gz")
    args = ["coronary", str(tmp_path / "crop.nii.gz"), "--arteries"]
    args += [str(tmp_path / "crop_arteries.nii.gz"), "--json", str(tmp_path / "r.json")]
    assert main(args) == 2
    assert main([*args, "--hu-check", "cropped"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["settings"]["hu_check"] == "cropped"
    with pytest.raises(SystemExit) as exit_info:  # argparse: one HU check at a time
        main([*args, "--hu-check", "cropped", "--no-hu-check"])
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_arteries_on_another_grid_are_refused(phantom_files, tmp_path, capsys):
    folder, ct, _ = phantom_files
    arteries = read(folder / "arteries.nii.gz")
    shifted = arteries.replace(origin_mm=(0.0, 0.0, 0.0))
    with pytest.raises(InputError, match="origin"):
        run_coronary(ct, shifted)
    coarse = Volume(np.zeros((10, 64, 64), np.uint8), (0.9, 0.9, 3.0), ct.origin_mm)
    with pytest.raises(InputError, match=r"shape .*spacing"):
        run_coronary(ct, coarse)
    write(coarse, tmp_path / "coarse.nii.gz")
    code = main(
        ["coronary", str(folder / "ct.nii.gz"), "--arteries", str(tmp_path / "coarse.nii.gz")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the artery label image is not on the CT's grid")


def test_unknown_labels_and_bad_settings_are_refused(phantom_files, capsys):
    _, ct, _ = phantom_files
    labels = np.zeros(ct.shape, np.uint8)
    labels[ct.array >= 130] = 7
    with pytest.raises(InputError, match=r"values \[7\]"):
        run_coronary(ct, ct.replace(array=labels))
    with pytest.raises(InputError, match="slice mode"):
        CoronarySettings(slice_mode="2mm")
    with pytest.raises(InputError, match="connectivity"):
        CoronarySettings(connectivity_2d=6)
    with pytest.raises(InputError, match="tube voltage"):
        run_coronary(
            ct.replace(acquisition=type(ct.acquisition)()),
            None,
            CoronarySettings(kvp_adjusted=True),
        )
    assert main(["coronary", "/nonexistent/ct.nii.gz"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_artery_names_score_a_branch_apart(phantom_files, tmp_path, capsys):
    """The 160 HU LAD lesion relabelled 5 and named D1 is scored under D1 (3 x 3
    pixels of 0.45 mm at weight 1 in one 3-mm slab: 1.8225), the total is unchanged,
    N stays 4 (LAD keeps its 450 HU lesion) and a warning says D1 is not in N."""
    folder, ct, truth = phantom_files
    arteries = read(folder / "arteries.nii.gz")
    labels = np.asarray(arteries.array).copy()
    branch = (labels == 2) & (np.asarray(ct.array) < 300)
    labels[branch] = 5
    write(arteries.replace(array=labels), tmp_path / "branch.nii.gz")
    d1 = next(t["agatston"] for t in truth["lesions"] if t["artery"] == "LAD" and t["hu"] == 160)
    args = ["coronary", str(folder / "ct.nii.gz"), "--arteries", str(tmp_path / "branch.nii.gz")]
    assert (
        main([*args, "--artery-names", "LM,LAD,LCX,RCA,D1", "--json", str(tmp_path / "r.json")])
        == 0
    )
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["per_artery"]["D1"]["agatston"] == pytest.approx(d1)
    assert result["per_artery"]["LAD"]["agatston"] == pytest.approx(
        truth["per_artery"]["LAD"]["agatston"] - d1
    )
    assert result["agatston"] == pytest.approx(truth["agatston"])
    assert result["cac_drs"] == "A2/N4"
    assert any("calcium in D1 is not counted in CAC-DRS N" in w for w in result["warnings"])

    # without the name, label 5 is refused with the fix; an empty name is refused too
    assert main([*args, "--json", str(tmp_path / "x.json")]) == 2
    assert "artery labels contain values [5] with no artery name" in capsys.readouterr().err
    assert main([*args, "--artery-names", "LM,,RCA", "--json", str(tmp_path / "x.json")]) == 2
    assert "have an empty entry" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli_threshold_rule_and_category_scheme(phantom_files, tmp_path, capsys):
    folder, ct, truth = phantom_files
    args = ["coronary", str(folder / "ct.nii.gz"), "--arteries", str(folder / "arteries.nii.gz")]
    assert main([*args, "--category-scheme", "mesa"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["agatston"] == pytest.approx(truth["agatston"])  # 188.73
    assert result["category"] == "100-399"  # mesa groups 0/1-99/100-399/>=400
    # NIfTI records no tube voltage: the kV formula cannot be applied
    out = tmp_path / "r.json"
    assert main([*args, "--threshold-rule", "kvp_formula", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "kvp_formula threshold rule needs the tube voltage" in err and not out.exists()
    # the phantom Volume is at 120 kVp: round(378 e^-1.08) = 128 HU, weight 1 from 130 HU;
    # its lesions are all >= 160 HU, so Agatston is unchanged
    arteries = read(folder / "arteries.nii.gz")
    formula = run_coronary(ct, arteries, CoronarySettings(threshold_rule="kvp_formula"))
    assert formula["settings"]["threshold_hu_used"] == 128
    assert formula["agatston"] == pytest.approx(truth["agatston"])


def test_cli_calibration_rois_give_the_threshold_free_measures(phantom_files, tmp_path, capsys):
    folder, ct, truth = phantom_files
    write(calibration_rois(ct, truth), tmp_path / "rois.nii.gz")
    args = ["coronary", str(folder / "ct.nii.gz"), "--arteries", str(folder / "arteries.nii.gz")]
    assert main([*args, "--calibration-rois", str(tmp_path / "rois.nii.gz")]) == 2
    assert "--calibration-rho" in capsys.readouterr().err
    csv_path, html_path = tmp_path / "r.csv", tmp_path / "r.html"
    code = main(
        [*args, "--calibration-rois", str(tmp_path / "rois.nii.gz"), "--calibration-rho", "200"]
        + ["--csv", str(csv_path), "--html", str(html_path)]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    # 200 mg HA/cm³ / (250 - 0 HU) = 0.8; the insert is noise-free: SD 0 -> no SWCS
    assert result["settings"]["calibration_mg_cm3_per_hu"] == pytest.approx(0.8)
    assert result["settings"]["calibration_insert_hu"] == pytest.approx(250)
    assert result["integrated_mass_mg"] is not None and result["swcs"] is None
    assert len(result["mass_regions"]) >= truth["lesion_count"]
    rows = list(csv.DictReader(csv_path.open()))
    assert {"integrated_mass_mg", "volume_fraction_mass_mg", "swcs"} <= set(rows[0])
    by_id = {les["id"]: les for les in result["lesions"]}
    for row in rows:
        lesion = by_id[int(row["lesion_id"])]
        assert float(row["integrated_mass_mg"]) == pytest.approx(lesion["integrated_mass_mg"])
        assert row["swcs"] == ""  # no SWCS without the insert's spread
    page = html_path.read_text()
    assert "<th>integrated mass (mg)</th><th>volume-fraction mass (mg)</th><th>SWCS</th>" in page
    total = page[page.index("<tr class='total'>") :].split("</tr>")[0]
    for key in ("integrated_mass_mg", "volume_fraction_mass_mg"):
        assert f"<td>{result[key]:.2f}</td>" in total
    assert "<td>n/a</td>" in total  # SWCS
