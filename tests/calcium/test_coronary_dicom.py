"""DICOM SEG + SR of a coronary reading, read back with pydicom and highdicom: segments
equal to the reader's labels voxel for voxel, geometry equal to the CT slice for slice,
per-artery scores equal to the reading's (and to the sample's construction truth), no
patient identity unless asked."""

import json
import shutil
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from napari_calcium.cli import main
from napari_calcium.io import read, write

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "coronary-ct"
IDENTITY = {"PatientName": "DOE^JANE", "PatientID": "12345", "PatientBirthDate": "19500101"}
#: (code value, scheme, unit) of each measurement, as DICOM defines them (CID 3722 / UCUM).
SCORES = {
    "agatston": ("112058", "DCM", "1"),  # Calcium score (Agatston method 112055)
    "volume_mm3": ("122660", "DCM", "mm3"),  # Calcium Volume
    "mass_mg": ("122661", "DCM", "mg"),  # Calcium Mass
}
#: SNOMED CT codes of the arteries (LM, LAD, circumflex, RCA).
ARTERY_CODES = {"LM": "3227004", "LAD": "59438005", "LCX": "57396003", "RCA": "13647002"}


@pytest.fixture(scope="module")
def patient_ct(tmp_path_factory):
    """The sample coronary CT series with a patient's identity written into every file."""
    folder = tmp_path_factory.mktemp("patient") / "ct"
    shutil.copytree(SAMPLE / "ct", folder)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        for keyword, value in IDENTITY.items():
            setattr(ds, keyword, value)
        ds.save_as(path)
    return folder


def _export(tmp_path, ct_path, *extra):
    out = {name: tmp_path / f"{name}.dcm" for name in ("seg", "sr")}
    code = main(
        [
            "coronary",
            str(ct_path),
            "--arteries",
            str(SAMPLE / "artery_labels.nii.gz"),
            "--calibration-mg-per-hu",
            "0.8",
            "--dicom-seg",
            str(out["seg"]),
            "--dicom-sr",
            str(out["sr"]),
            "--json",
            str(tmp_path / "result.json"),
            *extra,
        ]
    )
    assert code == 0
    return out, json.loads((tmp_path / "result.json").read_text())


def _segment_labels(seg, ct_files):
    """The SEG as one label image in the CT's slice order (label = segment number)."""
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in ct_files]
    return seg.get_pixels_by_source_instance(uids, combine_segments=True)


def _ct_files_in_order(folder):
    files = list(Path(folder).iterdir())
    return sorted(files, key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))


def _check_geometry(seg_path, ct_files):
    """Every SEG frame lies on the CT slice it references: position, orientation, spacing."""
    seg = pydicom.dcmread(seg_path)
    slices = {pydicom.dcmread(f).SOPInstanceUID: pydicom.dcmread(f) for f in ct_files}
    shared = seg.SharedFunctionalGroupsSequence[0]
    first = next(iter(slices.values()))
    orientation = shared.PlaneOrientationSequence[0].ImageOrientationPatient
    assert np.allclose(
        [float(v) for v in orientation], [float(v) for v in first.ImageOrientationPatient]
    )
    measures = shared.PixelMeasuresSequence[0]
    assert np.allclose(
        [float(v) for v in measures.PixelSpacing], [float(v) for v in first.PixelSpacing]
    )
    assert float(measures.SliceThickness) == pytest.approx(float(first.SliceThickness))
    assert (seg.Rows, seg.Columns) == (first.Rows, first.Columns)
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID
    referenced = set()
    for frame in seg.PerFrameFunctionalGroupsSequence:
        uid = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        position = frame.PlanePositionSequence[0].ImagePositionPatient
        assert np.allclose(
            [float(v) for v in position], [float(v) for v in slices[uid].ImagePositionPatient]
        )
        referenced.add(uid)
    assert referenced == set(slices)
    return seg


def _measurements(group):
    """A group's measurements by result key (``agatston`` ...), others by code meaning."""
    keys = {code: key for key, (code, _, _) in SCORES.items()}
    return {keys.get(m.name.value, m.name.meaning): m for m in group.get_measurements()}


def test_seg_and_sr_of_the_sample_reading_read_back_equal(tmp_path, patient_ct):
    out, report = _export(tmp_path, patient_ct)
    assert report["dicom_export"]["referenced_ct"]["kind"] == "source"
    ct_files = _ct_files_in_order(patient_ct)
    ct_first = pydicom.dcmread(ct_files[0])

    # SEG: the reader's labels voxel for voxel, on the CT's own slices
    seg = hd.seg.segread(out["seg"])
    arteries = np.asarray(read(SAMPLE / "artery_labels.nii.gz").array)
    assert np.array_equal(_segment_labels(seg, ct_files), arteries)
    names = {int(d.SegmentNumber): d.SegmentLabel for d in seg.SegmentSequence}
    assert names == {1: "LM calcium", 2: "LAD calcium", 3: "LCX calcium", 4: "RCA calcium"}
    lad = next(d for d in seg.SegmentSequence if d.SegmentNumber == 2)
    for description in seg.SegmentSequence:
        artery = description.SegmentLabel.removesuffix(" calcium")
        assert description.AnatomicRegionSequence[0].CodeValue == ARTERY_CODES[artery]
    assert lad.SegmentedPropertyTypeCodeSequence[0].CodeValue == "29483008"
    _check_geometry(out["seg"], ct_files)
    assert seg.StudyInstanceUID == ct_first.StudyInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct_first.SeriesInstanceUID

    # SR: per-artery Agatston, volume, mass with their codes and units
    truth = json.loads((SAMPLE / "truth.json").read_text())
    sr = hd.sr.srread(out["sr"])
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert len(groups) == 4
    for group in groups:
        number = group.referenced_segment.referenced_segment_numbers[0]
        artery = names[number].removesuffix(" calcium")
        assert group.referenced_segment.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert group.finding_sites[0].value.value == ARTERY_CODES[artery]
        found = _measurements(group)
        for key, (code, scheme, unit) in SCORES.items():
            m = found[key]
            assert (m.name.value, m.name.scheme_designator, m.unit.value) == (code, scheme, unit)
            assert m.value == pytest.approx(report["per_artery"][artery][key], rel=1e-9)
            assert m.value == pytest.approx(truth["per_artery"][artery][key], rel=1e-6)
        assert found["agatston"].method.value == "112055"  # Agatston scoring method
    (total,) = sr.content.get_image_measurement_groups()
    assert total.finding_sites[0].value.value == "41801008"  # SCT coronary artery
    found = _measurements(total)
    for key in SCORES:
        assert found[key].value == pytest.approx(report[key], rel=1e-9)
        assert found[key].value == pytest.approx(truth[key], rel=1e-6)
    threshold = found["Agatston Score Threshold"]
    assert (threshold.name.value, threshold.value, threshold.unit.value) == (
        "122657",
        130.0,
        "[hnsf'U]",
    )

    # privacy: the CT's patient identity is not copied
    for document in (seg, sr):
        for keyword in IDENTITY:
            assert str(document.get(keyword, "")) == ""
    assert str(ct_first.PatientName) == IDENTITY["PatientName"]


def test_patient_identity_is_kept_only_when_asked(tmp_path, patient_ct):
    out, _ = _export(tmp_path, patient_ct, "--dicom-patient-identity")
    for name in ("seg", "sr"):
        ds = pydicom.dcmread(out[name])
        assert {k: str(ds.get(k)) for k in IDENTITY} == IDENTITY


def test_ct_from_nifti_is_referenced_as_a_derived_series(tmp_path):
    ct = read(SAMPLE / "ct")
    nifti = tmp_path / "ct.nii.gz"
    write(ct, nifti)
    out, report = _export(tmp_path, nifti)
    export = report["dicom_export"]["referenced_ct"]
    folder = Path(export["folder"])
    assert export["kind"] == "derived" and folder == tmp_path / "seg_ct"
    derived = read(folder)
    assert np.array_equal(np.asarray(derived.array), np.round(np.asarray(ct.array)))
    assert np.allclose(derived.origin_mm, ct.origin_mm) and np.allclose(
        derived.spacing_mm, ct.spacing_mm
    )
    assert np.allclose(derived.direction, ct.direction)
    files = _ct_files_in_order(folder)
    assert pydicom.dcmread(files[0]).ImageType[:2] == ["DERIVED", "SECONDARY"]
    seg = hd.seg.segread(out["seg"])
    assert np.array_equal(
        _segment_labels(seg, files), np.asarray(read(SAMPLE / "artery_labels.nii.gz").array)
    )
    _check_geometry(out["seg"], files)
    assert hd.sr.srread(out["sr"]).StudyInstanceUID == pydicom.dcmread(files[0]).StudyInstanceUID


def test_export_without_artery_labels_is_refused(tmp_path, capsys):
    code = main(["coronary", str(SAMPLE / "ct"), "--dicom-seg", str(tmp_path / "seg.dcm")])
    assert code == 2
    assert "error: --dicom-seg / --dicom-sr export the reader's artery labels" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "seg.dcm").exists()
