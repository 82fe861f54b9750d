"""Run a manifest over a cohort on Dask and collect tidy tables.

:func:`run` (and ``napari-calcium batch MANIFEST --out OUTDIR``) validates the
manifest (:mod:`.manifest`), then submits one small task per subject to a
``dask.distributed`` cluster: a :class:`~distributed.LocalCluster` of worker
processes with one thread each and a memory limit, or an existing scheduler. A task
carries only the subject's paths and options; the worker reads the files itself and
runs the subject's job (:mod:`napari_calcium.analyses`), the same the
``napari-calcium`` subcommand runs, so a batch result is the same JSON the command
line writes for that subject.

Output folder::

    OUTDIR/subjects/<subject_id>.json   one per subject (result or error), atomic
    OUTDIR/subjects.csv                 one row per subject, scalar results flattened
    OUTDIR/lesions.csv                  one row per lesion / calcification
    OUTDIR/errors.csv                   subject_id, analysis, error_type, message
    OUTDIR/run.json                     what this run computed, skipped and failed
    (subjects.parquet, lesions.parquet, errors.parquet when pyarrow is installed)

Each task runs on one thread, ITK included, so a cohort gives the same numbers
whatever the cluster (see :func:`single_threaded_itk`).

Each subject JSON holds the analysis result (``result``) or the error with its
traceback (``error``), the last lines the analysis printed (``console_tail``; the
terminal shows only the progress bar), the package version, the options, and an **input
fingerprint**: the SHA-256 of every input file's bytes (a folder, such as a DICOM
series, hashes its files' relative names and bytes in sorted order). Content hashes
rather than modification time and size, because copying or restoring a cohort
changes the times but not the data, and an edit that keeps the size is still
caught; the price is one extra read of the inputs, done by the workers in parallel.
With ``resume=True`` a subject is skipped when its JSON holds a successful result
with the same fingerprint (inputs, options, analysis) and package version.

Table columns come from the result keys, which carry their units
(``agatston``, ``volume_mm3``); nested dicts are joined with ``_``
(``settings_threshold_hu``), short lists of numbers become ``name_0``, ``name_1`` ...,
lists of text one ``"; "``-joined cell; longer lists stay in the JSON only. The tables are rebuilt from the subject JSONs
in manifest order, so a resumed run gives the same tables as an uninterrupted one.
Run facts that change from run to run (``seconds``) stay in the JSON only.
The manifest's clinical columns (age, sex, risk factors, culprit plaques ...) are
read from the manifest when the tables are built, so correcting them needs no
re-run; they are not part of the fingerprint.
``subjects.csv`` also counts each subject's lesion rows (``n_lesions``,
``n_calcifications`` ...; empty when the analysis did not look for them).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import logging
import os
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from napari_calcium.cohort.manifest import ANALYSES, Subject, read_manifest
from napari_calcium.errors import InputError
from napari_calcium.io.atomic import atomic_write_text, write_json

#: Lists of scalars up to this length are spread over numbered table columns.
MAX_LIST_COLUMNS = 4
#: Last lines of an analysis's terminal output kept in its subject JSON.
CONSOLE_LINES = 40
#: How long to wait for a scheduler given by address or file.
SCHEDULER_TIMEOUT = "20s"
#: Result keys describing the run rather than the subject (kept in the JSON only).
RUN_KEYS = frozenset({"seconds"})


@dataclass
class BatchResult:
    """What a batch run produced.

    Attributes
    ----------
    out : the output folder.
    subjects, lesions, errors : the tables written as CSV (pandas DataFrames).
    computed : subject ids analysed in this run (manifest order).
    skipped : subject ids whose unchanged result was kept (``resume``).
    """

    out: Path
    subjects: object
    lesions: object
    errors: object
    computed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        """Subject ids without a result."""
        return list(self.errors["subject_id"])


# ---------------------------------------------------------------- fingerprints
def sha256_path(path: Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (relative names and bytes, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            _hash_file(file, digest)
    else:
        _hash_file(path, digest)
    return digest.hexdigest()


def _hash_file(path: Path, digest) -> None:
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def fingerprint(subject: Subject) -> dict:
    """Input fingerprint of a subject: per-input SHA-256 and one hash over everything.

    Returns
    -------
    dict with ``inputs`` (column -> ``{"path", "sha256"}``) and ``sha256``, the hash
    of the analysis name, the options and the input hashes.
    """
    inputs = {
        name: {"path": str(path), "sha256": sha256_path(path)}
        for name, path in subject.inputs().items()
    }
    identity = {
        "analysis": subject.analysis,
        "options": subject.options(),
        "inputs": {name: value["sha256"] for name, value in inputs.items()},
    }
    text = json.dumps(identity, sort_keys=True)
    return {"inputs": inputs, "sha256": hashlib.sha256(text.encode()).hexdigest()}


# ------------------------------------------------------------ one subject (task)
def subject_json_path(out, subject_id: str) -> Path:
    return Path(out) / "subjects" / f"{subject_id}.json"


def run_subject(subject: Subject, out: str, resume: bool = False) -> dict:
    """Analyse one subject on a worker and write its JSON; returns a short summary.

    The summary is ``{"subject_id", "status": "ok"|"error", "computed": bool,
    "message"}``; every failure of the analysis is caught and written to the
    subject's JSON (with its traceback), so one bad subject never stops a cohort.
    """
    from napari_calcium import __version__

    target = subject_json_path(out, subject.subject_id)
    record = {
        "subject_id": subject.subject_id,
        "analysis": subject.analysis,
        "manifest_line": subject.line,
        "napari_calcium_version": __version__,
        "options": subject.options(),
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    start = time.perf_counter()
    console = io.StringIO()
    try:
        record["fingerprint"] = fingerprint(subject)
        if resume and _unchanged(target, record):
            return _summary(subject, "ok", computed=False)
        with contextlib.redirect_stdout(console), contextlib.redirect_stderr(console):
            record["result"] = analyse(subject)
        record["status"] = "ok"
    except Exception as err:  # noqa: BLE001 - one subject must not stop a cohort
        record["status"] = "error"
        record["error"] = {
            "type": type(err).__name__,
            "message": _message(err),
            "traceback": traceback.format_exc(),
        }
    record["seconds"] = round(time.perf_counter() - start, 3)
    lines = [line for line in console.getvalue().replace("\r", "\n").splitlines() if line.strip()]
    if lines:
        record["console_tail"] = lines[-CONSOLE_LINES:]
    _write_json(target, record)
    return _summary(subject, record["status"], True, record.get("error", {}).get("message", ""))


def analyse(subject: Subject) -> dict:
    """Run the subject's job (:mod:`napari_calcium.analyses`); its JSON as the command
    line's ``--json`` writes it.

    ITK runs single-threaded here (:func:`single_threaded_itk`): a task is one
    subject on one core, and the cluster's parallelism is across subjects.
    """
    from napari_calcium.analyses import JOBS
    from napari_calcium.io.atomic import json_text

    single_threaded_itk()
    result = JOBS[subject.analysis].run(subject.job_options())
    return json.loads(json_text(result.to_json()))


def single_threaded_itk() -> None:
    """Make SimpleITK use one thread in this process (as Dask's nanny does for BLAS).

    Besides matching one task to one core, this makes registrations reproducible:
    multi-threaded ITK sums metric samples in a varying order, so the same inputs
    can give results that differ in the 6th digit from run to run.
    """
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _message(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _unchanged(target: Path, record: dict) -> bool:
    try:
        old = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        old.get("status") == "ok"
        and old.get("fingerprint", {}).get("sha256") == record["fingerprint"]["sha256"]
        and old.get("napari_calcium_version") == record["napari_calcium_version"]
    )


def _summary(subject: Subject, status: str, computed: bool, message: str = "") -> dict:
    return {
        "subject_id": subject.subject_id,
        "status": status,
        "computed": computed,
        "message": message,
    }


def _write_json(path: Path, data: dict) -> None:
    write_json(path, data)


# ------------------------------------------------------------------- the run
def run(
    manifest,
    out,
    workers: int = 2,
    scheduler: str | None = None,
    resume: bool = False,
    memory_limit: str | int = "auto",
    progress: bool = False,
) -> BatchResult:
    """Run every subject of ``manifest`` and write the tables into ``out``.

    Parameters
    ----------
    manifest : path of the manifest CSV (see :mod:`napari_calcium.cohort.manifest`).
    out : output folder (created).
    workers : number of local worker processes (one thread each); ignored when
        ``scheduler`` is given.
    scheduler : address of a running Dask scheduler (``tcp://host:port``) or the
        path of its scheduler file; the workers must see the same files.
    resume : keep results whose inputs, options and package version are unchanged.
    memory_limit : per local worker (bytes or ``"2GiB"``); ``"auto"`` is the
        machine's memory divided by ``workers``.
    progress : show a progress bar on stderr (tqdm when installed).

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        when the manifest has problems (all listed; nothing is run).
    """
    events = iter_run(manifest, out, workers, scheduler, resume, memory_limit)
    bar = _progress_bar(progress)
    while True:
        try:
            event = next(events)
        except StopIteration as stop:
            bar(None)
            return stop.value
        bar(event)


def iter_run(
    manifest,
    out,
    workers: int = 2,
    scheduler: str | None = None,
    resume: bool = False,
    memory_limit: str | int = "auto",
) -> Iterator[dict]:
    """:func:`run` as a generator: yields one event per finished subject, returns the result.

    Each event is the subject's summary plus ``done`` and ``total`` (subject counts).
    Closing the generator early shuts the local cluster down.
    """
    subjects = read_manifest(manifest)
    out = Path(out)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    summaries: dict[str, dict] = {}
    from distributed import as_completed

    with _client(workers, scheduler, memory_limit) as client:
        (out / "subjects").mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:8]
        futures = {
            client.submit(
                run_subject, s, str(out), resume, key=f"{s.analysis}-{s.subject_id}-{token}"
            ): s
            for s in subjects
        }
        for future in as_completed(futures):
            subject = futures[future]
            try:
                summary = future.result()
            except Exception as err:  # noqa: BLE001 - the worker died (memory, crash): record it
                summary = _record_lost(subject, out, err)
            summaries[subject.subject_id] = summary
            yield {**summary, "done": len(summaries), "total": len(subjects)}
    result = collect(subjects, out)
    ordered = [summaries[s.subject_id] for s in subjects]
    result.computed = [s["subject_id"] for s in ordered if s["computed"]]
    result.skipped = [s["subject_id"] for s in ordered if not s["computed"]]
    log = {
        "manifest": str(Path(manifest).resolve()),
        "started_utc": started,
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scheduler": scheduler or f"local, {workers} worker(s)",
        "resume": resume,
        "computed": result.computed,
        "skipped": result.skipped,
        "failed": result.failed,
    }
    write_json(out / "run.json", log)
    return result


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None, memory_limit):
    """A Dask client on ``scheduler`` or on a new local cluster; Dask's INFO chatter muted."""
    from distributed import Client, LocalCluster

    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    if not logging.getLogger("napari_calcium").isEnabledFor(logging.INFO):
        dask_log.setLevel(max(level, logging.WARNING))
    try:
        with _connect(workers, scheduler, memory_limit, Client, LocalCluster) as client:
            yield client
    finally:
        dask_log.setLevel(level)


@contextlib.contextmanager
def _connect(workers, scheduler, memory_limit, Client, LocalCluster):
    if scheduler:
        where = {"scheduler_file": str(scheduler)} if Path(scheduler).is_file() else {}
        try:
            client = Client(None if where else scheduler, timeout=SCHEDULER_TIMEOUT, **where)
        except (OSError, TimeoutError) as err:
            raise InputError(
                f"no Dask scheduler answered at {scheduler} ({err})",
                "start one (dask scheduler) or give its tcp://HOST:PORT address or file",
            ) from err
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=int(workers),
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _record_lost(subject: Subject, out: Path, err: Exception) -> dict:
    """Write the error JSON of a subject whose task never returned (its worker died)."""
    from napari_calcium import __version__

    message = f"the worker running this subject was lost: {err}"
    record = {
        "subject_id": subject.subject_id,
        "analysis": subject.analysis,
        "manifest_line": subject.line,
        "napari_calcium_version": __version__,
        "options": subject.options(),
        "status": "error",
        "error": {
            "type": type(err).__name__,
            "message": message,
            "traceback": "".join(traceback.format_exception(err)),
        },
    }
    _write_json(subject_json_path(out, subject.subject_id), record)
    return _summary(subject, "error", True, message)


def _progress_bar(enabled: bool) -> Callable[[dict | None], None]:
    """A callback drawing progress on stderr from run events; ``None`` closes it."""
    if not enabled:
        return lambda event: None
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    state = {}

    def update(event):
        if event is None:
            if "bar" in state:
                state["bar"].close()
            return
        if tqdm is None:
            print(
                f"[{event['done']}/{event['total']}] {event['subject_id']} {event['status']}",
                file=sys.stderr,
            )
            return
        if "bar" not in state:
            state["bar"] = tqdm(total=event["total"], unit="subject", file=sys.stderr)
        failed = state.setdefault("failed", 0) + (event["status"] != "ok")
        state["failed"] = failed
        state["bar"].set_postfix(failed=failed, refresh=False)
        state["bar"].update(1)
        if event["done"] == event["total"]:
            state.pop("bar").close()

    return update


# ------------------------------------------------------------------- tables
def flatten(value: dict, prefix: str = "") -> dict:
    """Scalars of a nested result dict as flat ``{column: value}``.

    Nested dict keys are joined with ``_``; lists of text become one ``"; "``-joined
    cell; lists of up to :data:`MAX_LIST_COLUMNS` other scalars become ``name_0``,
    ``name_1`` ...; longer lists and lists of dicts are left out (they stay in the
    subject JSON).
    """
    flat = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict):
            flat.update(flatten(item, name + "_"))
        elif isinstance(item, list | tuple):
            if item and all(isinstance(x, str) for x in item):
                flat[name] = "; ".join(item)
            elif len(item) <= MAX_LIST_COLUMNS and all(_is_scalar(x) for x in item):
                flat.update({f"{name}_{i}": x for i, x in enumerate(item)})
        elif _is_scalar(item):
            flat[name] = item
    return flat


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, bool | int | float | str)


def tables(records: list[dict], clinical: dict[str, dict] | None = None):
    """The subjects, lesions and errors DataFrames from subject JSON records (in order).

    ``clinical`` (subject id -> the manifest's clinical cells,
    :data:`~napari_calcium.cohort.manifest.CLINICAL_COLUMNS`) adds those columns to
    ``subjects.csv`` after ``status``, yes/no as 0/1.
    """
    import pandas as pd

    clinical = clinical or {}
    subjects, lesions, errors = [], [], []
    for record in records:
        base = {"subject_id": record["subject_id"], "analysis": record["analysis"]}
        cells = {
            k: int(v) if isinstance(v, bool) else v
            for k, v in clinical.get(record["subject_id"], {}).items()
        }
        subjects.append({**base, "status": record["status"], **cells})
        if record["status"] != "ok":
            error = record.get("error", {})
            errors.append(
                {**base, "error_type": error.get("type"), "message": error.get("message")}
            )
            continue
        result = copy.deepcopy(record["result"])
        for key in ANALYSES[record["analysis"]].lesion_keys:
            items = _pop_path(result, key)
            if isinstance(items, list):
                subjects[-1][f"n_{key.replace('.', '_')}"] = len(items)
            for index, lesion in enumerate(items or [], start=1):
                row = {**base, "lesion_source": key, "lesion_index": index}
                row.update({k: v for k, v in flatten(lesion).items() if k not in row})
                lesions.append(row)
        flat = flatten({k: v for k, v in result.items() if k not in RUN_KEYS})
        subjects[-1].update({k: v for k, v in flat.items() if k not in subjects[-1]})
    return (
        pd.DataFrame(subjects),
        pd.DataFrame(lesions, columns=None if lesions else ["subject_id", "analysis"]),
        pd.DataFrame(errors, columns=["subject_id", "analysis", "error_type", "message"]),
    )


def _pop_path(result: dict, path: str):
    """Remove and return ``result[a][b]`` for ``path`` ``"a.b"`` (None when absent)."""
    *parents, last = path.split(".")
    for key in parents:
        result = result.get(key)
        if not isinstance(result, dict):
            return None
    return result.pop(last, None)


def collect(subjects: list[Subject], out) -> BatchResult:
    """Build and write the tables from the subject JSONs in ``out`` (manifest order)."""
    out = Path(out)
    records = []
    for subject in subjects:
        path = subject_json_path(out, subject.subject_id)
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            records.append(
                {
                    "subject_id": subject.subject_id,
                    "analysis": subject.analysis,
                    "status": "error",
                    "error": {"type": type(err).__name__, "message": f"no result: {err}"},
                }
            )
    clinical = {s.subject_id: s.clinical for s in subjects}
    subjects_df, lesions_df, errors_df = tables(records, clinical)
    for name, frame in (("subjects", subjects_df), ("lesions", lesions_df), ("errors", errors_df)):
        write_table(frame, out / name)
    return BatchResult(out, subjects_df, lesions_df, errors_df)


def write_table(frame, stem: Path) -> None:
    """Write ``frame`` to ``stem.csv`` (and ``stem.parquet`` when pyarrow is installed), atomically."""
    atomic_write_text(stem.with_suffix(".csv"), frame.to_csv(index=False))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    target = stem.with_suffix(".parquet")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _parquet_ready(frame).to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _parquet_ready(frame):
    """Columns Arrow can type: mixed-type object columns become text."""
    frame = frame.convert_dtypes()
    for name in frame.columns:
        if frame[name].dtype == object:
            values = frame[name].dropna()
            if len({type(v) for v in values}) > 1:
                frame[name] = frame[name].map(lambda v: v if v is None else str(v))
    return frame
