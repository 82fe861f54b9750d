"""Automatic reference frames stay in the lesion's own segment (ACC IVUS consensus)."""

import pytest

from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.vessel.ivus import run_ivus

DZ_MM = 1.0 / 15.0
#: Two calcium lesions; the lumen tapers from 1.35 to 1.25 mm radius along the pullback,
#: so the largest calcium-free lumen within 10 mm of the second lesion lies before the
#: first one (another segment) unless the search stops at the first lesion.
FIRST = {"kind": "calcium", "start_mm": 0.5, "length_mm": 0.5, "start_angle_deg": 30.0,
         "arc_deg": 150.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip
SECOND = {"kind": "calcium", "start_mm": 2.0, "length_mm": 0.6, "start_angle_deg": 200.0,
          "arc_deg": 120.0, "depth_fraction": 0.2, "reverberation": False}  # fmt: skip


@pytest.fixture(scope="module")
def result():
    volume, truth = ivus_pullback(
        n_frames=60, size=128, pullback_speed_mm_s=1.0, frame_rate_hz=15.0,
        lesions=[FIRST, SECOND], seed=6,
    )  # fmt: skip
    return run_ivus(volume), truth


def test_reference_frames_do_not_cross_a_neighbouring_lesion(result):
    result, truth = result
    first, second = result["lesions"]
    true_first, true_second = truth["lesions"]
    end_first = true_first["end_mm"] / DZ_MM  # frames, from the construction
    start_second = true_second["start_mm"] / DZ_MM
    # the segment between the two lesions holds the second's distal reference and the
    # first's proximal one
    assert end_first < second["distal_reference_frame"] < start_second
    assert end_first < first["proximal_reference_frame"] < start_second
    assert first["distal_reference_frame"] < true_first["start_mm"] / DZ_MM
    assert second["proximal_reference_frame"] > true_second["end_mm"] / DZ_MM
    # each is the largest lumen of its side of the segment
    rows = {r["index"]: r for r in result["per_frame"]}
    between = [i for i in rows if first["end_frame"] < i < second["start_frame"]]
    largest = max(between, key=lambda i: rows[i]["lumen_area_mm2"])
    assert second["distal_reference_frame"] == largest
