"""NIfTI, NRRD and MHA/MHD through SimpleITK (which converts NIfTI's RAS to LPS)."""

from __future__ import annotations

from pathlib import Path

from napari_calcium.errors import InputError
from napari_calcium.io.atomic import atomic_file
from napari_calcium.volume import Volume

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
    modality : ``CT``, ``MR``, ... when known; otherwise ``OT``. A CT is kept in
        the file's values, which for CT NIfTI exports are normally HU already.
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
    modality = modality or "OT"
    return Volume.from_sitk(image, modality=modality, units="HU" if modality == "CT" else "a.u.")


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
