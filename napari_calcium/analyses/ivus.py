"""The IVUS job: a pullback -> borders, calcium arcs and depth, lesions, IVUS calcium score.

``Options`` declares the pullback, its calibration (shared with every reading of a
pullback, :class:`~napari_calcium.analyses.reading.PullbackReading`) and the
analysis settings once; :func:`run`
reads the file and calls :func:`~napari_calcium.vessel.ivus.run_ivus`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from napari_calcium.analyses.base import Job, Result, report
from napari_calcium.analyses.options import FLAG, PATH, option
from napari_calcium.analyses.reading import PullbackReading
from napari_calcium.errors import InputError


@dataclass(frozen=True)
class Options(PullbackReading):
    """Inputs and settings of an IVUS pullback analysis."""

    pullback: Path | None = option(
        kind=PATH,
        positional=True,
        required=True,
        help="pullback file (frames, y, x)",
        column_help="IVUS pullback (frames, y, x)",
    )
    gated: bool = option(
        False,
        kind=FLAG,
        help="measure end-diastolic frames only (image-based gating)",
        column_help="measure end-diastolic frames only",
    )
    all_frames: bool = option(
        False,
        kind=FLAG,
        help="also measure the frames outside the pullback start/stop frames the file states",
        column_help="also measure frames outside the file's pullback start/stop frames",
    )
    settings: Path | None = option(
        kind=PATH, metavar="JSON", help="JSON file of IVUS settings to change"
    )


@dataclass
class IvusJobResult(Result):
    """An IVUS result; ``analysis`` is the :class:`~napari_calcium.vessel.ivus.IvusAnalysis`."""

    analysis: object = None
    volume: object = None

    def tables(self) -> dict[str, list[dict]]:
        return {"frames": self.data["per_frame"]}

    def save(self, json=None, csv=None, contours=None, html=None) -> None:
        """Write the JSON, the per-frame table (CSV), the borders and the one-page HTML
        report (:func:`~napari_calcium.report.ivus_html`), for the paths given."""
        from napari_calcium.io.atomic import atomic_write_text, write_csv, write_json

        if json:
            write_json(json, self.data)
        if csv:
            write_csv(csv, self.data["per_frame"])
        if contours:
            write_json(contours, self.contours())
        if html:
            from napari_calcium.report import ivus_html

            atomic_write_text(html, ivus_html(self.data, self.volume, self.analysis))

    def contours(self) -> dict:
        """Lumen and EEM borders (:func:`~napari_calcium.vessel.ivus.contours_dict`)."""
        from napari_calcium.vessel.ivus import contours_dict

        return contours_dict(self.analysis)


def run(options: Options, progress=None, cancel=None) -> IvusJobResult:
    """Read the pullback and analyse it; progress per frame, cancel between frames."""
    from napari_calcium.analyses.base import check_cancel
    from napari_calcium.io import read
    from napari_calcium.vessel.ivus import run_ivus

    settings = None
    if options.settings is not None:
        try:
            settings = json.loads(Path(options.settings).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read settings {options.settings}: {err}") from err
    volume = read(
        options.pullback,
        modality="IVUS",
        pullback_speed_mm_s=options.pullback_speed_mm_s,
        frame_rate_hz=options.frame_rate_hz,
        pixel_spacing_mm=options.pixel_spacing_mm,
    )

    def frames(done: int, total: int) -> None:
        check_cancel(cancel)
        report(progress, f"frame {done}/{total}", done / max(total, 1))

    kept: list = []
    result = run_ivus(
        volume,
        settings,
        gated=options.gated,
        all_frames=options.all_frames,
        progress=frames,
        analysis_out=kept,
    )
    result["source"] = Path(options.pullback).name
    report(progress, "done", 1.0)
    return IvusJobResult(result, analysis=kept[0], volume=volume)


JOB = Job(
    "ivus",
    Options,
    run,
    help="IVUS pullback: lumen/EEM borders, calcium arcs and depth, lesions, IVUS calcium score",
    lesion_keys=("lesions",),
)
