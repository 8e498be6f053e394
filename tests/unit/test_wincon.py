"""The Windows console object against a fake kernel32 (real ctypes structures and buffers)."""

from __future__ import annotations

import ctypes
import queue
import select
import sys
import time
from typing import Any

import pytest

from cfsession.errors import CfsessionError
from cfsession.recorder import _wincon as wc

IN, OUT = 100, 200
DEFAULT_IN = 0x01F7  # PROCESSED|LINE|ECHO|WINDOW|MOUSE|INSERT|QUICK_EDIT|EXTENDED_FLAGS
DEFAULT_OUT = 0x0003  # PROCESSED_OUTPUT|WRAP_AT_EOL
DEADLINE_S = 5.0


class FakeKernel32:
    """Just enough kernel32: functions take the same ctypes arguments as the real ones."""

    def __init__(self, *, console_in: bool = True, console_out: bool = True) -> None:
        self.consoles = {h for h, ok in ((IN, console_in), (OUT, console_out)) if ok}
        self.modes = {IN: DEFAULT_IN, OUT: DEFAULT_OUT}
        self.cp, self.out_cp = 437, 850
        self.window = (0, 0, 119, 29)
        self.refuse: set[int] = set()
        self.mode_calls: list[tuple[int, int]] = []
        self.input: queue.Queue[bytes | None] = queue.Queue()
        self.console_out: list[bytes] = []  # UTF-16-LE per WriteConsoleW call
        self.file_out: list[bytes] = []
        self.max_units = 1 << 30
        self.cancelled = 0

    def GetStdHandle(self, which: int) -> int:
        return {(-10) & 0xFFFFFFFF: IN, (-11) & 0xFFFFFFFF: OUT}[which]

    def GetConsoleMode(self, h: int, pmode: Any) -> int:
        if h not in self.consoles:
            return 0
        pmode._obj.value = self.modes[h]
        return 1

    def SetConsoleMode(self, h: int, mode: int) -> int:
        self.mode_calls.append((h, mode))
        if mode in self.refuse:
            return 0
        self.modes[h] = mode
        return 1

    def GetConsoleCP(self) -> int:
        return self.cp

    def GetConsoleOutputCP(self) -> int:
        return self.out_cp

    def SetConsoleCP(self, cp: int) -> int:
        self.cp = cp
        return 1

    def SetConsoleOutputCP(self, cp: int) -> int:
        self.out_cp = cp
        return 1

    def GetConsoleScreenBufferInfo(self, h: int, pinfo: Any) -> int:
        if h not in self.consoles or h != OUT:
            return 0
        w = pinfo._obj.srWindow
        w.Left, w.Top, w.Right, w.Bottom = self.window
        pinfo._obj.dwSize.X, pinfo._obj.dwSize.Y = 120, 9001  # the scroll-back is not the size
        return 1

    def ReadConsoleW(self, h: int, addr: int, units: int, pread: Any, _ctl: Any) -> int:
        chunk = self.input.get(timeout=DEADLINE_S)
        if chunk is None:
            return 0  # cancelled
        chunk = chunk[: units * 2]
        ctypes.memmove(addr, chunk, len(chunk))
        pread._obj.value = len(chunk) // 2
        return 1

    def ReadFile(self, h: int, addr: int, size: int, pread: Any, _ov: Any) -> int:
        chunk = self.input.get(timeout=DEADLINE_S)
        if chunk is None:
            chunk = b""  # the writer closed the pipe
        ctypes.memmove(addr, chunk, len(chunk))
        pread._obj.value = len(chunk)
        return 1

    def WriteConsoleW(self, h: int, addr: int, units: int, pdone: Any, _r: Any) -> int:
        n = min(units, self.max_units)
        self.console_out.append(ctypes.string_at(addr, n * 2))
        pdone._obj.value = n
        return 1

    def WriteFile(self, h: int, addr: int, size: int, pdone: Any, _ov: Any) -> int:
        self.file_out.append(ctypes.string_at(addr, size))
        pdone._obj.value = size
        return 1

    def CancelIoEx(self, h: int, _ov: Any) -> int:
        self.cancelled += 1
        self.input.put(None)
        return 1


def read_input_until(con: wc.WinConsole, want: bytes) -> bytes:
    fd = con.start_input()
    got = b""
    end = time.monotonic() + DEADLINE_S
    while want not in got and time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            chunk = con.read_input()
            if not chunk:
                break
            got += chunk
    return got


def test_raw_mode_flags_and_restore() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    assert con.is_tty
    con.enter_raw()
    assert con.raw
    mi = k.modes[IN]
    assert mi & (wc.ENABLE_LINE_INPUT | wc.ENABLE_ECHO_INPUT | wc.ENABLE_PROCESSED_INPUT) == 0
    assert mi & wc.ENABLE_VIRTUAL_TERMINAL_INPUT
    assert (
        mi & ~wc.ENABLE_VIRTUAL_TERMINAL_INPUT == DEFAULT_IN & ~0x7
    )  # other flags (quick edit…) kept
    mo = k.modes[OUT]
    assert (
        mo == DEFAULT_OUT | wc.ENABLE_VIRTUAL_TERMINAL_PROCESSING | wc.DISABLE_NEWLINE_AUTO_RETURN
    )
    assert (k.cp, k.out_cp) == (65001, 65001)
    con.enter_raw()  # a second call changes nothing and keeps the first saved state
    con.restore()
    assert (k.modes[IN], k.modes[OUT], k.cp, k.out_cp) == (DEFAULT_IN, DEFAULT_OUT, 437, 850)
    calls = len(k.mode_calls)
    con.restore()  # idempotent
    assert len(k.mode_calls) == calls and not con.raw


def test_vt_output_without_newline_flag_when_refused() -> None:
    k = FakeKernel32()
    full = DEFAULT_OUT | wc.ENABLE_VIRTUAL_TERMINAL_PROCESSING | wc.DISABLE_NEWLINE_AUTO_RETURN
    k.refuse = {full}
    con = wc.WinConsole(k)
    con.enter_raw()
    assert k.modes[OUT] == DEFAULT_OUT | wc.ENABLE_VIRTUAL_TERMINAL_PROCESSING
    con.restore()


def test_console_without_vt_is_an_error_and_left_as_found() -> None:
    k = FakeKernel32()
    raw_in = (DEFAULT_IN & ~0x7) | wc.ENABLE_VIRTUAL_TERMINAL_INPUT
    k.refuse = {raw_in}
    con = wc.WinConsole(k)
    with pytest.raises(CfsessionError) as exc:
        con.enter_raw()
    assert "virtual-terminal" in exc.value.message and "Windows 10" in (exc.value.hint or "")
    assert (k.modes[IN], k.modes[OUT], k.cp, k.out_cp) == (DEFAULT_IN, DEFAULT_OUT, 437, 850)
    assert not con.raw


def test_not_a_console_is_left_alone() -> None:
    k = FakeKernel32(console_in=False, console_out=False)
    con = wc.WinConsole(k)
    assert not con.is_tty
    con.enter_raw()
    assert k.mode_calls == [] and (k.cp, k.out_cp) == (437, 850)
    assert con.size() == (80, 24)


def test_size_is_the_visible_window_and_resize_is_polled() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    assert con.size() == (120, 30)
    assert con.poll_resize() is None  # first call records the size
    assert con.poll_resize() is None
    k.window = (0, 100, 99, 139)  # scrolled down and resized
    assert con.poll_resize() == (100, 40)
    assert con.poll_resize() is None


def test_console_input_becomes_utf8_with_split_surrogates_whole() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    try:
        text = "a\U0001f600é\x03\x1b[A"
        units = text.encode("utf-16-le")
        k.input.put(units[:4])  # "a" + the high surrogate only
        k.input.put(units[4:])
        got = read_input_until(con, b"\x1b[A")
        assert got == text.encode("utf-8")
    finally:
        con.close()
    assert k.cancelled == 1


def test_piped_input_is_passed_raw_until_eof() -> None:
    k = FakeKernel32(console_in=False)
    con = wc.WinConsole(k)
    try:
        k.input.put(b"echo hi\r\n\xff")
        k.input.put(None)
        got = read_input_until(con, b"\xff")
        assert got == b"echo hi\r\n\xff"
        select.select([con.input_fd()], [], [], DEADLINE_S)
        assert con.read_input() == b""
    finally:
        con.close()


def test_close_stops_the_input_thread_and_restores() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    con.enter_raw()
    con.start_input()
    thread = con._thread
    assert thread is not None and thread.is_alive()
    with con:
        pass  # __exit__ closes
    assert not thread.is_alive()
    assert k.modes[IN] == DEFAULT_IN and not con.raw


def test_console_output_is_utf16_with_characters_completed() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    con.write(b"caf\xc3")
    con.write(b"\xa9 \xf0\x9f")
    con.write(b"\x98\x80\x1b[0m\r\n")
    text = b"".join(k.console_out).decode("utf-16-le")
    assert text == "café \U0001f600\x1b[0m\r\n"
    assert k.console_out[0].decode("utf-16-le") == "caf"


def test_large_output_is_chunked_without_splitting_pairs() -> None:
    k = FakeKernel32()
    con = wc.WinConsole(k)
    text = "x" * (wc.WRITE_UNITS - 1) + "\U0001f600" + "y" * 5000
    con.write(text.encode())
    for call in k.console_out:
        call.decode("utf-16-le")  # strict: a split pair would raise here
    assert b"".join(k.console_out).decode("utf-16-le") == text
    assert all(len(c) // 2 <= wc.WRITE_UNITS for c in k.console_out)


def test_partial_console_writes_are_continued() -> None:
    k = FakeKernel32()
    k.max_units = 7
    con = wc.WinConsole(k)
    con.write(b"0123456789abcdefghij")
    assert b"".join(k.console_out).decode("utf-16-le") == "0123456789abcdefghij"
    assert len(k.console_out) == 3


def test_output_to_a_file_or_pipe_is_raw_bytes() -> None:
    k = FakeKernel32(console_out=False)
    con = wc.WinConsole(k)
    con.write(b"\xc3")
    con.write(b"\xa9\xff")
    assert b"".join(k.file_out) == b"\xc3\xa9\xff"
    assert k.console_out == []


def test_signatures_are_declared_on_a_real_ctypes_function() -> None:
    # A CFUNCTYPE-less stand-in: objects that accept attributes, as WinDLL functions do.
    class Fn:
        def __call__(self, *a: Any) -> int:
            return 0

    dll = type("Dll", (), {name: Fn() for name in wc._SIGNATURES})()
    wc.Kernel32(dll)
    assert dll.GetConsoleMode.argtypes[1]._type_ is wc.DWORD
    assert dll.GetStdHandle.restype is wc.HANDLE
    assert ctypes.sizeof(wc.CONSOLE_SCREEN_BUFFER_INFO) == 22  # the Win32 layout


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="needs a real Windows console")
def test_real_console_round_trip() -> None:
    con = wc.WinConsole()
    if not con.is_tty:
        pytest.skip("stdin/stdout are not a console here")
    before = (con.k.get_mode(con.hin), con.k.get_mode(con.hout), con.k.code_pages())
    con.enter_raw()
    try:
        assert con.k.get_mode(con.hin) & wc.ENABLE_VIRTUAL_TERMINAL_INPUT
        assert con.k.code_pages() == (65001, 65001)
        cols, rows = con.size()
        assert cols > 0 and rows > 0
    finally:
        con.restore()
    assert (con.k.get_mode(con.hin), con.k.get_mode(con.hout), con.k.code_pages()) == before
