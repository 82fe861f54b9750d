"""DICOM IVUS Pullback Start/Stop Frame Number limit the measured frames (unless asked)."""

import json

import pytest

from napari_calcium.cli import main
from napari_calcium.cohort.manifest import read_manifest, write_manifest
from napari_calcium.io import read, write_ultrasound_multiframe
from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.volume import Acquisition

#: 60 frames at 1/15 mm. The pullback runs from frame 20 to 59; before it the catheter is
#: drawn with a calcium (frames 3-11) that the measured pullback must not report.
FIRST, LAST = 20, 59
BEFORE = {"kind": "calcium", "start_mm": 0.2, "length_mm": 0.6, "start_angle_deg": 30.0,
          "arc_deg": 150.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip
INSIDE = {"kind": "calcium", "start_mm": 2.0, "length_mm": 1.2, "start_angle_deg": 200.0,
          "arc_deg": 120.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip


@pytest.fixture(scope="module")
def dicom(tmp_path_factory):
    volume, truth = ivus_pullback(
        n_frames=60,
        size=128,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=15.0,
        lesions=[BEFORE, INSIDE],
        seed=3,
    )
    acquisition = Acquisition(
        pullback_speed_mm_s=1.0, frame_rate_hz=15.0, pullback_start_frame=FIRST,
        pullback_stop_frame=LAST,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("span") / "pullback.dcm"
    write_ultrasound_multiframe(volume.replace(acquisition=acquisition), path)
    return path, truth


def run(path, tmp_path, *extra):
    """``napari-calcium ivus`` without --pullback-speed: the DICOM's IVUS Pullback Rate."""
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    assert main(["ivus", str(path), "--json", str(out), "--html", str(page), *extra]) == 0
    return json.loads(out.read_text()), page.read_text()


def test_only_the_pullback_frames_are_measured_and_the_result_says_so(dicom, tmp_path):
    path, truth = dicom
    acq = read(path).acquisition
    assert (acq.pullback_start_frame, acq.pullback_stop_frame) == (FIRST, LAST)
    result, page = run(path, tmp_path)
    assert result["frame_spacing_mm"] == pytest.approx(1.0 / 15.0)
    assert [r["index"] for r in result["per_frame"]] == list(range(FIRST, LAST + 1))
    assert f"40 of 60 frames measured (every frame between frames {FIRST} and {LAST}" in page
    assert result["frames"] == 60 and result["frames_measured"] == LAST - FIRST + 1
    assert result["pullback_span"]["first"] == FIRST and result["pullback_span"]["last"] == LAST
    assert "IVUS Pullback Start/Stop Frame Number" in result["pullback_span"]["source"]
    assert any(f"only frames {FIRST}-{LAST} of 60 are measured" in m for m in result["messages"])
    # the calcium drawn before the pullback starts is not reported; the one inside is,
    # where the construction put it (positions stay mm from the file's first frame)
    (lesion,) = result["lesions"]
    true = truth["lesions"][1]
    assert lesion["start_mm"] == pytest.approx(true["start_mm"], abs=0.2)
    assert lesion["length_mm"] == pytest.approx(true["length_mm"], abs=0.5)
    refs = (lesion["distal_reference_frame"], lesion["proximal_reference_frame"])
    assert all(FIRST <= f <= LAST for f in refs if f is not None)


def test_all_frames_measures_every_frame_and_says_the_file_has_a_pullback(dicom, tmp_path):
    path, truth = dicom
    result, page = run(path, tmp_path, "--all-frames")
    assert "60 of 60 frames measured (every frame)" in page
    assert result["frames_measured"] == 60 and result["pullback_span"] is None
    assert any("all 60 frames were measured, as asked" in m for m in result["messages"])
    assert len(result["lesions"]) == 2
    assert result["lesions"][0]["start_mm"] == pytest.approx(
        truth["lesions"][0]["start_mm"], abs=0.2
    )


def test_gated_frames_are_limited_to_the_pullback_too(dicom):
    from napari_calcium.vessel.ivus import analyse_pullback, measure, pullback_span

    volume = read(dicom[0])
    analysis = analyse_pullback(volume)
    span, _ = pullback_span(volume)
    result = measure(analysis, [5, 15, 25, 35, 59], span)
    assert [r["index"] for r in result["per_frame"]] == [25, 35, 59]


def test_a_file_without_pullback_frames_measures_every_frame(dicom):
    from napari_calcium.vessel.ivus import pullback_span

    volume = read(dicom[0])
    whole = volume.replace(acquisition=Acquisition(pullback_speed_mm_s=1.0, frame_rate_hz=15.0))
    assert pullback_span(whole) == (None, None)
    everything = Acquisition(pullback_speed_mm_s=1.0, frame_rate_hz=15.0,
                             pullback_start_frame=0, pullback_stop_frame=59)  # fmt: skip
    assert pullback_span(volume.replace(acquisition=everything)) == (None, None)


def test_manifest_column_all_frames_passes_the_flag(dicom, tmp_path):
    rows = [{"subject_id": "s1", "analysis": "ivus", "pullback": str(dicom[0]),
             "all_frames": "true"}]  # fmt: skip
    (subject,) = read_manifest(write_manifest(rows, tmp_path / "manifest.csv"))
    assert "--all-frames" in subject.cli_args()
