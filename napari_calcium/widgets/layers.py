"""Volumes to napari layer data tuples and back, with display defaults per modality.

CT display: preset windows (``CT_WINDOWS``, applied as soon as one is picked in the
*CT window presets* widget). CT and MRI: window / level by dragging with the right
mouse button on the canvas (:func:`drag_window_level`), in HU for a CT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from magicgui import magic_factory

if TYPE_CHECKING:
    import napari

from napari_calcium.volume import METADATA_KEY, Volume

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


@magic_factory(auto_call=True, window={"choices": list(CT_WINDOWS)})
def ct_window_widget(
    image: napari.layers.Image, window: str = "calcium", viewer: napari.Viewer = None
) -> None:
    """CT window presets: the window is applied as soon as it is picked (no Run button).

    Opening it also turns on window / level by right-drag (:func:`drag_window_level`).
    """
    if viewer is not None:
        enable_window_level(viewer)
    apply_ct_window(image, window)


#: Right-drag window / level: dragging this many screen pixels to the right doubles
#: the window width (to the left halves it); dragging ``LEVEL_DRAG_PX`` pixels down
#: raises the level by the width the drag started with (up lowers it).
WIDTH_DOUBLING_PX = 200.0
LEVEL_DRAG_PX = 400.0
MIN_WIDTH_HU = 1.0


def window_after_drag(
    width_hu: float, level_hu: float, dx_px: float, dy_px: float
) -> tuple[float, float]:
    """Window (width, level) in HU after a drag of ``(dx_px, dy_px)`` screen pixels.

    The width changes by a factor (``2 ** (dx / WIDTH_DOUBLING_PX)``) so the same drag
    is as useful on a brain window (W 80) as on a bone window (W 2000); the level moves
    by ``width * dy / LEVEL_DRAG_PX``. x is to the right and y down on the screen.
    """
    width = max(MIN_WIDTH_HU, width_hu * 2.0 ** (dx_px / WIDTH_DOUBLING_PX))
    return width, level_hu + width_hu * dy_px / LEVEL_DRAG_PX


def window_units(layer) -> str | None:
    """Units in which a drag sets ``layer``'s window / level: ``HU`` for a CT Image layer,
    the MRI's own units (``a.u.`` unless the file said otherwise) for an MR one, ``None``
    for any other layer (IVUS, labels, a plain image)."""
    if layer.__class__.__name__ != "Image":
        return None
    meta = layer.metadata.get(METADATA_KEY, {})
    if meta.get("modality") == "CT" or meta.get("units") == "HU":
        return "HU"
    if meta.get("modality") == "MR":
        return meta.get("units") or "a.u."
    return None


def layer_for_window(viewer) -> napari.layers.Image | None:
    """The CT or MRI layer that a window / level drag changes: the selected layer when it
    is one, else the topmost visible one; ``None`` without one."""
    active = viewer.layers.selection.active
    if active is not None and window_units(active) is not None:
        return active
    return next(
        (layer for layer in reversed(viewer.layers) if layer.visible and window_units(layer)),
        None,
    )


def drag_window_level(viewer, event, layers_viewer=None):
    """Mouse-drag callback of a viewer: right-drag sets the window / level of a CT (in HU)
    or an MRI (in its units).

    Left / right widens or narrows the window, down / up raises or lowers the level
    (:func:`window_after_drag`); the status bar shows W / L in the layer's units while
    dragging. napari's right-drag zoom is held off for the drag. Without a CT or MRI
    layer (see :func:`layer_for_window`) the drag does what it did before.
    ``layers_viewer`` is the viewer whose layers and status bar the drag acts on when it
    is not the one dragged in (a linked view's model drives the main viewer's layers).
    """
    if event.button != 2 or event.modifiers:
        return
    target = viewer if layers_viewer is None else layers_viewer
    layer = layer_for_window(target)
    if layer is None:
        return
    units = window_units(layer)
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    mouse_pan = camera.mouse_pan
    camera.mouse_pan = False  # no zoom while the right button sets the window
    low, high = layer.contrast_limits
    width, level = high - low, (high + low) / 2.0
    start = (float(event.pos[0]), float(event.pos[1]))
    yield
    try:
        while event.type == "mouse_move":
            new_width, new_level = window_after_drag(
                width, level, event.pos[0] - start[0], event.pos[1] - start[1]
            )
            low, high = window_limits(new_width, new_level)
            low_range, high_range = layer.contrast_limits_range
            if low < low_range or high > high_range:
                layer.contrast_limits_range = (min(low, low_range), max(high, high_range))
            layer.contrast_limits = (low, high)
            target.status = f"{layer.name}: W {new_width:.0f} / L {new_level:.0f} {units}"
            yield
    finally:
        camera.mouse_pan = mouse_pan


def window_level_in(layers_viewer):
    """A mouse-drag callback for another canvas (a linked view) whose right-drag sets
    the window / level of ``layers_viewer``'s CT or MRI (:func:`drag_window_level`)."""

    def callback(viewer, event):
        return drag_window_level(viewer, event, layers_viewer)

    return callback


def enable_window_level(viewer=None) -> None:
    """Turn on right-drag window / level (:func:`drag_window_level`) in ``viewer`` (once).

    Without a viewer, in napari's current one (the reader and the sample data, which
    napari calls without a viewer, turn it on for the viewer that opens a CT or MRI).
    """
    if viewer is None:
        from napari import current_viewer

        viewer = current_viewer()
    if viewer is not None and drag_window_level not in viewer.mouse_drag_callbacks:
        viewer.mouse_drag_callbacks.append(drag_window_level)
