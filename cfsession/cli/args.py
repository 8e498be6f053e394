"""The argument parser of ``record``, ``list`` and ``search``: one declarative spec per command.

These commands have start-up targets (DESIGN.md §7: ``record`` 60 ms to the first prompt,
``list``/``search`` 150 / 100 ms for the whole process) that Typer and click (~45 ms to
import) would spend most of, so they are parsed here, and only here: the Typer app
registers them from the same spec (:func:`register`, for ``cfsession --help`` and each
command's ``--help``) and hands their arguments back to this parser unparsed. This module
imports nothing the record path does not already load.

The grammar is click's: ``--opt VALUE``, ``--opt=VALUE``, ``-n VALUE``, ``-nVALUE``;
short flags combine (``-lq``, ``-qn NAME``); flags take no value; ``--`` ends the options;
an option's value is the next argument whatever it looks like; a repeated option keeps
its last value. A command that runs another (``record``) stops reading options at the
first positional argument: from there on every argument is the other command's
(click's ``allow_interspersed_args=False``). Errors read as click's do, on stderr with
exit code 2::

    Usage: cfsession list [OPTIONS]
    Try 'cfsession list -h' for help.

    Error: Invalid value for '--limit' / '-n': 'abc' is not a valid integer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from cfsession.errors import ExitCode

HELP = ("--help", "-h")


class Opt(NamedTuple):
    dest: str
    names: tuple[str, ...]  # long first: ("--limit", "-n")
    help: str
    kind: type = str  # str, int, or bool for a flag
    default: Any = None  # a flag's None is False, unless it has `off` names
    min: int | None = None  # for int options
    metavar: str | None = None  # as help shows the value (default: Typer's, from the kind)
    off: tuple[str, ...] = ()  # a flag pair's other half (--pty/--no-pty): sets False; not given: None


class Arg(NamedTuple):
    dest: str
    help: str
    rest: bool = False  # optional; every argument from the first positional (or after --)
    metavar: str | None = None  # as usage and help show it (default: DEST)


class Spec(NamedTuple):
    name: str
    help: str  # first paragraph: the line in `cfsession --help`
    options: tuple[Opt, ...]
    argument: Arg | None = None  # one required positional argument, the rest (Arg.rest), or none

    def usage(self) -> str:
        arg = self.argument
        return f"cfsession {self.name} [OPTIONS]" + (f" {arg.metavar or arg.dest.upper()}" if arg else "")


class ArgError(Exception):
    """A usage error: the message after ``Error:``."""


def parse(spec: Spec, argv: list[str]) -> dict[str, Any] | None:
    """The values by ``dest`` (defaults filled in); None when help was asked for."""
    longs = {n: o for o in spec.options for n in (*o.names, *o.off) if n.startswith("--")}
    shorts = {n: o for o in spec.options for n in o.names if not n.startswith("--")}
    rest = spec.argument is not None and spec.argument.rest
    given: dict[str, tuple[Opt, str, Any]] = {}  # dest -> (option, name used, raw value or flag)
    positional: list[str] = []
    wants_help = False
    i = 0

    def value_of(opt: Opt, name: str, attached: str | None) -> None:
        nonlocal i
        if attached is None:
            if i >= len(argv):
                raise ArgError(f"Option '{name}' requires an argument.")
            attached = argv[i]
            i += 1
        given[opt.dest] = (opt, name, attached)

    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            if rest:  # the command to run: its options are its own
                positional += argv[i - 1 :]
                break
            positional.append(arg)
            continue
        if arg.startswith("--"):
            name, eq, attached = arg.partition("=")
            if name == "--help" and not eq:
                wants_help = True
                continue
            opt = longs.get(name)
            if opt is None:
                raise ArgError(_no_such_option(name, list(longs)))
            if opt.kind is bool:
                if eq:
                    raise ArgError(f"Option '{name}' does not take a value.")
                given[opt.dest] = (opt, name, name not in opt.off)
            else:
                value_of(opt, name, attached if eq else None)
            continue
        for j in range(1, len(arg)):  # "-lq" is "-l -q"; "-nNAME" is "-n NAME"
            name = "-" + arg[j]
            if name == "-h":
                wants_help = True
                continue
            opt = shorts.get(name)
            if opt is None:
                raise ArgError(f"No such option: {name}")
            if opt.kind is bool:
                given[opt.dest] = (opt, name, True)
                continue
            value_of(opt, name, arg[j + 1 :] or None)
            break
    if wants_help:
        return None
    values: dict[str, Any] = {opt.dest: opt.default if opt.kind is not bool or opt.off else bool(opt.default)
                              for opt in spec.options}
    for opt, _, raw in given.values():
        values[opt.dest] = _convert(opt, raw)
    if spec.argument is not None and spec.argument.rest:
        values[spec.argument.dest] = positional
        return values
    if spec.argument is not None:
        if not positional:
            raise ArgError(f"Missing argument '{spec.argument.dest.upper()}'.")
        values[spec.argument.dest] = positional.pop(0)
    if positional:
        s = "" if len(positional) == 1 else "s"
        raise ArgError(f"Got unexpected extra argument{s} ({' '.join(positional)})")
    return values


def _convert(opt: Opt, raw: Any) -> Any:
    if opt.kind is not int:
        return raw
    where = " / ".join(f"'{n}'" for n in opt.names)
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not (digits.isascii() and digits.isdigit()):  # "1_000" and "５" are not numbers here
        raise ArgError(f"Invalid value for {where}: {raw!r} is not a valid integer.")
    # The integers here are limits: one past SQLite's 64 bits means "all" just as well.
    value = min(int(raw), 2**63 - 1)
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
    from cfsession.sanitize import visible

    error = visible(str(exc)).replace("\n", "\\n")  # it may quote what was typed: shown, not obeyed
    sys.stderr.write(f"Usage: {spec.usage()}\nTry 'cfsession {spec.name} -h' for help.\n\nError: {error}\n")
    return ExitCode.USAGE


def typer_signature(spec: Spec) -> Any:  # inspect.Signature; typer imported here only
    """The spec as a Typer command's signature (Typer reads a function's ``__signature__``),
    so ``--help`` is drawn by Typer like every other command's."""
    import inspect

    import typer

    params = []
    arg = spec.argument
    if arg is not None and arg.rest:
        params.append(inspect.Parameter(arg.dest, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=typer.Argument(None, help=arg.help, metavar=arg.metavar,
                                                               show_default=False),
                                        annotation=list[str]))
    elif arg is not None:
        params.append(inspect.Parameter(arg.dest, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=typer.Argument(..., help=arg.help, metavar=arg.metavar),
                                        annotation=str))
    for opt in spec.options:
        kw: dict[str, Any] = {"help": opt.help}
        if opt.min is not None:
            kw["min"] = opt.min
        if opt.metavar is not None:
            kw["metavar"] = opt.metavar
        names = opt.names
        if opt.off:  # click's "--pty/--no-pty"
            names = ("/".join((opt.names[0], *opt.off)), *opt.names[1:])
            kw["show_default"] = False
        default = opt.default if opt.kind is not bool or opt.off else bool(opt.default)
        params.append(inspect.Parameter(opt.dest, inspect.Parameter.KEYWORD_ONLY,
                                        default=typer.Option(default, *names, **kw),
                                        annotation=opt.kind if default is not None else opt.kind | None))
    return inspect.Signature(params)


def register(app: Any, spec: Spec, run: Callable[[list[str]], int]) -> None:
    """Add the command to the Typer app: its help drawn from the spec, its arguments passed
    to ``run`` unparsed (``run`` parses them with :func:`parse`)."""
    from typer.core import TyperCommand

    class Unparsed(TyperCommand):
        def parse_args(self, ctx: Any, argv: list[str]) -> list[str]:
            ctx.meta["cfsession.argv"] = list(argv)
            return []

        def invoke(self, ctx: Any) -> int:
            return run(ctx.meta["cfsession.argv"])

    def command() -> None:  # pragma: no cover - never called: Unparsed.invoke runs instead
        pass

    command.__doc__ = spec.help
    signature = typer_signature(spec)
    command.__signature__ = signature  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    app.command(spec.name, cls=Unparsed, help=spec.help)(command)


def show_help(spec: Spec) -> int:
    """The command's help, drawn by Typer from the spec (as every other command's is)."""
    import typer

    from cfsession.cli.main import _click_module, app

    click = _click_module()
    group: Any = typer.main.get_command(app)  # a TyperGroup
    with click.Context(group, info_name="cfsession", **group.context_settings) as parent:  # -h too
        command = group.get_command(parent, spec.name)
        with command.make_context(spec.name, [], parent=parent) as ctx:
            click.echo(ctx.get_help(), color=ctx.color)
    return ExitCode.OK
