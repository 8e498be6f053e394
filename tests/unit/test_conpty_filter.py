"""The ConPTY start-up noise filter: exact sequences out, real output never touched."""

from __future__ import annotations

import random

import pytest

from cfsession.recorder.conpty_filter import StartupFilter, strip_startup

# What ConPTY printed before `cmd /c echo test` ran (microsoft/node-pty#423).
NODE_PTY_423 = (
    b"\x1b[2J\x1b[?25l\x1b[m\x1b[H"
    + b"\r\n" * 23
    + b"\x1b[H\x1b]0;C:\\Windows\\SYSTEM32\\cmd.exe\x07\x1b[?25h"
)
# A newer ConPTY: win32-input-mode and focus requests first, then the paint and title.
NEWER = (
    b"\x1b[?9001h\x1b[?1004h\x1b[?25l\x1b[2J\x1b[m\x1b[H"
    + b"\r\n" * 29
    + b"\x1b[H\x1b]0;C:\\Program Files\\PowerShell\\7\\pwsh.exe\x07\x1b[?25h"
)
# microsoft/terminal#235: explicit colour resets.
TERMINAL_235 = b"\x1b[2J\x1b[?25l\x1b[39m\x1b[49m\x1b[H"


@pytest.mark.parametrize("noise", [NODE_PTY_423, NEWER, TERMINAL_235])
def test_startup_paint_is_dropped(noise: bytes) -> None:
    real = b"\x1b[?25ltest\r\n\x1b[?25h"
    # The first real byte ("t") stops the filter; the ?25l before it is ConPTY's too.
    assert strip_startup(noise + real) == b"test\r\n\x1b[?25h"


def test_counts_what_it_dropped() -> None:
    f = StartupFilter()
    assert f.feed(NODE_PTY_423) == b""
    assert not f.done
    assert f.feed(b"PS> ") == b"PS> "
    assert f.done
    assert f.dropped == len(NODE_PTY_423)


def test_blank_lines_without_a_cursor_home_are_real_output() -> None:
    # CRLFs are only paint when a cursor-home follows; a shell's own leading blank lines stay.
    assert strip_startup(b"\x1b[?25l\r\n\r\nhello") == b"\r\n\r\nhello"
    assert strip_startup(b"\r\n\x1b]0;t\x07\r\nhi") == b"\r\n\r\nhi"


def test_anything_else_ends_filtering_for_good() -> None:
    f = StartupFilter()
    assert f.feed(b"\x1b[31mred") == b"\x1b[31mred"
    # Later sequences that look like noise are real output now (a `cls`, a title change).
    assert f.feed(b"\x1b[2J\x1b[H\x1b]0;title\x07") == b"\x1b[2J\x1b[H\x1b]0;title\x07"
    assert f.dropped == 0


def test_cursor_positions_other_than_home_are_not_noise() -> None:
    assert strip_startup(b"\x1b[2J\x1b[5;1Hx") == b"\x1b[5;1Hx"


def test_marker_of_ours_stops_the_filter_unharmed() -> None:
    mark = b"\x1b]6973;" + b"0" * 32 + b";1;H;shell=pwsh\x07"
    assert strip_startup(NEWER + mark + b"PS> ") == mark + b"PS> "


def test_partial_sequences_are_held_then_released() -> None:
    f = StartupFilter()
    assert f.feed(b"\x1b[?90") == b""
    assert f.feed(b"01h\x1b]0;C:\\x") == b""
    assert f.feed(b"\x07\r") == b""  # a lone CR might start a CRLF
    assert f.feed(b"\nok") == b"\r\nok"
    f = StartupFilter()
    assert f.feed(b"\x1b[") == b""
    assert f.flush() == b"\x1b["  # idle/end: nothing is ever swallowed
    assert f.done and f.flush() == b""


def test_long_title_is_not_noise_and_memory_stays_bounded() -> None:
    f = StartupFilter()
    title = b"\x1b]0;" + b"x" * 3000
    out = f.feed(title)
    assert f.done and out == title  # released once it can no longer be a (short) title
    assert strip_startup(b"\x1b]0;" + b"y" * 2000 + b"\x07z") == b"\x1b]0;" + b"y" * 2000 + b"\x07z"


def _split_feed(data: bytes, cuts: list[int]) -> bytes:
    f = StartupFilter()
    out = bytearray()
    prev = 0
    for c in cuts + [len(data)]:
        out += f.feed(data[prev:c])
        prev = c
    return bytes(out + f.flush())


@pytest.mark.parametrize(
    "stream",
    [
        NODE_PTY_423 + b"\x1b[?25ltest\r\n",
        NEWER + b"\r\n\x1b[32mPS\x1b[0m C:\\> ",
        b"\x1b[?25l\r\n\r\nplain",
        b"\x1b[2J\x1b]0;t\x1b\\\x1b[Kx",
    ],
)
def test_result_does_not_depend_on_chunking(stream: bytes) -> None:
    want = strip_startup(stream)
    for cut in range(len(stream) + 1):
        assert _split_feed(stream, [cut]) == want, cut
    rng = random.Random(1234)
    for _ in range(300):
        cuts = sorted(rng.sample(range(len(stream) + 1), rng.randint(2, 8)))
        assert _split_feed(stream, cuts) == want, cuts
