"""Plain text from terminal output, and sanitising recorded text before showing it.

``render_plain`` approximates what a terminal would show for line-oriented output:
escape sequences removed, ``\\r`` overwrites and backspaces resolved. It is not a
terminal emulator (cursor addressing is dropped), which is right for command output and
cheap enough to run at record time on the kept head and tail of each command's output.

``sanitize`` is for display: nothing recorded may act on the viewer's terminal
(a recorded OSC 52 must not reach their clipboard), so every escape sequence and every
control character except newline and tab is removed.
"""

from __future__ import annotations

import re

# ESC-introduced sequences (ECMA-48): CSI, OSC / DCS / SOS / PM / APC strings (terminated by
# BEL or ST, or cut off at the end of the text), charset designations, two-byte escapes.
_ESC_SEQ = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                      # CSI
  | \x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\|$)    # OSC, DCS, SOS, PM, APC
  | \x1b[()*+\-./][ -~]?                         # designate character set
  | \x1b[ -/]*[0-~]                              # other escape sequences
  | \x1b$                                        # a lone trailing ESC
  | \x9b[0-?]*[ -/]*[@-~]                        # 8-bit CSI
  | [\x90\x9d\x98\x9e\x9f][^\x07\x9c]*(?:\x07|\x9c|$)  # 8-bit string controls
    """,
    re.VERBOSE,
)
# Control characters left after escape removal: C0 except \t \n (and \r \b, which
# render_plain interprets), DEL, C1.
_CONTROLS = re.compile(r"[\x00-\x07\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_DISPLAY = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_escapes(text: str) -> str:
    return _ESC_SEQ.sub("", text) if ("\x1b" in text or "\x9b" in text or "\x9d" in text or "\x90" in text) else text


def sanitize(text: str) -> str:
    """Text safe to print on a terminal: no escape sequences, no controls but ``\\n``/``\\t``."""
    text = strip_escapes(text)
    text = text.replace("\r\n", "\n")
    return _CONTROLS_DISPLAY.sub("", text)


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


def render_plain(text: str) -> str:
    """Plain text of terminal output (see module doc)."""
    text = strip_escapes(text)
    text = text.replace("\r\n", "\n")
    text = _CONTROLS.sub("", text)
    if "\r" not in text and "\x08" not in text:
        return text
    return "\n".join(
        _render_line(line) if ("\r" in line or "\x08" in line) else line
        for line in text.split("\n")
    )
