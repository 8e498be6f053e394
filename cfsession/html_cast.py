"""What the HTML page's player gets: a session's cast streamed, paced and windowed.

Read twice, never held (DESIGN.md §7: ≤ 50 MiB for a 1 GiB cast). Pass one (:func:`plan`)
sizes each command's output (a command's span runs from its ``cast_start`` to the next
one's) and puts every command's start and end on the played clock; pass two
(:func:`played_frames`) writes the events on that clock. Pauses longer than the idle limit
are shortened here rather than by the player, so the page's list knows each command's
time on the player's clock exactly. When the output is over the budget every span keeps
its head and tail under one common cap (:func:`fair_shares`: small outputs stay whole) and
the middle becomes one visible notice, so every command is still there to jump to.
Keystrokes (``"i"`` events) are never passed on.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cfsession import store
from cfsession.store import Frame, StoreWarning, as_float

_CHUNK = 1 << 16


# -- the cast, streamed ---------------------------------------------------------------------
def iter_cast(path: Path, warnings: list[StoreWarning] | None = None) -> Iterator[Frame]:
    """The events of a .cast file one by one, validated as :func:`store.read_cast` does.

    Read line by line through a small buffer (not :class:`store.LineReader`'s 4 MiB
    chunks): memory stays near the longest line, which the recorder keeps short.
    """
    last = 0.0
    lineno = 0
    with open(path, "rb", buffering=1 << 18) as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):  # a cut last line: being written, or a crash
                if warnings is not None:
                    warnings.append(store.tail_warning(path, lineno, len(raw)))
                break
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except (ValueError, RecursionError):
                warn(warnings, path, lineno, "corrupt line (not JSON), skipped")
                continue
            if lineno == 1 and isinstance(item, dict):
                continue  # the header: the page builds its own from the session
            if not (isinstance(item, list) and len(item) == 3 and as_float(item[0]) is not None
                    and isinstance(item[1], str) and isinstance(item[2], str)) or (
                        item[1] == "r" and not _RESIZE.match(item[2])):
                warn(warnings, path, lineno, "not an asciicast event, skipped")
                continue
            last = max(last, float(item[0]))
            yield last, item[1], item[2]


_RESIZE = re.compile(r"^\d+x\d+$")  # the player, like asciinema 3, fails on any other "r"


def warn(warnings: list[StoreWarning] | None, path: Path, line: int, text: str) -> None:
    if warnings is not None:
        warnings.append(StoreWarning(str(path), line, text))


# -- the plan: what the player gets -----------------------------------------------------------
@dataclass
class Plan:
    """Pass one's findings: span sizes, kept windows, and command times on the player's clock."""

    starts: list[float]  # recorded cast_start of each timed command, sorted
    sizes: list[int]  # output characters per span (span 0: before the first command)
    keep: list[int] = field(default_factory=list)  # characters kept per span (head + tail)
    player_time: dict[float, float] = field(default_factory=dict)  # recorded -> played
    total: int = 0
    duration: float = 0.0  # of the played cast

    @property
    def dropped(self) -> int:
        return sum(s - k for s, k in zip(self.sizes, self.keep, strict=True))


class Clock:
    """Recorded time -> played time, pauses capped at ``limit`` (same in both passes)."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.t = 0.0
        self.played = 0.0

    def at(self, t: float) -> float:
        gap = max(0.0, t - self.t)
        return self.played + (min(gap, self.limit) if self.limit is not None else gap)

    def advance(self, t: float) -> float:
        if t > self.t:
            self.played, self.t = self.at(t), t
        return self.played


def plan(frames: Iterable[Frame], starts: list[float], points: list[float], limit: float | None,
         budget: int) -> Plan:
    """Pass one over the frames: output size per command span (a span runs from one command's
    start to the next one's) and the played time of every point."""
    starts = sorted(starts)
    p = Plan(starts=starts, sizes=[0] * (len(starts) + 1))
    clock = Clock(limit)
    pending = sorted(set(points))
    i = 0
    for t, code, data in frames:
        while i < len(pending) and pending[i] <= t:
            p.player_time[pending[i]] = clock.at(pending[i])
            i += 1
        clock.advance(t)
        if code == "o":
            p.sizes[bisect.bisect_right(starts, t)] += len(data)
    for point in pending[i:]:
        p.player_time[point] = clock.at(point)
    p.duration = clock.played
    p.total = sum(p.sizes)
    p.keep = fair_shares(p.sizes, budget)
    return p


def fair_shares(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: every span keeps min(size, cap), the largest cap the budget allows."""
    if sum(sizes) <= budget:
        return list(sizes)
    left, cap = budget, 0
    ordered = sorted(sizes)
    for n_left, size in zip(range(len(ordered), 0, -1), ordered, strict=True):
        share = left // n_left
        if size > share:
            cap = share
            break
        left -= size
    return [min(s, cap) for s in sizes]


def _omitted(chars: int, session_id: str) -> str:
    return (f"\r\n\x1b[0m\x1b[7m[cfsession: {size_text(chars)} of output left out of this page; "
            f"`cfsession export {session_id[:8]} --format asciicast` has all of it]\x1b[0m\r\n")


def played_frames(frames: Iterable[Frame], p: Plan, limit: float | None, session_id: str) -> Iterator[Frame]:
    """Pass two: the frames the player gets, on the played clock, long outputs windowed."""
    clock = Clock(limit)
    offset = [0] * len(p.sizes)
    for t, code, data in frames:
        played = clock.advance(t)
        if code == "i":
            continue  # never show keystrokes
        if code != "o":
            yield played, code, data
            continue
        span = bisect.bisect_right(p.starts, t)
        size, keep, o = p.sizes[span], p.keep[span], offset[span]
        offset[span] = o + len(data)
        if keep >= size:
            yield played, code, data
            continue
        head, tail_from = (keep + 1) // 2, size - keep // 2
        parts = []
        if o < head:
            parts.append(data[: head - o])
        if o < head <= o + len(data) or (o == 0 and head == 0):
            parts.append(_omitted(size - keep, session_id))
        if o + len(data) > tail_from:
            parts.append(data[max(0, tail_from - o):])
        if parts:
            yield played, code, "".join(parts)


def cast_lines(width: int, height: int, frames: Iterable[Frame]) -> Iterator[str]:
    """asciicast v2 for the data block: ``<`` as ``\\u003c``, so nothing can close the block."""
    yield _safe_json({"version": 2, "width": width, "height": height}) + "\n"
    buf: list[str] = []
    size = 0
    for t, code, data in frames:
        line = f"[{t:.6f}, {_safe_json(code)}, {_safe_json(data)}]\n"
        buf.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


_RAW = re.compile("[\x7f-\x9f]")  # json.dumps leaves DEL and C1 raw; U+009B acts as CSI


def _safe_json(value: object) -> str:
    """JSON that can neither close the data block nor act on a terminal showing the file."""
    text = json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")
    return _RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _RAW.search(text) else text


def size_text(chars: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if chars >= scale:
            return f"{chars / scale:.1f} {unit}"
    return f"{chars} B"
