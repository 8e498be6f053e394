"""``record`` as the Typer app lists it (its spec: recorder/options.py), ``pause`` and ``resume``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    # `record` is parsed by the recorder (recorder/options.py, before the first prompt);
    # Typer shows its spec and hands the arguments over unparsed.
    from cfsession.cli import args
    from cfsession.recorder.options import RECORD

    def record(argv: list[str]) -> int:
        from cfsession.recorder.main import main

        return main(argv)

    args.register(app, RECORD, record)

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

