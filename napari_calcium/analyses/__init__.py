"""A user's jobs: one module per analysis, each ``Options`` -> ``run`` -> ``Result``.

* :mod:`.coronary` — coronary artery calcium on CT (``napari-calcium coronary``);
* :mod:`.ivus` — an IVUS pullback (``ivus``);
* :mod:`.registration` — MOVING onto FIXED (``register``);
* :mod:`.intracranial` — calcification along an intracranial artery, vessel-wall MRI (``intracranial``);
* :mod:`.small_vessel` — small vessel disease markers of one patient (``svd``).

Each module's ``Options`` dataclass is the one declaration of the job's inputs and
settings (:mod:`.options`); ``run(options, progress=None, cancel=None)`` reads the
files and returns a :class:`~.base.Result` (``to_json()``, ``tables()``,
``layers()``). The command line, the cohort manifest and batch runner, the demo and
the widgets all go through :data:`JOBS`.
"""

from napari_calcium.analyses import coronary, intracranial, ivus, registration, small_vessel
from napari_calcium.analyses.base import Cancelled, Job, Result

#: Job name (subcommand, manifest ``analysis``) -> job, in the command line's order.
JOBS: dict[str, Job] = {
    job.name: job
    for job in (coronary.JOB, ivus.JOB, registration.JOB, intracranial.JOB, small_vessel.JOB)
}

__all__ = ["JOBS", "Cancelled", "Job", "Result"]
