"""napari writer contributions: images and labels to NIfTI / NRRD / MHA with geometry."""

from __future__ import annotations

from napari_calcium.io import write
from napari_calcium.volume import Volume


def write_image(path: str, data, attributes: dict) -> list[str]:
    """Write an image layer with its physical geometry (atomic)."""
    return [str(write(Volume.from_layer_data(data, attributes), path))]


def write_labels(path: str, data, attributes: dict) -> list[str]:
    """Write a labels layer with its physical geometry (atomic)."""
    return [str(write(Volume.from_layer_data(data, attributes, modality="LABELS"), path))]
