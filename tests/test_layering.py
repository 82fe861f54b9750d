"""The import layering of napari_calcium: who may import whom, and no import cycle.

Each module belongs to the first group of :data:`GROUPS` whose prefix its name starts
with; a module may import modules of its own group and of the groups :data:`ALLOWED`
lists for it, nothing else. The graph is read from the source (``tests/import_graph.py``,
lazy imports included), so a cycle or an upward import cannot come back unnoticed::

    .venv/bin/python tests/import_graph.py     # prints the graph's size and its cycles

The layers, bottom to top (docs/architecture.md draws them):

* ``errors`` — ``InputError``, which any layer may raise;
* ``model`` — the data model (``Volume``);
* ``scores`` — pure rule functions (no image; of the package, only ``InputError``);
* ``io`` — reading and writing files; ``resampling``; ``phantoms`` (synthetic truth,
  built on the data model only);
* ``domain`` — the pixel work of each analysis (calcium, vessel, registration,
  intracranial, small-vessel markers);
* ``jobs`` — a user's job (``analyses/``) and its reports;
* ``cohort`` — many subjects: manifests, batch runs, statistics;
* ``faces`` — the command line, the demo, samples and sample cohorts, sessions, the
  napari contributions and widgets.
"""

import functools

from import_graph import cycles, graph

#: (group, module-name prefixes), first match wins.
GROUPS = (
    ("errors", ("napari_calcium.errors",)),
    ("model", ("napari_calcium.volume",)),
    ("scores", ("napari_calcium.scores",)),
    ("phantoms", ("napari_calcium.phantoms",)),
    ("io", ("napari_calcium.io", "napari_calcium.resampling")),
    (
        "domain",
        (
            "napari_calcium.calcium",
            "napari_calcium.vessel",
            "napari_calcium.registration",
            "napari_calcium.intracranial",
            "napari_calcium.svd",
        ),
    ),
    ("jobs", ("napari_calcium.analyses", "napari_calcium.report")),
    ("cohort", ("napari_calcium.cohort",)),
    (
        "faces",
        (
            "napari_calcium.cli",
            "napari_calcium.cli_cohort",
            "napari_calcium.demo",
            "napari_calcium.samples",
            "napari_calcium.sample_cohorts",
            "napari_calcium.session",
            "napari_calcium.widgets",
            "napari_calcium._reader",
            "napari_calcium._writer",
            "napari_calcium._sample_data",
        ),
    ),
)
#: group -> the other groups its modules may import.
ALLOWED = {
    "root": {"errors", "model", "io"},
    "errors": set(),
    "model": {"errors"},
    "scores": {"errors"},
    "phantoms": {"errors", "model"},
    "io": {"root", "errors", "model"},
    "domain": {"root", "errors", "model", "scores", "io"},
    "jobs": {"root", "errors", "model", "scores", "io", "domain"},
    "cohort": {"root", "errors", "model", "scores", "io", "domain", "jobs"},
    "faces": {"root", "errors", "model", "scores", "io", "phantoms", "domain", "jobs", "cohort"},
}


@functools.cache
def edges() -> dict[str, set[str]]:
    return graph()


def group_of(module: str) -> str:
    """The module's group: ``root`` for the package itself (version, public API)."""
    if module == "napari_calcium":
        return "root"
    for group, prefixes in GROUPS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return group
    raise AssertionError(f"{module} belongs to no group of the layering table: add it")


def test_every_module_has_a_layer():
    for module in edges():
        group_of(module)


def test_imports_follow_the_layers():
    wrong = []
    for module, deps in sorted(edges().items()):
        mine = group_of(module)
        for dep in sorted(deps):
            theirs = group_of(dep)
            if theirs != mine and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} ({mine}) imports {dep} ({theirs})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_no_import_cycle():
    assert cycles(edges()) == []


def test_phantoms_import_only_the_data_model():
    for module, deps in edges().items():
        if group_of(module) == "phantoms":
            assert {group_of(d) for d in deps} <= {"phantoms", "model", "errors"}, (module, deps)
