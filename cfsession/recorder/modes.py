"""Which private terminal modes the child left set (platform-neutral: the loop uses it on
every OS, so it lives apart from the POSIX terminal module, which needs ``termios``)."""

from __future__ import annotations


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
        import re

        self._re = re.compile(rb"\x1b\[\?([0-9;]+)([hl])")
        self.set_modes: set[str] = set()
        self.cursor_hidden = False
        self.keypad = False

    def feed(self, data: bytes) -> None:
        if b"\x1b" not in data:  # one memchr for plain text
            return
        if b"\x1b[?" in data:
            for params, action in self._re.findall(data):
                for mode in params.decode().split(";"):
                    if mode == "25":
                        self.cursor_hidden = action == b"l"
                    elif mode in self._RESET:
                        if action == b"h":
                            self.set_modes.add(mode)
                        else:
                            self.set_modes.discard(mode)
        if b"\x1b=" in data:
            self.keypad = True
        if b"\x1b>" in data:
            self.keypad = False

    def resets(self) -> bytes:
        out = "".join(self._RESET[m] for m in sorted(self.set_modes, key=int))
        if self.cursor_hidden:
            out += "\x1b[?25h"
        if self.keypad:
            out += "\x1b>"
        return out.encode()
