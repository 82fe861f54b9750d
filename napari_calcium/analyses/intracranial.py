"""The intracranial job: calcification along an artery on CT (+ vessel-wall MRI plaque).

``Options`` declares the inputs and settings once; :func:`run` reads the files and
calls :func:`~napari_calcium.intracranial.run_intracranial`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_calcium.analyses.base import Job, Result, check_cancel, report
from napari_calcium.analyses.options import FLAG, FLOAT, PATH, TEXT, option
from napari_calcium.errors import InputError


@dataclass(frozen=True)
class Options:
    """Inputs and settings of an intracranial calcification and vessel-wall analysis."""

    ct: Path | None = option(
        kind=PATH,
        positional=True,
        required=True,
        help="non-contrast CT in HU (DICOM, NIfTI, NRRD, MHA)",
        column_help="non-contrast head CT in HU",
    )
    centerline: Path | None = option(
        kind=PATH,
        required=True,
        help="CSV of centreline points x, y, z (LPS mm), proximal first",
        column_help="centreline CSV of x, y, z (LPS mm)",
    )
    mri: Path | None = option(kind=PATH, help="black-blood vessel-wall MRI (pre-contrast)")
    mri_post: Path | None = option(kind=PATH, help="post-contrast vessel-wall MRI")
    transform: Path | None = option(
        kind=PATH,
        help="ITK transform file from a registration with the CT fixed and the MRI moving "
        "(maps CT points to MRI points); without it the MRI must share the CT's space",
        column_help="ITK transform, CT fixed and MRI moving",
    )
    reference_mm: float | None = option(
        kind=FLOAT,
        unit="mm",
        minimum=0.0,
        help="reference (normal) site in mm along the centreline for stenosis and "
        "remodeling; default: the proximal normal segment, chosen automatically",
        column_help="reference site along the centreline (mm)",
    )
    refine_centerline: bool = option(
        False,
        kind=FLAG,
        help="move the centreline to the lumen centre found on the MRI before measuring",
        column_help="move the centreline to the MRI lumen",
    )
    threshold_hu: float = option(130.0, kind=FLOAT, unit="HU", help="calcium threshold (HU)")
    region_radius_mm: float = option(
        4.5,
        kind=FLOAT,
        unit="mm",
        minimum=0.0,
        exclusive=True,
        help="vessel region radius (mm)",
    )
    step_mm: float = option(
        0.25,
        kind=FLOAT,
        unit="mm",
        minimum=0.0,
        exclusive=True,
        help="cross-section spacing (mm)",
    )
    artery: str = option(
        "artery",
        kind=TEXT,
        help="name of the artery measured; one of MCA_left, MCA_right, ICA_left, ICA_right, "
        "vertebral_left, vertebral_right, basilar lets 'svd --calcification' read its grade",
        column_help="name of the artery segment",
    )


@dataclass
class IntracranialJobResult(Result):
    """An intracranial result; ``full`` is :func:`run_intracranial`'s whole dict
    (with the label Volume and the wall measurement)."""

    full: dict | None = None

    def tables(self) -> dict[str, list[dict]]:
        from napari_calcium.intracranial import calcification_table

        return {"calcifications": calcification_table(self.full).to_dict("records")}

    def save(self, json=None, csv=None) -> None:
        """Write the per-calcification table (CSV) and the JSON, for the paths given."""
        from napari_calcium.intracranial import calcification_table
        from napari_calcium.io.atomic import atomic_write_text, write_json

        if csv:
            atomic_write_text(csv, calcification_table(self.full).to_csv(index=False))
        if json:
            write_json(json, self.data)

    def layers(self) -> dict:
        return {"calcifications": self.full["labels"]}


def read_transform(path):
    """An ITK transform file, or an :class:`InputError` saying what to give."""
    import SimpleITK as sitk

    try:
        return sitk.ReadTransform(str(path))
    except RuntimeError as err:
        raise InputError(
            f"{path} could not be read as an ITK transform",
            "give a .tfm/.txt/.h5 transform written by SimpleITK or ITK",
        ) from err


def run(options: Options, progress=None, cancel=None) -> IntracranialJobResult:
    """Read the CT, centreline (and MRI), measure; progress by stage, cancel between stages."""
    from napari_calcium.intracranial import read_centerline_csv, result_json, run_intracranial
    from napari_calcium.io import read

    transform = None if options.transform is None else read_transform(options.transform)
    if options.mri_post is not None and options.mri is None:
        raise InputError("--mri-post needs --mri (the pre-contrast scan)")

    def stage(name: str, fraction: float) -> None:
        check_cancel(cancel)
        report(progress, name, fraction)

    result = run_intracranial(
        read(options.ct, modality="CT"),
        read_centerline_csv(options.centerline),
        mri=None if options.mri is None else read(options.mri, modality="MR"),
        mri_post=None if options.mri_post is None else read(options.mri_post, modality="MR"),
        transform=transform,
        reference_mm=options.reference_mm,
        refine_centerline=options.refine_centerline,
        threshold_hu=options.threshold_hu,
        region_radius_mm=options.region_radius_mm,
        step_mm=options.step_mm,
        artery=options.artery,
        progress=stage,
    )
    return IntracranialJobResult(result_json(result), full=result)


JOB = Job(
    "intracranial",
    Options,
    run,
    help="calcification along an intracranial artery on CT (+ vessel-wall MRI plaque)",
    lesion_keys=("calcifications", "plaques"),
)
