"""The command line. The Typer app lives in :mod:`cfsession.cli.main`.

Importing this package loads neither Typer nor rich: ``app`` and ``run`` load the Typer
app on first use, so ``list`` and ``search`` (:mod:`cfsession.cli.listing`) and the
renderers can be imported without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfsession.cli.main import app as app


def run(argv: list[str] | None = None) -> int:
    """Run the Typer CLI; library errors become one line on stderr and an exit code."""
    from cfsession.cli.main import run as run_typer

    return run_typer(argv)


def __getattr__(name: str) -> Any:
    if name == "app":
        from cfsession.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
