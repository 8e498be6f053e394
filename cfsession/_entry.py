"""Console-script entry point.

``cfsession record`` must reach the first prompt fast (DESIGN.md §7: ≤ 60 ms), so it is
dispatched here without importing Typer, rich or sqlite. ``list`` and ``search`` have
targets too (150 / 100 ms): they are parsed and drawn without Typer or rich
(:mod:`cfsession.cli.listing`). Every other command goes through the Typer app.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if sys.stdin is None or sys.stdout is None or sys.stderr is None:
        _closed_standard_fds()
    if not (sys.stdout.encoding == sys.stderr.encoding == "utf-8"):  # a narrow code page
        from cfsession import streams

        streams.make_safe()
    if os.environ.get("CFSESSION_LOG") or (args and args[0] == "--debug"):
        _start_logging(args)
    debug = args[:1] == ["--debug"] and args[1:2] in (["record"], ["list"], ["search"])
    if debug:
        args = args[1:]  # the Typer app would otherwise take it; these run without it
    if args and args[0] == "record":
        fallback = os.environ.pop("CFSESSION_FALLBACK", None)
        if fallback in ("shell", "stay"):
            return _record_or_shell(args[1:], stay=fallback == "stay")
        from cfsession.recorder.main import main as record_main

        return record_main(args[1:])
    if args and args[0] in ("list", "search"):
        from cfsession.cli import listing

        return listing.main(args, debug)
    from cfsession.cli import run

    return run(args)


# ``CFSESSION_FALLBACK=stay``: the recording did not start and the caller's shell goes on
# (PowerShell's profile runs the recorder as a child: it has no exec).
NOT_STARTED = 75  # EX_TEMPFAIL


def _record_or_shell(args: list[str], stay: bool = False) -> int:
    """``init --auto``'s start: the terminal must get a shell even when the recording
    cannot start (a dependency broken by an upgrade, a bug), or every new terminal would
    close at once. A failure before the shell runs ends in the plain shell instead (or,
    ``stay``, in NOT_STARTED for the calling shell to go on), with one line saying why;
    after it, the session's status is the terminal's, as always."""
    import cfsession.recorder as recorder

    try:
        from cfsession.recorder.main import main as record_main

        code = record_main(args)
    except BaseException as exc:  # noqa: BLE001 - anything, even SystemExit, before the shell
        if recorder.shell_started:
            raise
        why = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    else:
        if not code or recorder.shell_started:
            return code
        why = f"status {code}"
    shell, login = _asked_shell(args)
    where = "goes on" if stay else f"runs {shell}"
    sys.stderr.write(f"cfsession: the recording could not start ({why}); this terminal {where} without it"
                     " — `cfsession doctor` says more\n")
    sys.stderr.flush()
    if stay:
        return NOT_STARTED
    os.environ["CFSESSION_AUTO"] = "0"  # not again from its rc file: it would fail the same way
    try:
        os.execvp(shell, [shell, "-l"] if login else [shell])
    except OSError as exc:
        sys.stderr.write(f"cfsession: cannot start {shell}: {exc.strerror}\n")
    return 127


def _asked_shell(args: list[str]) -> tuple[str, bool]:
    """The shell ``record`` was asked for (``--shell``, else $SHELL), and whether as a login shell."""
    shell, login = os.environ.get("SHELL") or "/bin/sh", False
    for i, a in enumerate(args):
        if a == "--shell" and i + 1 < len(args):
            shell = args[i + 1]
        elif a.startswith("--shell="):
            shell = a.split("=", 1)[1]
        elif a in ("--login", "-l"):
            login = True
    return shell, login


def _closed_standard_fds() -> None:
    """Started with stdin, stdout or stderr closed (a daemon's, cron's, ``2>&-``): Python
    left that stream None, and the pipes ``record`` makes would take its number. Each
    closed one becomes the null device: the command still runs, as it would without us."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:
            # The process's own stream, for as long as it runs: no context to close it in.
            stream = open(fd, "r" if fd == 0 else "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
            setattr(sys, name, stream)


def _start_logging(args: list[str]) -> None:
    from cfsession import log

    # While recording, the terminal belongs to the user's shell: the log goes to its file.
    recording = "record" in args[:2]
    log.configure(log.requested(debug=args[:1] == ["--debug"]), stderr=not recording)
    log.debug("command", name=next((a for a in args if not a.startswith("-")), None))
