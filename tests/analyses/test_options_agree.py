"""Every job option is declared once and agrees everywhere it appears.

For each option of each job's ``Options``: the subcommand's argument (flag, help,
default, choices), the manifest column (name, kind, help, required) and, where the
widget shows it, the widget field's default, all checked against the declaration.
Each option either has a widget field here or is listed with why it has none.
"""

import argparse
import dataclasses

import pytest

from napari_calcium.analyses import JOBS
from napari_calcium.analyses.options import defaults, specs
from napari_calcium.calcium.coronary import artery_names_from_text
from napari_calcium.cli import build_parser
from napari_calcium.cohort.manifest import ANALYSES


def _none_if(empty):
    return lambda value: None if value == empty else value


#: (job, option) -> (widget class name, field attribute, how to read its value as the option's).
WIDGET_FIELDS = {
    ("coronary", "threshold_hu"): ("CoronaryWidget", "threshold", lambda w: w.value()),
    ("coronary", "min_area_mm2"): ("CoronaryWidget", "min_area", lambda w: w.value()),
    ("coronary", "slice_mode"): ("CoronaryWidget", "slice_mode", lambda w: w.currentText()),
    ("coronary", "radiomics"): ("CoronaryWidget", "radiomics", lambda w: w.isChecked()),
    ("coronary", "allow_contrast"): ("CoronaryWidget", "allow_contrast", lambda w: w.isChecked()),
    ("coronary", "artery_names"): (
        "CoronaryWidget",
        "names_edit",
        lambda w: ",".join(artery_names_from_text(w.text()).values()),
    ),
    ("ivus", "pullback_speed_mm_s"): ("IvusWidget", "speed", lambda w: _none_if(0.0)(w.value)),
    ("ivus", "frame_rate_hz"): ("IvusWidget", "frame_rate", lambda w: _none_if(0.0)(w.value)),
    ("ivus", "pixel_spacing_mm"): ("IvusWidget", "pixel", lambda w: _none_if(0.0)(w.value)),
    ("ivus", "gated"): ("IvusWidget", "gated", lambda w: w.value),
    ("ivus", "all_frames"): ("IvusWidget", "all_frames", lambda w: w.value),
    ("intracranial", "threshold_hu"): ("IntracranialWidget", "threshold_hu", lambda w: w.value),
    ("intracranial", "region_radius_mm"): ("IntracranialWidget", "radius_mm", lambda w: w.value),
    ("intracranial", "step_mm"): ("IntracranialWidget", "step_mm", lambda w: w.value),
    ("intracranial", "refine_centerline"): ("IntracranialWidget", "refine", lambda w: w.value),
    ("intracranial", "artery"): ("IntracranialWidget", "artery", lambda w: w.value),
    ("intracranial", "reference_mm"): (
        "IntracranialWidget",
        "use_reference",  # unticked: the reference site is chosen automatically
        lambda w: None if not w.value else w.value,
    ),
    ("register", "kind"): ("RegistrationWidget", "kind", lambda w: w.value),
    ("register", "metric"): ("RegistrationWidget", "metric", lambda w: w.value),
    # no landmarks in a new widget: the job's default (None) starts from the geometry
    ("register", "init"): ("RegistrationWidget", "init", lambda w: _none_if("geometry")(w.value)),
    ("register", "no_search"): ("RegistrationWidget", "search", lambda w: not w.value),
    ("svd", "resample"): ("SvdWidget", "resample", lambda w: w.value),
    ("svd", "timepoint"): ("SvdWidget", "timepoint", lambda w: w.value),
    ("svd", "subject"): ("SvdWidget", "subject", lambda w: w.value or None),
    ("svd", "fazekas_pv"): ("SvdWidget", "fazekas_pv", lambda w: _none_if("not set")(w.value)),
    ("svd", "fazekas_deep"): ("SvdWidget", "fazekas_deep", lambda w: _none_if("not set")(w.value)),
    ("svd", "epvs_bg"): ("SvdWidget", "epvs_bg", lambda w: _none_if("not set")(w.value)),
    ("svd", "epvs_cso"): ("SvdWidget", "epvs_cso", lambda w: _none_if("not set")(w.value)),
    ("svd", "epvs_bg_count"): ("SvdWidget", "epvs_bg_count", lambda w: w.value or None),
    ("svd", "epvs_cso_count"): ("SvdWidget", "epvs_cso_count", lambda w: w.value or None),
}
#: Options the widgets do not show as a field, and why.
NO_WIDGET_FIELD = {
    # inputs: the widgets take them from the viewer's layers, not from files
    **{
        (job, name): "a layer"
        for job, names in {
            "coronary": ("ct", "arteries", "calibration_rois", "heart"),
            "ivus": ("pullback", "settings"),
            "intracranial": ("ct", "centerline", "mri", "mri_post", "transform"),
            "register": ("fixed", "moving", "landmarks_fixed", "landmarks_moving"),
            "svd": (
                "flair",
                "swi",
                "t1",
                "ct",
                "wmh_labels",
                "ventricle_labels",
                "brain_mask",
                "region_map",
                "lacune_labels",
                "lacune_points",
                "calcification",
            ),
        }.items()
        for name in names
    },  # fmt: skip
    # the file's own modality (a layer is already an image of a modality)
    ("register", "fixed_modality"): "a layer's modality",
    ("register", "moving_modality"): "a layer's modality",
    # set by the widget's own controls (reader edits, calibration button, ...)
    ("coronary", "min_pixels"): "command line and manifest only",
    ("coronary", "connectivity"): "command line and manifest only",
    ("coronary", "kvp_adjusted"): "command line and manifest only",
    ("coronary", "threshold_rule"): "command line and manifest only",
    ("coronary", "category_scheme"): "command line and manifest only",
    ("coronary", "calibration_mg_per_hu"): "the calibration field (0 = none)",
    ("coronary", "calibration_rho"): "the HA insert field, used with Calibrate from ROIs",
    ("coronary", "calibration_insert_hu"): "set by Calibrate from ROIs",
    ("coronary", "calibration_insert_sd_hu"): "set by Calibrate from ROIs",
    ("coronary", "hu_check"): "command line and manifest only",
    ("coronary", "count_implausible"): "command line and manifest only",
    ("svd", "no_lacunes"): "the reader's lacune points layer",
    ("svd", "grade"): "the per-artery grade fields",
}


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _cases():
    return [(name, spec) for name, job in JOBS.items() for spec in specs(job.options)]


@pytest.mark.parametrize(("job", "spec"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_the_command_line_argument_is_the_declared_option(job, spec):
    parser = _subparser(job)
    action = next(a for a in parser._actions if a.dest == spec.name)
    assert action.help == spec.described(spec.cli_help).replace("%", "%%")
    shown = " ".join(parser.format_help().split())  # --help
    assert " ".join(spec.described(spec.cli_help).split()) in shown
    if spec.positional:
        assert action.option_strings == []
    else:
        assert action.option_strings == [spec.option]
    default = defaults(JOBS[job].options)[spec.name]
    assert action.default == default
    if spec.choices:
        assert list(action.choices) == list(spec.choices)
    if spec.unit:
        assert spec.unit in action.help


@pytest.mark.parametrize(("job", "spec"), _cases(), ids=lambda v: getattr(v, "name", v))
def test_the_manifest_column_is_the_declared_option(job, spec):
    column = ANALYSES[job].column(spec.name)
    if not spec.column:
        assert column is None
        return
    assert column.kind == spec.kind
    assert column.help == spec.described(spec.column_help)
    assert column.required == spec.required
    assert column.option == spec.option
    assert column.choices == tuple(str(c) for c in spec.choices)
    assert (column.minimum, column.exclusive) == (spec.minimum, spec.exclusive)
    if spec.unit:
        assert spec.unit in column.help


def test_every_option_has_a_widget_field_or_a_reason():
    every = {(name, spec.name) for name, spec in _cases()}
    assert every == set(WIDGET_FIELDS) | set(NO_WIDGET_FIELD)
    assert not set(WIDGET_FIELDS) & set(NO_WIDGET_FIELD)


def test_the_widget_fields_start_at_the_declared_defaults(make_napari_viewer):
    from napari_calcium.widgets import coronary, intracranial, ivus, registration, svd

    classes = {
        "CoronaryWidget": coronary.CoronaryWidget,
        "IvusWidget": ivus.IvusWidget,
        "IntracranialWidget": intracranial.IntracranialWidget,
        "RegistrationWidget": registration.RegistrationWidget,
        "SvdWidget": svd.SvdWidget,
    }
    viewer = make_napari_viewer()
    widgets = {name: cls(viewer) for name, cls in classes.items()}
    wrong = []
    for (job, name), (widget, attribute, value_of) in WIDGET_FIELDS.items():
        declared = defaults(JOBS[job].options)[name]
        shown = value_of(getattr(widgets[widget], attribute))
        if isinstance(declared, int) and not isinstance(declared, bool) and shown is not None:
            shown = int(shown)
        if shown != declared:
            wrong.append(
                f"{job} {name}: widget {widget}.{attribute} {shown!r}, declared {declared!r}"
            )
    assert not wrong, "\n".join(wrong)


def test_options_are_frozen_dataclasses():
    for job in JOBS.values():
        assert dataclasses.is_dataclass(job.options)
        assert job.options.__dataclass_params__.frozen
