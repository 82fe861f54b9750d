"""Time and memory of the IVUS analysis on a long, large pullback, against a per-frame baseline.

The pullback (default 3000 frames of 512 x 512 px, 0.02 mm pixels, 0.5 mm/s at 30
frames/s = 50 mm) cycles through a short phantom pullback with calcium, so it is made
in seconds. Printed:

* the full chunked analysis (:func:`run_ivus`): seconds and peak memory (the process's
  peak resident size, which includes the 0.79 GB pullback itself), and the machine's
  load (the figures are only comparable on an otherwise idle machine); then the HTML
  report of it (:func:`~napari_calcium.report.ivus_html`), timed apart;
* the baseline: ``skimage.transform.warp_polar`` frame by frame for the polar images
  (and ``scipy.ndimage.map_coordinates`` on chunks of frames for reference), and
  the same analysis run one frame at a time (``chunk_frames=1``) on a subset of frames,
  scaled to the whole pullback; and the ratios.

Run: ``python benchmarks/ivus_analysis.py [--frames 3000] [--size 512] [--baseline-frames 100]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np
from scipy import ndimage

from napari_calcium.phantoms.ivus import ivus_pullback
from napari_calcium.report import ivus_html
from napari_calcium.vessel.ivus import IvusSettings, analyse_pullback, measure, run_ivus

LESIONS = [
    {"kind": "calcium", "start_mm": 0.2, "length_mm": 0.6, "start_angle_deg": 30.0,
     "arc_deg": 300.0, "depth_fraction": 0.2, "reverberation": True},
    {"kind": "calcium", "start_mm": 1.2, "length_mm": 0.5, "start_angle_deg": 200.0,
     "arc_deg": 120.0, "depth_fraction": 0.75, "reverberation": False},
]  # fmt: skip


def make_pullback(n_frames: int, size: int, base_frames: int = 60):
    """A long pullback cycling through ``base_frames`` phantom frames (0.5 mm/s, 30 fps)."""
    px = 10.0 / size  # 10 mm field of view
    base, _ = ivus_pullback(
        n_frames=base_frames, size=size, pixel_spacing_mm=px, pullback_speed_mm_s=1.0,
        frame_rate_hz=30.0, lesions=LESIONS, lumen_radius_mm=(1.6, 1.5), eem_radius_mm=(2.3, 2.2),
    )  # fmt: skip
    frames = base.numpy()[np.arange(n_frames) % base_frames]  # lesions repeat every 1 mm
    volume = base.replace(array=frames).with_pullback(0.5, 30.0)
    return volume


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--baseline-frames", type=int, default=100)
    args = parser.parse_args()

    t0 = time.perf_counter()
    volume = make_pullback(args.frames, args.size)
    made = time.perf_counter() - t0
    print(
        f"pullback: {volume.shape} uint8 ({volume.numpy().nbytes / 1e9:.2f} GB) made in {made:.1f} s"
    )

    kept: list = []
    t0 = time.perf_counter()
    result = run_ivus(volume, analysis_out=kept)
    full_s = time.perf_counter() - t0
    rss_peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    t0 = time.perf_counter()
    measure(kept[0])
    measure_s = time.perf_counter() - t0
    print(
        f"chunked analysis (run_ivus): {full_s:.1f} s for {args.frames} frames "
        f"({1e3 * full_s / args.frames:.2f} ms/frame), of which per-frame measurements, lesions "
        f"and score {measure_s:.1f} s; {len(result['lesions'])} lesion(s)"
    )
    print(f"peak memory: process {rss_peak_gb:.2f} GB (includes the pullback itself)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    page = ivus_html(result, volume, kept[0])
    report_s = time.perf_counter() - t0
    rss_report_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(
        f"HTML report (ivus_html, L-mode of every frame), after the analysis: {report_s:.1f} s, "
        f"{len(page) / 1e6:.2f} MB; peak memory with it {rss_report_gb:.2f} GB"
    )

    # ------------------------------------------------------------ baselines
    from skimage.transform import warp_polar

    kept = []
    run_ivus(volume.replace(array=volume.numpy()[:8]), analysis_out=kept)
    grid = kept[0].grid
    n_base = min(args.baseline_frames, args.frames)
    frames = volume.numpy()
    t0 = time.perf_counter()
    for i in range(n_base):
        warp_polar(
            frames[i].astype(np.float32), center=grid.centre_yx_px, radius=grid.radii_px[-1],
            output_shape=(grid.n_angles, grid.n_radii), order=1,
        )  # fmt: skip
    warp_per_frame = (time.perf_counter() - t0) / n_base
    t0 = time.perf_counter()
    for i0 in range(0, n_base, 64):
        chunk = frames[i0 : min(n_base, i0 + 64)]
        rows, cols = grid.coordinates()
        m = chunk.shape[0]
        stacked = (rows[None] + chunk.shape[1] * np.arange(m)[:, None, None]).ravel()
        ndimage.map_coordinates(
            chunk.reshape(-1, chunk.shape[2]), [stacked, np.broadcast_to(cols, (m, *cols.shape)).ravel()],
            order=1, output=np.float32,
        )  # fmt: skip
    mapc_per_frame = (time.perf_counter() - t0) / n_base
    t0 = time.perf_counter()
    for i0 in range(0, n_base, 64):
        grid.sample(frames[i0 : min(n_base, i0 + 64)])
    chunk_per_frame = (time.perf_counter() - t0) / n_base
    print(
        f"polar sampling ({grid.n_angles} x {grid.n_radii}): warp_polar per frame "
        f"{1e3 * warp_per_frame:.2f} ms/frame; map_coordinates on 64-frame chunks "
        f"{1e3 * mapc_per_frame:.2f} ms/frame; precomputed sparse operator "
        f"{1e3 * chunk_per_frame:.2f} ms/frame (ratio to warp_polar {warp_per_frame / chunk_per_frame:.1f}x)"
    )
    subset = volume.replace(array=frames[:n_base])
    t0 = time.perf_counter()
    analyse_pullback(subset, IvusSettings(chunk_frames=1))
    single = (time.perf_counter() - t0) / n_base
    t0 = time.perf_counter()
    analyse_pullback(subset, IvusSettings())
    chunked = (time.perf_counter() - t0) / n_base
    baseline = single - chunk_per_frame + warp_per_frame  # frame by frame with warp_polar
    print(
        f"analysis on {n_base} frames: frame by frame {1e3 * single:.1f} ms/frame, chunked "
        f"{1e3 * chunked:.1f} ms/frame (ratio {single / chunked:.1f}x)"
    )
    print(
        f"baseline (warp_polar + analysis frame by frame): {1e3 * baseline:.1f} ms/frame -> "
        f"{baseline * args.frames:.0f} s for {args.frames} frames; the full chunked run is "
        f"{baseline * args.frames / full_s:.1f}x faster"
    )


if __name__ == "__main__":
    main()
