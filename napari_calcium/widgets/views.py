"""Display helpers shared by the widgets: outlines of a fixed screen width.

napari draws a Shapes edge ``edge_width`` *data* units wide, so a contour drawn on an
image of 0.04-mm pixels is a fraction of a screen pixel at most zooms, and a wide one
hides the image when zoomed in. :func:`keep_edge_width_px` keeps it a set number of
screen pixels wide whatever the zoom.
"""

from __future__ import annotations

import numpy as np

#: Width of the contours the reader checks and edits (lumen, EEM, wall), screen pixels.
BORDER_PX = 2.0


def camera_of(viewer):
    """The camera of a viewer (napari >= 0.9 keeps it on ``viewer.scene``)."""
    return viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera


def edge_width_for_px(layer, zoom: float, pixels: float = BORDER_PX) -> float:
    """Edge width in ``layer`` data units that shows ``pixels`` screen pixels wide.

    ``zoom`` is the camera's screen pixels per world unit (mm); a data unit is
    ``scale`` world units along the two displayed (last) axes.
    """
    data_unit_mm = float(np.mean(np.abs(np.asarray(layer.scale, dtype=float)[-2:])))
    return pixels / (zoom * data_unit_mm)


def keep_edge_width_px(viewer, layer, pixels: float = BORDER_PX) -> None:
    """Keep the edges of Shapes ``layer`` ``pixels`` screen pixels wide at every zoom.

    The width follows the camera's zoom (shapes drawn later get it too) until the
    layer leaves the viewer.
    """
    camera = camera_of(viewer)

    def update(_event=None):
        width = edge_width_for_px(layer, camera.zoom, pixels)
        layer.current_edge_width = width
        if len(layer.data):
            layer.edge_width = width

    def forget(event):
        if event.value is layer:
            camera.events.zoom.disconnect(update)
            viewer.layers.events.removed.disconnect(forget)

    camera.events.zoom.connect(update)
    viewer.layers.events.removed.connect(forget)
    update()
