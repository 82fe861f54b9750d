"""Small vessel disease grading widget: markers beside the calcification grade.

Thin over :mod:`napari_calcium.svd`: the FLAIR / SWI layers become Volumes, the
analysis runs off the GUI thread, and the results come back as editable layers —
WMH labels (1 periventricular, 2 deep), microbleed candidates as Points whose
``features['status']`` is ``candidate`` / ``confirmed`` / ``rejected``, and empty
lacune layers for the reader: Points (a click on the cavity, measured on the FLAIR)
and Labels (the cavity painted); both get the STRIVE 3-15 mm size check. The
reader's grades (Fazekas, EPVS, per-artery calcification) are entered in the
widget; the table shows every marker with the patient's calcification grade beside
it, and the record is saved as JSON (``format_version``, atomic write) for the
cohort report.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    PushButton,
    Table,
)

from napari_calcium.errors import InputError
from napari_calcium.scores.small_vessel import CALCIFICATION_GRADES, CALCIFIED_ARTERIES
from napari_calcium.volume import Volume
from napari_calcium.widgets.dock import fit_dock
from napari_calcium.widgets.layers import labels_tuple
from napari_calcium.widgets.views import linked_views_button

if TYPE_CHECKING:
    import napari

NOT_SET = "not set"
STATUS_COLORS = {"candidate": "yellow", "confirmed": "red", "rejected": "gray"}
CANDIDATES_LAYER = "microbleed candidates"
LACUNES_LAYER = "lacunes"
LACUNE_LABELS_LAYER = "lacune labels"
WMH_LAYER = "WMH (1 periventricular, 2 deep)"
TABLE_COLUMNS = ["marker", "value", "detail", "calcification grade"]
#: Layers made from one patient's images (replaced by a new run, removed by a load).
IMAGE_LAYERS = (WMH_LAYER, "ventricles", LACUNES_LAYER, LACUNE_LABELS_LAYER)


class SvdWidget(Container):
    """Grade small vessel disease markers of the open patient (see the module docstring)."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__(labels=True)
        self.viewer = viewer
        self.record: dict[str, Any] | None = None
        self._flair: Volume | None = None
        self._masks: dict[str, np.ndarray] | None = None
        self._lacunes_key: tuple | None = None
        self.flair_layer = ComboBox(label="FLAIR", choices=self._image_layers)
        self.swi_layer = ComboBox(label="SWI / T2*", choices=self._optional_images)
        self.region_layer = ComboBox(label="region map", choices=self._optional_labels)
        self.resample = CheckBox(text="resample SWI onto the FLAIR grid (same space)")
        self.subject = LineEdit(label="subject (pseudonym)")
        self.timepoint = ComboBox(label="time point", choices=["baseline", "follow-up"])
        self.run_button = PushButton(text="Find markers")
        self.confirm_button = PushButton(text="Confirm selected microbleeds")
        self.reject_button = PushButton(text="Reject selected microbleeds")
        self.remeasure_button = PushButton(text="Re-measure WMH from labels")
        grade_choices = [NOT_SET, "0", "1", "2", "3"]
        self.fazekas_pv = ComboBox(label="Fazekas PV (reader)", choices=grade_choices)
        self.fazekas_deep = ComboBox(label="Fazekas deep (reader)", choices=grade_choices)
        self.epvs_bg = ComboBox(label="EPVS basal ganglia", choices=[*grade_choices, "4"])
        self.epvs_cso = ComboBox(label="EPVS centrum semiovale", choices=[*grade_choices, "4"])
        self.epvs_bg_count = LineEdit(label="EPVS BG count (-> grade)")
        self.epvs_cso_count = LineEdit(label="EPVS CSO count (-> grade)")
        self.artery_grades = {
            a: ComboBox(
                label=f"{a.replace('_', ' ')} calcification",
                choices=[NOT_SET, *CALCIFICATION_GRADES],
            )
            for a in CALCIFIED_ARTERIES
        }
        self.grades_file = FileEdit(label="grades JSON", mode="r", filter="*.json")
        self.grades_button = PushButton(text="Read calcification grades from JSON")
        self.take_button = PushButton(text="Take grades from intracranial results")
        self.summary = Label(value="Open a FLAIR and press Find markers.")
        self.table = Table(value={"data": [], "index": [], "columns": TABLE_COLUMNS})
        self.table.min_height = 280
        self.path = FileEdit(label="record file", mode="w", filter="*.json")
        self.save_button = PushButton(text="Save record")
        self.load_button = PushButton(text="Load record")
        self.extend(
            [
                self.flair_layer,
                self.swi_layer,
                self.region_layer,
                self.resample,
                self.subject,
                self.timepoint,
                self.run_button,
                self.confirm_button,
                self.reject_button,
                self.remeasure_button,
                self.fazekas_pv,
                self.fazekas_deep,
                self.epvs_bg,
                self.epvs_cso,
                self.epvs_bg_count,
                self.epvs_cso_count,
                *self.artery_grades.values(),
                self.grades_file,
                self.grades_button,
                self.take_button,
                self.summary,
                self.table,
                self.path,
                self.save_button,
                self.load_button,
            ]
        )
        self.max_width = 620
        self.run_button.changed.connect(self.run)
        self.confirm_button.changed.connect(lambda: self.set_selected_status("confirmed"))
        self.reject_button.changed.connect(lambda: self.set_selected_status("rejected"))
        self.remeasure_button.changed.connect(self.remeasure_wmh)
        self.grades_button.changed.connect(lambda: self.read_grades(self.grades_file.value))
        self.take_button.changed.connect(self.take_intracranial_grades)
        self.save_button.changed.connect(lambda: self.save(self.path.value))
        self.load_button.changed.connect(lambda: self.load(self.path.value))
        for widget in (
            self.fazekas_pv,
            self.fazekas_deep,
            self.epvs_bg,
            self.epvs_cso,
            self.epvs_bg_count,
            self.epvs_cso_count,
            *self.artery_grades.values(),
        ):
            widget.changed.connect(self.refresh)
        viewer.layers.events.inserted.connect(self._reset_choices)
        viewer.layers.events.removed.connect(self._reset_choices)
        self.insert(self.index(self.run_button), linked_views_button(viewer))
        fit_dock(self)

    # ------------------------------------------------------------ layers
    def _image_layers(self, _=None):
        return [layer.name for layer in self.viewer.layers if layer.__class__.__name__ == "Image"]

    def _optional_images(self, _=None):
        return [NOT_SET, *self._image_layers()]

    def _optional_labels(self, _=None):
        labels = [
            layer.name for layer in self.viewer.layers if layer.__class__.__name__ == "Labels"
        ]
        return [NOT_SET, *labels]

    def _reset_choices(self, *_):
        for combo in (self.flair_layer, self.swi_layer, self.region_layer):
            combo.reset_choices()

    def _volume(self, name: str | None) -> Volume | None:
        if not name or name == NOT_SET:
            return None
        return Volume.from_layer(self.viewer.layers[name])

    # --------------------------------------------------------------- run
    def run(self):
        """Analyse the chosen FLAIR / SWI off the GUI thread; returns the started worker."""
        from napari.qt.threading import create_worker

        from napari_calcium.svd import run_svd_with_masks

        flair = self._volume(self.flair_layer.value)
        if flair is None:
            self._notify_error(InputError("choose a FLAIR layer"))
            return None
        swi = self._volume(self.swi_layer.value)
        regions = self._volume(self.region_layer.value)
        self._flair = flair
        self.summary.value = "Finding markers..."
        worker = create_worker(
            run_svd_with_masks,
            flair,
            swi,
            region_map=regions,
            resample=self.resample.value,
            _progress={"desc": "SVD markers"},
        )
        worker.returned.connect(self._show_result)
        worker.errored.connect(self._notify_error)
        worker.start()
        return worker

    def _show_result(self, result):
        record, masks = result
        self._masks = masks
        self.record = record
        self._lacunes_key = None
        self._add_layers()
        self.refresh()

    def _add_layers(self):
        from napari_calcium.svd import wmh_split_labels

        flair, record = self._flair, self.record
        split = wmh_split_labels(
            self._masks["wmh"],
            self._masks["ventricles"],
            flair,
            record["settings"]["periventricular_distance_mm"],
        )
        split[split == 3] = 0  # ventricles are shown on their own layer
        self._remove(IMAGE_LAYERS)
        data, kwargs, _ = labels_tuple(flair.with_array(split), WMH_LAYER, opacity=0.5)
        self.viewer.add_labels(data, **kwargs)
        data, kwargs, _ = labels_tuple(
            flair.with_array(self._masks["ventricles"].astype(np.uint8)), "ventricles", opacity=0.3
        )
        self.viewer.add_labels(data, **kwargs)
        self._add_candidate_points()
        lacunes = self.viewer.add_points(
            np.zeros((0, 3)), name=LACUNES_LAYER, size=4, face_color="cyan", ndim=3
        )
        lacunes.events.data.connect(self.refresh)
        empty = flair.with_array(np.zeros(flair.shape, np.uint8))
        data, kwargs, _ = labels_tuple(empty, LACUNE_LABELS_LAYER, opacity=0.6)
        painted = self.viewer.add_labels(data, **kwargs)
        painted.events.paint.connect(self.refresh)
        painted.events.set_data.connect(self.refresh)

    def _add_candidate_points(self):
        import pandas as pd

        self._remove([CANDIDATES_LAYER])
        mb = self.record.get("microbleeds")
        if mb is None:
            return
        candidates = mb["candidates"]
        # napari world coordinates are LPS (x, y, z) mm reversed to (z, y, x)
        points = np.array([c["position_mm"][::-1] for c in candidates]).reshape(-1, 3)
        features = pd.DataFrame(
            {
                "id": [c["id"] for c in candidates],
                "status": pd.Categorical(
                    [c["status"] for c in candidates], categories=list(STATUS_COLORS)
                ),
                "certainty": [c.get("certainty", "definite") for c in candidates],
                "region": [c.get("region") or "" for c in candidates],
                "diameter_mm": [c.get("diameter_mm", np.nan) for c in candidates],
            }
        )
        layer = self.viewer.add_points(
            points,
            name=CANDIDATES_LAYER,
            features=features,
            size=[max(4.0, (c.get("diameter_mm") or 4.0) + 2.0) for c in candidates],
            face_color="transparent",
            border_color=[STATUS_COLORS[c["status"]] for c in candidates] or "yellow",
            border_width=0.2,
            ndim=3,
        )
        layer.feature_defaults = {
            "id": -1,
            "status": "confirmed",
            "certainty": "definite",
            "region": "",
            "diameter_mm": np.nan,
        }
        layer.events.data.connect(self.refresh)

    # ------------------------------------------------------------ review
    def set_selected_status(self, status: str):
        """Set ``status`` on the selected microbleed points and update the scores."""
        layer = self._layer(CANDIDATES_LAYER)
        if layer is None or not layer.selected_data:
            self._notify_error(
                InputError("select microbleed points first (Points layer, select mode)")
            )
            return
        statuses = layer.features["status"].astype(str).to_numpy()
        for index in layer.selected_data:
            statuses[index] = status
        layer.features["status"] = statuses
        self.refresh()

    def remeasure_wmh(self):
        """Re-measure WMH volume, split and Fazekas suggestion from the edited labels
        (off the GUI thread); returns the started worker."""
        from napari.qt.threading import create_worker

        from napari_calcium.svd import SvdSettings, measure_wmh

        layer = self._layer(WMH_LAYER)
        if self.record is None or layer is None or self._masks is None:
            self._notify_error(
                InputError("find markers first: there are no WMH labels to measure")
            )
            return None
        wmh = np.asarray(layer.data) != 0
        self._masks["wmh"] = wmh
        settings = SvdSettings.from_dict(self.record["settings"])
        worker = create_worker(
            measure_wmh, wmh, self._masks["ventricles"], self._flair, settings,
            region=self._masks.get("wmh_region"), white_level=self._masks.get("white_level"),
            _progress={"desc": "WMH"},
        )  # fmt: skip
        worker.returned.connect(self._wmh_measured)
        worker.errored.connect(self._notify_error)
        worker.start()
        return worker

    def _wmh_measured(self, measured):
        from napari_calcium.svd import apply_wmh_measurement

        apply_wmh_measurement(self.record, measured)
        self.record["wmh_source"] = "reader-edited labels"
        self.refresh()

    def _sync_microbleeds(self):
        from napari_calcium.svd import region_at

        layer = self._layer(CANDIDATES_LAYER)
        if layer is None or self.record.get("microbleeds") is None:
            return
        regions = self._volume(self.region_layer.value)
        by_id = {c["id"]: c for c in self.record["microbleeds"]["candidates"]}
        next_id = max(by_id, default=0) + 1
        candidates = []
        colors = []
        for point, (_, row) in zip(layer.data, layer.features.iterrows(), strict=True):
            position = [float(v) for v in point[::-1]]
            cid = int(row["id"])
            if cid < 0 or cid not in by_id:  # a microbleed the reader added
                cid = next_id
                next_id += 1
                entry = {"id": cid, "source": "reader", "region": region_at(regions, position)}
            else:
                entry = dict(by_id[cid])
            entry.update(
                position_mm=position, status=str(row["status"]), certainty=str(row["certainty"])
            )
            candidates.append(entry)
            colors.append(STATUS_COLORS[entry["status"]])
        if len(candidates) and (layer.features["id"] < 0).any():
            layer.features["id"] = [c["id"] for c in candidates]
        if colors:
            layer.border_color = colors
        self.record["microbleeds"]["candidates"] = candidates

    def _sync_lacunes(self):
        from napari_calcium.svd import measure_lacunes

        points_layer, labels_layer = self._layer(LACUNES_LAYER), self._layer(LACUNE_LABELS_LAYER)
        if points_layer is None or self._flair is None:
            return
        points = [list(map(float, p[::-1])) for p in points_layer.data]
        labels = None if labels_layer is None else np.asarray(labels_layer.data)
        if labels is not None and not labels.any():
            labels = None
        key = (points, None if labels is None else hashlib.sha1(labels).hexdigest())
        if key != self._lacunes_key:
            self._lacunes_key = key
            self.record["lacunes"] = measure_lacunes(
                self._flair, self._masks["brain"], points_mm=points or None, labels=labels
            )

    def _apply_reader_entries(self):
        def grade(combo):
            return None if combo.value == NOT_SET else int(combo.value)

        record = self.record
        record["subject_id"] = self.subject.value or None
        record["timepoint"] = self.timepoint.value
        record["fazekas_periventricular_reader"] = grade(self.fazekas_pv)
        record["fazekas_deep_reader"] = grade(self.fazekas_deep)
        record["epvs_basal_ganglia_reader"] = grade(self.epvs_bg)
        record["epvs_centrum_semiovale_reader"] = grade(self.epvs_cso)
        record["epvs_basal_ganglia_count"] = _count(self.epvs_bg_count.value)
        record["epvs_centrum_semiovale_count"] = _count(self.epvs_cso_count.value)
        grades = {
            a: (None if c.value == NOT_SET else c.value) for a, c in self.artery_grades.items()
        }
        from napari_calcium.svd import set_calcification

        self.record = set_calcification(record, grades, source="reader")
        self._show_table()

    def refresh(self, *_):
        """Re-read the layers and the reader's entries, recompute counts and scores."""
        if self.record is None:
            return
        try:
            self._sync_microbleeds()
            self._sync_lacunes()
            self._apply_reader_entries()
        except InputError as err:
            self._notify_error(err)

    # ------------------------------------------------------------ display
    def _show_table(self):
        r = self.record
        calc = r["calcification"]["overall"]
        grade = calc["grade"] or "not graded"
        arteries = ", ".join(
            f"{a} {r['calcification']['grades'][a]}" for a in calc["calcified_arteries"]
        )
        grade_text = f"{grade} ({arteries})" if arteries else grade
        faz = r["fazekas_suggestion"]["measured"]
        mb = r.get("microbleeds")
        lac = r.get("lacunes")
        score = r["svd_score"]
        rows = [
            ["WMH volume", f"{r['wmh_volume_ml']:.2f} mL", f"PV {_ml(r['wmh_periventricular_ml'])} / deep {_ml(r['wmh_deep_ml'])}", grade_text],
            ["Fazekas periventricular", _text(r["fazekas_periventricular"]), f"{r['fazekas_source']['periventricular']}; suggestion {_text(r['fazekas_periventricular_suggested'])}" + ("" if faz is None else f" (extent {faz['periventricular_extent_mm']:.1f} mm, lining {faz['ventricle_coverage']:.0%})"), grade_text],
            ["Fazekas deep", _text(r["fazekas_deep"]), f"{r['fazekas_source']['deep']}; suggestion {_text(r['fazekas_deep_suggested'])}" + ("" if faz is None else f" (largest {faz['deep_largest_diameter_mm']:.1f} mm)"), grade_text],
            ["Fazekas sum", _text(r["fazekas_sum"]), "periventricular + deep, 0-6", grade_text],
            ["Periventricular lesion grade", _text(r["periventricular_lesion_grade"]), "0-1 / 2 / 3 (periventricular Fazekas, 0 and 1 merged)", grade_text],
            ["Microbleeds", "no SWI" if mb is None else str(mb["count"]), "" if mb is None else f"confirmed {mb['confirmed']}, pending {mb['pending']}, rejected {mb['rejected']}; {_regions_text(mb['by_region'])}", grade_text],
            ["Microbleed volume", "no SWI" if mb is None else f"{mb['total_volume_mm3']:.1f} mm3", "" if mb is None else f"confirmed ones; pending {mb['pending_volume_mm3']:.1f} mm3" + (f"; {mb['volume_unmeasured']} without a volume" if mb["volume_unmeasured"] else ""), grade_text],
            ["Lacunes", "not assessed" if lac is None else str(lac["count"]), "" if lac is None else f"{len(lac['items'])} marked; 3-15 mm", grade_text],
            ["EPVS basal ganglia", _text(r.get("epvs_basal_ganglia")), "Potter 0-4", grade_text],
            ["EPVS centrum semiovale", _text(r.get("epvs_centrum_semiovale")), "Potter 0-4", grade_text],
            ["SVD score (Staals)", f"{score['total']}/4" + ("" if score["complete"] else " (incomplete)"), "; ".join(f"{k} {_text(v['point'])}" for k, v in score["items"].items()), grade_text],
        ]  # fmt: skip
        self.table.value = {
            "data": rows,
            "index": list(range(len(rows))),
            "columns": TABLE_COLUMNS,
        }
        self.summary.value = (
            f"Calcification: {grade_text} | SVD score {score['total']}/4"
            + (f" (missing: {', '.join(score['missing'])})" if score["missing"] else "")
            + "".join(f"\nWARNING: {text}" for text in r.get("warnings") or [])
        )

    def _remove(self, names) -> None:
        for name in names:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)

    def _layer(self, name):
        return next((layer for layer in self.viewer.layers if layer.name == name), None)

    def _notify_error(self, err):
        from napari.utils.notifications import show_error

        self.summary.value = f"Error: {err}"
        show_error(str(err))

    def read_grades(self, path):
        """Fill the per-artery grades from a JSON file (e.g. the intracranial analysis)."""
        from napari_calcium.svd import calcification_from_json

        try:
            grades = calcification_from_json(path)
        except ValueError as err:
            self._notify_error(err)
            return
        self._set_grades(grades, Path(path).name)

    def take_intracranial_grades(self):
        """Fill the grades of the arteries that the intracranial widget measured.

        Its calcification layers carry the result (``metadata["intracranial"]``); each
        one that names an artery sets that artery's grade, the others stay as they are.
        """
        from napari_calcium.svd import calcification_from_result

        results = [
            (ly.name, ly.metadata["intracranial"])
            for ly in self.viewer.layers
            if isinstance(ly.metadata.get("intracranial"), dict)
        ]
        if not results:
            self._notify_error(
                InputError(
                    "no intracranial result in the viewer",
                    "run the intracranial calcification widget with its artery chosen first",
                )
            )
            return
        grades = {}
        try:
            for name, result in results:
                grades.update(calcification_from_result(result, f"layer {name!r}"))
        except ValueError as err:
            self._notify_error(err)
            return
        self._set_grades(grades, "intracranial widget")

    def _set_grades(self, grades: dict, source: str):
        from napari_calcium.scores.small_vessel import grade_index

        try:
            unknown = set(grades) - set(self.artery_grades)
            if unknown:
                raise InputError(f"unknown arteries in {source}: {sorted(unknown)}")
            texts = {
                a: None if g is None else CALCIFICATION_GRADES[grade_index(g)]
                for a, g in grades.items()
            }
        except ValueError as err:
            self._notify_error(err)
            return
        for artery, text in texts.items():
            combo = self.artery_grades[artery]
            with combo.changed.blocked():
                combo.value = NOT_SET if text is None else text
        self.refresh()

    # ------------------------------------------------------- save / load
    def save(self, path) -> Path | None:
        """Save the record (after syncing the layers and entries) as JSON, atomically."""
        from napari_calcium.svd import save_record

        if self.record is None:
            self._notify_error(InputError("nothing to save: find markers or load a record first"))
            return None
        self.refresh()
        return save_record(self.record, path)

    def load(self, path) -> dict[str, Any] | None:
        """Load a record: grades into the widget, microbleed candidates as Points."""
        from napari_calcium.svd import load_record

        try:
            record = load_record(path)
        except InputError as err:
            self._notify_error(err)
            return None
        self.record = copy.deepcopy(record)
        self._flair = self._masks = None  # the record's images are not the open layers
        self._remove(IMAGE_LAYERS)
        self.subject.value = record.get("subject_id") or ""
        self.timepoint.value = record.get("timepoint") or "baseline"
        entries = [
            (self.fazekas_pv, record.get("fazekas_periventricular_reader")),
            (self.fazekas_deep, record.get("fazekas_deep_reader")),
            (self.epvs_bg, record.get("epvs_basal_ganglia_reader")),
            (self.epvs_cso, record.get("epvs_centrum_semiovale_reader")),
        ]
        entries += [
            (combo, record["calcification"]["grades"].get(artery))
            for artery, combo in self.artery_grades.items()
        ]
        for combo, value in entries:
            with combo.changed.blocked():
                combo.value = NOT_SET if value is None else str(value)
        for edit, key in (
            (self.epvs_bg_count, "epvs_basal_ganglia_count"),
            (self.epvs_cso_count, "epvs_centrum_semiovale_count"),
        ):
            with edit.changed.blocked():
                edit.value = "" if record.get(key) is None else str(record[key])
        self._add_candidate_points()
        self._show_table()
        return self.record


def _count(text: str) -> int | None:
    """An EPVS count typed by the reader (empty = not counted)."""
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise InputError(f"an EPVS count must be a whole number, got {text!r}")
    return int(text)


def _text(value) -> str:
    return "–" if value is None else str(value)


def _ml(value) -> str:
    return "–" if value is None else f"{value:.2f} mL"


def _regions_text(by_region: dict) -> str:
    if not by_region:
        return "none confirmed"
    return ", ".join(f"{k} {v['definite']}+{v['possible']}?" for k, v in by_region.items())
