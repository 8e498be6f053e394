"""Reading the bookkeeping pipe's frames, and finding the way back after a bad one.

Each frame is ``tag, kind, time, length | payload | tag`` (recorder/bookkeeper.py). The
tag is random per session, so output cannot forge it. A frame whose head or trailing tag
does not check out means something cut into the stream: its bytes are never handed on
(they would reach the .cast as screen output); the reader reports them as :class:`Lost`
and resumes at the next tag whose frame checks out — so one bad write costs the output
it carried, not the rest of the session and not its ``session_end``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import NamedTuple

READ_SIZE = 1 << 20


class Lost(NamedTuple):
    size: int  # bytes skipped to get back in step


def read_frames(
    fd: int, tag: bytes, head: struct.Struct, kinds: tuple[bytes, ...], max_frame: int,
    idle: Callable[[], None] | None = None,
) -> Iterator[tuple[bytes, float, bytes] | Lost]:
    """Frames ``(kind, t, payload)`` from ``fd`` until EOF; a :class:`Lost` for each gap.

    ``idle`` is called before each read of ``fd``: what came so far has been handed on,
    and the read may wait (the consumer writes out what it holds, never across a wait)."""
    buf = bytearray()
    pos = 0
    eof = False
    skipped = 0
    hsize, tlen = head.size, len(tag)

    def fill(need: int) -> bool:
        """Have at least ``need`` bytes from ``pos``; False at EOF before that."""
        nonlocal buf, pos, eof
        while len(buf) - pos < need:
            if eof:
                return False
            if pos and pos >= len(buf) // 2:
                del buf[:pos]  # keep the buffer from growing with what was consumed
                pos = 0
            if idle is not None:
                idle()
            chunk = os.read(fd, max(READ_SIZE, need))
            if not chunk:
                eof = True
                return False
            buf += chunk
        return True

    while True:
        if len(buf) - pos < hsize and not fill(hsize):
            rest = len(buf) - pos
            if rest or skipped:
                yield Lost(skipped + rest)  # a partial frame at the end: the writer died
            return
        t_tag, kind, t, n = head.unpack_from(buf, pos)
        ok = t_tag == tag and kind in kinds and n <= max_frame
        if ok:
            if len(buf) - pos < hsize + n + tlen and not fill(hsize + n + tlen):
                ok = False
            else:
                ok = buf.startswith(tag, pos + hsize + n)
        if ok:
            if skipped:
                yield Lost(skipped)
                skipped = 0
            start = pos + hsize
            # a large payload is copied once through a view; a small one (marks, typing
            # echo) by a slice, which is cheaper than making the view
            payload = bytes(buf[start : start + n]) if n < 2048 else bytes(memoryview(buf)[start : start + n])
            pos = start + n + tlen
            yield kind, t, payload
            continue
        if eof and len(buf) - pos < hsize:
            continue  # handled at the top: reported as lost
        # Out of step: skip to the next tag after this position.
        nxt = buf.find(tag, pos + 1)
        while nxt < 0 and not eof:
            keep = len(buf) - (tlen - 1)  # a tag may straddle the next read
            skipped += max(0, keep - pos)
            pos = max(pos, keep)
            if not fill(len(buf) - pos + 1):
                break
            nxt = buf.find(tag, pos)
        if nxt < 0:
            skipped += len(buf) - pos
            pos = len(buf)
            yield Lost(skipped)
            return
        skipped += nxt - pos
        pos = nxt
