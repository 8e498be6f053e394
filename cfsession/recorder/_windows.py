"""pywinpty adapter: the Windows side of :class:`cfsession.recorder.pty.Pty`.

With the real pywinpty, :func:`spawn` drives its low-level ``PTY`` (:class:`DirectProc`;
see there why not ``PtyProcess``). ``PTY`` speaks ``str``: a reader thread of ours calls
its blocking ``read``, encodes the text as UTF-8 and feeds a ``socket.socketpair()``, so
:meth:`WinPty.read` returns exactly the bytes the segmenter needs and ``fileno()`` is a
socket. (An object shaped like pywinpty's ``PtyProcess`` — SHELL_INTEGRATION.md §4.5 —
is still taken: when it has its loopback socket, ``proc.fileobj``, already carrying
UTF-8, that socket is read directly.) The record loop on Windows reads in a thread of
its own and never ``select``s (recorder/loop_threads.py). Input goes the other way:
bytes are decoded incrementally (a character split across two writes is completed,
never mangled) and written as ``str``.

Nothing here imports ``winpty`` at module level: the module loads on any OS and the tests
inject a fake winpty module (``spawn(..., winpty_module=fake)``).
"""

from __future__ import annotations

import codecs
import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from cfsession.errors import CfsessionError

READ_CHARS = 65536
_POLL_S = 0.05
# pywinpty's reader thread may send this filler when a non-blocking read found nothing;
# its own read() drops a chunk that is exactly this, and so do we.
_FILLER = b"0011Ignore"


class WinPty:
    """A child on a ConPTY (via pywinpty), seen as bytes like the POSIX adapter."""

    def __init__(self, proc: Any) -> None:
        self._proc = proc
        self.pid: int = int(proc.pid)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._status: int | None = None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wsock: socket.socket | None = None
        sock = getattr(proc, "fileobj", None)
        if isinstance(sock, socket.socket):
            self._rsock = sock  # pywinpty's own loopback socket: UTF-8 bytes already
            self._owns_rsock = False
        else:
            self._rsock, self._wsock = socket.socketpair()
            self._owns_rsock = True
            self._thread = threading.Thread(
                target=self._pump, name="cfsession-conpty-reader", daemon=True
            )
            self._thread.start()

    # -- output -------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Fallback reader: ``proc.read()`` (str) → UTF-8 → our socketpair; EOF closes it."""
        wsock = self._wsock
        assert wsock is not None
        try:
            while True:
                try:
                    text = self._proc.read(READ_CHARS)
                except (EOFError, OSError, ValueError):
                    break
                if not text:
                    continue  # pywinpty's filler or an empty poll: nothing happened
                try:
                    wsock.sendall(text.encode("utf-8", "replace"))
                except OSError:
                    break
        finally:
            with contextlib.suppress(OSError):
                wsock.close()

    def fileno(self) -> int:
        """A socket descriptor: ``select.select`` waits on it on Windows."""
        return self._rsock.fileno()

    def read(self, size: int = 65536) -> bytes:
        """Up to ``size`` bytes of the child's output; ``b""`` at EOF (never raises EOFError)."""
        try:
            data = self._rsock.recv(size)
        except (ConnectionError, OSError):
            return b""
        if data == _FILLER and not self._owns_rsock:
            raise BlockingIOError("no output yet")  # the loop treats this as "nothing to read"
        return data

    # -- input --------------------------------------------------------------------------------
    def write(self, data: bytes) -> int:
        """Send keyboard bytes; a UTF-8 sequence split across calls is held until complete."""
        text = self._decoder.decode(data)
        if text:
            # A dead child raises here; its exit is noticed by poll(), not by the writer.
            with contextlib.suppress(EOFError, OSError):
                self._proc.write(text)
        return len(data)

    def resize(self, cols: int, rows: int) -> None:
        # pywinpty takes (rows, cols) and forwards set_size(cols, rows) (§4.3). A resize
        # racing the child's exit must not end the recording.
        with contextlib.suppress(Exception):
            self._proc.setwinsize(rows, cols)

    # -- lifetime -----------------------------------------------------------------------------
    def _exit_code(self) -> int:
        try:
            code = self._proc.exitstatus
        except Exception:
            code = None
        if code is None:
            return 0
        # Windows exit codes are DWORDs (Ctrl-C is 0xC000013A); some layers hand them over
        # signed. Keep the unsigned value people look up.
        return int(code) & 0xFFFFFFFF

    def _alive(self) -> bool:
        try:
            return bool(self._proc.isalive())
        except Exception:
            return False

    def poll(self) -> int | None:
        if self._status is None and not self._alive():
            self._status = self._exit_code()
        return self._status

    def wait(self) -> int:
        while self.poll() is None:
            time.sleep(_POLL_S)  # ConPTY gives no waitable handle through pywinpty
        assert self._status is not None
        return self._status

    def terminate(self, force: bool = False) -> None:
        with contextlib.suppress(Exception):
            self._proc.terminate(force)

    def close(self) -> None:
        """Release the ConPTY and our sockets (terminating the child if it still runs)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._proc.close(force=True)
        if self._owns_rsock:
            with contextlib.suppress(OSError):
                self._rsock.close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def spawn(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | None,
    cols: int,
    rows: int,
    winpty_module: Any = None,
) -> WinPty:
    """Start ``argv`` on a new ConPTY of ``cols`` x ``rows`` (pywinpty picks ConPTY or winpty)."""
    mod = winpty_module
    if mod is None:
        try:
            import winpty as mod  # type: ignore[no-redef]
        except ImportError as exc:
            raise CfsessionError(
                "pywinpty is not installed", "install it: python -m pip install pywinpty"
            ) from exc
    if hasattr(mod, "PTY"):
        return WinPty(DirectProc(mod, list(argv), cwd=cwd, env=dict(env), rows=rows, cols=cols))
    proc = mod.PtyProcess.spawn(list(argv), cwd=cwd, env=dict(env), dimensions=(rows, cols))
    return WinPty(proc)


class DirectProc:
    """pywinpty's low-level ``PTY``, shaped like its ``PtyProcess`` but without that class's
    socket thread.

    ``PtyProcess``'s thread stops reading as soon as the PTY reports end of file, which can
    be before the last screen was read: under WinPTY ``cmd /c "echo hi & exit 3"`` lost its
    ``hi`` about one run in three. Read here until ``PTY.read`` itself raises end of file,
    nothing is lost. :class:`WinPty` runs this ``read`` in its reader thread (no
    ``fileobj``), so the child's output still reaches the loop as UTF-8 bytes.
    """

    def __init__(
        self, mod: Any, argv: list[str], *, cwd: str | None, env: dict[str, str], rows: int, cols: int
    ) -> None:
        import os
        import subprocess

        command = shutil.which(argv[0], path=env.get("PATH") or env.get("Path")) or shutil.which(argv[0])
        if command is None:
            raise FileNotFoundError(f"not found: {argv[0]}")
        self.pty = mod.PTY(cols, rows)
        block = "\0".join(f"{k}={v}" for k, v in env.items()) + "\0"
        kwargs: dict[str, Any] = {"cwd": cwd or os.getcwd(), "env": block}
        if len(argv) > 1:  # PtyProcess passes the arguments the same way
            kwargs["cmdline"] = " " + subprocess.list2cmdline(argv[1:])
        self.pty.spawn(command, **kwargs)
        self.pid = int(self.pty.pid)
        self._sized = True  # pywinpty 2 takes a length; 3 does not

    def read(self, size: int = READ_CHARS) -> str:
        """Text the child wrote (blocking); EOFError once the PTY says there is no more."""
        try:
            if self._sized:
                try:
                    text = self.pty.read(size, blocking=True)
                except TypeError:  # pywinpty 3: read(blocking) only, it picks the length
                    self._sized = False
                    text = self.pty.read(blocking=True)
            else:
                text = self.pty.read(blocking=True)
        except Exception as exc:  # WinptyError: "Standard out reached EOF" (and pipe errors)
            raise EOFError(str(exc)) from exc
        if not text and self.pty.iseof():
            raise EOFError("end of output")
        return str(text)

    def write(self, text: str) -> int:
        if not self.pty.isalive():
            raise EOFError("the child has exited")
        return int(self.pty.write(text))

    def setwinsize(self, rows: int, cols: int) -> None:
        self.pty.set_size(cols, rows)

    def isalive(self) -> bool:
        return bool(self.pty.isalive())

    @property
    def exitstatus(self) -> int | None:
        code = self.pty.get_exitstatus()
        return None if code is None else int(code)

    def terminate(self, force: bool = False) -> bool:
        import os
        import signal

        if self.isalive():
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGTERM)  # TerminateProcess on Windows
        return not self.isalive()

    def close(self, force: bool = False) -> None:
        self.terminate(force)


def default_shell(env: Mapping[str, str], which: Callable[[str], str | None] | None = None) -> str:
    """The shell ``record`` starts on Windows without ``--shell``: pwsh, powershell, %COMSPEC%.

    (``$SHELL`` is not consulted: under Git Bash it is an MSYS path, and ``bash`` on PATH
    is usually WSL's launcher — neither is the user's Windows shell.)
    """
    if which is None:
        path = env.get("PATH") or env.get("Path")

        def which(name: str) -> str | None:
            return shutil.which(name, path=path)

    for name in ("pwsh", "powershell"):
        found = which(name)
        if found:
            return found
    comspec = env.get("COMSPEC") or env.get("ComSpec")
    if comspec:
        return comspec
    return which("cmd") or r"C:\Windows\System32\cmd.exe"
