"""``CFSESSION_PROFILE=PATH``: profile the recorder's loop with cProfile into PATH, and its
bookkeeping child into PATH.keeper (``python -m pstats PATH``). A debugging aid for
finding where a command's time goes (docs/BENCH.md); off unless the variable is set,
and then only a check of the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run(fn: Callable[[], T], suffix: str = "") -> T:
    path = os.environ.get("CFSESSION_PROFILE")
    if not path:
        return fn()
    import cProfile

    prof = cProfile.Profile()
    try:
        return prof.runcall(fn)
    finally:
        prof.dump_stats(path + suffix)
