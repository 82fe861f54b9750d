"""How a file is read: the reading options every job and ``napari-calcium info`` share.

:class:`PullbackReading` (speed, frame rate, pixel size of an IVUS pullback whose file
does not say them) is part of the IVUS job's options; :class:`ReadingOptions` adds the
choice of a DICOM series and the resampling of an uneven stack, for ``info``.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_calcium.analyses.options import FLAG, FLOAT, TEXT, option


@dataclass(frozen=True)
class PullbackReading:
    """How to read a pullback whose file does not say its speed, frame rate or pixel size."""

    pullback_speed_mm_s: float | None = option(
        kind=FLOAT,
        unit="mm/s",
        minimum=0.0,
        exclusive=True,
        flag="--pullback-speed",
        metavar="MM_S",
        help="motorised pullback speed (mm/s); frame spacing = speed / frame rate",
        column_help="motorised pullback speed (mm/s)",
    )
    frame_rate_hz: float | None = option(
        kind=FLOAT,
        unit="frames/s",
        minimum=0.0,
        exclusive=True,
        flag="--frame-rate",
        metavar="FPS",
        help="frames per second (overrides the file's)",
        column_help="frames per second",
    )
    pixel_spacing_mm: float | None = option(
        kind=FLOAT,
        unit="mm",
        minimum=0.0,
        exclusive=True,
        flag="--pixel-spacing",
        metavar="MM",
        help="in-plane pixel size (mm; overrides the file's)",
        column_help="in-plane pixel size (mm)",
    )


@dataclass(frozen=True)
class ReadingOptions(PullbackReading):
    """Options of :func:`napari_calcium.io.read` for any image."""

    series: str | None = option(
        kind=TEXT,
        metavar="UID",
        column=False,
        help="SeriesInstanceUID to open from a folder with several series (default: the largest)",
    )
    resample: bool = option(
        False,
        kind=FLAG,
        column=False,
        help="resample a DICOM stack with missing slices, uneven spacing or gantry tilt "
        "onto a uniform grid (linear) instead of stopping",
    )
