"""Run a cohort manifest from napari: progress and the subjects table in a dock widget.

The work is :func:`napari_calcium.cohort.batch.iter_run` in a ``thread_worker``;
the widget only shows its events (one per finished subject) and the resulting
``subjects`` table. Problems with the manifest are shown as they are reported,
all at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import (
    CheckBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    SpinBox,
    Table,
)

from napari_calcium.widgets.dock import fit_dock

if TYPE_CHECKING:
    import napari


class BatchWidget(Container):
    """Pick a manifest and an output folder, run the cohort, read the table.

    Parameters
    ----------
    viewer : the napari viewer (unused: the batch reads its own files).
    """

    def __init__(self, viewer: napari.viewer.Viewer | None = None):
        self.manifest = FileEdit(label="manifest", filter="*.csv")
        self.out = FileEdit(label="output folder", mode="d")
        self.workers = SpinBox(label="workers", value=2, min=1, max=max(os.cpu_count() or 1, 1))
        self.scheduler = LineEdit(label="scheduler", value="")
        self.scheduler.tooltip = "address of a running Dask scheduler (empty: local workers)"
        self.resume = CheckBox(text="resume: keep unchanged results", value=False)
        self.run_button = PushButton(text="Run cohort")
        self.progress = ProgressBar(label="subjects", value=0, min=0, max=1)
        self.status = Label(value="")
        self.table = Table(value={"subject_id": [], "analysis": [], "status": []})
        super().__init__(
            widgets=[
                self.manifest,
                self.out,
                self.workers,
                self.scheduler,
                self.resume,
                self.run_button,
                self.progress,
                self.status,
                self.table,
            ]
        )
        self.result = None
        self.worker = None
        self.run_button.changed.connect(self.run)
        fit_dock(self)

    def run(self):
        """Start the batch in a background thread; returns the worker."""
        from napari.qt.threading import create_worker

        manifest, out = Path(self.manifest.value), Path(self.out.value)
        options = {
            "workers": self.workers.value,
            "scheduler": self.scheduler.value.strip() or None,
            "resume": self.resume.value,
        }
        self.run_button.enabled = False
        self.progress.value = 0
        where = options["scheduler"] or f"{options['workers']} local worker(s)"
        self.status.value = f"starting on {where} ..."
        worker = create_worker(
            _iterate,
            manifest,
            out,
            **options,
            _connect={
                "yielded": self._on_event,
                "returned": self._on_done,
                "errored": self._on_error,
            },
            _start_thread=False,
        )
        worker.finished.connect(self._on_finished)
        self.worker = worker
        worker.start()
        return worker

    def _on_finished(self) -> None:
        self.worker = None
        self.run_button.enabled = True

    def _on_event(self, event: dict) -> None:
        self.progress.max = event["total"]
        self.progress.value = event["done"]
        self.status.value = f"{event['subject_id']}: {event['status']}"

    def _on_done(self, result) -> None:
        self.result = result
        self.table.value = result.subjects.where(result.subjects.notna(), "")
        failed = len(result.failed)
        self.status.value = (
            f"{len(result.subjects)} subjects: {len(result.computed)} computed, "
            f"{len(result.skipped)} kept, {failed} failed"
            + (f" (see {result.out / 'errors.csv'})" if failed else "")
        )

    def _on_error(self, err: Exception) -> None:
        self.status.value = str(err)


def _iterate(manifest: Path, out: Path, workers: int, scheduler: str | None, resume: bool):
    from napari_calcium.cohort.batch import iter_run

    return (yield from iter_run(manifest, out, workers, scheduler, resume))
