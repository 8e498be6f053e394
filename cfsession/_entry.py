"""Console-script entry point.

``cfsession record`` must reach the first prompt fast (DESIGN.md §7: ≤ 60 ms), so it is
dispatched here without importing Typer, rich or sqlite. ``list`` and ``search`` have
targets too (150 / 100 ms): their everyday forms run without Typer
(:mod:`cfsession.cli.fast`). Every other command, and anything unusual, goes through
the Typer app.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not (sys.stdout.encoding == sys.stderr.encoding == "utf-8"):  # a narrow code page
        from cfsession import streams

        streams.make_safe()
    if args and args[0] == "record":
        from cfsession.recorder.main import main as record_main

        return record_main(args[1:])
    if args and args[0] in ("list", "search"):
        from cfsession.cli import fast

        code = fast.run(args)
        if code is not None:
            return code
    from cfsession.cli import run

    return run(args)
