"""``ship``'s progress line: drawn with rich when stdout is a terminal, else nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from cfsession.fleet.shipper import Report


def progress_printer(stream: Any = None) -> tuple[Callable[[Report], None], Callable[[], None]]:
    """(update, finish) drawing a rich status line when stdout is a terminal, else nothing."""
    out = stream or sys.stdout
    if not out.isatty():
        return (lambda _r: None), (lambda: None)
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    t0 = time.monotonic()
    live = Live(Text(""), console=Console(file=out), refresh_per_second=4, transient=False)
    live.start()

    def update(r: Report) -> None:
        rate = r.sent / max(time.monotonic() - t0, 1e-6)
        live.update(Text(f"shipped {r.lines:,} lines of {len(r.sessions):,} sessions "
                         f"({rate:,.0f} lines/s), {r.cast_bytes:,} cast bytes"
                         + (f", {len(r.refused)} refused" if r.refused else "")))

    return update, live.stop
