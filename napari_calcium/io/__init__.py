"""Reading and writing volumes in physical space.

``read(path)`` accepts a DICOM folder or file, NIfTI (``.nii``, ``.nii.gz``), NRRD,
MHA/MHD, or a folder of frame images (IVUS), and returns a :class:`~napari_calcium.Volume`.
``write(volume, path)`` writes NIfTI / NRRD / MHA with the geometry preserved.
"""

from napari_calcium.io.images import SITK_EXTENSIONS, read_image_file, write
from napari_calcium.io.read import read

__all__ = ["SITK_EXTENSIONS", "read", "read_image_file", "write"]
