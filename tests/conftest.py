"""Shared fixtures: real scanner files, hand-built DICOM (pydicom directly, not our writer)."""

import os
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def _find_real_data() -> Path | None:
    """``shared/data/real`` beside the repository (or in ``NAPARI_CALCIUM_REAL_DATA``)."""
    if os.environ.get("NAPARI_CALCIUM_REAL_DATA"):
        return Path(os.environ["NAPARI_CALCIUM_REAL_DATA"])
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data" / "real"
        if candidate.is_dir():
            return candidate
    return None


REAL_DATA = _find_real_data()
LOCAL_DATA = Path(
    os.environ.get("NAPARI_CALCIUM_LOCAL_DATA", "~/.cache/napari-calcium/local-data")
).expanduser()


@pytest.fixture
def real_data() -> Path:
    """Real, de-identified scanner files (see their README); skips when absent."""
    if REAL_DATA is None or not REAL_DATA.is_dir():
        pytest.skip("real scanner files (shared/data/real) not present")
    return REAL_DATA


@pytest.fixture
def local_data():
    """``local_data("ivus_vh/grupo5_GS.tif")``: a public image kept for local use only.

    Some public images carry no licence that allows redistributing them, so they are never
    committed; they live in ``NAPARI_CALCIUM_LOCAL_DATA`` (default
    ``~/.cache/napari-calcium/local-data``, see the README) and a test that needs one
    skips when it is absent.
    """

    def find(relative: str) -> Path:
        path = LOCAL_DATA / relative
        if not path.exists():
            pytest.skip(f"local-only data {relative} not present in {LOCAL_DATA}")
        return path

    return find


def write_slices(
    folder,
    images,
    positions,
    orientation=(1, 0, 0, 0, 1, 0),
    pixel_spacing=(1.0, 1.0),
    slope=1.0,
    intercept=0.0,
    modality="CT",
    series_uid=None,
    description="hand-built",
    prefix="img",
):
    """One file per 2-D stored image (uint16) with the given ImagePositionPatient values.

    ``pixel_spacing`` is DICOM's (row spacing, column spacing) = (y, x) in mm.
    Returns the SeriesInstanceUID.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    for n, (image, position) in enumerate(zip(images, positions, strict=True)):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = (
            "1.2.840.10008.5.1.4.1.1.2" if modality == "CT" else "1.2.840.10008.5.1.4.1.1.4"
        )
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.Modality = modality
        ds.SeriesInstanceUID = series_uid
        ds.StudyInstanceUID = "1.2.3.4"
        ds.FrameOfReferenceUID = "1.2.3.4.5"
        ds.SeriesDescription = description
        ds.PatientName = "TEST^HANDBUILT"
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
        ds.PixelSpacing = [f"{v:.6f}" for v in pixel_spacing]
        ds.SliceThickness = "5"
        ds.Rows, ds.Columns = image.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.PixelData = np.ascontiguousarray(image, dtype=np.uint16).tobytes()
        # files written in reverse order of position, to make the reader sort them
        ds.save_as(folder / f"{prefix}_{len(images) - n:03d}.dcm", enforce_file_format=True)
    return series_uid


@pytest.fixture
def dicom_slices():
    """The :func:`write_slices` function."""
    return write_slices


def axial_positions(z_mm, x=-10.0, y=20.0):
    return [(x, y, float(z)) for z in z_mm]


@pytest.fixture
def axial():
    """ImagePositionPatient values of axial slices at the given z (mm)."""
    return axial_positions
