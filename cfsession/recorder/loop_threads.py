"""The pump for Windows: a reader thread per source feeding one queue, no ``select``.

On Windows ``select`` takes sockets only, and neither a console nor ConPTY is one. So each
source gets a thread that blocks in its own read — the child's output (``pty.read``) and
the user's input (``term.read_input``) — and puts what it read on one queue; the loop
(this thread) takes from the queue, with a timeout for the timers. Everything else is the
POSIX loop's: output is written to the console before any bookkeeping, bookkeeping is
deferred until the queue is idle, the session ends when the child exits (polled: Windows
has no SIGCHLD), and the console size is polled (no SIGWINCH).

Signals (delivered to this thread between queue waits, so within one timeout): Ctrl-C
reaches us as SIGINT only when the console is not raw (input is a pipe or a file); then,
as on POSIX, it is passed to the child as the interrupt character. Ctrl-Break raises
SIGBREAK even in raw mode and cannot be forwarded into a pseudo-console as such: it is
passed on as Ctrl-C too, so it interrupts the program in front instead of killing the
recorder. SIGTERM ends the recording.

The sources must block in ``read``; both threads are daemons (a read that never returns
cannot keep the process alive), and they stop at EOF or when their source is closed.
"""

from __future__ import annotations

import queue
import signal
import threading
from typing import Any

from cfsession.recorder.loop import (
    CAST_FLUSH_S,
    DRAIN_MAX_S,
    IDLE_FLUSH_S,
    READ_SIZE,
    Loop,
    LoopResult,
)

_OUT, _IN = 0, 1
CHILD_POLL_S = 0.05
RESIZE_POLL_S = 0.1  # … and at the console size (no SIGWINCH on Windows)
# After the child exited: stop at the end of its output, or when it has been quiet this
# long since the exit (a console scraper such as WinPTY delivers the last screen after
# the process is gone), or after DRAIN_MAX_S (a detached process keeps the console open).
DRAIN_QUIET_S = 0.5  # while output streams in, look at the child at most this often
_SIGBREAK = getattr(signal, "SIGBREAK", None)
_WINDOWS_HANDLED = ("SIGINT", "SIGBREAK", "SIGTERM")


class ThreadedLoop(Loop):
    """:class:`Loop` with threads and a queue in place of ``select`` (same constructor)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._q: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    # -- sources ------------------------------------------------------------------------------
    def _pump(self, kind: int, read: Any) -> None:
        """Read one source until it ends; ``b""`` on the queue says it ended."""
        while True:
            try:
                data = read(READ_SIZE)
            except BlockingIOError:
                continue  # pywinpty's "nothing yet" filler: read again
            except Exception:  # noqa: BLE001 - a source that fails has ended
                data = b""
            self._q.put((kind, data))
            if not data:
                return

    def _start_sources(self) -> None:
        sources: list[tuple[int, Any, str]] = [(_OUT, self.pty.read, "cfsession-output")]
        if self.in_fd is not None:
            sources.append((_IN, self.term.read_input, "cfsession-input"))
        for kind, read, name in sources:
            t = threading.Thread(target=self._pump, args=(kind, read), name=name, daemon=True)
            t.start()
            self._threads.append(t)

    # -- signals ------------------------------------------------------------------------------
    _signal_names = _WINDOWS_HANDLED

    def _install_signals(self) -> None:  # no wakeup socket: the queue wakes the loop
        self._hook_signals()

    def _restore_signals(self) -> None:
        self._unhook_signals()

    def _handle_signals(self) -> tuple[str, int] | None:
        if _SIGBREAK is not None and _SIGBREAK in self._signals:
            n = self._signals.count(_SIGBREAK)
            self._signals = [s for s in self._signals if s != _SIGBREAK]
            self._inq += b"\x03" * n  # Ctrl-Break: interrupt the child, keep recording
        return super()._handle_signals()

    # -- main ---------------------------------------------------------------------------------
    def _take(self, timeout: float) -> tuple[int, bytes] | None:
        """The next item; deferred bookkeeping runs only when nothing is waiting."""
        try:
            if self._deferred:
                try:
                    return self._q.get_nowait()
                except queue.Empty:
                    self._settle_deferred()
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None

    def _run(self) -> LoopResult:
        self._start_sources()
        reason = "exit"
        ending_signal: int | None = None
        exited_at: float | None = None
        last_data = self.now()
        last_cast_flush = 0.0
        last_poll = -1.0
        last_resize_poll = -1.0
        eof = False
        while True:
            timeout = self._wait_timeout(self.now(), exited_at, DRAIN_QUIET_S)
            item = self._take(timeout) if not (eof and exited_at is not None) else None
            now = self.now()
            if not self.term.resize_by_signal and now - last_resize_poll >= RESIZE_POLL_S:
                last_resize_poll = now
                polled = self.term.poll_resize()
                if polled:
                    self._resize(polled)
            ended = self._handle_signals()
            if ended is not None:
                reason, ending_signal = ended
            if item is not None:
                kind, data = item
                if kind == _OUT:
                    if data:
                        self._handle_output(data, now)
                        last_data = now
                    else:
                        eof = True
                elif exited_at is None:
                    self._take_input(data)
            if self._inq and not eof:
                self._flush_input()
            if self.seg is not None and self.seg.holding and now - last_data >= IDLE_FLUSH_S:
                self._idle_flush(now)
            deadline = self.integration_deadline
            if now - last_cast_flush >= CAST_FLUSH_S or (deadline is not None and now >= deadline):
                # At the deadline too: the wait above ends there, and would end at once
                # again and again until the next .cast flush were the deadline not met now.
                last_cast_flush = now
                self._timers(now)
            if exited_at is None and (item is None or now - last_poll >= CHILD_POLL_S):
                last_poll = now
                if self.pty.poll() is not None:
                    exited_at = now
            if exited_at is not None and (
                eof
                or now - max(last_data, exited_at) >= DRAIN_QUIET_S
                or now - exited_at >= DRAIN_MAX_S
            ):
                break
            if eof and exited_at is None:
                self.pty.wait()  # the output ended: the child is on its way out
                exited_at = self.now()
        self._settle_deferred()
        self._idle_flush(self.now())
        resets = self.modes.resets()
        if resets:
            self._write_out(resets)
        return LoopResult(self.pty.wait(), reason, ending_signal)
