"""Jobs: one progress / cancel protocol, results from files, and manifest rows that
mean what their command lines mean."""

import json

import pytest

from napari_calcium.analyses import JOBS, Cancelled
from napari_calcium.analyses import coronary as coronary_job
from napari_calcium.analyses.options import from_args
from napari_calcium.cli import build_parser
from napari_calcium.cohort.manifest import read_manifest, write_manifest
from napari_calcium.io import write
from napari_calcium.phantoms.coronary import coronary_ct


@pytest.fixture(scope="module")
def coronary_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coronary")
    ct, arteries, truth = coronary_ct()
    write(ct, folder / "ct.nii.gz")
    write(arteries, folder / "arteries.nii.gz")
    return folder, truth


def test_coronary_job_reads_the_files_and_scores_the_truth(coronary_files):
    folder, truth = coronary_files
    stages = []
    options = coronary_job.Options(ct=folder / "ct.nii.gz", arteries=folder / "arteries.nii.gz")
    result = coronary_job.run(options, progress=lambda s, f: stages.append((s, f)))
    # NIfTI stores the spacing as float32: 1e-7 relative
    assert result.to_json()["agatston"] == pytest.approx(truth["agatston"], rel=1e-6)
    assert len(result.tables()["lesions"]) == truth["lesion_count"]
    assert result.layers()["lesions"].modality == "LABELS"
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(s, str) and 0.0 <= f <= 1.0 for s, f in stages)


def test_a_cancelled_job_stops_and_writes_nothing(coronary_files, tmp_path):
    folder, _ = coronary_files
    options = coronary_job.Options(ct=folder / "ct.nii.gz")
    with pytest.raises(Cancelled):
        coronary_job.run(options, cancel=lambda: True)
    assert not list(tmp_path.iterdir())


def test_the_command_line_writes_the_jobs_json(coronary_files, tmp_path):
    from napari_calcium.cli import main

    folder, _ = coronary_files
    out = tmp_path / "r.json"
    args = [str(folder / "ct.nii.gz"), "--arteries", str(folder / "arteries.nii.gz")]
    assert main(["coronary", *args, "--json", str(out)]) == 0
    options = coronary_job.Options(ct=folder / "ct.nii.gz", arteries=folder / "arteries.nii.gz")
    direct = json.loads(json.dumps(coronary_job.run(options).to_json()))
    assert json.loads(out.read_text()) == direct


def test_a_manifest_row_is_the_options_of_its_command_line(tmp_path):
    for name in ("ct.nii.gz", "flair.nii.gz", "pb.dcm"):
        (tmp_path / name).write_bytes(b"x")
    rows = [
        {"subject_id": "c", "analysis": "coronary", "ct": "ct.nii.gz", "connectivity": "4",
         "threshold_hu": "150", "radiomics": "yes", "artery_names": "LM,LAD,LCX,RCA,D1"},
        {"subject_id": "i", "analysis": "ivus", "pullback": "pb.dcm",
         "pullback_speed_mm_s": "0.5", "gated": "true"},
        {"subject_id": "s", "analysis": "svd", "flair": "flair.nii.gz", "epvs_bg": "3",
         "calcification": "ct.nii.gz", "timepoint": "follow-up"},
    ]  # fmt: skip
    for subject in read_manifest(write_manifest(rows, tmp_path / "m.csv")):
        parsed = build_parser().parse_args(subject.cli_args())
        assert subject.job_options() == from_args(JOBS[subject.analysis].options, parsed)
    assert subject.job_options().subject == "s" and subject.job_options().epvs_bg == 3
