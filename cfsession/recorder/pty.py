"""The one place that picks a terminal backend by platform.

Every other module talks to a :class:`Pty`; ``sys.platform`` is consulted only here
(and in the ETW facade). Tests inject ``platform=`` instead of patching ``sys.platform``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cfsession.recorder.loop import Loop


class Pty(Protocol):
    """A child process on a pseudo-terminal, seen as bytes (never str)."""

    pid: int

    def fileno(self) -> int:
        """A descriptor that ``select`` can wait on for readable output (a socket on Windows)."""
        ...

    def read(self, size: int = 65536) -> bytes:
        """Up to ``size`` bytes; ``b""`` at EOF (never raises EOFError)."""
        ...

    def write(self, data: bytes) -> int: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def poll(self) -> int | None:
        """The exit status if the child has exited (shell style: 128+N for signal N), else None."""
        ...

    def wait(self) -> int: ...

    def terminate(self, force: bool = False) -> None: ...

    def close(self) -> None: ...


def spawn(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | None,
    cols: int,
    rows: int,
    termios_from: int | None = None,
    platform: str | None = None,
) -> Pty:
    """Start ``argv`` on a new pseudo-terminal of ``cols`` x ``rows``.

    ``termios_from``: a tty fd whose line settings (erase/kill characters, …) the new PTY
    copies (POSIX; SHELL_INTEGRATION.md §4.1).
    """
    import cfsession.recorder

    platform = platform or sys.platform
    if platform == "win32":
        from cfsession.recorder import _windows

        pty: Pty = _windows.spawn(argv, env=env, cwd=cwd, cols=cols, rows=rows)
    else:
        from cfsession.recorder import _posix

        pty = _posix.spawn(argv, env=env, cwd=cwd, cols=cols, rows=rows, termios_from=termios_from)
    cfsession.recorder.shell_started = True
    return pty


class Terminal(Protocol):
    """The user's side: what the loop reads keys from and writes output to."""

    is_tty: bool
    resize_by_signal: bool  # POSIX: SIGWINCH; Windows: poll_resize() every tick

    def size(self) -> tuple[int, int]: ...

    def enter_raw(self) -> None: ...

    def restore(self) -> None: ...

    def start_input(self) -> int: ...

    def read_input(self, size: int = 65536) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def poll_resize(self) -> tuple[int, int] | None: ...

    def close(self) -> None: ...


def open_terminal(platform: str | None = None) -> Terminal:
    """The outer terminal: a POSIX tty (or pipes), or the Windows console."""
    if (platform or sys.platform) == "win32":
        from cfsession.recorder._wincon import WinConsole

        return WinConsole()
    from cfsession.recorder.terminal import PosixTerminal

    return PosixTerminal(0, 1)


def loop_class(platform: str | None = None) -> type[Loop]:
    """The pump: ``select`` on POSIX; on Windows, where ``select`` takes only sockets, a
    reader thread per source feeding one queue (:mod:`cfsession.recorder.loop_threads`)."""
    if (platform or sys.platform) == "win32":
        from cfsession.recorder.loop_threads import ThreadedLoop

        return ThreadedLoop
    from cfsession.recorder.loop import Loop

    return Loop


def command_line(argv: list[str], platform: str | None = None) -> str:
    """``argv`` as one line, quoted the way this platform's shells read it back: POSIX
    shell quoting, or on Windows the rules CreateProcess programs parse
    (``cmd /c "echo hi & exit 3"``, not ``cmd /c 'echo hi & exit 3'``)."""
    if (platform or sys.platform) == "win32":
        import subprocess

        return subprocess.list2cmdline(argv)
    import shlex

    return shlex.join(argv)


def default_shell(env: Mapping[str, str], platform: str | None = None) -> str | None:
    """Windows: pwsh, powershell, %COMSPEC%. POSIX: None (the caller uses $SHELL, bash, sh)."""
    if (platform or sys.platform) == "win32":
        from cfsession.recorder._windows import default_shell as win_default

        return win_default(env)
    return None


class Wakeup(Protocol):
    """One end of the pair that ``signal.set_wakeup_fd`` writes to and ``select`` watches."""

    def fileno(self) -> int: ...

    def recv(self, size: int) -> bytes: ...

    def setblocking(self, flag: bool) -> None: ...

    def close(self) -> None: ...


def wakeup_pair(platform: str | None = None) -> tuple[Wakeup, Wakeup]:
    """A pipe on POSIX; a socket pair on Windows, where ``select`` takes only sockets."""
    if (platform or sys.platform) == "win32":
        import socket

        return socket.socketpair()
    from cfsession.recorder.terminal import pipe_pair

    return pipe_pair()


def record_filter(platform: str | None = None) -> Callable[[bytes], bytes] | None:
    """A filter for the recorded copy of the output (never the passthrough).

    ConPTY paints a start-up screen (clear, title, modes) that is not the shell's output.
    """
    if (platform or sys.platform) == "win32":
        from cfsession.recorder.conpty_filter import StartupFilter

        return StartupFilter().feed
    return None


# -- one command, not a shell (the recording API) ---------------------------------------------
def command_argv(cmd: str, env: Mapping[str, str], platform: str | None = None) -> list[str]:
    """``cmd`` run by the platform's command interpreter: ``/bin/sh -c`` or ``cmd.exe /c``."""
    if (platform or sys.platform) == "win32":
        return [env.get("COMSPEC") or "cmd.exe", "/d", "/s", "/c", cmd]
    return ["/bin/sh", "-c", cmd]


def new_group_kwargs(platform: str | None = None) -> dict[str, object]:
    """``subprocess.Popen`` arguments that put the child in a group of its own."""
    if (platform or sys.platform) == "win32":
        import subprocess

        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


def kill_group(pid: int, fallback: Callable[[], object], platform: str | None = None) -> None:
    """Kill the process group led by ``pid`` (a PTY child leads its own session on POSIX).

    Windows has no process groups to signal: ``fallback`` (the child's own kill) runs there,
    and whenever the group is already gone.
    """
    if (platform or sys.platform) != "win32":
        import os
        import signal

        try:
            os.killpg(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            pass
    try:
        fallback()
    except Exception:
        pass
