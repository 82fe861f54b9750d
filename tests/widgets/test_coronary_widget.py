"""Coronary scoring widget in a real napari viewer: click to assign, scores, undo."""

import numpy as np
import pytest
from napari.utils.colormaps.standardize_color import transform_color

from napari_calcium.calcium.coronary import ARTERY_COLORS, EXTRA_COLORS
from napari_calcium.phantoms.coronary import PIXEL_MM
from napari_calcium.phantoms.qrm import qrm_ct
from napari_calcium.widgets.coronary import (
    ARTERIES,
    CALIBRATION,
    CANDIDATES,
    LESIONS,
    SUMMARY_COLUMNS,
)
from tests.widgets.coronary_reading import (
    TIMEOUT_MS,
    lesion_world,
    open_in_widget,
    reported,
    summary,
)


def test_assign_two_lesions_by_clicks_then_undo(scoring, qtbot):
    viewer, widget, ct, _, truth = scoring
    assert {CANDIDATES, ARTERIES} <= {layer.name for layer in viewer.layers}
    assert widget.report["agatston"] == 0  # the first scoring: nothing assigned yet
    assert summary(widget)["Total"] == "0"

    # LAD lesion: 6 x 5 pixels of 0.45 mm, 450 HU (x4), two 3-mm slices = 48.6
    widget.artery.setCurrentText("LAD")
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        assert widget.assign_at(lesion_world(truth, "LAD", 450)) == 30 * 2
    # reported as the integer, half up (48.6 -> 49)
    assert summary(widget)["LAD"] == reported(30 * PIXEL_MM**2 * 4 * 2) == "49"

    # RCA lesion: 8 x 6 pixels, 600 HU (x4), three slices = 116.64
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.assign_at(lesion_world(truth, "RCA", 600), artery="RCA")
    rca = 48 * PIXEL_MM**2 * 4 * 3
    assert blocker.args[0]["per_artery"]["RCA"]["agatston"] == pytest.approx(rca)
    table = summary(widget)
    assert table["RCA"] == "117" and table["LAD"] == "49" and table["LCX"] == "0"
    assert table["Total"] == reported(48.6 + rca) == "165"
    lesions = viewer.layers[LESIONS]
    assert set(lesions.features["artery"]) == {"LAD", "RCA"}
    assert lesions.features["volume_mm3"].sum() == pytest.approx(30 * 0.2025 * 6 + 48 * 0.2025 * 9)

    # a click on empty tissue changes nothing; the bone is a candidate but never assigned
    assert widget.assign_at((ct.origin_mm[2] + 3.0, 0.0, 0.0)) == 0

    # undo restores the previous scores
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.undo()
    assert blocker.args[0]["per_artery"]["RCA"]["agatston"] == 0
    assert summary(widget)["RCA"] == "0" and summary(widget)["Total"] == "49"

    # napari's own Ctrl+Shift+Z / Ctrl+Z on the arteries layer (Labels.redo / undo) too
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        viewer.layers[ARTERIES].redo()
    assert blocker.args[0]["per_artery"]["RCA"]["agatston"] == pytest.approx(rca)
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        viewer.layers[ARTERIES].undo()
    assert blocker.args[0]["per_artery"]["RCA"]["agatston"] == 0

    # a row of the lesion table goes to its lesion
    widget.go_to_row(0)
    z_lad = lesion_world(truth, "LAD", 450)[0]
    assert viewer.dims.point[0] == pytest.approx(z_lad, abs=3.0)

    # exclude clears the lesion again
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.assign_at(lesion_world(truth, "LAD", 450), artery="exclude")
    assert blocker.args[0]["agatston"] == 0


def test_radiomics_columns_reach_the_features_table(scoring, qtbot):
    viewer, widget, _, arteries, truth = scoring
    # paint the shipped reader labels into the arteries layer (as a brush would)
    layer = viewer.layers[ARTERIES]
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.radiomics.setChecked(True)
        layer.data_setitem(np.nonzero(arteries.array), arteries.array[arteries.array > 0])
    assert blocker.args[0]["agatston"] == pytest.approx(truth["agatston"])
    features = viewer.layers[LESIONS].features
    assert len(features) == truth["lesion_count"]
    assert sorted(features["rad_max_hu"]) == sorted(
        t["hu"] for t in truth["lesions"] if t["counted"]
    )
    assert blocker.args[0]["mass_mg"] is None

    # mass calibration from the phantom's HA insert (200 mg/cm³, 250 HU) and water (0 HU)
    widget.calibrate()  # adds the ROI layer
    rois = viewer.layers[CALIBRATION]
    cal = truth["calibration"]
    for label, box in ((1, cal["insert_box_yx"]), (2, cal["water_box_yx"])):
        (y0, y1), (x0, x1) = box
        rois.data[:, y0:y1, x0:x1] = label
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.calibrate()
    assert widget.calibration.value() == pytest.approx(200 / 250)
    assert blocker.args[0]["mass_mg"] == pytest.approx(truth["mass_mg"])


def test_named_branch_is_scored_apart_and_left_out_of_cac_drs_n(scoring, qtbot):
    viewer, widget, _, _, truth = scoring

    # an empty name is refused and the list kept
    widget.set_artery_names("LM, , RCA")
    assert widget.artery_names == {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}
    assert widget.names_edit.text() == "LM, LAD, LCX, RCA"

    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        widget.set_artery_names("LM, LAD, LCX, RCA, D1")
    assert [widget.artery.itemText(i) for i in range(widget.artery.count())] == [
        "LM",
        "LAD",
        "LCX",
        "RCA",
        "D1",
        "exclude",
    ]
    # label 5 takes the first extra colour; the main arteries keep theirs
    colors = viewer.layers[ARTERIES].colormap
    assert np.allclose(colors.map(5), transform_color(EXTRA_COLORS[0])[0])
    assert np.allclose(colors.map(2), transform_color(ARTERY_COLORS[2])[0])

    # the 48.6 lesion clicked as D1 scores under D1, not LAD, and is left out of N
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        assert widget.assign_at(lesion_world(truth, "LAD", 450), artery="D1") == 60
    report = blocker.args[0]
    assert report["per_artery"]["D1"]["agatston"] == pytest.approx(48.6)
    assert report["per_artery"]["LAD"]["agatston"] == 0
    assert summary(widget)["D1"] == "49" and summary(widget)["Total"] == "49"
    assert report["cac_drs"].endswith("N0")
    assert any("calcium in D1 is not counted in CAC-DRS N" in w for w in report["warnings"])
    assert "calcium in D1" in widget.status.text()
    assert widget.report["settings"]["artery_names"]["5"] == "D1"


def test_threshold_free_measures_in_the_tables_on_the_insert_phantom(make_napari_viewer, qtbot):
    """The QRM-like insert phantom: the reader's insert labels painted, the calibration from
    its rod and resin ROIs; the integrated and volume-fraction mass of the Total row come
    within 2 % of the designed total (rho x pi r² L summed over the ten inserts)."""
    viewer = make_napari_viewer()
    ct, labels, rois, truth = qrm_ct()
    widget = open_in_widget(viewer, qtbot, ct, "insert phantom")
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS):
        viewer.layers[ARTERIES].data_setitem(
            np.nonzero(labels.array), labels.array[labels.array > 0]
        )
    widget.calibrate()  # adds the ROI layer: 1 the 200 mg HA/cm³ rod, 2 resin
    viewer.layers[CALIBRATION].data[...] = rois.array
    with qtbot.waitSignal(widget.scores_updated, timeout=TIMEOUT_MS) as blocker:
        widget.calibrate()
    report = blocker.args[0]
    assert widget.calibration.value() == pytest.approx(1 / 1.1, rel=0.02)  # 1.1 HU per mg/cm³
    designed_mg = sum(insert["mass_mg"] for insert in truth["inserts"])
    # 200 + 400 + 800 mg/cm³ = 1.4 mg/mm³ at each size (5, 3, 1 mm), and 0.04 mg/mm³ x 5 mm
    assert designed_mg == pytest.approx(
        1.4 * np.pi * (2.5**2 * 5 + 1.5**2 * 3 + 0.5**2 * 1) + 0.04 * np.pi * 2.5**2 * 5
    )
    table = widget.summary
    total = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Total")
    cells = {SUMMARY_COLUMNS[c]: table.item(total, c).text() for c in range(table.columnCount())}
    for column, key in (
        ("integrated mass (mg)", "integrated_mass_mg"),
        ("volume-fraction mass (mg)", "volume_fraction_mass_mg"),
    ):
        assert float(cells[column]) == pytest.approx(designed_mg, rel=0.02)
        assert cells[column] == f"{report[key]:.1f}"
    assert float(cells["SWCS"]) > 0
    # the classic threshold mass misses the rims, the 1-mm inserts and the 40 mg one
    assert float(cells["mass (mg)"]) < 0.95 * designed_mg
    # the lesion layer's features carry the per-lesion measures
    features = viewer.layers[LESIONS].features
    assert {"integrated_mass_mg", "volume_fraction_mass_mg", "swcs"} <= set(features.columns)
    assert features["integrated_mass_mg"].sum() < report["integrated_mass_mg"]  # 40 mg apart
