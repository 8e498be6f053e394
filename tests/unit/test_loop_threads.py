"""The Windows pump (a reader thread per source, one queue) driven here with a real child
on a real POSIX PTY: the loop itself is platform-neutral; the wine job runs it on Windows."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from cfsession.recorder import pty as platform_io
from cfsession.recorder.loop import Loop
from cfsession.recorder.loop_threads import ThreadedLoop
from cfsession.session import Session
from cfsession.sinks.cast import CastWriter
from tests.fakes import ListSink


class PipeTerminal:
    """A non-tty user side: keys from a pipe (blocking), output collected."""

    is_tty = False
    resize_by_signal = False

    def __init__(self, keys: bytes = b"") -> None:
        r, w = os.pipe()
        os.write(w, keys)
        os.close(w)  # then end of input
        self.r = r
        self.out = bytearray()

    def size(self) -> tuple[int, int]:
        return 80, 24

    def enter_raw(self) -> None: ...

    def restore(self) -> None: ...

    def start_input(self) -> int:
        return self.r

    def read_input(self, size: int = 65536) -> bytes:
        return os.read(self.r, size)

    def write(self, data: bytes) -> None:
        self.out += data

    def poll_resize(self) -> tuple[int, int] | None:
        return None

    def close(self) -> None:
        os.close(self.r)


def _run(tmp_path: Path, argv: list[str], keys: bytes = b"") -> tuple[ListSink, PipeTerminal, int]:
    term, sink = PipeTerminal(keys), ListSink()
    child = platform_io.spawn(argv, env=dict(os.environ), cwd=None, cols=80, rows=24)
    os.set_blocking(child.fileno(), True)  # a reader thread blocks in read(), as on Windows
    cast = CastWriter(tmp_path / "c.cast", cols=80, rows=24, timestamp=0, title="", env={})
    session = Session(session_id="s", start_epoch=0.0, cast=cast, sinks=[sink])
    session.open_pseudo(0.0, " ".join(argv), "argv")
    loop = ThreadedLoop(child, session, None, term, t0=time.monotonic(), forward_sigint=True)
    try:
        result = loop.run()
    finally:
        child.close()
        term.close()
    session.finish(loop.now(), result.exit_code, result.reason)
    return sink, term, result.exit_code


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX PTY")
def test_one_shot_output_and_exit_code(tmp_path: Path) -> None:
    sink, term, code = _run(tmp_path, ["sh", "-c", "echo hi; exit 3"])
    assert code == 3
    assert b"hi\r\n" in term.out
    caps = [r for r in sink.records if r["event_type"] == "terminal_capture"]
    assert [(c["output"], c["exit_code"]) for c in caps] == [("hi\n", 3)]
    assert sink.records[-1]["event_type"] == "session_end"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX PTY")
def test_piped_input_reaches_the_child_then_eof(tmp_path: Path) -> None:
    # `cat` echoes what it reads and ends at the EOF the loop sends when input ends.
    sink, term, code = _run(tmp_path, ["sh", "-c", "cat; echo done"], keys=b"abc\n")
    assert code == 0
    out = bytes(term.out)
    assert b"abc" in out and out.rstrip().endswith(b"done")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX PTY")
def test_output_after_a_quiet_start_is_kept(tmp_path: Path) -> None:
    # A child whose first output comes late and who exits right after it: nothing lost
    # (WinPTY hands over the last screen after the process is gone; the drain waits).
    sink, term, code = _run(tmp_path, ["sh", "-c", "sleep 0.4; printf 'late\\n'"])
    assert code == 0
    caps = [r for r in sink.records if r["event_type"] == "terminal_capture"]
    assert caps[0]["output"] == "late\n"


def test_the_platform_picks_the_loop() -> None:
    assert platform_io.loop_class("win32") is ThreadedLoop
    assert platform_io.loop_class("linux") is Loop


def test_a_one_shot_command_line_is_quoted_for_its_platform() -> None:
    argv = ["cmd", "/c", "echo hi & exit 3"]
    assert platform_io.command_line(argv, "win32") == 'cmd /c "echo hi & exit 3"'
    assert platform_io.command_line(argv, "linux") == "cmd /c 'echo hi & exit 3'"


def test_ctrl_break_and_ctrl_c_reach_the_child_sigterm_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # SIGBREAK exists only on Windows: stand a number in for it (the handler logic is ours).
    import signal

    from cfsession.recorder import loop_threads

    monkeypatch.setattr(loop_threads, "_SIGBREAK", 99)
    session = Session(session_id="s", start_epoch=0.0, cast=None, sinks=[ListSink()])
    term = PipeTerminal()
    child = platform_io.spawn(["sh", "-c", "exit 0"], env=dict(os.environ), cwd=None, cols=80, rows=24)
    try:
        loop = ThreadedLoop(child, session, None, term, t0=time.monotonic(), forward_sigint=True)
        loop._signals += [99, signal.SIGINT]
        assert loop._handle_signals() is None  # neither ends the recording …
        assert bytes(loop._inq) == b"\x03\x03"  # … both interrupt the child
        loop._signals.append(signal.SIGTERM)
        assert loop._handle_signals() == ("signal", signal.SIGTERM)
    finally:
        child.close()
        term.close()
