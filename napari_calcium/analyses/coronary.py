"""The coronary calcium job: a non-contrast cardiac CT (+ artery labels) -> scores.

``Options`` declares every input and setting once (the ``coronary`` subcommand, its
manifest columns and the coronary widget's defaults come from it); :func:`run` reads
the files and calls :func:`~napari_calcium.calcium.coronary.measure_coronary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_calcium.analyses.base import Job, Result, check_cancel, report
from napari_calcium.analyses.options import CHOICE, FLAG, FLOAT, INT, PATH, TEXT, option
from napari_calcium.calcium.coronary import (
    HU_CHECKS,
    SLICE_MODES,
    THRESHOLD_RULES,
    CoronarySettings,
    artery_names_from_text,
)
from napari_calcium.errors import InputError
from napari_calcium.scores.agatston import CATEGORY_SCHEMES


def _artery_names(text: str) -> None:
    artery_names_from_text(text)  # an InputError is a ValueError with the reason


@dataclass(frozen=True)
class Options:
    """Inputs and settings of a coronary calcium scoring."""

    ct: Path | None = option(
        kind=PATH,
        positional=True,
        required=True,
        help="non-contrast cardiac CT in HU (DICOM, NIfTI ...)",
        column_help="non-contrast cardiac CT in HU",
    )
    arteries: Path | None = option(
        kind=PATH,
        help="artery label image on the CT grid (1 LM, 2 LAD, 3 LCX, 4 RCA); without it "
        "every candidate is scored as 'unassigned'",
        column_help="artery labels on the CT grid (1 LM, 2 LAD, 3 LCX, 4 RCA)",
    )
    artery_names: str = option(
        "LM,LAD,LCX,RCA",
        kind=TEXT,
        check=_artery_names,
        help="names of labels 1, 2, 3, ... in order (default LM,LAD,LCX,RCA); branches "
        "listed apart (e.g. LM,LAD,LCX,RCA,D1) are scored apart and not counted in CAC-DRS N",
        column_help='names of labels 1, 2, ... (quoted: "LM,LAD,LCX,RCA,D1")',
    )
    threshold_hu: float = option(130.0, kind=FLOAT, unit="HU", help="candidate threshold (HU, >=)")
    min_area_mm2: float = option(
        1.0, kind=FLOAT, unit="mm²", minimum=0.0, help="minimum slice-lesion area (mm²)"
    )
    min_pixels: int | None = option(
        kind=INT, minimum=1, help="also require this many pixels per slice-lesion"
    )
    connectivity: int = option(8, kind=CHOICE, choices=(4, 8), help="in-plane connectivity")
    slice_mode: str = option(
        "resample3mm",
        kind=CHOICE,
        choices=SLICE_MODES,
        help="resample3mm (default): score 3-mm slab averages; native: score the slices "
        "and scale by increment / 3 mm",
        column_help="resample3mm: 3-mm slab averages; native: the slices scaled by increment",
    )
    kvp_adjusted: bool = option(
        False,
        kind=FLAG,
        help="kVp-specific threshold and weights (values unverified, see docs)",
    )
    threshold_rule: str = option(
        "fixed",
        kind=CHOICE,
        choices=THRESHOLD_RULES,
        help="fixed (default): --threshold-hu; kvp_formula: round(378 exp(-0.009 kV)) HU from "
        "the CT's kVp with kV-table weights, weight 0 below the table's first edge",
        column_help="fixed: threshold_hu; kvp_formula: round(378 exp(-0.009 kV)) HU",
    )
    category_scheme: str = option(
        "rumberger",
        kind=CHOICE,
        choices=tuple(CATEGORY_SCHEMES),
        help="risk categories: rumberger (default) 0/1-10/11-100/101-400/>400; "
        "mesa 0/1-99/100-399/>=400",
        column_help="risk categories: rumberger or mesa",
    )
    calibration_mg_per_hu: float | None = option(
        kind=FLOAT,
        unit="mg HA/cm³ per HU",
        minimum=0.0,
        exclusive=True,
        help="mass calibration factor c in mg HA/cm³ per HU (rho_HA / (CT_HA - CT_water))",
        column_help="mass calibration (mg HA/cm³ per HU)",
    )
    calibration_rois: Path | None = option(
        kind=PATH,
        help="label image on the CT grid, 1 = HA insert, 2 = water/resin: sets the mass "
        "calibration and the insert HU mean and SD (needs --calibration-rho)",
        column_help="calibration ROIs: 1 HA insert, 2 water/resin",
    )
    calibration_rho: float | None = option(
        kind=FLOAT,
        unit="mg/cm³",
        minimum=0.0,
        exclusive=True,
        help="HA density of the calibration insert (mg/cm³)",
    )
    calibration_insert_hu: float | None = option(
        kind=FLOAT,
        unit="HU",
        help="mean HU of the calibration insert (volume-fraction mass, SWCS)",
    )
    calibration_insert_sd_hu: float | None = option(
        kind=FLOAT,
        unit="HU",
        minimum=0.0,
        exclusive=True,
        help="HU standard deviation in the insert (SWCS)",
    )
    radiomics: bool = option(False, kind=FLAG, help="add PyRadiomics features per lesion")
    hu_check: str = option(
        "air",
        kind=CHOICE,
        choices=tuple(HU_CHECKS),
        aliases={"--no-hu-check": "off"},
        help="how the CT is checked to be in HU: air (default) refuses a CT whose minimum "
        "is above -200 HU; cropped takes a CT in HU cropped inside the body (no air) when "
        ">= 5 % of its voxels are at -150..150 HU, more than at 874..1174 (raw values), and "
        "99 % within -1100..3100 HU; off checks nothing",
        column_help="HU check of the CT: air (default), cropped (a CT in HU cropped "
        "inside the body), off",
    )
    heart: Path | None = option(
        kind=PATH,
        help="heart mask (any grid, same frame): lesions outside it are flagged, not counted",
    )
    allow_contrast: bool = option(
        False,
        kind=FLAG,
        help="score a CT whose blood pool looks contrast-enhanced (refused by default; the "
        "scores are then not valid Agatston scores)",
    )
    count_implausible: bool = option(
        False,
        kind=FLAG,
        help="count lesions flagged as implausible (too large, metal-bright, outside the heart)",
    )


@dataclass
class CoronaryJobResult(Result):
    """A coronary result: the report (JSON), the lesion table, and what the exports need.

    ``measured`` is the :class:`~napari_calcium.calcium.coronary.CoronaryResult`;
    ``source`` the CT's path, ``ct`` and ``arteries`` the Volumes read.
    """

    measured: object = None
    source: Path | None = None
    ct: object = None
    arteries: object = None
    _lesions: object = None

    def write_dicom(self, ct_source, seg_path=None, sr_path=None, patient_identity=False):
        """Write the artery labels as DICOM SEG and the scores as a TID 1500 SR; adds
        ``dicom_export`` to the JSON (:func:`~napari_calcium.calcium.coronary_dicom.write_coronary_dicom`)."""
        from napari_calcium.calcium.coronary_dicom import write_coronary_dicom

        if self.arteries is None:
            raise InputError(
                "--dicom-seg / --dicom-sr export the reader's artery labels",
                "give them with --arteries",
            )
        self.data["dicom_export"] = write_coronary_dicom(
            self.ct,
            self.arteries,
            self.data,
            seg_path=seg_path,
            sr_path=sr_path,
            ct_source=ct_source,
            patient_identity=patient_identity,
        )

    def save(
        self,
        json=None,
        csv=None,
        html=None,
        lesions=None,
        dicom_seg=None,
        dicom_sr=None,
        patient_identity: bool = False,
    ) -> None:
        """Write the outputs given a path: the DICOM SEG / SR (first: the JSON records
        them), the JSON, the lesion table (CSV), the HTML report, the lesion labels."""
        from napari_calcium.io import write
        from napari_calcium.io.atomic import atomic_write_text, write_json
        from napari_calcium.report import coronary_csv_text

        if dicom_seg or dicom_sr:
            self.write_dicom(self.source, dicom_seg, dicom_sr, patient_identity)
        if json:
            write_json(json, self.data)
        if csv:
            atomic_write_text(csv, coronary_csv_text(self.data))
        if lesions:
            write(self.lesions(), lesions)
        if html:
            atomic_write_text(html, self.html())

    def html(self) -> str:
        """The one-page HTML report (:func:`~napari_calcium.report.coronary_html`)."""
        from napari_calcium.report import coronary_html

        return coronary_html(self.data, self.measured.scoring_ct, self.lesions())

    def lesions(self):
        """The lesion label image on the scoring grid (computed once)."""
        if self._lesions is None:
            self._lesions = self.measured.lesion_labels()
        return self._lesions

    def tables(self) -> dict[str, list[dict]]:
        from napari_calcium.report import coronary_lesion_rows

        return {"lesions": coronary_lesion_rows(self.data)}

    def layers(self) -> dict:
        return {"lesions": self.lesions()}


def settings_from(options: Options, ct, names: dict[int, str]) -> CoronarySettings:
    """The :class:`CoronarySettings` the options ask for (calibration from ROIs read here)."""
    from napari_calcium.calcium.coronary import (
        artery_colors_for,
        calibration_from_rois,
        calibration_settings,
    )
    from napari_calcium.io import read

    calibration = {
        "calibration_mg_cm3_per_hu": options.calibration_mg_per_hu,
        "calibration_insert_hu": options.calibration_insert_hu,
        "calibration_insert_sd_hu": options.calibration_insert_sd_hu,
        "calibration_rho_mg_cm3": options.calibration_rho,
    }
    if options.calibration_rois is not None:
        if options.calibration_rho is None:
            raise InputError(
                "--calibration-rois needs the insert's density",
                "add --calibration-rho (mg HA/cm³, from the phantom's sheet)",
            )
        rois = read(options.calibration_rois).replace(modality="LABELS", units="label")
        calibration = calibration_settings(
            calibration_from_rois(ct, rois, options.calibration_rho)
        )
    return CoronarySettings(
        artery_names=names,
        artery_colors=artery_colors_for(names),
        threshold_hu=options.threshold_hu,
        min_area_mm2=options.min_area_mm2,
        min_pixels=options.min_pixels,
        connectivity_2d=options.connectivity,
        slice_mode=options.slice_mode,
        kvp_adjusted=options.kvp_adjusted,
        threshold_rule=options.threshold_rule,
        category_scheme=options.category_scheme,
        **calibration,
        radiomics=options.radiomics,
        hu_check=options.hu_check,
        allow_contrast=options.allow_contrast,
        count_implausible=options.count_implausible,
    )


def run(options: Options, progress=None, cancel=None) -> CoronaryJobResult:
    """Read the CT (and labels), score it; layers: the lesion labels on the scoring grid."""
    from napari_calcium.calcium.coronary import measure_coronary
    from napari_calcium.io import read

    report(progress, "reading the CT", 0.0)
    names = artery_names_from_text(options.artery_names)  # refused before reading
    ct = read(options.ct, modality="CT")
    settings = settings_from(options, ct, names)
    arteries = heart = None
    if options.arteries is not None:
        arteries = read(options.arteries).replace(modality="LABELS", units="label")
    if options.heart is not None:
        heart = read(options.heart).replace(modality="LABELS", units="label")
    check_cancel(cancel)
    report(progress, "scoring", 0.3)
    measured = measure_coronary(ct, arteries, settings, heart)
    report(progress, "done", 1.0)
    return CoronaryJobResult(
        measured.report, measured=measured, source=options.ct, ct=ct, arteries=arteries
    )


JOB = Job(
    "coronary",
    Options,
    run,
    help="coronary artery calcium: Agatston, volume and mass scores, CAC-DRS, lesion table",
    lesion_keys=("lesions",),
)
