"""Cohort batch throughput: subjects per minute with 1 and 2 workers, peak memory per worker.

Writes a phantom cohort (every analysis, parameters varied per subject) into a
temporary folder, runs it on a local Dask cluster of 1 and then 2 worker processes
(one thread each) and prints subjects/minute, the speed-up of 2 workers over 1
(the baseline) and each worker's peak resident memory. Run from the repository root::

    /work/venv/bin/python benchmarks/batch.py [N_SUBJECTS]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (MiB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(manifest: Path, out: Path, workers: int) -> dict:
    from distributed import Client, LocalCluster

    from napari_calcium.cohort.batch import run

    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        start = time.perf_counter()
        result = run(manifest, out, scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - start
        with Client(cluster) as client:
            peaks = client.run(_peak_rss_mib)
    n = len(result.subjects)
    return {
        "load": os.getloadavg()[0],
        "workers": workers,
        "subjects": n,
        "failed": len(result.failed),
        "seconds": seconds,
        "per_minute": 60.0 * n / seconds,
        "peak_mib": sorted(peaks.values()),
    }


def main(n_subjects: int = 40) -> None:
    from napari_calcium.sample_cohorts import write_phantom_cohort

    with tempfile.TemporaryDirectory(prefix="napari-calcium-bench-") as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        manifest = write_phantom_cohort(tmp / "cohort", n_subjects)
        print(f"wrote {n_subjects} phantom subjects in {time.perf_counter() - start:.1f} s")
        rows = [measure(manifest, tmp / f"out-{w}", w) for w in (1, 2)]
    base = rows[0]["per_minute"]
    print(f"{os.cpu_count()} CPU cores; load average after each run (other work on the machine)")
    print(
        f"{'workers':>7} {'subjects':>8} {'failed':>6} {'seconds':>8} {'subj/min':>9} "
        f"{'vs 1':>5} {'load':>5}  peak MiB per worker"
    )
    for r in rows:
        peaks = ", ".join(f"{p:.0f}" for p in r["peak_mib"])
        print(
            f"{r['workers']:>7} {r['subjects']:>8} {r['failed']:>6} {r['seconds']:>8.1f} "
            f"{r['per_minute']:>9.1f} {r['per_minute'] / base:>5.2f} {r['load']:>5.1f}  {peaks}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
