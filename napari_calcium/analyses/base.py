"""What every job shares: its description, its result's shape, and progress and cancel.

A job is one analysis a user runs on files: ``job.run(options, progress, cancel)``
reads the inputs its ``Options`` name, runs the domain functions, and returns a
:class:`Result`. The command line, the batch runner, the demo and the widgets run
the same jobs.

**Progress and cancel, one protocol everywhere**: ``progress(stage, fraction)`` is
called with a short text and a fraction in [0, 1] (1 once, at the end);
``cancel()`` returns True when the user asked to stop, and the job then raises
:class:`Cancelled` at its next step (:func:`check_cancel`). Both may be ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from napari_calcium.volume import Volume

Progress = Callable[[str, float], None]
Cancel = Callable[[], bool]


class Cancelled(Exception):
    """The user stopped the job (``cancel()`` returned True)."""


def check_cancel(cancel: Cancel | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` says so."""
    if cancel is not None and cancel():
        raise Cancelled("stopped on request")


def report(progress: Progress | None, stage: str, fraction: float) -> None:
    """Tell ``progress`` (when given) that the job is at ``stage``, ``fraction`` done."""
    if progress is not None:
        progress(stage, float(min(max(fraction, 0.0), 1.0)))


@dataclass
class Result:
    """What a job returns: its JSON, its tables and the layers it offers.

    ``data`` is the result as JSON values (what ``napari-calcium <job> --json``
    writes); each job's result class adds what its exports need and overrides
    :meth:`tables` and :meth:`layers`.
    """

    data: dict

    def to_json(self) -> dict:
        """The result as JSON values."""
        return self.data

    def tables(self) -> dict[str, list[dict]]:
        """Table name -> rows (dicts of cells, units in the column names)."""
        return {}

    def layers(self) -> dict[str, Volume]:
        """The images offered for display, name -> Volume (labels: modality ``LABELS``)."""
        return {}

    @property
    def warnings(self) -> list[str]:
        """What may make the result wrong, as the JSON states it."""
        return list(self.data.get("warnings", []))


@dataclass(frozen=True)
class Job:
    """One analysis a user runs.

    Attributes
    ----------
    name : the command-line subcommand and the manifest's ``analysis`` cell.
    options : the ``Options`` dataclass (its fields: :func:`~.options.option`).
    run : ``run(options, progress=None, cancel=None) -> Result``.
    help : one line for the command line's list of subcommands.
    description : the subcommand's longer description, if any.
    lesion_keys : keys of the JSON holding one dict per lesion / calcification
        (``a.b`` for key ``b`` inside ``a``): the rows of a cohort's ``lesions.csv``.
    subject_option : the option that records a cohort subject's id in the result.
    """

    name: str
    options: type
    run: Callable[..., Result]
    help: str
    description: str | None = None
    lesion_keys: tuple[str, ...] = ()
    subject_option: str | None = None
