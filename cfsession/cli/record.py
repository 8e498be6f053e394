"""``cfsession record``: listed by Typer for help; run by the light parser in recorder.main."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("record", context_settings={"allow_interspersed_args": False})
    def record(
        command: list[str] = typer.Argument(  # noqa: B008 - Typer reads its defaults
            None, metavar="[-- COMMAND [ARGS]...]", show_default=False,
            help="Record this one command as a one-command session (scripts, CI, agents)."),
        shell: str = typer.Option(None, "--shell", metavar="PATH",
                                  help="Shell to run (default: $SHELL, else bash, else sh)."),
        login: bool = typer.Option(False, "--login", "-l", help="Start the shell as a login shell."),
        name: str = typer.Option(None, "--name", "-n", metavar="NAME", help="A name for the session."),
        session_type: str = typer.Option(None, "--type", metavar="TYPE",
                                         help="Session type (default: interactive, or command)."),
        no_etw: bool = typer.Option(False, "--no-etw", help="Do not emit ETW events."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No start and end lines on stderr."),
        pause_key: str = typer.Option(
            None, "--pause-key", metavar="KEY",
            help="A control key (C-] or ^]) that pauses and resumes capture; each toggle is "
                 "shown on the terminal and recorded as a gap."),
        pty: bool = typer.Option(
            None, "--pty/--no-pty", show_default=False,
            help="Run COMMAND on a pseudo-terminal, or on pipes (stdout and stderr kept apart). "
                 "Default: a pseudo-terminal only when stdin and stdout are both terminals."),
    ) -> None:
        """Record an interactive shell (exit it to stop), or with `-- COMMAND` one command.

        The exit status is the shell's or the command's: 127 not found, 126 cannot run, 128+N when the recorder was ended by signal N.
        """
        from cfsession.recorder.main import run_options
        from cfsession.recorder.options import Options, parse_key

        key = parse_key(pause_key) if pause_key else None
        opts = Options(shell, login, name, session_type, no_etw, quiet, list(command or []), key, pty)
        raise typer.Exit(run_options(opts))

    @app.command("pause")
    def pause() -> None:
        """Pause capture of the recorded session this shell runs in (output still shows)."""
        _signal_recorder("SIGUSR1", "paused")

    @app.command("resume")
    def resume() -> None:
        """Resume capture after `cfsession pause`."""
        _signal_recorder("SIGUSR2", "resumed")


def _signal_recorder(signame: str, what: str) -> None:
    import os
    import signal
    import sys

    from cfsession import paths
    from cfsession.errors import CfsessionError

    sid = os.environ.get("CFSESSION_ID")
    if not sid:
        raise CfsessionError(
            "not inside a recorded session", "run it in a shell started by `cfsession record`"
        )
    sig = getattr(signal, signame, None)
    if sig is None:
        raise CfsessionError(
            "pausing from inside the session is not available here",
            "start the recording with `cfsession record --pause-key C-]` and press that key",
        )
    from cfsession.records import first_record

    start = first_record(paths.jsonl_path(sid))
    try:
        pid = int(start["pid"])
    except (ValueError, KeyError, TypeError) as exc:
        why = "its session file has no recorder pid" if start else "its session file cannot be read"
        raise CfsessionError(
            f"cannot find the recorder of session {sid}: {why}",
            "check CFSESSION_HOME is the same as the recorder's",
        ) from exc
    try:
        os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise CfsessionError(f"the recorder of session {sid} is not running", "nothing to do") from exc
    sys.stderr.write(f"cfsession: recording {what}\n")

