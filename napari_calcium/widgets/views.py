"""Display helpers shared by the widgets: linked views and outlines of a fixed width.

* :class:`LinkedView`: a second canvas docked in the main window, with its own
  ``ViewerModel`` (layers, dims, camera) and napari's ``QtViewer``, for images that
  live in coordinates of their own (the IVUS L-mode, the cross-sections along an
  intracranial artery), so they are never painted over the source image. napari 0.9
  has no multi-canvas viewer; this is the docked-``QtViewer`` pattern of napari's
  "multiple viewer widget" example, kept small.
* :class:`OrthoViews`: coronal and sagittal views of the main viewer's CT / MRI
  (mirrors of its 3-D Image and Labels layers, sharing their arrays), linked with the
  main (axial) view through one world point: scrolling or clicking in any view moves
  the others, and crosshairs mark the other planes.
* :func:`keep_edge_width_px`: napari draws a Shapes edge ``edge_width`` *data* units
  wide, so a contour drawn on an image of 0.04-mm pixels is a fraction of a screen pixel
  at most zooms; this keeps it a set number of screen pixels wide whatever the zoom.

World coordinates are the plugin's everywhere: LPS millimetres in ``(z, y, x)`` order
(z superior, y posterior, x to the patient's left).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QSplitter, QVBoxLayout, QWidget

if TYPE_CHECKING:
    import napari

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


#: A press and release closer than this (screen pixels) is a click, farther a drag.
CLICK_TOLERANCE_PX = 3.0


def click_callback(on_click):
    """A napari mouse-drag callback that calls ``on_click(world_position)`` on a left
    click (press and release without moving, no modifier); drags still pan."""

    def callback(_source, event):
        if event.button != 1 or event.modifiers:
            return
        start = np.asarray(event.pos, dtype=float)
        yield
        moved = False
        while event.type == "mouse_move":
            moved = moved or np.hypot(*(np.asarray(event.pos) - start)) > CLICK_TOLERANCE_PX
            yield
        if not moved:
            on_click(np.asarray(event.position, dtype=float))

    return callback


class LinkedView(QWidget):
    """A canvas of its own in the main window: ``model`` (a napari ``ViewerModel``)
    drawn by napari's ``QtViewer``, optionally with its layer list and layer controls
    (to edit Shapes drawn in it).

    Parameters
    ----------
    title : the view's name (its dock's title).
    controls : show the layer list and the selected layer's controls beside the canvas.
    """

    def __init__(self, title: str, controls: bool = False):
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        super().__init__()
        self.model = ViewerModel(title=title)
        self.qt_viewer = QtViewer(self.model)
        self.qt_viewer.setMinimumSize(160, 160)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if controls:
            splitter = QSplitter(Qt.Orientation.Horizontal)
            side = QSplitter(Qt.Orientation.Vertical)
            side.addWidget(self.qt_viewer.controls)
            side.addWidget(self.qt_viewer.layers)
            splitter.addWidget(self.qt_viewer)
            splitter.addWidget(side)
            splitter.setStretchFactor(0, 3)
            layout.addWidget(splitter)
        else:
            layout.addWidget(self.qt_viewer)

    def release(self) -> None:
        """Close the canvas and let it go (the main viewer is closing)."""
        if self.qt_viewer is not None:
            self.qt_viewer.close()
            self.qt_viewer.setParent(None)
            self.qt_viewer = None

    @property
    def layers(self):
        return self.model.layers

    def set_layer(self, name: str, data, kind: str, **kwargs):
        """Add (or replace) the layer ``name`` of ``kind`` (``image``, ``shapes`` ...)."""
        if name in self.model.layers:
            self.model.layers.remove(name)
        return getattr(self.model, f"add_{kind}")(data, name=name, **kwargs)


class _OnClose(QObject):
    """Calls ``callback`` when the watched widget gets its Close event."""

    def __init__(self, watched: QWidget, callback):
        super().__init__(watched)
        self._callback = callback
        watched.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False


def dock_view(viewer: napari.Viewer, name: str, make, area: str = "bottom") -> QWidget:
    """The widget docked as ``name`` in the main window, made by ``make()`` and docked
    the first time; an open one is shown again.

    A widget with a ``release()`` method (holding canvases of its own) is released when
    the main viewer's canvas closes, so no canvas outlives the viewer.
    """
    from napari.qt import QtViewer

    docks = viewer.window.dock_widgets
    if name in docks:
        docks[name].parent().show()
        return docks[name]
    widget = make()
    viewer.window.add_dock_widget(widget, name=name, area=area)
    main_canvas = widget.window().centralWidget().findChild(QtViewer)
    if hasattr(widget, "release") and main_canvas is not None:
        _OnClose(main_canvas, widget.release)
    return widget


#: Axes of the orthogonal views in world (z, y, x): (rows, columns) of each canvas.
ORTHO_PLANES = {"coronal": (0, 2), "sagittal": (0, 1)}
CROSSHAIR = "crosshair"
CROSSHAIR_COLOUR = "lime"
MIRRORED_KINDS = ("Image", "Labels")
SYNCED_PROPERTIES = {
    "Image": ("visible", "opacity", "contrast_limits", "colormap", "gamma", "blending"),
    "Labels": ("visible", "opacity", "blending"),
}


class OrthoViews(QWidget):
    """Coronal and sagittal views of the main viewer's CT / MRI, linked to its axial view.

    The main viewer's 3-D Image and Labels layers are mirrored (same arrays, same
    geometry; display settings follow the main layers, labels redraw after each edit).
    The three views share one world point (napari ``dims.point``): the axial slider,
    a scroll in a side view or a click in any view (which puts the point where it
    landed) moves the others. Side views show superior up, the patient's left on the
    right (coronal) and anterior on the left (sagittal), with a crosshair at the point.
    """

    def __init__(self, viewer: napari.Viewer):
        super().__init__()
        self.viewer = viewer
        self.views = {plane: LinkedView(f"{plane} view") for plane in ORTHO_PLANES}
        splitter = QSplitter(Qt.Orientation.Horizontal)
        for view in self.views.values():
            splitter.addWidget(view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._syncing = False
        self._main_click = click_callback(self.set_point)
        for layer in viewer.layers:
            self._mirror(layer)
        for plane, view in self.views.items():
            model = view.model
            rows, columns = ORTHO_PLANES[plane]
            if model.dims.ndim == 3:
                model.dims.order = (3 - rows - columns, rows, columns)
            camera_of(model).orientation2d = ("up", "right")
            model.mouse_drag_callbacks.append(click_callback(self.set_point))
            model.dims.events.point.connect(self._from_side)
            crosshair = model.add_shapes(
                name=CROSSHAIR, ndim=3, edge_color=CROSSHAIR_COLOUR, opacity=0.7
            )
            keep_edge_width_px(model, crosshair, 1.0)
            model.reset_view()
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.dims.events.point.connect(self._from_main)
        viewer.mouse_drag_callbacks.append(self._main_click)
        self._from_main()

    # ------------------------------------------------------------ layers
    def _mirror(self, layer) -> None:
        kind = layer.__class__.__name__
        if kind not in MIRRORED_KINDS or layer.ndim != 3:
            return
        from napari.layers import Layer

        for view in self.views.values():
            copy = Layer.create(*layer.as_layer_data_tuple())
            index = len(view.layers) - (CROSSHAIR in view.layers)
            view.layers.insert(index, copy)  # under the crosshair
        for name in SYNCED_PROPERTIES[kind]:
            getattr(layer.events, name).connect(self._sync_property)
        layer.events.data.connect(self._sync_data)
        if kind == "Labels":
            layer.events.labels_update.connect(self._redraw)
            layer.events.paint.connect(self._redraw)

    def mirrors(self, name: str) -> list:
        """The copies of the main viewer's layer ``name`` in the side views."""
        return [view.layers[name] for view in self.views.values() if name in view.layers]

    def _sync_property(self, event) -> None:
        layer = event.source
        for copy in self.mirrors(layer.name):
            setattr(copy, event.type, getattr(layer, event.type))

    def _sync_data(self, event) -> None:
        for copy in self.mirrors(event.source.name):
            copy.data = event.source.data

    def _redraw(self, event) -> None:
        for copy in self.mirrors(event.source.name):
            copy.refresh()

    def _on_inserted(self, event) -> None:
        self._mirror(event.value)

    def _on_removed(self, event) -> None:
        for view in self.views.values():
            if event.value.name in view.layers and event.value.name != CROSSHAIR:
                view.layers.remove(event.value.name)

    # ------------------------------------------------------------ the shared point
    @property
    def point(self) -> np.ndarray:
        """The linked world point (z, y, x mm)."""
        return np.asarray(self.viewer.dims.point[-3:], dtype=float)

    def set_point(self, world) -> None:
        """Move every view to the world point ``(z, y, x)`` mm (a click lands here)."""
        world = np.asarray(world, dtype=float)[-3:]
        ndim = self.viewer.dims.ndim
        if ndim >= 3 and len(world) == 3:
            self.viewer.dims.set_point(range(ndim - 3, ndim), world)

    def _from_main(self, _event=None) -> None:
        if self._syncing or self.viewer.dims.ndim < 3:
            return
        self._syncing = True
        try:
            point = self.point
            for view in self.views.values():
                if view.model.dims.ndim == 3:
                    view.model.dims.set_point(range(3), point)
            self._draw_crosshairs(point)
        finally:
            self._syncing = False

    def _from_side(self, event) -> None:
        if self._syncing:
            return
        self.set_point(event.source.point)

    def _draw_crosshairs(self, point) -> None:
        extent = np.asarray(self.viewer.layers.extent.world, dtype=float)[:, -3:]
        for plane, view in self.views.items():
            if CROSSHAIR not in view.layers:
                continue
            lines = []
            for axis in ORTHO_PLANES[plane]:
                start, end = point.copy(), point.copy()
                start[axis], end[axis] = extent[0, axis], extent[1, axis]
                lines.append(np.stack([start, end]))
            crosshair = view.layers[CROSSHAIR]
            crosshair.data = lines
            crosshair.shape_type = "line"
            crosshair.edge_color = CROSSHAIR_COLOUR

    def release(self) -> None:
        """Unlink from the main viewer and close the side canvases (it is closing)."""
        viewer = self.viewer
        viewer.layers.events.inserted.disconnect(self._on_inserted)
        viewer.layers.events.removed.disconnect(self._on_removed)
        viewer.dims.events.point.disconnect(self._from_main)
        if self._main_click in viewer.mouse_drag_callbacks:
            viewer.mouse_drag_callbacks.remove(self._main_click)
        for view in self.views.values():
            view.release()
        self.views = {}


#: Name of the dock holding :class:`OrthoViews`.
ORTHO_DOCK = "Linked views (coronal | sagittal)"


def open_ortho_views(viewer: napari.Viewer) -> OrthoViews:
    """Dock the coronal and sagittal views linked to ``viewer`` (or show the open ones)."""
    return dock_view(viewer, ORTHO_DOCK, lambda: OrthoViews(viewer))


def linked_views_button(viewer: napari.Viewer):
    """A magicgui button that opens :func:`open_ortho_views` for ``viewer``."""
    from magicgui.widgets import PushButton

    button = PushButton(text=ORTHO_DOCK)
    button.changed.connect(lambda _value=None: open_ortho_views(viewer))
    return button
