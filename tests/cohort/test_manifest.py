"""Manifest validation: every problem reported at once, with line numbers."""

import pytest

from napari_calcium.cohort.manifest import ANALYSES, read_manifest, write_manifest
from napari_calcium.errors import InputError


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_valid_manifest_resolves_paths_and_parses_options(tmp_path):
    _touch(tmp_path / "data" / "s1" / "ct" / "0001.dcm")  # a DICOM folder is an input too
    _touch(tmp_path / "data" / "s1" / "arteries.nii.gz")
    _touch(tmp_path / "data" / "s2" / "pullback.dcm")
    abs_flair = _touch(tmp_path / "elsewhere" / "flair.nii.gz")
    manifest = write_manifest(
        [
            {
                "subject_id": "s1",
                "analysis": "coronary",
                "ct": "s1/ct",
                "arteries": "s1/arteries.nii.gz",
                "threshold_hu": "130",
            },
            {
                "subject_id": "s2",
                "analysis": "ivus",
                "pullback": "s2/pullback.dcm",
                "pullback_speed_mm_s": " 0.5 ",
                "frame_rate_hz": "30",
            },
            {"subject_id": "s3", "analysis": "svd", "flair": str(abs_flair)},
        ],
        tmp_path / "data" / "manifest.csv",
    )
    s1, s2, s3 = read_manifest(manifest)
    assert (s1.subject_id, s1.analysis, s1.line) == ("s1", "coronary", 2)
    assert s1.inputs() == {
        "ct": (tmp_path / "data" / "s1" / "ct").resolve(),
        "arteries": (tmp_path / "data" / "s1" / "arteries.nii.gz").resolve(),
    }
    assert s1.options() == {"threshold_hu": 130.0}
    assert s1.cli_args() == [
        "coronary",
        str(s1.inputs()["ct"]),
        f"--arteries={s1.inputs()['arteries']}",
        "--threshold-hu=130.0",
    ]
    assert s2.options() == {"pullback_speed_mm_s": 0.5, "frame_rate_hz": 30.0}
    assert s2.cli_args()[2:] == ["--pullback-speed=0.5", "--frame-rate=30.0"]
    assert s3.inputs() == {"flair": abs_flair.resolve()} and s3.line == 4


def test_every_problem_is_listed_with_its_line(tmp_path):
    _touch(tmp_path / "ct.nii.gz")
    _touch(tmp_path / "pb.dcm")
    text = (
        "subject_id,analysis,ct,threshold_hu,pullback,pullback_speed_mm_s,flair,artery_names\n"
        "a,coronary,ct.nii.gz,130,,,,\n"  # line 2: fine
        "a,coronary,ct.nii.gz,,,,,\n"  # line 3: duplicate id
        "b,coronary,missing.nii.gz,abc,,,,\n"  # line 4: missing file + bad number
        "c,ivus,,,pb.dcm,-0.5,,\n"  # line 5: speed must be > 0
        "d,pet,ct.nii.gz,,,,,\n"  # line 6: unknown analysis
        "e,coronary,,,,,,\n"  # line 7: required ct empty
        "../f,coronary,ct.nii.gz,,,,,\n"  # line 8: subject id is not a file name
        "g,coronary,ct.nii.gz,,,,ct.nii.gz,\n"  # line 9: flair does not apply to coronary
        "h,register,,,,,,\n"  # line 10: fixed/moving columns absent
        'i,coronary,ct.nii.gz,,,,,"LM,,RCA"\n'  # line 11: an empty artery name
        'j,coronary,ct.nii.gz,,,,,"LM,LAD,LCX,RCA,D1"\n'  # line 12: fine
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(text)
    with pytest.raises(InputError) as info:
        read_manifest(manifest)
    message = str(info.value)
    expected = [
        "line 3: subject_id 'a' already used on line 2",
        "line 4: ct 'missing.nii.gz' not found",
        "line 4: threshold_hu 'abc' is not a number",
        "line 5: pullback_speed_mm_s '-0.5' must be > 0",
        "line 6: unknown analysis 'pet'",
        "line 7: ct is required for coronary",
        "line 8: subject_id '../f' must be",
        "line 9: column 'flair' does not apply to analysis 'coronary'",
        "column 'fixed' is required by analysis 'register' (lines 10)",
        "column 'moving' is required by analysis 'register' (lines 10)",
        "line 11: artery names 'LM,,RCA' have an empty entry",
    ]
    for problem in expected:
        assert problem in message
    assert "has 11 problem(s)" in message
    assert "no subject was run" in message


def test_header_problems(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("subject,analysis,ct,treshold_hu\ns1,coronary,ct.nii.gz,130\n")
    with pytest.raises(InputError) as info:
        read_manifest(manifest)
    assert "missing column 'subject_id'" in str(info.value)
    assert "unknown column 'subject'" in str(info.value)
    assert "unknown column 'treshold_hu'" in str(info.value)
    # a misspelt column does not hide the rows' problems
    manifest.write_text("subject_id,analysis,ct,treshold_hu\ns1,coronary,ct.nii.gz,130\n")
    with pytest.raises(InputError) as info:
        read_manifest(manifest)
    assert "has 2 problem(s)" in str(info.value)
    assert "unknown column 'treshold_hu'" in str(info.value)
    assert "line 2: ct 'ct.nii.gz' not found" in str(info.value)
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("subject_id,analysis\n\n")
    with pytest.raises(InputError, match="no subject rows"):
        read_manifest(empty)


@pytest.mark.parametrize("name", list(ANALYSES))
def test_columns_match_the_cli_subcommand(name):
    """Every column maps to an argument the analysis's subcommand accepts."""
    from napari_calcium.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    if name not in subparsers:
        pytest.skip(f"the {name} subcommand is not on this branch yet")
    options = {s for a in subparsers[name]._actions for s in a.option_strings}
    positionals = [a.dest for a in subparsers[name]._actions if not a.option_strings]
    columns = ANALYSES[name].columns
    assert "--json" in options
    assert {c.option for c in columns if c.option} <= options
    assert len([c for c in columns if c.option is None]) == len(positionals)
    actions = {s: a for a in subparsers[name]._actions for s in a.option_strings}
    for column in columns:
        if column.kind == "choice" and column.option:
            assert set(column.choices) == {str(c) for c in actions[column.option].choices}


def test_cli_arguments_survive_values_starting_with_a_dash(tmp_path):
    from napari_calcium.cli import build_parser

    _touch(tmp_path / "flair.nii.gz")
    manifest = write_manifest(
        [
            {
                "subject_id": "p7",
                "analysis": "svd",
                "flair": "flair.nii.gz",
                "lacune_points": "-3.5,2,-1;4,5,6",
                "no_lacunes": "no",
            }
        ],
        tmp_path / "m.csv",
    )
    (subject,) = read_manifest(manifest)
    args = build_parser().parse_args(subject.cli_args())
    assert args.lacune_points == "-3.5,2,-1;4,5,6"
    assert args.flair == (tmp_path / "flair.nii.gz").resolve()
    assert args.subject == "p7" and args.no_lacunes is False


def test_clinical_columns_are_checked_and_kept_apart_from_the_analysis(tmp_path):
    _touch(tmp_path / "s1" / "flair.nii.gz")
    rows = [
        {
            "subject_id": "s1",
            "analysis": "svd",
            "flair": "s1/flair.nii.gz",
            "age_years": "71.5",
            "sex": "F",
            "diabetes": "yes",
            "culprit_mm": "11.5;26",
            "clinical_apoe4": "carrier",
            "reader": "A",
        }
    ]
    (s1,) = read_manifest(write_manifest(rows, tmp_path / "manifest.csv"))
    assert s1.clinical == {
        "reader": "A",
        "age_years": 71.5,
        "sex": "F",
        "diabetes": True,
        "culprit_mm": "11.5;26",
        "clinical_apoe4": "carrier",
    }
    assert s1.options() == {}  # not analysis options, not in the fingerprint
    assert not any("age" in a or "apoe" in a for a in s1.cli_args())


def test_bad_clinical_values_are_listed_with_their_lines(tmp_path):
    _touch(tmp_path / "f.nii.gz")
    base = {"analysis": "svd", "flair": "f.nii.gz"}
    rows = [
        {**base, "subject_id": "a", "sex": "female", "age_years": "-3"},
        {**base, "subject_id": "b", "diabetes": "maybe", "culprit_mm": "11;x"},
        {**base, "subject_id": "c", "clinical_": "1", "agee_years": "60"},
    ]
    with pytest.raises(InputError) as err:
        read_manifest(write_manifest(rows, tmp_path / "manifest.csv"))
    text = str(err.value)
    assert "line 2: sex 'female' is not one of F, M" in text
    assert "line 2: age_years '-3' must be >= 0" in text
    assert "line 3: diabetes 'maybe' is not true/false" in text
    assert "line 3: culprit_mm '11;x': 'x' is not a number" in text
    assert "unknown column 'clinical_'" in text and "unknown column 'agee_years'" in text
