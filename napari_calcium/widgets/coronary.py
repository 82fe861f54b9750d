"""Coronary scoring widget: assign calcium candidates to arteries and read the scores.

The reader's work is one Labels layer of arteries on the CT grid (1 LM, 2 LAD,
3 LCX, 4 RCA by default; the "arteries" field names labels 1, 2, ... so branches
such as D1 or OM1 can be scored apart). The widget shows every candidate above the
threshold as an overlay. The reading loop is that of commercial calcium scoring:
Alt+1, Alt+2, ... choose the artery (Alt+0 "exclude"), and a click on a candidate
assigns its whole connected region to that artery (one undoable step) whatever layer
is selected, unless that layer is in an editing mode (painting, adding points);
Ctrl+Z / Ctrl+Shift+Z undo and redo the arteries from any layer, like the widget's
buttons; the brush and eraser of the arteries layer split or merge as usual; the
status bar shows the CT's HU under the cursor and the legend the artery colours.
A contrast CT is refused unless "score a contrast CT" is ticked, and lesions flagged
as implausible (see :mod:`napari_calcium.calcium.safety`) are listed, not counted. After
each edit the scores are recomputed off the GUI thread by
:func:`napari_calcium.calcium.measure_coronary`; the tables show per-artery scores
and one row per lesion (click a row to go there), and the lesions land as a Labels
layer whose ``features`` hold the per-lesion measurements (PyRadiomics columns when
"radiomics" is ticked). Agatston is shown as the integer reported clinically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import napari
import numpy as np
import pandas as pd
from napari.layers import Image, Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_calcium.calcium.components import candidate_lesions
from napari_calcium.calcium.coronary import (
    ARTERY_NAMES,
    SLICE_MODES,
    CoronarySettings,
    artery_colors_for,
    artery_names_from_text,
    calibration_from_rois,
    calibration_settings,
    measure_coronary,
)
from napari_calcium.errors import InputError
from napari_calcium.report import THRESHOLD_FREE_KEYS, coronary_lesion_rows
from napari_calcium.volume import Volume
from napari_calcium.widgets.dock import fit_dock
from napari_calcium.widgets.views import linked_views_button

CANDIDATES = "calcium candidates"
ARTERIES = "coronary arteries"
LESIONS = "coronary lesions"
CALIBRATION = "calibration ROI"
EXCLUDE = "exclude"
NO_HEART = "(no heart mask)"
SUMMARY_COLUMNS = (
    "artery",
    "Agatston",
    "volume (mm³)",
    "mass (mg)",
    "integrated mass (mg)",
    "volume-fraction mass (mg)",
    "SWCS",
    "lesions",
)
LESION_COLUMNS = ("id", "artery", "Agatston", "volume (mm³)", "peak (HU)", "counted")
#: Modes in which a click on the canvas edits the selected layer instead of assigning.
EDITING_MODES = {"paint", "erase", "fill", "polygon", "pick", "add", "select", "direct"}


class CoronaryWidget(QWidget):
    """Dock widget for coronary calcium scoring in a napari viewer.

    Signals
    -------
    candidates_ready : emitted when the candidate overlay is shown.
    scores_updated : emitted with the result dict after each recomputation.
    dicom_written : emitted with what :meth:`export_dicom` wrote.
    """

    candidates_ready = Signal()
    scores_updated = Signal(dict)
    dicom_written = Signal(dict)

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        self.report: dict[str, Any] | None = None
        #: insert HU mean, SD and density from the last calibration (volume fraction, SWCS)
        self.insert: dict[str, float | None] = {}
        self._result = None
        self._scoring_arteries = self._scored_arteries = None
        self._ct: Volume | None = None
        self._boxes: list = []
        self._watched = None
        self._worker = None
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._start_scoring)

        self.ct_combo = QComboBox()
        self.threshold = _spin(130.0, -1000.0, 3000.0, 1.0, " HU")
        self.min_area = _spin(1.0, 0.0, 100.0, 0.1, " mm²")
        self.slice_mode = QComboBox()
        self.slice_mode.addItems(SLICE_MODES)
        self.calibration = _spin(0.0, 0.0, 100.0, 0.01, " mg/cm³/HU", decimals=4)
        self.calibration.setToolTip("mass calibration factor c; 0 = no mass score")
        self.rho_ha = _spin(200.0, 1.0, 2000.0, 10.0, " mg HA/cm³")
        self.rho_ha.setToolTip("hydroxyapatite density of the calibration insert")
        calibrate = QPushButton("Calibrate from ROIs")
        calibrate.clicked.connect(self.calibrate)
        self.radiomics = QCheckBox("PyRadiomics features per lesion")
        self.allow_contrast = QCheckBox("score a contrast CT (not valid Agatston)")
        self.heart_combo = QComboBox()
        self.heart_combo.setToolTip("lesions outside this mask (+10 mm) are flagged, not counted")
        self.legend = QLabel()
        self.artery_names: dict[int, str] = dict(ARTERY_NAMES)
        self.names_edit = QLineEdit(", ".join(ARTERY_NAMES.values()))
        self.names_edit.setToolTip(
            "names of artery labels 1, 2, 3, ... in order; LM, LAD, LCX and RCA count "
            "for CAC-DRS N"
        )
        self.names_edit.editingFinished.connect(self.set_artery_names)
        self.artery = QComboBox()
        self.artery.addItems([*ARTERY_NAMES.values(), EXCLUDE])
        find = QPushButton("Show candidates")
        find.clicked.connect(self.show_candidates)
        undo, redo, recompute = QPushButton("Undo"), QPushButton("Redo"), QPushButton("Recompute")
        save, load = QPushButton("Save session ..."), QPushButton("Load session ...")
        report = QPushButton("Report ...")
        dicom = QPushButton("DICOM SEG + SR ...")
        dicom.setToolTip(
            "the artery labels as a DICOM Segmentation, the scores as a Structured Report"
        )
        save.clicked.connect(lambda: self._ask_folder(self.save_session))
        load.clicked.connect(lambda: self._ask_folder(self.load_session, existing=True))
        report.clicked.connect(self._ask_report)
        dicom.clicked.connect(lambda: self._ask_folder(self.export_dicom, existing=True))
        undo.clicked.connect(self.undo)
        redo.clicked.connect(self.redo)
        recompute.clicked.connect(self.request_update)
        for control in (self.threshold, self.min_area, self.calibration):
            control.valueChanged.connect(self.request_update)
        self.slice_mode.currentIndexChanged.connect(self.request_update)
        self.radiomics.toggled.connect(self.request_update)
        self.allow_contrast.toggled.connect(self.request_update)
        self.heart_combo.currentIndexChanged.connect(self.request_update)

        self.summary = _table(SUMMARY_COLUMNS)
        self.lesion_table = _table(LESION_COLUMNS)
        self.lesion_table.cellClicked.connect(self.go_to_row)
        self.status = QLabel("Choose the CT and press 'Show candidates'.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("CT", self.ct_combo)
        form.addRow("threshold", self.threshold)
        form.addRow("min. area", self.min_area)
        form.addRow("slices", self.slice_mode)
        form.addRow("calibration", self.calibration)
        form.addRow("HA insert", self.rho_ha)
        form.addRow(calibrate)
        form.addRow(self.radiomics)
        form.addRow(self.allow_contrast)
        form.addRow("heart", self.heart_combo)
        form.addRow("arteries", self.names_edit)
        form.addRow("click assigns to", self.artery)
        form.addRow(self.legend)
        buttons = QHBoxLayout()
        for button in (undo, redo, recompute):
            buttons.addWidget(button)
        files = QHBoxLayout()
        for button in (save, load, report, dicom):
            files.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(find)
        layout.addWidget(linked_views_button(viewer).native)
        layout.addLayout(buttons)
        layout.addLayout(files)
        layout.addWidget(self.status)
        layout.addWidget(self.summary)
        layout.addWidget(self.lesion_table)

        viewer.layers.events.inserted.connect(self._refresh_layers)
        viewer.layers.events.removed.connect(self._refresh_layers)
        viewer.mouse_drag_callbacks.append(self._on_click)
        self._bind_keys()
        self._refresh_layers()
        self._show_legend()
        fit_dock(self)

    # ------------------------------------------------------------------ setup
    def settings(self) -> CoronarySettings:
        """The scoring conventions currently set in the widget."""
        c = self.calibration.value()
        return CoronarySettings(
            threshold_hu=self.threshold.value(),
            min_area_mm2=self.min_area.value(),
            slice_mode=self.slice_mode.currentText(),
            calibration_mg_cm3_per_hu=c if c > 0 else None,
            **self.insert,
            radiomics=self.radiomics.isChecked(),
            artery_names=dict(self.artery_names),
            artery_colors=artery_colors_for(self.artery_names),
            allow_contrast=self.allow_contrast.isChecked(),
        )

    def _bind_keys(self) -> None:
        """Alt+1 ... Alt+9 choose the artery, Alt+0 "exclude"; Ctrl+(Shift+)Z undo/redo."""
        for n in range(10):
            self.viewer.bind_key(f"Alt-{n}", self._choose_key(n), overwrite=True)
        self.viewer.bind_key("Control-Z", lambda _viewer: self.undo(), overwrite=True)
        self.viewer.bind_key("Control-Shift-Z", lambda _viewer: self.redo(), overwrite=True)

    def _choose_key(self, n: int):
        def choose(_viewer) -> None:
            self.choose_artery(n)

        return choose

    def choose_artery(self, n: int) -> None:
        """Make the n-th artery (1-based, as its label value) the click target; 0 = exclude."""
        names = list(self.artery_names.values())
        if n == 0:
            self.artery.setCurrentText(EXCLUDE)
        elif n <= len(names):
            self.artery.setCurrentText(names[n - 1])
        self.viewer.status = f"click assigns to {self.artery.currentText()}"

    def _show_legend(self) -> None:
        colors = artery_colors_for(self.artery_names)
        items = [
            f"<span style='color:{colors[code]}'>&#9632;</span> {name} (Alt+{code})"
            for code, name in self.artery_names.items()
        ]
        self.legend.setText("&nbsp; ".join(items) + f"&nbsp; {EXCLUDE} (Alt+0)")

    def set_artery_names(self, text: str | None = None) -> None:
        """Name the artery labels 1, 2, ... from a comma-separated list (e.g. "LM, LAD, D1").

        The click choice, the arteries layer's colours and the scores follow. A list
        with an empty, repeated or reserved name is refused and the previous one kept.
        """
        text = self.names_edit.text() if text is None else text
        try:
            named = artery_names_from_text(text)
            if EXCLUDE in (n.lower() for n in named.values()):
                raise InputError(f"'{EXCLUDE}' clears a lesion; it cannot name an artery")
        except InputError as err:
            show_warning(f"{err}; keeping {', '.join(self.artery_names.values())}")
            self.names_edit.setText(", ".join(self.artery_names.values()))
            return
        self.artery_names = named
        names = list(named.values())
        self.names_edit.setText(", ".join(names))
        current = self.artery.currentText()
        self.artery.clear()
        self.artery.addItems([*names, EXCLUDE])
        if current in names:
            self.artery.setCurrentText(current)
        arteries = self._layer(ARTERIES)
        if arteries is not None:
            arteries.colormap = _label_colormap(self.artery_names)
        self._show_legend()
        self.request_update()

    def _refresh_layers(self, event=None) -> None:
        images = [layer.name for layer in self.viewer.layers if isinstance(layer, Image)]
        masks = [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Labels) and layer.name not in (CANDIDATES, ARTERIES, LESIONS)
        ]
        _fill(self.ct_combo, images)
        _fill(self.heart_combo, [NO_HEART, *masks])

    def _heart(self) -> Volume | None:
        name = self.heart_combo.currentText()
        if not name or name == NO_HEART or self._layer(name) is None:
            return None
        return Volume.from_layer(self._layer(name))

    def _layer(self, name: str):
        return next((layer for layer in self.viewer.layers if layer.name == name), None)

    def show_candidates(self) -> None:
        """Find candidates (off the GUI thread) and add the overlay and arteries layers."""
        name = self.ct_combo.currentText()
        if not name:
            show_warning("Open a CT first.")
            return
        self._ct = Volume.from_layer(self.viewer.layers[name])
        threshold = self.threshold.value()
        worker = create_worker(_find_candidates, self._ct.numpy(), threshold, _start_thread=False)
        worker.returned.connect(self._add_candidate_layers)
        worker.errored.connect(self._on_error)
        self.status.setText("Finding candidates ...")
        worker.start()

    def _add_candidate_layers(self, found) -> None:
        labels, boxes = found
        self._boxes = boxes
        geometry = self._ct.layer_kwargs()
        candidates = self._layer(CANDIDATES)
        if candidates is None:
            candidates = self.viewer.add_labels(
                labels,
                name=CANDIDATES,
                opacity=0.6,
                colormap={0: "transparent", None: "yellow"},
                **geometry,
            )
            self._own_layer(candidates)
        else:
            candidates.data = labels
        arteries = self._layer(ARTERIES)
        if arteries is None or arteries.data.shape != labels.shape:
            if arteries is not None:
                self.viewer.layers.remove(arteries)
            arteries = self.viewer.add_labels(
                np.zeros(labels.shape, np.uint8),
                name=ARTERIES,
                colormap=_label_colormap(self.artery_names),
                **geometry,
            )
            self._own_layer(arteries)
        self._watch(arteries)
        self.viewer.layers.selection.active = candidates
        self.status.setText(
            f"{len(boxes)} candidate regions. Choose an artery and click a candidate."
        )
        self.candidates_ready.emit()
        self.request_update()

    def _watch(self, arteries) -> None:
        """Rescore after every edit of the arteries layer.

        Brush, eraser and fill emit ``paint``; napari's own undo and redo (Ctrl+Z,
        Ctrl+Shift+Z) and a new array emit ``set_data``.
        """
        if self._watched is arteries:
            return
        arteries.events.paint.connect(self.request_update)
        arteries.events.set_data.connect(self.request_update)
        self._watched = arteries

    def calibrate(self) -> None:
        """Set the mass calibration factor from ROIs painted on the CT.

        The first press adds a "calibration ROI" labels layer; paint the HA insert
        with label 1 and water with label 2, then press again:
        ``c = rho_HA / (mean HU insert - mean HU water)``.
        """
        if self._ct is None:
            show_warning("Press 'Show candidates' first.")
            return
        layer = self._layer(CALIBRATION)
        if layer is None:
            self.viewer.add_labels(
                np.zeros(self._ct.shape, np.uint8), name=CALIBRATION, **self._ct.layer_kwargs()
            )
            self.status.setText(
                f"Paint the HA insert with label 1 and water with label 2 in '{CALIBRATION}', "
                "then press 'Calibrate from ROIs' again."
            )
            return
        rois = self._ct.replace(array=np.asarray(layer.data), modality="LABELS")
        try:
            cal = calibration_from_rois(self._ct, rois, self.rho_ha.value())
        except InputError as err:
            show_warning(str(err))
            return
        self.insert = calibration_settings(cal)
        del self.insert["calibration_mg_cm3_per_hu"]  # the calibration field holds c
        self.calibration.setValue(cal["factor_mg_cm3_per_hu"])
        self.request_update()
        show_info(
            f"calibration c = {self.rho_ha.value():g} / ({cal['insert_hu']:.1f} - "
            f"{cal['water_hu']:.1f}) = {cal['factor_mg_cm3_per_hu']:.4f} mg/cm³ per HU"
        )

    def _own_layer(self, layer) -> None:
        """Undo/redo of the arteries and HU in the status bar on a layer of this widget."""
        layer.bind_key("Control-Z", lambda _layer: self.undo(), overwrite=True)
        layer.bind_key("Control-Shift-Z", lambda _layer: self.redo(), overwrite=True)
        layer_status = layer.get_status

        def get_status(position=None, **kwargs):
            status = layer_status(position, **kwargs)
            hu = self.hu_at(position, world=kwargs.get("world", False), layer=layer)
            if hu is not None and isinstance(status, dict):
                status["coordinates"] = f"{status.get('coordinates', '')}  CT {hu:.0f} HU"
            return status

        layer.get_status = get_status

    def hu_at(self, position, world: bool = True, layer=None) -> float | None:
        """The CT value (HU) at a world (or ``layer`` data) position, ``None`` outside."""
        if self._ct is None or position is None:
            return None
        point = np.asarray(position, float)[-3:]
        if not world and layer is not None:
            point = layer.data_to_world(point)
        index = np.round(self._ct.physical_to_index(point[::-1])).astype(int)
        if np.any(index < 0) or np.any(index >= self._ct.shape):
            return None
        return float(self._ct.array[tuple(index)])

    # ------------------------------------------------------------ assignment
    def _on_click(self, viewer, event):
        """Assign on a click (press and release without moving) unless the selected
        layer is in an editing mode; a drag pans as usual."""
        active = viewer.layers.selection.active
        if event.button != 1 or getattr(active, "mode", "pan_zoom") in EDITING_MODES:
            return
        if self._layer(CANDIDATES) is None:
            return
        position = np.asarray(event.position)
        yield
        moved = False
        while event.type == "mouse_move":
            moved = True
            yield
        if not moved:
            self.assign_at(position)

    def assign_at(self, world_zyx, artery: str | None = None) -> int:
        """Assign the candidate region under a world point (z, y, x mm) to an artery.

        ``artery`` is a name from :attr:`artery_names` or ``"exclude"``,
        defaulting to the one chosen in the widget. The whole 3-D connected candidate
        region is written into the arteries layer as one undoable step.

        Returns
        -------
        int
            Number of voxels changed (0 when there is no candidate there).
        """
        candidates, arteries = self._layer(CANDIDATES), self._layer(ARTERIES)
        if candidates is None or arteries is None:
            show_warning("Press 'Show candidates' first.")
            return 0
        artery = artery or self.artery.currentText()
        codes = {name: code for code, name in self.artery_names.items()}
        if artery != EXCLUDE and artery not in codes:
            show_warning(f"unknown artery {artery!r}: use one of {', '.join(codes)}")
            return 0
        value = 0 if artery == EXCLUDE else codes[artery]
        index = np.round(candidates.world_to_data(np.asarray(world_zyx, float))).astype(int)
        if np.any(index < 0) or np.any(index >= candidates.data.shape):
            return 0
        region = int(candidates.data[tuple(index)])
        if region == 0:
            show_info("No calcium candidate there.")
            return 0
        box = self._boxes[region - 1]
        local = np.nonzero(candidates.data[box] == region)
        indices = tuple(axis + s.start for axis, s in zip(local, box, strict=True))
        before = np.count_nonzero(arteries.data[indices] != value)
        arteries.data_setitem(indices, value)  # records undo history, emits `paint`
        return int(before)

    def undo(self) -> None:
        """Undo the last edit of the arteries layer (the scores follow)."""
        arteries = self._layer(ARTERIES)
        if arteries is not None:
            arteries.undo()

    def redo(self) -> None:
        """Redo the last undone edit of the arteries layer (the scores follow)."""
        arteries = self._layer(ARTERIES)
        if arteries is not None:
            arteries.redo()

    # ---------------------------------------------------------------- scoring
    def request_update(self, *args) -> None:
        """Rescore soon (edits within 150 ms are scored once)."""
        self._timer.start()

    def _start_scoring(self) -> None:
        arteries = self._layer(ARTERIES)
        if self._ct is None or arteries is None:
            return
        if self._worker is not None:
            self._pending = True
            return
        try:
            settings = self.settings()
        except InputError as err:
            self._on_error(err)
            return
        labels = self._ct.replace(array=np.array(arteries.data), modality="LABELS")
        self._scoring_arteries = labels
        self._worker = create_worker(
            _score, self._ct, labels, settings, self._heart(), _start_thread=False
        )
        self._worker.returned.connect(self._show)
        self._worker.errored.connect(self._on_error)
        self._worker.finished.connect(self._scoring_finished)
        self.status.setText("Scoring ...")
        self._worker.start()

    def _scoring_finished(self) -> None:
        self._worker = None
        if self._pending:
            self._pending = False
            self._start_scoring()

    def _on_error(self, error) -> None:
        """Show the refusal and clear every score, so no old score stays on screen."""
        self.report = None
        self._result = None
        self.summary.setRowCount(0)
        self.lesion_table.setRowCount(0)
        self.status.setText(f"error: {error}")
        show_warning(str(error))

    def _show(self, scored) -> None:
        result, lesions = scored
        report = result.report
        self.report = report
        self._result = result
        self._scored_arteries = self._scoring_arteries
        rows = [(name, v) for name, v in report["per_artery"].items()]
        rows.append(
            (
                "Total",
                {
                    "agatston": report["agatston"],
                    "volume_mm3": report["volume_mm3"],
                    "mass_mg": report["mass_mg"],
                    **{k: report.get(k) for k in THRESHOLD_FREE_KEYS},
                    "lesions": report["lesion_count"],
                },
            )
        )
        self.summary.setRowCount(len(rows))
        for r, (name, v) in enumerate(rows):
            free = (v.get(k) for k in THRESHOLD_FREE_KEYS)
            cells = (
                name,
                _agatston(v["agatston"]),
                v["volume_mm3"],
                v["mass_mg"],
                *free,
                v["lesions"],
            )
            for c, value in enumerate(cells):
                self.summary.setItem(r, c, QTableWidgetItem(_text(value)))
        self.lesion_table.setRowCount(len(report["lesions"]))
        for r, les in enumerate(report["lesions"]):
            counted = "yes" if les["counted"] else "no: " + "; ".join(les["flags"])
            cells = (
                les["id"],
                les["artery"],
                _agatston(les["agatston"]),
                les["volume_mm3"],
                les["peak_hu"],
                counted,
            )
            for c, value in enumerate(cells):
                self.lesion_table.setItem(r, c, QTableWidgetItem(_text(value)))
        self._update_lesion_layer(report, lesions)
        self.status.setText(
            f"Agatston {report['agatston_reported']} — category {report['category']} "
            f"({report['category_description']}), CAC-DRS {report['cac_drs']}"
            + "".join(f"\nwarning: {w}" for w in report["warnings"])
        )
        self.scores_updated.emit(report)

    def _update_lesion_layer(self, report, lesions: Volume) -> None:
        rows = coronary_lesion_rows(report)
        features = pd.DataFrame([{"index": row["lesion_id"], **row} for row in rows])
        layer = self._layer(LESIONS)
        if layer is None or layer.data.shape != lesions.shape:
            if layer is not None:
                self.viewer.layers.remove(layer)
            layer = self.viewer.add_labels(
                lesions.array, name=LESIONS, opacity=0.8, visible=False, **lesions.layer_kwargs()
            )
            self._own_layer(layer)
            self.viewer.layers.selection.active = self._layer(CANDIDATES)
        else:
            layer.data = lesions.array
        layer.features = features

    # ---------------------------------------------------------- files
    def _ask_folder(self, action, existing: bool = False) -> None:
        from qtpy.QtWidgets import QFileDialog

        if existing:
            folder = QFileDialog.getExistingDirectory(self, "Session folder")
        else:
            folder, _ = QFileDialog.getSaveFileName(self, "Folder to write")
        if folder:
            action(folder)

    def _ask_report(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "Report", filter="HTML (*.html)")
        if path:
            self.write_report(path)

    def _session_layers(self) -> list:
        names = [
            self.ct_combo.currentText(),
            ARTERIES,
            CALIBRATION,
            self.heart_combo.currentText(),
        ]
        return [self._layer(n) for n in dict.fromkeys(names) if self._layer(n) is not None]

    def save_session(self, folder) -> Path | None:
        """Save the reading of this patient: CT, arteries (the edits), calibration ROI and
        heart mask layers, and every setting of the widget (:mod:`napari_calcium.session`)."""
        from napari_calcium.session import save_session
        from napari_calcium.widgets.session import layer_record

        if self._layer(ARTERIES) is None:
            show_warning("Nothing to save yet: press 'Show candidates' first.")
            return None
        records = [layer_record(layer) for layer in self._session_layers()]
        path = save_session(folder, records, {"coronary": _session_state(self)})
        self.status.setText(f"session saved to {path}")
        return path

    def load_session(self, folder) -> bool:
        """Reload a saved reading: its layers replace those of the same name, the settings
        are restored and the candidates and scores recomputed (``scores_updated`` follows)."""
        from napari_calcium.session import load_session
        from napari_calcium.widgets.session import add_record

        try:
            records, widgets = load_session(folder)
            state = widgets["coronary"]
        except (InputError, KeyError) as err:
            show_warning(f"cannot load the session: {err}")
            return False
        for record in records:
            layer = add_record(self.viewer, record)
            if record.name == ARTERIES:
                self._own_layer(layer)
        self._refresh_layers()
        self.ct_combo.setCurrentText(state["ct_layer"])
        self.heart_combo.setCurrentText(state["heart_layer"])
        for control, key in (
            (self.threshold, "threshold_hu"),
            (self.min_area, "min_area_mm2"),
            (self.calibration, "calibration_mg_cm3_per_hu"),
            (self.rho_ha, "rho_ha_mg_cm3"),
        ):
            control.setValue(state[key])
        self.slice_mode.setCurrentText(state["slice_mode"])
        self.radiomics.setChecked(state["radiomics"])
        self.allow_contrast.setChecked(state["allow_contrast"])
        self.set_artery_names(state["artery_names"])
        self.artery.setCurrentText(state["click_assigns_to"])
        self._watched = None
        self.show_candidates()
        return True

    def write_report(self, path) -> Path | None:
        """Write this patient's HTML report: scores with their rules, key images, lesion table."""
        from napari_calcium.report import atomic_write_text, coronary_html

        if self._result is None:
            show_warning("No scores yet: assign calcium first.")
            return None
        result = self._result
        text = coronary_html(result.report, result.scoring_ct, result.lesion_labels())
        return atomic_write_text(Path(path), text)

    def export_dicom(self, folder):
        """Write ``seg.dcm`` (the artery labels as a DICOM Segmentation) and ``sr.dcm`` (the
        scores as a TID 1500 Structured Report) of the scores shown into ``folder``, off the
        GUI thread (:mod:`napari_calcium.calcium.coronary_dicom`). They reference the CT's DICOM
        series when the CT layer was opened from one, else a derived CT series written to
        ``folder/ct``. Returns the worker; ``dicom_written`` is emitted with the result."""
        from napari_calcium.calcium.coronary_dicom import write_coronary_dicom

        if self._result is None or not self._result.report["scored"]:
            show_warning("No reading to export: assign calcium to arteries first.")
            return None
        folder = Path(folder)
        ct_layer = self._layer(self.ct_combo.currentText())
        worker = create_worker(
            write_coronary_dicom,
            self._ct,
            self._scored_arteries,
            self._result.report,
            seg_path=folder / "seg.dcm",
            sr_path=folder / "sr.dcm",
            ct_source=getattr(getattr(ct_layer, "source", None), "path", None),
            derived_ct_folder=folder / "ct",
            _start_thread=False,
        )
        worker.returned.connect(self._dicom_written)
        worker.errored.connect(lambda err: show_warning(f"DICOM export failed: {err}"))
        self.status.setText("Writing DICOM SEG + SR ...")
        worker.start()
        return worker

    def _dicom_written(self, written) -> None:
        referenced = written["referenced_ct"]
        which = (
            "the CT's own DICOM series"
            if referenced["kind"] == "source"
            else f"a derived CT series written to {referenced['folder']}"
        )
        self.status.setText(f"wrote {written['seg']} and {written['sr']}; they reference {which}")
        self.dicom_written.emit(written)

    def go_to_row(self, row: int, column: int = 0) -> None:
        """Centre the view on the lesion of a row of the lesion table."""
        if self.report is None or row >= len(self.report["lesions"]):
            return
        lesion = self.report["lesions"][row]
        world = np.asarray(lesion["centroid_mm"][::-1])  # LPS (x, y, z) -> world (z, y, x)
        for axis, value in enumerate(world):
            self.viewer.dims.set_point(axis, value)
        # napari >= 0.9 keeps the camera on viewer.scene
        camera = self.viewer.scene.camera if hasattr(self.viewer, "scene") else self.viewer.camera
        camera.center = tuple(world)
        layer = self._layer(LESIONS)
        if layer is not None:
            layer.selected_label = lesion["id"]


def _session_state(widget: CoronaryWidget) -> dict[str, Any]:
    return {
        "ct_layer": widget.ct_combo.currentText(),
        "threshold_hu": widget.threshold.value(),
        "min_area_mm2": widget.min_area.value(),
        "slice_mode": widget.slice_mode.currentText(),
        "calibration_mg_cm3_per_hu": widget.calibration.value(),
        "rho_ha_mg_cm3": widget.rho_ha.value(),
        "radiomics": widget.radiomics.isChecked(),
        "allow_contrast": widget.allow_contrast.isChecked(),
        "heart_layer": widget.heart_combo.currentText(),
        "artery_names": ", ".join(widget.artery_names.values()),
        "click_assigns_to": widget.artery.currentText(),
    }


def _score(ct: Volume, arteries: Volume, settings: CoronarySettings, heart: Volume | None):
    result = measure_coronary(ct, arteries, settings, heart)
    return result, result.lesion_labels()


def _fill(combo: QComboBox, names: list[str]) -> None:
    """Replace a combo box's items, keeping the current one when still there."""
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if current in names:
        combo.setCurrentText(current)
    combo.blockSignals(False)


def _agatston(value: float) -> int:
    """Agatston as reported clinically: an integer, rounded half up."""
    return int(np.floor(value + 0.5))


def _find_candidates(ct_array, threshold_hu):
    from scipy import ndimage

    labels, _ = candidate_lesions(ct_array, threshold_hu)
    return labels, ndimage.find_objects(labels)


def _label_colormap(names: dict[int, str]) -> dict:
    return {0: "transparent", None: "white", **artery_colors_for(names)}


def _spin(value, low, high, step, suffix, decimals=2) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setSuffix(suffix)
    spin.setValue(value)
    return spin


def _table(columns) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setMinimumHeight(180)
    return table


def _text(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)
