"""The main job on the bundled sample data: read everything, measure, report.

``napari-calcium demo --out DIR`` writes the samples (:mod:`napari_calcium.samples`)
into ``DIR/samples/`` once, or reads them from ``--samples FOLDER`` (the files
``napari-calcium sample all FOLDER`` wrote, such as a checkout's ``sample_data/``),
runs every analysis on them, and writes ``DIR/report.json`` and ``DIR/report.html``;
each analysis's own JSON is written beside them. With a display (and without
``--no-gui``) it then opens napari with the samples and the plugin's widgets.
"""

from __future__ import annotations

import html
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from napari_calcium.io.atomic import atomic_write_text, write_json

log = logging.getLogger(__name__)


def sample_folder(outdir: Path, samples=None) -> Path:
    """The samples to run on: ``samples`` (checked) or, without it, ``outdir/samples/``
    (written there by :func:`napari_calcium.samples.write_sample` unless already there)."""
    from napari_calcium.errors import InputError
    from napari_calcium.samples import SAMPLES, write_sample

    if samples is not None:
        samples = Path(samples)
        missing = [name for name in SAMPLES if not (samples / name / "truth.json").is_file()]
        if missing:
            raise InputError(
                f"{samples} does not hold the samples {', '.join(missing)}",
                f"write them with 'napari-calcium sample all {samples}', or leave out "
                "--samples to write them into the report folder",
            )
        return samples
    folder = Path(outdir) / "samples"
    if all((folder / name / "truth.json").is_file() for name in SAMPLES):
        return folder
    log.warning("writing the samples to %s", folder)
    return write_sample("all", folder)


def _read_all(samples: Path) -> dict:
    """Geometry and acquisition facts of every sample file, as read."""
    from napari_calcium.io import read

    files = {
        "coronary CT (DICOM series)": (samples / "coronary-ct" / "ct", {}),
        "coronary CT thin slices (DICOM series)": (samples / "coronary-ct-thin" / "ct", {}),
        "coronary artery labels (NIfTI)": (samples / "coronary-ct" / "artery_labels.nii.gz", {}),
        "IVUS pullback (multi-frame DICOM)": (
            samples / "ivus" / "pullback.dcm",
            {"pullback_speed_mm_s": _truth(samples / "ivus")["pullback_speed_mm_s"]},
        ),
        "head CT (DICOM series)": (samples / "head" / "ct", {}),
        "head T1 MRI (NIfTI)": (samples / "head" / "mri.nii.gz", {"modality": "MR"}),
        "head vessel-wall MRI slab (NIfTI)": (
            samples / "head" / "vwmri.nii.gz",
            {"modality": "MR"},
        ),
        "brain FLAIR (NIfTI)": (samples / "brain" / "flair.nii.gz", {"modality": "MR"}),
        "brain SWI (NIfTI)": (samples / "brain" / "swi.nii.gz", {"modality": "MR"}),
    }
    out = {}
    for label, (path, options) in files.items():
        volume = read(path, **options)
        out[label] = {"path": str(path), **volume.geometry_dict()}
    return out


def _truth(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text())


def _job(name: str, outputs: dict, **options) -> dict:
    """Run job ``name`` (:mod:`napari_calcium.analyses`) with ``options``, write its
    ``outputs`` (its result's ``save`` keywords); the JSON as written."""
    from napari_calcium.analyses import JOBS

    job = JOBS[name]
    result = job.run(job.options(**options))
    result.save(**outputs)
    return json.loads(Path(outputs["json"]).read_text())


def _coronary(samples: Path, out: Path) -> dict:
    folder = samples / "coronary-ct"
    result = _job(
        "coronary",
        {
            "json": out / "coronary.json",
            "csv": out / "coronary_lesions.csv",
            "html": out / "coronary.html",
        },
        ct=folder / "ct",
        arteries=folder / "artery_labels.nii.gz",
    )
    truth = _truth(folder)
    return {
        "headline": f"Agatston {result['agatston']:.1f} (truth {truth['agatston']:.1f}), "
        f"volume {result['volume_mm3']:.1f} mm3, {result['category']}, CAC-DRS {result['cac_drs']}",
        "agatston": result["agatston"],
        "truth_agatston": truth["agatston"],
        "per_artery_agatston": {k: v["agatston"] for k, v in result["per_artery"].items()},
        "files": ["coronary.json", "coronary_lesions.csv", "coronary.html"],
    }


def _ivus(samples: Path, out: Path) -> dict:
    folder = samples / "ivus"
    truth = _truth(folder)
    result = _job(
        "ivus",
        {"json": out / "ivus.json", "csv": out / "ivus_frames.csv", "html": out / "ivus.html"},
        pullback=folder / "pullback.dcm",
        pullback_speed_mm_s=float(truth["pullback_speed_mm_s"]),
    )
    arcs = [round(lesion["max_arc_deg"]) for lesion in result["lesions"]]
    truth_arcs = [round(lesion["max_arc_deg"]) for lesion in truth["lesions"]]
    return {
        "headline": f"{len(arcs)} calcium lesions, max arcs {arcs} deg (truth {truth_arcs}), "
        f"IVUS calcium score {result['ivus_calcium_score']['total']}; guidance: "
        f"{result['guidance']['category']}",
        "max_arcs_deg": arcs,
        "truth_max_arcs_deg": truth_arcs,
        "files": ["ivus.json", "ivus_frames.csv", "ivus.html"],
    }


def _register(samples: Path, out: Path) -> dict:
    """CT (fixed) with MRI (moving); the error is checked on the phantom's own landmarks."""
    import numpy as np
    import SimpleITK as sitk

    folder = samples / "head"
    result = _job(
        "register",
        {
            "transform_path": out / "mri_to_ct.tfm",
            "resampled_path": out / "mri_on_ct.nii.gz",
            "json": out / "register.json",
        },
        fixed=folder / "ct",
        moving=folder / "mri.nii.gz",
    )
    truth = _truth(folder)
    transform = sitk.ReadTransform(str(out / "mri_to_ct.tfm"))
    mapped = np.array([transform.TransformPoint(p) for p in truth["landmarks_ct_mm"]])
    errors_mm = np.linalg.norm(mapped - np.asarray(truth["landmarks_mri_mm"]), axis=1)
    return {
        "headline": f"rigid CT-MRI registration in {result['seconds']:.1f} s; error on "
        f"{len(errors_mm)} known landmarks mean {errors_mm.mean():.2f} mm, "
        f"max {errors_mm.max():.2f} mm",
        "landmark_error_mean_mm": float(errors_mm.mean()),
        "landmark_error_max_mm": float(errors_mm.max()),
        "files": ["register.json", "mri_to_ct.tfm", "mri_on_ct.nii.gz"],
    }


def _intracranial(samples: Path, out: Path) -> dict:
    """Calcification along the head CT's artery and plaque metrics on the registered MRI."""
    folder = samples / "head"
    if not (out / "mri_to_ct.tfm").is_file():
        _register(samples, out)
    result = _job(
        "intracranial",
        {"json": out / "intracranial.json", "csv": out / "intracranial_calcifications.csv"},
        ct=folder / "ct",
        centerline=folder / "centerline.csv",
        mri=folder / "vwmri.nii.gz",
        transform=out / "mri_to_ct.tfm",
    )
    truths = _truth(folder)
    truth, wall = truths["artery"]["calcification"], truths["vessel_wall_mri"]
    patterns = [c["pattern"] for c in result["calcifications"]]
    plaque = result["plaque"]
    caveat = " (wall metrics flagged: MRI too coarse)" if result["warnings"] else ""
    return {
        "headline": f"{len(patterns)} calcification(s), pattern {patterns} (truth "
        f"{truth['pattern']}); vessel-wall MRI at the reference site: lumen "
        f"{plaque['reference_lumen_area_mm2']:.1f} mm2 (truth {wall['lumen_area_mm2']:.1f}), "
        f"outer wall {plaque['reference_outer_wall_area_mm2']:.1f} mm2 (truth "
        f"{wall['outer_wall_area_mm2']:.1f}); stenosis {plaque['stenosis_pct']:.0f}% (truth "
        f"{wall['stenosis_pct']:.0f}){caveat}; plaque {plaque['class']}; grade "
        f"{result['grade']['grade']}",
        "warnings": result["warnings"],
        "patterns": patterns,
        "truth_pattern": truth["pattern"],
        "files": ["intracranial.json", "intracranial_calcifications.csv"],
    }


def _svd(samples: Path, out: Path) -> dict:
    folder = samples / "brain"
    result = _job(
        "svd",
        {"json": out / "svd.json"},
        flair=folder / "flair.nii.gz",
        swi=folder / "swi.nii.gz",
        region_map=folder / "regions.nii.gz",
    )
    truth = _truth(folder)
    candidates = result["microbleeds"]["candidates"]
    return {
        "headline": f"WMH {result['wmh_volume_ml']:.2f} mL (truth {truth['wmh_volume_ml']:.2f}), "
        f"suggested Fazekas PV {result['fazekas_periventricular']} / deep "
        f"{result['fazekas_deep']} (truth {truth['fazekas_periventricular']} / "
        f"{truth['fazekas_deep']}), {len(candidates)} microbleed candidates for review "
        f"(truth {truth['microbleed_count']} microbleeds)",
        "wmh_volume_ml": result["wmh_volume_ml"],
        "truth_wmh_volume_ml": truth["wmh_volume_ml"],
        "files": ["svd.json"],
    }


#: Analyses run by the demo: name -> function(samples folder, output folder) -> summary dict.
ANALYSES: dict[str, Callable[[Path, Path], dict]] = {
    "coronary calcium (CT)": _coronary,
    "IVUS pullback": _ivus,
    "CT-MRI registration (head)": _register,
    "intracranial calcification and vessel wall (head)": _intracranial,
    "small-vessel disease markers (FLAIR, SWI)": _svd,
}


def run_demo(outdir, gui: bool | None = None, samples=None) -> dict:
    """Read and analyse the samples (``samples`` folder, or written into ``outdir``),
    write the report; open napari when ``gui``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    samples = sample_folder(outdir, samples)
    report = {"samples": str(samples), "read": _read_all(samples), "measured": {}}
    for name, analyse in ANALYSES.items():
        start = time.perf_counter()
        summary = analyse(samples, outdir)
        summary["seconds"] = round(time.perf_counter() - start, 2)
        report["measured"][name] = summary
    write_json(outdir / "report.json", report, default=str)
    atomic_write_text(outdir / "report.html", _html(report))
    if gui is None:
        gui = bool(os.environ.get("DISPLAY")) and not os.environ.get("CI")
    if gui:
        open_viewer(samples)
    return report


def _html(report: dict) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{info['modality']}</td>"
        f"<td>{' x '.join(map(str, reversed(info['shape_zyx'])))}</td>"
        f"<td>{' x '.join(f'{s:.3g}' for s in info['spacing_mm'])}</td>"
        f"<td>{html.escape(info['units'])}</td></tr>"
        for label, info in report["read"].items()
    )
    measured = "".join(
        f"<h2>{html.escape(name)}</h2><p>{html.escape(summary['headline'])}</p>"
        f"<p class='files'>{summary['seconds']} s &middot; "
        + ", ".join(f"<a href='{html.escape(f)}'>{html.escape(f)}</a>" for f in summary["files"])
        + "</p>"
        for name, summary in report["measured"].items()
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>napari-calcium demo report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;"
        "border-bottom:1px solid #ccc}.files{color:#555;font-size:90%}</style><h1>napari-calcium demo report</h1>"
        "<p>Measured values are shown beside the phantoms' truth (known by construction)."
        " Decision support, not diagnosis.</p><h2>What was read</h2><table><tr><th>sample</th><th>modality</th>"
        "<th>size (x, y, z)</th><th>spacing (x, y, z) mm</th><th>units</th></tr>"
        f"{rows}</table>{measured}"
    )


def open_viewer(samples: Path) -> None:
    """Open napari with the sample coronary CT, its artery labels and the plugin's widgets."""
    import napari
    from npe2 import PluginManager

    from napari_calcium.widgets.coronary import ARTERIES

    viewer = napari.Viewer(title="napari-calcium demo")
    viewer.open(samples / "coronary-ct" / "ct", plugin="napari-calcium")
    (labels,) = viewer.open(
        samples / "coronary-ct" / "artery_labels.nii.gz", plugin="napari-calcium"
    )
    labels.name = ARTERIES
    manifest = PluginManager.instance().get_manifest("napari-calcium")
    for n, widget in enumerate(manifest.contributions.widgets or ()):
        viewer.window.add_plugin_dock_widget("napari-calcium", widget.display_name, tabify=n > 0)
    napari.run()
