"""The small-vessel disease job: one patient's FLAIR (+ SWI ...) -> a per-patient record.

``Options`` declares the images, the reader's findings and the record's fields once
(the ``svd`` subcommand, its manifest columns and the small-vessel widget's defaults
come from it); :func:`run` reads the files and calls :func:`~napari_calcium.svd.run_svd`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_calcium.analyses.base import Job, Result, check_cancel, report
from napari_calcium.analyses.options import CHOICE, FLAG, INT, PATH, TEXT, option
from napari_calcium.errors import InputError

_POTTER = (0, 1, 2, 3, 4)
_FAZEKAS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Options:
    """Images, reader's findings and record fields of one small-vessel disease reading."""

    flair: Path | None = option(kind=PATH, required=True, help="FLAIR image (the reference grid)")
    swi: Path | None = option(kind=PATH, help="SWI or T2*-GRE image, for microbleeds")
    t1: Path | None = option(kind=PATH, help="T1 image, for finding the ventricles")
    ct: Path | None = option(
        kind=PATH,
        help="head CT (HU) in the same space: excludes calcifications",
        column_help="head CT in the same space: excludes calcifications",
    )
    wmh_labels: Path | None = option(
        kind=PATH,
        help="reader's WMH labels (replace the automatic ones)",
        column_help="reader's WMH labels",
    )
    ventricle_labels: Path | None = option(kind=PATH, help="ventricle labels on the FLAIR grid")
    brain_mask: Path | None = option(
        kind=PATH,
        help="brain mask on the FLAIR grid (images with skull)",
        column_help="brain mask on the FLAIR grid",
    )
    region_map: Path | None = option(kind=PATH, help="labels 1 lobar, 2 deep, 3 infratentorial")
    lacune_labels: Path | None = option(kind=PATH, help="reader's lacune labels on the FLAIR grid")
    lacune_points: str | None = option(
        kind=TEXT,
        unit="mm",
        help="reader's lacune centres in LPS mm: 'x,y,z;x,y,z'",
        column_help="reader's lacune centres, 'x,y,z;x,y,z' (mm)",
    )
    no_lacunes: bool = option(False, kind=FLAG, help="the reader found no lacune")
    epvs_bg: int | None = option(
        kind=CHOICE,
        choices=_POTTER,
        help="basal ganglia EPVS grade (Potter 0-4)",
        column_help="EPVS grade",
    )
    epvs_cso: int | None = option(
        kind=CHOICE,
        choices=_POTTER,
        help="centrum semiovale EPVS grade (0-4)",
        column_help="EPVS grade",
    )
    epvs_bg_count: int | None = option(
        kind=INT,
        minimum=0,
        help="basal ganglia EPVS count (-> Potter grade)",
        column_help="basal ganglia EPVS count",
    )
    epvs_cso_count: int | None = option(
        kind=INT,
        minimum=0,
        help="centrum semiovale EPVS count (-> grade)",
        column_help="centrum semiovale EPVS count",
    )
    fazekas_pv: int | None = option(
        kind=CHOICE,
        choices=_FAZEKAS,
        help="reader's periventricular Fazekas",
        column_help="reader's grade",
    )
    fazekas_deep: int | None = option(
        kind=CHOICE, choices=_FAZEKAS, help="reader's deep Fazekas", column_help="reader's grade"
    )
    calcification: list[Path] = option(
        kind=PATH,
        repeat=True,
        help="per-artery calcification grades: the JSON that 'intracranial --json' writes "
        "(one per artery, repeatable) or a JSON of grades",
        column_help="per-artery grades: JSON of the intracranial analysis",
    )
    grade: list[str] = option(
        kind=TEXT,
        repeat=True,
        column=False,
        metavar="ARTERY=GRADE",
        help="a per-artery calcification grade, e.g. MCA_left=moderate (repeatable)",
    )
    subject: str | None = option(
        kind=TEXT,
        column=False,
        help="study pseudonym for the record (never a patient ID)",
    )
    timepoint: str = option(
        "baseline",
        kind=TEXT,
        help="baseline (default) or follow-up",
    )
    resample: bool = option(
        False,
        kind=FLAG,
        help="resample images whose grid differs from the FLAIR's (same physical space assumed)",
        column_help="resample images onto the FLAIR grid",
    )


@dataclass
class SmallVesselJobResult(Result):
    """A per-patient small-vessel record (``data``), the JSON ``svd-cohort`` reads."""

    def save(self, json=None) -> None:
        """Write the record (:func:`~napari_calcium.svd.save_record`) when a path is given."""
        from napari_calcium.svd import save_record

        if json:
            save_record(self.data, json)


def lacune_points_mm(text: str | None) -> list[list[float]] | None:
    """Points ``'x,y,z;x,y,z'`` (mm) as lists of three numbers; ``None`` for none."""
    if not text:
        return None
    try:
        points = [[float(v) for v in p.split(",")] for p in text.split(";") if p.strip()]
    except ValueError as err:
        raise InputError(f"--lacune-points: {err}", "write points as 'x,y,z;x,y,z' in mm") from err
    if any(len(p) != 3 for p in points):
        raise InputError("--lacune-points needs three numbers per point", "write 'x,y,z;x,y,z'")
    return points


def grades_from(options: Options) -> tuple[dict[str, str], str]:
    """Per-artery calcification grades from the JSON files and ``ARTERY=GRADE`` items."""
    from napari_calcium.svd import calcification_from_json

    grades = {}
    for path in options.calcification:
        grades.update(calcification_from_json(path))
    for item in options.grade:
        artery, _, grade = item.partition("=")
        if not grade:
            raise InputError(
                f"--grade {item!r}: expected ARTERY=GRADE", "e.g. --grade MCA_left=moderate"
            )
        grades[artery.strip()] = grade.strip()
    source = ", ".join(Path(p).name for p in options.calcification) or "reader"
    if options.calcification and options.grade:
        source += " and reader"
    return grades, source


def run(options: Options, progress=None, cancel=None) -> SmallVesselJobResult:
    """Read the images, find and measure the markers, and build the per-patient record."""
    from napari_calcium.io import read
    from napari_calcium.svd import run_svd, set_calcification, summarise

    def image(path, modality="MR"):
        return None if path is None else read(path, modality=modality)

    points = lacune_points_mm(options.lacune_points)
    report(progress, "reading the images", 0.0)
    flair, swi = image(options.flair), image(options.swi)
    images = {
        "t1": image(options.t1),
        "ct": image(options.ct, "CT"),
        "wmh_labels": image(options.wmh_labels),
        "ventricle_labels": image(options.ventricle_labels),
        "brain": image(options.brain_mask),
        "region_map": image(options.region_map),
        "lacune_labels": image(options.lacune_labels),
    }
    check_cancel(cancel)
    report(progress, "finding the markers", 0.2)
    record = run_svd(
        flair,
        swi,
        **images,
        lacune_points_mm=points,
        no_lacunes=options.no_lacunes,
        epvs_basal_ganglia=options.epvs_bg,
        epvs_centrum_semiovale=options.epvs_cso,
        epvs_basal_ganglia_count=options.epvs_bg_count,
        epvs_centrum_semiovale_count=options.epvs_cso_count,
        fazekas_periventricular=options.fazekas_pv,
        fazekas_deep=options.fazekas_deep,
        resample=options.resample,
    )
    grades, source = grades_from(options)
    if grades:
        record = set_calcification(record, grades, source=source)
    record["subject_id"] = options.subject
    record["timepoint"] = options.timepoint
    report(progress, "done", 1.0)
    return SmallVesselJobResult(summarise(record))


JOB = Job(
    "svd",
    Options,
    run,
    help="small vessel disease markers of one patient (WMH, microbleeds, lacunes, EPVS, SVD score)",
    description="Measure WMH on FLAIR (volume, periventricular/deep split, suggested "
    "Fazekas), find microbleed candidates on SWI/T2*, check reader-marked lacunes, "
    "and write a per-patient record (JSON) that `svd-cohort` reads.",
    lesion_keys=("microbleeds.candidates",),
    subject_option="subject",
)
