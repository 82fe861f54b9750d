"""DICOM export of a coronary reading: the artery labels as a Segmentation, the scores as
a Structured Report, both written with highdicom and referencing the CT series.

* **SEG** (DICOM Segmentation, BINARY): one segment per artery name, segment number =
  label value (1 LM, 2 LAD, 3 LCX, 4 RCA, then any branch), holding the reader's artery
  labels voxel for voxel on the CT grid (Segmented Property Category "Morphologically
  Abnormal Structure" SCT 49755003, Type "Calcified atheromatous plaque" SCT 29483008,
  Anatomic Region the artery). The calcium scored is the part of each label at or above
  the threshold recorded in the SR.
* **SR** (Comprehensive 3D SR, TID 1500 Measurement Report): one volumetric measurement
  group per artery referencing its segment, with Calcium score (DCM 112058, Agatston
  method DCM 112055, no units), Calcium Volume (DCM 122660, mm3) and, when calibrated,
  Calcium Mass (DCM 122661, mg), then one group for the whole coronary tree with the
  totals and the Agatston score threshold (DCM 122657, HU). The values are those of the
  result (``per_artery`` and the totals: implausible lesions not counted stay out, as in
  every other export).

**Which CT is referenced.** A CT read from DICOM (a folder or its files) is referenced
as it is: the SEG frames point to its SOP instances and share its study and frame of
reference. A CT that has no DICOM behind it (NIfTI, NRRD, MHA), or whose files do not
match the array slice for slice (a series resampled on reading, an enhanced multi-frame
file), is first written as a derived DICOM CT series by
:func:`napari_calcium.io.dicom_write.write_dicom_series` (ImageType DERIVED\\SECONDARY, values
rounded to integer HU) in a folder beside the SEG, and the SEG and SR reference that
series; the result says which (``referenced_ct``).

Patient name, ID and birth date are left empty unless ``patient_identity=True``
(highdicom copies them from the CT otherwise).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.io.atomic import atomic_file
from napari_calcium.volume import Volume

log = logging.getLogger(__name__)

#: Patient attributes emptied in the SEG and SR unless asked (type 2: present, empty).
IDENTITY_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate")
#: Type 2 attributes (present, possibly empty) highdicom copies from the CT into the
#: SEG and SR; filled in empty when a CT file leaves them out.
TYPE2_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ReferringPhysicianName",
)
#: Largest distance (mm) between a DICOM slice's position and the array's slice.
POSITION_TOL_MM = 0.01


def _codes():
    from pydicom.sr.codedict import codes

    return codes


def artery_code(name: str):
    """The SNOMED CT code of a coronary artery name (LM, LAD, LCX, RCA); other names
    (branches) get "Coronary artery" (SCT 41801008)."""
    sct = _codes().SCT
    return {
        "LM": sct.LeftMainCoronaryArtery,
        "LAD": sct.AnteriorDescendingBranchOfLeftCoronaryArtery,
        "LCX": sct.CircumflexCoronaryArtery,
        "RCA": sct.RightCoronaryArtery,
    }.get(name.upper(), sct.CoronaryArtery)


# ------------------------------------------------------------------ the CT
def source_ct_datasets(ct: Volume, path) -> list | None:
    """The DICOM datasets behind ``ct``, in array slice order, or ``None``.

    ``path`` is what the CT was read from (a DICOM folder or file, or anything else).
    The files of the series whose slices match the array one for one (size, orientation,
    pixel spacing, positions within 0.01 mm) are returned with their pixel data; a
    non-DICOM path or a series that does not match gives ``None``.
    """
    import pydicom

    from napari_calcium.io.dicom import is_dicom_file, list_series

    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        candidates = [list(s.files) for s in list_series(path)]
    elif path.is_file() and is_dicom_file(path):
        candidates = [[path]]
    else:
        return None
    nz, ny, nx = ct.shape
    direction = ct.direction
    sx, sy, sz = ct.spacing_mm
    expected = np.asarray(ct.origin_mm) + np.outer(np.arange(nz) * sz, direction[:, 2])
    for files in candidates:
        if len(files) != nz:
            continue
        headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
        try:
            positions = np.array([[float(v) for v in h.ImagePositionPatient] for h in headers])
            orientation = np.array([float(v) for v in headers[0].ImageOrientationPatient])
            spacing = [float(v) for v in headers[0].PixelSpacing]
        except (AttributeError, TypeError, ValueError):
            continue
        order = np.argsort((positions - expected[0]) @ direction[:, 2])
        same = (
            all((int(h.Rows), int(h.Columns)) == (ny, nx) for h in headers)
            and np.allclose(orientation, [*direction[:, 0], *direction[:, 1]], atol=1e-4)
            and np.allclose(spacing, [sy, sx], rtol=1e-4)
            and np.allclose(positions[order], expected, atol=POSITION_TOL_MM)
        )
        if same:
            return [pydicom.dcmread(files[k]) for k in order]
    return None


def derived_ct_datasets(ct: Volume, folder) -> list:
    """Write ``ct`` as a derived DICOM CT series in ``folder`` and return its datasets in
    array slice order (see the module docstring)."""
    import pydicom

    from napari_calcium.io.dicom_write import write_dicom_series

    try:
        write_dicom_series(
            ct.replace(modality="CT"),
            folder,
            series_description="CT written by napari-calcium for its DICOM SEG/SR",
            patient_name="",
            overwrite=True,
        )
    except ValueError as err:
        raise InputError(f"the CT cannot be written as DICOM: {err}") from None
    files = sorted(Path(folder).glob("slice_*.dcm"))
    return [pydicom.dcmread(f) for f in files]


# ------------------------------------------------------------------ SEG + SR
def coronary_seg(datasets: list, arteries: Volume, names: dict[int, str]):
    """The DICOM Segmentation of the artery labels (segment number = label value).

    ``datasets`` are the CT slices in array order; ``arteries`` the label image on the
    CT grid; ``names`` label value -> artery name (every label in the image is named).
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    from napari_calcium import __version__

    codes = _codes()
    labels = np.asarray(arteries.array)
    unknown = sorted(set(np.unique(labels).tolist()) - {0} - set(names))
    if unknown:
        raise InputError(
            f"artery labels contain values {unknown} with no artery name",
            "relabel those voxels or name them (--artery-names)",
        )
    count = max(names)
    if sorted(names) != list(range(1, count + 1)):
        raise InputError(f"artery labels must be numbered 1..n, got {sorted(names)}")
    algorithm = hd.AlgorithmIdentificationSequence(
        name="napari-calcium coronary reading",
        version=__version__,
        family=codes.cid7162.ManualProcessing,  # the reader assigns each region
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=code,
            segment_label=f"{names[code]} calcium",
            segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
            segmented_property_type=codes.SCT.CalcifiedAtheromatousPlaque,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=generate_uid(),
            tracking_id=f"{names[code]} calcium",
            anatomic_regions=[artery_code(names[code])],
        )
        for code in range(1, count + 1)
    ]
    return hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=labels.astype(np.uint16),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=901,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="napari-calcium",
        manufacturer_model_name="napari-calcium",
        software_versions=__version__,
        device_serial_number="none",
        series_description="coronary artery calcium labels",
        omit_empty_frames=False,
    )


def coronary_sr(seg, datasets: list, report: dict[str, Any]):
    """The TID 1500 Measurement Report of a coronary result, referencing ``seg``'s segments
    (see the module docstring for the codes)."""
    import highdicom as hd
    from pydicom.sr.coding import Code
    from pydicom.uid import generate_uid

    from napari_calcium import __version__

    codes = _codes()
    milligram = Code("mg", "UCUM", "milligram")
    hounsfield = codes.UCUM.HounsfieldUnit
    source_series = hd.sr.SourceSeriesForSegmentation(datasets[0].SeriesInstanceUID)
    segments = {d.SegmentLabel: int(d.SegmentNumber) for d in seg.SegmentSequence}

    def measurements(values: dict[str, Any]) -> list:
        found = [
            hd.sr.Measurement(
                name=codes.DCM.CalciumScore,
                value=float(values["agatston"]),
                unit=codes.UCUM.NoUnits,
                method=codes.DCM.AgatstonScoringMethod,
            ),
            hd.sr.Measurement(
                name=codes.DCM.CalciumVolume,
                value=float(values["volume_mm3"]),
                unit=codes.UCUM.CubicMillimeter,
            ),
        ]
        if values.get("mass_mg") is not None:
            found.append(
                hd.sr.Measurement(
                    name=codes.DCM.CalciumMass, value=float(values["mass_mg"]), unit=milligram
                )
            )
        return found

    groups = []
    for name, values in report["per_artery"].items():
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(), identifier=f"{name} calcium"
                ),
                referenced_segment=hd.sr.ReferencedSegment(
                    sop_class_uid=seg.SOPClassUID,
                    sop_instance_uid=seg.SOPInstanceUID,
                    segment_number=segments[f"{name} calcium"],
                    source_series=source_series,
                ),
                finding_type=codes.SCT.CalcifiedAtheromatousPlaque,
                finding_sites=[hd.sr.FindingSite(artery_code(name))],
                measurements=measurements(values),
            )
        )
    threshold = hd.sr.Measurement(
        name=codes.DCM.AgatstonScoreThreshold,
        value=float(report["settings"]["threshold_hu_used"]),
        unit=hounsfield,
    )
    groups.append(
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(
                uid=generate_uid(), identifier="coronary artery calcium total"
            ),
            finding_type=codes.SCT.CalcifiedAtheromatousPlaque,
            finding_sites=[hd.sr.FindingSite(codes.SCT.CoronaryArtery)],
            measurements=[*measurements(report), threshold],
        )
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.cid270.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(), name="napari-calcium", model_name=__version__
        ),
    )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ComputedTomographyOfHeart,
        imaging_measurements=groups,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[*datasets, seg],
        content=content[0],
        series_instance_uid=generate_uid(),
        series_number=902,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="napari-calcium",
        is_complete=True,
        series_description="coronary artery calcium scores",
    )


def write_coronary_dicom(
    ct: Volume,
    arteries: Volume,
    report: dict[str, Any],
    *,
    seg_path=None,
    sr_path=None,
    ct_source=None,
    derived_ct_folder=None,
    patient_identity: bool = False,
) -> dict[str, Any]:
    """Write the DICOM SEG and/or SR of a coronary reading, atomically.

    Parameters
    ----------
    ct : the CT the reading was made on (``(z, y, x)``, HU).
    arteries : the reader's artery labels on the CT grid.
    report : the result of :func:`napari_calcium.calcium.run_coronary` on them.
    seg_path, sr_path : files to write (either or both; the SR references the SEG,
        which is built in any case).
    ct_source : the path the CT was read from; when it is the DICOM series of ``ct``
        that series is referenced, else a derived series is written (module docstring).
    derived_ct_folder : where to write a derived CT series (default: beside the SEG or
        SR, named ``<name>_ct``).
    patient_identity : keep the CT's patient name, ID and birth date (default: empty).

    Returns
    -------
    dict
        ``seg``, ``sr`` (paths written or ``None``), ``referenced_ct``: ``kind``
        (``"source"`` or ``"derived"``), ``series_uid``, ``study_uid``, ``folder`` (the
        derived series, or ``None``), ``n_slices``; ``segments``: label value -> name.
    """
    if seg_path is None and sr_path is None:
        raise InputError("give a SEG and/or SR file to write")
    if not report.get("scored"):
        raise InputError(
            "the CT has no artery labels, so there is no reading to export",
            "assign the calcium to arteries first",
        )
    from napari_calcium.calcium.coronary import check_same_grid

    check_same_grid(ct, arteries)
    names = {int(k): v for k, v in report["settings"]["artery_names"].items()}
    datasets = source_ct_datasets(ct, ct_source)
    folder = None
    if datasets is None:
        first = Path(seg_path if seg_path is not None else sr_path)
        folder = Path(derived_ct_folder or first.with_name(first.name.split(".")[0] + "_ct"))
        if ct_source is not None:
            log.warning(
                "%s is not a DICOM series matching the CT slice for slice; the SEG/SR "
                "reference a derived CT series written to %s",
                ct_source,
                folder,
            )
        datasets = derived_ct_datasets(ct, folder)
    for dataset in datasets:
        for keyword in TYPE2_KEYWORDS:
            if keyword not in dataset:
                setattr(dataset, keyword, "")
    seg = coronary_seg(datasets, arteries, names)
    documents = {"seg": (seg_path, seg)}
    if sr_path is not None:
        documents["sr"] = (sr_path, coronary_sr(seg, datasets, report))
    written = {}
    for key, (path, dataset) in documents.items():
        if not patient_identity:
            for keyword in IDENTITY_KEYWORDS:
                setattr(dataset, keyword, "")
        if path is None:
            written[key] = None
            continue
        with atomic_file(path, suffix=".dcm") as tmp:
            dataset.save_as(tmp, enforce_file_format=True)
        written[key] = Path(path)
    written.setdefault("sr", None)
    written["referenced_ct"] = {
        "kind": "derived" if folder is not None else "source",
        "series_uid": str(datasets[0].SeriesInstanceUID),
        "study_uid": str(datasets[0].StudyInstanceUID),
        "folder": folder,
        "n_slices": len(datasets),
    }
    written["segments"] = names
    return written
