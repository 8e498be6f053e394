"""Console-script entry point.

``cfsession record`` must reach the first prompt fast (DESIGN.md §7: ≤ 60 ms), so it is
dispatched here without importing Typer, rich or sqlite; every other command goes
through the Typer app.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "record":
        from cfsession.recorder.main import main as record_main

        return record_main(args[1:])
    from cfsession.cli import run

    return run(args)
