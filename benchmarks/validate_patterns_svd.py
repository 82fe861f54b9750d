"""Accuracy of the intracranial pattern and the small-vessel markers on independent cases.

Runs the intracranial job on the head-CT cases of
:mod:`napari_calcium.phantoms.head_cases` and the small vessel disease markers on the
brain-MRI cases of :mod:`napari_calcium.phantoms.brain_cases`, development (tuning)
and held-out lists apart, and prints against the construction:

* head CT: the pattern of every artery segment (two-class and three-class) and of
  every calcification, and each calcification's arc error (deg);
* brain MRI: WMH volume error (%) of the automatic segmentation, microbleed
  sensitivity (2 mm ones apart) and false candidates per scan;
* the real FLAIR of the NiiVue demo images, when present locally: WMH volume and the
  Dice overlap with the drawn lesion map (a stroke lesion, not WMH: information only).

Usage (from the repository root)::

    .venv/bin/python benchmarks/validate_patterns_svd.py [--json out.json] [--quick]
        [--cache DIR]

``--cache DIR`` keeps each built brain case (a pickle named by its seed and a hash of
its configuration), so a second run measures without building them again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import time
from pathlib import Path

import numpy as np

from napari_calcium.intracranial import run_intracranial
from napari_calcium.phantoms import brain_cases, head_cases
from napari_calcium.svd import run_svd_with_masks

LOCAL_DATA = Path(
    os.environ.get("NAPARI_CALCIUM_LOCAL_DATA", Path.home() / ".cache/napari-calcium/local-data")
)


def head_run(cases) -> dict:
    rows, segments_right, calcs_right, arc_errors = [], 0, 0, []
    n_segments = n_calcs = 0
    for seed, case in cases:
        ct, truth = head_cases.head_case(seed, case)
        out = run_intracranial(ct, truth["centerline_mm"], segments=truth["segments"])
        for name, seg in out["segments"].items():
            two, three = truth["segment_patterns"][name]
            right = seg["pattern_two_class"] == two and seg["pattern_three_class"] == three
            segments_right += right
            n_segments += 1
            rows.append(
                f"  seed {seed} {case.pattern:8s} {name:9s} two-class {seg['pattern_two_class']:22s}"
                f" three-class {seg['pattern_three_class']:25s} {'ok' if right else 'WRONG'}"
            )
        for t in truth["calcifications"]:
            mid = 0.5 * sum(t["s_range_mm"])
            found = [
                c for c in out["calcifications"] if c["start_mm"] - 1.0 <= mid <= c["end_mm"] + 1.0
            ]
            n_calcs += 1
            if not found:
                rows.append(f"    calcification at {mid:.1f} mm NOT FOUND")
                continue
            c = found[0]
            two, three = truth["segment_patterns"][t["segment"]]
            calcs_right += c["pattern_two_class"] == two and c["pattern_three_class"] == three
            arc_errors.append(c["arc_deg"] - t["arc_deg"])
            rows.append(
                f"    calcification {c['id']}: arc {c['arc_deg']:.0f} (design {t['arc_deg']:.0f}),"
                f" thickness {c['thickness_mm']:.2f} (design {t['thickness_mm']:.2f}) mm"
            )
    errors = np.abs(arc_errors)
    return {
        "rows": rows,
        "segments_right": segments_right,
        "segments": n_segments,
        "calcifications_right": calcs_right,
        "calcifications": n_calcs,
        "arc_error_max_deg": float(errors.max()) if errors.size else None,
        "arc_error_mean_deg": float(errors.mean()) if errors.size else None,
    }


def brain_case(seed, case, cache: Path | None = None):
    """:func:`brain_cases.brain_case`, kept in ``cache`` when given."""
    if cache is None:
        return brain_cases.brain_case(seed, case)
    key = hashlib.sha1(repr((seed, case)).encode()).hexdigest()[:12]
    path = cache / f"brain_{seed}_{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    built = brain_cases.brain_case(seed, case)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(built))
    tmp.replace(path)
    return built


def brain_run(cases, cache: Path | None = None) -> dict:
    from napari_calcium.errors import InputError

    rows, errors, refused = [], [], 0
    found = total = found_2mm = total_2mm = false_total = 0
    false_max = 0
    for seed, case in cases:
        flair, swi, truth = brain_case(seed, case, cache)
        try:
            record, _ = run_svd_with_masks(flair, swi)
        except InputError as err:
            refused += 1
            rows.append(f"  seed {seed}: refused: error: {err}")
            continue
        error = 100.0 * (record["wmh_volume_ml"] / truth["wmh_volume_ml"] - 1.0)
        errors.append(error)
        candidates = record["microbleeds"]["candidates"]
        positions = np.array([c["position_mm"] for c in candidates]).reshape(-1, 3)
        hits = 0
        for m in truth["microbleeds"]:
            d = np.linalg.norm(positions - m["position_mm"], axis=1) if len(positions) else []
            hit = len(d) and d.min() < max(2.0, m["diameter_mm"] / 2)
            hits += bool(hit)
            if m["diameter_mm"] <= 2.0 + 1e-9:
                total_2mm += 1
                found_2mm += bool(hit)
        truth_pos = np.array([m["position_mm"] for m in truth["microbleeds"]])
        false = sum(np.linalg.norm(truth_pos - p, axis=1).min() >= 3.0 for p in positions)
        found += hits
        total += len(truth["microbleeds"])
        false_total += false
        false_max = max(false_max, false)
        rows.append(
            f"  seed {seed}: WMH design {truth['wmh_volume_ml']:.3f} mL, measured "
            f"{record['wmh_volume_ml']:.3f} mL ({error:+.1f} %); microbleeds {hits}/"
            f"{len(truth['microbleeds'])} found, {false} false"
        )
    return {
        "rows": rows,
        "wmh_error_pct": errors,
        "wmh_error_max_abs_pct": float(np.max(np.abs(errors))),
        "microbleed_sensitivity": found / total,
        "microbleeds": total,
        "microbleed_2mm_found": found_2mm,
        "microbleed_2mm": total_2mm,
        "false_per_scan_max": false_max,
        "false_total": false_total,
        "refused": refused,
    }


def real_flair() -> dict | None:
    """The real FLAIR with the default settings; if they refuse it, the reason, and a
    second run without ventricles (an empty ventricle map: WMH volume and Dice only,
    no periventricular/deep split; information only)."""
    from napari_calcium.errors import InputError
    from napari_calcium.io import read

    flair_path = LOCAL_DATA / "niivue/FLAIR.nii.gz"
    lesion_path = LOCAL_DATA / "niivue/lesion.nii.gz"
    if not (flair_path.exists() and lesion_path.exists()):
        return None
    flair = read(flair_path, modality="MR")
    lesion = read(lesion_path, modality="MR").numpy() > 0
    out = {"default_settings_error": None, "settings_used": "defaults"}
    try:
        record, masks = run_svd_with_masks(flair)
    except InputError as err:
        out["default_settings_error"] = str(err)
        out["settings_used"] = "no ventricles (empty ventricle map)"
        empty = flair.with_array(np.zeros(flair.shape, np.uint8))
        record, masks = run_svd_with_masks(flair, ventricle_labels=empty)
    wmh = masks["wmh"]
    dice = 2.0 * (wmh & lesion).sum() / max(wmh.sum() + lesion.sum(), 1)
    return out | {
        "wmh_volume_ml": record["wmh_volume_ml"],
        "lesion_map_volume_ml": float(lesion.sum() * flair.voxel_volume_mm3 / 1000.0),
        "dice_with_lesion_map": float(dice),
        "fazekas_suggested": [record["fazekas_periventricular"], record["fazekas_deep"]],
        "ventricle_volume_ml": record["ventricle_volume_ml"],
        "wmh_in_ventricles_ml": float(
            (wmh & masks["ventricles"]).sum() * flair.voxel_volume_mm3 / 1000.0
        ),
        "warnings": record.get("warnings") or [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--quick", action="store_true", help="two cases per list")
    parser.add_argument("--cache", type=Path, help="keep the built brain cases here")
    args = parser.parse_args()
    cut = 2 if args.quick else None
    results = {}
    start = time.perf_counter()
    head_lists = (
        ("tuning", head_cases.TUNING),
        ("held-out (first look)", head_cases.HELD_OUT),
        ("held-out (fresh)", head_cases.HELD_OUT_FRESH),
    )
    for name, cases in head_lists:
        r = head_run(cases[:cut])
        results[f"head CT {name}"] = r
        print(f"head CT, {name} cases:")
        print("\n".join(r["rows"]))
        print(
            f"  segments right {r['segments_right']}/{r['segments']}, calcifications right "
            f"{r['calcifications_right']}/{r['calcifications']}, arc error mean "
            f"{r['arc_error_mean_deg']:.1f} max {r['arc_error_max_deg']:.1f} deg"
        )
    lists = (
        ("tuning", brain_cases.TUNING),
        ("held-out (first look)", brain_cases.HELD_OUT),
        ("held-out (fresh)", brain_cases.HELD_OUT_FRESH),
        ("held-out (anatomy)", brain_cases.HELD_OUT_ANATOMY),
    )
    for name, cases in lists:
        r = brain_run(cases[:cut], args.cache)
        results[f"brain MRI {name}"] = r
        print(f"brain MRI, {name} cases:")
        print("\n".join(r["rows"]))
        print(
            f"  WMH volume error max |{r['wmh_error_max_abs_pct']:.1f}| %; microbleed "
            f"sensitivity {r['microbleed_sensitivity']:.0%} of {r['microbleeds']} (2 mm: "
            f"{r['microbleed_2mm_found']}/{r['microbleed_2mm']}); false candidates per scan "
            f"at most {r['false_per_scan_max']}; cases refused {r['refused']}"
        )
    real = real_flair()
    results["real FLAIR (NiiVue demo)"] = real
    if real is None:
        print("real FLAIR: not present locally, skipped")
    else:
        if real["default_settings_error"]:
            print(f"real FLAIR with the default settings: error: {real['default_settings_error']}")
        print(
            f"real FLAIR (NiiVue demo, information only; {real['settings_used']}): "
            f"WMH {real['wmh_volume_ml']:.2f} mL; "
            f"drawn lesion map {real['lesion_map_volume_ml']:.2f} mL (a stroke lesion, not "
            f"WMH); Dice {real['dice_with_lesion_map']:.2f}; suggested Fazekas PV/deep "
            f"{real['fazekas_suggested']}; ventricles {real['ventricle_volume_ml']:.1f} mL, "
            f"WMH inside them {real['wmh_in_ventricles_ml']:.2f} mL; warnings "
            f"{real['warnings'] or 'none'}"
        )
    print(f"total {time.perf_counter() - start:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
