"""Small stand-ins shared by unit tests (real files and processes are used elsewhere)."""

from __future__ import annotations

from typing import Any


class ListSink:
    """A sink that keeps the records it is given, in order."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(dict(record))

    def close(self) -> None:
        pass
