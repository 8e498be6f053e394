"""What every CLI command shares: consoles, JSON output, one error format."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from cfsession import log
from cfsession.errors import CfsessionError, ExitCode


def console(stderr: bool = False) -> Any:  # rich.console.Console, imported lazily
    """A rich console; on a pipe or file as wide as need be, so no recorded text is cut
    or wrapped for display (``_render.PIPE_WIDTH``), whatever $COLUMNS says."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except ValueError:
        tty = False
    if tty:
        return Console(stderr=stderr, highlight=False, soft_wrap=False)
    from cfsession.cli._render import PIPE_WIDTH

    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=PIPE_WIDTH)


def print_json(obj: Any) -> None:
    """Machine output: one JSON document on stdout, UTF-8, no colour, nothing terminal-active."""
    from cfsession.sanitize import json_escape
    from cfsession.streams import is_utf

    # On a narrow code page (a Windows pipe) non-ASCII is escaped: the same document, intact.
    # Otherwise JSON leaves C1 controls and bidi characters raw, and U+009B acts as CSI on
    # some terminals: json_escape writes them as \u escapes (the values are the same).
    ascii_only = not is_utf(sys.stdout)
    text = json_escape(json.dumps(obj, ensure_ascii=ascii_only, indent=2, default=str))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def fail(message: str, hint: str | None = None, code: int = ExitCode.ERROR) -> NoReturn:
    err = CfsessionError(message, hint)
    err.exit_code = code
    raise err


def report_error(exc: CfsessionError) -> int:
    """``cfsession: <what> — <what to do>`` on stderr (DESIGN.md §4); returns the exit code."""
    from cfsession.sanitize import visible

    line = f"cfsession: {exc.message}"
    if exc.hint:
        line += f" — {exc.hint}"
    # A message may quote what was typed or read (an id, a path, a query): its controls are
    # shown as escapes, never obeyed by the terminal, and the error stays one line.
    sys.stderr.write(visible(line).replace("\n", "\\n") + "\n")
    return int(exc.exit_code)


def guarded(call: Callable[[], int], debug: Callable[[], bool]) -> int:
    """Run a command; what it raises becomes one line and an exit code (tracebacks with --debug).

    Shared by the Typer app and ``list``/``search`` (:mod:`cfsession.cli.listing`), so a failure
    reads the same whichever ran the command.
    """
    try:
        return call()
    except CfsessionError as exc:
        log.debug("command failed", error=type(exc).__name__, exit_code=int(exc.exit_code))
        if debug():
            raise
        return report_error(exc)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except OSError as exc:  # the store is not a directory, not readable, …
        if debug():
            raise
        where = f": {exc.filename}" if exc.filename else ""
        return report_error(
            CfsessionError(
                f"{exc.strerror or exc}{where}",
                "check CFSESSION_HOME and the store's permissions (cfsession doctor)",
            )
        )
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        log.warning("internal error", error=type(exc).__name__)
        if debug():
            raise
        return report_error(
            CfsessionError(f"internal error: {type(exc).__name__}: {exc}", "run again with --debug and report it")
        )
