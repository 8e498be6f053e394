"""Replay: pure timing transforms over cast frames, and a thin terminal player.

The transforms (:func:`command_span`, :func:`schedule`) are pure and tested without a
terminal. The player reads keys through a small :class:`Keys` seam: on a tty stdin it is
put in cbreak mode (no echo, no line buffering, Ctrl-C still interrupts) and restored
afterwards whatever happens; elsewhere keys are simply not read. Keys: space pause/resume,
``.`` one frame while paused, ``n`` next command, ``q`` quit (asciinema's and
sudoreplay's bindings, ANCHORS.md §2a).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cfsession.store import Frame

PLAYED = {"o", "m"}  # output is written; markers are where `n` stops


@dataclass(frozen=True)
class Step:
    delay: float  # seconds to wait before this frame, after speed and idle limit
    code: str
    data: str


def command_span(frames: Iterable[Frame], start: float, end: float | None) -> list[Frame]:
    """The frames of one command (``cast_start`` ≤ t ≤ ``cast_end``), re-based to start at 0."""
    return list(iter_command_span(frames, start, end))


def iter_command_span(frames: Iterable[Frame], start: float, end: float | None) -> Iterator[Frame]:
    """:func:`command_span` one frame at a time; stops reading after ``end`` (frames are
    in time order), so replaying one command of a long session reads only up to it."""
    for t, code, data in frames:
        if end is not None and t > end:
            return
        if t >= start:
            yield (t - start, code, data)


def schedule(frames: Iterable[Frame], *, speed: float = 1.0, idle_limit: float | None = None) -> list[Step]:
    """Delays between the played frames: idle gaps capped at ``idle_limit``, divided by ``speed``."""
    return list(iter_schedule(frames, speed=speed, idle_limit=idle_limit))


def iter_schedule(
    frames: Iterable[Frame], *, speed: float = 1.0, idle_limit: float | None = None
) -> Iterator[Step]:
    """:func:`schedule` one step at a time (replay streams: memory stays flat)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    return _steps(frames, speed, idle_limit)


def _steps(frames: Iterable[Frame], speed: float, idle_limit: float | None) -> Iterator[Step]:
    prev = 0.0
    for t, code, data in frames:
        if code not in PLAYED:
            continue
        gap = max(0.0, t - prev)
        if idle_limit is not None and idle_limit >= 0:
            gap = min(gap, idle_limit)
        yield Step(gap / speed, code, data)
        prev = max(prev, t)


class Keys(Protocol):
    def wait(self, timeout: float | None) -> str | None:
        """A key pressed within ``timeout`` seconds (None: forever), or None when it expires."""


class NoKeys:
    """No keyboard (stdin is not a tty): waiting is sleeping."""

    def wait(self, timeout: float | None) -> str | None:
        if timeout is None:  # paused with no way to resume: cannot happen without keys
            return "q"
        if timeout > 0:
            time.sleep(timeout)
        return None


class TtyKeys:
    """Keys from a terminal fd in cbreak mode (see :func:`tty_keys`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def wait(self, timeout: float | None) -> str | None:
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 32)
        if not data:
            return "q"  # EOF on the terminal
        return data[:1].decode("latin-1")


@contextmanager
def tty_keys(fd: int) -> Iterator[Keys]:
    """cbreak mode on ``fd`` for the duration; the old mode is restored on any exit."""
    try:
        import termios
        import tty
    except ImportError:  # no termios (Windows): play without keys
        yield NoKeys()
        return
    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        yield NoKeys()
        return
    try:
        tty.setcbreak(fd)
        yield TtyKeys(fd)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def play(
    steps: Iterable[Step],
    write: Callable[[str], None],
    keys: Keys,
    *,
    wait: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Write the frames with their delays, obeying keys; returns ``"end"`` or ``"quit"``."""
    paused = False
    skipping = False  # after `n`: write without delay up to the next command's marker
    for step in steps:
        if skipping:
            if step.code == "m":
                skipping = False  # arrived at the next command; its idle gap is skipped too
            elif step.code == "o":
                write(step.data)  # no VT to jump with: the output still has to be drawn
            continue
        if wait:
            remaining = step.delay
            while paused or remaining > 0:
                t = clock()
                key = keys.wait(None if paused else remaining)
                remaining -= clock() - t
                if key is None:
                    if not paused:
                        break
                    continue
                if key in ("q", "Q", "\x03"):
                    return "quit"
                if key == " ":
                    paused = not paused
                elif key == "." and paused:
                    break
                elif key == "n":
                    paused = False
                    skipping = step.code != "m"
                    break
        if step.code == "o":
            write(step.data)
        elif step.code == "m" and step.data.startswith(PAUSE_MARK):
            write(f"\r\n{step.data}\r\n")  # a pause in capture is shown where it was
    return "end"


PAUSE_MARK = "[cfsession: recording "  # the .cast markers of a pause and a resume


_ALT = re.compile(r"\x1b\[\?(?:1049|1047|47)([hl])")


# OSC numbers that make the viewer's terminal act on its host rather than draw: set the
# clipboard (52), send or write files and set user variables (iTerm2's 1337, kitty's
# 5113). A replay draws what was on the screen; a recording someone else made must not
# take over the viewer's clipboard (the rest of the stream goes as it was).
_HOST_OSC = frozenset(("52", "1337", "5113"))


class HostOscFilter:
    """Drops the _HOST_OSC sequences from a stream that comes in pieces (a sequence may be
    cut anywhere, its payload may be megabytes: nothing of it is held but its head)."""

    def __init__(self) -> None:
        self._held = ""  # an ESC or an OSC head too short to tell yet
        self._dropping = False  # inside a dropped sequence: until BEL or ESC \\

    def feed(self, data: str) -> str:
        text, self._held = self._held + data, ""
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            if self._dropping:
                bel, st = text.find("\x07", i), text.find("\x1b\\", i)
                ends = [e for e in ((bel, 1), (st, 2)) if e[0] >= 0]
                if not ends:
                    if text.endswith("\x1b"):
                        self._held = "\x1b"  # may be the start of the terminator
                    return "".join(out)
                at, size = min(ends)
                i, self._dropping = at + size, False
                continue
            j = text.find("\x1b", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if j + 1 == n or (text[j + 1] == "]" and j + 2 == n):
                self._held = text[j:]
                break
            if text[j + 1] != "]":
                out.append("\x1b")
                i = j + 1
                continue
            k = j + 2
            while k < n and k - j < 8 and text[k].isdigit():
                k += 1
            if k == n and k - j < 8:
                self._held = text[j:]  # "ESC ] 13" …: the number is not complete yet
                break
            if text[j + 2 : k] in _HOST_OSC and text[k] == ";":
                self._dropping, i = True, k + 1
                continue
            out.append(text[j:k])
            i = k
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self._dropping else held


class TerminalWriter:
    """Writes the raw stream to a terminal (less what acts on the viewer's host, above)
    and puts it back in order at the end."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.alt = False
        self.last = "\n"
        self._host = HostOscFilter()

    def __call__(self, data: str) -> None:
        data = self._host.feed(data)
        for m in _ALT.finditer(data):
            self.alt = m.group(1) == "h"
        if data:
            self.last = data[-1]
        self.out.write(data.encode("utf-8", "replace"))
        self.out.flush()

    def finish(self) -> None:
        rest = self._host.flush()
        if rest:
            self.out.write(rest.encode("utf-8", "replace"))
        # A replay cut short (q, Ctrl-C, or a recording that ended in vim) must not leave
        # the viewer's terminal on the alternate screen, with a hidden cursor or in colour,
        # nor the next prompt in the middle of a line.
        tail = "\x1b[0m\x1b[?25h" + ("\x1b[?1049l" if self.alt else "")
        if self.last != "\n" and not self.alt:
            tail += "\r\n"
        self.out.write(tail.encode())
        self.out.flush()


class PlainWriter:
    """Writes sanitised text (stdout is not a terminal and no raw stream was asked for)."""

    def __init__(self, out: BinaryIO) -> None:
        from cfsession.sanitize import StreamSanitizer

        self.out = out
        self._clean = StreamSanitizer()  # a sequence split between frames goes whole

    def __call__(self, data: str) -> None:
        self.out.write(self._clean.feed(data).encode("utf-8", "replace"))
        self.out.flush()

    def finish(self) -> None:
        self.out.write(self._clean.flush().encode("utf-8", "replace"))
        self.out.flush()
