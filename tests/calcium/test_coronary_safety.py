"""Coronary safety: contrast CT refused, unassigned calcium never a headline, implausible
lesions flagged before they count. Phantoms built here (a chest with blood pool, spine
and one coronary lesion), the real contrast CT of TotalSegmentator's tests when present
(local only) and real non-contrast CTs (held out: the rule was not tuned on them)."""

import json

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, measure_coronary, run_coronary
from napari_calcium.calcium.safety import blood_pool
from napari_calcium.cli import main
from napari_calcium.errors import InputError
from napari_calcium.io import read, write
from napari_calcium.volume import Volume


def chest(blood_hu, pixel_mm=0.8, slice_mm=3.0, noise_hu=20.0, seed=0):
    """A chest section: body at 40 HU in air, a 50-mm ventricle and a 28-mm aorta at
    ``blood_hu``, a spine of 36-mm vertebral bodies (250 HU core, 900 HU shell, 90 HU
    discs every 24 mm) and a 4 x 4 mm coronary lesion at 500 HU on the ventricle wall.

    Returns the CT, the reader's arteries (lesion -> 2 LAD) and the masks of the blood
    pool and the lesion."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = int(120 / slice_mm), int(160 / pixel_mm), int(160 / pixel_mm)
    z, y, x = np.meshgrid(
        (np.arange(nz) + 0.5) * slice_mm,
        (np.arange(ny) + 0.5) * pixel_mm - 80,
        (np.arange(nx) + 0.5) * pixel_mm - 80,
        indexing="ij",
    )
    ct = np.full((nz, ny, nx), -1000.0)
    ct[(x / 75) ** 2 + (y / 60) ** 2 <= 1] = 40.0
    ventricle = (x + 10) ** 2 + (y + 15) ** 2 + (z - 60) ** 2 <= 25**2
    aorta = (x - 25) ** 2 + (y + 5) ** 2 <= 14**2
    pool = ventricle | aorta
    ct[pool] = blood_hu
    spine_r = np.hypot(x, y - 40)
    ct[spine_r <= 18] = 900.0
    ct[spine_r <= 16] = 250.0
    ct[(spine_r <= 18) & (z % 24 < 4)] = 90.0
    lesion = (np.abs(x + 10) <= 2) & (np.abs(y + 42) <= 2) & (np.abs(z - 60) <= 3)
    ct[lesion] = 500.0
    ct += rng.normal(0, noise_hu, ct.shape)
    spacing = (pixel_mm, pixel_mm, slice_mm)
    volume = Volume(np.round(ct).astype(np.int16), spacing, modality="CT")
    arteries = volume.replace(array=(lesion * 2).astype(np.uint8), modality="LABELS")
    return volume, arteries, pool, lesion


@pytest.mark.parametrize(
    "pixel_mm, slice_mm, noise_hu", [(0.8, 3.0, 20.0), (1.2, 1.5, 45.0)], ids=["3mm", "1.5mm"]
)
def test_contrast_blood_pool_is_found_and_the_scan_refused(pixel_mm, slice_mm, noise_hu):
    ct, arteries, pool, _ = chest(380.0, pixel_mm, slice_mm, noise_hu)
    found = blood_pool(ct)
    assert found["enhanced"]
    assert found["blood_pool_hu"] == pytest.approx(380.0, abs=10)
    # the deep part of the ventricle alone: a 20-mm-radius ball (4/3 pi 20³ = 33.5 mL)
    assert found["blood_pool_volume_ml"] > 4 / 3 * np.pi * 20**3 / 1000
    with pytest.raises(InputError, match="contrast-enhanced.*380 HU"):
        run_coronary(ct, arteries)
    allowed = run_coronary(ct, arteries, CoronarySettings(allow_contrast=True))
    assert any("contrast-enhanced" in w and "not valid" in w for w in allowed["warnings"])
    assert allowed["contrast"]["enhanced"] is True


@pytest.mark.parametrize("noise_hu", [20.0, 45.0])
def test_non_contrast_twin_with_the_same_spine_is_scored(noise_hu):
    ct, arteries, _, lesion = chest(40.0, noise_hu=noise_hu)
    assert not blood_pool(ct)["enhanced"]
    report = run_coronary(ct, arteries)
    assert report["scored"] and report["contrast"]["enhanced"] is False
    assert report["per_artery"]["LAD"]["lesions"] == 1
    # 4 x 4 mm at 500 HU (weight 4) on 3-mm slices: the lesion covers 5 x 5 pixels of
    # 0.8 mm and two slices (z 57-63 mm): 2 x 16 mm² x 4 = 128
    assert report["agatston"] == pytest.approx(2 * 25 * 0.64 * 4)
    assert report["agatston_reported"] == 128


def test_one_click_on_the_blood_pool_is_flagged_not_counted():
    ct, arteries, pool, _ = chest(380.0)
    clicked = np.asarray(arteries.array).copy()
    clicked[pool] = 2  # the reader's click assigned the whole blood pool to the LAD
    settings = CoronarySettings(allow_contrast=True)
    report = run_coronary(ct, arteries.replace(array=clicked), settings)
    flagged = [item for item in report["implausible"] if item["artery"] == "LAD"]
    assert flagged and any("volume" in r for r in flagged[0]["reasons"])
    # the lesion on the ventricle wall joins the blood pool: the whole region is held
    # back, so nothing counts until the reader excludes the pool
    assert report["per_artery"]["LAD"]["lesions"] == 0 and report["agatston"] == 0
    assert report["lesions"][0]["counted"] is False
    counted = run_coronary(
        ct,
        arteries.replace(array=clicked),
        CoronarySettings(allow_contrast=True, count_implausible=True),
    )
    # 5 x ~40 mm² slices of the 50-mm ventricle alone, weight 3, is over 500
    assert counted["agatston"] > 500


def test_lesion_outside_the_heart_and_metal_are_flagged():
    ct, arteries, _, lesion = chest(40.0)
    labels = np.asarray(arteries.array).copy()
    array = np.asarray(ct.array).copy()
    # a "stent" of 3500 HU assigned to the RCA inside the heart, and the spine's shell
    # next to it assigned to the LCX
    z, y, x = np.nonzero(lesion)
    array[z, y, x + 20] = 3500
    labels[z, y, x + 20] = 4
    spine = np.zeros_like(labels, bool)
    spine[:, int((40 + 80) / 0.8) :, int(78 / 0.8) : int(82 / 0.8)] = True  # back of the shell
    labels[spine & (array > 700)] = 3
    heart = ct.replace(array=np.zeros(ct.shape, np.uint8), modality="LABELS")
    heart.array[:, : int(100 / 0.8), :] = 1  # y < 20 mm: in front of the spine
    report = run_coronary(ct.replace(array=array), ct.replace(array=labels), heart=heart)
    reasons = {item["artery"]: " ".join(item["reasons"]) for item in report["implausible"]}
    assert "metal" in reasons["RCA"] and "outside the heart" in reasons["LCX"]
    assert "LAD" not in reasons
    assert report["per_artery"]["RCA"]["agatston"] == report["per_artery"]["LCX"]["agatston"] == 0
    assert report["agatston"] == pytest.approx(128)


def test_real_contrast_ct_is_refused_and_never_headlined(local_data, tmp_path, capsys):
    path = local_data("totalseg/ct_cropped.nii.gz")
    heart_path = local_data("totalseg/heart.nii.gz")
    found = blood_pool(read(path, modality="CT"))
    assert found["enhanced"] and 250 < found["blood_pool_hu"] < 600
    assert main(["coronary", str(path)]) == 2
    assert "error: the CT looks contrast-enhanced" in capsys.readouterr().err

    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    args = ["coronary", str(path), "--allow-contrast", "--json", str(out), "--html", str(html)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["agatston"] is None and report["cac_drs"] == "not scored"
    assert report["unassigned"]["agatston"] > 1000  # bone and blood pool, shown apart
    text = html.read_text()
    assert "No coronary score" in text and "CAC-DRS A" not in text

    # one click on the largest candidate (blood pool and bone) assigns it to the LAD
    ct = read(path, modality="CT")
    from scipy import ndimage

    labels, _ = ndimage.label(np.asarray(ct.array) >= 130)
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    arteries = ct.replace(array=((labels == largest) * 2).astype(np.uint8), modality="LABELS")
    write(arteries, tmp_path / "arteries.nii.gz")
    args += ["--arteries", str(tmp_path / "arteries.nii.gz"), "--heart", str(heart_path)]
    assert main(args) == 0
    report = json.loads(out.read_text())
    assert report["agatston"] == 0 and report["implausible"][0]["artery"] == "LAD"


def test_real_non_contrast_cts_are_not_flagged(real_data):
    paths = [real_data / "ct_siemens_20slices"]
    paths += sorted((real_data / "ibsi_sts").glob("STS_*/CT_image.nii.gz"))
    for path in paths:
        found = blood_pool(read(path, modality="CT"))
        assert not found["enhanced"], (path, found)


def test_measure_coronary_keeps_flags_on_lesion_rows():
    ct, arteries, _, _ = chest(40.0)
    result = measure_coronary(ct, arteries)
    row = result.report["lesions"][0]
    assert row["counted"] is True and row["flags"] == []


def test_html_report_cites_only_files_of_the_repository(tmp_path):
    import re
    from pathlib import Path

    from napari_calcium.report import coronary_html

    ct, arteries, _, _ = chest(40.0)
    text = coronary_html(run_coronary(ct, arteries))
    cited = set(re.findall(r"[\w/.-]+\.md", text))
    repository = Path(__file__).resolve().parents[2]
    assert cited == {"docs/coronary.md"}
    assert all((repository / name).is_file() for name in cited)
    assert "Agatston 128</b>" in text
