"""Plain text from terminal output, and sanitising recorded text before showing it.

``render_plain`` approximates what a terminal would show for line-oriented output:
escape sequences removed, ``\\r`` overwrites and backspaces resolved. It is not a
terminal emulator (cursor addressing is dropped), which is right for command output and
cheap enough to run at record time on the kept head and tail of each command's output.

``sanitize`` (from :mod:`cfsession.sanitize`, the one sanitizer) is for display: nothing
recorded may act on the viewer's terminal (a recorded OSC 52 must not reach their
clipboard) or reorder what they read.
"""

from __future__ import annotations

import re

from cfsession.sanitize import sanitize, strip_sequences

__all__ = ["render_plain", "sanitize", "strip_escapes"]

# Control characters left after escape removal: C0 except \t \n (and \r \b, which
# render_plain interprets), DEL, C1.
_CONTROLS = re.compile(r"[\x00-\x07\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


def strip_escapes(text: str) -> str:
    return strip_sequences(text)


def _render_line(line: str) -> str:
    """Resolve ``\\r`` (return to column 0, overwrite) and ``\\b`` within one line."""
    buf: list[str] = []
    col = 0
    for part in re.split(r"(\r|\x08)", line):
        if part == "\r":
            col = 0
        elif part == "\x08":
            col = max(0, col - 1)
        elif part:
            end = col + len(part)
            if col == len(buf):
                buf.extend(part)
            else:
                if end > len(buf):
                    buf.extend(" " * (end - len(buf)))
                buf[col:end] = part
            col = end
    return "".join(buf).rstrip(" ")


def render_plain(text: str, anomalies: set[str] | None = None) -> str:
    """Plain text of terminal output (see module doc); a string control without a proper
    end is noted in ``anomalies`` (:data:`cfsession.sanitize.UNTERMINATED`)."""
    text = strip_sequences(text, anomalies)
    text = text.replace("\r\n", "\n")
    text = _CONTROLS.sub("", text)
    if "\r" not in text and "\x08" not in text:
        return text
    return "\n".join(
        _render_line(line) if ("\r" in line or "\x08" in line) else line
        for line in text.split("\n")
    )
