"""The modes left set at the end, whatever the output and however it was cut into chunks."""

from __future__ import annotations

import random

from cfsession.recorder.modes import ModeTracker

TRACKED = ("1", "47", "1047", "1049", "1000", "1002", "1003", "1006", "2004")


def reference(chunks: list[bytes]) -> tuple[set[str], bool, bool]:
    """A byte-by-byte reading of the same sequences, in order (no regex)."""
    modes: set[str] = set()
    hidden = keypad = False
    for data in chunks:
        i = 0
        while i < len(data):
            if data.startswith(b"\x1b=", i) or data.startswith(b"\x1b>", i):
                keypad = data[i + 1] == ord("=")
                i += 2
                continue
            if data.startswith(b"\x1b[?", i):
                j = i + 3
                while j < len(data) and data[j] in b"0123456789;":
                    j += 1
                if j > i + 3 and j < len(data) and data[j] in b"hl":
                    on = data[j] == ord("h")
                    for m in data[i + 3 : j].decode().split(";"):
                        if m == "25":
                            hidden = not on
                        elif m in TRACKED:
                            (modes.add if on else modes.discard)(m)
                    i = j + 1
                    continue
            i += 1
    return modes, hidden, keypad


def test_zsh_prompt_leaves_keypad_and_paste_on() -> None:
    # One chunk as zsh writes it: a command's start leaves keypad mode, the next prompt
    # enters it again — the last one counts.
    t = ModeTracker()
    t.feed(b"echo 1\x1b[?1l\x1b>\x1b[?2004l\r\r\n1\r\n\x1b[JPROMPT> \x1b[K\x1b[?1h\x1b=\x1b[?2004h")
    assert (t.set_modes, t.keypad) == ({"1", "2004"}, True)
    assert t.resets() == b"\x1b[?1l\x1b[?2004l\x1b>"
    t.feed(b"\x1b[?1l\x1b>\x1b[?2004l")
    assert (t.set_modes, t.keypad, t.resets()) == (set(), False, b"")


def test_full_screen_app_killed() -> None:
    t = ModeTracker()
    t.feed(b"\x1b[?1049h\x1b[?25l\x1b[?1000;1006;7727h plain \x1b[?12h")
    assert t.resets() == b"\x1b[?1000l\x1b[?1006l\x1b[?1049l\x1b[?25h"
    t.feed(b"\x1b[?1049;1000;1006l\x1b[?25h")
    assert t.resets() == b""


def test_long_parameter_lists_count_too() -> None:
    t = ModeTracker()
    t.feed(b"\x1b[?" + b"7;" * 200 + b"2004h")
    assert t.set_modes == {"2004"}


def test_random_streams_match_a_byte_by_byte_reading() -> None:
    rng = random.Random(19)
    atoms = [
        b"\x1b[?2004h", b"\x1b[?2004l", b"\x1b[?1h", b"\x1b[?1l", b"\x1b=", b"\x1b>", b"\x1b[?25l",
        b"\x1b[?25h", b"\x1b[?1049;25h", b"\x1b[?1000;1006l", b"\x1b[?h", b"\x1b[?12;2004h", b"\x1b[31m",
        b"\x1b", b"text", b"\r\n", b"\x1b]6973;x;1;A\x07", b"[?1049h", b"\x1b[?",
    ]
    for _ in range(3000):
        chunks = [b"".join(rng.choice(atoms) for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(1, 4))]
        t = ModeTracker()
        for c in chunks:
            t.feed(c)
        assert (t.set_modes, t.cursor_hidden, t.keypad) == reference(chunks), chunks
