"""Drop ConPTY's start-up noise from the *recorded* output (pure; bytes in, bytes out).

Before the shell has written anything, ConPTY paints its own idea of an empty screen:
a clear, a cursor hide/home, colour resets, one CRLF per row of the blank screen, the
window title (the shell's path) and, on newer builds, requests for win32-input-mode and
focus events. Seen in the wild, for example::

    ESC[2J ESC[?25l ESC[m ESC[H \\r\\n x 23 ESC[H ESC]0;C:\\WINDOWS\\system32\\cmd.exe BEL ESC[?25h
    ESC[?9001h ESC[?1004h ...

(microsoft/node-pty#423, microsoft/terminal#235). None of it is the session's content,
and in a recording it shows up as a screen clear and two dozen blank lines before the
first prompt. :class:`StartupFilter` removes exactly those sequences from the start of
the stream and switches itself off for good at the first byte of anything else, so it can
never eat real output. The passthrough to the user's terminal is not filtered: the
terminal may need the mode requests.

Use: one filter per session; ``feed`` every output chunk meant for the recording (after
the marker segmenter), ``flush`` on idle or at the end. Chunks may split a sequence
anywhere; the result does not depend on how the stream was cut.
"""

from __future__ import annotations

import re

# Whole noise sequences, matched at the current position (longest form first where it matters).
_NOISE = re.compile(
    rb"\x1b\[\?(?:25|9001|1004)[hl]"  # cursor show/hide, win32-input-mode, focus events
    rb"|\x1b\[(?:0|39|49|39;49|49;39)?m"  # attribute/colour resets only
    rb"|\x1b\[[0-3]?J"  # erase display
    rb"|\x1b\[[0-2]?K"  # erase line
    rb"|\x1b\[(?:1;1|;)?[Hf]"  # cursor home (only home: other positions may be real drawing)
    rb"|\x1b\][02];[^\x07\x1b]{0,1024}(?:\x07|\x1b\\)"  # window title
)
_HOME = re.compile(rb"\x1b\[(?:1;1|;)?[Hf]")
# A sequence that may still become noise once more bytes arrive.
_PARTIAL = re.compile(rb"\x1b(?:\[[?0-9;]{0,6}|\][02]?(?:;[^\x07\x1b]{0,1024}\x1b?)?)?")
_MAX_HELD = 1100  # a held partial title can never grow past this (bounded memory)


class StartupFilter:
    """Remove ConPTY's initial clear/home/title/mode sequences from the start of a stream."""

    def __init__(self) -> None:
        self.done = False
        self.dropped = 0  # bytes removed (for diagnostics)
        self._held = b""  # an incomplete sequence at the end of the last chunk
        self._crlf = 0  # CRLFs seen in the noise; dropped only if a cursor-home follows

    def feed(self, chunk: bytes) -> bytes:
        """The part of ``chunk`` to record (possibly empty while still in the noise)."""
        if self.done:
            return chunk
        buf = self._held + chunk if self._held else chunk
        self._held = b""
        pos, n = 0, len(buf)
        while pos < n:
            c = buf[pos]
            if c == 0x1B:
                m = _NOISE.match(buf, pos)
                if m is not None:
                    if self._crlf and _HOME.fullmatch(m.group()):
                        # The blank-screen paint: CRLFs that only moved the cursor down.
                        self.dropped += 2 * self._crlf
                        self._crlf = 0
                    self.dropped += m.end() - pos
                    pos = m.end()
                    continue
                p = _PARTIAL.match(buf, pos)
                if p is not None and p.end() == n and n - pos <= _MAX_HELD:
                    self._held = buf[pos:]
                    return b""
                return self._finish(buf[pos:])
            if c == 0x0D:
                if pos + 1 == n:
                    self._held = buf[pos:]
                    return b""
                if buf[pos + 1] == 0x0A:
                    self._crlf += 1
                    pos += 2
                    continue
            return self._finish(buf[pos:])
        return b""

    def flush(self) -> bytes:
        """End the start-up phase: release whatever is held (idle timeout or end of stream)."""
        if self.done:
            return b""
        return self._finish(b"")

    def _finish(self, rest: bytes) -> bytes:
        self.done = True
        pending = b"\r\n" * self._crlf + self._held
        self._crlf, self._held = 0, b""
        return pending + rest


def strip_startup(data: bytes) -> bytes:
    """One-shot form: ``data`` without its leading ConPTY noise (held bytes released)."""
    f = StartupFilter()
    return f.feed(data) + f.flush()
