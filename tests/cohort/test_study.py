"""Study report: Table 1, tests, correlations and models equal a second computation on
tables written here; culprit plaques from the reader's positions; the CLI end to end."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from napari_calcium.cli import main
from napari_calcium.cohort import study
from napari_calcium.errors import InputError


@pytest.fixture
def plaques():
    """Plaques of 120 patients with a confounder: x (intimal) is commoner where z = 1
    (old), and z raises the odds of the outcome. Stratum ORs of x are 4 in both strata
    (z=0: (20/10)/(10/20); z=1: (40/5)/(6/3)), the crude OR 5.75."""
    rows = []
    for x, z, events, non_events in [(1, 0, 20, 10), (0, 0, 10, 20), (1, 1, 40, 5), (0, 1, 6, 3)]:
        rows += [{"x": x, "z": z, "culprit": 1}] * events + [
            {"x": x, "z": z, "culprit": 0}
        ] * non_events
    table = pd.DataFrame(rows)
    rng = np.random.default_rng(2)
    table["stenosis_pct"] = rng.normal(40 + 10 * table["culprit"], 8)
    table["n_spotty"] = rng.poisson(1 + table["culprit"])
    table["location"] = np.where(rng.random(len(table)) < 0.5, "basilar", "vertebral")
    table["subject_id"] = [f"P{i:03d}" for i in range(len(table))]
    return table


def test_table_one_summaries_and_tests_by_hand(plaques):
    out = study.table_one(
        plaques, "culprit", ["stenosis_pct", "n_spotty", "x", "location"]
    ).set_index(["variable", "level"])
    yes, no = plaques[plaques.culprit == 1], plaques[plaques.culprit == 0]
    row = out.loc[("stenosis_pct", "")]
    assert row["test"] == "Welch t-test" and row["shown"] == "mean ± SD"
    assert row["p"] == pytest.approx(
        sps.ttest_ind(yes.stenosis_pct, no.stenosis_pct, equal_var=False).pvalue
    )
    assert (
        row[f"culprit = 1 (n={len(yes)})"]
        == f"{yes.stenosis_pct.mean():.3g} ± {yes.stenosis_pct.std():.3g}"
    )
    count = out.loc[("n_spotty", "")]
    assert count["test"] == "Mann-Whitney U" and count["shown"] == "median (IQR)"
    assert count["p"] == pytest.approx(sps.mannwhitneyu(no.n_spotty, yes.n_spotty).pvalue)
    binary = out.loc[("x", "1")]  # x = 1 in 60 of 76 events: 78.9 %
    assert binary[f"culprit = 1 (n={len(yes)})"] == "60 (78.9%)"
    assert binary["test"] == "chi-square"
    assert binary["p"] == pytest.approx(sps.chi2_contingency([[23, 15], [16, 60]]).pvalue)
    assert out.loc[("location", "vertebral"), "p"] is None or pd.isna(
        out.loc[("location", "vertebral"), "p"]
    )


def test_culprit_plaques_from_the_readers_positions():
    plaques = pd.DataFrame(
        {
            "subject_id": ["a", "a", "b", "c"],
            "start_mm": [5.0, 20.0, 5.0, 5.0],
            "end_mm": [15.0, 30.0, 15.0, 15.0],
        }
    )
    subjects = pd.DataFrame(
        {"subject_id": ["a", "b", "c"], "culprit_mm": ["26", np.nan, "15.6;40"]}
    )
    out, warnings = study.assign_culprits(plaques, subjects, tolerance_mm=1.0)
    assert out["culprit"].tolist() == [0, 1, 0, 1]  # c: 15.6 is within 1 mm of the end
    assert warnings == ["c: culprit at 40 mm lies in no plaque found"]


def test_models_expand_earlier_models():
    models = study.parse_models(["Model 1=age_years, sex", "Model 2=Model 1+stenosis_pct"])
    assert models == {
        "Model 1": ["age_years", "sex"],
        "Model 2": ["age_years", "sex", "stenosis_pct"],
    }
    with pytest.raises(InputError, match="NAME=COVARIATES"):
        study.parse_models(["age_years,sex"])


def test_correlations_are_pearson_and_spearman(plaques):
    out = study.correlation_table(plaques, "culprit", ["stenosis_pct", "location"]).iloc[0]
    assert out["pearson_r"] == pytest.approx(
        np.corrcoef(plaques.stenosis_pct, plaques.culprit)[0, 1]
    )
    assert out["spearman_rho"] == pytest.approx(
        sps.spearmanr(plaques.stenosis_pct, plaques.culprit).statistic
    )
    assert len(study.correlation_table(plaques, "culprit", ["location"])) == 0  # text: no r


def test_study_report_cli_adjusted_odds_ratio(plaques, tmp_path, capsys):
    source, second = tmp_path / "plaques.csv", tmp_path / "reader_b.csv"
    plaques = plaques.assign(start_mm=10.0, end_mm=20.0)  # one plaque per patient
    plaques.to_csv(source, index=False)
    reader_b = plaques.copy()
    reader_b.loc[::3, "stenosis_pct"] += 5.0  # reader B reads every third plaque 5 % higher
    reader_b.to_csv(second, index=False)
    status = main(
        [
            "study-report", str(source), "--out", str(tmp_path / "rep"), "--group", "culprit",
            "--variables", "stenosis_pct,n_spotty,x,z,location", "--outcome", "culprit",
            "--exposures", "x", "--model", "Model 1=z", "--model", "Model 2=Model 1+stenosis_pct",
            "--unit", "plaques", "--reader-b", str(second),
        ]
    )  # fmt: skip
    assert status == 0
    agreement = pd.read_csv(tmp_path / "rep" / "study_agreement.csv").set_index("measure")
    assert agreement.loc["stenosis_pct", "n_targets"] == len(plaques)
    assert agreement.loc["stenosis_pct", "mean_difference"] == pytest.approx(
        5.0 * len(plaques[::3]) / len(plaques)
    )
    assert 0.5 < agreement.loc["stenosis_pct", "value"] < 1.0
    consensus = pd.read_csv(tmp_path / "rep" / "study_consensus.csv")
    assert not consensus["needs_consensus"].any()  # no class differs
    logistic = pd.read_csv(tmp_path / "rep" / "study_logistic.csv").set_index("model")
    assert logistic.loc["univariable", "odds_ratio"] == pytest.approx(5.75, rel=1e-5)
    assert logistic.loc["Model 1", "odds_ratio"] == pytest.approx(4.0, rel=1e-5)  # the stratum OR
    # Model 2 adds stenosis, which differs by outcome: the x OR moves, and is reported
    assert logistic.loc["Model 2", "covariates"] == "z, stenosis_pct"
    page = (tmp_path / "rep" / "study_report.html").read_text()
    assert "4.00 (" in page and "forest plot Model 1" in page and "Table 1" in page
    printed = capsys.readouterr().out
    assert "Model 1 OR (95% CI)" in printed and "4.00 (" in printed


def test_study_report_refuses_unknown_columns(plaques, tmp_path, capsys):
    source = tmp_path / "plaques.csv"
    plaques.to_csv(source, index=False)
    status = main(["study-report", str(source), "--out", str(tmp_path / "r"), "--outcome", "culprit",
                   "--model", "Model 1=z,agee"])  # fmt: skip
    assert status == 2
    assert "error: no column agee for the model 'Model 1'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_small_vessel_study_tables_with_clinical_columns(tmp_path):
    """The small-vessel study's Table 1 by grade, Table 3 by calcification location
    (MCA, basilar, ICA: the worse side) and correlations, from a folder of records and
    from a batch run's subjects (same rows), with the clinical columns of a CSV."""
    from napari_calcium.sample_cohorts import svd_cohort_records
    from napari_calcium.svd import save_record

    records, batch = tmp_path / "records", tmp_path / "batch"
    rng = np.random.default_rng(4)
    clinical, subjects = [], []
    (batch / "subjects").mkdir(parents=True)
    for record in svd_cohort_records(n_subjects=30, seed=1, follow_up_every=100):
        save_record(record, records / f"{record['subject_id']}_{record['timepoint']}.json")
        if record["timepoint"] != "baseline":
            continue
        sid = record["subject_id"]
        clinical.append(
            {"subject_id": sid, "age_years": float(rng.normal(68, 7)),
             "hypertension": int(rng.random() < 0.5)}
        )  # fmt: skip
        saved = json.loads(save_record(record, tmp_path / "saved.json").read_text())
        (batch / "subjects" / f"{sid}.json").write_text(
            json.dumps({"subject_id": sid, "analysis": "svd", "status": "ok", "result": saved})
        )
        subjects.append({"subject_id": sid, "analysis": "svd", "status": "ok", **clinical[-1]})
    pd.DataFrame(clinical).to_csv(tmp_path / "clinical.csv", index=False)
    pd.DataFrame(subjects).to_csv(batch / "subjects.csv", index=False)
    variables = ["age_years", "hypertension", "wmh_volume_ml", "microbleed_count", "lacune_count"]
    out = study.build_study_report(
        records,
        tmp_path / "rep",
        group="calcification_grade",
        variables=variables,
        compare_by=["MCA_grade", "basilar_grade", "ICA_grade"],
        correlate="calcification_grade",
        clinical=tmp_path / "clinical.csv",
    )
    table = out["table"]
    assert len(table) == 30 and table["age_years"].notna().all()
    worse = np.maximum(table["MCA_left_grade"], table["MCA_right_grade"])
    assert (table["MCA_grade"] == worse).all()
    table1 = out["table1"].set_index("variable")
    assert set(table1.loc[["age_years", "wmh_volume_ml"], "test"]) <= {
        "Welch ANOVA",
        "Kruskal-Wallis",
    }
    by_grade = [table.loc[table.calcification_grade == g, "age_years"] for g in (0, 1, 2)]
    if table1.loc["age_years", "test"] == "Welch ANOVA":
        expected = sps.f_oneway(*by_grade, equal_var=False).pvalue
    else:
        expected = sps.kruskal(*by_grade).pvalue
    assert table1.loc["age_years", "p"] == pytest.approx(expected)
    corr = out["correlations"].set_index("variable").loc["wmh_volume_ml"]
    assert corr["spearman_rho"] == pytest.approx(
        sps.spearmanr(table.wmh_volume_ml, table.calcification_grade).statistic
    )
    assert corr["pearson_r"] == pytest.approx(
        sps.pearsonr(table.wmh_volume_ml, table.calcification_grade).statistic
    )
    mca = out["by"]["MCA_grade"].set_index("variable").loc["lacune_count"]
    groups = [table.loc[table.MCA_grade == g, "lacune_count"] for g in sorted(set(worse))]
    assert mca["test"] == "Kruskal-Wallis"
    assert mca["p"] == pytest.approx(sps.kruskal(*groups).pvalue)
    for location in ("MCA", "basilar", "ICA"):
        assert (tmp_path / "rep" / f"study_by_{location}_grade.csv").is_file()
    from_batch, _ = study.load_study_table(batch, "subjects")
    columns = ["subject_id", "calcification_grade", "MCA_grade", "ICA_grade", *variables]
    pd.testing.assert_frame_equal(
        from_batch[columns].sort_values("subject_id").reset_index(drop=True),
        table[columns].sort_values("subject_id").reset_index(drop=True),
        check_dtype=False,
    )


def test_synthetic_study_draw_has_the_designed_truth():
    from napari_calcium.phantoms.study import CULPRIT_MODEL, draw_vba_study

    a, b = draw_vba_study(40, seed=5), draw_vba_study(40, seed=5)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # seeded
    assert a["truth"]["true_adjusted_or_intimal"] == pytest.approx(4.9)
    assert math.log(a["truth"]["true_adjusted_or_intimal"]) == CULPRIT_MODEL["intimal_predominant"]
    for subject in a["subjects"]:
        assert [p["centre_mm"] for p in subject["plaques"] if p["culprit"]] == subject[
            "culprit_mm"
        ]
        for plaque in subject["plaques"]:
            if plaque["pattern"] == "none":  # spots only beside a main calcification
                assert plaque["n_spotty"] == 0


def test_synthetic_study_end_to_end_through_batch(tmp_path):
    """sample vba-study -> batch -> study-report on one patient (an IEL-predominant
    plaque and an intimal-predominant culprit): plaque rows with the manifest's
    covariates, and culprit labels, patterns and spotty counts equal to the design.
    The whole study (80 patients, the adjusted odds ratio) is benchmarks/vba_study.py."""
    assert main(["sample", "vba-study", str(tmp_path), "--subjects", "1", "--seed", "21"]) == 0
    folder = tmp_path / "vba-study"
    truth = json.loads((folder / "truth.json").read_text())
    batch = ["batch", str(folder / "manifest.csv"), "--out", str(tmp_path / "A"), "--workers", "1"]
    assert main(batch) == 0
    status = main(
        ["study-report", str(tmp_path / "A"), "--unit", "plaques", "--group", "culprit",
         "--out", str(tmp_path / "rep")]
    )  # fmt: skip
    assert status == 0
    table = pd.read_csv(tmp_path / "rep" / "study_table.csv")
    (subject,) = truth["subjects"]
    designed = [(p["culprit"], p["pattern"], p["n_spotty"]) for p in subject["plaques"]]
    assert designed == [(0, "iel", 1), (1, "intimal", 1)]
    names = {"intimal": "intimal-predominant", "iel": "IEL-predominant"}
    found = list(zip(table["culprit"], table["pattern"], table["n_spotty"], strict=True))
    assert found == [(c, names[p], n) for c, p, n in designed]  # both plaques, in order
    manifest = pd.read_csv(folder / "manifest.csv").set_index("subject_id")
    assert (table["age_years"] == manifest.loc[subject["subject_id"], "age_years"]).all()
    assert (folder / "manifest_reader_B.csv").is_file()
