"""One command's output while it runs: head and tail kept, the middle counted.

Memory stays flat however much a command prints (DESIGN.md §7); the plain text is
rendered only once, when the command ends.
"""

from __future__ import annotations

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
