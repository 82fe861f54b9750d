"""The CT calcification grade flows from ``intracranial --json`` into the SVD record."""

import json

import pytest

from napari_calcium.cli import main
from napari_calcium.io import write
from napari_calcium.phantoms.brain import brain_flair_swi
from napari_calcium.phantoms.vessel import vessel_ct
from napari_calcium.svd import load_record


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("handoff")
    ct, truth = vessel_ct()
    write(ct, tmp / "ct.mha")
    rows = "\n".join(",".join(f"{v:.4f}" for v in p) for p in truth["centerline_mm"])
    (tmp / "line.csv").write_text("x,y,z\n" + rows)
    flair, swi, _ = brain_flair_swi(seed=0)
    write(flair, tmp / "flair.nii.gz")
    write(swi, tmp / "swi.nii.gz")
    return tmp


def _intracranial(tmp, out, *extra):
    argv = ["intracranial", str(tmp / "ct.mha"), "--centerline", str(tmp / "line.csv")]
    return main([*argv, "--step-mm", "0.5", "--json", str(out), *extra])


def _svd(tmp, *extra):
    argv = ["svd", "--flair", str(tmp / "flair.nii.gz"), "--swi", str(tmp / "swi.nii.gz")]
    return main([*argv, "--no-lacunes", *extra])


def test_intracranial_json_round_trip_into_the_svd_record(files):
    assert _intracranial(files, files / "mca_left.json", "--artery", "MCA_left") == 0
    result = json.loads((files / "mca_left.json").read_text())
    assert result["artery"] == "MCA_left"
    # the phantom's thin ring covers 20-340 deg (arc 320 >= 270: extensive) and CT alone
    # measures no narrowing, so the artery is moderate, not severe
    assert result["grade"]["grade"] == "moderate" and result["grade"]["severe_if_narrowed"]
    out = files / "P1.json"
    rc = _svd(files, "--calcification", str(files / "mca_left.json"), "--json", str(out))
    assert rc == 0
    record = load_record(out)
    assert record["calcification"]["grades"]["MCA_left"] == "moderate"
    assert record["calcification"]["overall"]["grade"] == "moderate"
    assert record["calcification"]["source"] == "mca_left.json"


def test_an_unnamed_artery_is_refused_with_what_to_do(files, capsys):
    assert _intracranial(files, files / "unnamed.json") == 0  # --artery left at "artery"
    assert _svd(files, "--calcification", str(files / "unnamed.json")) == 2
    err = capsys.readouterr().err
    assert "'artery'" in err and "--artery" in err and "Traceback" not in err
