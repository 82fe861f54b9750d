"""Two readers on the sample head: ICC of the vessel-wall measurements, kappa of calcium.

Accuracy of a reading, not speed. Reader A analyses the sample head
(``sample_data/head``: CT, vessel-wall MRI registered onto it, the artery's
centreline) with ``napari-calcium intracranial``; reader B reads the same artery
again with an edited centreline — re-clicked with every fourth point kept, each
inner point moved ``--shift-mm`` (0.4 mm) across the vessel in a random direction,
as a second reader clicking the artery would. ``napari-calcium agreement`` then
pairs the two readings' vessel-wall cross-sections by their position along the
artery and prints, per measurement, the ICC(A,1) with its 95 % CI and the study's
band (< 0.4 poor, 0.4-0.75 fair to good, > 0.75 excellent; pingouin) with the mean
difference and limits of agreement, and Cohen's kappa (statsmodels) of the
calcified / not calcified call per cross-section; then the calcifications side by
side (one artery holds too few of them for an ICC).
The baseline is reader A against itself (ICC 1, kappa 1). Run from the repository
root::

    .venv/bin/python benchmarks/head_agreement.py [--shift-mm 0.4] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from napari_calcium.cohort.agreement import compare_readings

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args) -> None:
    from napari_calcium.cli import main

    print("$ napari-calcium " + " ".join(map(str, args)), flush=True)
    status = main([str(a) for a in args])
    if status != 0:
        raise SystemExit(f"napari-calcium {args[0]} exited with {status}")


def edited_centerline(points: np.ndarray, shift_mm: float, seed: int) -> np.ndarray:
    """Every fourth point (and the last), inner points moved ``shift_mm`` across the
    vessel (perpendicular to the local direction) in a random direction."""
    keep = sorted({*range(0, len(points), 4), len(points) - 1})
    clicked = points[keep].copy()
    rng = np.random.default_rng(seed)
    for i in range(1, len(clicked) - 1):
        tangent = clicked[i + 1] - clicked[i - 1]
        tangent /= np.linalg.norm(tangent)
        random = rng.normal(size=3)
        across = random - random.dot(tangent) * tangent
        clicked[i] += shift_mm * across / np.linalg.norm(across)
    return clicked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shift-mm", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the readings here (default: temporary)")
    args = parser.parse_args()
    head = ROOT / "sample_data" / "head"
    with tempfile.TemporaryDirectory(prefix="napari-calcium-readers-") as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        _cli("register", head / "ct", head / "mri.nii.gz", "--transform", out / "mri_to_ct.tfm")
        points = np.loadtxt(head / "centerline.csv", delimiter=",", skiprows=1)
        edited = edited_centerline(points, args.shift_mm, args.seed)
        np.savetxt(
            out / "centerline_B.csv", edited, delimiter=",", header="x_mm,y_mm,z_mm", comments=""
        )
        print(f"reader B: {len(edited)} of {len(points)} points, inner ones moved "
              f"{args.shift_mm} mm across the vessel")  # fmt: skip
        for reader, centerline in (
            ("A", head / "centerline.csv"),
            ("B", out / "centerline_B.csv"),
        ):
            _cli(
                "intracranial", head / "ct", "--centerline", centerline,
                "--mri", head / "vwmri.nii.gz", "--transform", out / "mri_to_ct.tfm",
                "--artery", "ICA_left", "--json", out / f"reader_{reader}.json",
            )  # fmt: skip
        print("\nbaseline: reader A against itself")
        _cli("agreement", out / "reader_A.json", out / "reader_A.json", "--unit", "sections",
             "--names", "A,A2")  # fmt: skip
        print("\nreader A against reader B (edited centreline)")
        _cli("agreement", out / "reader_A.json", out / "reader_B.json", "--unit", "sections",
             "--out", out / "sections")  # fmt: skip
        print("\nthe calcifications side by side (one artery: too few for an ICC)")
        calcifications = compare_readings(
            out / "reader_A.json", out / "reader_B.json", "calcifications"
        )
        consensus = calcifications["consensus"]
        print(consensus.pivot(index="measure", columns="target", values=["A", "B"]).to_string())
        if len(calcifications["unmatched"]):
            print("found by one reader only:")
            print(calcifications["unmatched"].to_string(index=False))


if __name__ == "__main__":
    main()
