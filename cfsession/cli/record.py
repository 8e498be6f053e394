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
