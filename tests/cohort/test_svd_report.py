"""Cohort report: statistics equal scipy on the written table; missing fields named."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from napari_calcium.cohort.svd_report import build_report
from napari_calcium.errors import InputError
from napari_calcium.sample_cohorts import svd_cohort_records
from napari_calcium.svd import RECORD_FORMAT_VERSION, save_record

RELATED = [  # markers built to rise with the grade (sample_cohorts.svd_cohort_records)
    "wmh_volume_ml",
    "fazekas_periventricular",
    "fazekas_deep",
    "microbleed_count",
    "lacune_count",
    "epvs_basal_ganglia",
    "svd_score",
]
UNRELATED = "epvs_centrum_semiovale"  # drawn independently of the grade


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    records_dir = tmp_path_factory.mktemp("records")
    for record in svd_cohort_records(n_subjects=60, seed=0):
        save_record(record, records_dir / f"{record['subject_id']}_{record['timepoint']}.json")
    out_dir = tmp_path_factory.mktemp("report")
    return build_report(records_dir, out_dir), records_dir, out_dir


def test_cohort_table_is_tidy(report):
    out, _, out_dir = report
    table = pd.read_csv(out_dir / "svd_cohort_table.csv")
    assert len(table) == 60 + 30  # every second subject has a follow-up
    baseline = table[table.timepoint == "baseline"]
    assert baseline["subject_id"].nunique() == 60
    assert baseline["calcification_grade"].value_counts().to_dict() == {0: 20, 1: 20, 2: 20}
    # the three markers of the seed study, from each record's two Fazekas grades
    pv, deep = table["fazekas_periventricular"], table["fazekas_deep"]
    assert (table["fazekas_sum"] == pv + deep).all()
    assert (table["periventricular_lesion_grade"] == (pv - 1).clip(lower=0)).all()
    # the synthetic records' microbleeds carry no volume: 0 mm3 counted
    assert (table["microbleed_volume_mm3"] == 0.0).all()


def test_spearman_equals_scipy_on_the_written_table(report):
    _, _, out_dir = report
    table = pd.read_csv(out_dir / "svd_cohort_table.csv")
    stats = pd.read_csv(out_dir / "svd_cohort_stats.csv")
    baseline = table[table.timepoint == "baseline"]
    overall = stats[stats.analysis == "overall grade"].set_index("marker")
    for marker in [*RELATED, UNRELATED]:
        pair = baseline[[marker, "calcification_grade"]].dropna()
        ref = sps.spearmanr(pair[marker], pair["calcification_grade"])
        assert overall.loc[marker, "rho"] == pytest.approx(ref.statistic, abs=1e-9), marker
        assert overall.loc[marker, "p"] == pytest.approx(ref.pvalue, rel=1e-6), marker
        assert overall.loc[marker, "n"] == len(pair)
    for marker in RELATED:
        assert overall.loc[marker, "rho"] > 0 and overall.loc[marker, "p"] < 0.05, marker
        assert overall.loc[marker, "test_p"] < 0.05, marker  # Kruskal-Wallis
        assert overall.loc[marker, "ci_low"] > 0
    assert overall.loc[UNRELATED, "p"] > 0.05
    assert overall.loc[UNRELATED, "ci_low"] < 0 < overall.loc[UNRELATED, "ci_high"]
    # yes/no marker: chi-square and the odds ratio per grade step
    assert overall.loc["any_lacune", "test"] == "chi-square"
    assert overall.loc["any_lacune", "odds_ratio"] > 1


def test_by_artery_and_follow_up_change(report):
    out, _, _ = report
    stats = out["stats"]
    assert {"MCA_left grade", "MCA_right grade", "ICA_left grade"} <= set(stats.analysis)
    change = stats[stats.analysis == "follow-up change"].set_index("marker")
    # follow-up WMH growth factor exp(N(0.3 g, 0.1)) rises with the grade
    assert change.loc["wmh_volume_ml", "n"] == 30
    assert change.loc["wmh_volume_ml", "rho"] > 0 and change.loc["wmh_volume_ml", "p"] < 0.05
    changes = (
        out["table"]
        .pivot(index="subject_id", columns="timepoint", values="wmh_volume_ml")
        .dropna()
    )
    grades = (
        out["table"].query("timepoint == 'baseline'").set_index("subject_id").loc[changes.index]
    )
    ref = sps.spearmanr(changes["follow-up"] - changes["baseline"], grades["calcification_grade"])
    assert change.loc["wmh_volume_ml", "rho"] == pytest.approx(ref.statistic)


def test_groups_summaries(report):
    out, _, _ = report
    groups = out["groups"]
    wmh = groups[(groups.analysis == "overall grade") & (groups.marker == "wmh_volume_ml")]
    table = out["table"].query("timepoint == 'baseline'")
    for _, row in wmh.iterrows():
        values = table.loc[table.calcification_grade == row["level"], "wmh_volume_ml"]
        assert row["n"] == len(values) and row["median"] == pytest.approx(values.median())


def test_html_report_lists_markers_and_embeds_plots(report):
    _, _, out_dir = report
    text = (out_dir / "svd_cohort_report.html").read_text()
    assert text.count("data:image/png;base64,") >= 12
    for label in ("WMH volume (mL)", "Microbleeds (confirmed)", "Total SVD score (Staals 0-4)"):
        assert label in text
    assert "No missing fields." in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_report_renders_in_headless_chromium(report, tmp_path):
    _, _, out_dir = report
    png = tmp_path / "report.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={png}",
            "--window-size=1200,1600",
            (out_dir / "svd_cohort_report.html").resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[:2] == (1600, 1200)
    ink = np.mean(pixels.min(axis=-1) < 0.9)  # fraction of non-white pixels
    assert ink > 0.02, "the rendered report is blank"
    keep = os.environ.get("NAPARI_CALCIUM_SCREENSHOT_DIR")
    if keep:  # e.g. a CI artefact folder, to look at the rendered report
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "svd_cohort_report.png")


def _write(records, folder):
    folder.mkdir()
    for r in records:
        save_record(r, folder / f"{r['subject_id']}_{r['timepoint']}.json")


def test_missing_fields_are_named(tmp_path):
    records = [
        r for r in svd_cohort_records(n_subjects=12, seed=1) if r["timepoint"] == "baseline"
    ]
    records[0]["microbleeds"] = None  # no SWI
    records[1]["epvs_basal_ganglia_reader"] = None
    records[2]["calcification"] = {"grades": {}, "source": None}
    records[3]["microbleeds"]["candidates"].append(
        {"id": 99, "status": "candidate", "certainty": "possible", "region": None}
    )
    _write(records, tmp_path / "records")
    out = build_report(tmp_path / "records", tmp_path / "out")
    missing = out["missing"]
    named = {(r.subject_id, r.field) for r in missing.itertuples()}
    assert ("S001", "microbleed_count") in named
    assert ("S002", "epvs_basal_ganglia") in named
    assert ("S002", "svd_score") in named  # incomplete without the EPVS item
    assert ("S003", "calcification_grade") in named
    assert ("S004", "microbleed candidates not reviewed (1 pending)") in named
    assert len({s for s, _ in named}) == 4
    text = (tmp_path / "out" / "svd_cohort_report.html").read_text()
    assert "Missing fields" in text and "S003" in text and "calcification_grade" in text


def test_newer_record_in_the_cohort_is_refused(tmp_path):
    records = svd_cohort_records(n_subjects=3, seed=2)
    _write(records, tmp_path / "records")
    newer = dict(records[0], format_version=RECORD_FORMAT_VERSION + 1)
    (tmp_path / "records" / "S009_baseline.json").write_text(json.dumps(newer))
    with pytest.raises(
        InputError, match="S009_baseline.json was written in record format version 2"
    ):
        build_report(tmp_path / "records", tmp_path / "out")


def test_cli_svd_cohort_on_the_csv_table_gives_the_same_statistics(report, tmp_path, capsys):
    from napari_calcium.cli import main

    out, _, out_dir = report
    rc = main(["svd-cohort", str(out_dir / "svd_cohort_table.csv"), "--out", str(tmp_path)])
    assert rc == 0
    assert "60 subjects, 90 records" in capsys.readouterr().out
    again = pd.read_csv(tmp_path / "svd_cohort_stats.csv").set_index(["marker", "analysis"])["rho"]
    first = out["stats"].set_index(["marker", "analysis"])["rho"]
    pd.testing.assert_series_equal(first.sort_index(), again.sort_index(), check_exact=False)
    rc = main(["svd-cohort", str(tmp_path / "nothing"), "--out", str(tmp_path / "out2")])
    assert rc == 2 and "neither a folder of records nor a .csv" in capsys.readouterr().err
