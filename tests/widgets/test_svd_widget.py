"""The grading widget in a real napari viewer: review microbleeds, grades, record round trip."""

import json

import numpy as np
import pytest

from napari_calcium.phantoms.brain import brain_flair_swi
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.svd import (
    CANDIDATES_LAYER,
    LACUNE_LABELS_LAYER,
    LACUNES_LAYER,
    WMH_LAYER,
    SvdWidget,
)

# phantoms/brain.py: the first two microbleeds and the calcified focus (dark on SWI,
# no CT here, so it is a candidate the reader must reject); the 6 mm lacune.
TRUE_MM = [(34, -30, 15), (-42, 20, -5)]
CALCIFIED_MM = (0, 30, 16)
LACUNE_MM = (24, -16, -14)


def _index_near(layer, position_xyz, tol_mm=2.0):
    d = np.linalg.norm(layer.data - np.asarray(position_xyz)[::-1], axis=1)
    assert d.min() < tol_mm, f"no point near {position_xyz}"
    return int(np.argmin(d))


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    flair, swi, _ = brain_flair_swi(n_microbleeds=2)
    for volume, name in ((flair, "FLAIR"), (swi, "SWI")):
        data, kwargs, _ = image_tuple(volume, name)
        viewer.add_image(data, **kwargs)
    widget = SvdWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.flair_layer.value = "FLAIR"
    widget.swi_layer.value = "SWI"
    widget.epvs_bg.value = "2"
    worker = widget.run()
    assert worker is not None
    qtbot.waitUntil(lambda: widget.record is not None, timeout=90_000)
    return widget


def test_review_updates_count_and_score_and_record_round_trips(widget, qtbot, tmp_path):
    viewer = widget.viewer
    points = viewer.layers[CANDIDATES_LAYER]
    assert len(points.data) == 3  # two microbleeds + the calcified focus
    assert set(points.features["status"]) == {"candidate"}
    viewer.layers[LACUNES_LAYER].add(np.asarray(LACUNE_MM, float)[::-1])
    record = widget.record
    # Before review: nothing counted, the microbleed item unknown; the other items from
    # the construction: WMH PV 2 / deep 2 (deep >= 2) 1, EPVS BG 2 -> 1, one lacune 1.
    assert record["microbleeds"]["count"] == 0 and record["microbleeds"]["pending"] == 3
    assert record["lacunes"]["count"] == 1
    assert record["svd_score"]["total"] == 3 and record["svd_score"]["missing"] == ["microbleeds"]

    # Cavities painted in the lacune labels are size-checked too: an 8 mm ball counts,
    # a 20 mm one does not (STRIVE 3-15 mm).
    flair = widget._flair
    zyx = np.indices(flair.shape).reshape(3, -1).T
    xyz = flair.index_to_physical(zyx)
    painted = viewer.layers[LACUNE_LABELS_LAYER]
    for centre, diameter in (((-30.0, 40.0, 30.0), 8.0), ((30.0, 30.0, -30.0), 20.0)):
        ball = np.linalg.norm(xyz - centre, axis=1) <= diameter / 2
        painted.data_setitem(tuple(zyx[ball].T), 1)
    items = widget.record["lacunes"]["items"]
    assert widget.record["lacunes"]["count"] == 2  # the point's 6 mm cavity and the 8 mm ball
    spacing = max(flair.spacing_mm)
    small, large = sorted(items[:2], key=lambda item: item["diameter_mm"])
    assert small["is_lacune"] and small["diameter_mm"] == pytest.approx(8.0, abs=spacing)
    assert not large["is_lacune"] and "outside 3-15 mm" in large["reason"]

    points.selected_data = {_index_near(points, TRUE_MM[0])}
    widget.set_selected_status("confirmed")
    mb = widget.record["microbleeds"]
    assert (mb["count"], mb["confirmed"], mb["pending"], mb["rejected"]) == (1, 1, 2, 0)
    assert widget.record["svd_score"]["total"] == 4 and widget.record["svd_score"]["complete"]

    points.selected_data = {_index_near(points, CALCIFIED_MM)}
    widget.set_selected_status("rejected")
    mb = widget.record["microbleeds"]
    assert (mb["count"], mb["confirmed"], mb["pending"], mb["rejected"]) == (1, 1, 1, 1)
    assert list(points.features["status"]).count("rejected") == 1

    # The count helper: 25 centrum semiovale EPVS -> Potter grade 3 (21-40).
    widget.epvs_cso_count.value = "25"
    assert widget.record["epvs_centrum_semiovale"] == 3

    # Calcification grades from the intracranial analysis's JSON, then the reader's entry;
    # the grade is shown beside every marker.
    grades = {"arteries": [{"artery": "basilar", "grade": "severe"}]}
    (tmp_path / "grades.json").write_text(json.dumps(grades))
    widget.read_grades(tmp_path / "grades.json")
    assert widget.artery_grades["basilar"].value == "severe"
    assert widget.record["calcification"]["overall"]["grade"] == "severe"
    widget.artery_grades["basilar"].value = "none/mild"
    widget.artery_grades["MCA_left"].value = "moderate"
    assert widget.record["calcification"]["overall"]["grade"] == "moderate"
    rows = widget.table.data.to_list()
    assert len(rows) == 11 and all(row[3].startswith("moderate") for row in rows)
    by_marker = {row[0]: row[1] for row in rows}
    # the construction's suggested grades PV 2 + deep 2: sum 4, periventricular class "2";
    # the one confirmed microbleed is the 4 mm sphere: pi / 6 4^3 = 33.5 mm3 (within 15 %)
    assert by_marker["Fazekas sum"] == "4"
    assert by_marker["Periventricular lesion grade"] == "2"
    volume = float(by_marker["Microbleed volume"].removesuffix(" mm3"))
    assert volume == pytest.approx(np.pi / 6 * 4**3, rel=0.15)

    # The reader erases the 8 x 14 x 8 mm deep lesion centred at (-36, -5, 4) mm from the
    # WMH labels: deep WMH drops by its volume 4/3 pi 4 7 4 mm3 = 0.469 mL and the deep
    # suggestion falls from 2 (largest 14 mm) to 1 (only 5 mm foci left).
    wmh = viewer.layers[WMH_LAYER]
    deep_before = widget.record["wmh_deep_ml"]
    assert widget.record["fazekas_deep_suggested"] == 2
    lo = np.floor(widget._flair.physical_to_index((-36 + 6, -5 - 9, 4 - 6))).astype(int)
    hi = np.ceil(widget._flair.physical_to_index((-36 - 6, -5 + 9, 4 + 6))).astype(int)
    box = tuple(slice(min(a, b), max(a, b) + 1) for a, b in zip(lo, hi, strict=True))
    edited = np.asarray(wmh.data).copy()
    edited[box] = 0
    wmh.data = edited
    assert widget.remeasure_wmh() is not None
    qtbot.waitUntil(lambda: widget.record["wmh_source"] == "reader-edited labels", timeout=30_000)
    assert deep_before - widget.record["wmh_deep_ml"] == pytest.approx(
        4 / 3 * np.pi * 4 * 7 * 4 / 1000, rel=0.1
    )
    assert widget.record["fazekas_deep_suggested"] == 1

    widget.subject.value = "P-007"
    path = widget.save(tmp_path / "P-007.json")
    saved = json.loads(path.read_text())
    assert saved["format_version"] == 1 and saved["subject_id"] == "P-007"
    assert saved == widget.record

    # Load back into a fresh state: identical record, points and grades restored.
    widget.artery_grades["MCA_left"].value = "severe"
    loaded = widget.load(path)
    assert loaded == saved
    assert widget.artery_grades["MCA_left"].value == "moderate"
    assert widget.epvs_bg.value == "2" and widget.epvs_cso_count.value == "25"
    statuses = sorted(viewer.layers[CANDIDATES_LAYER].features["status"].astype(str))
    assert statuses == ["candidate", "confirmed", "rejected"]
    assert widget.save(tmp_path / "again.json").read_text() == path.read_text()

    # A record from a newer format version is refused with the reason; nothing changes.
    (tmp_path / "newer.json").write_text(json.dumps(dict(saved, format_version=2)))
    before = widget.record
    assert widget.load(tmp_path / "newer.json") is None
    assert "format version 2; this napari-calcium reads versions up to 1" in widget.summary.value
    assert widget.record is before
