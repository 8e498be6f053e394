"""ptyprocess adapter: the POSIX side of :class:`cfsession.recorder.pty.Pty`."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import termios
from typing import Any

from ptyprocess import PtyProcess


class PosixPty:
    def __init__(self, proc: PtyProcess) -> None:
        self._proc = proc
        self.pid: int = proc.pid
        self.fd: int = proc.fd
        self._status: int | None = None
        # Non-blocking writes: a big paste into a program that is not reading must never
        # block the loop that drains its output (SHELL_INTEGRATION.md §4.1).
        fl = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)

    def fileno(self) -> int:
        return self.fd

    def read(self, size: int = 65536) -> bytes:
        try:
            return os.read(self.fd, size)
        except OSError as exc:
            if exc.errno == errno.EIO:  # Linux: every slave fd closed
                return b""
            raise

    def write(self, data: bytes) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            return 0

    def resize(self, cols: int, rows: int) -> None:
        try:
            self._proc.setwinsize(rows, cols)
        except OSError:
            pass

    def _decode(self) -> int:
        p = self._proc
        if p.signalstatus is not None:
            return 128 + int(p.signalstatus)
        return int(p.exitstatus or 0)

    def poll(self) -> int | None:
        if self._status is None:
            try:
                alive = self._proc.isalive()
            except Exception:  # ptyprocess raises if the child was reaped elsewhere
                alive = False
            if not alive:
                self._status = self._decode()
        return self._status

    def wait(self) -> int:
        if self._status is None:
            try:
                self._proc.wait()
            except Exception:
                pass
            self._status = self._decode()
        return self._status

    def terminate(self, force: bool = False) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL if force else signal.SIGHUP)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        # Through ptyprocess's own file object, marked closed: closing the bare fd would
        # leave PtyProcess.__del__ to close the same number again later, when it may
        # belong to another file (a session file, another thread's PTY: EBADF there).
        p = self._proc
        if not p.closed:
            try:
                p.fileobj.close()
            except OSError:
                pass
            p.closed = True
            p.fd = -1


def spawn(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | None,
    cols: int,
    rows: int,
    termios_from: int | None = None,
) -> PosixPty:
    attrs: Any = None
    if termios_from is not None:
        try:
            attrs = termios.tcgetattr(termios_from)
        except termios.error:
            attrs = None

    # ptyprocess would exec with argv[0] replaced by the full path, so messages read
    # `/usr/bin/ls: …` instead of `ls: …`; exec here instead, with argv as given.
    exe = shutil.which(argv[0], path=env.get("PATH", os.defpath)) or argv[0]

    def _exec() -> None:
        # Same erase/kill/intr characters as the user's terminal (§4.1).
        if attrs is not None:
            termios.tcsetattr(0, termios.TCSANOW, attrs)
        os.execve(exe, argv, env)

    proc = PtyProcess.spawn(argv, env=env, cwd=cwd, dimensions=(rows, cols), preexec_fn=_exec)
    return PosixPty(proc)
