"""napari widget: calcification along an intracranial artery, and VW-MRI plaque.

Workflow: draw the centreline on the CT (or a registered MRI) as a Shapes path or
as Points, proximal first -> *Reformat* shows the cross-sectional stack ->
*Run* finds and measures the calcifications (and, with an MRI, the lumen and
outer-wall contours) in a background thread -> results arrive as layers: a
``calcifications`` Labels layer whose ``features`` is the per-calcification table
(pattern class included), a ``calcification centroids`` Points layer with the same
table, and with an MRI the MRI reformat with editable ``lumen`` / ``outer wall``
Shapes (features = per-cross-section wall metrics); *Recompute* re-reads edited
contours.

The cross-sections live in their own coordinates, so they have a view of their own
(the *Cross-sections along the centreline* dock, with its layer list and controls for
editing the contours), never the CT's canvas. The two are linked: a click on a
cross-section marks the point in the CT and shows its slice, a click on the CT marks
it in the cross-section and shows that frame, and moving through the frames marks
each frame's centre in the CT.

Coordinates: napari world = LPS reversed, ``(z, y, x)`` mm, for the CT and MRI;
the cross-sections view is in mm of its own, ``(along, v, u)``: distance along the
centreline (frame x step), then the two in-plane axes measured from the centreline, so
the CT and MRI cross-sections (whose pixel size and field of view differ) lie on each
other (:func:`reformat_layer_geometry`).
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    PushButton,
)

from napari_calcium.errors import InputError
from napari_calcium.scores.small_vessel import CALCIFIED_ARTERIES
from napari_calcium.volume import Volume
from napari_calcium.widgets.dock import breakable, fit_dock
from napari_calcium.widgets.views import (
    LinkedView,
    click_callback,
    dock_view,
    keep_edge_width_px,
    linked_views_button,
)

if TYPE_CHECKING:
    import napari

LINK_SOURCE = "linked point (source)"
NO_TRANSFORM = "none: the MRI is in the CT's space"
TRANSFORM_FILE = "transform file (below)"
LINK_REFORMAT = "linked point (reformat)"
REFORMAT_DOCK = "Cross-sections along the centreline"


def centerline_from_layer(layer) -> np.ndarray:
    """LPS points (N, 3) mm of a Shapes path (its first shape) or a Points layer."""
    kind = layer.__class__.__name__
    if kind == "Shapes":
        if len(layer.data) == 0:
            raise InputError(f"the Shapes layer {layer.name!r} has no path", "draw a path")
        data = np.asarray(layer.data[0])
    elif kind == "Points":
        data = np.asarray(layer.data)
    else:
        raise InputError(
            f"layer {layer.name!r} is a {kind}; draw the centreline as a path or points"
        )
    if data.ndim != 2 or data.shape[1] != 3:
        raise InputError(
            f"the centreline layer {layer.name!r} is not 3-D",
            "draw the path on the 3-D CT (its points need z, y, x)",
        )
    world = np.array([layer.data_to_world(p) for p in data])
    return world[:, ::-1]


def reformat_layer_geometry(sections) -> dict:
    """``scale`` and ``translate`` of a reformat layer: world ``(along, v, u)`` mm with
    the centreline at ``v = u = 0`` whatever the sections' pixel size and field of view."""
    half = sections.half_width_mm
    return {"scale": tuple(sections.scale_mm), "translate": (0.0, -half, -half)}


def reformat_world_to_index(sections, world) -> np.ndarray:
    """Reformat indices ``(frame, v, u)`` of a point of the cross-sections view (mm)."""
    geometry = reformat_layer_geometry(sections)
    return (np.asarray(world, dtype=float) - geometry["translate"]) / geometry["scale"]


def reformat_index_to_world(sections, index) -> np.ndarray:
    """The cross-sections view's point (mm) of reformat indices ``(frame, v, u)``."""
    geometry = reformat_layer_geometry(sections)
    return np.asarray(index, dtype=float) * geometry["scale"] + geometry["translate"]


def distinct_vertices(uv) -> np.ndarray:
    """A contour's vertices without repeats, in their order.

    A contour that collapses at the end of a vessel repeats vertices, and napari cannot
    triangulate a polygon with a repeated vertex.
    """
    uv = np.asarray(uv, dtype=float)
    _, first = np.unique(np.round(uv, 9), axis=0, return_index=True)
    return uv[np.sort(first)]


class IntracranialWidget(Container):
    """Dock widget for :func:`napari_calcium.intracranial.run_intracranial`."""

    #: Contours are shown (and edited) with every n-th vertex of the detected ones.
    display_every = 3

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.ct_layer = ComboBox(label="CT (HU)", choices=self._images)
        self.mri_layer = ComboBox(label="VW-MRI", choices=self._optional_images)
        self.post_layer = ComboBox(label="VW-MRI post", choices=self._optional_images)
        self.transform = ComboBox(label="MRI onto CT registration", choices=self._transforms)
        self.transform_file = FileEdit(
            label="transform file", mode="r", filter="*.tfm *.txt *.h5 *.hdf5"
        )
        self.line_layer = ComboBox(label="centreline", choices=self._lines)
        # a named artery lets the small vessel disease widget take its grade
        self.artery = ComboBox(label="artery", choices=["artery", *CALCIFIED_ARTERIES])
        self.threshold_hu = FloatSpinBox(label="threshold (HU)", value=130, min=0, max=3000)
        self.radius_mm = FloatSpinBox(
            label="region radius (mm)", value=4.5, min=0.5, max=20, step=0.5
        )
        self.step_mm = FloatSpinBox(label="step (mm)", value=0.25, min=0.05, max=5, step=0.05)
        self.refine = CheckBox(label="refine centreline to lumen (MRI)", value=False)
        self.use_reference = CheckBox(label="reader reference site", value=False)
        self.reference_mm = FloatSpinBox(
            label="reference (mm)", value=0, min=0, max=1000, step=0.5
        )
        self.reformat_button = PushButton(text="Reformat")
        self.run_button = PushButton(text="Run")
        self.recompute_button = PushButton(text="Recompute from contours")
        self.status = Label(value="")
        self.extend(
            [
                self.ct_layer,
                self.mri_layer,
                self.post_layer,
                self.transform,
                self.transform_file,
                self.line_layer,
                self.artery,
                self.threshold_hu,
                self.radius_mm,
                self.step_mm,
                self.refine,
                self.use_reference,
                self.reference_mm,
                self.reformat_button,
                self.run_button,
                self.recompute_button,
                self.status,
            ]
        )
        self.reformat_button.changed.connect(self.reformat)
        self.run_button.changed.connect(lambda: self.run())
        self.recompute_button.changed.connect(self.recompute)
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self.sections = None
        self._linking = False
        self.transform_used = None
        self.result = None
        self.worker = None
        self._source_click = None
        self.insert(self.index(self.reformat_button), linked_views_button(viewer))
        fit_dock(self)

    # ---------------------------------------------------------------- choices
    def _images(self, _=None):
        return [ly for ly in self.viewer.layers if ly.__class__.__name__ == "Image"]

    def _optional_images(self, _=None):
        return [None, *self._images()]

    def _lines(self, _=None):
        return [
            ly
            for ly in self.viewer.layers
            if ly.__class__.__name__ in ("Shapes", "Points")
            and not ly.name.startswith(
                ("linked point", "calcification", "lumen", "outer wall", "plaque")
            )
        ]

    def _transforms(self, _=None):
        """No transform, each registration made in this viewer, or a transform file."""
        registered = [
            (f"registration: {ly.name}", ly)
            for ly in self._images()
            if "registration" in ly.metadata
        ]
        return [
            (NO_TRANSFORM, None),
            *registered,
            (TRANSFORM_FILE, TRANSFORM_FILE),
        ]

    def _refresh(self, _=None):
        for box in (
            self.ct_layer,
            self.mri_layer,
            self.post_layer,
            self.transform,
            self.line_layer,
        ):
            box.reset_choices()

    def _notify(self, message: str):
        from napari.utils.notifications import show_info

        self.status.value = breakable(message)  # file paths wrap too
        show_info(message)

    # ----------------------------------------------------------------- inputs
    def _inputs(self):
        if self.ct_layer.value is None or self.line_layer.value is None:
            raise InputError("choose a CT layer and a centreline layer")
        ct = Volume.from_layer(self.ct_layer.value)
        if ct.modality == "OT":  # a plain image layer: the reader says it is a CT in HU
            ct = ct.replace(modality="CT", units="HU")
        mri = None if self.mri_layer.value is None else Volume.from_layer(self.mri_layer.value)
        post = None if self.post_layer.value is None else Volume.from_layer(self.post_layer.value)
        return ct, mri, post, centerline_from_layer(self.line_layer.value)

    def mri_transform(self):
        """The chosen CT -> MRI transform (``None``: the MRI is in the CT's space) and
        the words that say where it comes from.

        A registration made by the Registration widget maps its fixed image's points
        to its moving image's (ITK): with the CT fixed and an MRI moving that is what
        the analysis needs, and an MRI of the same session (the vessel-wall slab of the
        whole-head T1) shares it. With the CT moving, its inverse is taken.
        """
        from napari_calcium.registration import load_transform, transform_from_text

        choice = self.transform.value
        if choice is None:
            return None, "none (the MRI shares the CT's physical space)"
        for box in (self.mri_layer, self.post_layer):
            if box.value is not None and "registration" in box.value.metadata:
                raise InputError(
                    f"the MRI layer {box.value.name!r} is already registered onto the CT",
                    "choose the original MRI with this transform, or no transform",
                )
        if choice == TRANSFORM_FILE:
            path = self.transform_file.value
            if path is None or not str(path) or str(path) == ".":
                raise InputError("no transform file chosen", "choose the .tfm / .h5 file")
            return load_transform(path), f"file {path}"
        registration = choice.metadata["registration"]
        transform = transform_from_text(registration["transform_tfm"])
        ct_name = self.ct_layer.value.name if self.ct_layer.value is not None else None
        words = (
            f"registration of {registration['moving']!r} onto {registration['fixed']!r} "
            f"({registration['kind']})"
        )
        if registration["moving"] == ct_name:
            try:
                transform = transform.GetInverse()
            except RuntimeError as err:
                raise InputError(
                    f"the {registration['kind']} registration of the CT onto the MRI cannot "
                    "be inverted",
                    "register the MRI (moving) onto the CT (fixed) instead",
                ) from err
            words += ", inverted (the CT was the moving image)"
        return transform, words

    # --------------------------------------------------------------- reformat
    def reformat(self):
        """Add the CT's cross-sectional reformat along the centreline as an image layer."""
        from napari_calcium.vessel.centerline import Centerline, reformat

        try:
            ct, _, _, points = self._inputs()
            array, sections = reformat(
                ct,
                Centerline(points),
                step_mm=self.step_mm.value,
                field_of_view_mm=2 * self.radius_mm.value + 2,
                pixel_mm=min(ct.spacing_mm) / 2,
            )
        except InputError as err:
            self._notify(f"error: {err}")
            return None
        self.sections = sections
        layer = self._set_reformat_layer(
            "CT reformat",
            array,
            "image",
            colormap="gray",
            contrast_limits=(-200.0, 1300.0),
            **reformat_layer_geometry(sections),
        )
        self._link(sections)
        return layer

    def _set_layer(self, name, data, kind, **kwargs):
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        return getattr(self.viewer, f"add_{kind}")(data, name=name, **kwargs)

    @property
    def reformat_view(self) -> LinkedView:
        """The view of the cross-sections (its own canvas, layer list and controls, so the
        contours can be edited there), docked when first needed or after it was closed."""
        return dock_view(self.viewer, REFORMAT_DOCK, self._make_reformat_view)

    def _make_reformat_view(self) -> LinkedView:
        view = LinkedView(REFORMAT_DOCK, controls=True)
        view.model.mouse_drag_callbacks.append(click_callback(self._on_reformat_click))
        view.model.dims.events.current_step.connect(self._on_reformat_frame)
        return view

    def _set_reformat_layer(self, name, data, kind, **kwargs):
        """A layer in the reformat's own coordinates, in the reformat view."""
        new = name not in self.reformat_view.layers
        layer = self.reformat_view.set_layer(name, data, kind, **kwargs)
        if new and kind == "image":
            self.reformat_view.model.reset_view()
        return layer

    # -------------------------------------------------------------------- run
    def run(self):
        """Start the analysis in a ``thread_worker``; results are added when it returns."""
        from napari.qt.threading import thread_worker

        from napari_calcium.intracranial import run_intracranial

        try:
            ct, mri, post, points = self._inputs()
            transform, transform_words = (None, None) if mri is None else self.mri_transform()
            if mri is not None and transform is None:  # cheap: refuse before the long work
                from napari_calcium.intracranial import check_overlap
                from napari_calcium.vessel.centerline import Centerline

                check_overlap(mri, ct, Centerline(points))
        except InputError as err:
            self._notify(f"error: {err}")
            return None
        self.transform_used = transform_words
        reference = self.reference_mm.value if self.use_reference.value else None
        options = {
            "threshold_hu": self.threshold_hu.value,
            "region_radius_mm": self.radius_mm.value,
            "step_mm": self.step_mm.value,
            "reference_mm": reference,
            "refine_centerline": self.refine.value,
            "artery": self.artery.value,
            "transform": transform,
        }

        @thread_worker(progress={"total": 100, "desc": "intracranial calcification"})
        def work():
            # run_intracranial reports (stage, fraction) from a helper thread; each
            # percent reached is yielded so napari's progress bar follows it.
            updates: queue.Queue = queue.Queue()
            outcome: dict = {}

            def target():
                try:
                    outcome["result"] = run_intracranial(
                        ct,
                        points,
                        mri=mri,
                        mri_post=post,
                        progress=lambda stage, fraction: updates.put(fraction),
                        **options,
                    )
                except Exception as err:  # noqa: BLE001 - re-raised in the worker below
                    outcome["error"] = err
                finally:
                    updates.put(None)

            threading.Thread(target=target, daemon=True).start()
            done = 0
            while (fraction := updates.get()) is not None:
                while done < int(100 * fraction):
                    done += 1
                    yield done
            if "error" in outcome:
                raise outcome["error"]
            return outcome["result"]

        self.worker = work()
        self.worker.returned.connect(self._show)
        self.worker.errored.connect(lambda err: self._notify(f"error: {err}"))
        self.status.value = "running ..."
        self.worker.start()
        return self.worker

    def _show(self, result: dict):
        from napari_calcium.intracranial import calcification_table, result_json

        self.result = result
        table = calcification_table(result)
        labels = result["labels"]
        features = table.rename(columns={"id": "index"})
        layer_kwargs = labels.layer_kwargs()
        layer = self._set_layer(
            "calcifications", np.asarray(labels.array), "labels", features=features, **layer_kwargs
        )
        # the JSON result travels with the layer: the SVD widget reads the grade from it
        layer.metadata["intracranial"] = result_json(result)
        if result["calcifications"]:
            centroids = np.array([c["centroid_mm"] for c in result["calcifications"]])[:, ::-1]
            self._set_layer(
                "calcification centroids",
                centroids,
                "points",
                features=table,
                text={"string": "{id}: {pattern}", "size": 9, "color": "yellow"},
                size=1.0,
                face_color="transparent",
                border_color="yellow",
            )
        if result["wall"] is not None:
            self._show_wall(result["wall"], result["plaque"])
        grade = result["grade"]
        self._notify(
            f"{len(table)} calcification(s); grade {grade['grade']} ({grade['rule']}); "
            f"plaque {result['plaque']['class']}"
            + ("" if result["wall"] is None else f"; MRI onto CT: {self.transform_used}")
            + "".join(f"\nWARNING: {text}" for text in result["warnings"])
        )

    # ------------------------------------------------------------------ wall
    def _show_wall(self, wall: dict, plaque: dict):
        sections = wall["sections"]
        mri = wall["volumes"]["mri"]
        self._set_reformat_layer(
            "VW-MRI reformat",
            sections.sample(mri),
            "image",
            colormap="gray",
            **reformat_layer_geometry(sections),
        )
        self._link(sections)
        self._show_plaque(sections, plaque)
        table = pd.DataFrame(wall["table"])
        for name, contours, colour in (
            ("lumen", wall["lumen_uv"], "cyan"),
            ("outer wall", wall["outer_uv"], "magenta"),
        ):
            shapes = [
                self._contour_to_world(sections, f, distinct_vertices(c[:: self.display_every]))
                for f, c in enumerate(contours)
            ]
            contour_layer = self._set_reformat_layer(
                name,
                shapes,
                "shapes",
                shape_type="polygon",
                edge_color=colour,
                face_color="transparent",
                features=table,
                metadata={"plaque": plaque},
            )
            keep_edge_width_px(self.reformat_view.model, contour_layer)

    def _show_plaque(self, sections, plaque: dict):
        """A point at the narrowest site whose features are the plaque summary (one row)."""
        frame = plaque["narrowest_frame"]
        summary = pd.DataFrame([{k: v for k, v in plaque.items() if np.isscalar(v) or v is None}])
        self._set_reformat_layer(
            "plaque (narrowest site)",
            [[frame * sections.step_mm, 0.0, 0.0]],  # the centre of its cross-section
            "points",
            features=summary,
            size=1.0,
            face_color="transparent",
            border_color="orange",
            text={"string": "{class}, stenosis {stenosis_pct:.0f}%", "size": 9, "color": "orange"},
        )

    @staticmethod
    def _contour_to_world(sections, frame, uv):
        """A contour's (u, v) mm from the centreline -> the cross-sections view's mm."""
        return np.column_stack([np.full(len(uv), frame * sections.step_mm), uv[:, 1], uv[:, 0]])

    @staticmethod
    def _world_to_contour(sections, world):
        frame = int(round(float(np.mean(world[:, 0])) / sections.step_mm))
        return frame, np.column_stack([world[:, 2], world[:, 1]])

    def recompute(self):
        """Re-read the (edited) lumen / outer-wall Shapes and update the plaque table."""
        from napari_calcium.vessel.wall import summarise_plaque, wall_table

        if self.result is None or self.result["wall"] is None:
            self._notify("run with a VW-MRI first")
            return None
        wall = self.result["wall"]
        sections = wall["sections"]
        contours = {"lumen": list(wall["lumen_uv"]), "outer wall": list(wall["outer_uv"])}
        view = self.reformat_view
        if not all(name in view.layers for name in contours):
            self._notify("the contours were closed with their view: run again to edit them")
            return None
        for name, current in contours.items():
            for shape in view.layers[name].data:
                frame, uv = self._world_to_contour(sections, np.asarray(shape))
                if 0 <= frame < sections.n_frames:
                    current[frame] = uv
        vols = wall["volumes"]
        table = wall_table(
            sections,
            contours["lumen"],
            contours["outer wall"],
            vols["mri"],
            vols["post"],
            vols["ct"],
            vols["threshold_hu"],
        )
        plaque = summarise_plaque(
            table,
            reference_mm=self.result["plaque"]["reference_mm"]
            if self.use_reference.value
            else None,
        )
        wall.update(lumen_uv=contours["lumen"], outer_uv=contours["outer wall"], table=table)
        self.result["plaque"] = plaque
        for name in contours:
            layer = view.layers[name]
            if len(layer.data) == len(table):
                layer.features = pd.DataFrame(table)
            layer.metadata["plaque"] = plaque
        self._show_plaque(sections, plaque)
        self._notify(
            f"recomputed: stenosis {plaque['stenosis_pct']:.0f}%, LA {plaque['lumen_area_mm2']:.2f} mm2"
        )
        return plaque

    # --------------------------------------------------------------- linking
    def _link(self, sections):
        """Link the reformat view and the source view: a click in either marks the point
        in the other, and the cross-section shown follows (and moves) the source."""
        self.sections = sections
        if self._source_click in self.viewer.mouse_drag_callbacks:
            self.viewer.mouse_drag_callbacks.remove(self._source_click)
        self._source_click = click_callback(self._on_source_click)
        self.viewer.mouse_drag_callbacks.append(self._source_click)

    def _on_reformat_click(self, world):
        if self.sections is not None:
            self.show_in_source(self.sections, world)

    def _on_source_click(self, world):
        if self.sections is not None and REFORMAT_DOCK in self.viewer.window.dock_widgets:
            self.show_in_reformat(self.sections, world)

    def _on_reformat_frame(self, event):
        """The cross-section shown changed: mark its centre in the source and show it."""
        if self.sections is None or self._linking:
            return
        frame = int(event.source.current_step[0])  # the view's dims
        if 0 <= frame < self.sections.n_frames:
            world = np.asarray(self.sections.centers_mm[frame], dtype=float)[::-1]
            self._set_marker(LINK_SOURCE, world)
            self._show_in_main(world)

    def _show_in_main(self, world) -> None:
        """Move the main viewer's slices to the world point ``(z, y, x)``."""
        self._linking = True
        try:
            ndim = self.viewer.dims.ndim
            self.viewer.dims.set_point(range(ndim - 3, ndim), world)
        finally:
            self._linking = False

    def show_in_source(self, sections, reformat_world) -> np.ndarray:
        """Mark in the source volume the point clicked at ``reformat_world`` (the
        cross-sections view's mm) and show its slice; returns it in LPS mm."""
        index = reformat_world_to_index(sections, np.asarray(reformat_world, dtype=float)[-3:])
        lps = sections.index_to_physical(index)
        world = lps[::-1]
        self._set_marker(LINK_SOURCE, world)
        self._show_in_main(world)
        return lps

    def show_in_reformat(self, sections, source_world) -> np.ndarray | None:
        """Mark in the reformat the source point at napari world ``(z, y, x)`` (LPS reversed)
        and show its cross-section."""
        index = sections.physical_to_index(np.asarray(source_world, dtype=float)[-3:][::-1])
        if not np.all(np.isfinite(index)):
            self.status.value = "that point is in no cross-section"
            return None
        world = reformat_index_to_world(sections, index)
        self._set_marker(LINK_REFORMAT, world)
        self._linking = True
        try:
            self.reformat_view.model.dims.set_point(0, world[0])
        finally:
            self._linking = False
        return index

    def _set_marker(self, name, world):
        target = self.reformat_view.model if name == LINK_REFORMAT else self.viewer
        if name in target.layers:
            target.layers[name].data = np.atleast_2d(world)
        else:
            selected = self.viewer.layers.selection.active
            target.add_points(
                np.atleast_2d(world), name=name, size=0.6, face_color="red", border_color="white"
            )
            if target is self.viewer and selected is not None:  # clicks keep their layer
                self.viewer.layers.selection.active = selected
