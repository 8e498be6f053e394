"""The input line as the user saw it, from the bytes the terminal echoed.

A shell whose hook cannot say what was typed (bash with a line kept out of history)
leaves the recorder two regions of output: the prompt (from the prompt-start marker A to
the prompt-end marker B) and the echo (from B to the command-start marker C). The echo
is not the typed text: readline redraws a recalled line with backspaces, ``ESC[P``
(delete characters), ``ESC[K`` and cursor moves, and wraps it at the terminal width.
Rendering both regions with a terminal emulator (pyte) and reading the screen from where
the prompt left the cursor gives the line as it stood when Enter was pressed.

The recorder uses this to decide between "the same line as the history entry" and
"something else" (kept hidden), and, for a bash command whose end marker never came
(``exec``, a shell killed with its command), as the command's text.
"""

from __future__ import annotations

import re
from typing import Any

from cfsession.text import render_plain

ECHO_CAP = 64 * 1024  # bytes of echo rendered at most (a longer line is not compared)


_PRINTABLE = re.compile(rb"[ -~]*")
# Colours, and modes that move nothing on screen: bracketed paste (readline sets it before
# the prompt and clears it after Enter), cursor keys, keypad, cursor shown or hidden.
_QUIET = re.compile(rb"\x1b\[[0-9;]*m|\x1b\[\?(?:2004|1|25)[hl]|\x1b[=>]")
_PROMPT_TEXT = re.compile(rb"[ -~\n]*")
_AFTER_ENTER = re.compile(rb"(?:\x1b\[\?(?:2004|1|25)[hl]|\x1b[=>]|\r)*")


def typed_line(prompt: bytes, echo: bytes, cols: int) -> str | None:
    """The line on screen after ``prompt`` once ``echo`` was drawn, or None if it cannot
    be told (no emulator, an echo too long, a multi-line edit)."""
    if len(echo) > ECHO_CAP or cols < 2:
        return None
    plain = _plain_line(prompt, echo)
    if plain is not None:
        return plain
    try:
        import pyte
    except ImportError:
        return None
    text_p = prompt.decode("utf-8", "replace")
    text_e = echo.decode("utf-8", "replace")
    # Tall enough that nothing scrolls: the start row stays where the prompt left it.
    rows = (len(text_p) + len(text_e)) // cols + text_p.count("\n") + text_e.count("\n") + 4
    screen = pyte.Screen(cols, min(rows, 4096))
    stream = pyte.Stream(screen)
    stream.feed(text_p)
    y0, x0 = screen.cursor.y, screen.cursor.x
    stream.feed(text_e)
    # The typed text runs from (y0, x0) over the wrapped rows that follow; Enter moved
    # the cursor below it. Rows after the cursor's are not part of the line.
    last = max(screen.cursor.y, y0)
    if screen.cursor.x == 0 and last > y0:
        last -= 1  # Enter's CR LF: the line ended on the row before
    parts = [_row(screen, y0)[x0:]] + [_row(screen, y) for y in range(y0 + 1, last + 1)]
    return "".join(parts).rstrip()


def _plain_line(prompt: bytes, echo: bytes) -> str | None:
    """The common case without an emulator: a prompt of plain lines (text, colours and
    quiet modes, _QUIET), then a line typed without any editing, Enter's CR LF
    and at most quiet modes and a CR. The emulator would show exactly that text (wrapped
    rows joined). None when it is anything else."""
    end = echo.find(b"\r\n")
    if end < 0 or not _PRINTABLE.fullmatch(echo, 0, end) or not _AFTER_ENTER.fullmatch(echo, end + 2):
        return None
    if not _PROMPT_TEXT.fullmatch(_QUIET.sub(b"", prompt).replace(b"\r\n", b"\n")):
        return None
    return echo[:end].decode("ascii").rstrip()


def _row(screen: Any, y: int) -> str:
    """Row ``y`` as ``screen.display`` has it (a wide character's second cell is not
    repeated), without rendering every row of the screen as ``display`` does."""
    from wcwidth import wcwidth

    line = screen.buffer[y]
    out = []
    wide = False
    for x in range(screen.columns):
        if wide:
            wide = False
            continue
        ch = line[x].data
        wide = bool(ch) and wcwidth(ch[0]) == 2  # (an empty cell: pyte's display raises)
        out.append(ch)
    return "".join(out)


Echo = tuple["bytes | None", bytes]  # (the prompt up to its end marker, what followed it)


def from_echo(echo: Echo | None, cols: int) -> tuple[str | None, str]:
    """(text, source) of a command whose end marker (and text) never came: the line as
    echoed. A line typed with a leading space stays hidden, as does anything unclear."""
    if echo is None or echo[0] is None:
        return None, "hidden"
    line = typed_line(echo[0], echo[1], cols)
    if not line or line[:1].isspace():
        return None, "hidden"
    return line, "echo"


def echo_label(echo: Echo) -> str:
    """The .cast marker of a command whose text comes later: its last echoed line, plain
    (cheap: no emulator on every command); a line typed with a leading space is not shown."""
    shown = render_plain(echo[1][-1024:].decode("utf-8", "replace")).strip("\r\n").rsplit("\n", 1)[-1]
    if not shown.strip() or shown[:1].isspace() or echo[0] is None:
        return "$ (command)"
    return "$ " + shown.rstrip()
