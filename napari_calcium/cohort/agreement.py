"""Agreement between two readers: ICC for measurements, Cohen's kappa for classes.

A *reading* is what one reader produced for the same subjects: a batch output
folder (``napari-calcium batch``), one ``napari-calcium intracranial --json`` result,
or a tidy CSV with ``subject_id`` and the measures. :func:`load_reading` turns it
into one row per *target* of a unit:

* ``subjects`` — one row per subject (``subjects.csv``);
* ``plaques`` — one row per plaque (:mod:`napari_calcium.vessel.plaques`);
* ``calcifications`` — one row per calcification;
* ``sections`` — one row per vessel-wall cross-section (``wall_sections`` of an
  intracranial result).

:func:`pair_readings` matches the two readers' targets: subjects by
``subject_id``; plaques, calcifications and cross-sections of one subject by
their position along the centreline (the middle of ``start_mm``-``end_mm``, or
``middle_mm``; ``arc_mm`` for cross-sections — not the narrowest site, which can lie
anywhere along a plaque's plateau), each to the nearest one of the other reader
within ``tolerance_mm`` and only if that one is nearest back; targets only one
reader found are listed (``unmatched``), not guessed. :func:`agreement_table`
gives per measure the ICC (:func:`napari_calcium.cohort.stats.icc`, the study's
bands < 0.4 / 0.4-0.75 / > 0.75) with the mean difference and 95 % limits of
agreement (Bland & Altman, Lancet 1986), or Cohen's kappa
(:func:`~napari_calcium.cohort.stats.cohens_kappa`) for classes; and
:func:`consensus_table` the two readings side by side with the consensus value
(the mean of a measurement; the agreed class, or none and ``needs_consensus``
when the readers differ, for the readers to settle).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from napari_calcium.cohort import stats
from napari_calcium.errors import InputError

UNITS = ("subjects", "plaques", "calcifications", "sections")
#: Position of a target along the centreline, per unit (mm).
POSITION = {"plaques": "middle_mm", "calcifications": "middle_mm", "sections": "arc_mm"}
#: Default measures per unit: (continuous, categorical), used when present.
MEASURES = {
    "plaques": (
        (
            "stenosis_pct",
            "plaque_burden_pct",
            "remodeling_index",
            "enhancement_ratio",
            "lumen_area_mm2",
            "outer_wall_area_mm2",
            "wall_area_mm2",
            "max_wall_thickness_mm",
            "eccentricity_index",
            "plaque_length_mm",
            "calcium_volume_mm3",
            "calcium_mean_hu",
        ),
        ("pattern", "remodeling", "class", "calcified", "n_spotty"),
    ),
    "calcifications": (
        ("volume_mm3", "mean_hu", "peak_hu", "length_mm", "arc_deg", "thickness_mm"),
        ("spotty", "pattern", "circularity", "thickness_class", "morphology"),
    ),
    "sections": (
        (
            "lumen_area_mm2",
            "outer_wall_area_mm2",
            "wall_area_mm2",
            "normalized_wall_index",
            "max_wall_thickness_mm",
            "lumen_min_diameter_mm",
            "calcified_fraction",
        ),
        ("calcified",),
    ),
    "subjects": (
        (
            "plaque_stenosis_pct",
            "plaque_plaque_burden_pct",
            "plaque_remodeling_index",
            "wmh_volume_ml",
            "microbleeds_count",
        ),
        ("grade_grade", "plaque_class", "fazekas_periventricular", "fazekas_deep"),
    ),
}


def load_reading(source, unit: str = "plaques") -> pd.DataFrame:
    """One reader's targets of ``unit`` (see the module docstring) as a DataFrame.

    Every row has ``subject_id`` and, except for ``subjects``, ``position_mm``.
    """
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}", f"choose one of {', '.join(UNITS)}")
    source = Path(source)
    if source.is_dir() and (source / "subjects.csv").is_file():
        table = _from_batch(source, unit)
    elif source.is_file() and source.suffix.lower() == ".json":
        table = _from_result(source, unit)
    elif source.is_file() and source.suffix.lower() == ".csv":
        table = pd.read_csv(source)
        if "subject_id" not in table:
            raise InputError(f"{source.name} has no subject_id column")
    else:
        raise InputError(
            f"{source} is not a reading",
            "give a batch output folder (with subjects.csv), an intracranial --json result, "
            "or a CSV with subject_id and the measures",
        )
    if unit in ("plaques", "calcifications") and "middle_mm" not in table and "start_mm" in table:
        table["middle_mm"] = 0.5 * (table["start_mm"] + table["end_mm"])
    if "calcified" not in table and "calcified_fraction" in table and unit == "sections":
        table["calcified"] = (table["calcified_fraction"] > 0).astype(int)
    if unit != "subjects":
        if POSITION[unit] not in table:
            raise InputError(
                f"{source.name} has no {POSITION[unit]} column for the {unit}",
                "give a reading that holds them",
            )
        table["position_mm"] = table[POSITION[unit]]
    return table.reset_index(drop=True)


def _from_batch(folder: Path, unit: str) -> pd.DataFrame:
    subjects = pd.read_csv(folder / "subjects.csv")
    subjects = subjects[subjects["status"] == "ok"]
    if unit == "subjects":
        return subjects
    if unit == "sections":
        rows = []
        for sid in subjects["subject_id"]:
            record = json.loads((folder / "subjects" / f"{sid}.json").read_text(encoding="utf-8"))
            for row in record.get("result", {}).get("wall_sections", []):
                rows.append({"subject_id": sid, **row})
        return pd.DataFrame(rows)
    lesions_path = folder / "lesions.csv"
    lesions = pd.read_csv(lesions_path) if lesions_path.stat().st_size > 1 else pd.DataFrame()
    if lesions.empty or "lesion_source" not in lesions:
        return pd.DataFrame(columns=["subject_id", POSITION[unit]])
    part = lesions[lesions["lesion_source"] == unit].copy()
    return part[part["subject_id"].isin(subjects["subject_id"])]


def _from_result(path: Path, unit: str) -> pd.DataFrame:
    record = json.loads(path.read_text(encoding="utf-8"))
    # a batch subject JSON names its subject; a CLI result is one unnamed subject
    sid = record.get("subject_id", "subject")
    result = record.get("result", record)
    key = {"plaques": "plaques", "calcifications": "calcifications", "sections": "wall_sections"}
    if unit == "subjects":
        raise InputError(
            "one result is one subject", "use --unit plaques, calcifications or sections"
        )
    if key[unit] not in result:
        raise InputError(f"{path.name} holds no {unit}", "give an intracranial --json result")
    rows = [{"subject_id": sid, **row} for row in result[key[unit]]]
    return pd.DataFrame(rows)


def pair_readings(
    first: pd.DataFrame,
    second: pd.DataFrame,
    unit: str,
    names: Sequence[str] = ("A", "B"),
    tolerance_mm: float = 2.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Matched targets of two readings, long (one row per target and reader).

    Returns
    -------
    long : ``target``, ``reader`` and every column of the readings.
    unmatched : ``subject_id``, ``reader``, ``position_mm`` of targets only one reader has.
    """
    a, b = first.assign(reader=names[0]), second.assign(reader=names[1])
    pairs, unmatched = [], []
    for sid in sorted(set(a["subject_id"]) | set(b["subject_id"]), key=str):
        ra, rb = a[a["subject_id"] == sid], b[b["subject_id"] == sid]
        if unit == "subjects":
            if len(ra) and len(rb):
                pairs.append((str(sid), ra.iloc[0], rb.iloc[0]))
            else:
                unmatched += [
                    {"subject_id": sid, "reader": r["reader"]}
                    for _, r in pd.concat([ra, rb]).iterrows()
                ]
            continue
        pa, pb = ra["position_mm"].to_numpy(float), rb["position_mm"].to_numpy(float)
        matched_a, matched_b = set(), set()
        if len(pa) and len(pb):
            distance = np.abs(pa[:, None] - pb[None, :])
            for i in range(len(pa)):
                j = int(np.argmin(distance[i]))
                if distance[i, j] <= tolerance_mm and int(np.argmin(distance[:, j])) == i:
                    pairs.append((f"{sid}@{pa[i]:.2f}mm", ra.iloc[i], rb.iloc[j]))
                    matched_a.add(i)
                    matched_b.add(j)
        for rows, matched in ((ra, matched_a), (rb, matched_b)):
            for k in range(len(rows)):
                if k not in matched:
                    row = rows.iloc[k]
                    unmatched.append(
                        {
                            "subject_id": sid,
                            "reader": row["reader"],
                            "position_mm": row["position_mm"],
                        }
                    )
    long = pd.DataFrame(
        [{"target": t, **row.to_dict()} for t, ra_row, rb_row in pairs for row in (ra_row, rb_row)]
    )
    return long, pd.DataFrame(unmatched, columns=["subject_id", "reader", "position_mm"])


def agreement_table(
    long: pd.DataFrame,
    continuous: Sequence[str],
    categorical: Sequence[str],
    icc_form: str = "ICC(A,1)",
) -> pd.DataFrame:
    """ICC (with bias and limits of agreement) per measurement, kappa per class column."""
    rows = []
    if long.empty:
        return pd.DataFrame(columns=["measure", "statistic", "value"])
    readers = list(dict.fromkeys(long["reader"]))
    for measure in continuous:
        if measure not in long or pd.to_numeric(long[measure], errors="coerce").notna().sum() == 0:
            continue
        row = stats.icc(long, "target", "reader", measure, icc_form)
        wide = long.pivot(index="target", columns="reader", values=measure).apply(
            pd.to_numeric, errors="coerce"
        )
        difference = (wide[readers[1]] - wide[readers[0]]).dropna()
        if len(difference) >= 2:
            sd = float(difference.std(ddof=1))
            row.update(
                mean_difference=float(difference.mean()),
                loa_low=float(difference.mean() - 1.96 * sd),
                loa_high=float(difference.mean() + 1.96 * sd),
            )
        rows.append({"kind": "continuous", **row})
    for measure in categorical:
        if measure not in long or long[measure].notna().sum() == 0:
            continue
        wide = long.pivot(index="target", columns="reader", values=measure)
        row = stats.cohens_kappa(wide[readers[0]], wide[readers[1]])
        rows.append({"kind": "categorical", "measure": measure, **row})
    return pd.DataFrame(rows)


def consensus_table(long: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """Both readings of every target and measure, with the consensus value.

    A measurement's consensus is the mean of the two readings; a class's is the
    agreed class, or empty with ``needs_consensus`` True when the readers differ.
    """
    if long.empty:
        return pd.DataFrame(columns=["target", "measure", "needs_consensus"])
    readers = list(dict.fromkeys(long["reader"]))
    rows = []
    for measure in measures:
        if measure not in long:
            continue
        wide = long.pivot(index="target", columns="reader", values=measure)
        numeric = wide.apply(pd.to_numeric, errors="coerce")
        is_number = numeric.notna().sum().sum() == wide.notna().sum().sum()
        for target, values in wide.iterrows():
            first, second = values[readers[0]], values[readers[1]]
            row = {"target": target, "measure": measure, readers[0]: first, readers[1]: second}
            if is_number and stats.variable_kind(long[measure]) == "continuous":
                row["difference"] = (
                    numeric.loc[target, readers[1]] - numeric.loc[target, readers[0]]
                )
                row["consensus"] = numeric.loc[target].mean()
                row["needs_consensus"] = False
            else:
                same = str(first) == str(second)
                row["consensus"] = first if same else None
                row["needs_consensus"] = not same
            rows.append(row)
    return pd.DataFrame(rows)


def measures_for(unit: str, table: pd.DataFrame, measures: Sequence[str] | None = None):
    """The (continuous, categorical) measures to compare: given ones, sorted by kind, or
    the unit's defaults that the table holds."""
    if measures:
        missing = [m for m in measures if m not in table]
        if missing:
            raise InputError(
                f"no column {', '.join(missing)} in the readings",
                f"choose among: {', '.join(map(str, table.columns))}",
            )
        continuous = [m for m in measures if stats.variable_kind(table[m]) == "continuous"]
        return continuous, [m for m in measures if m not in continuous]
    continuous, categorical = MEASURES[unit]
    return [m for m in continuous if m in table], [m for m in categorical if m in table]


def compare_readings(
    first,
    second,
    unit: str = "plaques",
    names: Sequence[str] = ("A", "B"),
    measures: Sequence[str] | None = None,
    tolerance_mm: float = 2.0,
    icc_form: str = "ICC(A,1)",
) -> dict:
    """Load, pair and compare two readings.

    Returns
    -------
    dict with ``agreement``, ``consensus``, ``unmatched``, ``pairs`` (the long table)
    and ``n_targets``.
    """
    if len(names) != 2 or names[0] == names[1]:
        raise InputError("two different reader names are needed", "e.g. --names A,B")
    a, b = load_reading(first, unit), load_reading(second, unit)
    long, unmatched = pair_readings(a, b, unit, names, tolerance_mm)
    if long.empty:
        raise InputError(
            f"the two readings have no {unit} in common",
            "check that both readings are of the same subjects (subject_id) and unit",
        )
    continuous, categorical = measures_for(unit, long, measures)
    return {
        "agreement": agreement_table(long, continuous, categorical, icc_form),
        "consensus": consensus_table(long, [*continuous, *categorical]),
        "unmatched": unmatched,
        "pairs": long,
        "n_targets": int(long["target"].nunique()),
    }
