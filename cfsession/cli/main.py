"""Typer app: flags → one library call → rich output. Each command group lives in its own module.

``list`` and ``search`` are registered for the help listing but parse and run in
:mod:`cfsession.cli.listing` (the console script goes there directly).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from cfsession import __version__, log
from cfsession.cli import _common
from cfsession.errors import ExitCode

app = typer.Typer(
    name="cfsession",
    help="Record terminal sessions command by command; list, search, replay, export and verify them.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"cfsession {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and log at debug level (to stderr and <store>/logs/cfsession.log; CFSESSION_LOG=debug does the same)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug
    if debug and not log.enabled():
        log.configure("debug")


def _register() -> None:
    # One module per command group (STYLE.md §1); each exposes register(app).
    from cfsession.cli import agents, etw, fleet, record, sessions, setup, trust, web

    for mod in (record, sessions, web, trust, etw, setup, agents, fleet):
        mod.register(app)


_register()


def _click_module() -> Any:
    """The click that Typer uses: vendored as ``typer._click`` since 0.26, else click."""
    # By name, not by import statement: which of the two exists depends on the Typer
    # release, and a static import of the absent one is an error for mypy.
    try:
        return importlib.import_module("typer._click")
    except ImportError:  # pragma: no cover - older Typer
        return importlib.import_module("click")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become one line on stderr and an exit code."""
    click = _click_module()

    args = sys.argv[1:] if argv is None else argv

    def call() -> int:
        try:
            rv = app(args=args, prog_name="cfsession", standalone_mode=False)
            return int(rv or 0)
        except typer.Exit as exc:
            return int(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("cfsession: aborted\n")
            return ExitCode.INTERRUPTED
        except click.exceptions.ClickException as exc:
            exc.show()
            return int(exc.exit_code)

    return _common.guarded(call, lambda: bool(_state["debug"]) or "--debug" in args)
