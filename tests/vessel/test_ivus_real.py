"""The real-frame IVUS benchmark (benchmarks/ivus_real.py): its VH truth on a written map."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "ivus_real.py"


@pytest.fixture(scope="module")
def ivus_real():
    spec = importlib.util.spec_from_file_location("ivus_real", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vh_arc_counts_confluent_deposits_not_isolated_pixels(ivus_real):
    yy, xx = np.mgrid[:400, :400]
    radius = np.hypot(yy - 200, xx - 200)
    angle = np.rad2deg(np.arctan2(xx - 200, -(yy - 200))) % 360  # clockwise from 12
    frame = np.where((radius >= 60) & (radius < 120), 1, 0).astype(np.uint8)  # fibrous ring
    # a dense-calcium deposit from 12 to 3 o'clock, 0.5 mm deep (well above one cell)
    frame[(radius >= 70) & (radius < 90) & (angle >= 10) & (angle < 100)] = ivus_real.DENSE_CALCIUM
    # four isolated dense-calcium pixels elsewhere in the ring: VH noise
    for a in (150, 200, 250, 300):
        y = int(round(200 - 100 * np.cos(np.deg2rad(a))))
        x = int(round(200 + 100 * np.sin(np.deg2rad(a))))
        frame[y, x] = ivus_real.DENSE_CALCIUM
    (truth,) = ivus_real.vh_truth(frame[None], (200.0, 200.0))
    assert truth["closed"]
    assert abs(truth["calcium_arc_deg"] - 90) <= 1
    assert abs(truth["any_pixel_arc_deg"] - 94) <= 1
    pixel_mm2 = ivus_real.PIXEL_MM**2
    assert truth["lumen_area_mm2"] == pytest.approx((radius < 60).sum() * pixel_mm2)
    assert truth["vessel_area_mm2"] == pytest.approx((radius < 120).sum() * pixel_mm2)


def test_a_ring_that_does_not_close_has_no_truth(ivus_real):
    yy, xx = np.mgrid[:200, :200]
    radius = np.hypot(yy - 100, xx - 100)
    angle = np.rad2deg(np.arctan2(xx - 100, -(yy - 100))) % 360
    frame = ((radius >= 40) & (radius < 70) & (angle > 20)).astype(np.uint8)
    assert ivus_real.vh_truth(frame[None], (100.0, 100.0)) == [{"closed": False}]


def test_real_frames_lumen_and_eem_within_15_percent(ivus_real, local_data, tmp_path):
    """The 26 real frames (local-only): median lumen and EEM area error <= 15 % on the
    tuning and on the held-out frames. The calcium figures are printed by the benchmark."""
    gs, vh = local_data("ivus_vh/grupo5_GS.tif"), local_data("ivus_vh/grupo5_VH.tif")
    out = tmp_path / "real.json"
    assert ivus_real.main([str(gs), str(vh), "--json", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]["confluent DC"]
    for name in ("tuning", "held-out"):
        assert summary[name]["closed_ring_frames"] >= 12
        assert summary[name]["median_lumen_area_error"] <= 0.15, name
        assert summary[name]["median_eem_area_error"] <= 0.15, name
