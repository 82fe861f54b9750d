"""The IVUS calcium score in words: each point with the value behind it."""

from napari_calcium.scores.ivus import explain_ivus_calcium_score, ivus_calcium_score


def test_two_points_with_an_unconfirmed_nodule():
    # 300 deg superficial over 5.6 mm (> 270 over > 5 mm: +1), EEM 3.1 mm (< 3.5: +1)
    score = ivus_calcium_score(300.0, 5.6, False, 3.1, nodule_candidate=True)
    lines = explain_ivus_calcium_score(score, lesion_id=2).splitlines()
    assert lines[0].startswith("IVUS calcium score 2 of 4 points for lesion 2")
    assert "high risk of stent underexpansion" in lines[0]
    assert (
        lines[1] == " 0  360-degree superficial calcium: measured maximum superficial arc 300 deg"
    )
    assert lines[2].startswith("+1  superficial calcium > 270 deg over > 5 mm")
    assert lines[2].endswith("maximum superficial arc 300 deg, over 5.6 mm")
    assert lines[3] == (
        " 0  calcified nodule: a candidate was found, not counted until the reader confirms it"
    )
    assert lines[4] == "+1  vessel diameter < 3.5 mm: measured 3.1 mm"


def test_no_calcium():
    text = explain_ivus_calcium_score(ivus_calcium_score(0.0, 0.0, False, None))
    assert text.splitlines()[0].startswith("IVUS calcium score 0 of 4 points;")
    assert "below that threshold" in text
    assert text.splitlines()[3].endswith("calcified nodule: none found")
    assert text.splitlines()[4].endswith("not measured")
