"""DICOM headers: the SOP classes read here and the header helpers every DICOM module uses.

Read (:mod:`.dicom`, :mod:`.ultrasound`) and write (:mod:`.dicom_write`) both import
from here, so neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from napari_calcium.errors import InputError

#: Ultrasound SOP classes (single and multi-frame, current and retired).
ULTRASOUND_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",
        "1.2.840.10008.5.1.4.1.1.6",
        "1.2.840.10008.5.1.4.1.1.3.1",
        "1.2.840.10008.5.1.4.1.1.3",
    }
)
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"
#: Image SOP classes read here (CT, enhanced CT, MR, enhanced MR, secondary capture, US).
IMAGE_SOP_CLASSES = ULTRASOUND_SOP_CLASSES | {
    CT_IMAGE_STORAGE,
    CT_IMAGE_STORAGE + ".1",
    MR_IMAGE_STORAGE,
    MR_IMAGE_STORAGE + ".1",
    SECONDARY_CAPTURE_STORAGE,
    *(f"{SECONDARY_CAPTURE_STORAGE}.{n}" for n in range(1, 5)),
}


def is_dicom_file(path) -> bool:
    """True when ``path`` is a file with the DICOM preamble (``DICM`` at byte 128)."""
    from pydicom.misc import is_dicom

    path = Path(path)
    try:
        return path.is_file() and is_dicom(path)
    except OSError:
        return False


def read_header(path, **kwargs):
    """``pydicom.dcmread`` without pixels, raising :class:`InputError` naming the file."""
    import pydicom

    kwargs.setdefault("stop_before_pixels", True)
    try:
        return pydicom.dcmread(path, **kwargs)
    except Exception as err:  # noqa: BLE001 -- pydicom raises many types for broken files
        raise InputError(
            f"{Path(path).name} could not be read as DICOM ({type(err).__name__}: {err})",
            "check that the file is complete (a copy may have been interrupted)",
        ) from err


def is_ultrasound(ds) -> bool:
    """True for ultrasound datasets (SOP class or Modality ``US``/``IVUS``)."""
    return str(ds.get("SOPClassUID", "")) in ULTRASOUND_SOP_CLASSES or ds.get("Modality") in (
        "US",
        "IVUS",
    )


def text_value(value) -> str | None:
    """A header value as plain text (multi-valued joined by spaces), ``None`` when empty."""
    if value is None:
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = " ".join(str(v) for v in value)
    value = str(value).strip()
    return value or None


def float_value(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None
