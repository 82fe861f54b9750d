"""The cohort subcommands of the command line: ``batch``, ``svd-cohort``,
``study-report`` and ``agreement`` (many subjects at once; :mod:`napari_calcium.cli`
registers them with the others).
"""

from __future__ import annotations

import sys
from pathlib import Path

from napari_calcium.errors import InputError


def add_batch(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="run a manifest of subjects on Dask; write per-subject JSON and tidy tables",
        description="Run every row of MANIFEST.csv (subject_id, analysis, inputs, options) "
        "and write OUTDIR/subjects/<id>.json, subjects.csv, lesions.csv and errors.csv. "
        "Exit status 1 when some subjects failed.",
    )
    p.add_argument("manifest", type=Path, help="manifest CSV, one row per subject")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--scheduler", help="use a running Dask scheduler: tcp://HOST:PORT or its file")
    p.add_argument("--resume", action="store_true", help="skip subjects with unchanged results")
    p.add_argument(
        "--memory-limit", default="auto", help="per local worker, e.g. 2GiB (default: RAM/workers)"
    )
    p.set_defaults(func=run_batch)


def run_batch(args) -> int:
    from napari_calcium.cohort.batch import run

    if args.workers < 1:
        raise InputError(f"--workers {args.workers} must be at least 1")
    if args.memory_limit != "auto":
        from dask.utils import parse_bytes

        try:
            parse_bytes(args.memory_limit)
        except ValueError:
            raise InputError(
                f"--memory-limit {args.memory_limit!r} is not a size", "write e.g. 2GiB or 1500MB"
            ) from None
    result = run(
        args.manifest,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        memory_limit=args.memory_limit,
        progress=True,
    )
    total = len(result.subjects)
    print(
        f"{total} subjects: {len(result.computed)} computed, {len(result.skipped)} unchanged "
        f"(kept), {len(result.failed)} failed; tables in {args.out}",
        file=sys.stderr,
    )
    if result.failed:
        print(
            f"{len(result.failed)} of {total} subjects failed; see {args.out / 'errors.csv'}",
            file=sys.stderr,
        )
        return 1
    return 0


def add_svd_cohort(sub) -> None:
    p = sub.add_parser(
        "svd-cohort",
        help="compare small vessel disease markers by intracranial calcification grade over a cohort",
    )
    p.add_argument(
        "source", type=Path, help="folder of per-patient records (*.json) or a tidy CSV"
    )
    p.add_argument("--out", type=Path, required=True, help="report folder (CSV tables + HTML)")
    p.set_defaults(func=run_svd_cohort)


def run_svd_cohort(args) -> int:
    from napari_calcium.cohort.svd_report import build_report

    out = build_report(args.source, args.out)
    baseline = out["table"][out["table"]["timepoint"] == "baseline"]
    print(f"{baseline['subject_id'].nunique()} subjects, {len(out['table'])} records")
    if not out["missing"].empty:
        subjects = sorted(set(out["missing"]["subject_id"].astype(str)))
        print(
            f"missing fields in {len(subjects)} subject(s): {', '.join(subjects)} (see the report)"
        )
    for name, path in out["paths"].items():
        print(f"{name}: {path}")
    return 0


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def add_study_report(sub) -> None:
    p = sub.add_parser(
        "study-report",
        help="a study's tables from a cohort run: Table 1 by group, tests, correlations, "
        "univariable and adjusted logistic models, reader agreement (CSV + HTML)",
        description="Reads SOURCE (a batch output folder, a CSV, or a folder of small-vessel "
        "records) at one row per --unit and writes study_*.csv and study_report.html.",
    )
    p.add_argument("source", type=Path, help="batch output folder, CSV table or records folder")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument(
        "--unit", choices=["subjects", "plaques", "calcifications"], default="subjects",
        help="unit of analysis (rows of a batch run; default subjects)",
    )  # fmt: skip
    p.add_argument("--group", help="Table 1 grouping column (e.g. culprit, calcification_grade)")
    p.add_argument(
        "--variables", help="comma-separated variables (default: the unit's known ones)"
    )
    p.add_argument(
        "--kind", action="append", default=[], metavar="COLUMN=KIND",
        help="a variable's kind: continuous, count, ordinal, binary, categorical (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--compare-by", action="append", default=[], metavar="COLUMN",
        help="also compare the variables by this column (repeatable; e.g. per-artery grades)",
    )  # fmt: skip
    p.add_argument(
        "--correlate", help="Pearson and Spearman correlation of every variable with this"
    )
    p.add_argument("--outcome", help="yes/no outcome of the logistic models (e.g. culprit)")
    p.add_argument("--exposures", help="comma-separated exposures (default: the variables)")
    p.add_argument(
        "--model", action="append", default=[], metavar="NAME=COVARIATES",
        help='adjustment model, e.g. "Model 1=age_years,sex" "Model 2=Model 1+stenosis_pct"',
    )  # fmt: skip
    p.add_argument("--cluster", help="cluster-robust CIs by this column (e.g. subject_id)")
    p.add_argument("--reader-b", type=Path, help="a second reader's batch folder: agreement")
    p.add_argument("--clinical", type=Path, help="CSV of subject_id and clinical columns to add")
    p.add_argument(
        "--equal-variance",
        action="store_true",
        help="Student t-test / classical ANOVA (default Welch)",
    )
    p.add_argument("--title", help="report title")
    p.set_defaults(func=run_study_report)


def run_study_report(args) -> int:
    from napari_calcium.cohort.study import build_study_report, parse_models
    from napari_calcium.cohort.study_html import logistic_wide

    kinds = {}
    for text in args.kind:
        column, sep, kind = text.partition("=")
        if not sep:
            raise InputError(f"--kind {text!r} is not COLUMN=KIND", "e.g. --kind n_spotty=count")
        kinds[column.strip()] = kind.strip()
    from napari_calcium.cohort.stats import KINDS

    bad = {k: v for k, v in kinds.items() if v not in KINDS}
    if bad:
        raise InputError(f"unknown kind(s) {bad}", f"choose one of {', '.join(KINDS)}")
    models = parse_models(args.model)
    if models and not args.outcome:
        raise InputError(
            "--model needs --outcome", "name the yes/no outcome, e.g. --outcome culprit"
        )
    out = build_study_report(
        args.source,
        args.out,
        unit=args.unit,
        group=args.group,
        variables=_names(args.variables) or None,
        kinds=kinds,
        compare_by=args.compare_by,
        correlate=args.correlate,
        outcome=args.outcome,
        exposures=_names(args.exposures) or None,
        models=models,
        cluster=args.cluster,
        reader_b=args.reader_b,
        clinical=args.clinical,
        equal_var=args.equal_variance,
        title=args.title,
    )
    print(out["counted"])
    for warning in out["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    import pandas as pd

    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40
    ):
        shown = out["table1"].drop(columns=["choice", "note", "kind"])
        print(shown.to_string(index=False))
        if not out["logistic"].empty:
            print(logistic_wide(out["logistic"]).to_string(index=False))
        if not out["agreement"].empty:
            columns = ["measure", "statistic", "n_targets", "value", "ci_low", "ci_high", "band"]
            print(out["agreement"][columns].to_string(index=False))
    for name, path in out["paths"].items():
        print(f"{name}: {path}")
    return 0


def add_agreement(sub) -> None:
    p = sub.add_parser(
        "agreement",
        help="two readers' agreement: ICC per measurement, Cohen's kappa per class, consensus",
        description="Pairs the plaques, calcifications, wall cross-sections or subjects of two "
        "readings (batch output folders, intracranial --json results, or CSV tables) and "
        "writes agreement.csv, consensus.csv and unmatched.csv.",
    )
    p.add_argument("reading_a", type=Path, help="first reader's reading")
    p.add_argument("reading_b", type=Path, help="second reader's reading")
    p.add_argument(
        "--unit", choices=["plaques", "calcifications", "sections", "subjects"], default="plaques"
    )
    p.add_argument("--names", default="A,B", help="the readers' names (default A,B)")
    p.add_argument("--measures", help="comma-separated measures (default: the unit's known ones)")
    p.add_argument(
        "--tolerance-mm", type=float, default=2.0,
        help="largest distance along the centreline between matched targets (default 2 mm)",
    )  # fmt: skip
    p.add_argument("--icc-form", default="ICC(A,1)", help="ICC form (default ICC(A,1))")
    p.add_argument(
        "--out", type=Path, help="folder for agreement.csv, consensus.csv, unmatched.csv"
    )
    p.set_defaults(func=run_agreement)


def run_agreement(args) -> int:
    import pandas as pd

    from napari_calcium.cohort.agreement import compare_readings
    from napari_calcium.cohort.stats import ICC_FORMS
    from napari_calcium.io.atomic import atomic_write_text

    if args.icc_form not in ICC_FORMS:
        raise InputError(
            f"--icc-form {args.icc_form!r} is unknown", f"choose one of {', '.join(ICC_FORMS)}"
        )
    out = compare_readings(
        args.reading_a,
        args.reading_b,
        args.unit,
        _names(args.names),
        _names(args.measures) or None,
        args.tolerance_mm,
        args.icc_form,
    )
    print(
        f"{out['n_targets']} {args.unit} read by both, {len(out['unmatched'])} by one reader only"
    )
    columns = ["measure", "statistic", "n_targets", "value", "ci_low", "ci_high", "band"]
    columns += [c for c in ("mean_difference", "loa_low", "loa_high") if c in out["agreement"]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(out["agreement"][columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    notes = out["agreement"].get("note", pd.Series(dtype=object)).dropna()
    for measure, note in zip(out["agreement"].loc[notes.index, "measure"], notes, strict=True):
        print(f"note: {measure}: {note}", file=sys.stderr)
    if args.out is not None:
        for name in ("agreement", "consensus", "unmatched"):
            atomic_write_text(args.out / f"{name}.csv", out[name].to_csv(index=False))
        print(f"tables in {args.out}")
    return 0
