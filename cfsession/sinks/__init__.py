"""Sinks receive finished records (plain dicts shaped as DESIGN.md §3.1) and persist them.

A sink never raises into the recorder loop: a failure degrades the sink, is reported once
through ``on_warning`` and passthrough goes on (DESIGN.md §6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cfsession.records import Record

WarningCallback = Callable[[str, str], None]  # (code, human message)


class Sink(Protocol):
    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...
