"""``read(path)``: one entry point that picks the right reader."""

from __future__ import annotations

from pathlib import Path

from napari_calcium.errors import InputError
from napari_calcium.io.images import SITK_EXTENSIONS, has_extension, read_image_file
from napari_calcium.volume import Volume


def read(path, *, modality: str | None = None) -> Volume:
    """Read a volume in physical space (LPS, mm); array order ``(z, y, x)``.

    Parameters
    ----------
    path : a NIfTI / NRRD / MHA file.
    modality : ``CT``, ``MR`` ... when the file does not say.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_file() and has_extension(path, SITK_EXTENSIONS):
        return read_image_file(path, modality=modality)
    raise InputError(f"{path} is not a format napari-calcium reads")
