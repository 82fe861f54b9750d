"""The IVUS HTML report (``ivus --html``, :func:`napari_calcium.report.ivus_html`)."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pydicom
import pytest

from napari_calcium.cli import main
from napari_calcium.io import read, write_ultrasound_multiframe
from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.report import atomic_write_text, ivus_html
from napari_calcium.vessel.ivus import run_ivus

#: One superficial 300-degree calcium over 5.6 mm in a small vessel (EEM diameter < 3.5 mm):
#: score items 2 (> 270 deg over > 5 mm) and 4 (small vessel) by construction.
LESION = {"kind": "calcium", "start_mm": 1.0, "length_mm": 5.6, "start_angle_deg": 40.0,
          "arc_deg": 300.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip
IDENTITY = {"PatientName": "Doe^Janet", "PatientID": "MRN-80417", "PatientBirthDate": "19510304"}


class Tables(HTMLParser):
    """Every ``<table>`` of a page as rows of cell texts, and the page's plain text."""

    def __init__(self, page: str):
        super().__init__()
        self.tables, self.text, self._cell = [], [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def table(self, first_heading: str) -> list[dict]:
        """The rows of the table whose first heading is ``first_heading``, as dicts."""
        (rows,) = [t for t in self.tables if t and t[0] and t[0][0] == first_heading]
        return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.fixture(scope="module")
def pullback_dicom(tmp_path_factory):
    """The phantom as an ultrasound multi-frame DICOM carrying a patient's identity."""
    volume, truth = ivus_pullback(
        n_frames=120,
        size=128,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=15.0,
        lesions=[LESION],
        lumen_radius_mm=(1.3, 1.25),
        eem_radius_mm=(1.65, 1.6),
        seed=4,
    )
    folder = tmp_path_factory.mktemp("ivus_report")
    path = write_ultrasound_multiframe(volume, folder / "pullback.dcm")
    ds = pydicom.dcmread(path)
    for key, value in IDENTITY.items():
        setattr(ds, key, value)
    ds.save_as(path)
    return path, truth


@pytest.fixture(scope="module")
def written(pullback_dicom, tmp_path_factory):
    path, truth = pullback_dicom
    out = tmp_path_factory.mktemp("out")
    code = main(["ivus", str(path), "--json", str(out / "r.json"), "--html", str(out / "r.html")])
    assert code == 0
    result = json.loads((out / "r.json").read_text())
    return result, (out / "r.html").read_text(), truth, out


def test_report_lesion_table_holds_the_results_numbers_and_the_truth(written):
    result, page, truth, _ = written
    (lesion,) = result["lesions"]
    (row,) = Tables(page).table("lesion")
    assert row["lesion"] == str(lesion["id"])
    for key, heading in (("start_mm", "start (mm)"), ("end_mm", "end (mm)"),
                         ("length_mm", "length (mm)"), ("min_lumen_area_mm2", "min lumen area (mm²)"),
                         ("reference_vessel_diameter_mm", "reference vessel diameter (mm)")):  # fmt: skip
        assert row[heading] == f"{lesion[key]:.2f}"
    assert row["max arc (deg)"] == f"{lesion['max_arc_deg']:.1f}"
    assert row["arc grade"] == lesion["arc_grade"]
    assert row["distal reference frame"] == str(lesion["distal_reference_frame"])
    assert row["IVUS calcium score"] == str(lesion["ivus_calcium_score"]["total"])
    # and those numbers are the phantom's construction
    (true,) = truth["lesions"]
    assert float(row["length (mm)"]) == pytest.approx(true["length_mm"], abs=0.5)
    assert float(row["start (mm)"]) == pytest.approx(true["start_mm"], abs=0.3)
    assert float(row["max arc (deg)"]) == pytest.approx(300.0, abs=15.0)
    assert row["arc grade"] == "IV" and row["superficial"] == "yes"
    assert row["circumferential"] == "yes"


def test_report_score_items_and_guidance_are_the_results_and_the_truth(written):
    result, page, truth, _ = written
    tables = Tables(page)
    items = tables.table("item")
    score = result["ivus_calcium_score"]
    assert [r["item"] for r in items] == [i["item"] for i in score["items"]] + ["Total"]
    assert [int(r["point"]) for r in items] == [i["point"] for i in score["items"]] + [
        score["total"]
    ]
    diameter = score["items"][3]["measured"]["vessel_diameter_mm"]
    assert items[3]["measured"] == f"vessel_diameter_mm = {diameter}"
    (true,) = truth["lesions"]
    expected = [true["score_items"][i["key"]] for i in score["items"]]
    assert [bool(int(r["point"])) for r in items[:4]] == expected
    assert int(items[4]["point"]) == true["score"] == 2
    # guidance: each trigger's rule with its measured value, the category and the rule
    triggers = tables.table("trigger (rule)")
    assert [(r["trigger (rule)"], r["measured"]) for r in triggers] == [
        (t["rule"], t["measured"]) for t in result["guidance"]["triggers"]
    ]
    rules = {r["trigger (rule)"] for r in triggers}
    assert {"maximum arc >= 270 deg", "continuous calcium length > 5 mm", "superficial calcium",
            "IVUS calcium score >= 2"} <= rules  # fmt: skip
    text = "".join(tables.text)
    assert result["guidance"]["text"] in text and result["guidance"]["rule"] in text
    assert f"Category: {result['guidance']['category']}" in text


def test_report_has_the_lmode_and_the_plots_and_no_patient_identity(written, pullback_dicom):
    result, page, _, out = written
    assert page.count("data:image/png;base64,") == 2  # L-mode and the plots along the pullback
    assert 'alt="L-mode"' in page and "mm from catheter" not in page  # axes are inside the image
    assert f"{result['frames_measured']} of {result['frames']} frames measured" in page
    ds = pydicom.dcmread(pullback_dicom[0], stop_before_pixels=True)
    assert str(ds.PatientName) == "Doe^Janet"  # the input does carry it
    words = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # the page but images
    for value in (*IDENTITY.values(), "Doe", "Janet", "1951-03-04", "pullback.dcm"):
        assert value not in words
    assert not list(out.glob(".*.tmp"))


def test_python_api_report_without_the_pullback_says_the_lmode_needs_it(pullback_dicom):
    volume = read(pullback_dicom[0])
    kept = []
    result = run_ivus(volume, analysis_out=kept)
    page = ivus_html(result)
    assert page.count("data:image/png;base64,") == 1
    assert "longitudinal view needs the pullback" in page
    full = ivus_html(result, volume, kept[0], angle_deg=90.0)
    assert "at 90 / 270 deg" in full


def test_report_write_is_atomic(written, tmp_path):
    result, page, _, _ = written
    target = tmp_path / "report.html"
    target.write_text("previous report")
    with pytest.raises(UnicodeEncodeError):  # fails while the file is being written
        atomic_write_text(target, ivus_html(result) + "\ud800")
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_report_of_a_pullback_without_calcium(tmp_path):
    volume, _ = ivus_pullback(n_frames=20, size=96, lesions=[], seed=1)
    result = run_ivus(volume.with_pullback(1.0, 15.0))
    tables = Tables(ivus_html(result))
    assert tables.table("lesion") == []
    assert int(tables.table("item")[-1]["point"]) == 0
    assert np.isclose(result["frames"], 20)
