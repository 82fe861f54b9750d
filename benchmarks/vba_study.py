"""The synthetic vertebrobasilar study end to end: does the adjusted odds ratio come back?

Accuracy, not speed. For each seed: ``napari-calcium sample vba-study`` writes N
patients (CT, pre- and post-contrast vessel-wall MRI, centreline, manifest with the
clinical covariates and the culprit plaques), ``napari-calcium batch`` analyses them,
and ``napari-calcium study-report`` builds the study's tables at the plaque level:
Table 2 (culprit vs non-culprit plaques) and Table 3 (univariable, Model 1 and
Model 2 logistic regression of the culprit plaque). The culprit labels were drawn
from a logistic model whose adjusted odds ratio of intimal-predominant calcification
is 4.9 (:mod:`napari_calcium.phantoms.study`); the script prints, per seed, the
Model 1 odds ratio with its 95 % CI and whether the CI holds 4.9, the agreement of
the measured pattern with the designed one (Cohen's kappa) and, as the baseline,
the same model fitted on the designed patterns (what an error-free reading of the
images would give; the ratio of the two odds ratios is the cost of the image
analysis). Every seed run is printed: a 95 % CI should miss the truth about one time
in twenty, so no seed is left out.

Because the CI of one study is a random interval, the script also fits the Model 1
on the designed patterns of ``--draws`` further draws (no images, fast) and prints
how often the CI holds 4.9 at this size: the figure the end-to-end hits are to be
read against (the Wald interval of a model with ~13 terms and ~5 events per term
covers a little less than 95 %, and its odds ratio is biased away from 1 — the
events-per-variable warning of the report). Seed 3 is the sample's default; seeds 11
and 12 were chosen before any result was seen, and every seed was run once.

Run from the repository root::

    .venv/bin/python benchmarks/vba_study.py [--subjects 80] [--seeds 3,11,12]
        [--workers 2] [--draws 300] [--out DIR [--resume]]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from pathlib import Path

TRUE_OR = 4.9
EXPOSURES = ("intimal_predominant", "iel_predominant", "n_spotty", "calcium_mean_hu")
PATTERN = {
    "intimal": "intimal-predominant",
    "iel": "IEL-predominant",
    "none": "absent/indistinguishable",
}


def models() -> list[str]:
    """The study's adjustment models as ``--model`` arguments."""
    from napari_calcium.phantoms.study import MODEL_1

    return [f"Model 1={','.join(MODEL_1)}", "Model 2=Model 1+stenosis_pct"]


def _cli(*args) -> None:
    from napari_calcium.cli import main

    text = " ".join(f'"{a}"' if " " in str(a) else str(a) for a in args)
    print(f"$ napari-calcium {text}", flush=True)
    status = main([str(a) for a in args])
    if status != 0:
        raise SystemExit(f"napari-calcium {args[0]} exited with {status}")


def designed_table(subjects: list[dict]):
    """One row per designed plaque of :func:`draw_vba_study` subjects: the patient's
    covariates, the designed pattern and the culprit label."""
    import pandas as pd

    from napari_calcium.phantoms.study import MODEL_1

    return pd.DataFrame(
        [
            {
                "subject_id": subject["subject_id"],
                "plaque_id": number,
                **{k: subject[k] for k in MODEL_1},
                "designed_pattern": PATTERN[plaque["pattern"]],
                "intimal_predominant": int(plaque["pattern"] == "intimal"),
                "culprit": plaque["culprit"],
            }
            for subject in subjects
            for number, plaque in enumerate(subject["plaques"], start=1)
        ]
    )


def model_1(table) -> dict:
    from napari_calcium.cohort import stats
    from napari_calcium.cohort.study import parse_models

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = stats.odds_ratio_table(
            table, "culprit", ["intimal_predominant"], parse_models(models()[:1])
        )
    return out[out["model"] == "Model 1"].iloc[0].to_dict()


def run_seed(seed: int, n_subjects: int, workers: int, root: Path, resume: bool) -> dict:
    import pandas as pd

    from napari_calcium.cohort import stats
    from napari_calcium.cohort.study_html import logistic_wide
    from napari_calcium.phantoms.study import draw_vba_study

    start = time.perf_counter()
    folder = root / f"seed{seed}" / "vba-study"
    if not (resume and (folder / "manifest.csv").is_file()):
        _cli("sample", "vba-study", folder.parent, "--subjects", n_subjects, "--seed", seed)
    resumed = ["--resume"] if resume else []
    _cli("batch", folder / "manifest.csv", "--out", folder / "A", "--workers", workers, *resumed)
    _cli(
        "study-report", folder / "A", "--unit", "subjects", "--group", "symptomatic",
        "--out", folder / "table1", "--title", "Table 1. Patients by symptomatic",
    )  # fmt: skip
    _cli(
        "study-report", folder / "A", "--unit", "plaques", "--group", "culprit",
        "--outcome", "culprit", "--exposures", ",".join(EXPOSURES),
        *[x for m in models() for x in ("--model", m)],
        "--out", folder / "report",
        "--title", "Tables 2-3. Culprit vs non-culprit plaques; logistic regression",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    measured = pd.read_csv(folder / "report" / "study_table.csv")
    logistic = pd.read_csv(folder / "report" / "study_logistic.csv")
    designed = designed_table(draw_vba_study(n_subjects, seed)["subjects"])  # as written
    both = designed.merge(
        measured[["subject_id", "plaque_id", "pattern"]],
        on=["subject_id", "plaque_id"],
        how="left",
    )
    kappa = stats.cohens_kappa(both["designed_pattern"], both["pattern"].fillna("not found"))
    fit = logistic[
        (logistic["exposure"] == "intimal_predominant") & (logistic["model"] == "Model 1")
    ].iloc[0]
    baseline = model_1(designed)
    print(logistic_wide(logistic).to_string(index=False))
    return {
        "seed": seed,
        "plaques": len(measured),
        "designed": len(designed),
        "culprits": int(measured["culprit"].sum()),
        "kappa": kappa["value"],
        "agree": kappa["observed_agreement"],
        "or": fit.get("odds_ratio", math.nan),
        "low": fit.get("ci_low", math.nan),
        "high": fit.get("ci_high", math.nan),
        "epv": fit["events_per_variable"],
        "holds": bool(fit["ci_low"] <= TRUE_OR <= fit["ci_high"]),
        "or_designed": baseline.get("odds_ratio", math.nan),
        "low_designed": baseline.get("ci_low", math.nan),
        "high_designed": baseline.get("ci_high", math.nan),
        "seconds": seconds,
        "report": folder / "report" / "study_report.html",
    }


def coverage(n_subjects: int, draws: int, first_seed: int = 1000) -> dict:
    """How often the Model 1 CI on the designed patterns holds the truth (no images)."""
    import numpy as np

    from napari_calcium.phantoms.study import draw_vba_study

    hits, ors = [], []
    for seed in range(first_seed, first_seed + draws):
        fit = model_1(designed_table(draw_vba_study(n_subjects, seed)["subjects"]))
        hits.append(fit.get("ci_low", math.nan) <= TRUE_OR <= fit.get("ci_high", math.nan))
        ors.append(fit.get("odds_ratio", math.nan))
    return {"draws": draws, "coverage": float(np.mean(hits)), "median_or": float(np.median(ors))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=80)
    parser.add_argument("--seeds", default="3,11,12")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--out", type=Path, help="keep the studies here (default: temporary)")
    parser.add_argument(
        "--resume", action="store_true", help="with --out: keep studies and results already made"
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="napari-calcium-vba-") as tmp:
        root = args.out or Path(tmp)
        rows = [run_seed(s, args.subjects, args.workers, root, args.resume) for s in seeds]
    print(f"\nsynthetic vertebrobasilar study, {args.subjects} patients per seed, true adjusted OR "
          f"of intimal-predominant calcification {TRUE_OR} (Model 1)")  # fmt: skip
    print(
        "seed  plaques  culprits  pattern kappa (agree)  Model 1 OR (95% CI)     EPV  holds 4.9"
        "  | designed patterns: OR (95% CI)   ratio  | seconds"
    )
    for r in rows:
        print(
            f"{r['seed']:>4}  {r['plaques']:>3}/{r['designed']:<3}  {r['culprits']:>8}  "
            f"{r['kappa']:.3f} ({r['agree']:.3f})        "
            f"{r['or']:5.2f} ({r['low']:.2f}-{r['high']:.2f})  {r['epv']:5.1f}  "
            f"{'yes' if r['holds'] else 'NO ':>9}  | "
            f"{r['or_designed']:5.2f} ({r['low_designed']:.2f}-{r['high_designed']:.2f})"
            f"          {r['or'] / r['or_designed']:.2f}  | {r['seconds']:.0f}"
        )
    held = sum(r["holds"] for r in rows)
    print(f"the CI holds the true OR in {held} of {len(rows)} seeds run (all shown)")
    if args.draws:
        c = coverage(args.subjects, args.draws)
        print(
            f"the same Model 1 on the designed patterns of {c['draws']} further draws of "
            f"{args.subjects} patients: CI holds {TRUE_OR} in {100 * c['coverage']:.1f} % "
            f"(binomial SE {100 * math.sqrt(c['coverage'] * (1 - c['coverage']) / c['draws']):.1f}"
            f" %), median OR {c['median_or']:.2f}"
        )
    if args.out:
        print(f"reports: {', '.join(str(r['report']) for r in rows)}")


if __name__ == "__main__":
    main()
