"""The pump with the Windows-style terminal seam: polled resize, socket input, a recorded-
side filter — everything but ConPTY itself, which cannot exist here."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from cfsession.recorder.loop import Loop
from cfsession.recorder.loop_threads import ThreadedLoop
from cfsession.session import Session
from cfsession.sinks.cast import CastWriter
from tests.fakes import ListSink


class SocketPty:
    """A child that is a socket: the test plays the shell on the other end."""

    pid = 4242

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.status: int | None = None
        self.sizes: list[tuple[int, int]] = []
        self.written = bytearray()

    def fileno(self) -> int:
        return self.ours.fileno()

    def read(self, size: int = 65536) -> bytes:
        return self.ours.recv(size)

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def poll(self) -> int | None:
        return self.status

    def wait(self) -> int:
        return self.status if self.status is not None else -1

    def terminate(self, force: bool = False) -> None:
        self.status = 1

    def close(self) -> None:
        self.ours.close()


class PolledTerminal:
    """Like the Windows console: no SIGWINCH, input through a socket, output captured."""

    is_tty = True
    resize_by_signal = False

    def __init__(self) -> None:
        self.keys_r, self.keys_w = socket.socketpair()
        self.out = bytearray()
        self.polls = 0

    def size(self) -> tuple[int, int]:
        return (80, 24) if self.polls < 3 else (100, 40)

    def enter_raw(self) -> None: ...

    def restore(self) -> None: ...

    def start_input(self) -> int:
        return self.keys_r.fileno()

    def read_input(self, size: int = 65536) -> bytes:
        return self.keys_r.recv(size)

    def write(self, data: bytes) -> None:
        self.out += data

    def poll_resize(self) -> tuple[int, int] | None:
        self.polls += 1
        return (100, 40) if self.polls == 3 else None

    def close(self) -> None: ...



@pytest.mark.parametrize("loop_cls", [Loop, ThreadedLoop], ids=["select", "threads"])
def test_windows_style_terminal(tmp_path: Path, loop_cls: type[Loop]) -> None:
    pty, term, sink = SocketPty(), PolledTerminal(), ListSink()
    if loop_cls is ThreadedLoop:
        pty.ours.setblocking(True)  # the threaded loop's readers block in read()
    cast = CastWriter(tmp_path / "c.cast", cols=80, rows=24, timestamp=0, title="", env={})
    session = Session(session_id="s", start_epoch=0.0, cast=cast, sinks=[sink])
    session.open_pseudo(0.0, "child", "argv")
    loop = loop_cls(
        pty,
        session,
        None,
        term,
        t0=time.monotonic(),
        record_filter=lambda b: b.replace(b"\x1b[2J", b""),  # a ConPTY start-up clear
    )
    term.keys_w.sendall(b"typed")
    pty.theirs.sendall(b"\x1b[2Jhello\r\n")
    deadline = time.monotonic() + 5

    # Let the loop run a few ticks, then end the child.
    import threading

    def child() -> None:
        while time.monotonic() < deadline and (term.polls < 4 or b"typed" not in pty.written):
            time.sleep(0.01)
        pty.status = 0
        pty.theirs.close()

    threading.Thread(target=child, daemon=True).start()
    result = loop.run()
    session.finish(loop.now(), result.exit_code, result.reason)
    assert result.exit_code == 0
    assert bytes(pty.written) == b"typed"
    assert bytes(term.out) == b"\x1b[2Jhello\r\n"  # passthrough untouched
    cap = [r for r in sink.records if r["event_type"] == "terminal_capture"][0]
    assert cap["output"] == "hello\n"  # recorded copy filtered
    assert pty.sizes == [(100, 40)]
    assert [(r["cols"], r["rows"]) for r in sink.records if r["event_type"] == "resize"] == [(100, 40)]


def test_both_terminals_offer_what_the_loop_uses() -> None:
    # The loop reads these on every tick; a missing one is a crash on that platform only.
    from cfsession.recorder._wincon import WinConsole
    from cfsession.recorder.terminal import PosixTerminal

    needed = ("size", "enter_raw", "restore", "start_input", "read_input", "write", "poll_resize", "close")
    for cls in (PosixTerminal, WinConsole):
        assert all(callable(getattr(cls, n, None)) for n in needed), cls
    assert PosixTerminal.resize_by_signal is True
    assert WinConsole.resize_by_signal is False


def test_a_resize_signal_does_no_io_in_its_handler() -> None:
    """A handler runs between any two bytecodes, also inside the loop's own write to the
    bookkeeping pipe: it only queues; the loop resizes and records after select."""
    import signal

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def end_batch(self) -> None:
            pass

        def resize(self, cols: int, rows: int, t: float) -> None:
            self.calls.append(f"resize {cols}x{rows}")

    class SignalTerminal(PolledTerminal):
        resize_by_signal = True

        def size(self) -> tuple[int, int]:
            return self.now_size

    pty, term, rec = SocketPty(), SignalTerminal(), Recorder()
    term.now_size = (80, 24)  # type: ignore[attr-defined]
    loop = Loop(pty, rec, None, term, t0=time.monotonic())  # type: ignore[arg-type]
    term.now_size = (132, 50)  # type: ignore[attr-defined]
    for _ in range(50):  # a storm: fifty signals before the loop gets to them
        loop._on_signal(signal.SIGWINCH, None)
    assert rec.calls == [] and pty.sizes == []
    assert loop._handle_signals() is None
    assert rec.calls == ["resize 132x50"] and pty.sizes == [(132, 50)]  # one resize: the last size


def test_output_that_lands_after_the_exit_is_noticed_is_kept(tmp_path: Path) -> None:
    """The kernel hands a PTY slave's last writes to the master asynchronously: SIGCHLD
    can come before the shell's final bytes (the echo of `exit`) are readable, long after
    the last output. The loop must still read them, not call the quiet since the last
    output a drain."""

    class LateTail(SocketPty):
        def poll(self) -> int | None:
            if self.status is None and time.monotonic() >= self.exit_at:
                self.status = 0
                # What the shell wrote just before it exited, readable only now.
                self.theirs.sendall(b"exit\r\n")
                self.theirs.close()
            return self.status

    pty, term, sink = LateTail(), PolledTerminal(), ListSink()
    cast = CastWriter(tmp_path / "c.cast", cols=80, rows=24, timestamp=0, title="", env={})
    session = Session(session_id="s", start_epoch=0.0, cast=cast, sinks=[sink])
    session.open_pseudo(0.0, "child", "argv")
    loop = Loop(pty, session, None, term, t0=time.monotonic())
    pty.theirs.sendall(b"prompt$ ")
    pty.exit_at = time.monotonic() + 0.6  # type: ignore[attr-defined]  # well past the drain's quiet
    result = loop.run()
    session.finish(loop.now(), result.exit_code, result.reason)
    assert bytes(term.out) == b"prompt$ exit\r\n"
    (cap,) = [r for r in sink.records if r["event_type"] == "terminal_capture"]
    assert cap["output"] == "prompt$ exit\n"


@pytest.mark.parametrize("loop_cls", [Loop, ThreadedLoop], ids=["select", "threads"])
def test_the_integration_deadline_is_kept_without_spinning(loop_cls: type[Loop]) -> None:
    """A shell that never reports in: the loop wakes at the deadline and says so then, not
    by turning in select(0) until the next .cast flush is due."""

    class Silent:
        active = False

        def __init__(self) -> None:
            self.no_hello_at: float | None = None

        def end_batch(self) -> None: ...

        def tick(self, t: float) -> None: ...

        def resize(self, cols: int, rows: int, t: float) -> None: ...

        def no_hello(self, t: float, reason: str) -> None:
            self.no_hello_at = t
            pty.status = 0  # done: the shell goes away
            pty.theirs.close()

    pty, term, session = SocketPty(), PolledTerminal(), Silent()
    if loop_cls is ThreadedLoop:
        pty.ours.setblocking(True)  # the threaded loop's readers block in read()
    loop = loop_cls(pty, session, None, term, t0=time.monotonic(), integration_deadline=0.05)  # type: ignore[arg-type]
    turns = 0
    name = "_wait" if loop_cls is Loop else "_take"  # where each loop waits, once a turn
    wait = getattr(loop, name)

    def counted(*a: Any) -> Any:
        nonlocal turns
        turns += 1
        return wait(*a)

    setattr(loop, name, counted)
    assert loop.run().exit_code == 0
    assert session.no_hello_at is not None and session.no_hello_at >= 0.05
    assert turns < 50  # a spin makes thousands
