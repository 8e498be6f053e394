"""``record -- CMD`` on pipes: for when stdin or stdout is not a terminal (scripts, CI).

A pseudo-terminal there changes what the command does and what the caller gets: the
command sees a terminal (pagers start, colours switch on), its input is echoed back, line
ends become CRLF and stderr is merged into stdout. On pipes the command behaves as it
would without the recorder:

* stdin is the recorder's own, inherited as it is (never read, never recorded: the
  command sees EOF, a seekable file or the user's terminal exactly as it would);
* stdout and stderr are two pipes, each passed through to the recorder's own stdout
  and stderr as it arrives, and recorded: both go to the ``.cast`` as the screen would
  have shown them, and the ``terminal_capture`` record keeps stderr's text apart in a
  ``stderr`` field (``output`` is both, in arrival order);
* argv[0] is what the caller typed (``ls:``, not ``/usr/bin/ls:``);
* when the reader of our stdout goes away (``| head``), the command's stdout is closed
  too, so it gets SIGPIPE as it would in a plain pipeline;
* a background job the command leaves behind keeps the caller's stdout and stderr
  (POSIX): the recording ends with the command, and what the job writes afterwards is
  passed on, not recorded, by a small process that holds the pipes until the job closes
  them (:func:`_drain`) — without it the job would get SIGPIPE, and the caller would wait
  for the recorder as long as the job ran.

The records go through the same ``Session`` (or the bookkeeping child's ``Remote``) as
on a PTY, so the hash chain, the JSONL and the ``.cast`` are built by the same code.
Only ``subprocess`` and threads are used, so this runs on POSIX and Windows alike.
"""

from __future__ import annotations

import os
import select
import signal
import stat
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from cfsession.recorder.target import LoopSession

READ_SIZE = 65536
TICK_S = 0.25  # the .cast timer, as the PTY loop's CAST_FLUSH_S
DRAIN_MAX_S = 2.0  # after the command exited: a background job may hold the pipes open
# … so its last output is taken while it comes; once the pipes are this long quiet, what is
# left is a background job's, and the pipes are handed on (_drain)
HANDOFF_QUIET_S = 0.1

_ENDING = ("SIGTERM", "SIGHUP", "SIGQUIT")  # forwarded; the recording ends by them
_INTERRUPT = ("SIGINT",)  # a terminal's Ctrl-C reaches the command itself; else forwarded


class PipesResult(NamedTuple):
    exit_code: int
    reason: str  # exit / hangup / signal
    signal: int | None = None
    last_out: bytes = b"\n"  # the last byte passed through (to stdout or stderr)


def exit_status(returncode: int) -> int:
    """Popen's ``-N`` for signal N as a shell reports it: 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def terminal_signals_us() -> bool:
    """Whether a terminal's Ctrl-C reaches this process group: one of fds 0-2 is a terminal
    whose foreground group is ours. Then the command, in our group, gets it as well."""
    if not hasattr(os, "tcgetpgrp"):
        return True  # Windows: the console sends Ctrl-C to every process attached to it
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def one_place() -> bool:
    """Whether our stdout and stderr go to one place (``2>&1`` into a log or a pipe, both
    the terminal). Then the command gets one pipe for both: two pipes cannot keep the order
    of writes across them (every stdout line would come out before every stderr line, on
    the caller's side and in the record). /dev/null twice shows no order: kept apart."""
    if os.name == "nt":
        return False
    try:
        out, err = os.fstat(1), os.fstat(2)
    except OSError:
        return False
    if not os.path.samestat(out, err):
        return False
    return not stat.S_ISCHR(out.st_mode) or os.isatty(1)


def spawn(argv: list[str], env: dict[str, str], own_group: bool, merged: bool = False) -> subprocess.Popen[bytes]:
    """Start ``argv`` with our stdin and two pipes (one for both when ``merged``); OSError
    as Popen raises it.

    ``own_group`` (no terminal signals us, POSIX): the command leads a process group of
    its own, so a signal forwarded to it reaches its whole job (``sh -c 'a | b'``), as a
    terminal's hang-up would.
    """
    return subprocess.Popen(
        argv, env=env, stdin=None, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE, bufsize=0,
        start_new_session=own_group,
    )


class PipesRunner:
    """Pass a started command's stdout and stderr through, recording both, until it ends."""

    def __init__(self, proc: subprocess.Popen[bytes], session: LoopSession, *, t0: float,
                 own_group: bool, out_fds: tuple[int, int] = (1, 2), handoff: bool = False) -> None:
        """``handoff`` (POSIX, the recorder's own process only: it forks): pipes a background
        job still holds when the command has ended are passed on by a process of their own."""
        self.proc = proc
        self.own_group = own_group
        self.session = session
        self.t0 = t0
        self.out_fds = out_fds
        self._lock = threading.Lock()  # the session is not thread-safe; neither is Remote
        self._closed = False
        self._end_batch = session.end_batch
        self._signals: list[int] = []
        self._last_out = b"\n"
        self._last_read = time.monotonic()
        # The readers wait on this pipe too: a byte in it tells them to leave their pipe,
        # unread, to the process that takes it over.
        self._stop: tuple[int, int] | None = os.pipe() if handoff and hasattr(os, "fork") else None

    def now(self) -> float:
        return time.monotonic() - self.t0

    # -- readers --------------------------------------------------------------------------
    def _pump(self, stream: Any, out_fd: int, is_err: bool) -> None:
        fd = stream.fileno()
        passing = True
        record = self.session.data_err if is_err else self.session.data
        stop = self._stop[0] if self._stop is not None else None
        while True:
            if stop is not None and stop in select.select([fd, stop], [], [])[0]:
                return  # handed over (_hand_off)
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:
                break
            if not chunk:
                break
            self._last_read = time.monotonic()
            t = self.now()
            self._last_out = chunk[-1:]
            if passing:
                passing = _write_all(out_fd, chunk)
                if not passing and not is_err:
                    # Our reader left (`| head`): the command's writes must fail as they
                    # would in a plain pipeline, not fill a pipe nobody drains.
                    stream.close()
            with self._lock:
                if self._closed:
                    break
                record(chunk, t)
                self._end_batch()
            if not passing and not is_err:
                break

    # -- signals ------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: object) -> None:
        if signum != getattr(signal, "SIGINT", None):
            self._signals.append(signum)  # the recording ends by it (^C: the command decides)
        try:
            if self.own_group:
                os.killpg(self.proc.pid, signum)  # type: ignore[attr-defined,unused-ignore]
            else:
                self.proc.send_signal(signum)
        except OSError:
            pass

    def _install(self) -> dict[int, Any]:
        old: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return old
        for name in _ENDING + _INTERRUPT:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            # ^C from a terminal already reached the command (same group): sending it
            # again would interrupt a program that handles the first one twice.
            handler = signal.SIG_IGN if name in _INTERRUPT and not self.own_group else self._on_signal
            try:
                old[sig] = signal.signal(sig, handler)
            except (OSError, ValueError):
                pass
        return old

    # -- main ---------------------------------------------------------------------------------
    def run(self) -> PipesResult:
        old = self._install()
        try:
            return self._run()
        finally:
            for sig, handler in old.items():
                try:
                    signal.signal(sig, handler)
                except (OSError, ValueError):
                    pass

    def _run(self) -> PipesResult:
        assert self.proc.stdout is not None
        readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out_fds[0], False), daemon=True)]
        if self.proc.stderr is not None:  # else merged into stdout (one_place)
            readers.append(threading.Thread(target=self._pump, args=(self.proc.stderr, self.out_fds[1], True), daemon=True))
        for r in readers:
            r.start()
        while True:
            try:
                code = self.proc.wait(TICK_S)
                break
            except subprocess.TimeoutExpired:
                with self._lock:
                    self.session.tick(self.now())
                    self._end_batch()
        self._last_read = time.monotonic()
        deadline = self._last_read + DRAIN_MAX_S
        while any(r.is_alive() for r in readers):
            now = time.monotonic()
            if now >= deadline or (self._stop is not None and now - self._last_read >= HANDOFF_QUIET_S):
                break
            next(r for r in readers if r.is_alive()).join(min(0.02, deadline - now))
        with self._lock:
            self._closed = True  # a reader still held by a background job records no more
        if self._stop is not None:
            self._hand_off(readers)
        ending = self._signals[0] if self._signals else None
        if ending is None:
            return PipesResult(exit_status(code), "exit", None, self._last_out)
        reason = "hangup" if ending == getattr(signal, "SIGHUP", None) else "signal"
        return PipesResult(exit_status(code), reason, ending, self._last_out)

    def _hand_off(self, readers: list[threading.Thread]) -> None:
        """Pipes a background job still holds (their readers still read): stop reading them
        here and fork a process that passes them on until the job closes them; the recorder
        then ends at once, as the bare command would have."""
        assert self._stop is not None
        streams = [self.proc.stdout, self.proc.stderr][: len(readers)]
        held = [(s.fileno(), out_fd) for r, s, out_fd in zip(readers, streams, self.out_fds, strict=False)
                if r.is_alive() and s is not None]
        os.write(self._stop[1], b"x")
        for r in readers:
            r.join(1.0)
            if r.is_alive():
                return  # stuck writing to our own stdout (a stopped terminal): leave it be
        for fd in self._stop:  # every reader has left: the drainer needs none of it
            os.close(fd)
        if held and os.fork() == 0:  # type: ignore[attr-defined,unused-ignore]
            _drain(held)  # never returns


def _drain(pairs: list[tuple[int, int]]) -> None:
    """The process that keeps a background job's pipes: each one's bytes go on to where the
    command's output went, until the job closes it; when that place goes away (a reader of
    ours left), the pipe is closed, so the job's next write fails as in a plain pipeline.
    Nothing is recorded: the session ended with the command. It outlives hang-ups and
    interrupts as the job's own descriptors would."""
    try:
        for name in ("SIGINT", "SIGHUP", "SIGTERM", "SIGQUIT"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
        keep = sorted({fd for pair in pairs for fd in pair})
        low = 3
        for fd in keep:  # nothing else of the recorder's: the bookkeeping pipe, the files
            if fd >= low:
                os.closerange(low, fd)
                low = fd + 1
        os.closerange(low, 1 << 16)
        live = dict(pairs)
        while live:
            for fd in select.select(list(live), [], [])[0]:
                try:
                    chunk = os.read(fd, READ_SIZE)
                except OSError:
                    chunk = b""
                if not chunk or not _write_all(live[fd], chunk):
                    os.close(fd)
                    del live[fd]
    finally:
        os._exit(0)


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything; False once the reader is gone (EPIPE, a closed descriptor)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except BlockingIOError:
        select.select([], [fd], [])
        return _write_all(fd, bytes(view))
    except OSError:
        return False
    return True
