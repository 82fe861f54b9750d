"""IVUS pullback widget: borders and calcium as editable layers, L-mode, plots, lesion table,
the reader's calls (calcified nodule, reference frames) and the HTML report.

Thin: it builds a pullback Volume from an Image layer (with the speed, frame rate and
pixel size the reader confirms), runs :func:`napari_calcium.vessel.ivus.analysis_steps`
in a ``thread_worker`` with a progress bar, and shows the result as layers. Lumen and
EEM contours are polygons (one per frame, drawn as closed paths: the last vertex repeats
the first, which spares napari's slow polygon-face triangulation) in Shapes layers:
editing one is recorded as a reader correction, the neighbouring frames are re-estimated from it, and the per-frame
measurements, lesion table, score and plots update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    Table,
)

from napari_calcium.errors import InputError
from napari_calcium.scores.ivus import explain_ivus_calcium_score
from napari_calcium.vessel.ivus import (
    IvusAnalysis,
    IvusSettings,
    analysis_steps,
    calcium_mask,
    check_pullback,
    longitudinal_view,
    measure,
    pullback_span,
    pullback_volume,
)
from napari_calcium.vessel.polar import circular_runs
from napari_calcium.volume import Volume
from napari_calcium.widgets.dock import fit_dock
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.views import (
    LinkedView,
    click_callback,
    dock_view,
    keep_edge_width_px,
)

if TYPE_CHECKING:
    import napari

LESION_COLUMNS = (
    "id", "start_mm", "end_mm", "length_mm", "max_arc_deg", "arc_grade", "superficial",
    "circumferential", "nodule_candidate", "nodule_confirmed", "vessel_diameter_mm",
    "distal_reference_frame", "proximal_reference_frame", "reference_vessel_diameter_mm",
    "min_lumen_area_mm2",
)  # fmt: skip
CONTOUR_COLOURS = {"lumen": "yellow", "eem": "cyan"}
DISPLAY_VERTICES = 90
MASK_LAYER = "IVUS calcium mask"
#: The plots along the pullback need this height for their ticks, labels and titles.
PLOTS_MIN_HEIGHT_PX = 150
LMODE_DOCK, LMODE_LAYER, LMODE_MARKER = "IVUS L-mode", "L-mode", "current frame"
#: Largest pullback (voxels) for which the calcium mask is shown as a Labels layer.
MAX_MASK_VOXELS = 100_000_000


class IvusWidget(Container):
    """Analyse an IVUS pullback shown in napari and review / correct the result."""

    def __init__(self, napari_viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.file = FileEdit(label="pullback file", mode="r")
        self.open_button = PushButton(text="Open pullback")
        self.image = ComboBox(label="pullback layer", choices=self._image_layers)
        self.speed = FloatSpinBox(
            label="pullback speed (mm/s)", value=0.0, min=0.0, max=20.0, step=0.1
        )
        self.frame_rate = FloatSpinBox(
            label="frame rate (frames/s)", value=0.0, min=0.0, max=500.0
        )
        self.pixel = FloatSpinBox(label="pixel size (mm)", value=0.0, min=0.0, max=1.0, step=0.001)
        self.centre_y = FloatSpinBox(
            label="catheter centre row (px, -1 = detect)", value=-1.0, min=-1.0, max=1e5
        )
        self.centre_x = FloatSpinBox(
            label="catheter centre column (px, -1 = detect)", value=-1.0, min=-1.0, max=1e5
        )
        self.gated = CheckBox(text="gated (end-diastolic frames only)")
        self.all_frames = CheckBox(
            text="measure all frames (beyond the file's pullback start/stop)"
        )
        self.ed_frames = LineEdit(label="end-diastolic frames")
        self.remeasure_button = PushButton(text="Re-measure")
        self.run_button = PushButton(text="Analyse")
        self.angle = FloatSpinBox(
            label="L-mode angle (deg, clockwise from 12)", value=0.0, min=0.0, max=359.0
        )
        self.lmode_button = PushButton(text="L-mode view")
        self.confirm_nodule = PushButton(text="Confirm nodule (lesion at this frame)")
        self.reject_nodule = PushButton(text="Reject nodule (lesion at this frame)")
        self.distal_ref = SpinBox(label="distal reference frame (-1: none)", value=-1, min=-1,
                                  max=10**6)  # fmt: skip
        self.proximal_ref = SpinBox(label="proximal reference frame (-1: none)", value=-1,
                                    min=-1, max=10**6)  # fmt: skip
        self.set_refs = PushButton(text="Set reference frames (lesion at this frame)")
        self.auto_refs = PushButton(text="Automatic reference frames (lesion at this frame)")
        self.report_button = PushButton(text="Report ...")
        self.status = Label(value="")
        self.score = Label(value="")
        self.table = Table(value={c: [] for c in LESION_COLUMNS})
        self.extend([
            self.file, self.open_button, self.image, self.speed, self.frame_rate, self.pixel,
            self.centre_y, self.centre_x, self.gated, self.all_frames, self.ed_frames,
            self.remeasure_button,
            self.run_button, self.angle, self.lmode_button, self.confirm_nodule,
            self.reject_nodule, self.distal_ref, self.proximal_ref, self.set_refs,
            self.auto_refs, self.report_button, self.status, self.score,
            self.table,
        ])  # fmt: skip
        self.open_button.changed.connect(self.open_file)
        self.run_button.changed.connect(self.run)
        self.remeasure_button.changed.connect(lambda _value=None: self._remeasure())
        self.lmode_button.changed.connect(self.show_lmode)
        self.confirm_nodule.changed.connect(lambda _value=None: self.decide_nodule(True))
        self.reject_nodule.changed.connect(lambda _value=None: self.decide_nodule(False))
        self.set_refs.changed.connect(lambda _value=None: self.set_reference_frames())
        self.auto_refs.changed.connect(lambda _value=None: self.set_reference_frames(auto=True))
        self.report_button.changed.connect(self._ask_report)
        self.viewer.dims.events.current_step.connect(self._show_reference_frames)
        self.image.changed.connect(self._fill_from_layer)
        self.viewer.layers.events.inserted.connect(self._refresh_choices)
        self.viewer.layers.events.removed.connect(self._refresh_choices)
        self.volume: Volume | None = None
        self.analysis: IvusAnalysis | None = None
        self.result: dict | None = None
        self.worker = None
        self._shown: dict[str, dict[int, np.ndarray]] = {}
        self._updating = False
        self._figure = None
        self._frame_marker = []
        self._span_note = None
        self._lmode = None
        self._fill_from_layer()
        fit_dock(self)

    # ------------------------------------------------------------ input
    def _image_layers(self, _widget=None):
        return [
            layer
            for layer in self.viewer.layers
            if layer.__class__.__name__ == "Image" and layer.ndim >= 3
        ]

    def _refresh_choices(self, _event=None):
        self.image.reset_choices()

    def _fill_from_layer(self, _value=None):
        layer = self.image.value
        if layer is None:
            return
        meta = layer.metadata.get("napari_calcium", {})
        acquisition = meta.get("acquisition", {})
        if acquisition.get("pullback_speed_mm_s"):
            self.speed.value = acquisition["pullback_speed_mm_s"]
        if acquisition.get("frame_rate_hz"):
            self.frame_rate.value = acquisition["frame_rate_hz"]
        if meta.get("spacing_mm"):
            self.pixel.value = meta["spacing_mm"][0]

    def open_file(self, _value=None):
        """Read the chosen file and add it as the pullback layer."""
        from napari_calcium.io import read

        try:
            volume = read(self.file.value)
        except InputError as err:
            self._notify(str(err))
            return
        data, kwargs, _ = image_tuple(volume, name=f"pullback {self.file.value.name}")
        layer = self.viewer.add_image(data, **kwargs)
        self.image.value = layer

    def pullback(self) -> Volume:
        """The selected layer as a pullback Volume with the speed / rate / pixel size set."""
        layer = self.image.value
        if layer is None:
            raise InputError("no pullback layer", "open a pullback first")
        messages: list[str] = []
        speed = self.speed.value or None
        rate = self.frame_rate.value or None
        pixel = self.pixel.value or None
        if getattr(layer, "rgb", False) or np.asarray(layer.data).ndim == 4:
            volume = pullback_volume(np.asarray(layer.data), pixel, speed, rate, messages)
        else:
            volume = Volume.from_layer(layer).with_pullback(speed, rate, pixel)
        for message in messages:
            self._notify(message)
        self._messages = messages
        return volume

    # ------------------------------------------------------------ analysis
    def run(self, _value=None):
        """Start the analysis in a worker thread (progress bar); results land as layers."""
        from napari.qt.threading import create_worker

        try:
            volume = self.pullback()
            check_pullback(volume)
        except InputError as err:
            self._notify(str(err))
            return None
        self.volume = volume
        settings = IvusSettings()
        if self.centre_y.value >= 0 and self.centre_x.value >= 0:
            settings = IvusSettings(
                catheter_centre_yx_px=(self.centre_y.value, self.centre_x.value)
            )
        chunks = -(-volume.shape[0] // settings.chunk_frames)
        self.status.value = "analysing ..."

        def work():
            steps = analysis_steps(volume, settings, messages=list(self._messages))
            while True:
                try:
                    next(steps)
                except StopIteration as finished:
                    return finished.value
                yield

        self.worker = create_worker(
            work, _progress={"total": chunks, "desc": "IVUS analysis"}, _ignore_errors=True
        )
        self.worker.returned.connect(self._show)
        self.worker.errored.connect(lambda err: self._notify(str(err)))
        self.worker.start()
        return self.worker

    def _show(self, analysis: IvusAnalysis):
        self.analysis = analysis
        self.centre_y.value, self.centre_x.value = analysis.grid.centre_yx_px
        self.ed_frames.value = ", ".join(str(f) for f in analysis.end_diastolic)
        self._remeasure()
        self._draw_contours()
        self._draw_calcium()
        self._draw_plots()
        for message in analysis.messages:
            self._notify(message)
        self.status.value = f"{analysis.n_frames} frames, {analysis.frame_spacing_mm:.4f} mm apart"

    def _remeasure(self):
        if self.analysis is None:
            self._notify("analyse a pullback first")
            return
        frames = None
        if self.gated.value:
            try:
                frames = [int(f) for f in self.ed_frames.value.replace(",", " ").split()]
            except ValueError:
                self._notify("end-diastolic frames must be frame numbers separated by commas")
                return
        span, note = pullback_span(self.volume, self.all_frames.value)
        self.result = measure(self.analysis, frames, span)
        self.result["gated"] = frames is not None
        if note is not None and note != self._span_note:
            self._notify(note)
        self._span_note = note
        lesions = self.result["lesions"]
        table = {c: [lesion[c] for lesion in lesions] for c in LESION_COLUMNS}
        table["ivus_calcium_score"] = [lesion["ivus_calcium_score"]["total"] for lesion in lesions]
        self.table.value = table
        self.score.value = (
            explain_ivus_calcium_score(
                self.result["ivus_calcium_score"], self.result["target_lesion"]
            )
            + f"\n{self.result['guidance']['text']}"
        )
        rows = [r for r in self.result["per_frame"] if r["valid"]]
        for kind, key in (("lumen", "lumen_area_mm2"), ("eem", "vessel_area_mm2")):
            name = self._layer_name(kind)
            if name in self.viewer.layers:
                layer = self.viewer.layers[name]
                by_frame = {r["index"]: r for r in rows}
                frames = [int(round(np.mean(np.asarray(v)[:, 0]))) for v in layer.data]
                layer.features = {
                    "frame": frames,
                    "position_mm": [by_frame.get(f, {}).get("position_mm") for f in frames],
                    key: [by_frame.get(f, {}).get(key) for f in frames],
                }
        if self._figure is not None:
            self._draw_plots()
        self._show_reference_frames()

    def decide_nodule(self, confirmed: bool):
        """Record the reader's call on the calcified nodule of the lesion at the current
        frame; the score counts a nodule only when confirmed (CLINICAL_RULES 2.2)."""
        lesion = self._lesion_here()
        if lesion is None:
            return
        frame = int(self.viewer.dims.current_step[0])
        self.analysis.nodule_decisions[frame] = bool(confirmed)
        self._remeasure()
        self._notify(
            f"lesion {lesion['id']}: calcified nodule {'confirmed' if confirmed else 'rejected'}"
        )

    def _lesion_here(self) -> dict | None:
        """The lesion holding the frame shown, or None (with a notification)."""
        if self.analysis is None or self.result is None:
            self._notify("analyse a pullback first")
            return None
        frame = int(self.viewer.dims.current_step[0])
        lesion = next(
            (d for d in self.result["lesions"] if d["start_frame"] <= frame <= d["end_frame"]),
            None,
        )
        if lesion is None:
            self._notify(f"frame {frame} is in no calcium lesion")
        return lesion

    def set_reference_frames(self, auto: bool = False):
        """The reader's distal / proximal reference frames (-1: none on that side) for the
        lesion at the current frame, or back to the automatic ones (``auto``). The
        lithotripsy size check of the guidance uses their mean EEM diameter."""
        lesion = self._lesion_here()
        if lesion is None:
            return
        first, last = lesion["start_frame"], lesion["end_frame"]
        edits = self.analysis.reference_edits
        for frame in [f for f in edits if first <= f <= last]:
            del edits[frame]
        if not auto:
            measured = {r["index"] for r in self.result["per_frame"] if r["valid"]}
            chosen = []
            for box in (self.distal_ref, self.proximal_ref):
                frame = None if box.value < 0 else int(box.value)
                if frame is not None and (first <= frame <= last or frame not in measured):
                    self._notify(
                        f"{box.label} {frame} must be a measured frame outside lesion "
                        f"{lesion['id']} (frames {first}-{last})"
                    )
                    return
                chosen.append(frame)
            edits[first] = tuple(chosen)
        self._remeasure()
        self._notify(
            f"lesion {lesion['id']}: reference frames "
            + ("automatic" if auto else f"{chosen[0]} (distal), {chosen[1]} (proximal)")
        )

    def _show_reference_frames(self, _event=None):
        """Show the reference frames of the lesion at the current frame in the spin boxes."""
        if self.result is None:
            return
        frame = int(self.viewer.dims.current_step[0])
        for lesion in self.result["lesions"]:
            if lesion["start_frame"] <= frame <= lesion["end_frame"]:
                for box, key in ((self.distal_ref, "distal_reference_frame"),
                                 (self.proximal_ref, "proximal_reference_frame")):  # fmt: skip
                    box.value = -1 if lesion[key] is None else lesion[key]

    # ------------------------------------------------------------ report
    def _ask_report(self, _value=None):
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self.native, "Report", filter="HTML (*.html)")
        if path:
            self.write_report(path)

    def write_report(self, path):
        """Write the HTML report of the result shown (with the reader's corrections and
        calls): L-mode with the calcium, plots along the pullback, lesions, score, guidance."""
        from pathlib import Path

        from napari_calcium.report import atomic_write_text, ivus_html

        if self.result is None:
            self._notify("analyse a pullback first")
            return None
        page = ivus_html(self.result, self.volume, self.analysis, self.angle.value)
        written = atomic_write_text(Path(path), page)
        self._notify(f"report written to {written}")
        return written

    # ------------------------------------------------------------ layers
    def _layer_name(self, kind: str) -> str:
        return {"lumen": "IVUS lumen", "eem": "IVUS EEM", "calcium": "IVUS calcium"}[kind]

    def _polygons(self, kind: str) -> dict[int, np.ndarray]:
        step = max(1, self.analysis.grid.n_angles // DISPLAY_VERTICES)
        yx = self.analysis.polygons_px(kind)[:, ::step]
        yx = np.concatenate([yx, yx[:, :1]], axis=1)  # closed: last vertex = first
        return {
            int(i): np.column_stack([np.full(len(yx[i]), float(i)), yx[i]])
            for i in np.flatnonzero(self.analysis.valid)
        }

    def _draw_contours(self, kinds=("lumen", "eem")):
        kwargs = self.volume.layer_kwargs()
        kwargs.pop("metadata")
        for kind in kinds:
            polygons = self._polygons(kind)
            self._shown[kind] = polygons
            name = self._layer_name(kind)
            self._updating = True
            try:
                if name in self.viewer.layers:
                    self.viewer.layers[name].data = list(polygons.values())
                else:
                    layer = self.viewer.add_shapes(
                        list(polygons.values()), shape_type="path", name=name,
                        edge_color=CONTOUR_COLOURS[kind], **kwargs,
                    )  # fmt: skip
                    keep_edge_width_px(self.viewer, layer)
                    layer.events.data.connect(lambda event, kind=kind: self._on_edit(kind))
            finally:
                self._updating = False
        self._remeasure()

    def _draw_calcium(self):
        a = self.analysis
        paths = []
        for i in np.flatnonzero(a.calcium_rays.any(axis=1)):
            edge = a.calcium_edge[i]
            for start, length in circular_runs(a.calcium_rays[i]):
                idx = (start + np.arange(length)) % a.grid.n_angles
                radii = np.where(np.isfinite(edge[idx]), edge[idx], np.nan)
                ok = np.isfinite(radii)
                if ok.sum() < 2:
                    continue
                d = np.stack(
                    [
                        -np.cos(np.deg2rad(a.grid.angles_deg[idx])),
                        np.sin(np.deg2rad(a.grid.angles_deg[idx])),
                    ],
                    1,
                )
                yx = np.asarray(a.grid.centre_yx_px) + radii[:, None] * d
                paths.append(np.column_stack([np.full(ok.sum(), float(i)), yx[ok]]))
        name = self._layer_name("calcium")
        for old in (name, MASK_LAYER):
            if old in self.viewer.layers:
                self.viewer.layers.remove(old)
        kwargs = self.volume.layer_kwargs()
        kwargs.pop("metadata")
        if paths:
            layer = self.viewer.add_shapes(
                paths, shape_type="path", name=name, edge_color="orange", **kwargs
            )
            keep_edge_width_px(self.viewer, layer)
        if np.prod(self.volume.shape) <= MAX_MASK_VOXELS:
            mask = calcium_mask(a, self.volume.shape[1:])
            self.viewer.add_labels(mask, name=MASK_LAYER, opacity=0.5, **kwargs)

    def _on_edit(self, kind: str):
        """A contour layer changed: record edited frames as corrections and re-measure."""
        if self._updating or self.analysis is None:
            return
        layer = self.viewer.layers[self._layer_name(kind)]
        shown = self._shown.get(kind, {})
        changed = False
        for vertices in layer.data:
            vertices = np.asarray(vertices, dtype=float)
            frame = int(round(vertices[:, 0].mean()))
            before = shown.get(frame)
            if (
                before is not None
                and before.shape == vertices.shape
                and np.allclose(before, vertices)
            ):
                continue
            if not 0 <= frame < self.analysis.n_frames:
                continue
            try:
                self.analysis.set_contour(kind, frame, vertices[:, 1:])
            except InputError as err:
                self._notify(str(err))
                continue
            changed = True
        if changed:
            self._draw_contours((kind,))  # neighbours re-estimated from the correction

    def show_lmode(self, _value=None):
        """Show the longitudinal (L-mode) view at the chosen angle in a view of its own.

        The L-mode is in its own coordinates (pullback mm along the canvas, mm from the
        catheter across it), so it gets its own canvas (the *IVUS L-mode* dock), never
        the cross-section's. A red line marks the frame shown in the main viewer and
        follows it; a click on the L-mode shows that frame.
        """
        try:
            volume = self.volume or self.pullback()
        except InputError as err:
            self._notify(str(err))
            return None
        centre = (
            self.analysis.grid.centre_yx_px
            if self.analysis
            else ((volume.shape[1] - 1) / 2, (volume.shape[2] - 1) / 2)
        )
        image = longitudinal_view(volume, centre, self.angle.value)
        self._lmode_frame_mm = volume.frame_spacing_mm or 1.0
        px = volume.spacing_mm[0]
        half = (image.shape[1] - 1) / 2
        self._lmode = dock_view(self.viewer, LMODE_DOCK, self._make_lmode_view)
        layer = self._lmode.set_layer(
            LMODE_LAYER, image, "image", colormap="gray",
            scale=(self._lmode_frame_mm, px), translate=(0.0, -half * px),
            metadata={"angle_deg": self.angle.value, "axes": "(pullback mm, mm from catheter)"},
        )  # fmt: skip
        marker = self._lmode.set_layer(
            LMODE_MARKER, np.zeros((1, 2, 2)), "shapes", shape_type="line", edge_color="red"
        )
        keep_edge_width_px(self._lmode.model, marker)
        self._lmode_half_mm = half * px
        self._lmode.model.dims.order = (1, 0)  # the pullback runs along the canvas
        self._lmode.model.reset_view()
        self._move_lmode_marker()
        return layer

    def _make_lmode_view(self) -> LinkedView:
        """The L-mode's view, linked to the frame shown in both directions."""
        view = LinkedView(LMODE_DOCK)
        view.model.mouse_drag_callbacks.append(click_callback(self._on_lmode_click))
        self.viewer.dims.events.current_step.connect(self._move_lmode_marker)
        return view

    @property
    def lmode_marker_mm(self) -> float | None:
        """Pullback position (mm) of the current-frame line on the L-mode."""
        if self._lmode is None or LMODE_MARKER not in self._lmode.layers:
            return None
        return float(np.asarray(self._lmode.layers[LMODE_MARKER].data[0])[0, 0])

    def _move_lmode_marker(self, _event=None):
        if self._lmode is None or LMODE_MARKER not in self._lmode.layers:
            return
        position = int(self.viewer.dims.current_step[0]) * self._lmode_frame_mm
        half = self._lmode_half_mm
        self._lmode.layers[LMODE_MARKER].data = [np.array([[position, -half], [position, half]])]

    def _on_lmode_click(self, world):
        """A click on the L-mode at pullback position ``world[0]`` (mm) shows that frame."""
        n_frames = self.viewer.dims.nsteps[0]
        frame = int(np.clip(round(world[0] / self._lmode_frame_mm), 0, n_frames - 1))
        self.viewer.dims.set_current_step(0, frame)

    # ------------------------------------------------------------ plots
    def _draw_plots(self):
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        rows = [r for r in self.result["per_frame"] if r["valid"]]
        pos = [r["position_mm"] for r in rows]
        if self._figure is None:
            self._figure = Figure(figsize=(9, 2), tight_layout=True)
            canvas = FigureCanvasQTAgg(self._figure)
            canvas.setMinimumHeight(PLOTS_MIN_HEIGHT_PX)
            canvas.mpl_connect("button_press_event", self._on_plot_click)
            self.viewer.window.add_dock_widget(
                canvas, name="IVUS along the pullback", area="bottom"
            )
            self.viewer.dims.events.current_step.connect(self._move_frame_marker)
        self._figure.clear()
        # side by side: the dock runs along the bottom of the window, wide and flat
        axes = self._figure.subplots(1, 3, sharex=True)
        self._frame_marker = []
        for ax, key, label, note in zip(
            axes,
            ("calcium_arc_deg", "lumen_area_mm2", "vessel_area_mm2"),
            ("calcium arc (deg)", "lumen area (mm²)", "vessel area (mm²)"),
            ("", "; red: the frame shown", ""),
            strict=True,
        ):
            ax.plot(pos, [r[key] for r in rows], lw=1)
            ax.set_title(label, fontsize=8)
            ax.set_xlabel(f"pullback position (mm){note}", fontsize=7)
            ax.tick_params(labelsize=7)
            self._frame_marker.append(ax.axvline(0.0, color="red", lw=1))
        self._move_frame_marker()

    @property
    def frame_marker_mm(self) -> float | None:
        """Pullback position (mm) of the current-frame marker on the plots."""
        if not self._frame_marker:
            return None
        return float(self._frame_marker[0].get_xdata()[0])

    def _move_frame_marker(self, _event=None):
        """Put the plots' marker at the frame shown in the viewer (frame x frame spacing)."""
        if self.analysis is None or not self._frame_marker:
            return
        frame = int(self.viewer.dims.current_step[0])
        position = frame * self.analysis.frame_spacing_mm
        for line in self._frame_marker:
            line.set_xdata([position, position])
        self._figure.canvas.draw_idle()

    def _on_plot_click(self, event):
        if event.xdata is not None:
            self.go_to_position(event.xdata)

    def go_to_position(self, position_mm: float):
        """Show the frame nearest ``position_mm`` along the pullback."""
        if self.analysis is None:
            return
        frame = int(
            np.clip(
                round(position_mm / self.analysis.frame_spacing_mm), 0, self.analysis.n_frames - 1
            )
        )
        self.viewer.dims.set_current_step(0, frame)

    def _notify(self, message: str):
        from napari.utils.notifications import show_info

        self.status.value = message
        show_info(message)
