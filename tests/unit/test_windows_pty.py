"""The pywinpty adapter against a fake winpty module (the only fake: the Windows API)."""

from __future__ import annotations

import queue
import select
import socket
import sys
import time
import types
from typing import Any

import pytest

from cfsession.errors import CfsessionError
from cfsession.recorder import _windows
from cfsession.recorder.pty import spawn as pty_spawn

DEADLINE_S = 5.0


class FakeProc:
    """Shaped like winpty.PtyProcess: str in/out, (rows, cols) sizes, a loopback socket."""

    def __init__(
        self,
        argv: list[str],
        cwd: str | None,
        env: dict[str, str],
        dimensions: tuple[int, int],
        with_socket: bool,
    ) -> None:
        self.argv, self.cwd, self.env, self.dimensions = argv, cwd, env, dimensions
        self.pid = 4321
        self.written: list[str] = []
        self.sizes: list[tuple[int, int]] = []
        self.alive_checks: list[bool] = []  # scripted isalive() answers, then `alive`
        self.alive = True
        self.exitstatus: int | None = None
        self.terminated: list[bool] = []
        self.closed: list[bool] = []
        self.chunks: queue.Queue[str | None] = queue.Queue()
        if with_socket:
            self.fileobj, self.peer = socket.socketpair()

    # str side (used by the adapter only when there is no fileobj)
    def read(self, size: int = 1024) -> str:
        item = self.chunks.get(timeout=DEADLINE_S)
        if item is None:
            raise EOFError("Pty is closed")
        return item

    def write(self, s: str) -> int:
        if not self.alive:
            raise EOFError("Pty is closed")
        self.written.append(s)
        return len(s)

    def setwinsize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))

    def isalive(self) -> bool:
        if self.alive_checks:
            return self.alive_checks.pop(0)
        return self.alive

    def terminate(self, force: bool = False) -> bool:
        self.terminated.append(force)
        return True

    def close(self, force: bool = False) -> None:
        self.closed.append(force)
        self.chunks.put(None)
        if hasattr(self, "fileobj"):
            self.fileobj.close()
            self.peer.close()


def fake_winpty(with_socket: bool = True) -> Any:
    spawned: list[FakeProc] = []

    class PtyProcess:
        @classmethod
        def spawn(
            cls,
            argv: list[str],
            cwd: str | None = None,
            env: dict[str, str] | None = None,
            dimensions: tuple[int, int] = (24, 80),
            backend: Any = None,
        ) -> FakeProc:
            proc = FakeProc(argv, cwd, dict(env or {}), dimensions, with_socket)
            spawned.append(proc)
            return proc

    return types.SimpleNamespace(PtyProcess=PtyProcess, spawned=spawned)


def read_until(pty: _windows.WinPty, want: bytes) -> bytes:
    """Read through select() until ``want`` arrived (or EOF), within a deadline."""
    got = b""
    end = time.monotonic() + DEADLINE_S
    while want not in got and time.monotonic() < end:
        r, _, _ = select.select([pty.fileno()], [], [], 0.5)
        if r:
            chunk = pty.read(4096)
            if not chunk:
                break
            got += chunk
    return got


@pytest.fixture(params=[True, False], ids=["pywinpty-socket", "reader-thread"])
def winpty_mod(request: pytest.FixtureRequest) -> Any:
    return fake_winpty(with_socket=request.param)


def start(mod: Any, **kw: Any) -> tuple[_windows.WinPty, FakeProc]:
    pty = _windows.spawn(
        ["pwsh", "-NoLogo"],
        env={"A": "1"},
        cwd="C:\\work",
        cols=120,
        rows=40,
        winpty_module=mod,
        **kw,
    )
    return pty, mod.spawned[-1]


def feed_output(proc: FakeProc, parts: list[str]) -> None:
    """The child writes ``parts``: as pywinpty's thread does (UTF-8 on the socket) or as str."""
    for p in parts:
        if hasattr(proc, "fileobj"):
            proc.peer.sendall(p.encode("utf-8"))
        else:
            proc.chunks.put(p)


def test_spawn_passes_rows_cols_cwd_env(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        assert proc.argv == ["pwsh", "-NoLogo"]
        assert proc.dimensions == (40, 120)  # pywinpty wants (rows, cols)
        assert proc.cwd == "C:\\work" and proc.env == {"A": "1"}
        assert pty.pid == 4321
    finally:
        pty.close()


def test_output_is_utf8_bytes_through_a_selectable_socket(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        feed_output(proc, ["héllo ", "wörld €\r\n", "", "日本\r\n"])
        got = read_until(pty, "日本\r\n".encode())
        assert got == "héllo wörld €\r\n日本\r\n".encode()
    finally:
        pty.close()


def test_a_character_split_between_reads_reaches_the_segmenter_as_bytes() -> None:
    mod = fake_winpty(with_socket=True)
    pty, proc = start(mod)
    try:
        proc.peer.sendall(b"caf\xc3")  # pywinpty's socket may cut anywhere
        first = read_until(pty, b"caf\xc3")
        proc.peer.sendall(b"\xa9!")
        assert first + read_until(pty, b"\xa9!") == "café!".encode()
    finally:
        pty.close()


def test_pywinpty_filler_chunk_is_not_output() -> None:
    mod = fake_winpty(with_socket=True)
    pty, proc = start(mod)
    try:
        proc.peer.sendall(b"0011Ignore")
        select.select([pty.fileno()], [], [], DEADLINE_S)
        with pytest.raises(BlockingIOError):
            pty.read()
    finally:
        pty.close()


def test_eof_reads_empty(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        feed_output(proc, ["bye"])
        if hasattr(proc, "fileobj"):
            proc.peer.close()
        else:
            proc.chunks.put(None)
        got = read_until(pty, b"bye")
        assert got == b"bye"
        select.select([pty.fileno()], [], [], DEADLINE_S)
        assert pty.read() == b""
    finally:
        pty.close()


def test_input_bytes_are_decoded_incrementally(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        assert pty.write(b"caf\xc3") == 4  # the half character is held, not mangled
        assert pty.write(b"\xa9 \xe2\x82") == 4
        assert pty.write(b"\xac\r") == 2
        assert pty.write(b"\x1b[A\x03") == 4  # VT keys and Ctrl-C pass as characters
        assert "".join(proc.written) == "café €\r\x1b[A\x03"
        assert proc.written[0] == "caf"
    finally:
        pty.close()


def test_writing_to_a_dead_child_does_not_raise(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        proc.alive = False
        assert pty.write(b"exit\r") == 5
    finally:
        pty.close()


def test_resize_passes_rows_then_cols(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    try:
        pty.resize(100, 30)
        assert proc.sizes == [(30, 100)]
    finally:
        pty.close()


@pytest.mark.parametrize(
    ("raw", "want"),
    [(0, 0), (3, 3), (None, 0), (-1073741510, 0xC000013A), (0xC000013A, 0xC000013A)],
)
def test_exit_status(raw: int | None, want: int) -> None:
    mod = fake_winpty()
    pty, proc = start(mod)
    try:
        assert pty.poll() is None
        proc.alive, proc.exitstatus = False, raw
        assert pty.poll() == want
        assert pty.wait() == want
        proc.exitstatus = 99  # the first answer is kept
        assert pty.poll() == want
    finally:
        pty.close()


def test_wait_polls_until_the_child_exits() -> None:
    mod = fake_winpty()
    pty, proc = start(mod)
    try:
        proc.alive_checks = [True, True]
        proc.alive, proc.exitstatus = False, 7
        assert pty.wait() == 7
        assert proc.alive_checks == []
    finally:
        pty.close()


def test_terminate_and_close(winpty_mod: Any) -> None:
    pty, proc = start(winpty_mod)
    pty.terminate()
    pty.terminate(force=True)
    assert proc.terminated == [False, True]
    pty.close()
    pty.close()  # idempotent
    assert proc.closed == [True]


def test_reader_thread_ends_on_close() -> None:
    mod = fake_winpty(with_socket=False)
    pty, proc = start(mod)
    thread = pty._thread
    assert thread is not None and thread.is_alive()
    pty.close()
    assert not thread.is_alive()


def test_platform_branch_selected_by_injection(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = fake_winpty()
    monkeypatch.setitem(sys.modules, "winpty", mod)
    pty = pty_spawn(["cmd.exe"], env={}, cwd=None, cols=80, rows=25, platform="win32")
    try:
        assert isinstance(pty, _windows.WinPty)
        assert mod.spawned[0].dimensions == (25, 80)
    finally:
        pty.close()


def test_missing_pywinpty_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "winpty", None)  # import winpty → ImportError
    with pytest.raises(CfsessionError) as exc:
        _windows.spawn(["cmd.exe"], env={}, cwd=None, cols=80, rows=25)
    assert "pywinpty" in exc.value.message and "pip install pywinpty" in (exc.value.hint or "")


@pytest.mark.parametrize(
    ("installed", "env", "want"),
    [
        (
            {"pwsh": "C:\\PS7\\pwsh.exe", "powershell": "C:\\W\\powershell.exe"},
            {},
            "C:\\PS7\\pwsh.exe",
        ),
        (
            {"powershell": "C:\\W\\powershell.exe"},
            {"COMSPEC": "C:\\W\\cmd.exe"},
            "C:\\W\\powershell.exe",
        ),
        ({}, {"COMSPEC": "D:\\cmd.exe", "SHELL": "/usr/bin/bash"}, "D:\\cmd.exe"),
        ({"cmd": "C:\\Windows\\System32\\cmd.exe"}, {}, "C:\\Windows\\System32\\cmd.exe"),
        ({}, {}, "C:\\Windows\\System32\\cmd.exe"),
    ],
)
def test_default_shell_on_windows(
    installed: dict[str, str], env: dict[str, str], want: str
) -> None:
    # $SHELL (Git Bash's MSYS path) and WSL's bash.exe are never picked.
    assert _windows.default_shell(env, which=installed.get) == want


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="needs Windows and pywinpty")
def test_real_conpty_runs_cmd() -> None:
    pty = _windows.spawn(
        ["cmd.exe", "/d", "/c", "echo cfs-hi& exit 3"],
        env=dict(__import__("os").environ),
        cwd=None,
        cols=80,
        rows=25,
    )
    try:
        assert b"cfs-hi" in read_until(pty, b"cfs-hi")
        assert pty.wait() == 3
    finally:
        pty.close()


class FakeLowPty:
    """Shaped like pywinpty's low-level ``winpty.PTY`` (what spawn() uses for real): the
    last screen may come *after* the process is gone, and EOF is an exception."""

    sized = True  # pywinpty 2's read(length, blocking); 3's is read(blocking)

    def __init__(self, cols: int, rows: int) -> None:
        self.size = (cols, rows)
        self.spawned: tuple[str, dict[str, Any]] | None = None
        self.pid = 77
        self.chunks: queue.Queue[str | None] = queue.Queue()
        self.alive = True
        self.sizes: list[tuple[int, int]] = []
        self.written: list[str] = []

    def spawn(self, appname: str, **kw: Any) -> bool:
        self.spawned = (appname, kw)
        return True

    def read(self, *args: Any, blocking: bool = False) -> str:
        if args and not self.sized:
            raise TypeError("read() takes no positional arguments")
        assert blocking, "the adapter's reader thread blocks"
        item = self.chunks.get(timeout=DEADLINE_S)
        if item is None:
            raise RuntimeError("Standard out reached EOF")
        return item

    def iseof(self) -> bool:
        return not self.alive and self.chunks.empty()

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def set_size(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def isalive(self) -> bool:
        return self.alive

    def get_exitstatus(self) -> int | None:
        return None if self.alive else 3


@pytest.mark.parametrize("sized", [True, False], ids=["pywinpty2", "pywinpty3"])
def test_low_level_pty_keeps_the_last_screen_after_exit(monkeypatch: pytest.MonkeyPatch, sized: bool) -> None:
    made: list[FakeLowPty] = []

    def make(cols: int, rows: int) -> FakeLowPty:
        made.append(FakeLowPty(cols, rows))
        made[-1].sized = sized
        return made[-1]

    mod = types.SimpleNamespace(PTY=make)
    monkeypatch.setattr(_windows.shutil, "which", lambda name, path=None: "C:\\Windows\\cmd.exe")
    pty = _windows.spawn(["cmd", "/c", "echo hi & exit 3"], env={"A": "1"}, cwd="C:\\w",
                         cols=100, rows=30, winpty_module=mod)
    low = made[0]
    try:
        assert low.size == (100, 30)
        assert low.spawned == ("C:\\Windows\\cmd.exe",
                               {"cwd": "C:\\w", "env": "A=1\0", "cmdline": ' /c "echo hi & exit 3"'})
        low.alive = False  # the process is gone before its screen was read …
        low.chunks.put("\x1b[0Khi\r\n")
        low.chunks.put(None)
        got = read_until(pty, b"hi\r\n")
        assert got == b"\x1b[0Khi\r\n"  # … and the screen still arrives, then EOF
        select.select([pty.fileno()], [], [], DEADLINE_S)
        assert pty.read() == b""
        assert pty.poll() == 3
        pty.resize(120, 40)
        assert low.sizes == [(120, 40)]  # the low-level PTY takes (cols, rows)
    finally:
        pty.close()
