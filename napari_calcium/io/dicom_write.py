"""Writing DICOM: CT / MR series (one file per slice) and ultrasound multi-frame files.

Both write atomically (:mod:`napari_calcium.io.atomic`) and carry no patient
identity unless asked (the patient modules of a de-identified phantom, :func:`base_dataset`).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from napari_calcium.io.atomic import atomic_file, atomic_folder
from napari_calcium.io.dicom_header import (
    CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    SECONDARY_CAPTURE_STORAGE,
)
from napari_calcium.volume import Volume

US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"


# ------------------------------------------------------------- CT / MR series
def decimal_string(value: float):
    """A DICOM DS value (at most 16 characters)."""
    from pydicom.valuerep import DSfloat

    return DSfloat(float(value), auto_format=True)


def base_dataset(
    sop_class_uid: str,
    modality: str,
    series_description: str,
    patient_name: str = "ANONYMOUS^PHANTOM",
):
    """A dataset with the patient/study/series modules of a de-identified phantom.

    Patient name ``patient_name`` (default ``ANONYMOUS^PHANTOM``), empty patient ID, no
    birth date.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class_uid
    ds.Modality = modality
    ds.PatientName = patient_name
    ds.PatientID = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.StudyID = ""
    ds.SeriesNumber = 1
    ds.SeriesDescription = series_description
    ds.Manufacturer = "napari-calcium"
    ds.ReferringPhysicianName = ""
    ds.AccessionNumber = ""
    return ds


def write_dicom_series(
    volume: Volume,
    folder,
    *,
    series_description: str = "napari-calcium phantom",
    rescale_intercept: float | None = None,
    rescale_slope: float = 1.0,
    compress: bool = False,
    overwrite: bool = False,
    patient_name: str = "ANONYMOUS^PHANTOM",
) -> Path:
    """Write ``volume`` as a DICOM series, one file per slice, atomically.

    Geometry is written as ImageOrientationPatient (direction columns 0 and 1),
    ImagePositionPatient (origin + k * z spacing * direction column 2), PixelSpacing
    ``(y, x)``, SliceThickness (the recorded one, else the z spacing) and
    SpacingBetweenSlices, so oblique volumes are supported; the direction should be
    right-handed (column 2 = column 0 x column 1), otherwise readers order the slices
    the other way round (same physical image, reversed array).

    Values are stored as ``round((value - intercept) / slope)`` in uint16 when all are
    >= 0, else int16. CT is written as CT Image Storage with RescaleType HU, MR as
    MR Image Storage, anything else as Secondary Capture (Modality ``OT``).

    Parameters
    ----------
    volume : the volume; a dask array is computed slice by slice.
    folder : output folder (created; written to a temporary folder, then renamed).
    series_description : SeriesDescription.
    rescale_intercept : RescaleIntercept; default -1024 for CT, 0 otherwise.
    rescale_slope : RescaleSlope.
    compress : store with RLE Lossless (smaller sample files).
    overwrite : replace an existing non-empty folder.
    patient_name : PatientName (patient ID and birth date are always empty).

    Returns
    -------
    Path of the folder.
    """
    from pydicom.uid import RLELossless, generate_uid

    if rescale_intercept is None:
        rescale_intercept = -1024.0 if volume.modality == "CT" else 0.0
    sop, modality = {
        "CT": (CT_IMAGE_STORAGE, "CT"),
        "MR": (MR_IMAGE_STORAGE, "MR"),
    }.get(volume.modality, (SECONDARY_CAPTURE_STORAGE, "OT"))

    def stored_slice(k: int) -> np.ndarray:
        value = np.asarray(volume.array[k], dtype=np.float64)
        return np.rint((value - rescale_intercept) / rescale_slope)

    ranges = [(s.min(), s.max()) for s in map(stored_slice, range(volume.shape[0]))]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    dtype = np.uint16 if lo >= 0 else np.int16
    info = np.iinfo(dtype)
    if lo < info.min or hi > info.max:
        raise ValueError(
            f"values {lo * rescale_slope + rescale_intercept}..{hi * rescale_slope + rescale_intercept} "
            f"do not fit 16 bits with slope {rescale_slope} and intercept {rescale_intercept}"
        )
    template = base_dataset(sop, modality, series_description, patient_name)
    direction = volume.direction
    sx, sy, sz = volume.spacing_mm
    acq = volume.acquisition
    folder = Path(folder)
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        for k in range(volume.shape[0]):
            stored = stored_slice(k)
            ds = template.copy()
            ds.file_meta = template.file_meta.copy()
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.InstanceNumber = k + 1
            ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
            position = np.asarray(volume.origin_mm) + k * sz * direction[:, 2]
            ds.ImagePositionPatient = [decimal_string(v) for v in position]
            ds.ImageOrientationPatient = [
                decimal_string(v) for v in (*direction[:, 0], *direction[:, 1])
            ]
            ds.PixelSpacing = [decimal_string(sy), decimal_string(sx)]
            ds.SliceThickness = decimal_string(acq.slice_thickness_mm or sz)
            ds.SpacingBetweenSlices = decimal_string(sz)
            ds.SliceLocation = decimal_string(position @ direction[:, 2])
            ds.Rows, ds.Columns = stored.shape
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 16
            ds.HighBit = 15
            ds.PixelRepresentation = 1 if dtype == np.int16 else 0
            ds.RescaleIntercept = decimal_string(rescale_intercept)
            ds.RescaleSlope = decimal_string(rescale_slope)
            ds.RescaleType = "HU" if modality == "CT" else "US"
            if acq.kvp:
                ds.KVP = decimal_string(acq.kvp)
            if acq.reconstruction_kernel:
                ds.ConvolutionKernel = acq.reconstruction_kernel
            pixels = stored.astype(dtype)
            if compress:
                ds.compress(RLELossless, pixels, generate_instance_uid=False)
            else:
                ds.PixelData = pixels.tobytes()
            ds.save_as(tmp / f"slice_{k:04d}.dcm", enforce_file_format=True)
    return folder


# ------------------------------------------------------- ultrasound multi-frame
def write_ultrasound_multiframe(
    volume: Volume,
    path,
    *,
    rgb: bool = False,
    frame_rate_hz: float | None = None,
    compress: bool = False,
) -> Path:
    """Write a pullback as one Ultrasound Multi-frame Image Storage file, atomically.

    The in-plane spacing is written as one 2-D ultrasound region covering the frame
    (PhysicalDeltaX/Y in cm), the frame rate as FrameTime (ms), the pullback speed
    (when known) as IVUS Pullback Rate (0018,3101, mm/s) and the pullback frames (when
    known) as IVUS Pullback Start / Stop Frame Number. Uncompressed data is streamed
    frame by frame (a dask volume is never held whole in memory).

    Parameters
    ----------
    volume : ``(frame, y, x)`` uint8 (grey or ``rgb``) or uint16 (grey) values.
    path : output file.
    rgb : store as RGB (the grey value in all three samples), as colour IVUS
        consoles do; readers convert it back to the same grey.
    frame_rate_hz : frames per second; default ``volume.acquisition.frame_rate_hz``.
    compress : RLE Lossless (loads the whole volume).

    Returns
    -------
    Path of the file.
    """
    from pydicom.dataset import Dataset
    from pydicom.uid import RLELossless, generate_uid

    dtype = np.dtype(volume.array.dtype)
    if dtype not in (np.uint8, np.uint16) or (rgb and dtype != np.uint8):
        raise ValueError(f"ultrasound frames must be uint8 (or uint16 grey), not {dtype}")
    n_frames, rows, cols = volume.shape
    ds = base_dataset(
        US_MULTIFRAME_STORAGE,
        "US",
        volume.acquisition.series_description or "napari-calcium IVUS pullback",
    )
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.NumberOfFrames = n_frames
    rate = frame_rate_hz or volume.acquisition.frame_rate_hz
    if rate:
        ds.FrameTime = decimal_string(1000.0 / rate)
        ds.FrameIncrementPointer = 0x00181063  # FrameTime
    acq = volume.acquisition
    if acq.pullback_speed_mm_s:
        ds.IVUSPullbackRate = decimal_string(acq.pullback_speed_mm_s)
    if acq.pullback_start_frame is not None and acq.pullback_stop_frame is not None:
        ds.IVUSPullbackStartFrameNumber = acq.pullback_start_frame + 1
        ds.IVUSPullbackStopFrameNumber = acq.pullback_stop_frame + 1
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = "RGB" if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8 * dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2-D tissue image
    region.RegionDataType = 1
    region.RegionFlags = 0
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = cols - 1, rows - 1
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3  # cm
    region.PhysicalDeltaX = volume.spacing_mm[0] / 10.0
    region.PhysicalDeltaY = volume.spacing_mm[1] / 10.0
    ds.SequenceOfUltrasoundRegions = [region]

    def frame_bytes(k: int) -> bytes:
        frame = np.asarray(volume.array[k], dtype=dtype)
        if rgb:
            frame = np.repeat(frame[..., None], 3, axis=2)
        return frame.astype(dtype.newbyteorder("<")).tobytes()

    path = Path(path)
    with atomic_file(path) as tmp:
        if compress:
            pixels = np.asarray(volume.array, dtype=dtype)
            if rgb:
                pixels = np.repeat(pixels[..., None], 3, axis=3)
            ds.compress(RLELossless, pixels, generate_instance_uid=False)
            ds.save_as(tmp, enforce_file_format=True)
        else:
            _save_streaming(ds, tmp, n_frames, frame_bytes, dtype)
    return path


def _save_streaming(ds, path: Path, n_frames: int, frame_bytes, dtype) -> None:
    """Save ``ds`` without pixels, then append Pixel Data frame by frame."""
    ds.save_as(path, enforce_file_format=True)
    nbytes = n_frames * int(ds.Rows) * int(ds.Columns) * int(ds.SamplesPerPixel) * dtype.itemsize
    if nbytes >= 0xFFFFFFFE:
        raise ValueError(f"{nbytes} bytes of pixels exceed what one uncompressed file holds")
    with open(path, "ab") as fh:
        # Pixel Data (7FE0,0010) in explicit VR little endian: the last element.
        vr = b"OB" if dtype.itemsize == 1 else b"OW"
        fh.write(struct.pack("<HH", 0x7FE0, 0x0010) + vr + b"\0\0")
        fh.write(struct.pack("<I", nbytes + nbytes % 2))
        for k in range(n_frames):
            fh.write(frame_bytes(k))
        if nbytes % 2:
            fh.write(b"\0")
