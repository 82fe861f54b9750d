"""Reading and writing volumes in physical space.

``read(path)`` accepts a DICOM folder or file, NIfTI (``.nii``, ``.nii.gz``), NRRD,
MHA/MHD, or a folder of frame images (IVUS), and returns a :class:`~napari_calcium.Volume`.
``write(volume, path)`` writes NIfTI / NRRD / MHA with the geometry preserved;
``write_dicom_series`` and ``write_ultrasound_multiframe`` write DICOM.
"""

from napari_calcium.io.dicom import SeriesInfo, list_series
from napari_calcium.io.dicom_write import write_dicom_series, write_ultrasound_multiframe
from napari_calcium.io.images import SITK_EXTENSIONS, read_image_file, write
from napari_calcium.io.read import read
from napari_calcium.io.ultrasound import require_frame_spacing

__all__ = [
    "SITK_EXTENSIONS",
    "SeriesInfo",
    "list_series",
    "read",
    "read_image_file",
    "require_frame_spacing",
    "write",
    "write_dicom_series",
    "write_ultrasound_multiframe",
]
