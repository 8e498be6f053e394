"""The user's (outer) terminal on POSIX: size, raw mode, and restoring it on every path.

SHELL_INTEGRATION.md §4.2: the outer tty goes raw (ISIG off, so Ctrl-C/Ctrl-Z reach the
inner PTY as bytes) and is restored with TCSADRAIN on every exit path. When stdin is not
a terminal (scripts, CI, agents) nothing is changed.
"""

from __future__ import annotations

import os
import termios
from typing import Any

from cfsession.recorder.modes import ModeTracker

__all__ = ["ModeTracker", "PipeEnd", "PosixTerminal", "pipe_pair"]


class PosixTerminal:
    def __init__(self, in_fd: int = 0, out_fd: int = 1) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.is_tty = os.isatty(in_fd)
        self.saved: list[Any] | None = None
        if self.is_tty:
            try:
                self.saved = termios.tcgetattr(in_fd)
            except termios.error:
                self.is_tty = False

    def size(self) -> tuple[int, int]:
        """(cols, rows) of the terminal; the environment or 80x24 when there is none."""
        for fd in (self.out_fd, self.in_fd, 2):
            try:
                sz = os.get_terminal_size(fd)
                if sz.columns > 0 and sz.lines > 0:
                    return sz.columns, sz.lines
            except OSError:
                continue
        try:
            return int(os.environ.get("COLUMNS", 80)), int(os.environ.get("LINES", 24))
        except ValueError:
            return 80, 24

    def enter_raw(self) -> None:
        if not self.is_tty or self.saved is None:
            return
        mode = termios.tcgetattr(self.in_fd)
        iflag, oflag, cflag, lflag = mode[0], mode[1], mode[2], mode[3]
        iflag &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON | termios.INLCR | termios.IGNCR)
        oflag &= ~termios.OPOST
        cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        lflag &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        mode[0], mode[1], mode[2], mode[3] = iflag, oflag, cflag, lflag
        mode[6] = list(mode[6])
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        # TCSANOW keeps typeahead (util-linux does the same).
        termios.tcsetattr(self.in_fd, termios.TCSANOW, mode)

    def restore(self) -> None:
        if self.is_tty and self.saved is not None:
            try:
                termios.tcsetattr(self.in_fd, termios.TCSADRAIN, self.saved)
            except termios.error:
                pass

    # The loop's view of a terminal (shared with the Windows console object).
    resize_by_signal = True  # SIGWINCH tells us; no polling

    def start_input(self) -> int:
        return self.in_fd

    def read_input(self, size: int = 65536) -> bytes:
        """Bytes typed (or piped); ``b""`` at EOF."""
        try:
            return os.read(self.in_fd, size)
        except BlockingIOError:
            raise
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        """Write all of ``data`` to the terminal, waiting while it is slow (flow control)."""
        try:
            n = os.write(self.out_fd, data)
        except (BlockingIOError, InterruptedError):
            n = 0
        if n < len(data):  # rare: a slow or stopped terminal
            self._write_rest(memoryview(data)[n:])

    def _write_rest(self, view: memoryview) -> None:
        import select

        while view:
            try:
                n = os.write(self.out_fd, view)
            except BlockingIOError:
                select.select([], [self.out_fd], [], 1.0)
                continue
            except InterruptedError:
                continue
            view = view[n:]

    def poll_resize(self) -> tuple[int, int] | None:
        return None

    def close(self) -> None:
        self.restore()


class PipeEnd:
    """A pipe end with the few socket methods the loop's signal wake-up uses.

    (A pipe rather than a socket pair: importing ``socket`` costs ~3 ms before the first
    prompt, and on POSIX ``select`` and ``set_wakeup_fd`` take pipes.)
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_inheritable(fd, False)

    def fileno(self) -> int:
        return self.fd

    def recv(self, size: int) -> bytes:
        return os.read(self.fd, size)

    def setblocking(self, flag: bool) -> None:
        os.set_blocking(self.fd, flag)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


def pipe_pair() -> tuple[PipeEnd, PipeEnd]:
    r, w = os.pipe()
    return PipeEnd(r), PipeEnd(w)
