"""Record helpers shared by the writers and readers of session files: the record type,
the timestamp format and the canonical line encoding."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

Record = dict[str, Any]


def utc_ts(t: float | None = None) -> str:
    """RFC 3339 UTC with microseconds and ``Z`` (``time`` only: ``datetime`` costs ~2 ms
    of imports before the first prompt)."""
    if t is None:
        t = time.time()
    frac, whole = math.modf(t)  # the rounding datetime.fromtimestamp does
    micro = round(frac * 1e6)
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    elif micro < 0:
        whole, micro = whole - 1, micro + 1_000_000
    global _last_second
    second = _last_second
    if second[0] != whole:  # a record's three stamps mostly fall in the same second
        second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
        _last_second = second
    return second[1] + f".{micro:06d}Z"


_last_second: tuple[float, str] = (math.nan, "")  # (whole seconds, their formatted part)


def dumps(record: Record) -> bytes:
    """The line encoding of a record (without the newline)."""
    return _LINE.encode(record).encode("utf-8")


_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps's, built once


def first_record(path: Path, limit: int = 1 << 20) -> Record:
    """The first line of a session file (.jsonl start record or .cast header) as a dict;
    ``{}`` when the file cannot be read or the line is not a JSON object."""
    try:
        with open(path, "rb") as f:
            item = json.loads(f.readline(limit))
    except (OSError, ValueError, RecursionError):
        return {}
    return item if isinstance(item, dict) else {}
