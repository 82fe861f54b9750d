"""Two-reader agreement: targets paired by position, ICC and kappa by hand arithmetic,
limits of agreement, the consensus table and the CLI."""

import numpy as np
import pandas as pd
import pytest

from napari_calcium.cli import main
from napari_calcium.cohort import agreement

STENOSIS_A = [35.0, 52.0, 20.0, 41.0, 63.0, 28.0]
STENOSIS_B = [37.0, 49.0, 24.0, 40.0, 60.0, 33.0]
PATTERN_A = ["intimal", "IEL", "intimal", "intimal", "IEL", "intimal"]
PATTERN_B = ["intimal", "IEL", "IEL", "intimal", "IEL", "intimal"]


def _readings(tmp_path):
    base = pd.DataFrame(
        {
            "subject_id": ["s1", "s1", "s2", "s3", "s3", "s4"],
            "middle_mm": [10.0, 25.0, 12.0, 9.0, 22.0, 14.0],
        }
    )
    a = base.assign(stenosis_pct=STENOSIS_A, pattern=PATTERN_A)
    b = base.assign(stenosis_pct=STENOSIS_B, pattern=PATTERN_B)
    b["middle_mm"] += [0.5, -0.75, 1.0, 0.25, 0.0, -1.5]  # the readers' sites differ a little
    extra = pd.DataFrame(
        {"subject_id": ["s2"], "middle_mm": [30.0], "stenosis_pct": [15.0], "pattern": ["IEL"]}
    )
    b = pd.concat([b, extra], ignore_index=True)  # a plaque only reader B found
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    return tmp_path / "a.csv", tmp_path / "b.csv"


def test_pairing_icc_kappa_and_limits_by_hand(tmp_path):
    a, b = _readings(tmp_path)
    out = agreement.compare_readings(a, b, "plaques", measures=["stenosis_pct", "pattern"])
    assert out["n_targets"] == 6
    assert out["unmatched"][["subject_id", "reader", "position_mm"]].values.tolist() == [
        ["s2", "B", 30.0]
    ]
    table = out["agreement"].set_index("measure")
    # ICC(A,1) from the two-way ANOVA mean squares (McGraw & Wong 1996)
    x = np.array([STENOSIS_A, STENOSIS_B]).T
    n, k = x.shape
    grand = x.mean()
    msr = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    mse = ((x - x.mean(axis=1, keepdims=True) - x.mean(axis=0) + grand) ** 2).sum() / (
        (n - 1) * (k - 1)
    )
    icc = (msr - mse) / (msr + (k - 1) * mse + k / n * (msc - mse))
    assert table.loc["stenosis_pct", "value"] == pytest.approx(icc)
    assert table.loc["stenosis_pct", "band"] == "excellent"
    d = np.array(STENOSIS_B) - np.array(STENOSIS_A)
    assert table.loc["stenosis_pct", "mean_difference"] == pytest.approx(d.mean())
    assert table.loc["stenosis_pct", "loa_high"] == pytest.approx(d.mean() + 1.96 * d.std(ddof=1))
    # kappa: 5 of 6 agree; A: 4 intimal / 2 IEL, B: 3 / 3 -> pe = (4*3 + 2*3) / 36 = 0.5
    assert table.loc["pattern", "observed_agreement"] == pytest.approx(5 / 6)
    assert table.loc["pattern", "value"] == pytest.approx((5 / 6 - 0.5) / (1 - 0.5))


def test_consensus_is_the_mean_or_the_agreed_class(tmp_path):
    a, b = _readings(tmp_path)
    out = agreement.compare_readings(a, b, "plaques", measures=["stenosis_pct", "pattern"])
    consensus = out["consensus"]
    first = consensus[(consensus.measure == "stenosis_pct")].iloc[0]
    assert first["consensus"] == pytest.approx((35.0 + 37.0) / 2) and not first["needs_consensus"]
    pattern = consensus[consensus.measure == "pattern"]
    assert pattern["needs_consensus"].sum() == 1
    differing = pattern[pattern["needs_consensus"]].iloc[0]
    assert (differing["A"], differing["B"]) == ("intimal", "IEL") and pd.isna(
        differing["consensus"]
    )


def test_agreement_cli_writes_tables_and_refuses_disjoint_readings(tmp_path, capsys):
    a, b = _readings(tmp_path)
    status = main(
        [
            "agreement",
            str(a),
            str(b),
            "--measures",
            "stenosis_pct,pattern",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "6 plaques read by both, 1 by one reader only" in printed and "ICC(A,1)" in printed
    assert (tmp_path / "o" / "consensus.csv").is_file()
    other = pd.read_csv(b).assign(subject_id="z9")
    other.to_csv(tmp_path / "c.csv", index=False)
    assert main(["agreement", str(a), str(tmp_path / "c.csv")]) == 2
    assert "error: the two readings have no plaques in common" in capsys.readouterr().err
