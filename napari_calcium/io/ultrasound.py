"""IVUS pullbacks: multi-frame ultrasound DICOM, multi-page TIFF stacks, frame folders.

A pullback is a Volume of shape ``(frame, y, x)``. In DICOM the in-plane pixel size
comes from the ultrasound region calibration (SequenceOfUltrasoundRegions,
PhysicalDeltaX/Y in cm) or PixelSpacing; the frame rate from FrameTime / CineRate /
RecommendedDisplayFrameRate; the pullback speed from IVUS Pullback Rate (0018,3101,
mm/s) and the frames of the motorised pullback from IVUS Pullback Start / Stop Frame
Number (0018,3103 / 0018,3104) when the file has them. A multi-page TIFF (an ImageJ
stack, the commonest export of IVUS frames) carries its pixel size in the ImageJ
calibration (or a centimetre TIFF resolution) and its frame interval in ImageJ's
``finterval``. When the speed or frame rate is unknown the distance between frames
comes from the user (:meth:`Volume.with_pullback`); until then axis 0 has spacing 1.0
and :func:`require_frame_spacing` stops analyses that need millimetres along the vessel.

Large pullbacks open lazily: uncompressed pixel data is memory-mapped and wrapped
in a dask array of one chunk per frame, so only the frames that are displayed or
analysed are read; compressed data and image folders are decoded frame by frame.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.io.dicom_header import read_header
from napari_calcium.volume import Acquisition, Volume

log = logging.getLogger(__name__)

FRAME_EXTENSIONS = (".png", ".tif", ".tiff")
PULLBACK_HINT = (
    "pass the pullback speed and frame rate: --pullback-speed MM_S --frame-rate FPS "
    "(Python: read(..., pullback_speed_mm_s=..., frame_rate_hz=...))"
)
#: ITU-R BT.601 luma weights for RGB -> grey.
LUMA = (0.299, 0.587, 0.114)


def require_frame_spacing(volume: Volume) -> float:
    """The pullback's frame spacing in mm, or :class:`InputError` when it is unknown.

    Analyses that measure along the pullback (lengths, volumes) call this first.
    """
    spacing = volume.frame_spacing_mm
    if spacing is None:
        acq = volume.acquisition
        missing = [
            name
            for name, value in (
                ("pullback speed", acq.pullback_speed_mm_s),
                ("frame rate", acq.frame_rate_hz),
            )
            if not value
        ]
        raise InputError(
            f"the distance between IVUS frames is unknown ({' and '.join(missing)} not given)",
            PULLBACK_HINT,
        )
    return spacing


def warn_if_no_frame_spacing(volume: Volume, source) -> None:
    """Log a warning naming the flags when a multi-frame pullback has no frame spacing."""
    if volume.frame_spacing_mm is None and volume.shape[0] > 1:
        log.warning(
            "%s: pullback speed and/or frame rate unknown, so frames are 1.0 apart along "
            "axis 0 (not mm); %s",
            Path(source).name,
            PULLBACK_HINT,
        )


def _luminance(rgb: np.ndarray, dtype) -> np.ndarray:
    """Grey values of RGB pixels (last axis), rounded, in ``dtype``."""
    grey = rgb[..., 0] * LUMA[0] + rgb[..., 1] * LUMA[1] + rgb[..., 2] * LUMA[2]
    return np.rint(grey).astype(dtype)


# --------------------------------------------------------------- DICOM read
def region_pixel_spacing(ds) -> tuple[float, float] | None:
    """``(x, y)`` pixel size in mm from SequenceOfUltrasoundRegions, if calibrated in cm.

    Uses the 2-D tissue regions (RegionSpatialFormat 1) with PhysicalUnits 3 (cm);
    when several disagree, the largest region wins (logged).
    """
    regions = []
    for r in ds.get("SequenceOfUltrasoundRegions", []):
        if (
            r.get("RegionSpatialFormat") == 1
            and r.get("PhysicalUnitsXDirection") == 3
            and r.get("PhysicalUnitsYDirection") == 3
            and (r.get("PhysicalDeltaX") or 0) > 0
            and (r.get("PhysicalDeltaY") or 0) > 0
        ):
            area = (r.get("RegionLocationMaxX1", 0) - r.get("RegionLocationMinX0", 0)) * (
                r.get("RegionLocationMaxY1", 0) - r.get("RegionLocationMinY0", 0)
            )
            spacing = (10.0 * abs(float(r.PhysicalDeltaX)), 10.0 * abs(float(r.PhysicalDeltaY)))
            regions.append((area, spacing))
    if not regions:
        return None
    regions.sort(key=lambda a: -a[0])
    if any(not np.allclose(s, regions[0][1], rtol=1e-6) for _, s in regions):
        log.warning(
            "ultrasound regions have different pixel sizes %s; using the largest region's",
            [s for _, s in regions],
        )
    return regions[0][1]


def frame_rate_hz(ds) -> float | None:
    """Frames per second from FrameTime (ms), CineRate or RecommendedDisplayFrameRate."""
    frame_time = ds.get("FrameTime")
    if frame_time and float(frame_time) > 0:
        return 1000.0 / float(frame_time)
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        value = ds.get(keyword)
        if value and float(value) > 0:
            return float(value)
    return None


class _MappedFrames:
    """Array-like view of uncompressed frames in a file; indexing reads only those bytes.

    Not an ``ndarray`` (dask slices in-memory arrays when the graph is built, which
    would read every frame at opening); the file is memory-mapped on first access.
    """

    def __init__(self, path: Path, dtype: np.dtype, offset: int, shape: tuple[int, ...]):
        self.path, self.dtype, self.offset, self.shape = path, dtype, offset, shape
        self.ndim = len(shape)
        self._map = None

    def __getitem__(self, key) -> np.ndarray:
        if self._map is None:
            self._map = np.memmap(
                self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=self.shape
            )
        return np.array(self._map[key])


def _native_frames(path: Path, ds, n_frames: int):
    """A lazy ``(frame, y, x[, sample])`` dask array over uncompressed pixel data, or None."""
    import dask.array as da

    raw = ds._dict.get(0x7FE00010)
    tell = getattr(raw, "value_tell", None)
    bits = int(ds.BitsAllocated)
    if tell is None or bits not in (8, 16) or raw.length == 0xFFFFFFFF:
        return None
    samples = int(ds.get("SamplesPerPixel", 1))
    rows, cols = int(ds.Rows), int(ds.Columns)
    kind = "i" if int(ds.get("PixelRepresentation", 0)) == 1 else "u"
    endian = ">" if not ds.original_encoding[1] else "<"
    dtype = np.dtype(f"{endian}{kind}{bits // 8}")
    planar = samples > 1 and int(ds.get("PlanarConfiguration", 0)) == 1
    if samples == 1:
        frame_shape = (rows, cols)
    else:
        frame_shape = (samples, rows, cols) if planar else (rows, cols, samples)
    expected = n_frames * int(np.prod(frame_shape)) * dtype.itemsize
    available = path.stat().st_size - tell
    if raw.length < expected or available < expected:
        raise InputError(
            f"{path.name} is truncated: its pixel data has {min(raw.length, available)} bytes, "
            f"{n_frames} frames of {rows}x{cols}x{samples} need {expected}",
            "copy the file again from its source",
        )
    source = _MappedFrames(path, dtype, tell, (n_frames, *frame_shape))
    frames = da.from_array(source, chunks=(1, *frame_shape), asarray=False, name=f"us-{path}")
    if planar:
        frames = frames.transpose(0, 2, 3, 1)
    return frames.astype(dtype.newbyteorder("="))


def _decoded_frames(path: Path, ds, n_frames: int):
    """A lazy ``(frame, y, x[, sample])`` dask array decoding each frame with pydicom."""
    import dask
    import dask.array as da
    import pydicom
    from pydicom.pixels import apply_color_lut, pixel_array

    if str(ds.get("PhotometricInterpretation", "")) == "PALETTE COLOR":
        full = pydicom.dcmread(path)  # the palette lookup tables

        def decode(i):
            return apply_color_lut(pixel_array(path, index=i), full)

    else:

        def decode(i):
            return pixel_array(path, index=i)

    first = decode(0)
    frames = [
        da.from_delayed(dask.delayed(decode)(i), shape=first.shape, dtype=first.dtype)
        for i in range(n_frames)
    ]
    return da.stack(frames)


def _to_grey(frames, ds, name: str):
    """Scalar frames: RGB -> luminance (same dtype), YBR_FULL -> Y, MONOCHROME1 inverted."""
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if frames.ndim == 3:
        if photometric == "MONOCHROME1":
            top = 2 ** int(ds.get("BitsStored", ds.BitsAllocated)) - 1
            log.info("%s: MONOCHROME1, inverted so that bright is high", name)
            return (top - frames).astype(frames.dtype)
        return frames
    if photometric == "YBR_FULL":
        log.info("%s: YBR_FULL colour; using the luminance (Y) channel", name)
        return frames[..., 0]
    log.info("%s: colour (%s) frames converted to luminance (BT.601)", name, photometric)
    dtype = frames.dtype
    return frames.map_blocks(_luminance, dtype, dtype=dtype, drop_axis=3)


def read_ultrasound_file(path, *, pixel_spacing_mm: float | None = None) -> Volume:
    """Read an ultrasound DICOM file (multi- or single-frame) lazily as a pullback.

    Parameters
    ----------
    path : the file.
    pixel_spacing_mm : in-plane pixel size (mm) overriding the file's calibration.

    Returns
    -------
    Volume of modality ``IVUS``, array ``(frame, y, x)`` (dask), spacing
    ``(x, y, 1.0)`` mm; ``acquisition.frame_rate_hz`` from the file when present.
    """
    path = Path(path)
    ds = read_header(path, stop_before_pixels=False, defer_size=1024)
    if 0x7FE00010 not in ds._dict:
        raise InputError(f"{path.name} has no pixel data")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    frames = None
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if not ds.file_meta.TransferSyntaxUID.is_compressed and photometric in (
        "MONOCHROME1",
        "MONOCHROME2",
        "RGB",
        "YBR_FULL",
    ):
        frames = _native_frames(path, ds, n_frames)
    if frames is None:
        try:
            frames = _decoded_frames(path, ds, n_frames)
        except Exception as err:  # noqa: BLE001 -- decoders raise many types on broken data
            raise InputError(
                f"the pixel data of {path.name} could not be decoded ({type(err).__name__}: {err})",
                "check that the file is complete; compressed files may need a decoder "
                "plugin (pylibjpeg, python-gdcm)",
            ) from err
    frames = _to_grey(frames, ds, path.name)
    return _pullback_volume(frames, ds, path, pixel_spacing_mm)


def _pullback_volume(frames, ds, source: Path, pixel_spacing_mm: float | None) -> Volume:
    spacing = region_pixel_spacing(ds)
    if spacing is None and ds.get("PixelSpacing"):
        row, col = (float(v) for v in ds.PixelSpacing)
        spacing = (col, row)
    if pixel_spacing_mm:
        spacing = (float(pixel_spacing_mm), float(pixel_spacing_mm))
    if spacing is None:
        log.warning(
            "%s: no pixel size in the file, so in-plane spacing is 1.0 (not mm); "
            "pass --pixel-spacing MM (Python: pixel_spacing_mm=...)",
            source.name,
        )
        spacing = (1.0, 1.0)
    start, stop = pullback_frames(ds, int(frames.shape[0]), source.name)
    return Volume(
        frames,
        (*spacing, 1.0),
        modality="IVUS",
        acquisition=Acquisition(
            frame_rate_hz=frame_rate_hz(ds),
            pullback_speed_mm_s=pullback_rate_mm_s(ds),
            pullback_start_frame=start,
            pullback_stop_frame=stop,
            manufacturer=str(ds.get("Manufacturer", "")) or None,
            series_description=str(ds.get("SeriesDescription", "")) or None,
        ),
    )


def pullback_rate_mm_s(ds) -> float | None:
    """Motorised pullback speed (mm/s) from IVUS Pullback Rate (0018,3101), if present."""
    value = ds.get("IVUSPullbackRate")
    try:
        rate = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        rate = None
    return rate if rate is not None and np.isfinite(rate) and rate > 0 else None


def pullback_frames(ds, n_frames: int, name: str) -> tuple[int | None, int | None]:
    """0-based first and last frame of the motorised pullback, from IVUS Pullback Start
    / Stop Frame Number (0018,3103 / 0018,3104; 1-based), or ``(None, None)``.

    Numbers outside the file's frames or in the wrong order are ignored (logged).
    """
    start, stop = ds.get("IVUSPullbackStartFrameNumber"), ds.get("IVUSPullbackStopFrameNumber")
    if start in (None, "") and stop in (None, ""):
        return None, None
    first = int(start) - 1 if start not in (None, "") else 0
    last = int(stop) - 1 if stop not in (None, "") else n_frames - 1
    if not 0 <= first <= last < n_frames:
        log.warning(
            "%s: IVUS pullback start/stop frame numbers %s/%s do not fit its %d frames; ignored",
            name, start, stop, n_frames,
        )  # fmt: skip
        return None, None
    return first, last


def read_ultrasound_files(paths: list[Path], headers=None, pixel_spacing_mm=None) -> Volume:
    """A pullback stored as one single-frame ultrasound DICOM file per frame.

    Frames are ordered by InstanceNumber (then file name) and decoded lazily.
    """
    import dask.array as da

    headers = headers or [read_header(p) for p in paths]
    order = sorted(
        range(len(paths)), key=lambda i: (int(headers[i].get("InstanceNumber", 0) or 0), paths[i])
    )
    volumes = [read_ultrasound_file(paths[i], pixel_spacing_mm=pixel_spacing_mm) for i in order]
    shapes = {v.shape[1:] for v in volumes}
    if len(shapes) > 1:
        raise InputError(f"ultrasound frames of different sizes: {sorted(shapes)}")
    frames = da.concatenate([v.array for v in volumes])
    return volumes[0].replace(array=frames)


# ------------------------------------------------------------ TIFF stacks
TIFF_EXTENSIONS = (".tif", ".tiff")
#: ImageJ length units (``unit`` in the ImageJ description) -> millimetres.
IMAGEJ_UNITS_MM = {"mm": 1.0, "millimeter": 1.0, "cm": 10.0, "m": 1000.0, "micron": 1e-3,
                   "um": 1e-3, "\u00b5m": 1e-3, "\\u00B5m": 1e-3, "nm": 1e-6}  # fmt: skip


def tiff_frame_count(path) -> int:
    """Frames in a TIFF file's first image series (0 when it is not a readable TIFF)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes = series.shape, series.axes
    except Exception:  # noqa: BLE001 -- not a TIFF: the caller decides what to say
        return 0
    frame_axes = [n for n, a in zip(shape, axes, strict=True) if a not in "YXS"]
    return int(np.prod(frame_axes)) if frame_axes else 1


def _tiff_calibration(tif) -> tuple[float | None, float | None, str | None]:
    """(pixel size mm, frame rate Hz, where the pixel size came from) of a TIFF file.

    The pixel size is read from the ImageJ calibration (XResolution in pixels per
    ``unit``) or from a TIFF resolution in centimetres; an inch resolution is a screen
    setting (72 or 96 dpi), not a calibration, and is ignored. The frame rate is
    ``1 / finterval`` of an ImageJ stack.
    """
    page = tif.pages[0]
    tags = page.tags
    meta = tif.imagej_metadata or {}
    rate = None
    interval = meta.get("finterval")
    if interval and float(interval) > 0 and str(meta.get("tunit", "sec")).startswith("s"):
        rate = 1.0 / float(interval)
    if "XResolution" not in tags:
        return None, rate, None
    num, den = tags["XResolution"].value
    if not num or not den:
        return None, rate, None
    per_unit = num / den  # pixels per unit
    unit = str(meta.get("unit", "")).strip()
    if meta and unit.lower() in IMAGEJ_UNITS_MM:
        return IMAGEJ_UNITS_MM[unit.lower()] / per_unit, rate, f"ImageJ calibration ({unit})"
    resolution_unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    if resolution_unit == 3:  # centimetre
        return 10.0 / per_unit, rate, "TIFF resolution (cm)"
    return None, rate, None


def read_tiff_stack(path, *, pixel_spacing_mm: float | None = None) -> Volume:
    """A pullback from a multi-page TIFF / ImageJ stack, one page per frame, read lazily.

    Grey pages are kept; colour and palette pages become luminance (BT.601). The pixel
    size and frame rate come from the file's calibration (:func:`_tiff_calibration`)
    unless ``pixel_spacing_mm`` is given.

    Returns
    -------
    Volume of modality ``IVUS``, array ``(frame, y, x)`` (dask, one chunk per frame).
    """
    import dask
    import dask.array as da
    import tifffile

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes, dtype = series.shape, series.axes, series.dtype
            palette = tif.pages[0].photometric == tifffile.PHOTOMETRIC.PALETTE
            colormap = tif.pages[0].colormap if palette else None
            px_mm, rate, source = _tiff_calibration(tif)
    except Exception as err:  # noqa: BLE001 -- tifffile raises many types on broken files
        raise InputError(
            f"{path.name} could not be read as a TIFF ({type(err).__name__}: {err})",
            "check that the file is complete",
        ) from err
    samples = shape[axes.index("S")] if "S" in axes else 1
    frame_shape = tuple(shape[axes.index(a)] for a in "YX")
    if "Y" not in axes or "X" not in axes or samples not in (1, 3, 4):
        raise InputError(f"{path.name} holds {axes} {shape} images, not IVUS frames")
    n_frames = int(np.prod([n for n, a in zip(shape, axes, strict=True) if a not in "YXS"]))

    def frame(i: int) -> np.ndarray:
        with tifffile.TiffFile(path) as tif:
            image = np.asarray(tif.asarray(key=i, series=0))
        if colormap is not None:  # palette (16-bit colour table) -> 8-bit RGB
            image = np.moveaxis(colormap[:, image] // 257, 0, -1).astype(np.uint8)
        if image.ndim == 3:
            image = _luminance(image[..., :3].astype(np.float64), image.dtype)
        return image

    out_dtype = np.uint8 if colormap is not None else dtype
    frames = da.stack(
        [
            da.from_delayed(dask.delayed(frame)(i), shape=frame_shape, dtype=out_dtype)
            for i in range(n_frames)
        ]
    )
    if pixel_spacing_mm:
        px_mm = float(pixel_spacing_mm)
    elif px_mm is not None:
        log.info("%s: pixel size %.4g mm from its %s", path.name, px_mm, source)
    else:
        log.warning(
            "%s: the TIFF carries no pixel size, so in-plane spacing is 1.0 (not mm); "
            "pass --pixel-spacing MM (Python: pixel_spacing_mm=...)",
            path.name,
        )
    spacing = float(px_mm or 1.0)
    return Volume(
        frames, (spacing, spacing, 1.0), modality="IVUS",
        acquisition=Acquisition(frame_rate_hz=rate),
    )  # fmt: skip


# ------------------------------------------------------------- frame folder
def natural_key(path: Path):
    """Sort key putting ``frame2`` before ``frame10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def frame_files(folder) -> list[Path]:
    """PNG/TIFF files directly in ``folder``, in natural order."""
    folder = Path(folder)
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FRAME_EXTENSIONS
    ]
    return sorted(files, key=natural_key)


def _frame_shape(path: Path) -> tuple[int, ...]:
    """Shape of an image file from its header only."""
    import imageio.v3 as iio

    return tuple(iio.improps(path).shape)


def _read_frame(path: Path) -> np.ndarray:
    """One frame as a 2-D array (colour -> luminance in the frame's dtype)."""
    import imageio.v3 as iio

    frame = np.asarray(iio.imread(path))
    if frame.ndim == 3:
        frame = _luminance(frame[..., :3].astype(np.float64), frame.dtype)
    return frame


def read_frame_folder(folder, *, pixel_spacing_mm: float | None = None) -> Volume:
    """A pullback from a folder of PNG/TIFF frames (natural order), opened lazily.

    Parameters
    ----------
    folder : folder with one image per frame.
    pixel_spacing_mm : in-plane pixel size in mm (image files carry none; 1.0 with a
        warning when not given).

    Returns
    -------
    Volume of modality ``IVUS``, array ``(frame, y, x)`` (dask).
    """
    import dask
    import dask.array as da

    folder = Path(folder)
    files = frame_files(folder)
    if not files:
        raise InputError(f"{folder} holds no PNG/TIFF frames")
    shapes = []
    for path in files:
        try:
            shapes.append(_frame_shape(path)[:2])
        except Exception as err:  # noqa: BLE001 -- image libraries raise many types
            raise InputError(f"{path.name} could not be read as an image ({err})") from err
    first = _read_frame(files[0])
    odd = [
        f"{p.name} ({s[1]}x{s[0]})" for p, s in zip(files, shapes, strict=True) if s != first.shape
    ]
    if odd:
        raise InputError(
            f"{folder}: frames differ in size from {files[0].name} "
            f"({first.shape[1]}x{first.shape[0]}): {', '.join(odd[:10])}"
            + (f" and {len(odd) - 10} more" if len(odd) > 10 else ""),
            "keep only the frames of one pullback in the folder",
        )
    frames = da.stack(
        [da.from_array(first, chunks=first.shape)]
        + [
            da.from_delayed(dask.delayed(_read_frame)(p), shape=first.shape, dtype=first.dtype)
            for p in files[1:]
        ]
    )
    if pixel_spacing_mm is None:
        log.warning(
            "%s: image frames carry no pixel size, so in-plane spacing is 1.0 (not mm); "
            "pass --pixel-spacing MM (Python: pixel_spacing_mm=...)",
            folder.name,
        )
    spacing = float(pixel_spacing_mm or 1.0)
    return Volume(frames, (spacing, spacing, 1.0), modality="IVUS")
