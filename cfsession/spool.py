"""One command's output while it runs: head and tail kept, the middle counted.

Memory stays flat however much a command prints (DESIGN.md §7); the plain text is
rendered only once, when the command ends.

Where the output is cut, a secret may straddle the cut. So each kept part carries an
overlap of ``edge`` bytes beyond its visible half: the part is rendered and *redacted
whole*, and only then is the overlap dropped — from the redacted text, measured from the
cut. A secret no longer than ``edge`` that straddles a cut lies wholly inside the
dropped overlap, and one wholly inside a part was redacted before anything was cut.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable

from cfsession.text import render_plain

Redact = Callable[[str], "tuple[str, int]"]
EDGE_MAX = 4096  # longest secret shape a cut must not split (a JWT runs to ~2 KB)
_SNAP = 512  # a cut moves to a line boundary this near, for a readable transcript
_PLACEHOLDER = "[REDACTED:"


class OutputSpool:
    """Raw output of one command: the first and last ``cap/2`` bytes shown, the rest counted.

    Each part is kept with ``edge`` more bytes toward the middle (see the module doc), so
    memory is ``cap + 2 * edge`` at most, however much a command prints (DESIGN.md §7).
    """

    def __init__(self, cap: int, edge: int = EDGE_MAX) -> None:
        self.half = max(cap // 2, 1)
        self.edge = min(edge, self.half)
        self.keep = self.half + self.edge  # bytes kept per part
        self.anomalies: set[str] = set()  # what rendering noticed (unterminated strings)
        self.redactions = 0  # secrets replaced by the last text(redact)
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_len = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
            if not data:
                return
        if len(data) >= self.keep:
            self.tail.clear()
            self.tail.append(data[-self.keep :])
            self.tail_len = self.keep
            return
        self.tail.append(data)
        self.tail_len += len(data)
        while self.tail_len - len(self.tail[0]) >= self.keep:
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

    def _render(self, data: bytes) -> str:
        return render_plain(data.decode("utf-8", "replace"), self.anomalies)

    def text(self, redact: Redact | None = None) -> str:
        """The plain output, redacted by ``redact`` *before* any cut (the count goes to
        :attr:`redactions`). Redacting what this returns instead would miss a secret that
        straddles a cut: pass the redactor."""
        text, self.redactions = self._text(redact)
        return text

    def _text(self, redact: Redact | None) -> tuple[str, int]:
        tail_bytes = b"".join(self.tail)
        if not self.truncated:
            return _redacted(self._render(bytes(self.head) + tail_bytes), redact)
        head, n_head = _redacted(self._render(bytes(self.head)), redact)
        tail_bytes = tail_bytes[-self.keep :]
        tail, n_tail = _redacted(_hide_open_key(self._render(tail_bytes), redact), redact)
        head = _cut_end(head, self.edge)
        tail = _cut_start(tail, self.edge)
        shown = len(self.head) + len(tail_bytes) - 2 * self.edge
        sep = f"\n[… cfsession: about {max(self.total - shown, 0)} bytes of output omitted …]\n"
        return head.rstrip("\n") + sep + tail, n_head + n_tail


def _redacted(text: str, redact: Redact | None) -> tuple[str, int]:
    return (text, 0) if redact is None else redact(text)


def _placeholder_at(text: str, cut: int) -> tuple[int, int] | None:
    """The redaction placeholder that ``cut`` falls inside, as (start, end), if any."""
    ph = text.rfind(_PLACEHOLDER, max(cut - 64, 0), cut + len(_PLACEHOLDER))
    if ph < 0 or ph >= cut:
        return None
    close = text.find("]", ph)
    return (ph, close + 1) if close >= cut else None


def _cut_end(text: str, edge: int) -> str:
    """``text`` without its last ``edge`` characters, at a line end when one is near and
    never inside a redaction placeholder."""
    cut = max(len(text) - edge, 0)
    inside = _placeholder_at(text, cut)
    if inside is not None:
        cut = inside[0]
    nl = text.rfind("\n", max(cut - _SNAP, 0), cut)
    return text[: nl + 1 if nl >= 0 else cut]


def _cut_start(text: str, edge: int) -> str:
    """``text`` without its first ``edge`` characters, from a line start when one is near
    and never inside a redaction placeholder."""
    cut = min(edge, len(text))
    inside = _placeholder_at(text, cut)
    if inside is not None:
        cut = inside[1]
    nl = text.find("\n", cut, cut + _SNAP)
    return text[nl + 1 if nl >= 0 else cut :]


_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")


def _hide_open_key(text: str, redact: Redact | None) -> str:
    """The tail may begin inside a private-key block whose BEGIN line was cut away: its
    body up to the END line is hidden, as the redactor would have with the BEGIN line."""
    if redact is None or "PRIVATE KEY" not in text:
        return text
    kinds = getattr(getattr(redact, "__self__", None), "kinds", None)
    if kinds is not None and "private_key" not in kinds:
        return text
    end = _PEM_END.search(text)
    if end is None or "-----BEGIN" in text[: end.start()]:
        return text
    from cfsession.redact_stream import _PEM_REST

    m = _PEM_REST.match(text)
    if m is None or m.end() != end.end():
        return text
    return "[REDACTED:private_key]" + text[end.end() :]
