"""Reading DICOM CT / MR: series folders, single files and enhanced multi-frame files.

Geometry comes from the headers and nothing else: slices are ordered by projecting
ImagePositionPatient on the slice normal (the cross product of the two
ImageOrientationPatient directions), and the slice spacing is the distance between
those projections -- never SliceThickness, which for overlapping reconstructions is
larger than the spacing. A stack that cannot be put on a uniform grid (a missing
slice, uneven spacing, gantry tilt) raises :class:`~napari_calcium.errors.InputError`
unless ``resample=True`` asks for linear resampling onto a uniform grid.

Stored values become physical values with RescaleSlope / RescaleIntercept (CT: HU).
Patient identity (name, ID, birth date) is never read into a Volume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.io.dicom_header import (
    IMAGE_SOP_CLASSES,
    float_value,
    is_dicom_file,
    is_ultrasound,
    read_header,
    text_value,
)
from napari_calcium.volume import Acquisition, Volume

log = logging.getLogger(__name__)

RESAMPLE_HINT = "pass resample=True (--resample) to resample linearly onto a uniform grid"
SERIES_HINT = "pass series_uid= (--series UID) to choose one, or pick_series='largest'"


# ------------------------------------------------------------------- series
@dataclass(frozen=True)
class SeriesInfo:
    """One DICOM series in a folder, described from headers only.

    Attributes
    ----------
    series_uid : SeriesInstanceUID.
    modality : DICOM Modality (``CT``, ``MR``, ``US`` ...).
    description : SeriesDescription (may be empty).
    n_instances : number of files.
    n_frames : number of 2-D images (files x NumberOfFrames).
    rows, columns : image size in pixels (of the first file).
    files : the files, in folder order.
    """

    series_uid: str
    modality: str
    description: str
    n_instances: int
    n_frames: int
    rows: int
    columns: int
    files: tuple[Path, ...] = field(repr=False, compare=False)

    @property
    def n_pixels(self) -> int:
        """Total number of pixels of the series (frames x rows x columns)."""
        return self.n_frames * self.rows * self.columns

    def summary(self) -> str:
        """One line: uid, modality, description, count and size."""
        return (
            f"{self.series_uid} [{self.modality}] {self.description or '(no description)'}: "
            f"{self.n_frames} image(s) of {self.rows}x{self.columns}"
        )


def list_series(folder) -> list[SeriesInfo]:
    """The DICOM image series in ``folder`` (searched recursively), largest first.

    Headers are read with ``stop_before_pixels``, so this is cheap. Files that are
    not DICOM, and DICOM objects without an image (DICOMDIR, reports), are skipped.

    Parameters
    ----------
    folder : a folder path.

    Returns
    -------
    list of SeriesInfo, sorted by number of pixels, largest first.
    """
    folder = Path(folder)
    groups: dict[str, list[tuple[Path, object]]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if hidden or not is_dicom_file(path):
            continue
        ds = read_header(path)
        if "Rows" not in ds:
            _check_not_truncated(path, ds)
            continue
        uid = str(ds.get("SeriesInstanceUID", "")) or _uid_substitute(ds)
        groups.setdefault(uid, []).append((path, ds))
    infos = []
    for uid, members in groups.items():
        first = members[0][1]
        infos.append(
            SeriesInfo(
                series_uid=uid,
                modality=str(first.get("Modality", "")),
                description=str(first.get("SeriesDescription", "")),
                n_instances=len(members),
                n_frames=sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in members),
                rows=int(first.Rows),
                columns=int(first.Columns),
                files=tuple(p for p, _ in members),
            )
        )
    return sorted(infos, key=lambda s: (-s.n_pixels, s.series_uid))


def _check_not_truncated(path: Path, ds) -> None:
    """An image SOP class without image attributes is a file cut short: say so."""
    sop = str(ds.get("SOPClassUID") or ds.file_meta.get("MediaStorageSOPClassUID", ""))
    if sop in IMAGE_SOP_CLASSES:
        raise InputError(
            f"{path.name} is incomplete: an image file whose header ends before the image "
            f"size ({path.stat().st_size} bytes)",
            "copy the file again from its source, or remove it from the folder",
        )


def _uid_substitute(ds) -> str:
    """A series key for files whose SeriesInstanceUID was removed (some anonymisers do)."""
    fields = ("SeriesNumber", "SeriesDescription", "FrameOfReferenceUID", "Rows", "Columns")
    return "(no SeriesInstanceUID) " + "|".join(str(ds.get(k, "")) for k in fields)


def select_series(
    series: list[SeriesInfo], series_uid: str | None, pick_series: str, folder
) -> SeriesInfo:
    """Choose one series: the one named by ``series_uid``, the only one, or the largest.

    Parameters
    ----------
    series : from :func:`list_series` (largest first).
    series_uid : SeriesInstanceUID to open, or ``None``.
    pick_series : ``"error"`` (several series raise :class:`InputError` listing them)
        or ``"largest"`` (open the one with most pixels and log which).
    folder : the folder, for messages.
    """
    if pick_series not in ("error", "largest"):
        raise ValueError(f"pick_series must be 'error' or 'largest', got {pick_series!r}")
    listing = "; ".join(s.summary() for s in series)
    if series_uid is not None:
        for s in series:
            if s.series_uid == series_uid:
                return s
        raise InputError(f"{folder} has no series {series_uid}; it holds: {listing}")
    if len(series) == 1:
        return series[0]
    if pick_series == "largest":
        log.warning(
            "%s holds %d series; opening the largest, %s (pass --series UID to choose)",
            folder,
            len(series),
            series[0].summary(),
        )
        return series[0]
    raise InputError(f"{folder} holds {len(series)} DICOM series: {listing}", SERIES_HINT)


# -------------------------------------------------------------- slice stacks
@dataclass
class _Slice:
    """One 2-D image placed in space, with a loader for its stored pixels."""

    name: str
    position: np.ndarray  # ImagePositionPatient (3,)
    orientation: np.ndarray  # ImageOrientationPatient (6,)
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing) = (y, x) mm
    slope: float
    intercept: float
    load: Callable[[], np.ndarray]


def _positions_problems(
    distances: np.ndarray,
    positions: np.ndarray,
    normal: np.ndarray,
    names: list[str],
    spacing_rel_tol: float,
    spacing_abs_tol_mm: float,
    tilt_tol_deg: float,
) -> tuple[list[str], float]:
    """What prevents a uniform grid (sorted slices); returns (problems, median step mm)."""
    steps = np.diff(distances)
    zero = np.flatnonzero(steps < spacing_abs_tol_mm)
    if zero.size:
        pairs = ", ".join(f"{names[i]} and {names[i + 1]}" for i in zero[:5])
        raise InputError(
            f"{zero.size} pair(s) of images share the same position ({pairs}): the series "
            "holds several volumes (e.g. phases or echoes) or duplicate files",
            "split the series, or remove the duplicate files",
        )
    median = float(np.median(steps))
    problems = []
    missing = np.flatnonzero(steps > 1.5 * median)
    for i in missing:
        problems.append(
            f"missing slice(s): gap of {steps[i]:.3f} mm between slices {i} and {i + 1} "
            f"({names[i]}, {names[i + 1]}), about {round(steps[i] / median) - 1} slice(s) "
            f"missing at the usual {median:.3f} mm step"
        )
    tol = max(spacing_abs_tol_mm, spacing_rel_tol * median)
    uneven = np.flatnonzero(np.abs(steps - median) > tol)
    uneven = np.setdiff1d(uneven, missing)
    if uneven.size:
        problems.append(
            f"non-uniform slice spacing: steps from {steps.min():.3f} to {steps.max():.3f} mm "
            f"(median {median:.3f} mm, tolerance {tol:.3f} mm) between slices "
            + ", ".join(f"{i}-{i + 1}" for i in uneven[:10])
        )
    displacement = positions[-1] - positions[0]
    along = float(displacement @ normal)
    across = float(np.linalg.norm(displacement - along * normal))
    tilt_deg = float(np.degrees(np.arctan2(across, abs(along))))
    if tilt_deg > tilt_tol_deg:
        problems.append(
            f"gantry tilt: the slice positions move {tilt_deg:.2f} degrees off the slice "
            f"normal ({across:.2f} mm sideways over {abs(along):.2f} mm)"
        )
    return problems, median


def _rescaled_dtype(slices: list[_Slice], stored: list[np.ndarray]) -> np.dtype:
    """int16 / int32 when slope and intercept are integers and the values fit, else float32
    (float64 in the rare case of integers beyond int32)."""
    integral = all(float(s.slope).is_integer() and float(s.intercept).is_integer() for s in slices)
    if not integral:
        return np.dtype(np.float32)
    lo = min(
        min(a.min() * s.slope, a.max() * s.slope) + s.intercept
        for s, a in zip(slices, stored, strict=True)
    )
    hi = max(
        max(a.min() * s.slope, a.max() * s.slope) + s.intercept
        for s, a in zip(slices, stored, strict=True)
    )
    for dtype in (np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dtype)
    return np.dtype(np.float64)


def _load(s: _Slice) -> np.ndarray:
    try:
        return s.load()
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 -- decoders raise many types on broken data
        raise InputError(
            f"the pixel data of {s.name} could not be read ({type(err).__name__}: {err})",
            "check that the file is complete; compressed files may need a decoder plugin "
            "(pylibjpeg, python-gdcm)",
        ) from err


def _stack(
    slices: list[_Slice],
    *,
    source: str,
    single_spacing_mm: float | None,
    resample: bool,
    spacing_rel_tol: float,
    spacing_abs_tol_mm: float,
    tilt_tol_deg: float,
) -> tuple[np.ndarray, tuple, tuple, np.ndarray, float | None, str | None]:
    """Order, check and load slices; returns (array, spacing, origin, direction, step, note)."""
    first = slices[0]
    for s in slices[1:]:
        if not np.allclose(s.orientation, first.orientation, atol=1e-4):
            raise InputError(
                f"{source}: {s.name} has another orientation than {first.name} "
                f"({np.round(s.orientation, 4).tolist()} vs {np.round(first.orientation, 4).tolist()})",
                "the folder mixes differently oriented images; " + SERIES_HINT,
            )
        if not np.allclose(s.pixel_spacing, first.pixel_spacing, atol=1e-4):
            raise InputError(
                f"{source}: {s.name} has pixel spacing {s.pixel_spacing} mm, "
                f"{first.name} has {first.pixel_spacing} mm",
                "the folder mixes different images; " + SERIES_HINT,
            )
    row = first.orientation[:3] / np.linalg.norm(first.orientation[:3])
    col = first.orientation[3:] - (first.orientation[3:] @ row) * row
    col /= np.linalg.norm(col)
    normal = np.cross(row, col)
    positions = np.array([s.position for s in slices], dtype=float)
    order = np.argsort(positions @ normal, kind="stable")
    slices = [slices[i] for i in order]
    positions = positions[order]
    distances = positions @ normal
    sy, sx = first.pixel_spacing
    problems: list[str] = []
    if len(slices) > 1:
        problems, step = _positions_problems(
            distances,
            positions,
            normal,
            [s.name for s in slices],
            spacing_rel_tol,
            spacing_abs_tol_mm,
            tilt_tol_deg,
        )
        if problems and not resample:
            raise InputError(f"{source}: " + "; ".join(problems), RESAMPLE_HINT)
        increment = float(distances[-1] - distances[0]) / (len(slices) - 1)
    else:
        step = increment = None
    stored = [_load(s) for s in slices]
    shapes = {a.shape for a in stored}
    if len(shapes) > 1:
        raise InputError(f"{source}: images of different sizes {sorted(shapes)}", SERIES_HINT)
    dtype = _rescaled_dtype(slices, stored)
    array = np.empty((len(slices), *stored[0].shape), dtype=dtype)
    for k, (s, a) in enumerate(zip(slices, stored, strict=True)):
        if dtype.kind == "f":
            array[k] = a.astype(np.float64) * s.slope + s.intercept
        else:
            array[k] = a.astype(np.int64) * int(s.slope) + int(s.intercept)
    del stored
    direction = np.column_stack([row, col, normal])
    origin = tuple(positions[0])
    note = None
    if problems:
        array = _resample_uniform(array, positions, row, col, normal, sx, sy, step)
        note = (
            f"resampled linearly onto a uniform {step:.4g} mm grid along the slice normal "
            f"because of: {'; '.join(problems)}"
        )
        log.warning("%s: %s", source, note)
        increment = step
    sz = increment or single_spacing_mm or 1.0
    return array, (sx, sy, sz), origin, direction, increment, note


def _resample_uniform(array, positions, row, col, normal, sx, sy, step) -> np.ndarray:
    """Linear resampling of sorted slices onto a uniform grid along ``normal`` (float32).

    The output grid starts at the first slice, has the slices' row/column directions
    and pixel size, and ``step`` mm between slices. For each output slice, SimpleITK
    resamples (linear interpolation) the input stack, seen in index space, at the
    continuous slice index where the output plane lies along the normal, shifted
    in-plane by the (interpolated) offset of tilted slices; points outside the input
    get the input's minimum (air for CT).
    """
    import SimpleITK as sitk

    rel = positions - positions[0]
    slice_index = np.arange(len(positions), dtype=float)
    distance = rel @ normal
    shift_i = rel @ row / sx  # in-plane offset of each slice, in columns
    shift_j = rel @ col / sy  # ... in rows
    nz = int(round(distance[-1] / step)) + 1
    rows, cols = array.shape[1:]
    source = sitk.GetImageFromArray(array.astype(np.float32, copy=False))  # index space
    out = np.empty((nz, rows, cols), dtype=np.float32)
    for k in range(nz):
        k_in = float(np.interp(k * step, distance, slice_index))
        offset = (
            -float(np.interp(k_in, slice_index, shift_i)),
            -float(np.interp(k_in, slice_index, shift_j)),
            k_in,
        )
        plane = sitk.Resample(
            source,
            (cols, rows, 1),
            sitk.TranslationTransform(3, offset),
            sitk.sitkLinear,
            (0.0, 0.0, 0.0),
            (1.0, 1.0, 1.0),
            (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
            float(array.min()),
            sitk.sitkFloat32,
        )
        out[k] = sitk.GetArrayViewFromImage(plane)[0]
    return out


def _acquisition(ds, increment: float | None, thickness=None, note=None) -> Acquisition:
    return Acquisition(
        kvp=float_value(ds.get("KVP")),
        slice_thickness_mm=float_value(
            thickness if thickness is not None else ds.get("SliceThickness")
        ),
        slice_increment_mm=increment,
        reconstruction_kernel=text_value(ds.get("ConvolutionKernel")),
        manufacturer=text_value(ds.get("Manufacturer")),
        series_description=text_value(ds.get("SeriesDescription")),
        resampling=note,
    )


def _modality(ds) -> tuple[str, str]:
    modality = str(ds.get("Modality", "OT"))
    if modality == "CT":
        return "CT", "HU"
    if modality == "MR":
        return "MR", "a.u."
    return "OT", "a.u."


def _slice_from_header(path: Path, ds) -> _Slice:
    import pydicom

    missing = [k for k in ("ImagePositionPatient", "ImageOrientationPatient") if k not in ds]
    if missing:
        raise InputError(
            f"{path.name} has no {' / '.join(missing)}, so it cannot be placed in space",
            "convert it with the scanner software, or read it as an IVUS frame stack "
            "(modality='IVUS')",
        )
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or (1.0, 1.0)
    return _Slice(
        name=path.name,
        position=np.array([float(v) for v in ds.ImagePositionPatient]),
        orientation=np.array([float(v) for v in ds.ImageOrientationPatient]),
        pixel_spacing=(float(spacing[0]), float(spacing[1])),
        slope=float_value(ds.get("RescaleSlope")) or 1.0,
        intercept=float_value(ds.get("RescaleIntercept")) or 0.0,
        load=lambda: pydicom.dcmread(path).pixel_array,
    )


def read_dicom_folder(
    folder,
    *,
    series_uid: str | None = None,
    pick_series: str = "error",
    resample: bool = False,
    spacing_rel_tol: float = 0.01,
    spacing_abs_tol_mm: float = 0.01,
    tilt_tol_deg: float = 0.05,
    pixel_spacing_mm: float | None = None,
) -> Volume:
    """Read one DICOM series from a folder into a Volume (LPS mm, array ``(z, y, x)``).

    Parameters
    ----------
    folder : folder with the series' files (searched recursively).
    series_uid, pick_series : which series when there are several, see :func:`select_series`.
    resample : resample a stack with missing slices, uneven spacing or gantry tilt
        linearly onto a uniform grid (recorded in ``acquisition.resampling``) instead
        of raising :class:`InputError`.
    spacing_rel_tol, spacing_abs_tol_mm : slice steps may differ from the median step
        by ``max(spacing_abs_tol_mm, spacing_rel_tol * median)`` (defaults 1 %, 0.01 mm).
    tilt_tol_deg : largest angle between the slice positions' line and the slice
        normal still taken as untilted (default 0.05 degrees).
    pixel_spacing_mm : in-plane pixel size (mm) of ultrasound frames, overriding the
        file's calibration; ignored for CT/MR.
    """
    folder = Path(folder)
    series = list_series(folder)
    if not series:
        raise InputError(f"{folder} holds no DICOM images", "choose the folder of one series")
    info = select_series(series, series_uid, pick_series, folder)
    tolerances = {
        "spacing_rel_tol": spacing_rel_tol,
        "spacing_abs_tol_mm": spacing_abs_tol_mm,
        "tilt_tol_deg": tilt_tol_deg,
    }
    if info.n_instances == 1:
        return read_dicom_file(
            info.files[0], resample=resample, pixel_spacing_mm=pixel_spacing_mm, **tolerances
        )
    headers = [read_header(p) for p in info.files]
    if info.n_frames > info.n_instances:
        raise InputError(
            f"series {info.series_uid} in {folder} has {info.n_instances} multi-frame files",
            "open one of the files on its own",
        )
    if all(is_ultrasound(ds) for ds in headers):
        from napari_calcium.io.ultrasound import read_ultrasound_files

        return read_ultrasound_files(list(info.files), headers, pixel_spacing_mm)
    slices = [_slice_from_header(p, ds) for p, ds in zip(info.files, headers, strict=True)]
    first = headers[0]
    array, spacing, origin, direction, increment, note = _stack(
        slices,
        source=str(folder),
        single_spacing_mm=None,
        resample=resample,
        **tolerances,
    )
    modality, units = _modality(first)
    return Volume(
        array,
        spacing,
        origin,
        direction,
        modality=modality,
        units=units,
        acquisition=_acquisition(first, increment, note=note),
    )


def _functional(ds, frame: int, name: str):
    """Item of functional group ``name`` for ``frame`` (per-frame first, then shared)."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    shared = ds.get("SharedFunctionalGroupsSequence") or []
    for groups in (per_frame[frame : frame + 1], shared[:1]):
        for item in groups:
            seq = item.get(name)
            if seq:
                return seq[0]
    return None


def _enhanced_slices(path: Path, ds) -> list[_Slice]:
    """One _Slice per frame of an enhanced multi-frame CT/MR (functional groups)."""
    import pydicom

    n = int(ds.NumberOfFrames)
    cache: dict[str, np.ndarray] = {}

    def frame_loader(i: int):
        def load():
            if "all" not in cache:
                cache["all"] = pydicom.dcmread(path).pixel_array.reshape(n, ds.Rows, ds.Columns)
            return cache["all"][i]

        return load

    slices = []
    for i in range(n):
        position = _functional(ds, i, "PlanePositionSequence")
        orientation = _functional(ds, i, "PlaneOrientationSequence")
        measures = _functional(ds, i, "PixelMeasuresSequence")
        if position is None or orientation is None or measures is None:
            raise InputError(
                f"{path.name}: frame {i + 1} has no plane position / orientation / pixel "
                "measures in its functional groups, so it cannot be placed in space"
            )
        rescale = _functional(ds, i, "PixelValueTransformationSequence")
        rescale = rescale if rescale is not None else ds
        slices.append(
            _Slice(
                name=f"{path.name} frame {i + 1}",
                position=np.array([float(v) for v in position.ImagePositionPatient]),
                orientation=np.array([float(v) for v in orientation.ImageOrientationPatient]),
                pixel_spacing=tuple(float(v) for v in measures.PixelSpacing),
                slope=float_value(rescale.get("RescaleSlope")) or 1.0,
                intercept=float_value(rescale.get("RescaleIntercept")) or 0.0,
                load=frame_loader(i),
            )
        )
    return slices


def read_dicom_file(
    path,
    *,
    resample: bool = False,
    spacing_rel_tol: float = 0.01,
    spacing_abs_tol_mm: float = 0.01,
    tilt_tol_deg: float = 0.05,
    pixel_spacing_mm: float | None = None,
) -> Volume:
    """Read one DICOM file: a single slice, an enhanced multi-frame CT/MR, or ultrasound.

    Enhanced files take their geometry and rescale from the Per-frame / Shared
    Functional Groups. A single slice gets SpacingBetweenSlices (else SliceThickness,
    else 1 mm) as its z spacing. Ultrasound goes to
    :func:`napari_calcium.io.ultrasound.read_ultrasound_file`. Parameters as
    :func:`read_dicom_folder`.
    """
    path = Path(path)
    ds = read_header(path)
    if "Rows" not in ds:
        _check_not_truncated(path, ds)
        raise InputError(f"{path.name} is a DICOM object without an image")
    if is_ultrasound(ds):
        from napari_calcium.io.ultrasound import read_ultrasound_file

        return read_ultrasound_file(path, pixel_spacing_mm=pixel_spacing_mm)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    thickness = None
    if "PerFrameFunctionalGroupsSequence" in ds:
        slices = _enhanced_slices(path, ds)
        measures = _functional(ds, 0, "PixelMeasuresSequence")
        thickness = measures.get("SliceThickness") if measures is not None else None
    elif n_frames == 1:
        slices = [_slice_from_header(path, ds)]
    else:
        from napari_calcium.io.ultrasound import read_ultrasound_file

        log.warning("%s: multi-frame without per-frame geometry; read as a frame stack", path.name)
        volume = read_ultrasound_file(path)
        modality, units = _modality(ds)
        sx, sy, _ = volume.spacing_mm
        sz = (
            float_value(ds.get("SpacingBetweenSlices"))
            or float_value(ds.get("SliceThickness"))
            or 1.0
        )
        return volume.replace(modality=modality, units=units, spacing_mm=(sx, sy, sz))
    single = (
        float_value(ds.get("SpacingBetweenSlices"))
        or float_value(thickness)
        or float_value(ds.get("SliceThickness"))
    )
    array, spacing, origin, direction, increment, note = _stack(
        slices,
        source=path.name,
        single_spacing_mm=single,
        resample=resample,
        spacing_rel_tol=spacing_rel_tol,
        spacing_abs_tol_mm=spacing_abs_tol_mm,
        tilt_tol_deg=tilt_tol_deg,
    )
    modality, units = _modality(ds)
    return Volume(
        array,
        spacing,
        origin,
        direction,
        modality=modality,
        units=units,
        acquisition=_acquisition(ds, increment, thickness, note),
    )


__all__ = [
    "SeriesInfo",
    "is_dicom_file",
    "list_series",
    "read_dicom_file",
    "read_dicom_folder",
    "select_series",
]
