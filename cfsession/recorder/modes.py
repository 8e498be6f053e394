"""Which private terminal modes the child left set (platform-neutral: the loop uses it on
every OS, so it lives apart from the POSIX terminal module, which needs ``termios``)."""

from __future__ import annotations

import re
from functools import lru_cache

# DECSET/DECRST of private modes (ESC [ ? n;m h|l), or keypad application/numeric (ESC = / ESC >).
_SEQ = re.compile(rb"\x1b(?:\[\?([0-9;]+)([hl])|([=>]))")


class ModeTracker:
    """Remember the private modes the child left set, to undo them if it dies (§4.2).

    A shell killed at its prompt leaves bracketed paste (and zsh keypad modes) on; a
    full-screen app killed mid-run leaves the alternate screen, mouse reporting and a
    hidden cursor. Only modes still set at the end are reset.
    """

    # mode -> the sequence that undoes "set"
    _RESET = {
        "1": "\x1b[?1l",
        "47": "\x1b[?47l",
        "1047": "\x1b[?1047l",
        "1049": "\x1b[?1049l",
        "1000": "\x1b[?1000l",
        "1002": "\x1b[?1002l",
        "1003": "\x1b[?1003l",
        "1006": "\x1b[?1006l",
        "2004": "\x1b[?2004l",
    }

    def __init__(self) -> None:
        self.set_modes: set[str] = set()
        self.cursor_hidden = False
        self.keypad = False

    def feed(self, data: bytes) -> None:
        """Note the modes ``data`` sets and resets, in the order the terminal meets them.

        One C-level scan (``findall``) finds every DECSET/DECRST and DECKPAM/DECKPNM; a
        chunk without ESC costs one ``memchr``. The loop feeds it what the terminal is
        shown (markers never hold these sequences)."""
        if b"\x1b" not in data:
            return
        for params, action, keypad in _SEQ.findall(data):
            if keypad:
                # zsh leaves keypad mode (ESC >) to run a command and enters it again
                # (ESC =) at the next prompt, often in one chunk: the last one counts.
                self.keypad = keypad == b"="
                continue
            on = action == b"h"
            for mode in _modes(params) if len(params) <= 32 else _parse(params):
                if mode == "25":
                    self.cursor_hidden = not on
                elif on:
                    self.set_modes.add(mode)
                else:
                    self.set_modes.discard(mode)

    def resets(self) -> bytes:
        out = "".join(self._RESET[m] for m in sorted(self.set_modes, key=int))
        if self.cursor_hidden:
            out += "\x1b[?25h"
        if self.keypad:
            out += "\x1b>"
        return out.encode()


def _parse(params: bytes) -> tuple[str, ...]:
    """The modes we track in a parameter list (``25`` is the cursor, the rest reset)."""
    return tuple(m for m in params.decode().split(";") if m == "25" or m in ModeTracker._RESET)


# A shell repeats the same few short lists (``2004``, ``1``, ``1049;25``…); only short
# ones are kept, so hostile output cannot fill the cache with big ones.
_modes = lru_cache(maxsize=64)(_parse)
