"""The argument parser of ``list`` and ``search``: one declarative spec per command.

These two commands have start-up targets (DESIGN.md §7: 150 / 100 ms, whole process) that
Typer and click (~45 ms to import) would spend most of, so they are parsed here, and only
here: the Typer app registers them from the same spec (:func:`typer_signature`, for
``cfsession --help`` and each command's ``--help``) and hands their arguments back to
this parser unparsed.

The grammar is click's: ``--opt VALUE``, ``--opt=VALUE``, ``-n VALUE``, ``-nVALUE``;
flags take no value; ``--`` ends the options; an option's value is the next argument
whatever it looks like; a repeated option keeps its last value. Errors read as click's
do, on stderr with exit code 2::

    Usage: cfsession list [OPTIONS]
    Try 'cfsession list -h' for help.

    Error: Invalid value for '--limit' / '-n': 'abc' is not a valid integer.
"""

from __future__ import annotations

import re
import sys
from typing import Any, NamedTuple

from cfsession.errors import ExitCode

HELP = ("--help", "-h")
_INT = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: "1_000" and "５" are not numbers here


class Opt(NamedTuple):
    dest: str
    names: tuple[str, ...]  # long first: ("--limit", "-n")
    help: str
    kind: type = str  # str, int, or bool for a flag
    default: Any = None
    min: int | None = None  # for int options


class Arg(NamedTuple):
    dest: str
    help: str


class Spec(NamedTuple):
    name: str
    help: str
    options: tuple[Opt, ...]
    argument: Arg | None = None  # one required positional argument, or none

    def usage(self) -> str:
        return f"cfsession {self.name} [OPTIONS]" + (f" {self.argument.dest.upper()}" if self.argument else "")


class ArgError(Exception):
    """A usage error: the message after ``Error:``."""


def parse(spec: Spec, argv: list[str]) -> dict[str, Any] | None:
    """The values by ``dest`` (defaults filled in); None when help was asked for."""
    by_name = {name: opt for opt in spec.options for name in opt.names}
    given: dict[str, tuple[Opt, str, str]] = {}  # dest -> (option, name used, raw value)
    flags: set[str] = set()
    positional: list[str] = []
    wants_help = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        if arg.startswith("--"):
            name, eq, attached = arg.partition("=")
        else:
            name, eq, attached = arg[:2], "", arg[2:]
            eq = "=" if attached else ""
        if name in HELP and not eq:
            wants_help = True
            continue
        opt = by_name.get(name)
        if opt is None:
            raise ArgError(_no_such_option(name, [n for o in spec.options for n in o.names]))
        if opt.kind is bool:
            if eq:
                raise ArgError(f"Option '{name}' does not take a value.")
            flags.add(opt.dest)
            continue
        if not eq:
            if i >= len(argv):
                raise ArgError(f"Option '{name}' requires an argument.")
            attached = argv[i]
            i += 1
        given[opt.dest] = (opt, name, attached)
    if wants_help:
        return None
    values: dict[str, Any] = {opt.dest: (opt.dest in flags) if opt.kind is bool else opt.default
                              for opt in spec.options}
    for opt, _, raw in given.values():
        values[opt.dest] = _convert(opt, raw)
    if spec.argument is not None:
        if not positional:
            raise ArgError(f"Missing argument '{spec.argument.dest.upper()}'.")
        values[spec.argument.dest] = positional.pop(0)
    if positional:
        s = "" if len(positional) == 1 else "s"
        raise ArgError(f"Got unexpected extra argument{s} ({' '.join(positional)})")
    return values


def _convert(opt: Opt, raw: str) -> Any:
    if opt.kind is not int:
        return raw
    where = " / ".join(f"'{n}'" for n in opt.names)
    if _INT.fullmatch(raw) is None:
        raise ArgError(f"Invalid value for {where}: {raw!r} is not a valid integer.")
    value = int(raw)
    if opt.min is not None and value < opt.min:
        raise ArgError(f"Invalid value for {where}: {value} is not in the range x>={opt.min}.")
    return value


def _no_such_option(name: str, known: list[str]) -> str:
    from difflib import get_close_matches

    close = get_close_matches(name, known, cutoff=0.75)  # "--limt", not "--bogus" -> "--host"
    if len(close) == 1:
        return f"No such option: {name} Did you mean {close[0]}?"
    if close:
        return f"No such option: {name} (Possible options: {', '.join(sorted(close))})"
    return f"No such option: {name}"


def report(spec: Spec, exc: ArgError) -> int:
    sys.stderr.write(f"Usage: {spec.usage()}\nTry 'cfsession {spec.name} -h' for help.\n\nError: {exc}\n")
    return ExitCode.USAGE


def typer_signature(spec: Spec) -> Any:  # inspect.Signature; typer imported here only
    """The spec as a Typer command's signature (Typer reads a function's ``__signature__``),
    so ``--help`` is drawn by Typer like every other command's."""
    import inspect

    import typer

    params = []
    if spec.argument is not None:
        params.append(inspect.Parameter(spec.argument.dest, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=typer.Argument(..., help=spec.argument.help),
                                        annotation=str))
    for opt in spec.options:
        kw: dict[str, Any] = {"help": opt.help}
        if opt.min is not None:
            kw["min"] = opt.min
        params.append(inspect.Parameter(opt.dest, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(opt.default if opt.kind is not bool else False,
                                                             *opt.names, **kw),
                                        annotation=opt.kind if opt.default is not None or opt.kind is bool
                                        else opt.kind | None))
    return inspect.Signature(params)
