"""Batch engine: fingerprints, tables, and cohort runs on Dask."""

import hashlib
import os

from napari_calcium.cohort.batch import fingerprint, flatten, sha256_path, tables
from napari_calcium.cohort.manifest import read_manifest, write_manifest


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
            "result": {"calcifications": [{"label": 7, "volume_mm3": 1.5}], "grade": 2},
        },
    ]
    subjects, lesions, errors = tables(records)
    assert list(subjects["subject_id"]) == ["a", "b", "c"]
    assert list(subjects["status"]) == ["ok", "error", "ok"]
    assert subjects.loc[0, "agatston"] == 40.0 and subjects.loc[2, "grade"] == 2
    assert "lesions" not in subjects.columns and "calcifications" not in subjects.columns
    assert list(lesions["subject_id"]) == ["a", "a", "c"]
    assert list(lesions["source"]) == ["lesions", "lesions", "calcifications"]
    assert list(lesions["volume_mm3"]) == [2.0, 5.0, 1.5]
    assert list(lesions["centroid_mm_2"][:2]) == [3, 6]
    assert errors.to_dict("records") == [
        {"subject_id": "b", "analysis": "svd", "error_type": "InputError", "message": "bad file"}
    ]


def test_bad_manifest_runs_nothing(tmp_path):
    from napari_calcium.cli import main

    manifest = tmp_path / "m.csv"
    manifest.write_text("subject_id,analysis,ct\ns1,coronary,absent.nii.gz\ns2,pet,x\n")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
