"""``read(path)``: one entry point that picks the right reader."""

from __future__ import annotations

import logging
from pathlib import Path

from napari_calcium.errors import InputError
from napari_calcium.io.dicom import is_dicom_file, read_dicom_file, read_dicom_folder
from napari_calcium.io.images import SITK_EXTENSIONS, has_extension, read_image_file
from napari_calcium.io.ultrasound import (
    TIFF_EXTENSIONS,
    frame_files,
    read_frame_folder,
    read_tiff_stack,
    warn_if_no_frame_spacing,
)
from napari_calcium.volume import MODALITIES, Volume

log = logging.getLogger(__name__)

FORMATS_HINT = (
    "napari-calcium reads a DICOM folder or file, NIfTI (.nii, .nii.gz), NRRD, MHA/MHD, "
    "a multi-page TIFF (ImageJ stack) or a folder of PNG/TIFF IVUS frames"
)


def read(
    path,
    *,
    modality: str | None = None,
    series_uid: str | None = None,
    pick_series: str = "error",
    resample: bool = False,
    pullback_speed_mm_s: float | None = None,
    frame_rate_hz: float | None = None,
    pixel_spacing_mm: float | None = None,
) -> Volume:
    """Read a volume in physical space (LPS, mm); array order ``(z, y, x)``.

    What is read, by what ``path`` is:

    * a folder of DICOM files: one series (CT/MR slices, or ultrasound frames);
    * a folder of PNG/TIFF images: an IVUS pullback, one frame per image, natural order;
    * a DICOM file: a single slice, an enhanced multi-frame CT/MR, or a (multi-frame)
      ultrasound pullback, opened lazily;
    * a TIFF file (``.tif``/``.tiff``, e.g. an ImageJ stack): an IVUS pullback, one
      page per frame, with the file's calibration;
    * a NIfTI / NRRD / MHA file.

    Ultrasound (and anything read with ``modality="IVUS"``) comes back as modality
    ``IVUS``, array ``(frame, y, x)``, with the pullback values given here applied
    (:meth:`Volume.with_pullback`; they override the file's). Without both pullback
    speed and frame rate the pullback still opens, axis 0 keeps spacing 1.0,
    ``acquisition.frame_spacing_mm`` is ``None`` and a warning names the flags
    (``--pullback-speed``, ``--frame-rate``); analyses that need millimetres along
    the pullback call :func:`~napari_calcium.io.require_frame_spacing`.

    Parameters
    ----------
    path : file or folder.
    modality : ``CT``, ``MR``, ``US``, ``IVUS`` ... when the file does not say
        (NIfTI/NRRD/MHA); ``IVUS`` makes any stack a pullback.
    series_uid : SeriesInstanceUID to open from a folder holding several series.
    pick_series : with several series and no ``series_uid``: ``"error"`` raises
        :class:`InputError` listing them, ``"largest"`` opens the largest (logged).
    resample : resample a DICOM stack with missing slices, non-uniform spacing or
        gantry tilt linearly onto a uniform grid instead of raising.
    pullback_speed_mm_s : IVUS motorised pullback speed, mm/s.
    frame_rate_hz : IVUS frames per second.
    pixel_spacing_mm : IVUS in-plane pixel size, mm.

    Returns
    -------
    Volume

    Raises
    ------
    InputError
        For anything wrong with the input, with what to do about it.
    """
    path = Path(path)
    if modality is not None and modality not in MODALITIES:
        raise InputError(f"unknown modality {modality!r}", f"use one of {', '.join(MODALITIES)}")
    if pick_series not in ("error", "largest"):
        raise ValueError(f"pick_series must be 'error' or 'largest', got {pick_series!r}")
    if not path.exists():
        raise InputError(f"{path} does not exist")
    pullback = (pullback_speed_mm_s, frame_rate_hz, pixel_spacing_mm)
    if path.is_dir():
        volume = _read_folder(path, series_uid, pick_series, resample, pixel_spacing_mm)
    elif has_extension(path, TIFF_EXTENSIONS):
        volume = read_tiff_stack(path, pixel_spacing_mm=pixel_spacing_mm)
    elif has_extension(path, SITK_EXTENSIONS):
        volume = read_image_file(path, modality=None if modality == "IVUS" else modality)
    elif is_dicom_file(path):
        volume = read_dicom_file(path, resample=resample, pixel_spacing_mm=pixel_spacing_mm)
    else:
        raise InputError(f"{path.name} is not a format napari-calcium reads", FORMATS_HINT)
    is_pullback = modality in ("IVUS", "US") or volume.modality in ("US", "IVUS")
    if not is_pullback and any(v is not None for v in pullback):
        if volume.modality != "OT":
            raise InputError(
                f"{path.name} is {volume.modality}; pullback speed, frame rate and pixel "
                "spacing apply to IVUS only",
                "leave them out, or pass modality='IVUS' (--modality IVUS) for a pullback",
            )
        is_pullback = True
    if is_pullback:
        try:
            volume = volume.with_pullback(*pullback)
        except ValueError as err:
            raise InputError(str(err), "give positive numbers (mm/s, frames/s, mm)") from err
        warn_if_no_frame_spacing(volume, path)
    elif modality is not None and volume.modality == "OT":
        volume = volume.replace(modality=modality, units="HU" if modality == "CT" else "a.u.")
    return volume


def _read_folder(folder: Path, series_uid, pick_series, resample, pixel_spacing_mm) -> Volume:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    if not files:
        raise InputError(f"{folder} is empty", FORMATS_HINT)
    if any(is_dicom_file(p) for p in files):
        return read_dicom_folder(
            folder,
            series_uid=series_uid,
            pick_series=pick_series,
            resample=resample,
            pixel_spacing_mm=pixel_spacing_mm,
        )
    if frame_files(folder):
        return read_frame_folder(folder, pixel_spacing_mm=pixel_spacing_mm)
    names = ", ".join(sorted(p.name for p in folder.iterdir())[:5])
    raise InputError(
        f"{folder} holds no DICOM images or PNG/TIFF frames ({names} ...)", FORMATS_HINT
    )
