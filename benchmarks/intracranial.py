"""Timing and peak memory of the intracranial job on the vessel phantoms.

Prints each stage's time as a ratio to a baseline (one linear resampling of the CT
onto the cross-section stack), so runs on different machines compare::

    python benchmarks/intracranial.py
"""

from __future__ import annotations

import resource
import time

from napari_calcium.intracranial import find_calcifications, measure_calcifications
from napari_calcium.phantoms.vessel import vessel_ct, vessel_mri
from napari_calcium.vessel.centerline import Centerline, reformat
from napari_calcium.vessel.wall import measure_wall


def timed(label, func, baseline=None):
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    ratio = "" if baseline is None else f"  x{seconds / baseline:6.1f} baseline"
    print(f"{label:<32} {seconds:7.2f} s{ratio}")
    return result, seconds


def main():
    ct, truth = vessel_ct()
    mri, _ = vessel_mri()
    line = Centerline(truth["centerline_mm"])
    print(f"CT {ct.shape} voxels, MRI {mri.shape} voxels, centreline {line.length_mm:.1f} mm")
    _, base = timed("baseline: CT reformat (0.25 mm)", lambda: reformat(ct, line, 0.25, 10, 0.2))
    (labels, _), _ = timed("find calcifications", lambda: find_calcifications(ct, line), base)
    timed("measure calcifications", lambda: measure_calcifications(ct, labels, line), base)
    timed("VW-MRI contours (0.25 mm)", lambda: measure_wall(mri, line, step_mm=0.25), base)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
