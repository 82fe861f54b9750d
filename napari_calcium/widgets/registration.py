"""Registration widget: bring a moving image (e.g. MRI) onto a fixed image (e.g. CT).

Thin over :func:`napari_calcium.registration.register`: the layers become Volumes, the
registration runs in a ``thread_worker`` (the event loop keeps running; the progress
bar follows the optimizer's iterations; Cancel stops it at the next iteration), and
the result comes back as an image layer on the fixed grid, with a checkerboard layer
to check the alignment. Points layers of paired landmarks are read in napari world
coordinates, which are LPS mm reversed to ``(z, y, x)``.
"""

from __future__ import annotations

import threading

import napari
import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    ProgressBar,
    PushButton,
)
from napari.layers import Image, Labels, Layer, Points
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtCore import QObject, Signal

from napari_calcium.errors import InputError
from napari_calcium.registration import (
    INITS,
    KINDS,
    METRICS,
    Registration,
    check_landmarks,
    checkerboard,
    expected_iterations,
    register,
    save_transform,
    transform_to_text,
)
from napari_calcium.volume import Volume
from napari_calcium.widgets.dock import breakable, fit_dock
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.views import linked_views_button

CHECK_MODES = ("blend", "checkerboard")


class _IterationSignal(QObject):
    """Carries optimizer iterations from the worker thread to the GUI thread."""

    iteration = Signal(int, float)


def points_to_lps(layer: Points) -> np.ndarray:
    """World coordinates of a Points layer as LPS ``(x, y, z)`` mm, one row per point."""
    world = np.array([layer.data_to_world(p) for p in layer.data], dtype=float).reshape(-1, 3)
    return world[:, ::-1]


class RegistrationWidget(Container):
    """Register a moving image layer onto a fixed one and add the result.

    Parameters
    ----------
    viewer : the napari viewer whose layers are offered.
    """

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self._viewer = viewer
        self.fixed = ComboBox(label="fixed image", choices=self._layers(Image))
        self.moving = ComboBox(label="moving image", choices=self._layers(Image))
        self.fixed_points = ComboBox(
            label="fixed landmarks", choices=self._layers(Points), nullable=True, value=None
        )
        self.moving_points = ComboBox(
            label="moving landmarks", choices=self._layers(Points), nullable=True, value=None
        )
        self.mask = ComboBox(
            label="fixed mask", choices=self._layers(Labels), nullable=True, value=None
        )
        self.kind = ComboBox(label="kind", choices=KINDS, value="rigid")
        self.metric = ComboBox(label="metric", choices=METRICS, value="mattes")
        self.init = ComboBox(label="start from", choices=INITS, value="geometry")
        self.search = CheckBox(text="search rotations and centrings for the start", value=True)
        self.run_button = PushButton(text="Run")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="iterations", min=0, max=1, value=0)
        self.check = ComboBox(label="check with", choices=CHECK_MODES, value="blend")
        self.report = Label(value="")
        self.transform_path = FileEdit(label="transform file", mode="w", filter="*.tfm *.h5")
        self.save_button = PushButton(text="Save transform", enabled=False)
        self.extend(
            [
                self.fixed,
                self.moving,
                self.fixed_points,
                self.moving_points,
                self.mask,
                self.kind,
                self.metric,
                self.init,
                self.search,
                self.run_button,
                self.cancel_button,
                self.progress,
                self.check,
                self.report,
                self.transform_path,
                self.save_button,
            ]
        )
        self.result: Registration | None = None
        self.worker = None
        self._result_names: tuple[str | None, str | None] = (None, None)
        self._stop = threading.Event()
        self._signal = _IterationSignal()
        self._signal.iteration.connect(self._on_iteration)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.save_button.changed.connect(self.save)
        self.check.changed.connect(self._show_check)
        viewer.layers.events.inserted.connect(self.reset_choices)
        viewer.layers.events.removed.connect(self.reset_choices)
        self.append(linked_views_button(viewer))  # check the result in three planes
        fit_dock(self)

    def _layers(self, layer_type):
        def choices(_widget):
            return [layer for layer in self._viewer.layers if isinstance(layer, layer_type)]

        return choices

    # -------------------------------------------------------------- running
    def run(self) -> None:
        """Start the registration in a worker thread (returns at once)."""
        if self.worker is not None:
            return
        try:
            job = self._job_arguments()
        except InputError as err:
            show_error(str(err))
            return
        self._stop.clear()
        self.progress.max = expected_iterations(
            job["kind"], job["iterations"], len(job["shrink_factors"]), job["search"]
        )
        self.progress.value = 0
        self.report.value = "registering..."
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.worker = create_worker(self._compute, job, _start_thread=False)
        self.worker.returned.connect(self._on_returned)
        self.worker.errored.connect(self._on_errored)
        self.worker.finished.connect(self._on_finished)
        self.worker.start()

    def cancel(self) -> None:
        """Ask the running registration to stop at its next iteration."""
        self._stop.set()

    def _job_arguments(self) -> dict:
        fixed_layer, moving_layer = self.fixed.value, self.moving.value
        if fixed_layer is None or moving_layer is None:
            raise InputError("choose a fixed and a moving image layer")
        if fixed_layer is moving_layer:
            raise InputError("the fixed and moving images are the same layer")
        job = {
            "fixed": Volume.from_layer(fixed_layer),
            "moving": Volume.from_layer(moving_layer),
            "fixed_name": fixed_layer.name,
            "moving_name": moving_layer.name,
            "kind": self.kind.value,
            "metric": self.metric.value,
            "init": self.init.value,
            "search": self.search.value and self.init.value != "landmarks",
            "iterations": 200,
            "shrink_factors": (4, 2, 1),
            "fixed_mask": None if self.mask.value is None else Volume.from_layer(self.mask.value),
        }
        if (self.fixed_points.value is None) != (self.moving_points.value is None):
            raise InputError("choose landmark layers for both images, or for neither")
        if self.fixed_points.value is not None:
            job["fixed_landmarks_mm"], job["moving_landmarks_mm"] = check_landmarks(
                points_to_lps(self.fixed_points.value), points_to_lps(self.moving_points.value)
            )
        return job

    def _compute(self, job: dict) -> tuple[Registration, Volume, dict]:
        """Worker-thread body: register, then the checkerboard for checking."""
        result = register(
            job["fixed"],
            job["moving"],
            kind=job["kind"],
            metric=job["metric"],
            init=job["init"],
            fixed_landmarks_mm=job.get("fixed_landmarks_mm"),
            moving_landmarks_mm=job.get("moving_landmarks_mm"),
            fixed_mask=job["fixed_mask"],
            iterations=job["iterations"],
            shrink_factors=job["shrink_factors"],
            search=job["search"],
            on_iteration=self._signal.iteration.emit,
            should_stop=self._stop.is_set,
        )
        board = None if result.cancelled else checkerboard(job["fixed"], result.resampled)
        return result, board, job

    def _on_iteration(self, iteration: int, metric: float) -> None:
        self.progress.value = min(iteration, self.progress.max)
        self.report.value = f"iteration {iteration}, metric {metric:.4f}"

    def _on_returned(self, value) -> None:
        result, board, job = value
        self.result = result
        lines = [
            f"final metric {result.final_metric:.4f} ({result.metric_name})",
            f"iterations {result.iterations}, {result.seconds:.1f} s",
            f"stop: {result.stop_reason}",
        ]
        if result.start:
            start = result.start
            lines.append(
                f"start: {start['centring']} centring, rotation {start['rotation_deg']} deg"
                + (f" (best of {len(result.candidates)} searched)" if start.get("search") else "")
            )
        if result.tre_mm is not None:
            lines.append(
                f"landmark error mean {result.tre_mm['mean']:.2f} mm, max {result.tre_mm['max']:.2f} mm"
            )
        lines += [f"WARNING: {message}" for message in result.warnings]
        self.report.value = breakable("\n".join(lines))  # ITK's long optimizer names
        for message in result.warnings:
            show_warning(f"registration: {message}")
        if result.cancelled:
            show_info("registration cancelled; no layer added")
            return
        self.progress.value = self.progress.max
        name = f"{job['moving_name']} on {job['fixed_name']}"
        self._result_names = (name, f"checkerboard {name}")
        self._replace_layer(image_tuple(result.resampled, name, opacity=0.5, colormap="magenta"))
        # what other widgets (intracranial) need to bring the original moving image over
        self._find_layer(name).metadata["registration"] = {
            "fixed": job["fixed_name"],
            "moving": job["moving_name"],
            "kind": result.kind,
            "transform_tfm": transform_to_text(result.transform),
        }
        self._replace_layer(image_tuple(board, self._result_names[1], visible=False))
        self.save_button.enabled = True
        self._show_check()

    def _on_errored(self, error: Exception) -> None:
        self.report.value = breakable(f"failed: {error}")
        show_error(str(error))

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.enabled = True
        self.cancel_button.enabled = False

    # -------------------------------------------------------------- results
    @property
    def registered_layer(self) -> Image | None:
        return self._find_layer(f"{self.moving.value.name} on {self.fixed.value.name}")

    @property
    def checkerboard_layer(self) -> Image | None:
        return self._find_layer(
            f"checkerboard {self.moving.value.name} on {self.fixed.value.name}"
        )

    def _find_layer(self, name: str):
        return next((layer for layer in self._viewer.layers if layer.name == name), None)

    def _replace_layer(self, layer_tuple) -> None:
        name = layer_tuple[1]["name"]
        if name in self._viewer.layers:
            self._viewer.layers.remove(name)
        self._viewer.add_layer(Layer.create(*layer_tuple))

    def _show_check(self) -> None:
        """Blend: the registered image half-transparent over the fixed one; or checkerboard."""
        registered, board = self.registered_layer, self.checkerboard_layer
        if registered is None or board is None:
            return
        board_mode = self.check.value == "checkerboard"
        board.visible = board_mode
        registered.visible = not board_mode

    def save(self) -> None:
        """Write the transform (fixed -> moving physical) to the chosen file."""
        if self.result is None:
            return
        try:
            path = save_transform(self.result.transform, self.transform_path.value)
        except InputError as err:
            show_error(str(err))
            return
        show_info(f"transform saved to {path}")
