"""Volumes to napari layer data tuples and back, with display defaults per modality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import napari

from magicgui import magic_factory

from napari_calcium.volume import Volume

#: CT display windows as (width, level) in HU.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "calcium": (1500.0, 300.0),
    "soft tissue": (400.0, 40.0),
    "bone": (2000.0, 500.0),
    "brain": (80.0, 40.0),
    "angio": (700.0, 200.0),
}


def window_limits(width: float, level: float) -> tuple[float, float]:
    """Contrast limits (low, high) of a CT window given as width and level (HU)."""
    return level - width / 2.0, level + width / 2.0


def image_tuple(volume: Volume, name: str, **kwargs: Any) -> tuple:
    """A napari ``(data, kwargs, 'image')`` tuple in physical mm (LPS, zyx order).

    CT opens with the calcium window (W 1500 / L 300 HU); MR and ultrasound in grey
    with limits from the data's 1st-99.5th percentiles (sampled, so large lazy
    pullbacks are not read whole).
    """
    layer_kwargs = {"name": name, "colormap": "gray", "blending": "translucent"}
    layer_kwargs.update(volume.layer_kwargs())
    if volume.modality == "CT":
        layer_kwargs["contrast_limits"] = window_limits(*CT_WINDOWS["calcium"])
    else:
        layer_kwargs["contrast_limits"] = _percentile_limits(volume)
    layer_kwargs.update(kwargs)
    return (volume.array, layer_kwargs, "image")


def labels_tuple(volume: Volume, name: str, **kwargs: Any) -> tuple:
    """A napari ``(data, kwargs, 'labels')`` tuple on the volume's grid."""
    layer_kwargs = {"name": name}
    layer_kwargs.update(volume.layer_kwargs())
    layer_kwargs.update(kwargs)
    return (volume.array, layer_kwargs, "labels")


def _percentile_limits(volume: Volume) -> tuple[float, float]:
    import numpy as np

    array = volume.array
    step = max(1, array.shape[0] // 16)
    sample = np.asarray(array[::step, ::2, ::2], dtype=float)
    low, high = np.percentile(sample, [1.0, 99.5])
    if high <= low:
        high = low + 1.0
    return float(low), float(high)


def apply_ct_window(image: napari.layers.Image, window: str = "calcium") -> None:
    """Show a CT image layer with a preset window (width / level in HU, see ``CT_WINDOWS``)."""
    if image is None:
        return
    width, level = CT_WINDOWS[window]
    image.contrast_limits = window_limits(width, level)


apply_ct_window.__annotations__["window"] = Literal[tuple(CT_WINDOWS)]  # type: ignore[valid-type]

#: The "CT window presets" dock: a preset applies as soon as it is picked (no Run button).
ct_window_widget = magic_factory(apply_ct_window, auto_call=True)
