"""``cfsession record``'s options: :data:`RECORD`, the one spec its parser and its help read.

:func:`parse` reads them with :mod:`cfsession.cli.args` (click's grammar, without
importing click: the first prompt is due in 60 ms, DESIGN.md §7); the Typer app shows the
same spec for ``cfsession --help`` and ``record --help`` and hands its arguments back here.
Options stop at the first positional argument: from there, or after ``--``, every
argument is the command to record (``record ls -l`` runs ``ls -l``).
"""

from __future__ import annotations

from typing import NamedTuple

from cfsession.cli.args import Arg, Opt, Spec
from cfsession.cli.args import parse as parse_args
from cfsession.errors import CfsessionError, UsageError


class Options(NamedTuple):
    shell: str | None = None
    login: bool = False
    name: str | None = None
    session_type: str | None = None
    no_etw: bool = False
    quiet: bool = False
    command: list[str] = []  # never mutated
    pause_key: bytes | None = None
    pty: bool | None = None  # record -- CMD: None = a PTY only when stdin and stdout are terminals


RECORD = Spec(
    "record",
    "Record an interactive shell (exit it to stop), or with `-- COMMAND` one command.\n\n"
    "The exit status is the shell's or the command's: 127 not found, 126 cannot run, "
    "128+N when the recorder was ended by signal N.",
    (
        Opt("shell", ("--shell",), "Shell to run (default: $SHELL, else bash, else sh).", metavar="PATH"),
        Opt("login", ("--login", "-l"), "Start the shell as a login shell.", bool),
        Opt("name", ("--name", "-n"), "A name for the session.", metavar="NAME"),
        Opt("session_type", ("--type",), "Session type (default: interactive, or command).", metavar="TYPE"),
        Opt("no_etw", ("--no-etw",), "Do not emit ETW events.", bool),
        Opt("quiet", ("--quiet", "-q"), "No start and end lines on stderr.", bool),
        Opt("pause_key", ("--pause-key",), "A control key (C-] or ^]) that pauses and resumes capture; each "
            "toggle is shown on the terminal and recorded as a gap.", metavar="KEY"),
        Opt("pty", ("--pty",), "Run COMMAND on a pseudo-terminal, or on pipes (stdout and stderr kept apart). "
            "Default: a pseudo-terminal only when stdin and stdout are both terminals.", bool, off=("--no-pty",)),
    ),
    Arg("command", "Record this one command as a one-command session (scripts, CI, agents).", rest=True,
        metavar="[-- COMMAND [ARGS]...]"),
)


def parse(argv: list[str]) -> Options | None:
    """``record``'s arguments as :class:`Options`; None when help was asked for.

    Raises :class:`cfsession.cli.args.ArgError` for a usage error (click's message), and
    :class:`UsageError` for a ``--pause-key`` that is not a control key.
    """
    values = parse_args(RECORD, argv)
    if values is None:
        return None
    raw_key = values.pop("pause_key")
    try:
        key = parse_key(raw_key) if raw_key else None
    except CfsessionError as exc:
        raise UsageError(exc.message, exc.hint) from exc
    return Options(**values, pause_key=key)


def parse_key(spec: str) -> bytes:
    """``C-]``, ``^]``, ``ctrl-]`` → the control byte (0x1d); only C0 controls are accepted."""
    s = spec.strip()
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if s.lower().startswith(prefix):
            s = s[len(prefix) :]
            break
    else:
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    if len(s) != 1 or not ("@" <= s.upper() <= "_"):
        raise CfsessionError(f"--pause-key {spec!r}: not a control key", "use a form like C-] or ^]")
    return bytes((ord(s.upper()) ^ 0x40,))
