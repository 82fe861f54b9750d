"""Cohort manifests: one CSV row per subject, validated before any work starts.

A manifest is a CSV file with a header. Every row names a ``subject_id``, the
``analysis`` to run and that analysis's inputs and options, in the columns that
:data:`ANALYSES` defines (one table for all analyses)::

    subject_id,analysis,ct,arteries,threshold_hu,flair,swi
    S001,coronary,S001/ct,S001/arteries.nii.gz,130,,
    S002,svd,,,,S002/flair.nii.gz,S002/swi.nii.gz

Empty cells mean "not given" (the analysis default applies). Relative paths resolve
against the manifest's folder. :func:`read_manifest` checks everything (unknown
analysis or column, missing required column or value, bad option value, missing
file, duplicate or unusable ``subject_id``) and raises one
:class:`~napari_calcium.errors.InputError` listing every problem with its line
number in the file, so a cohort never fails half-way on a typo.

Any row may also carry the clinical covariates and outcomes of a study
(:data:`CLINICAL_COLUMNS`: age, sex, risk factors, treatment, symptomatic, the
reader's culprit plaques, the reader; any other as ``clinical_<name>``); they are
checked too, never passed to the analysis, and carried into the batch tables.

Each analysis runs through its command-line subcommand (the same functions the
``napari-calcium`` CLI uses); a column maps to one argument of that subcommand
(:meth:`Subject.cli_args`).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from napari_calcium.errors import InputError

PATH, FLOAT, INT, CHOICE, FLAG, TEXT = "path", "float", "int", "choice", "flag", "text"
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}
#: subject ids become file names: letters, digits, ``.``, ``_``, ``-``; no leading dot.
SUBJECT_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Column:
    """One manifest column of an analysis.

    Parameters
    ----------
    name : column header (units in the name, e.g. ``threshold_hu``).
    kind : ``path`` (an input file or folder that must exist), ``float``, ``int``,
        ``choice`` (one of ``choices``), ``flag`` (true/false; passed as ``--flag``
        when true) or ``text``.
    required : the row must give a value.
    flag : the subcommand's option (``--threshold-hu``); ``None`` for a positional
        argument, passed in column order.
    minimum : smallest allowed number (``float`` / ``int``); ``exclusive`` makes it ``>``.
    choices : allowed values of a ``choice`` column.
    check : for a ``text`` column, a function that raises ``ValueError`` with the
        reason when a value is not valid.
    help : what the column means, for the docs and error messages.
    """

    name: str
    kind: str
    required: bool = False
    flag: str | None = ""
    minimum: float | None = None
    exclusive: bool = False
    choices: tuple[str, ...] = ()
    check: Callable[[str], None] | None = None
    help: str = ""

    @property
    def option(self) -> str | None:
        """The command-line option, ``--name-with-dashes`` unless given; None if positional."""
        if self.flag is None:
            return None
        return self.flag or "--" + self.name.replace("_", "-")

    def parse(self, text: str, base: Path):
        """Value of cell ``text``; raises ``ValueError`` with a reason when it is not valid."""
        if self.kind == PATH:
            path = Path(text).expanduser()
            path = path if path.is_absolute() else base / path
            if not path.exists():
                raise ValueError(f"{self.name} {text!r} not found (looked for {path})")
            return path.resolve()
        if self.kind == CHOICE:
            if text not in self.choices:
                raise ValueError(f"{self.name} {text!r} is not one of {', '.join(self.choices)}")
            return text
        if self.kind == TEXT:
            if self.check is not None:
                self.check(text)
            return text
        if self.kind == FLAG:
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(f"{self.name} {text!r} is not true/false")
            return text.lower() in _TRUE
        number = _number(self, text)
        if self.minimum is not None and (
            number < self.minimum or (self.exclusive and number == self.minimum)
        ):
            relation = ">" if self.exclusive else ">="
            raise ValueError(f"{self.name} {text!r} must be {relation} {self.minimum:g}")
        return number


def _number(column: Column, text: str):
    try:
        number = int(text) if column.kind == INT else float(text)
    except ValueError:
        kind = "a whole number" if column.kind == INT else "a number"
        raise ValueError(f"{column.name} {text!r} is not {kind}") from None
    if not math.isfinite(number):
        raise ValueError(f"{column.name} {text!r} is not a finite number")
    return number


@dataclass(frozen=True)
class Analysis:
    """An analysis a manifest row can ask for.

    Parameters
    ----------
    name : the ``analysis`` cell and the CLI subcommand that runs it.
    columns : its inputs and options.
    lesion_keys : keys of the result JSON holding a list with one dict per lesion /
        calcification (``a.b`` for key ``b`` inside ``a``); their items become rows of
        ``lesions.csv``.
    subject_option : option of the subcommand that records the subject id in its
        result, if it has one.
    """

    name: str
    columns: tuple[Column, ...]
    lesion_keys: tuple[str, ...] = ()
    subject_option: str | None = None

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _path(name, required=False, flag="", help=""):
    return Column(name, PATH, required=required, flag=flag, help=help)


def _positive(name, help="", flag=""):
    return Column(name, FLOAT, flag=flag, minimum=0.0, exclusive=True, help=help)


def _artery_names(text: str) -> None:
    from napari_calcium.calcium.coronary import artery_names_from_text

    artery_names_from_text(text)  # an InputError is a ValueError with the reason


#: The analyses a manifest can run and their columns.
ANALYSES: dict[str, Analysis] = {
    a.name: a
    for a in (
        Analysis(
            "coronary",
            (
                _path("ct", required=True, flag=None, help="non-contrast cardiac CT in HU"),
                _path("arteries", help="artery labels on the CT grid (1 LM, 2 LAD, 3 LCX, 4 RCA)"),
                Column(
                    "artery_names",
                    TEXT,
                    check=_artery_names,
                    help='names of labels 1, 2, ... (quoted: "LM,LAD,LCX,RCA,D1")',
                ),
                Column("threshold_hu", FLOAT, help="candidate threshold (HU, >=)"),
                Column("min_area_mm2", FLOAT, minimum=0.0, help="minimum slice-lesion area"),
                Column("min_pixels", INT, minimum=1, help="minimum pixels per slice-lesion"),
                Column("connectivity", CHOICE, choices=("4", "8"), help="in-plane connectivity"),
                Column("slice_mode", CHOICE, choices=("resample3mm", "native")),
                Column("kvp_adjusted", FLAG, help="kVp-specific threshold and weights"),
                Column("threshold_rule", CHOICE, choices=("fixed", "kvp_formula")),
                Column("category_scheme", CHOICE, choices=("rumberger", "mesa")),
                _positive("calibration_mg_per_hu", "mass calibration (mg HA/cm3 per HU)"),
                _path("calibration_rois", help="calibration ROIs: 1 HA insert, 2 water/resin"),
                _positive("calibration_rho", "HA density of the calibration insert (mg/cm3)"),
                Column("calibration_insert_hu", FLOAT, help="mean HU of the calibration insert"),
                _positive("calibration_insert_sd_hu", "HU SD in the calibration insert"),
                Column("radiomics", FLAG, help="PyRadiomics features per lesion"),
                Column(
                    "hu_check",
                    CHOICE,
                    choices=("air", "cropped", "off"),
                    help="HU check of the CT: air (default), cropped (a CT in HU cropped "
                    "inside the body), off",
                ),
                _path("heart", help="heart mask: lesions outside it are flagged, not counted"),
                Column(
                    "allow_contrast",
                    FLAG,
                    help="score a contrast CT (refused by default; not valid Agatston scores)",
                ),
                Column("count_implausible", FLAG, help="count lesions flagged as implausible"),
            ),
            lesion_keys=("lesions",),
        ),
        Analysis(
            "ivus",
            (
                _path("pullback", required=True, flag=None, help="IVUS pullback (frames, y, x)"),
                _positive(
                    "pullback_speed_mm_s",
                    "motorised pullback speed (mm/s)",
                    flag="--pullback-speed",
                ),
                _positive("frame_rate_hz", "frames per second", flag="--frame-rate"),
                _positive("pixel_spacing_mm", "in-plane pixel size (mm)", flag="--pixel-spacing"),
                Column("gated", FLAG, help="measure end-diastolic frames only"),
                Column(
                    "all_frames",
                    FLAG,
                    help="also measure frames outside the file's pullback start/stop frames",
                ),
                _path("settings", help="JSON file of IVUS settings to change"),
            ),
            lesion_keys=("lesions",),
        ),
        Analysis(
            "intracranial",
            (
                _path("ct", required=True, flag=None, help="non-contrast head CT in HU"),
                _path("centerline", required=True, help="centreline CSV of x, y, z (LPS mm)"),
                _path("mri", help="black-blood vessel-wall MRI (pre-contrast)"),
                _path("mri_post", help="post-contrast vessel-wall MRI"),
                _path("transform", help="ITK transform, CT fixed and MRI moving"),
                Column(
                    "reference_mm", FLOAT, minimum=0.0, help="reference site along the centreline"
                ),
                Column("refine_centerline", FLAG, help="move the centreline to the MRI lumen"),
                Column("threshold_hu", FLOAT, help="calcium threshold (HU)"),
                _positive("region_radius_mm", "vessel region radius (mm)"),
                _positive("step_mm", "cross-section spacing (mm)"),
                Column("artery", TEXT, help="name of the artery segment"),
            ),
            lesion_keys=("calcifications", "plaques"),
        ),
        Analysis(
            "svd",
            (
                _path("flair", required=True, help="FLAIR image (the reference grid)"),
                _path("swi", help="SWI or T2*-GRE image, for microbleeds"),
                _path("ct", help="head CT in the same space: excludes calcifications"),
                _path("wmh_labels", help="reader's WMH labels"),
                _path("ventricle_labels", help="ventricle labels on the FLAIR grid"),
                _path("brain_mask", help="brain mask on the FLAIR grid"),
                _path("region_map", help="labels 1 lobar, 2 deep, 3 infratentorial"),
                _path("lacune_labels", help="reader's lacune labels on the FLAIR grid"),
                Column("lacune_points", TEXT, help="reader's lacune centres, 'x,y,z;x,y,z' (mm)"),
                Column("no_lacunes", FLAG, help="the reader found no lacune"),
                Column("epvs_bg", CHOICE, choices=("0", "1", "2", "3", "4"), help="EPVS grade"),
                Column("epvs_cso", CHOICE, choices=("0", "1", "2", "3", "4"), help="EPVS grade"),
                Column("epvs_bg_count", INT, minimum=0, help="basal ganglia EPVS count"),
                Column("epvs_cso_count", INT, minimum=0, help="centrum semiovale EPVS count"),
                Column("fazekas_pv", CHOICE, choices=("0", "1", "2", "3"), help="reader's grade"),
                Column(
                    "fazekas_deep", CHOICE, choices=("0", "1", "2", "3"), help="reader's grade"
                ),
                _path(
                    "calcification", help="per-artery grades: JSON of the intracranial analysis"
                ),
                Column("timepoint", TEXT, help="baseline (default) or follow-up"),
                Column("resample", FLAG, help="resample images onto the FLAIR grid"),
            ),
            lesion_keys=("microbleeds.candidates",),
            subject_option="--subject",
        ),
        Analysis(
            "register",
            (
                _path("fixed", required=True, flag=None, help="fixed image (its grid is kept)"),
                _path("moving", required=True, flag=None, help="moving image"),
                Column("kind", CHOICE, choices=("rigid", "affine", "bspline")),
                Column("metric", CHOICE, choices=("mattes", "meansquares", "correlation")),
                Column("init", CHOICE, choices=("geometry", "moments", "landmarks")),
                _path("landmarks_fixed", help="CSV of x, y, z LPS mm points in FIXED"),
                _path("landmarks_moving", help="CSV of the same points in MOVING"),
                Column("fixed_modality", CHOICE, choices=("CT", "MR", "US")),
                Column("moving_modality", CHOICE, choices=("CT", "MR", "US")),
            ),
        ),
    )
}


def _positions_mm(text: str) -> None:
    for item in text.split(";"):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(
                f"culprit_mm {text!r}: {item!r} is not a number (write positions in mm "
                "along the centreline separated by ';', e.g. 11.5;26)"
            ) from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"culprit_mm {text!r}: {item!r} must be a distance >= 0 mm")


def _yes_no(name: str, help: str) -> Column:
    return Column(name, FLAG, help=help)


#: Clinical covariates and outcomes a row of any analysis may carry, as the reader
#: supplies them. They are checked like the other columns but never passed to the
#: analysis (nor part of its input fingerprint): the batch tables carry them
#: (``subjects.csv``; yes/no as 0/1) for the study report. Any other clinical column
#: is named ``clinical_<name>`` and carried as written.
CLINICAL_COLUMNS: tuple[Column, ...] = (
    Column("reader", TEXT, help="who read this row (two readers: two manifests)"),
    Column("age_years", FLOAT, minimum=0.0, help="age at imaging (years)"),
    Column("sex", CHOICE, choices=("F", "M"), help="F or M"),
    _positive("bmi_kg_m2", "body-mass index (kg/m2)"),
    _yes_no("smoking", "current or former smoker"),
    _yes_no("diabetes", "diabetes mellitus"),
    _yes_no("hypertension", "hypertension"),
    _yes_no("hyperlipidemia", "hyperlipidaemia"),
    _yes_no("coronary_heart_disease", "coronary heart disease"),
    Column("ldl_mmol_l", FLOAT, minimum=0.0, help="LDL cholesterol (mmol/L)"),
    Column("hs_crp_mg_l", FLOAT, minimum=0.0, help="high-sensitivity CRP (mg/L)"),
    _yes_no("statin", "statin treatment"),
    _yes_no("antiplatelet", "antiplatelet treatment"),
    _yes_no("symptomatic", "the patient had a stroke / TIA in the artery's territory"),
    Column(
        "culprit_mm",
        TEXT,
        check=_positions_mm,
        help="positions (mm along the centreline, ';'-separated) of the reader's culprit "
        "plaques; the plaque holding each is the culprit, the row's other plaques are not",
    ),
)
CLINICAL_PREFIX = "clinical_"
BASE_COLUMNS = ("subject_id", "analysis")
KNOWN_COLUMNS = (
    frozenset(BASE_COLUMNS)
    | {c.name for a in ANALYSES.values() for c in a.columns}
    | {c.name for c in CLINICAL_COLUMNS}
)


def is_clinical(name: str) -> bool:
    """A clinical column: one of :data:`CLINICAL_COLUMNS` or ``clinical_<name>``."""
    return name.startswith(CLINICAL_PREFIX) or any(c.name == name for c in CLINICAL_COLUMNS)


@dataclass(frozen=True)
class Subject:
    """One validated manifest row.

    Parameters
    ----------
    subject_id : the row's id (safe as a file name).
    analysis : key of :data:`ANALYSES`.
    values : column -> parsed value (absolute ``Path`` for inputs, numbers, ...),
        only the cells that were given.
    line : line number in the manifest file (the header is line 1).
    clinical : clinical column -> value (:data:`CLINICAL_COLUMNS`, yes/no as bool;
        ``clinical_*`` as written), only the cells that were given.
    """

    subject_id: str
    analysis: str
    values: dict = field(default_factory=dict)
    line: int = 0
    clinical: dict = field(default_factory=dict)

    @property
    def spec(self) -> Analysis:
        return ANALYSES[self.analysis]

    def inputs(self) -> dict[str, Path]:
        """The input files and folders, column -> absolute path."""
        return {
            c.name: self.values[c.name]
            for c in self.spec.columns
            if c.kind == PATH and c.name in self.values
        }

    def options(self) -> dict:
        """The options that are not files, column -> value (JSON-ready)."""
        return {
            c.name: self.values[c.name]
            for c in self.spec.columns
            if c.kind != PATH and c.name in self.values
        }

    def cli_args(self) -> list[str]:
        """Arguments of ``napari-calcium <analysis>`` for this row (without ``--json``)."""
        args = [self.analysis]
        for c in self.spec.columns:
            if c.option is None:
                args.append(str(self.values[c.name]))
        for c in self.spec.columns:
            if c.option is None or c.name not in self.values:
                continue
            value = self.values[c.name]
            if c.kind == FLAG:
                args += [c.option] if value else []
            else:  # --option=value: a value may start with '-'
                args.append(f"{c.option}={value}")
        if self.spec.subject_option:
            args.append(f"{self.spec.subject_option}={self.subject_id}")
        return args


def read_manifest(path) -> list[Subject]:
    """Read and validate a manifest; the subjects in file order.

    Parameters
    ----------
    path : the manifest CSV; relative input paths resolve against its folder.

    Raises
    ------
    InputError
        listing every problem found, each with its line number.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest {path} not found", "give the path of a CSV file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    problems = _check_header(header)
    if not rows:
        problems.append("the manifest has no subject rows")
    subjects: list[Subject] = []
    if all(name in header for name in BASE_COLUMNS):
        subjects = _parse_rows(header, rows, path.parent.resolve(), problems)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise InputError(
            f"manifest {path} has {len(problems)} problem(s):\n{listing}\n",
            "fix them and run again; no subject was run",
        )
    return subjects


def _check_header(header: list[str]) -> list[str]:
    problems = [f"missing column {name!r}" for name in BASE_COLUMNS if name not in header]
    known = KNOWN_COLUMNS
    problems += [
        f"unknown column {name!r} (known: {', '.join(sorted(known))})"
        for name in header
        if name not in known and not (name.startswith(CLINICAL_PREFIX) and len(name) > 9)
    ]
    seen = set()
    for name in header:
        if name in seen:
            problems.append(f"column {name!r} appears twice")
        seen.add(name)
    return problems


def _parse_rows(header, rows, base: Path, problems: list[str]) -> list[Subject]:
    subjects, first_line = [], {}
    missing_columns: dict[tuple[str, str], list[int]] = {}
    for line, row in rows:
        if len(row) > len(header):
            problems.append(f"line {line}: {len(row)} cells but the header has {len(header)}")
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        sid, name = cells["subject_id"], cells["analysis"]
        if not SUBJECT_ID.match(sid):
            problems.append(
                f"line {line}: subject_id {sid!r} must be letters, digits, '.', '_' or '-' "
                "(it names the result file)"
            )
        elif sid in first_line:
            problems.append(
                f"line {line}: subject_id {sid!r} already used on line {first_line[sid]}"
            )
        else:
            first_line[sid] = line
        analysis = ANALYSES.get(name)
        if analysis is None:
            problems.append(
                f"line {line}: unknown analysis {name!r} (choose one of: {', '.join(ANALYSES)})"
            )
            continue
        values = {}
        for column in analysis.columns:
            if column.name not in header:
                if column.required:
                    missing_columns.setdefault((column.name, name), []).append(line)
                continue
            text = cells[column.name]
            if not text:
                if column.required:
                    problems.append(f"line {line}: {column.name} is required for {name}")
                continue
            try:
                values[column.name] = column.parse(text, base)
            except ValueError as err:
                problems.append(f"line {line}: {err}")
        clinical = {}
        for column in CLINICAL_COLUMNS:
            if cells.get(column.name):
                try:
                    clinical[column.name] = column.parse(cells[column.name], base)
                except ValueError as err:
                    problems.append(f"line {line}: {err}")
        clinical |= {k: v for k, v in cells.items() if k.startswith(CLINICAL_PREFIX) and v}
        used = {c.name for c in analysis.columns} | set(BASE_COLUMNS)
        problems += [
            f"line {line}: column {col!r} does not apply to analysis {name!r}"
            for col, text in cells.items()
            if text and col not in used and col in KNOWN_COLUMNS and not is_clinical(col)
        ]
        subjects.append(Subject(sid, name, values, line, clinical))
    for (column, name), lines in missing_columns.items():
        problems.append(
            f"column {column!r} is required by analysis {name!r} (lines "
            f"{', '.join(map(str, lines))}) but the manifest has no such column"
        )
    return subjects


def write_manifest(rows: list[dict], path) -> Path:
    """Write ``rows`` (dicts of cells) as a manifest CSV at ``path``, atomically.

    The columns are ``subject_id``, ``analysis`` and then every other key in
    first-seen order; a missing key is an empty cell.
    """
    from napari_calcium.io.atomic import write_csv

    return write_csv(path, rows, BASE_COLUMNS)


# ------------------------------------------------------------ phantom cohorts
#: Calcium thresholds (HU) cycled over phantom subjects, so their scores differ.
PHANTOM_THRESHOLDS_HU = (130.0, 150.0, 165.0, 180.0)
#: Brain phantom variants (Fazekas grades, microbleeds, lacunes) cycled over SVD subjects.
BRAIN_VARIANTS = (
    {"fazekas_periventricular": 1, "fazekas_deep": 1, "n_microbleeds": 2, "lacunes": False},
    {"fazekas_periventricular": 3, "fazekas_deep": 3, "n_microbleeds": 6, "lacunes": True},
)


def _coronary_subject(outdir: Path, subject_id: str, k: int) -> dict:
    import numpy as np

    from napari_calcium.io import write
    from napari_calcium.phantoms.coronary import coronary_ct

    ct, arteries, _ = coronary_ct((3.0, 1.5)[k % 2], seed=k)
    calcium = arteries.array > 0  # the phantom labels exactly the lesion voxels
    brighter = np.where(calcium, ct.array + 20 * (k % 7), ct.array)
    write(ct.with_array(brighter), outdir / subject_id / "ct.nii.gz")
    cells = {"ct": f"{subject_id}/ct.nii.gz", "threshold_hu": PHANTOM_THRESHOLDS_HU[k // 2 % 4]}
    if k % 3:  # every third subject without artery labels: no headline score
        write(arteries, outdir / subject_id / "arteries.nii.gz")
        cells["arteries"] = f"{subject_id}/arteries.nii.gz"
    return cells


def _ivus_subject(outdir: Path, subject_id: str, k: int) -> dict:
    from napari_calcium.io import write
    from napari_calcium.phantoms.ivus import ivus_pullback

    calcium = {
        "kind": "calcium",
        "start_mm": 1.0,
        "length_mm": 1.0 + 0.5 * (k % 3),
        "start_angle_deg": 30.0 * (k % 4),
        "arc_deg": (90.0, 180.0, 240.0, 300.0, 360.0)[k % 5],
        "depth_fraction": 0.2,
        "reverberation": False,
    }
    pullback, _ = ivus_pullback(
        n_frames=60,
        size=128,
        pixel_spacing_mm=0.06,
        pullback_speed_mm_s=2.0,
        frame_rate_hz=30.0,
        lesions=[calcium],
        seed=k,
    )
    write(pullback, outdir / subject_id / "pullback.nii.gz")
    return {
        "pullback": f"{subject_id}/pullback.nii.gz",
        "pullback_speed_mm_s": 2.0,
        "frame_rate_hz": 30.0,
    }


def _register_subject(outdir: Path, subject_id: str, k: int) -> dict:
    """A coarse (3 mm) head CT and MRI, a different known rigid motion per subject."""
    from napari_calcium.io import write
    from napari_calcium.io.atomic import atomic_write_text
    from napari_calcium.phantoms.head import head_ct_mri

    ct, mri, truth = head_ct_mri(
        rotation_deg=(2.0 * (k % 4), -3.0, 4.0 + k % 3),
        translation_mm=(6.0, -2.0 * (k % 5), 4.0),
        ct_spacing_mm=(3.0, 3.0, 3.0),
        mri_spacing_mm=(3.0, 3.0, 3.0),
        supersample=1,
        artery_supersample=1,
        seed=k,
    )
    folder = outdir / subject_id
    write(ct, folder / "ct.nii.gz")
    write(mri, folder / "mri.nii.gz")
    for name, key in (
        ("landmarks_ct.csv", "landmarks_ct_mm"),
        ("landmarks_mri.csv", "landmarks_mri_mm"),
    ):
        rows = [",".join(f"{c:.4f}" for c in point) for point in truth[key]]
        atomic_write_text(folder / name, "\n".join(rows) + "\n")
    return {
        "fixed": f"{subject_id}/ct.nii.gz",
        "moving": f"{subject_id}/mri.nii.gz",
        "init": "moments",
        "landmarks_fixed": f"{subject_id}/landmarks_ct.csv",
        "landmarks_moving": f"{subject_id}/landmarks_mri.csv",
    }


def _intracranial_subject(outdir: Path, subject_id: str, k: int) -> dict:
    from napari_calcium.io import write
    from napari_calcium.io.atomic import atomic_write_text
    from napari_calcium.phantoms.vessel import vessel_ct

    spacing_mm = ((0.4, 0.4, 0.45), (0.5, 0.5, 0.5))[k % 2]
    ct, truth = vessel_ct(spacing_mm=spacing_mm, calcium_hu=300.0 + 60.0 * (k % 4))
    write(ct, outdir / subject_id / "ct.nii.gz")
    rows = ["x_mm,y_mm,z_mm"] + [",".join(f"{c:.4f}" for c in p) for p in truth["centerline_mm"]]
    atomic_write_text(outdir / subject_id / "centerline.csv", "\n".join(rows) + "\n")
    return {
        "ct": f"{subject_id}/ct.nii.gz",
        "centerline": f"{subject_id}/centerline.csv",
        "threshold_hu": (130.0, 200.0, 500.0)[k % 3],  # 500: above all calcium, none found
        "step_mm": 0.5,
    }


def _svd_subject(outdir: Path, subject_id: str, k: int) -> dict:
    """Brain variants are written once and shared; reader grades vary per subject."""
    from napari_calcium.io import write
    from napari_calcium.phantoms.brain import brain_flair_swi

    variant = k % len(BRAIN_VARIANTS)
    shared = f"brain-phantom-{variant}"
    if not (outdir / shared / "swi.nii.gz").is_file():
        flair, swi, _ = brain_flair_swi(seed=variant, **BRAIN_VARIANTS[variant])
        write(flair, outdir / shared / "flair.nii.gz")
        write(swi, outdir / shared / "swi.nii.gz")
    cells = {"flair": f"{shared}/flair.nii.gz", "epvs_bg": str(k // 2 % 5)}
    if k % 2 == 0:  # every other subject with its SWI (microbleeds)
        cells["swi"] = f"{shared}/swi.nii.gz"
    return cells


#: Analysis -> function(outdir, subject_id, k) writing the k-th phantom subject of
#: that analysis under ``outdir`` and returning its manifest cells (paths relative
#: to ``outdir``).
PHANTOM_SUBJECTS = {
    "coronary": _coronary_subject,
    "ivus": _ivus_subject,
    "intracranial": _intracranial_subject,
    "svd": _svd_subject,
    "register": _register_subject,
}


def write_phantom_cohort(outdir, n_subjects: int = 40, analyses=None) -> Path:
    """Write a cohort of phantom subjects and its manifest; returns the manifest path.

    Subject ``i`` gets analysis ``analyses[i % len(analyses)]`` and phantom
    parameters and options varied along the subjects of that analysis (slice
    thickness, calcium density, threshold, with or without optional inputs, brain
    variant ...), so results differ between subjects. Files go to
    ``outdir/<subject_id>/`` (brain phantoms, slow to make, to shared folders), the
    manifest to ``outdir/manifest.csv`` with paths relative to it.

    Parameters
    ----------
    outdir : folder to write into (created).
    n_subjects : number of subjects.
    analyses : analyses to cycle through; default every one with a phantom
        (:data:`PHANTOM_SUBJECTS`).
    """
    outdir = Path(outdir)
    analyses = list(analyses or PHANTOM_SUBJECTS)
    rows, counts = [], dict.fromkeys(analyses, 0)
    for index in range(n_subjects):
        analysis = analyses[index % len(analyses)]
        subject_id = f"{analysis}-{index:03d}"
        (outdir / subject_id).mkdir(parents=True, exist_ok=True)
        cells = PHANTOM_SUBJECTS[analysis](outdir, subject_id, counts[analysis])
        counts[analysis] += 1
        rows.append({"subject_id": subject_id, "analysis": analysis, **cells})
    return write_manifest(rows, outdir / "manifest.csv")
