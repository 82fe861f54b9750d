"""IVUS analysis on real grey-scale IVUS frames against their virtual-histology (VH) maps.

Data: 26 frames of a public teaching repository (duartebianca/image-morphology-es235,
``data/raw_tiff/grupo5_GS.tif`` and ``grupo5_VH.tif``). They carry no licence that
allows redistribution: keep them locally (``NAPARI_CALCIUM_LOCAL_DATA``, see the
README), never commit them or anything derived from them.

Truth from the VH map (a palette TIFF; its colour table, as the source repository's
``src/color_map.py`` reads it: 1 fibrous (dark green), 2 fibro-fatty (yellow-green),
4 necrotic core (red), 5 dense calcium (white), 6 media (grey), 0 lumen/background):

* the VH ring is every non-zero pixel; the lumen is the hole of the ring that holds the
  catheter (frames whose ring does not close have no lumen and are left out of every
  figure), the vessel (EEM) area is lumen + ring;
* the dense-calcium arc is the number of 1-degree sectors about the lumen centroid
  (clockwise from 12 o'clock) covered by **confluent** dense calcium: 8-connected
  dense-calcium regions of at least one 20 MHz IVUS resolution cell,
  ``MIN_DEPOSIT_MM2`` = 0.13 mm axial x 0.43 mm lateral = 0.056 mm2 (Engeler et al.,
  Cardiovasc Intervent Radiol 1995;18:239-242, rotating 20 MHz catheter). Why: VH-IVUS
  plaque types are defined by *confluent* dense calcium ("fibrocalcific: > 10 %
  confluent DC", Garcia-Garcia et al. 2009, "Tissue characterisation using
  intravascular radiofrequency data analysis: recommendations for acquisition, analysis,
  interpretation and reporting", EuroIntervention), and grey-scale IVUS, which the
  analysis reads, detects dense, coherent calcium deposits but few calcium flecks (16 of
  18 dense calcified plaques, 2 of 12 microcalcifications <= 0.05 mm: Friedrich et al.
  1994, "Detection of intralesional calcium by intracoronary ultrasound depends on the
  histologic pattern"). Isolated dense-calcium pixels are VH classification noise. The
  former definition (every sector holding any dense-calcium pixel) is printed beside it
  as "any DC pixel".

The pixel size is not stated by the source; 0.025 mm is assumed (a 10 mm field of
view, usual for 20 MHz VH-IVUS). The frames are one per heartbeat; the analysis is run
at 15 mm/s and 30 frames/s (0.5 mm between frames) as a user would for such a stack.

Frames are split into a **tuning** set (even indices 0, 2, ... 24) that the detector's
defaults may be chosen on, and a **held-out** set (odd indices 1, 3, ... 25) that is
never tuned on; every figure is printed for both and for all frames.

Run: ``python benchmarks/ivus_real.py PATH/grupo5_GS.tif PATH/grupo5_VH.tif [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

#: VH palette index of dense calcium (white in the source's colour map).
DENSE_CALCIUM = 5
#: Smallest dense-calcium region that counts as a deposit: one 20 MHz IVUS resolution
#: cell, 0.13 mm axial x 0.43 mm lateral (Engeler et al. 1995; see the module docstring).
MIN_DEPOSIT_MM2 = 0.13 * 0.43
PIXEL_MM = 0.025
SPEED_MM_S, FRAME_RATE_HZ = 15.0, 30.0
#: VH arc definitions: the benchmark's (confluent deposits) and the former one.
ARC_TRUTHS = {"confluent DC": "vh_arc_deg", "any DC pixel": "vh_any_pixel_arc_deg"}
#: The analysis before its detector was reworked for real frames (main at 2e78e20), on
#: the same frames: median |arc error| (deg), calcium found, median lumen / EEM error.
BEFORE = {
    "confluent DC": {
        "tuning": (117.0, "8% of 12"), "held-out": (112.0, "33% of 12"),
        "all": (117.0, "21% of 24"),
    },
    "any DC pixel": {
        "tuning": (151.0, "15% of 13"), "held-out": (140.3, "33% of 12"),
        "all": (141.6, "24% of 25"),
    },
}  # fmt: skip
BEFORE_AREA_ERRORS = {"tuning": (0.673, 0.762), "held-out": (0.670, 0.763), "all": (0.673, 0.762)}


def vh_truth(labels: np.ndarray, catheter_yx: tuple[float, float]) -> list[dict]:
    """Per-frame lumen area, vessel area and dense-calcium arc from VH label frames."""
    truth = []
    cy0, cx0 = (int(round(c)) for c in catheter_yx)
    for frame in labels:
        ring = frame > 0
        holes, _ = ndimage.label(ndimage.binary_fill_holes(ring) & ~ring)
        lumen_label = holes[cy0, cx0]
        if lumen_label == 0:
            truth.append({"closed": False})
            continue
        lumen = holes == lumen_label
        centre_yx = ndimage.center_of_mass(lumen)
        dense = frame == DENSE_CALCIUM
        regions, _ = ndimage.label(dense, structure=np.ones((3, 3)))
        region_mm2 = np.bincount(regions.ravel()) * PIXEL_MM**2
        confluent = (region_mm2 >= MIN_DEPOSIT_MM2)[regions] & dense
        truth.append(
            {
                "closed": True,
                "lumen_area_mm2": float(lumen.sum() * PIXEL_MM**2),
                "vessel_area_mm2": float((lumen | ring).sum() * PIXEL_MM**2),
                "calcium_arc_deg": arc_deg(confluent, centre_yx),
                "any_pixel_arc_deg": arc_deg(dense, centre_yx),
            }
        )
    return truth


def arc_deg(mask: np.ndarray, centre_yx: tuple[float, float]) -> float:
    """Number of 1-degree sectors about ``centre_yx`` that hold a pixel of ``mask``."""
    yy, xx = np.nonzero(mask)
    angles = np.rad2deg(np.arctan2(xx - centre_yx[1], -(yy - centre_yx[0]))) % 360.0
    sectors = np.zeros(360, bool)
    sectors[np.floor(angles).astype(int) % 360] = True
    return float(sectors.sum())


def summarise(rows: list[dict], truth_key: str = "vh_arc_deg") -> dict:
    """Median errors of the frames with a closed VH ring against the VH arc ``truth_key``."""
    closed = [r for r in rows if r["closed"]]
    arc_err = [abs(r["arc_deg"] - r[truth_key]) for r in closed]
    lumen_err = [abs(r["lumen_area_mm2"] / r["vh_lumen_area_mm2"] - 1) for r in closed]
    eem_err = [abs(r["vessel_area_mm2"] / r["vh_vessel_area_mm2"] - 1) for r in closed]
    calcified = [r for r in closed if r[truth_key] >= 30.0]
    found = [r["arc_deg"] > 0 for r in calcified]
    return {
        "frames": len(rows),
        "closed_ring_frames": len(closed),
        "median_arc_error_deg": float(np.median(arc_err)) if arc_err else None,
        "calcium_found_fraction": float(np.mean(found)) if found else None,
        "vh_calcified_frames": len(calcified),
        "median_lumen_area_error": float(np.median(lumen_err)) if lumen_err else None,
        "median_eem_area_error": float(np.median(eem_err)) if eem_err else None,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gs", type=Path, help="grey-scale frames (grupo5_GS.tif)")
    parser.add_argument("vh", type=Path, help="virtual-histology frames (grupo5_VH.tif)")
    parser.add_argument("--json", type=Path, help="write the per-frame table and summary")
    args = parser.parse_args(argv)

    import tifffile

    import napari_calcium as nc
    from napari_calcium.vessel.ivus import run_ivus

    volume = nc.read(
        args.gs, pixel_spacing_mm=PIXEL_MM, pullback_speed_mm_s=SPEED_MM_S,
        frame_rate_hz=FRAME_RATE_HZ,
    )  # fmt: skip
    labels = tifffile.imread(args.vh)
    if labels.shape != volume.shape:
        print(f"error: VH {labels.shape} and grey-scale {volume.shape} differ", file=sys.stderr)
        return 2
    result = run_ivus(volume)
    truth = vh_truth(labels, result["catheter_centre_yx_px"])
    rows = []
    print("frame set       VH arc (any pixel)  arc   VH lumen  lumen  VH EEM  EEM   (deg, mm2)")
    for i, (measured, true) in enumerate(zip(result["per_frame"], truth, strict=True)):
        row = {
            "frame": i,
            "set": "tuning" if i % 2 == 0 else "held-out",
            "closed": true["closed"],
            "arc_deg": measured["calcium_arc_deg"] or 0.0,
            "lumen_area_mm2": measured["lumen_area_mm2"],
            "vessel_area_mm2": measured["vessel_area_mm2"],
        }
        if true["closed"]:
            row.update(
                vh_arc_deg=true["calcium_arc_deg"],
                vh_any_pixel_arc_deg=true["any_pixel_arc_deg"],
                vh_lumen_area_mm2=true["lumen_area_mm2"],
                vh_vessel_area_mm2=true["vessel_area_mm2"],
            )
            print(
                f"{i:5d} {row['set']:9s} {row['vh_arc_deg']:6.0f} "
                f"({row['vh_any_pixel_arc_deg']:3.0f})       {row['arc_deg']:5.0f} "
                f"{row['vh_lumen_area_mm2']:9.2f} {row['lumen_area_mm2']:6.2f} "
                f"{row['vh_vessel_area_mm2']:7.2f} {row['vessel_area_mm2']:5.2f}"
            )
        else:
            print(f"{i:5d} {row['set']:9s}  VH ring not closed: left out")
        rows.append(row)
    summary = {
        truth: {
            name: summarise([r for r in rows if name == "all" or r["set"] == name], key)
            for name in ("tuning", "held-out", "all")
        }
        for truth, key in ARC_TRUTHS.items()
    }
    for truth, sets in summary.items():
        print(f"\nVH arc truth: {truth}")
        print(
            "set       frames  median |arc err|  found (VH >= 30 deg)  median |lumen err|"
            "  median |EEM err|"
        )
        for name, s in sets.items():
            print(
                f"{name:9s} {s['closed_ring_frames']:6d}  {s['median_arc_error_deg']:12.1f} deg  "
                f"{100 * s['calcium_found_fraction']:11.0f}% of {s['vh_calcified_frames']:2d}  "
                f"{100 * s['median_lumen_area_error']:15.1f}%  "
                f"{100 * s['median_eem_area_error']:14.1f}%"
            )
        for name, (arc_err, found) in BEFORE[truth].items():
            lumen_err, eem_err = BEFORE_AREA_ERRORS[name]
            print(
                f"{'before ' + name:18s}{arc_err:12.1f} deg  {found:>18s}  "
                f"{100 * lumen_err:15.1f}%  {100 * eem_err:14.1f}%"
            )
    if args.json:
        args.json.write_text(json.dumps({"frames": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
