"""The second head-CT family: the pattern of each artery segment, arcs, on untuned cases."""

import pytest

from napari_calcium.intracranial import run_intracranial
from napari_calcium.phantoms.head_cases import HELD_OUT, HeadCase, head_case


@pytest.mark.parametrize(
    ("seed", "case"),
    [
        (31, HeadCase("intimal")),  # thick focal pieces -> intimal
        (32, HeadCase("iel", spacing_mm=(0.5, 0.5, 0.8))),  # thin ring -> IEL
        HELD_OUT[2],  # spotty dots: intimal (two-class) / indistinguishable (three-class)
        # reader points strayed by 0.3 mm every 1 mm: about the interpolated points one
        # arc is 18 deg off (78 for 60), about the smoothed axis within 15
        (37, HeadCase("intimal", reader_jitter_mm=0.3)),
    ],
)
def test_segment_pattern_and_arcs_against_the_construction(seed, case):
    ct, truth = head_case(seed, case)
    out = run_intracranial(ct, truth["centerline_mm"], segments=truth["segments"], step_mm=0.5)
    for name, seg in out["segments"].items():
        two, three = truth["segment_patterns"][name]
        assert (seg["pattern_two_class"], seg["pattern_three_class"]) == (two, three), name
    assert len(out["calcifications"]) == len(truth["calcifications"])
    for c, t in zip(out["calcifications"], truth["calcifications"], strict=True):
        assert c["start_mm"] <= 0.5 * sum(t["s_range_mm"]) <= c["end_mm"]
        assert c["arc_deg"] == pytest.approx(t["arc_deg"], abs=15)
        assert c["pattern"] == truth["segment_patterns"][t["segment"]][0]  # two-class default
