"""Memory of opening a long IVUS pullback: lazy ``read()`` against an eager baseline.

Writes a 3000-frame 512 x 512 uint8 Ultrasound Multi-frame DICOM (uncompressed,
streamed frame by frame) to a temporary folder, then in two fresh subprocesses:

* lazy:  ``napari_calcium.io.read(path)`` -> napari viewer -> show frame 1500;
* eager: ``pydicom.dcmread(path).pixel_array`` -> napari viewer -> show frame 1500;

and prints each one's peak resident memory (``resource.getrusage``) against the file
size and against each other. Run headless::

    xvfb-run -a /work/venv/bin/python benchmarks/open_pullback.py [--frames 3000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1024 * 1024
# measure this checkout's package, not an installed copy
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_pullback(path: Path, n_frames: int, size: int) -> None:
    """A synthetic pullback: rings whose radius drifts with the frame, computed per frame."""
    import dask.array as da
    import numpy as np

    from napari_calcium.io import write_ultrasound_multiframe
    from napari_calcium.volume import Acquisition, Volume

    yy, xx = np.mgrid[0:size, 0:size] - size / 2
    radius = np.hypot(yy, xx)

    def frames(block_info=None):
        k = block_info[None]["chunk-location"][0]
        ring = 128 + 100 * np.cos(radius / 6.0 - k / 20.0)
        return ring.astype(np.uint8)[None]

    array = da.map_blocks(
        frames,
        chunks=((1,) * n_frames, (size,), (size,)),
        dtype=np.uint8,
        block_info=True,
    )
    volume = Volume(
        array, (0.02, 0.02, 1.0), modality="IVUS", acquisition=Acquisition(frame_rate_hz=30.0)
    )
    write_ultrasound_multiframe(volume, path)


def child(mode: str, path: str) -> None:
    """Open ``path`` (lazy or eager), show the middle frame in a viewer, print JSON."""
    import resource

    import napari
    import numpy as np
    import pydicom

    import napari_calcium.io  # both runs import the same libraries before measuring

    viewer = napari.Viewer(show=False)
    rss_ready_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if mode == "lazy":
        volume = napari_calcium.io.read(path, pullback_speed_mm_s=0.5)
        layer = viewer.add_image(volume.array, **volume.layer_kwargs())
    else:
        layer = viewer.add_image(pydicom.dcmread(path).pixel_array)
    middle = layer.data.shape[0] // 2
    viewer.dims.set_current_step(0, middle)
    shown = viewer.screenshot(canvas_only=True, flash=False)
    seconds = time.perf_counter() - start
    frame = np.asarray(layer.data[middle])
    print(
        json.dumps(
            {
                "mode": mode,
                "type": type(layer.data).__name__,
                "seconds": seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_open_mb": rss_ready_mb,
                "frame_mean": float(frame.mean()),
                "screenshot_shape": list(shown.shape),
            }
        )
    )
    viewer.close()


def run_child(mode: str, path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    if result.returncode != 0:
        sys.exit(f"{mode} run failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="open-pullback-") as tmp:
        path = Path(tmp) / "pullback.dcm"
        start = time.perf_counter()
        write_pullback(path, args.frames, args.size)
        file_mb = path.stat().st_size / MB
        print(
            f"pullback: {args.frames} frames of {args.size}x{args.size} uint8, "
            f"{file_mb:.0f} MB, written in {time.perf_counter() - start:.1f} s"
        )
        lazy = run_child("lazy", path)
        eager = run_child("eager", path)
    if abs(lazy["frame_mean"] - eager["frame_mean"]) > 1e-9:
        sys.exit("lazy and eager runs show different pixel values")
    print()
    print(f"{'':28s}{'lazy read()':>14s}{'eager pydicom':>16s}")
    print(f"{'array type':28s}{lazy['type']:>14s}{eager['type']:>16s}")
    for key, label in (
        ("rss_before_open_mb", "RSS before opening (MB)"),
        ("peak_rss_mb", "peak RSS (MB)"),
        ("seconds", "open + show frame (s)"),
    ):
        print(f"{label:28s}{lazy[key]:14.1f}{eager[key]:16.1f}")
    lazy_added = lazy["peak_rss_mb"] - lazy["rss_before_open_mb"]
    eager_added = eager["peak_rss_mb"] - eager["rss_before_open_mb"]
    print(f"{'added by opening (MB)':28s}{lazy_added:14.1f}{eager_added:16.1f}")
    print()
    print(f"file size: {file_mb:.0f} MB")
    print(
        f"peak RSS / file size:       lazy {lazy['peak_rss_mb'] / file_mb:.2f}   "
        f"eager {eager['peak_rss_mb'] / file_mb:.2f}"
    )
    print(f"peak RSS lazy / eager:      {lazy['peak_rss_mb'] / eager['peak_rss_mb']:.3f}")
    print(f"added memory lazy / eager:  {lazy_added / eager_added:.4f}")


if __name__ == "__main__":
    main()
