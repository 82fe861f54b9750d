"""NIfTI, NRRD and MHA/MHD through SimpleITK (which converts NIfTI's RAS to LPS)."""

from __future__ import annotations

import logging
from pathlib import Path

from napari_calcium.errors import InputError
from napari_calcium.io.atomic import atomic_file
from napari_calcium.volume import Volume

log = logging.getLogger(__name__)

SITK_EXTENSIONS = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
#: Single-file formats, so a write can be atomic (``.mhd``/``.nhdr`` keep data apart).
WRITE_EXTENSIONS = (".nii", ".nii.gz", ".nrrd", ".mha")


def has_extension(path, extensions) -> bool:
    name = Path(path).name.lower()
    return any(name.endswith(ext) for ext in extensions)


def read_image_file(path, modality: str | None = None) -> Volume:
    """Read a NIfTI / NRRD / MHA file into a Volume.

    Parameters
    ----------
    path : file path.
    modality : ``CT``, ``MR``, ... when known. Otherwise (these formats do not say)
        an image whose values are Hounsfield units (:func:`hu_evidence`) is taken as
        ``CT`` in ``HU``, anything else as ``OT``. A CT is kept in the file's values,
        which for CT NIfTI exports are HU already.
    """
    import SimpleITK as sitk

    path = Path(path)
    if has_extension(path, (".nii", ".nii.gz")):
        _check_nifti_complete(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise InputError(
            f"{path} could not be read as an image ({str(err).strip().splitlines()[-1]})",
            "check that the file is complete and is NIfTI, NRRD or MHA",
        ) from err
    if image.GetDimension() != 3:
        raise InputError(f"{path} is {image.GetDimension()}-D; a 3-D volume is needed")
    if image.GetNumberOfComponentsPerPixel() != 1:
        image = _to_grey(image)
    if modality is None:
        evidence = hu_evidence(sitk.GetArrayViewFromImage(image))
        modality = "OT" if evidence is None else "CT"
        if evidence is not None:
            log.info("%s: no modality in the file; read as CT because %s", path.name, evidence)
    return Volume.from_sitk(image, modality=modality, units="HU" if modality == "CT" else "a.u.")


#: Hounsfield-unit bands of :func:`hu_evidence` (air -1000, fat -100, water 0,
#: soft tissue and blood 20-60 HU; 3071 is the top of the 12-bit CT range).
HU_PLAUSIBLE = (-1100.0, 3100.0)
HU_AIR = (-1100.0, -500.0)
HU_SOFT_TISSUE = (-150.0, 150.0)
#: Where fat, water and soft tissue fall in raw stored values without the usual DICOM
#: rescale intercept of -1024 (the soft-tissue band + 1024).
RAW_SOFT_TISSUE = (874.0, 1174.0)
#: Smallest fractions of voxels: air (or lung), soft tissue / water, and values in the
#: plausible HU range once a padding value is set aside.
MIN_AIR_FRACTION = 0.005
MIN_SOFT_TISSUE_FRACTION = 0.05
MIN_PLAUSIBLE_FRACTION = 0.99


def hu_fractions(array, max_samples: int = 2_000_000) -> dict[str, float] | None:
    """Fractions of voxels in the Hounsfield-unit bands, on a subsample.

    ``air`` (air or lung, -1100..-500 HU), ``soft_tissue`` (fat, water or soft tissue,
    -150..150 HU), ``plausible`` (-1100..3100 HU) and ``raw_soft_tissue`` (874..1174,
    where soft tissue lies in raw stored values), once a padding value below -1100
    (e.g. -2048 or -3024 outside the scanner's field of view, always the image
    minimum) is set aside. ``None`` for an empty or non-numeric array.
    """
    import numpy as np

    values = np.asarray(array)
    if values.size == 0 or not np.issubdtype(values.dtype, np.number):
        return None
    step = max(1, int(np.ceil(values.size / max_samples)))
    sample = values.reshape(-1)[::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return None
    padding = float(sample.min())
    if padding < HU_PLAUSIBLE[0]:
        sample = sample[sample != padding]
        if sample.size == 0:
            return None

    def fraction(band):
        return float(np.mean((sample >= band[0]) & (sample <= band[1])))

    return {
        "air": fraction(HU_AIR),
        "soft_tissue": fraction(HU_SOFT_TISSUE),
        "plausible": fraction(HU_PLAUSIBLE),
        "raw_soft_tissue": fraction(RAW_SOFT_TISSUE),
    }


def hu_evidence(array, max_samples: int = 2_000_000, require_air: bool = True) -> str | None:
    """Why ``array`` looks like a CT in Hounsfield units, or ``None`` when it does not.

    NIfTI, NRRD and MHA carry no modality, so a CT saved in one would open as an
    unknown image (no HU, no CT window). The HU scale is physical: air is -1000 HU,
    water 0, soft tissue and blood 20-60 HU. An image counts as a CT in HU when, on a
    subsample (:func:`hu_fractions`), at least ``MIN_AIR_FRACTION`` of the voxels are
    air or lung (-1100..-500 HU), at least ``MIN_SOFT_TISSUE_FRACTION`` are fat, water
    or soft tissue (-150..150 HU), and ``MIN_PLAUSIBLE_FRACTION`` lie within
    -1100..3100 HU once a padding value is set aside. Magnitude MR and ultrasound have
    no values near -1000, label maps neither, and a phase image spreads evenly beyond
    3100. Not recognised: a CT holding no air (cropped inside the body) and raw stored
    values without the rescale (air near 0); read those with an explicit modality.
    ``require_air=False`` drops the air band, for a CT known to be cropped inside the
    body, and asks instead that more voxels lie in the soft-tissue band than where soft
    tissue lies in raw stored values (874..1174): raw values, whose air near 0 falls in
    the soft-tissue band, still fail.
    """
    fractions = hu_fractions(array, max_samples)
    if fractions is None:
        return None
    air, soft, plausible = fractions["air"], fractions["soft_tissue"], fractions["plausible"]
    if (
        (require_air and air < MIN_AIR_FRACTION)
        or (not require_air and soft <= fractions["raw_soft_tissue"])
        or soft < MIN_SOFT_TISSUE_FRACTION
        or plausible < MIN_PLAUSIBLE_FRACTION
    ):
        return None
    bands = [f"{air:.1%} air or lung at -1100..-500"] if require_air else []
    bands += [
        f"{soft:.0%} fat, water or soft tissue at -150..150",
        f"{plausible:.1%} within -1100..3100",
    ]
    return f"its values are Hounsfield units ({', '.join(bands)})"


def _check_nifti_complete(path: Path) -> None:
    """Refuse a truncated NIfTI file (its reader would silently fill the missing data with 0)."""
    import gzip
    import zlib

    import nibabel as nib
    import numpy as np

    try:
        header = nib.load(path).header
    except Exception as err:  # noqa: BLE001 - any header problem is the user's file
        raise InputError(
            f"{path} could not be read as an image (not a readable NIfTI header: {err})",
            "check that the file is complete and is NIfTI, NRRD or MHA",
        ) from err
    expected = int(header.get_data_offset()) + int(
        np.prod(header.get_data_shape()) * header.get_data_dtype().itemsize
    )
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as handle:
                size = handle.seek(0, 2)  # decompresses to the end
        except (EOFError, OSError, zlib.error):
            size = -1
    else:
        size = path.stat().st_size
    if size < expected:
        raise InputError(
            f"{path.name} is truncated: the header describes {expected} bytes, the file "
            f"{'holds ' + str(size) if size >= 0 else 'ends before them'}",
            "the file is incomplete; copy or export it again",
        )


def _to_grey(image):
    """Luminance of an RGB(A) image (ITU-R BT.601 weights)."""
    import SimpleITK as sitk

    channels = [sitk.VectorIndexSelectionCast(image, i, sitk.sitkFloat32) for i in range(3)]
    return 0.299 * channels[0] + 0.587 * channels[1] + 0.114 * channels[2]


def write(volume: Volume, path) -> Path:
    """Write ``volume`` to NIfTI / NRRD / MHA, atomically (temporary file, then rename).

    The geometry (spacing, origin, direction) is stored in the file, so reading it
    back gives the same array and geometry.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not has_extension(path, WRITE_EXTENSIONS):
        raise InputError(
            f"cannot write {path.name}: unknown extension",
            f"use one of {', '.join(WRITE_EXTENSIONS)} (single-file formats)",
        )
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else path.suffix.lower()
    with atomic_file(path, suffix=".tmp" + suffix) as tmp:
        sitk.WriteImage(volume.to_sitk(), str(tmp), useCompression=True)
    return path
