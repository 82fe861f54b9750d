"""Batch engine: fingerprints, tables, and cohort runs on Dask."""

import contextlib
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

import napari_calcium
from napari_calcium import read, write
from napari_calcium.cli import main
from napari_calcium.cohort import batch
from napari_calcium.cohort.batch import (
    RUN_KEYS,
    fingerprint,
    flatten,
    run,
    run_subject,
    sha256_path,
    subject_json_path,
    tables,
)
from napari_calcium.cohort.manifest import ANALYSES, read_manifest, write_manifest
from napari_calcium.errors import InputError
from napari_calcium.sample_cohorts import PHANTOM_SUBJECTS, write_phantom_cohort

#: A result column that differs between phantom subjects, per analysis.
HEADLINE = {
    "coronary": "agatston",
    "ivus": "guidance_values_max_arc_deg",
    "intracranial": "n_calcifications",
    "svd": "wmh_volume_ml",
    "register": "tre_mm_mean",
}
#: Share of each analysis in the test cohort (the slower ones get fewer subjects).
WEIGHTS = {"coronary": 9, "ivus": 4, "intracranial": 4, "svd": 2, "register": 1}


def _analysis_cycle() -> list[str]:
    assert set(PHANTOM_SUBJECTS) <= set(WEIGHTS), "give every phantom analysis a weight"
    names = [a for a in WEIGHTS if a in PHANTOM_SUBJECTS]
    return [a for r in range(max(WEIGHTS.values())) for a in names if WEIGHTS[a] > r]


def test_fingerprint_is_the_sha256_of_the_bytes(tmp_path):
    series = tmp_path / "ct"
    (series / "sub").mkdir(parents=True)
    (series / "a.dcm").write_bytes(b"first slice")
    (series / "sub" / "b.dcm").write_bytes(b"second")
    single = tmp_path / "flair.nii.gz"
    single.write_bytes(b"\x00\x01flair")
    assert sha256_path(single) == hashlib.sha256(b"\x00\x01flair").hexdigest()
    expected = hashlib.sha256(b"a.dcm\0first slice" + b"sub/b.dcm\0second").hexdigest()
    assert sha256_path(series) == expected

    manifest = write_manifest(
        [{"subject_id": "s", "analysis": "coronary", "ct": "ct", "threshold_hu": "130"}],
        tmp_path / "m.csv",
    )
    before = fingerprint(read_manifest(manifest)[0])
    assert before["inputs"]["ct"]["sha256"] == expected
    os.utime(series / "a.dcm", (1, 1))  # a new time alone is no change
    assert fingerprint(read_manifest(manifest)[0]) == before
    (series / "a.dcm").write_bytes(b"First slice")  # same size, new content
    changed = fingerprint(read_manifest(manifest)[0])
    assert changed["sha256"] != before["sha256"]
    (series / "a.dcm").write_bytes(b"first slice")
    write_manifest(
        [{"subject_id": "s", "analysis": "coronary", "ct": "ct", "threshold_hu": "100"}],
        manifest,
    )
    assert fingerprint(read_manifest(manifest)[0])["sha256"] != before["sha256"]


def test_flatten_joins_nested_keys_and_spreads_short_lists():
    result = {
        "agatston": 12.5,
        "volume_mm3": 3,
        "settings": {"threshold_hu": 130, "inclusive": True, "kernel": None},
        "spacing_mm": [0.5, 0.5, 3.0],
        "per_frame_arc_deg": [1, 2, 3, 4, 5],
        "warnings": ["thin slices", "no kVp"],
        "notes": [],
        "lesions": [{"label": 1}],
    }
    assert flatten(result) == {
        "agatston": 12.5,
        "volume_mm3": 3,
        "settings_threshold_hu": 130,
        "settings_inclusive": True,
        "settings_kernel": None,
        "spacing_mm_0": 0.5,
        "spacing_mm_1": 0.5,
        "spacing_mm_2": 3.0,
        "warnings": "thin slices; no kVp",
    }


def test_tables_split_subjects_lesions_and_errors():
    records = [
        {
            "subject_id": "a",
            "analysis": "coronary",
            "status": "ok",
            "result": {
                "agatston": 40.0,
                "lesions": [
                    {"label": 1, "volume_mm3": 2.0, "centroid_mm": [1, 2, 3]},
                    {"label": 2, "volume_mm3": 5.0, "centroid_mm": [4, 5, 6]},
                ],
            },
        },
        {
            "subject_id": "b",
            "analysis": "svd",
            "status": "error",
            "error": {"type": "InputError", "message": "bad file", "traceback": "..."},
        },
        {
            "subject_id": "c",
            "analysis": "intracranial",
            "status": "ok",
            "result": {
                "calcifications": [{"label": 7, "volume_mm3": 1.5}],
                "grade": 2,
                "seconds": 1.25,
            },
        },
    ]
    subjects, lesions, errors = tables(records)
    assert list(subjects["subject_id"]) == ["a", "b", "c"]
    assert list(subjects["n_lesions"][[0]]) == [2] and list(subjects["n_calcifications"][[2]]) == [
        1
    ]
    assert list(subjects["status"]) == ["ok", "error", "ok"]
    assert subjects.loc[0, "agatston"] == 40.0 and subjects.loc[2, "grade"] == 2
    assert "lesions" not in subjects.columns and "calcifications" not in subjects.columns
    assert "seconds" not in subjects.columns  # a run fact, not a result
    assert list(lesions["subject_id"]) == ["a", "a", "c"]
    assert list(lesions["lesion_source"]) == ["lesions", "lesions", "calcifications"]
    assert list(lesions["volume_mm3"]) == [2.0, 5.0, 1.5]
    assert list(lesions["centroid_mm_2"][:2]) == [3, 6]
    assert errors.to_dict("records") == [
        {"subject_id": "b", "analysis": "svd", "error_type": "InputError", "message": "bad file"}
    ]


def test_tables_carry_the_manifests_clinical_columns():
    records = [
        {"subject_id": "s1", "analysis": "svd", "status": "ok", "result": {"wmh_volume_ml": 2.0}},
        {"subject_id": "s2", "analysis": "svd", "status": "error", "error": {"type": "X"}},
    ]
    clinical = {"s1": {"age_years": 70.0, "diabetes": True}, "s2": {"diabetes": False}}
    subjects, _, _ = batch.tables(records, clinical)
    assert subjects.loc[0, "age_years"] == 70.0 and subjects.loc[0, "diabetes"] == 1
    assert subjects.loc[1, "diabetes"] == 0 and pd.isna(subjects.loc[1, "age_years"])
    assert subjects.loc[0, "wmh_volume_ml"] == 2.0


def test_bad_input_runs_nothing(tmp_path, monkeypatch, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("subject_id,analysis,ct\ns1,coronary,absent.nii.gz\ns2,pet,x\n")
    good = tmp_path / "good.csv"
    good.write_text("subject_id,analysis,ct\ns1,coronary,m.csv\n")  # passes validation
    monkeypatch.setattr(batch, "SCHEDULER_TIMEOUT", "1s")
    out = str(tmp_path / "out")
    assert main(["batch", str(manifest), "--out", out]) == 2
    assert "has 2 problem(s)" in capsys.readouterr().err
    assert main(["batch", str(good), "--out", out, "--workers", "0"]) == 2
    assert main(["batch", str(good), "--out", out, "--memory-limit", "lots"]) == 2
    assert main(["batch", str(good), "--out", out, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "no Dask scheduler answered at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------ cohort runs
ROOT = Path(__file__).resolve().parents[2]
BROKEN = "broken-ct"
#: Subjects of the smaller manifest used for the interrupted and remote runs: the
#: broken one and the first of the quicker analyses.
N_SUBSET = 8
QUICK = ("coronary", "ivus", "intracranial")


def _env():
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture(scope="session")
def cohort(tmp_path_factory):
    """>= 40 phantom subjects over every analysis with a phantom, plus one truncated CT."""
    folder = tmp_path_factory.mktemp("cohort")
    manifest = write_phantom_cohort(folder, 40, analyses=_analysis_cycle())
    rows = list(csv.DictReader(manifest.open()))
    good = next(r for r in rows if r["analysis"] == "coronary")
    broken = folder / BROKEN / "ct.nii"
    broken.parent.mkdir()
    write(read(folder / good["ct"]), broken)
    broken.write_bytes(broken.read_bytes()[:200])  # cut inside the 348-byte NIfTI header
    rows.insert(5, {"subject_id": BROKEN, "analysis": "coronary", "ct": f"{BROKEN}/ct.nii"})
    write_manifest(rows, manifest)
    subset_rows = [r for r in rows if r["analysis"] in QUICK or r["subject_id"] == BROKEN]
    subset = write_manifest(subset_rows[:N_SUBSET], folder / "subset.csv")
    ids = [r["subject_id"] for r in subset_rows[:N_SUBSET]]
    assert BROKEN in ids
    return {
        "folder": folder,
        "manifest": manifest,
        "subset": subset,
        "subset_ids": ids,
        "rows": rows,
    }


@pytest.fixture(scope="session")
def full_run(cohort, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return run(cohort["manifest"], out, workers=2)


def _read_tables(out):
    return {name: pd.read_csv(out / f"{name}.csv") for name in ("subjects", "lesions", "errors")}


def _restricted(frame, ids):
    """Rows of ``ids`` without the columns that are empty for all of them."""
    frame = frame[frame["subject_id"].isin(ids)].dropna(axis=1, how="all")
    return frame.reset_index(drop=True)


def _assert_same_tables(out, reference_out, ids):
    got, ref = _read_tables(out), _read_tables(reference_out)
    for name in got:
        pd.testing.assert_frame_equal(
            _restricted(got[name], ids),
            _restricted(ref[name], ids),
            check_like=True,
            check_dtype=False,
        )


def test_cohort_tables_equal_the_cli_results_and_a_broken_subject_is_isolated(
    cohort, full_run, tmp_path
):
    rows = cohort["rows"]
    assert len(rows) >= 41
    out = full_run.out
    tables_ = _read_tables(out)
    subjects, lesions, errors = tables_["subjects"], tables_["lesions"], tables_["errors"]
    assert list(subjects["subject_id"]) == [r["subject_id"] for r in rows]
    for name, frame in tables_.items():  # Parquet beside every CSV (pyarrow is installed)
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert list(parquet.columns) == list(frame.columns) and len(parquet) == len(frame)
    assert full_run.computed == [r["subject_id"] for r in rows] and full_run.skipped == []
    # the broken subject failed alone, with its traceback in its JSON only
    assert list(errors["subject_id"]) == [BROKEN] and full_run.failed == [BROKEN]
    assert (subjects["status"] == "ok").sum() == len(rows) - 1
    record = json.loads((out / "subjects" / f"{BROKEN}.json").read_text())
    assert record["status"] == "error" and "Traceback" in record["error"]["traceback"]
    assert errors.loc[0, "message"] == record["error"]["message"]
    assert (
        record["error"]["type"] == "InputError" and "could not be read" in errors.loc[0, "message"]
    )
    # results differ between subjects (phantom parameters vary)
    for analysis, group in subjects[subjects["status"] == "ok"].groupby("analysis"):
        headline = HEADLINE[analysis]
        assert group[headline].nunique() >= 2, (analysis, group[headline].tolist())
    # the fingerprint is the SHA-256 of the input bytes; the package version is recorded
    first = rows[0]
    record = json.loads((out / "subjects" / f"{first['subject_id']}.json").read_text())
    column = next(c for c in ANALYSES[first["analysis"]].columns if c.kind == "path")
    expected = sha256_path(cohort["folder"] / first[column.name])
    assert record["fingerprint"]["inputs"][column.name]["sha256"] == expected
    assert record["napari_calcium_version"] == napari_calcium.__version__

    # one subject per analysis through the command line gives the same table rows
    subjects_by_id = {s.subject_id: s for s in read_manifest(cohort["manifest"])}
    firsts = {}
    for r in rows:
        if r["subject_id"] != BROKEN:
            firsts.setdefault(r["analysis"], r["subject_id"])
    for analysis, sid in firsts.items():
        subject = subjects_by_id[sid]
        target = tmp_path / f"{sid}.json"
        with _itk_threads(1):  # as on the batch workers
            assert main([*subject.cli_args(), "--json", str(target)]) == 0
        result = json.loads(target.read_text())
        keys = ANALYSES[analysis].lesion_keys
        row = subjects[subjects["subject_id"] == sid].iloc[0]
        skip = set(keys) | RUN_KEYS
        for column, value in flatten({k: v for k, v in result.items() if k not in skip}).items():
            _assert_cell(row[column], value, column)
        cli_lesions = [(key, lesion) for key in keys for lesion in _nested(result, key)]
        mine = lesions[lesions["subject_id"] == sid].reset_index(drop=True)
        assert len(mine) == len(cli_lesions)
        for i, (key, lesion) in enumerate(cli_lesions):
            assert mine.loc[i, "lesion_source"] == key
            for column, value in flatten(lesion).items():
                _assert_cell(mine.loc[i, column], value, column)


@contextlib.contextmanager
def _itk_threads(n):
    import SimpleITK as sitk

    before = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(before)


def _nested(result, path):
    """``result["a"]["b"]`` for ``"a.b"``; an empty list when absent."""
    for key in path.split("."):
        result = (result or {}).get(key)
    return result or []


def _assert_cell(cell, value, column):
    if value is None or (isinstance(value, str) and value == ""):
        assert pd.isna(cell), column
    elif isinstance(value, bool):
        assert bool(cell) == value, column
    elif isinstance(value, int | float):
        assert float(cell) == pytest.approx(float(value), rel=1e-12, abs=1e-12), column
    else:
        assert str(cell) == value, column


def test_killed_run_resumes_with_only_the_remaining_subjects(cohort, full_run, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "napari_calcium.cli", "batch", str(cohort["subset"])]
    proc = subprocess.Popen(
        [*command, "--out", str(out), "--workers", "1"],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(list((out / "subjects").glob("*.json"))) < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be interrupted"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    ids = cohort["subset_ids"]
    finished = [
        sid
        for sid in ids
        if (out / "subjects" / f"{sid}.json").is_file()
        and json.loads((out / "subjects" / f"{sid}.json").read_text())["status"] == "ok"
    ]
    assert 0 < len(finished) < len(ids)
    assert not (out / "subjects.csv").exists()

    result = run(cohort["subset"], out, workers=2, resume=True)
    assert result.skipped == finished
    assert result.computed == [sid for sid in ids if sid not in finished]
    log = json.loads((out / "run.json").read_text())
    assert log["computed"] == result.computed and log["failed"] == [BROKEN]
    _assert_same_tables(out, full_run.out, ids)


def _scheduler_address(scheduler_file: Path, timeout_s: float = 30) -> str:
    """The address a ``dask scheduler`` wrote, once the file is complete.

    The scheduler creates the file before it has written it, so wait until
    the text parses rather than until the file exists.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_external_scheduler_gives_the_same_tables(cohort, full_run, tmp_path, capsys):
    dask = Path(sys.executable).with_name("dask")
    scheduler_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(
            subprocess.Popen(
                [
                    dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    scheduler_file,
                ],
                env=_env(),
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        address = _scheduler_address(scheduler_file)
        assert address.startswith("tcp://127.0.0.1:")
        started.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    "--scheduler-file",
                    scheduler_file,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "2GiB",
                    "--no-dashboard",
                ],
                env=_env(),
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "out"
        status = main(["batch", str(cohort["subset"]), "--out", str(out), "--scheduler", address])
    finally:
        for proc in reversed(started):
            proc.terminate()
            proc.wait(timeout=30)
    assert status == 1
    assert f"1 of {N_SUBSET} subjects failed" in capsys.readouterr().err
    ids = cohort["subset_ids"]
    _assert_same_tables(out, full_run.out, ids)


def _contrast_chest(folder: Path) -> dict[str, Path]:
    """A contrast CT written here: body at 40 HU, a 100-mm cube of blood pool at 350 HU
    (1000 mL, far above the 30-mL contrast limit) and one 4 x 4 x 6 mm lesion at 600 HU
    assigned to the LAD; a heart mask that holds the blood pool but not the lesion,
    whose centre lies 19 mm outside it (more than the 10-mm margin)."""
    import numpy as np

    from napari_calcium.volume import Volume

    ct = np.full((40, 80, 80), -1000, np.int16)
    ct[:, 5:75, 5:75] = 40
    ct[5:35, 10:60, 10:60] = 350  # 2-mm voxels: 30 x 50 x 50 voxels = 60 x 100 x 100 mm
    ct[18:21, 68:70, 30:32] = 600  # the lesion, 2 x 2 pixels on 3 slices
    arteries = np.zeros(ct.shape, np.uint8)
    arteries[18:21, 68:70, 30:32] = 2
    heart = np.zeros(ct.shape, np.uint8)
    heart[5:35, 10:60, 10:60] = 1
    paths = {}
    for name, array, modality in (
        ("ct", ct, "CT"),
        ("arteries", arteries, "LABELS"),
        ("heart", heart, "LABELS"),
    ):
        paths[name] = folder / f"{name}.nii.gz"
        write(Volume(array, (2.0, 2.0, 2.0), modality=modality), paths[name])
    return paths


def test_heart_and_allow_contrast_columns_are_checked_and_run(tmp_path):
    """The manifest takes the heart mask and allow_contrast / count_implausible like the
    CLI: checked before anything runs, then a contrast subject is refused unless allowed
    and a lesion outside the heart is flagged, not counted."""
    paths = _contrast_chest(tmp_path)
    common = {"analysis": "coronary", "ct": "ct.nii.gz", "arteries": "arteries.nii.gz"}
    rows = [
        {"subject_id": "refused", **common},
        {"subject_id": "allowed", **common, "allow_contrast": "yes"},
        {"subject_id": "heart", **common, "allow_contrast": "1", "heart": "heart.nii.gz"},
        {
            "subject_id": "counted",
            **common,
            "allow_contrast": "true",
            "heart": "heart.nii.gz",
            "count_implausible": "yes",
        },
    ]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    subjects = read_manifest(manifest)
    assert subjects[2].cli_args()[-2:] == [
        f"--heart={paths['heart'].resolve()}",
        "--allow-contrast",
    ]
    out = tmp_path / "out"
    records = {}
    for subject in subjects:
        run_subject(subject, str(out))
        records[subject.subject_id] = json.loads(
            subject_json_path(out, subject.subject_id).read_text()
        )
    refused = records["refused"]
    assert refused["status"] == "error" and "contrast-enhanced" in refused["error"]["message"]
    allowed = records["allowed"]["result"]
    assert records["allowed"]["status"] == "ok" and allowed["contrast"]["enhanced"] is True
    # 2 x 2 pixels of 4 mm² at 600 HU (weight 4) on three 2-mm slices (z 36-42 mm),
    # scored as 3-mm slabs: two slabs of 16 mm² -> 2 x 16 x 4 = 128; 8 slab voxels of 12 mm³
    assert allowed["agatston"] == pytest.approx(128.0)
    assert allowed["per_artery"]["LAD"]["volume_mm3"] == pytest.approx(8 * 12.0)
    flagged = records["heart"]["result"]
    assert flagged["agatston"] == 0 and flagged["implausible"][0]["artery"] == "LAD"
    assert any("outside the heart" in r for r in flagged["implausible"][0]["reasons"])
    assert records["counted"]["result"]["agatston"] == pytest.approx(allowed["agatston"])
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "subject_id,analysis,ct,heart,allow_contrast\n"
        "a,coronary,ct.nii.gz,absent.nii.gz,yes\n"
        "b,coronary,ct.nii.gz,,maybe\n"
    )
    with pytest.raises(InputError) as info:
        read_manifest(bad)
    assert "line 2: heart 'absent.nii.gz' not found" in str(info.value)
    assert "line 3: allow_contrast 'maybe' is not true/false" in str(info.value)


def test_threshold_free_measures_reach_the_cohort_tables(tmp_path):
    """A coronary row with calibration ROIs: the integrated and volume-fraction mass and
    the SWCS are columns of subjects.csv (total and per artery) and of lesions.csv; on the
    QRM-like insert phantom the totals are within 2 % of the designed masses."""
    from napari_calcium.phantoms.qrm import qrm_ct

    ct, labels, rois, truth = qrm_ct()
    for name, volume in (("ct", ct), ("labels", labels), ("rois", rois)):
        write(volume, tmp_path / f"{name}.nii.gz")
    row = {
        "subject_id": "qrm",
        "analysis": "coronary",
        "ct": "ct.nii.gz",
        "arteries": "labels.nii.gz",
        "calibration_rois": "rois.nii.gz",
        "calibration_rho": "200",
    }
    (subject,) = read_manifest(write_manifest([row], tmp_path / "m.csv"))
    run_subject(subject, str(tmp_path / "out"))
    record = json.loads(subject_json_path(tmp_path / "out", "qrm").read_text())
    assert record["status"] == "ok", record.get("error")
    subjects, lesions, _ = tables([record])
    designed = sum(insert["mass_mg"] for insert in truth["inserts"])
    for key in ("integrated_mass_mg", "volume_fraction_mass_mg"):
        assert subjects.loc[0, key] == pytest.approx(designed, rel=0.02)
        for code, name in {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}.items():
            mine = [i["mass_mg"] for i in truth["inserts"] if i["artery_label"] == code]
            # per artery, the 1-mm inserts' noise weighs more: 4 %
            assert subjects.loc[0, f"per_artery_{name}_{key}"] == pytest.approx(
                sum(mine), rel=0.04
            )
        assert lesions[key].notna().all()
    assert subjects.loc[0, "swcs"] > 0 and "swcs" in lesions.columns
