"""One command's output while it runs: head and tail kept, the middle counted.

Memory stays flat however much a command prints (DESIGN.md §7); the plain text is
rendered only once, when the command ends.
"""

from __future__ import annotations

import re
from collections import deque

from cfsession.text import render_plain


class OutputSpool:
    """Raw output of one command: the first and last ``cap/2`` bytes kept, the rest counted.

    Memory stays flat however much a command prints (DESIGN.md §7).
    """

    def __init__(self, cap: int) -> None:
        self.half = max(cap // 2, 1)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
            if not data:
                return
        if len(data) >= self.half:
            self.tail.clear()
            self.tail.append(data[-self.half :])
            self.tail_len = self.half
            return
        self.tail.append(data)
        self.tail_len += len(data)
        while self.tail_len - len(self.tail[0]) >= self.half:
            self.tail_len -= len(self.tail.popleft())

    def recent(self, n: int) -> bytes:
        """The last ``n`` bytes kept."""
        tail = b"".join(self.tail)
        if len(tail) >= n:
            return tail[-n:]
        return bytes(self.head[-(n - len(tail)) :]) + tail if n > len(tail) else tail

    def trim_end(self, pattern: re.Pattern[bytes], window: int = 8192) -> int:
        """Drop the suffix ``pattern`` (anchored with ``\\Z``) finds in the last ``window``
        kept bytes: a shell's own trailer, not the command's output. Returns bytes removed."""
        tail = b"".join(self.tail)
        contiguous = self.total == len(self.head) + len(tail)
        buf = bytes(self.head) + tail if contiguous else tail
        m = pattern.search(buf, max(0, len(buf) - window))
        if m is None:
            return 0
        start = m.start()
        if contiguous and start < len(self.head):
            del self.head[start:]
            keep = b""
        else:
            keep = buf[len(self.head) if contiguous else 0 : start]
        self.tail.clear()
        if keep:
            self.tail.append(keep)
        self.tail_len = len(keep)
        cut = len(buf) - start
        self.total -= cut
        return cut

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + self.tail_len

    def text(self) -> str:
        head = render_plain(bytes(self.head).decode("utf-8", "replace"))
        if not self.tail:
            return head
        tail_bytes = b"".join(self.tail)
        omitted = self.total - len(self.head) - len(tail_bytes)
        if omitted > 0:
            tail_bytes = tail_bytes[-self.half :]
            omitted = self.total - len(self.head) - len(tail_bytes)
            # Start the tail at a line boundary when one is near, for a readable cut.
            nl = tail_bytes.find(b"\n", 0, 512)
            if nl >= 0:
                omitted += nl + 1
                tail_bytes = tail_bytes[nl + 1 :]
            sep = f"\n[… cfsession: {omitted} bytes of output omitted …]\n"
            return head.rstrip("\n") + sep + render_plain(tail_bytes.decode("utf-8", "replace"))
        return render_plain((bytes(self.head) + tail_bytes).decode("utf-8", "replace"))
