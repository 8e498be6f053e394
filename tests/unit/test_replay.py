"""replay: pure timing transforms, the key-driven player (scripted keys), terminal restore."""

from __future__ import annotations

import io
import os

import pytest

from cfsession import replay
from cfsession.replay import Step

FRAMES = [
    (0.5, "o", "$ "),
    (1.0, "m", "$ make"),
    (1.0, "o", "building\r\n"),
    (1.5, "r", "100x30"),
    (11.0, "o", "done\r\n"),
    (12.0, "m", "$ ls"),
    (12.5, "o", "a b c\r\n"),
]


def test_schedule_keeps_relative_timing_and_skips_unplayed_codes() -> None:
    steps = replay.schedule(FRAMES)
    assert [(round(s.delay, 6), s.code) for s in steps] == [
        (0.5, "o"), (0.5, "m"), (0.0, "o"), (10.0, "o"), (1.0, "m"), (0.5, "o")]


def test_schedule_speed_and_idle_limit() -> None:
    steps = replay.schedule(FRAMES, speed=2.0, idle_limit=2.0)
    assert [round(s.delay, 6) for s in steps] == [0.25, 0.25, 0.0, 1.0, 0.5, 0.25]
    with pytest.raises(ValueError):
        replay.schedule(FRAMES, speed=0)


def test_command_span_is_rebased() -> None:
    span = replay.command_span(FRAMES, 1.0, 11.0)
    assert span == [(0.0, "m", "$ make"), (0.0, "o", "building\r\n"), (0.5, "r", "100x30"),
                    (10.0, "o", "done\r\n")]
    assert replay.command_span(FRAMES, 12.0, None)[-1] == (0.5, "o", "a b c\r\n")


class ScriptedKeys:
    """Keys pressed in order; records every wait it was asked for. Time never passes."""

    def __init__(self, keys: list[str | None]) -> None:
        self.keys = list(keys)
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None) -> str | None:
        self.waits.append(None if timeout is None else round(timeout, 6))
        return self.keys.pop(0) if self.keys else None


def _play(keys: list[str | None], wait: bool = True) -> tuple[str, list[str], ScriptedKeys]:
    out: list[str] = []
    k = ScriptedKeys(keys)
    result = replay.play(replay.schedule(FRAMES), out.append, k, wait=wait, clock=lambda: 0.0)
    return result, out, k


def test_play_without_keys_waits_each_delay_in_order() -> None:
    result, out, k = _play([])
    assert result == "end" and out == ["$ ", "building\r\n", "done\r\n", "a b c\r\n"]
    assert k.waits == [0.5, 0.5, 10.0, 1.0, 0.5]  # zero delays are not waited for


def test_no_wait_dumps_without_reading_keys() -> None:
    result, out, k = _play(["q"], wait=False)
    assert result == "end" and len(out) == 4 and k.waits == []


def test_q_quits() -> None:
    result, out, _ = _play([None, "q"])
    assert result == "quit" and out == ["$ "]


def test_space_pauses_dot_steps_space_resumes() -> None:
    # "$ " after 0.5 s; space pauses before the marker; "." passes the marker (silent),
    # "." shows "building" at once; still paused: space resumes and the 10 s wait follows.
    result, out, k = _play([None, " ", ".", ".", " "])
    assert result == "end"
    assert out == ["$ ", "building\r\n", "done\r\n", "a b c\r\n"]
    assert k.waits == [0.5, 0.5, None, None, None, 10.0, 1.0, 0.5]


def test_n_jumps_to_the_next_command() -> None:
    # While waiting 10 s for "done", `n` draws the rest of `make` at once and lands on `ls`.
    result, out, k = _play([None, None, "n"])
    assert out == ["$ ", "building\r\n", "done\r\n", "a b c\r\n"]
    assert k.waits == [0.5, 0.5, 10.0, 0.5]  # the 1 s gap before `ls` was skipped too


def test_terminal_writer_restores_screen() -> None:
    buf = io.BytesIO()
    w = replay.TerminalWriter(buf)  # type: ignore[arg-type]
    w("\x1b[?1049h\x1b[?25lvim")
    w.finish()
    assert buf.getvalue().endswith(b"\x1b[0m\x1b[?25h\x1b[?1049l")
    buf2 = io.BytesIO()
    w2 = replay.TerminalWriter(buf2)  # type: ignore[arg-type]
    w2("\x1b[?1049hx\x1b[?1049l")
    w2.finish()
    # Left the alternate screen itself; the cursor is where it was: a new line to be sure.
    assert buf2.getvalue().endswith(b"x\x1b[?1049l\x1b[0m\x1b[?25h\r\n")
    buf3 = io.BytesIO()
    w3 = replay.TerminalWriter(buf3)  # type: ignore[arg-type]
    w3("$ ls\r\nfile\r\n")
    w3.finish()
    assert buf3.getvalue().endswith(b"file\r\n\x1b[0m\x1b[?25h")  # already at column 0


def test_plain_writer_sanitises() -> None:
    buf = io.BytesIO()
    replay.PlainWriter(buf)("\x1b]52;c;Zm9v\x07\x1b[31mred\x1b[0m\r\n")  # type: ignore[arg-type]
    assert buf.getvalue() == b"red\n"


def test_tty_keys_sets_cbreak_and_restores() -> None:
    termios = pytest.importorskip("termios")
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with replay.tty_keys(slave) as keys:
            during = termios.tcgetattr(slave)
            assert not during[3] & termios.ICANON and not during[3] & termios.ECHO
            os.write(master, b"n")
            assert keys.wait(5.0) == "n"
            assert keys.wait(0) is None
        assert termios.tcgetattr(slave) == before
        with pytest.raises(KeyboardInterrupt), replay.tty_keys(slave):
            raise KeyboardInterrupt
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_tty_keys_on_a_non_tty_reads_nothing() -> None:
    r, w = os.pipe()
    try:
        with replay.tty_keys(r) as keys:
            assert isinstance(keys, replay.NoKeys)
    finally:
        os.close(r)
        os.close(w)


def test_steps_are_frozen_records() -> None:
    assert Step(0.1, "o", "x") == Step(0.1, "o", "x")


# A recording someone else made, replayed in your terminal: its clipboard write (OSC 52),
# iTerm2's file transfer (1337) and kitty's (5113) must not act on your machine; the
# title, links, colours and text go as recorded. The stream comes in pieces cut anywhere.
_HOSTILE = ("a\x1b]52;c;" + "QUJD" * 5000 + "\x07b\x1b]0;title\x07c\x1b]1337;File=x:YWJj\x1b\\d"
            "\x1b]8;;http://x\x1b\\e\x1b[31mf\x1b]5113;ac=send\x07g\x1b]52;p;?\x1b\\h")
_SHOWN = "ab\x1b]0;title\x07cd\x1b]8;;http://x\x1b\\e\x1b[31mfgh"


@pytest.mark.parametrize("seed", range(40))
def test_replay_to_a_terminal_drops_what_acts_on_the_host(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    buf = io.BytesIO()
    w = replay.TerminalWriter(buf)  # type: ignore[arg-type]
    i = 0
    while i < len(_HOSTILE):
        k = rnd.randint(1, 6) if rnd.random() < 0.7 else rnd.randint(1, 30000)
        w(_HOSTILE[i : i + k])
        i += k
    w.finish()
    assert buf.getvalue().decode().startswith(_SHOWN + "\x1b[0m")


def test_an_unterminated_clipboard_write_never_reaches_the_terminal() -> None:
    buf = io.BytesIO()
    w = replay.TerminalWriter(buf)  # type: ignore[arg-type]
    w("x\x1b]52;c;QUJD")
    w("QUJD")  # the recording ended inside it
    w.finish()
    assert b"52;" not in buf.getvalue() and buf.getvalue().startswith(b"x\x1b[0m")
