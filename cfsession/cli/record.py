"""``cfsession record``: listed by Typer for help; run by the light parser in recorder.main."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        "record",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def record(ctx: typer.Context) -> int:
        """Record an interactive shell, or one command after `--` (see `cfsession record --help`)."""
        from cfsession.recorder.main import main as record_main

        raise typer.Exit(record_main(list(ctx.args)))

    @app.command("pause")
    def pause() -> None:
        """Pause capture of the recorded session this shell runs in (output still shows)."""
        _signal_recorder("SIGUSR1", "paused")

    @app.command("resume")
    def resume() -> None:
        """Resume capture after `cfsession pause`."""
        _signal_recorder("SIGUSR2", "resumed")


def _signal_recorder(signame: str, what: str) -> None:
    import json
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
    try:
        with open(paths.jsonl_path(sid), encoding="utf-8") as fh:
            pid = int(json.loads(fh.readline())["pid"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CfsessionError(
            f"cannot find the recorder of session {sid}: {exc}",
            "check CFSESSION_HOME is the same as the recorder's",
        ) from exc
    try:
        os.kill(pid, sig)
    except ProcessLookupError as exc:
        raise CfsessionError(f"the recorder of session {sid} is not running", "nothing to do") from exc
    sys.stderr.write(f"cfsession: recording {what}\n")

