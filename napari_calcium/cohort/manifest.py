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

Each analysis is a job of :mod:`napari_calcium.analyses`; its columns are made from
the job's ``Options`` (one column per option, named as the option), so a row means
the same as the command line :meth:`Subject.cli_args` gives, and runs the same job
(:meth:`Subject.job_options`).
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


def _column(spec) -> Column:
    """The manifest column of a job option (:class:`~napari_calcium.analyses.options.Spec`)."""
    return Column(
        spec.name,
        spec.kind,
        required=spec.required,
        flag=spec.option,
        minimum=spec.minimum,
        exclusive=spec.exclusive,
        choices=tuple(str(c) for c in spec.choices),
        check=spec.check,
        help=spec.described(spec.column_help),
    )


def _analysis(job) -> Analysis:
    """A job's manifest entry: one column per option of its ``Options`` that has one."""
    from napari_calcium.analyses.options import specs

    options = specs(job.options)
    subject = next((s.option for s in options if s.name == job.subject_option), None)
    columns = tuple(_column(s) for s in options if s.column)
    return Analysis(job.name, columns, job.lesion_keys, subject)


def _analyses() -> dict[str, Analysis]:
    from napari_calcium.analyses import JOBS

    return {name: _analysis(job) for name, job in JOBS.items()}


#: The analyses a manifest can run and their columns, made from each job's ``Options``
#: (:mod:`napari_calcium.analyses`): the one declaration of its inputs and settings.
ANALYSES: dict[str, Analysis] = _analyses()


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
    Column("bmi_kg_m2", FLOAT, minimum=0.0, exclusive=True, help="body-mass index (kg/m2)"),
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

    def job_options(self):
        """The row as the ``Options`` of its job (absent cells take the job's defaults;
        the subject id goes to the job's subject option, if it has one)."""
        from napari_calcium.analyses import JOBS
        from napari_calcium.analyses.options import from_values

        job = JOBS[self.analysis]
        values = dict(self.values)
        if job.subject_option:
            values[job.subject_option] = self.subject_id
        return from_values(job.options, values)

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
