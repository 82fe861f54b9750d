"""A synthetic vertebrobasilar plaque study with a known adjusted odds ratio.

:func:`draw_vba_study` draws patients the way the vertebrobasilar VW-MRI + CT study
(CLINICAL_RULES 0b) describes them: clinical covariates (age, sex, BMI, smoking,
diabetes, hypertension, coronary heart disease, LDL, hs-CRP, statin, antiplatelet),
an artery (basilar or vertebral) with two plaques, each with its own stenosis,
remodeling, enhancement and calcification (none, intimal-predominant: thick, focal,
in two pieces, < 270 degrees; IEL-predominant: thin, continuous, circumferential;
with 0-2 spotty calcifications beside the main one), and whether each plaque is
the culprit.

The pattern depends on age and diabetes, which also raise the odds of a culprit
plaque (confounding), and the culprit label is drawn per plaque from the logistic
model :data:`CULPRIT_MODEL`::

    logit P(culprit) = b0 + b_intimal * intimal + b_age * (age - 63) / 10
                       + b_diabetes * diabetes + b_hypertension * hypertension
                       + b_crp * (hs-CRP - 2 mg/L)

with every other covariate's coefficient 0. Every term is linear in a manifest
column, so a logistic model on the Model 1 covariates as they stand in the manifest
contains the true model, and the true odds ratio of an intimal-predominant plaque
adjusted for them is ``exp(b_intimal)`` (4.9, the study's estimate); the crude one is larger, because
intimal plaques are commoner in older and diabetic patients. Stenosis, drawn larger
for intimal plaques but with no effect of its own, leaves the Model 2 odds ratio the
same.

:func:`plaque_images` renders one patient's CT, pre- and post-contrast vessel-wall
MRI and centreline from the draw with :func:`~napari_calcium.phantoms.vessel.vessel_ct`
and :func:`~napari_calcium.phantoms.vessel.vessel_mri`;
:func:`napari_calcium.samples.write_vba_study` writes the whole cohort with its
manifest (``napari-calcium sample vba-study DIR``).
"""

from __future__ import annotations

import math

import numpy as np

from napari_calcium.phantoms.vessel import PlaqueSpec, VesselGeometry

#: Coefficients (log odds) of the culprit model; keys are manifest columns or plaque
#: attributes. ``age_per_10y`` multiplies (age - 63) / 10, ``hs_crp_per_mg_l`` hs-CRP - 2 mg/L.
CULPRIT_MODEL = {
    "intercept": -1.6,
    "intimal_predominant": math.log(4.9),
    "age_per_10y": 0.5,
    "diabetes": 0.8,
    "hypertension": 0.6,
    "hs_crp_per_mg_l": 0.12,
}
#: Covariates of the study's adjustment Model 1 (manifest columns), all drawn.
MODEL_1 = (
    "age_years",
    "sex",
    "bmi_kg_m2",
    "smoking",
    "diabetes",
    "hypertension",
    "coronary_heart_disease",
    "location",
    "ldl_mmol_l",
    "hs_crp_mg_l",
    "statin",
    "antiplatelet",
)
#: The artery: an arc of 37 mm with plaques centred at 11 and 26 mm, each with a
#: 7 mm plateau and 2 mm tapers (5.5-16.5 and 20.5-31.5 mm), normal segments between.
GEOMETRY = VesselGeometry(length_mm=37.0, curvature_radius_mm=45.0)
PLAQUE_CENTRES_MM = (11.0, 26.0)
PLATEAU_MM, TAPER_MM = 7.0, 2.0
LUMEN_REF_MM, OUTER_REF_MM = 2.0, 2.8


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _patient(rng, index: int) -> dict:
    age = float(np.clip(rng.normal(63.0, 9.0), 40.0, 88.0))
    return {
        "subject_id": f"VB{index + 1:03d}",
        "age_years": round(age, 1),
        "sex": "M" if rng.random() < 0.65 else "F",
        "bmi_kg_m2": round(float(rng.normal(25.0, 3.0)), 1),
        "smoking": int(rng.random() < 0.4),
        "diabetes": int(rng.random() < 0.3),
        "hypertension": int(rng.random() < 0.6),
        "coronary_heart_disease": int(rng.random() < 0.15),
        "ldl_mmol_l": round(float(np.clip(rng.normal(2.8, 0.8), 0.8, 6.0)), 2),
        "hs_crp_mg_l": round(float(np.exp(rng.normal(math.log(2.0), 0.8))), 2),
        "statin": int(rng.random() < 0.4),
        "antiplatelet": int(rng.random() < 0.5),
        "location": "basilar" if rng.random() < 0.55 else "vertebral",
    }


def _pattern(rng, patient: dict) -> str:
    """none / intimal / iel, with intimal commoner in older and diabetic patients."""
    age10 = (patient["age_years"] - 63.0) / 10.0
    weights = np.exp([0.0, -0.1 + 0.6 * age10 + 1.0 * patient["diabetes"], 0.2 - 0.3 * age10])
    return str(rng.choice(["none", "intimal", "iel"], p=weights / weights.sum()))


def _plaque(rng, centre_mm: float, pattern: str) -> dict:
    """Wall geometry and calcification of one plaque (mm, HU), inside the wall."""
    if pattern == "iel":  # a ring under the outer wall needs a wide, centred wall
        offset = float(rng.uniform(0.1, 0.3))
        lumen_min = float(rng.uniform(1.2, 1.6))
        outer_max = float(rng.uniform(3.2, 3.5))
    else:
        offset = float(rng.uniform(0.4, 0.7))
        lumen_min = float(rng.uniform(1.0, 1.4) if pattern == "intimal" else rng.uniform(1.1, 1.7))
        outer_max = float(rng.uniform(2.8, 3.3))
        if pattern == "intimal":  # room for 1.7 mm of calcium on the thick side
            outer_max = max(outer_max, lumen_min - offset + 2.15)
    return {
        "centre_mm": centre_mm,
        "pattern": pattern,
        "lumen_min_mm": round(lumen_min, 3),
        "outer_max_mm": round(outer_max, 3),
        "offset_max_mm": round(offset, 3),
        "offset_theta_deg": float(rng.uniform(0.0, 360.0)),
        "enhancement": round(float(rng.uniform(1.3, 2.4)), 3),
        "calcium_hu": round(
            float(
                np.clip(rng.normal(260.0 if pattern == "intimal" else 330.0, 45.0), 190.0, 520.0)
            ),
            1,
        ),
        "n_spotty": int(rng.integers(0, 3)) if pattern != "none" else 0,
    }


def _culprit_logit(patient: dict, intimal: int) -> float:
    m = CULPRIT_MODEL
    return (
        m["intercept"]
        + m["intimal_predominant"] * intimal
        + m["age_per_10y"] * (patient["age_years"] - 63.0) / 10.0
        + m["diabetes"] * patient["diabetes"]
        + m["hypertension"] * patient["hypertension"]
        + m["hs_crp_per_mg_l"] * (patient["hs_crp_mg_l"] - 2.0)
    )


def draw_vba_study(n_subjects: int = 80, seed: int = 3) -> dict:
    """Patients, plaques and culprit labels of the synthetic study (pure, seeded).

    Returns
    -------
    dict with ``subjects`` (one dict per patient: the covariates, ``plaques`` — two
    dicts with the construction, the designed ``pattern`` and the drawn
    ``culprit`` — and ``culprit_mm``, the culprit plaques' centres) and ``truth``
    (the culprit model, the true adjusted odds ratio and the Model 1 covariates).
    """
    if n_subjects < 1:
        raise ValueError("n_subjects must be at least 1")
    rng = np.random.default_rng(seed)
    subjects = []
    for index in range(n_subjects):
        patient = _patient(rng, index)
        plaques = [_plaque(rng, c, _pattern(rng, patient)) for c in PLAQUE_CENTRES_MM]
        for plaque in plaques:
            p = _expit(_culprit_logit(patient, int(plaque["pattern"] == "intimal")))
            plaque["culprit_probability"] = round(p, 4)
            plaque["culprit"] = int(rng.random() < p)
        patient["plaques"] = plaques
        patient["culprit_mm"] = [p["centre_mm"] for p in plaques if p["culprit"]]
        patient["symptomatic"] = int(bool(patient["culprit_mm"]))
        subjects.append(patient)
    truth = {
        "culprit_model": CULPRIT_MODEL,
        "true_adjusted_or_intimal": math.exp(CULPRIT_MODEL["intimal_predominant"]),
        "adjusted_for": list(MODEL_1),
        "note": "culprit drawn per plaque from the logistic model; other covariates have "
        "coefficient 0, so the Model 1 odds ratio of intimal-predominant calcification "
        "is exp(b_intimal); stenosis has no effect of its own (Model 2 the same)",
        "seed": seed,
        "n_subjects": n_subjects,
        "n_plaques": 2 * n_subjects,
        "n_culprit": int(sum(p["culprit"] for s in subjects for p in s["plaques"])),
        "patterns": {
            k: int(sum(p["pattern"] == k for s in subjects for p in s["plaques"]))
            for k in ("none", "intimal", "iel")
        },
    }
    return {"subjects": subjects, "truth": truth}


def _calcifications(plaque: dict) -> dict:
    """Boxes ``(s, rho, theta)`` of a plaque's calcifications inside its wall."""
    c, pattern = plaque["centre_mm"], plaque["pattern"]
    thick_side = (plaque["offset_theta_deg"] + 180.0) % 360.0
    out = {}
    if pattern == "intimal":  # two thick focal pieces, 4.6 mm span: irregular, < 270 deg
        inner = plaque["lumen_min_mm"] - plaque["offset_max_mm"] + 0.25
        rho = (inner, inner + 1.7)
        out["main"] = [
            ((c - 2.3, c - 0.7), rho, (thick_side - 60.0, thick_side + 50.0)),
            ((c + 0.7, c + 2.3), rho, (thick_side - 45.0, thick_side + 65.0)),
        ]
    elif pattern == "iel":  # thin continuous ring under the outer wall, 6.4 mm, 320 deg
        outer = plaque["outer_max_mm"]
        start = plaque["offset_theta_deg"] + 20.0
        out["main"] = [((c - 3.2, c + 3.2), (outer - 0.75, outer - 0.15), (start, start + 320.0))]
    for k in range(plaque["n_spotty"]):  # 1 mm x 40 deg spots in the tapers, apart
        s0 = c + (4.0 if k == 0 else -5.0)
        out[f"spot{k + 1}"] = [
            ((s0, s0 + 1.0), (2.2, 2.7), (thick_side - 20.0, thick_side + 20.0))
        ]
    return out


def _wrapped(boxes):
    """Split boxes whose theta range leaves [0, 360) into two."""
    out = []
    for s, rho, (t0, t1) in boxes:
        t0, t1 = t0 % 360.0, t0 % 360.0 + (t1 - t0)
        if t1 <= 360.0:
            out.append((s, rho, (t0, t1)))
        else:
            out += [(s, rho, (t0, 360.0)), (s, rho, (0.0, t1 - 360.0))]
    return out


def plaque_images(subject: dict, ct_spacing_mm=(0.4, 0.4, 0.45), mri_spacing_mm=(0.35,) * 3):
    """CT, pre- and post-contrast VW-MRI, centreline and truth of one drawn patient.

    Returns
    -------
    ct, mri, mri_post : Volumes in one physical space (no transform needed).
    centerline_mm : (N, 3) reader-like centreline points every 3 mm.
    truth : per plaque the construction, the designed pattern and the MRI truth
        (stenosis, remodeling index, enhancement ratio ...).
    """
    from napari_calcium.phantoms.vessel import vessel_ct, vessel_mri

    specs, calcium = [], {}
    for number, plaque in enumerate(subject["plaques"], start=1):
        specs.append(
            PlaqueSpec(
                center_mm=plaque["centre_mm"],
                plateau_mm=PLATEAU_MM,
                taper_mm=TAPER_MM,
                lumen_ref_mm=LUMEN_REF_MM,
                lumen_min_mm=plaque["lumen_min_mm"],
                outer_ref_mm=OUTER_REF_MM,
                outer_max_mm=plaque["outer_max_mm"],
                offset_max_mm=plaque["offset_max_mm"],
                offset_theta_deg=plaque["offset_theta_deg"],
                enhancement=plaque["enhancement"],
            )
        )
        for name, boxes in _calcifications(plaque).items():
            hu = plaque["calcium_hu"] if name == "main" else 250.0
            calcium[f"plaque{number}_{name}"] = {"boxes": _wrapped(boxes), "calcium_hu": hu}
    ct, ct_truth = vessel_ct(
        spacing_mm=ct_spacing_mm, geometry=GEOMETRY, calcification_specs=calcium
    )
    mri, mri_truth = vessel_mri(spacing_mm=mri_spacing_mm, geometry=GEOMETRY, plaques=specs)
    post, _ = vessel_mri(
        spacing_mm=mri_spacing_mm, geometry=GEOMETRY, plaques=specs, post_contrast=True
    )
    truth = {
        "plaques": [
            {**plaque, "mri": plaque_truth}
            for plaque, plaque_truth in zip(subject["plaques"], mri_truth["plaques"], strict=True)
        ],
        "calcifications": ct_truth["calcifications"],
    }
    return ct, mri, post, np.asarray(ct_truth["centerline_mm"]), truth
