# Over ~400 lines: the select loop, its signal handling and the deferred bookkeeping share the state of one object on the hot path.
"""The pump: stdin → PTY, PTY → terminal (markers stripped) → session → sinks.

One thread, one ``select``. Output is written to the user's terminal *before* any
bookkeeping (latency first). Signals arrive through ``signal.set_wakeup_fd`` so a resize
is applied at once even while ``select`` waits (PEP 475 retries a bare ``select`` after a
handler that only sets a flag — SHELL_INTEGRATION.md §4.3). The handler itself only queues
the signal: a handler runs between any two bytecodes, so I/O there could cut into a write
of the loop's own (the bookkeeping pipe's frames, the JSONL chain); the loop applies a
resize right after ``select`` returns, between frames. The session ends when the
shell exits (``waitpid``), not at EOF: a disowned job may hold the PTY open.
"""

from __future__ import annotations

import select
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from cfsession.recorder.modes import ModeTracker
from cfsession.recorder.pty import Pty, Terminal, Wakeup, wakeup_pair
from cfsession.segmenter import Mark, Segmenter

if TYPE_CHECKING:
    from cfsession.recorder.target import LoopSession

READ_SIZE = 65536
BURST_MAX = 256 * 1024
DEFER_MAX = 512 * 1024  # bytes of output whose bookkeeping may wait for an idle loop
# "Idle" is this long without anything to pass through: an interactive exchange (a key,
# its echo, a command's output, the next prompt) comes in several pieces well under a
# millisecond apart, and settling between them woke the bookkeeping child once a piece.
SETTLE_QUIET_S = 0.004
SETTLE_MAX_S = 0.1  # … but nothing waits longer than this (a steady trickle of output)
IDLE_FLUSH_S = 0.03  # release a held partial intro / lone ESC after this much quiet
# A marker whose nonce already matched is ours, mid-write (a long command line reaches us
# in pieces on a busy machine): wait longer before giving up on it.
MARKER_QUIET_S = 1.0
CAST_FLUSH_S = 0.25
DRAIN_QUIET_S = 0.2  # after the shell exited: stop when no output for this long …
DRAIN_MAX_S = 2.0  # … or after this long at most (a disowned job keeps the slave open)
TERM_GRACE_S = 1.0

_BETWEEN = frozenset("DPAB")  # the last marker was one of these: no command is running
_HANDLED = ("SIGWINCH", "SIGCHLD", "SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2")
# `cfsession pause` / `cfsession resume` inside the session (POSIX).
_select = select.select
_SIGCHLD = getattr(signal, "SIGCHLD", None)  # None on Windows: poll the child every turn
_SIGWINCH = getattr(signal, "SIGWINCH", None)
_PAUSE = getattr(signal, "SIGUSR1", None)
_RESUME = getattr(signal, "SIGUSR2", None)
# Signals that end the recording (those this platform has).
_ENDING = {getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n)}


def _line_mode(fd: int) -> bool:
    """The PTY is in canonical mode with echo (no line editor or full-screen program reads
    it raw): what is typed now is echoed by the terminal driver. False where unknown."""
    try:
        import termios

        lflag = termios.tcgetattr(fd)[3]
        return bool(lflag & termios.ICANON and lflag & termios.ECHO)
    except (ImportError, OSError, ValueError, Exception):  # Windows, a closed PTY
        return False


class LoopResult(NamedTuple):
    exit_code: int
    reason: str  # exit / hangup / signal / error
    signal: int | None = None  # the signal that ended the recording, if one did


class Loop:
    def __init__(
        self,
        pty: Pty,
        session: LoopSession,
        segmenter: Segmenter | None,
        term: Terminal,
        *,
        t0: float,
        track_size: bool = True,
        forward_sigint: bool = False,
        integration_deadline: float | None = None,
        record_filter: Callable[[bytes], bytes] | None = None,
        pause_key: bytes | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pause_key = pause_key
        self.paused = False  # capture paused (pause key or `cfsession pause`)
        self.last_out = b"\n"  # the last byte shown: the end line starts a line of its own
        self.pty = pty
        self.session = session
        self.seg = segmenter
        self.term = term
        self.in_fd: int | None = term.start_input()
        self.out_ok = True
        self.t0 = t0
        self.get_size = term.size if track_size else None
        self.record_filter = record_filter
        self.forward_sigint = forward_sigint
        self.integration_deadline = integration_deadline
        self.clock = clock
        self._inq = bytearray()
        self._stdin_eof = False
        self._signals: list[int] = []
        self._old_handlers: dict[int, object] = {}
        self._wake_r: Wakeup | None = None
        self._wake_w: Wakeup | None = None
        self._old_wakeup = -1
        self._size = self.get_size() if self.get_size else None
        self.modes = ModeTracker()
        self._deferred: list[tuple[list[bytes | Mark], float]] = []
        self._deferred_bytes = 0
        self._deferred_at = 0.0  # when the oldest deferred piece came
        # Whether the child may have changed state: waitpid only then (and when select
        # timed out), not on every turn of the loop; that was ~12 calls per command.
        self._child_changed = True
        # A session in another process (recorder/bookkeeper.py) takes what one pass of
        # bookkeeping hands over in one write.
        self._end_batch: Callable[[], None] = session.end_batch

    # -- signals --------------------------------------------------------------------------
    _signal_names: tuple[str, ...] = _HANDLED

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = wakeup_pair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._hook_signals()

    def _hook_signals(self) -> None:
        for name in self._signal_names:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except (OSError, ValueError):  # not the main thread (tests): no handlers
                pass

    def _unhook_signals(self) -> None:
        for sig, handler in self._old_handlers.items():
            try:
                signal.signal(sig, handler)  # type: ignore[arg-type]
            except (OSError, ValueError):
                pass

    def _restore_signals(self) -> None:
        self._unhook_signals()
        signal.set_wakeup_fd(self._old_wakeup)
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)
        if signum == _SIGCHLD:
            self._child_changed = True
        # Nothing else here: no I/O in a handler (see the module's docstring). The wakeup
        # fd ends the loop's select, and _handle_signals applies what was queued.

    def _resize(self, size: tuple[int, int] | None = None) -> None:
        if self.get_size is None:
            return
        size = size or self.get_size()
        if size != self._size:
            self._size = size
            self.pty.resize(*size)
            self._settle_deferred()  # output that came before the resize is recorded first
            self.session.resize(size[0], size[1], self.now())

    # -- I/O --------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock() - self.t0

    def _write_out(self, data: bytes) -> None:
        if not self.out_ok or not data:
            return
        self.last_out = data[-1:]
        try:
            self.term.write(data)
        except OSError:
            self.out_ok = False  # the terminal went away; keep recording

    def _record(self, data: bytes, t: float) -> None:
        if self.record_filter is not None:
            data = self.record_filter(data)
            if not data:
                return
        self.session.data(data, t)

    def _handle_output(self, chunk: bytes, t: float) -> None:
        if self.seg is None:
            self._write_out(chunk)
            self.modes.feed(chunk)
            self._record(chunk, t)
            self._end_batch()
            return
        shown, pieces = self.seg.split(chunk)
        if shown:
            self._write_out(shown)
            # The modes are read only at the end (terminal hygiene): after the write, so
            # the prompt is not kept waiting for them. What the terminal was shown is what
            # set them (markers hold none; a held ESC reaches it with the rest).
            self.modes.feed(shown)
        # Bookkeeping waits until the loop is idle (see _run): the prompt that follows a
        # command's end marker reaches the user before that command's record is written.
        if not self._deferred:
            self._deferred_at = t
        self._deferred.append((pieces, t))
        self._deferred_bytes += len(chunk)
        if self._deferred_bytes > DEFER_MAX or t - self._deferred_at >= SETTLE_MAX_S:
            self._settle_deferred()

    def _settle_deferred(self) -> None:
        deferred, self._deferred = self._deferred, []
        self._deferred_bytes = 0
        session, record = self.session, self._record  # ~8 pieces a command, ~200 commands a pass
        for pieces, t in deferred:
            for p in pieces:
                if isinstance(p, bytes):
                    if p:
                        record(p, t)
                else:
                    session.mark(p, t)
        self._end_batch()

    def _read_burst(self) -> bytes | None:
        """Read what the PTY has now, up to BURST_MAX, in as few reads as it takes.

        The kernel hands out a PTY's output in pieces of a few KiB; reading on until
        EAGAIN (the fd is non-blocking) instead of going back to ``select`` for each
        piece halves the per-byte cost under bulk output. Interactive echo is one piece
        and is handled at once.
        """
        try:
            first = self.pty.read(READ_SIZE)
        except BlockingIOError:
            return None
        if not first or len(first) < 1024:
            return first
        parts = [first]
        total = len(first)
        while total < BURST_MAX:
            try:
                more = self.pty.read(READ_SIZE)
            except BlockingIOError:
                break
            if not more:
                break  # EOF: reported by the next read
            parts.append(more)
            total += len(more)
        return b"".join(parts)

    def _idle_flush(self, t: float) -> None:
        if self.seg is not None and self.seg.holding:
            self._settle_deferred()  # the held bytes come after everything deferred
            held = self.seg.flush()
            self._write_out(held)
            self._record(held, t)
            self._end_batch()

    def _read_input(self) -> None:
        try:
            data = self.term.read_input(READ_SIZE)
        except BlockingIOError:
            return
        self._take_input(data)

    def _take_input(self, data: bytes) -> None:
        """Keys (or piped input) for the child; ``b""`` is the end of the input."""
        if not data:
            self._stdin_eof = True
            # Non-tty input ended: hand the child an EOF the way a terminal would (§4.4).
            self._inq += b"\x04"
            return
        if self.pause_key is not None and self.pause_key in data:
            # The pause key toggles capture and never reaches the shell; nothing else
            # typed is looked at or kept. Each toggle is announced on the terminal only
            # (the recording has its gap event and .cast marker).
            from cfsession.recorder.keys import toggle_notice

            for _ in range(data.count(self.pause_key)):
                self._settle_deferred()
                self.session.toggle_pause(self.now())
                self.paused = not self.paused
                self._write_out(toggle_notice(self.paused, self.pause_key))
            data = data.replace(self.pause_key, b"")
        if data and (self.seg is None or self.seg.last_event not in _BETWEEN) and _line_mode(self.pty.fileno()):
            # Keys typed while a program runs in line mode (typeahead during `sleep`): the
            # terminal echoes them into that program's output. What was typed is never
            # looked at; the command is only flagged (anomaly "typeahead"). Between a
            # command's end and the next one's start no command runs (the flag would go
            # nowhere): the terminal's mode need not be asked for every key at the prompt.
            self.session.typeahead(self.now())
        self._inq += data

    def _flush_input(self) -> None:
        n = self.pty.write(bytes(self._inq[:READ_SIZE]))
        if n:
            del self._inq[:n]

    # -- main ---------------------------------------------------------------------------------
    def run(self) -> LoopResult:
        self._install_signals()
        try:
            return self._run()
        finally:
            self._restore_signals()

    def _run(self) -> LoopResult:
        # One turn per chunk of output and per key: what does not change from turn to turn
        # is looked up once, and per-turn work is done only when there is some.
        pty_fd = self.pty.fileno()
        clock, t0, seg, in_fd = self.clock, self.t0, self.seg, self.in_fd
        wake_r = self._wake_r
        assert wake_r is not None
        polled_resize = not self.term.resize_by_signal
        read_burst, handle_output = self._read_burst, self._handle_output
        to_pty: list[Any] = [pty_fd]
        nothing: list[Any] = []
        rlist: list[Any] = []
        watch_changed = True  # eof, the end of stdin, the exit: what select watches
        reason = "exit"
        ending_signal: int | None = None
        exited_at: float | None = None
        last_data = clock() - t0
        eof = False
        # The timers (_timers) run every CAST_FLUSH_S, and at the integration deadline
        # while it is pending: then at once, not up to CAST_FLUSH_S later.
        deadline = self.integration_deadline
        next_timer = CAST_FLUSH_S if deadline is None else min(CAST_FLUSH_S, deadline)
        while True:
            timeout = IDLE_FLUSH_S if seg is not None and seg.holding else CAST_FLUSH_S
            if deadline is not None:
                left = deadline - (clock() - t0)
                if left < timeout:
                    timeout = left if left > 0.0 else 0.0
            if exited_at is not None and timeout > DRAIN_QUIET_S:
                timeout = DRAIN_QUIET_S
            if watch_changed:
                watch_changed = False
                rlist = [wake_r]
                if not eof:
                    rlist.append(pty_fd)
                if in_fd is not None and not self._stdin_eof and exited_at is None:
                    rlist.append(in_fd)
            r, w = self._wait(rlist, to_pty if self._inq and not eof else nothing, timeout)
            now = clock() - t0
            if polled_resize:
                polled = self.term.poll_resize()
                if polled:
                    self._resize(polled)
            if self._signals:
                ended = self._handle_signals()
                if ended is not None:
                    reason, ending_signal = ended
            if pty_fd in r:
                chunk = read_burst()
                if chunk:
                    handle_output(chunk, now)
                    last_data = now
                elif chunk == b"":
                    eof = watch_changed = True
            if in_fd is not None and in_fd in r:
                self._read_input()
                if self._stdin_eof:
                    watch_changed = True
                if self._inq and not eof:
                    # Straight on to the shell (the PTY is non-blocking: what does not
                    # fit waits for select to say it is writable), not one turn later.
                    self._flush_input()
            elif w and self._inq:
                self._flush_input()
            if seg is not None and seg.holding and now - last_data >= (
                MARKER_QUIET_S if seg.in_marker and not eof else IDLE_FLUSH_S
            ):
                self._idle_flush(now)
            if now >= next_timer:
                self._timers(now)
                deadline = self.integration_deadline  # None once it has passed
                next_timer = now + CAST_FLUSH_S
                if deadline is not None and deadline < next_timer:
                    next_timer = deadline
            if exited_at is None and (self._child_changed or _SIGCHLD is None or not (r or w)):
                self._child_changed = False
                if self.pty.poll() is not None:
                    exited_at = now
                    watch_changed = True
            # Quiet is counted from the exit too: the kernel hands the slave's last
            # writes to the master asynchronously, so SIGCHLD can come before the shell's
            # final output (the echo of `exit`, its marks) is readable.
            if exited_at is not None and (
                eof or now - max(last_data, exited_at) >= DRAIN_QUIET_S or now - exited_at >= DRAIN_MAX_S
            ):
                break
            if eof and exited_at is None:
                # All slave fds closed but the child has not been reaped yet: wait for it.
                self.pty.wait()
                exited_at = self.now()
                watch_changed = True
        self._settle_deferred()
        self._idle_flush(self.now())
        resets = self.modes.resets()
        if resets:  # never recorded: this is terminal hygiene, not session output
            self._write_out(resets)
        return LoopResult(self.pty.wait(), reason, ending_signal)

    def _wait_timeout(self, now: float, exited_at: float | None, drain_s: float) -> float:
        """How long one pass may wait: the .cast flush, a held marker's idle flush, the
        integration deadline and, once the child has exited, the drain. The threaded
        loop's; ``_run`` works out the same inline (it is on every turn's path)."""
        timeout = IDLE_FLUSH_S if self.seg is not None and self.seg.holding else CAST_FLUSH_S
        if self.integration_deadline is not None:
            timeout = min(timeout, max(0.0, self.integration_deadline - now))
        if exited_at is not None:
            timeout = min(timeout, drain_s)
        return timeout

    def _wait(self, rlist: list[Any], wlist: list[Any], timeout: float) -> tuple[list[Any], list[Any]]:
        """``select``; deferred bookkeeping runs only when nothing was ready to pass through
        for SETTLE_QUIET_S."""
        try:
            if self._deferred:
                r, w, _ = _select(rlist, wlist, [], SETTLE_QUIET_S if timeout > SETTLE_QUIET_S else timeout)
                if not (r or w):
                    self._settle_deferred()
                    r, w, _ = _select(rlist, wlist, [], timeout)
            else:
                r, w, _ = _select(rlist, wlist, [], timeout)
        except InterruptedError:
            return [], []
        if self._wake_r in r:
            assert self._wake_r is not None
            try:
                while self._wake_r.recv(512):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
        return r, w

    def _handle_signals(self) -> tuple[str, int] | None:
        """Act on the signals the handler queued; (reason, signal) if one ends the session."""
        ended = None
        sigs, self._signals = self._signals, []
        if _SIGWINCH in sigs:
            self._resize()  # one resize for a storm of them: the size now is what counts
        for s in sigs:
            if s in (_SIGWINCH, _SIGCHLD):
                continue
            if s in _ENDING or (s == signal.SIGINT and not self.forward_sigint):
                ended = ("hangup" if s == getattr(signal, "SIGHUP", None) else "signal", s)
                self._settle_deferred()  # what came before the hangup is the command's
                self.session.hangup(self.now())
                self._end_child()
            elif s in (_PAUSE, _RESUME) and s is not None:
                self._settle_deferred()  # what came before the request is recorded
                (self.session.pause if s == _PAUSE else self.session.resume)(self.now())
                self.paused = s == _PAUSE  # `cfsession pause` says so itself
            elif s == signal.SIGINT:
                # No terminal of ours: do what a terminal does with Ctrl-C — send the
                # interrupt character; the PTY signals its foreground job.
                self._inq += b"\x03"
        return ended

    def _timers(self, now: float) -> None:
        """Every CAST_FLUSH_S: the .cast timer, and the integration deadline."""
        if self.integration_deadline is not None and now >= self.integration_deadline:
            self.integration_deadline = None
            if not self.session.active:
                self.session.no_hello(now, "the shell sent no integration marker in time")
        self.session.tick(now)

    def _end_child(self) -> None:
        """SIGTERM/SIGHUP to the recorder: hang up the shell, then kill it if it lingers."""
        self.pty.terminate()
        deadline = time.monotonic() + TERM_GRACE_S
        while time.monotonic() < deadline:
            if self.pty.poll() is not None:
                return
            time.sleep(0.01)
        self.pty.terminate(force=True)
