"""Options declared once: a dataclass field per input or setting, with its help and unit.

A job's ``Options`` dataclass is the one declaration of what it takes. Each field is
made with :func:`option`, which records the field's kind (a file, a number, a choice,
a yes/no, text), its help text, unit, allowed values, and how the command line and
the manifest name it. From that one declaration:

* :func:`add_arguments` adds the subcommand's arguments to an ``argparse`` parser
  and :func:`from_args` turns the parsed arguments back into ``Options``;
* the cohort manifest makes one column per field (``napari_calcium.cohort.manifest``)
  and :func:`from_values` turns a row's parsed cells into ``Options``;
* widgets take their defaults from ``Options()`` (a test checks all three agree).

Following TorchIO's command line (dataclasses whose typed fields and docstrings are
the interface), with argparse so that no new dependency is needed.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

PATH, FLOAT, INT, CHOICE, FLAG, TEXT = "path", "float", "int", "choice", "flag", "text"
KINDS = (PATH, FLOAT, INT, CHOICE, FLAG, TEXT)
_TYPES = {PATH: Path, FLOAT: float, INT: int, TEXT: str}


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one option is named and checked; made by :func:`option` (see there)."""

    kind: str
    help: str
    unit: str | None = None
    choices: tuple = ()
    minimum: float | None = None
    exclusive: bool = False
    required: bool = False
    positional: bool = False
    flag: str | None = None
    metavar: str | None = None
    column: bool = True
    column_help: str | None = None
    cli_help: str | None = None
    check: Callable[[str], None] | None = None
    repeat: bool = False
    aliases: tuple = ()
    name: str = ""

    @property
    def option(self) -> str | None:
        """The command-line option (``--threshold-hu``); ``None`` for a positional argument."""
        if self.positional:
            return None
        return self.flag or "--" + self.name.replace("_", "-")

    def described(self, help: str | None = None) -> str:
        """Help text with its unit, as the command line and the manifest show it."""
        text = help or self.help
        if self.unit and f"({self.unit}" not in text and self.unit not in text:
            text = f"{text} ({self.unit})"
        return text


def option(
    default=None,
    *,
    kind: str,
    help: str,
    unit: str | None = None,
    choices=(),
    minimum: float | None = None,
    exclusive: bool = False,
    required: bool = False,
    positional: bool = False,
    flag: str | None = None,
    metavar: str | None = None,
    column: bool = True,
    column_help: str | None = None,
    cli_help: str | None = None,
    check: Callable[[str], None] | None = None,
    repeat: bool = False,
    aliases: dict | None = None,
):
    """A dataclass field declaring one input or setting of a job.

    Parameters
    ----------
    default : the value when not given (``None``: not given).
    kind : ``path`` (an input file or folder), ``float``, ``int``, ``choice`` (one of
        ``choices``), ``flag`` (yes/no; ``--flag`` on the command line) or ``text``.
    help : what it means (the command line's and the manifest's help).
    unit : its unit, also in its name (``threshold_hu`` in HU).
    choices : allowed values of a ``choice`` (numbers allowed too: ``(4, 8)``).
    minimum, exclusive : smallest allowed number (``>`` when ``exclusive``).
    required : the job cannot run without it.
    positional : a positional argument on the command line (files, in field order).
    flag : the command-line option when it is not ``--name-with-dashes``.
    metavar : the value's name in the command line's help.
    column : the manifest has a column for it (named as the field).
    column_help, cli_help : a shorter or longer help for the manifest or the command line.
    check : for ``text``, a function raising ``ValueError`` with the reason for a bad value.
    repeat : a list; the command-line option may be given several times.
    aliases : command-line options that set one value, ``{"--no-hu-check": "off"}``
        (each "the same as --hu-check off", exclusive with the option itself).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown option kind {kind!r}")
    spec = Spec(
        kind,
        help,
        unit,
        tuple(choices),
        minimum,
        exclusive,
        required,
        positional,
        flag,
        metavar,
        column,
        column_help,
        cli_help,
        check,
        repeat,
        tuple((aliases or {}).items()),
    )
    if repeat:
        return dataclasses.field(default_factory=list, metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


def specs(options_class) -> list[Spec]:
    """The :class:`Spec` of every field of an ``Options`` dataclass, in field order."""
    return [
        dataclasses.replace(f.metadata["spec"], name=f.name)
        for f in dataclasses.fields(options_class)
        if "spec" in f.metadata
    ]


def defaults(options_class) -> dict:
    """Field -> default value (``None`` for a required option)."""
    out = {}
    for f in dataclasses.fields(options_class):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


# --------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser, options_class) -> None:
    """One ``argparse`` argument per field of ``options_class`` (see :func:`option`)."""
    values = defaults(options_class)
    for spec in specs(options_class):
        kwargs: dict = {"help": spec.described(spec.cli_help).replace("%", "%%")}
        if spec.kind == FLAG:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = _TYPES.get(spec.kind) or _choice_type(spec.choices)
            if spec.kind == CHOICE:
                kwargs["choices"] = list(spec.choices)
            if values.get(spec.name) is not None and not spec.repeat:
                kwargs["default"] = values[spec.name]
            if spec.metavar:
                kwargs["metavar"] = spec.metavar
            if spec.repeat:
                kwargs["action"] = "append"
                kwargs["default"] = []
        if spec.positional:
            parser.add_argument(spec.name, **kwargs)
            continue
        if spec.required:
            kwargs["required"] = True
        group = parser.add_mutually_exclusive_group() if spec.aliases else parser
        group.add_argument(spec.option, dest=spec.name, **kwargs)
        for flag, value in spec.aliases:
            group.add_argument(
                flag,
                dest=spec.name,
                action="store_const",
                const=value,
                help=f"the same as {spec.option} {value}",
            )


def _choice_type(choices) -> Callable:
    """Numbers given as text on the command line become numbers for numeric choices."""
    kinds = {type(c) for c in choices}
    return kinds.pop() if len(kinds) == 1 else str


def from_args(options_class, args: argparse.Namespace):
    """``Options`` from the arguments :func:`add_arguments` declared."""
    return options_class(**{s.name: getattr(args, s.name) for s in specs(options_class)})


# ------------------------------------------------------------------ manifest
def from_values(options_class, values: dict):
    """``Options`` from a manifest row's parsed cells (column -> value; absent = default).

    A ``choice`` cell is text; numeric choices become numbers here.
    """
    given = {}
    for spec in specs(options_class):
        if spec.name not in values:
            continue
        value = values[spec.name]
        if spec.kind == CHOICE:
            value = _choice_type(spec.choices)(value)
        if spec.repeat:
            value = [value]
        given[spec.name] = value
    return options_class(**given)
