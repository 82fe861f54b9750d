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

from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import QSplitter, QVBoxLayout, QWidget

from napari_calcium.widgets.layers import window_level_in

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


class _Release(QObject):
    """Calls ``release`` once: when the main viewer's canvas closes, or when the view's
    dock is closed (napari then takes the widget out of it: its parent becomes None)."""

    def __init__(self, view: QWidget, main_canvas: QWidget | None, release):
        super().__init__(view)
        self._view, self._release = view, release
        view.installEventFilter(self)
        if main_canvas is not None:
            main_canvas.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
        closing = obj is not self._view and event.type() == QEvent.Type.Close
        undocked = (
            obj is self._view and event.type() == QEvent.Type.ParentChange and obj.parent() is None
        )
        if (closing or undocked) and self._release is not None:
            release, self._release = self._release, None
            release()
        return False


def dock_view(viewer: napari.Viewer, name: str, make, area: str = "bottom") -> QWidget:
    """The widget docked as ``name`` in the main window: the open one (shown again if
    hidden), else a new one made by ``make()`` and docked.

    A widget with a ``release()`` method (holding canvases of its own) is released when
    its dock is closed or the main viewer's canvas closes, so no canvas outlives its
    dock; the next call makes a new one.
    """
    from napari.qt import QtViewer

    docks = viewer.window.dock_widgets
    if name in docks:
        docks[name].parent().show()
        return docks[name]
    widget = make()
    viewer.window.add_dock_widget(widget, name=name, area=area)
    if hasattr(widget, "release"):
        main_canvas = widget.window().centralWidget().findChild(QtViewer)
        _Release(widget, main_canvas, widget.release)
    return widget


#: Axes of the orthogonal views in world (z, y, x): (rows, columns) of each canvas.
ORTHO_PLANES = {"coronal": (0, 2), "sagittal": (0, 1)}
CROSSHAIR = "crosshair"
CROSSHAIR_COLOUR = "lime"
#: Width of the crosshair lines, screen pixels.
CROSSHAIR_PX = 1.0
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
    A right-drag in a side view sets the window / level of the main viewer's CT or MRI
    (:func:`~napari_calcium.widgets.layers.drag_window_level`), which its copies follow.
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
        self._copies: dict = {}  # a main viewer's layer -> its copies in the side views
        self._main_click = click_callback(self.set_point)
        for plane, view in self.views.items():
            model = view.model
            crosshair = model.add_shapes(
                name=CROSSHAIR, ndim=3, edge_color=CROSSHAIR_COLOUR, opacity=0.7
            )
            keep_edge_width_px(model, crosshair, CROSSHAIR_PX)
            rows, columns = ORTHO_PLANES[plane]
            model.dims.order = (3 - rows - columns, rows, columns)
            camera_of(model).orientation2d = ("up", "right")  # superior up
            model.mouse_drag_callbacks.append(click_callback(self.set_point))
            model.mouse_drag_callbacks.append(window_level_in(viewer))
            model.dims.events.point.connect(self._from_side)
        for layer in viewer.layers:
            self._mirror(layer)
        viewer.layers.events.inserted.connect(self._on_inserted)
        viewer.layers.events.removed.connect(self._on_removed)
        viewer.dims.events.point.connect(self._from_main)
        viewer.mouse_drag_callbacks.append(self._main_click)
        self._from_main()

    # ------------------------------------------------------------ layers
    def _layer_events(self, layer) -> list:
        """(event emitter, handler) pairs that keep ``layer``'s copies in step."""
        kind = layer.__class__.__name__
        pairs = [
            (getattr(layer.events, name), self._sync_property) for name in SYNCED_PROPERTIES[kind]
        ]
        pairs += [(layer.events.name, self._sync_property), (layer.events.data, self._sync_data)]
        if kind == "Labels":
            pairs += [
                (layer.events.labels_update, self._redraw),
                (layer.events.paint, self._redraw),
            ]
        return pairs

    def _mirror(self, layer) -> None:
        if layer.__class__.__name__ not in MIRRORED_KINDS or layer.ndim != 3:
            return
        from napari.layers import Layer

        copies = []
        with self._side_views_follow():  # a new layer may move a side view's point
            for view in self.views.values():
                first = len(view.layers) == 1  # the crosshair only: frame the new image
                copy = Layer.create(*layer.as_layer_data_tuple())
                view.layers.insert(len(view.layers) - 1, copy)  # under the crosshair
                copies.append(copy)
                if first:
                    view.model.reset_view()
        self._copies[layer] = copies
        for emitter, handler in self._layer_events(layer):
            emitter.connect(handler)
        self._from_main()

    def mirrors(self, layer) -> list:
        """The copies of the main viewer's ``layer`` in the side views."""
        return self._copies.get(layer, [])

    def _sync_property(self, event) -> None:
        layer = event.source
        for copy in self.mirrors(layer):
            setattr(copy, event.type, getattr(layer, event.type))

    def _sync_data(self, event) -> None:
        for copy in self.mirrors(event.source):
            copy.data = event.source.data

    def _redraw(self, event) -> None:
        for copy in self.mirrors(event.source):
            copy.refresh()

    def _on_inserted(self, event) -> None:
        self._mirror(event.value)

    def _on_removed(self, event) -> None:
        self._unmirror(event.value)

    def _unmirror(self, layer) -> None:
        copies = self._copies.pop(layer, None)
        if copies is None:
            return
        for emitter, handler in self._layer_events(layer):
            emitter.disconnect(handler)
        with self._side_views_follow():
            for view, copy in zip(self.views.values(), copies, strict=True):
                view.layers.remove(copy)

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

    @contextmanager
    def _side_views_follow(self):
        """Inside, a side view's point that changes does not move the main viewer's."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _from_main(self, _event=None) -> None:
        if self._syncing or self.viewer.dims.ndim < 3:
            return
        with self._side_views_follow():
            point = self.point
            for view in self.views.values():
                if view.model.dims.ndim == 3:
                    view.model.dims.set_point(range(3), point)
            self._draw_crosshairs(point)

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
            # new lines take a width of one data unit (1 mm): back to one screen pixel
            crosshair.edge_width = edge_width_for_px(
                crosshair, camera_of(view.model).zoom, CROSSHAIR_PX
            )

    def release(self) -> None:
        """Unlink from the main viewer and close the side canvases (their dock or the
        main viewer is closing)."""
        viewer = self.viewer
        for layer in list(self._copies):
            self._unmirror(layer)
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
