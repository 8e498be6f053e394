# Over ~400 lines: one object owns the Windows console (modes, code pages, input thread) with the kernel32 calls it needs.
"""The recorder's own console on Windows: raw VT mode, UTF-8, size, input and output.

The Windows counterpart of :class:`cfsession.recorder.terminal.PosixTerminal`. One object,
:class:`WinConsole`, owns the outer console for the whole recording::

    con = WinConsole()                # kernel32 is bound here; tests pass a fake
    cols, rows = con.size()           # visible window, for spawn(..., cols=, rows=)
    con.enter_raw()                   # saves modes + code pages, then raw VT + UTF-8
    try:
        fd = con.start_input()        # a socket: select.select() can wait on it
        ...                           # loop: select([pty.fileno(), fd], ...)
        data = con.read_input()       # keyboard bytes (UTF-8, VT sequences); b"" at EOF
        con.write(output)             # output bytes → the console (or the file/pipe)
        new = con.poll_resize()       # call every RESIZE_POLL_S: (cols, rows) or None
    finally:
        con.close()                   # stops the input thread, restores everything

Raw mode (SHELL_INTEGRATION.md §4.5): input loses ENABLE_LINE_INPUT, ENABLE_ECHO_INPUT
and ENABLE_PROCESSED_INPUT (so Ctrl-C arrives as byte 0x03 for the shell instead of
interrupting us) and gains ENABLE_VIRTUAL_TERMINAL_INPUT (arrows etc. arrive as VT
sequences); output gains ENABLE_VIRTUAL_TERMINAL_PROCESSING and, where accepted,
DISABLE_NEWLINE_AUTO_RETURN (LF moves down only, as on a raw POSIX tty: ConPTY sends CRLF
itself). Both code pages become UTF-8 (65001). :meth:`WinConsole.restore` puts the saved
modes and code pages back; it is idempotent and also registered with ``atexit``.

Windows has no SIGWINCH: the loop polls :meth:`WinConsole.poll_resize` (~250 ms) and
calls ``pty.resize``. ``select`` only takes sockets on Windows, so a daemon thread reads
the console (``ReadConsoleW``: UTF-16, converted to UTF-8 with pairs split across reads
kept whole) or, when stdin is a pipe/file, ``ReadFile``, and feeds a ``socketpair``.
Output to a console goes through ``WriteConsoleW`` (independent of code-page quirks),
elsewhere through ``WriteFile``.

ctypes is bound once per object with ``argtypes``/``restype`` declared; ``kernel32`` is
injectable so every line here runs under test on Linux (real Windows tests are marked).
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import ctypes
import socket
import threading
import time
from typing import Any

from cfsession.errors import CfsessionError

STD_INPUT_HANDLE = -10
STD_OUTPUT_HANDLE = -11
ENABLE_PROCESSED_INPUT = 0x0001
ENABLE_LINE_INPUT = 0x0002
ENABLE_ECHO_INPUT = 0x0004
ENABLE_VIRTUAL_TERMINAL_INPUT = 0x0200
ENABLE_PROCESSED_OUTPUT = 0x0001
ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004
DISABLE_NEWLINE_AUTO_RETURN = 0x0008
CP_UTF8 = 65001
RESIZE_POLL_S = 0.25
READ_UNITS = 4096  # UTF-16 units per ReadConsoleW
WRITE_UNITS = 8192  # UTF-16 units per WriteConsoleW (old consoles limit one call to 64 KiB)
_INVALID = {None, 0, -1, ctypes.c_void_p(-1).value}

DWORD = ctypes.c_uint32
BOOL = ctypes.c_int
UINT = ctypes.c_uint
HANDLE = ctypes.c_void_p


class COORD(ctypes.Structure):
    _fields_ = [("X", ctypes.c_short), ("Y", ctypes.c_short)]


class SMALL_RECT(ctypes.Structure):
    _fields_ = [
        ("Left", ctypes.c_short),
        ("Top", ctypes.c_short),
        ("Right", ctypes.c_short),
        ("Bottom", ctypes.c_short),
    ]


class CONSOLE_SCREEN_BUFFER_INFO(ctypes.Structure):
    _fields_ = [
        ("dwSize", COORD),
        ("dwCursorPosition", COORD),
        ("wAttributes", ctypes.c_ushort),
        ("srWindow", SMALL_RECT),
        ("dwMaximumWindowSize", COORD),
    ]


_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "GetStdHandle": ([DWORD], HANDLE),
    "GetConsoleMode": ([HANDLE, ctypes.POINTER(DWORD)], BOOL),
    "SetConsoleMode": ([HANDLE, DWORD], BOOL),
    "GetConsoleCP": ([], UINT),
    "GetConsoleOutputCP": ([], UINT),
    "SetConsoleCP": ([UINT], BOOL),
    "SetConsoleOutputCP": ([UINT], BOOL),
    "GetConsoleScreenBufferInfo": ([HANDLE, ctypes.POINTER(CONSOLE_SCREEN_BUFFER_INFO)], BOOL),
    "ReadConsoleW": (
        [HANDLE, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD), ctypes.c_void_p],
        BOOL,
    ),
    "ReadFile": ([HANDLE, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD), ctypes.c_void_p], BOOL),
    "WriteConsoleW": (
        [HANDLE, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD), ctypes.c_void_p],
        BOOL,
    ),
    "WriteFile": ([HANDLE, ctypes.c_void_p, DWORD, ctypes.POINTER(DWORD), ctypes.c_void_p], BOOL),
    "CancelIoEx": ([HANDLE, ctypes.c_void_p], BOOL),
}


def _last_error() -> int:
    get = getattr(ctypes, "get_last_error", None)
    return int(get()) if get is not None else 0


class Kernel32:
    """Typed wrappers over the few kernel32 calls we need (a real WinDLL or a test fake)."""

    def __init__(self, dll: Any) -> None:
        self.dll = dll
        for name, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(dll, name)
            # A test fake's bound method takes no attributes: nothing to declare there.
            with contextlib.suppress(AttributeError):
                fn.argtypes, fn.restype = argtypes, restype

    def _fail(self, name: str) -> OSError:
        code = _last_error()
        return OSError(code, f"{name} failed (error {code})")

    def std_handle(self, which: int) -> Any:
        h = self.dll.GetStdHandle(which & 0xFFFFFFFF)
        return None if h in _INVALID else h

    def get_mode(self, handle: Any) -> int | None:
        """The console mode, or None when ``handle`` is not a console (a pipe or a file)."""
        if handle is None:
            return None
        mode = DWORD(0)
        if not self.dll.GetConsoleMode(handle, ctypes.byref(mode)):
            return None
        return int(mode.value)

    def set_mode(self, handle: Any, mode: int) -> bool:
        return bool(self.dll.SetConsoleMode(handle, mode))

    def code_pages(self) -> tuple[int, int]:
        return int(self.dll.GetConsoleCP()), int(self.dll.GetConsoleOutputCP())

    def set_code_pages(self, cp: int, out_cp: int) -> bool:
        ok_in = bool(self.dll.SetConsoleCP(cp))
        ok_out = bool(self.dll.SetConsoleOutputCP(out_cp))
        return ok_in and ok_out

    def window_size(self, handle: Any) -> tuple[int, int] | None:
        """(cols, rows) of the visible window (not the scroll-back buffer)."""
        if handle is None:
            return None
        info = CONSOLE_SCREEN_BUFFER_INFO()
        if not self.dll.GetConsoleScreenBufferInfo(handle, ctypes.byref(info)):
            return None
        w = info.srWindow
        cols, rows = w.Right - w.Left + 1, w.Bottom - w.Top + 1
        return (cols, rows) if cols > 0 and rows > 0 else None

    def read_console(self, handle: Any, units: int) -> bytes:
        """Up to ``units`` UTF-16 code units typed at the console, as UTF-16-LE bytes."""
        buf = ctypes.create_string_buffer(units * 2)
        got = DWORD(0)
        if not self.dll.ReadConsoleW(handle, ctypes.addressof(buf), units, ctypes.byref(got), None):
            raise self._fail("ReadConsoleW")
        return buf.raw[: got.value * 2]

    def read_file(self, handle: Any, size: int) -> bytes:
        buf = ctypes.create_string_buffer(size)
        got = DWORD(0)
        if not self.dll.ReadFile(handle, ctypes.addressof(buf), size, ctypes.byref(got), None):
            code = _last_error()
            if code == 109:  # ERROR_BROKEN_PIPE: the writer closed its end, i.e. EOF
                return b""
            raise OSError(code, f"ReadFile failed (error {code})")
        return buf.raw[: got.value]

    def write_console(self, handle: Any, utf16: bytes) -> int:
        """Write UTF-16-LE text; returns the UTF-16 units written."""
        buf = ctypes.create_string_buffer(utf16, len(utf16))
        done = DWORD(0)
        if not self.dll.WriteConsoleW(
            handle, ctypes.addressof(buf), len(utf16) // 2, ctypes.byref(done), None
        ):
            raise self._fail("WriteConsoleW")
        return int(done.value)

    def write_file(self, handle: Any, data: bytes) -> int:
        buf = ctypes.create_string_buffer(data, len(data))
        done = DWORD(0)
        if not self.dll.WriteFile(
            handle, ctypes.addressof(buf), len(data), ctypes.byref(done), None
        ):
            raise self._fail("WriteFile")
        return int(done.value)

    def cancel_io(self, handle: Any) -> None:
        # Best effort: the input thread is a daemon anyway.
        with contextlib.suppress(Exception):
            self.dll.CancelIoEx(handle, None)


def _load_kernel32() -> Any:
    windll = getattr(ctypes, "WinDLL", None)
    if windll is None:
        raise CfsessionError(
            "the Windows console API is not available here", "this path runs on Windows only"
        )
    return windll("kernel32", use_last_error=True)


class WinConsole:
    """The outer console of a recording on Windows (see the module docstring for the API)."""

    resize_by_signal = False  # no SIGWINCH on Windows: the loop calls poll_resize()

    def __init__(
        self, kernel32: Any = None, *, stdin_handle: Any = None, stdout_handle: Any = None
    ) -> None:
        self.k = Kernel32(kernel32 if kernel32 is not None else _load_kernel32())
        self.hin = stdin_handle if stdin_handle is not None else self.k.std_handle(STD_INPUT_HANDLE)
        self.hout = (
            stdout_handle if stdout_handle is not None else self.k.std_handle(STD_OUTPUT_HANDLE)
        )
        self.in_mode = self.k.get_mode(self.hin)
        self.out_mode = self.k.get_mode(self.hout)
        self.is_tty = self.in_mode is not None and self.out_mode is not None
        self._saved: tuple[int, int, int, int] | None = None
        self._last_size: tuple[int, int] | None = None
        self._rsock: socket.socket | None = None
        self._wsock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = False
        self._out_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __enter__(self) -> WinConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- size -----------------------------------------------------------------------------------
    def size(self) -> tuple[int, int]:
        """(cols, rows) of the console window; 80x24 when there is no console."""
        for h in (self.hout, self.hin):
            got = self.k.window_size(h)
            if got is not None:
                return got
        return 80, 24

    def poll_resize(self) -> tuple[int, int] | None:
        """The new size if it changed since the last call (the first call only records it)."""
        now = self.size()
        if self._last_size is None:
            self._last_size = now
            return None
        if now != self._last_size:
            self._last_size = now
            return now
        return None

    # -- modes ----------------------------------------------------------------------------------
    def enter_raw(self) -> None:
        """Raw VT input, VT output, UTF-8 code pages; the old state is saved for restore()."""
        if not self.is_tty or self._saved is not None:
            return
        assert self.in_mode is not None and self.out_mode is not None
        cp, out_cp = self.k.code_pages()
        self._saved = (self.in_mode, self.out_mode, cp, out_cp)
        atexit.register(self.restore)
        raw_in = (
            self.in_mode & ~(ENABLE_LINE_INPUT | ENABLE_ECHO_INPUT | ENABLE_PROCESSED_INPUT)
        ) | ENABLE_VIRTUAL_TERMINAL_INPUT
        if not self.k.set_mode(self.hin, raw_in):
            self.restore()
            raise CfsessionError(
                "this console does not accept virtual-terminal input",
                "use Windows 10 1809 or later (Windows Terminal, or conhost with VT support)",
            )
        vt_out = self.out_mode | ENABLE_PROCESSED_OUTPUT | ENABLE_VIRTUAL_TERMINAL_PROCESSING
        # DISABLE_NEWLINE_AUTO_RETURN is refused by some hosts; VT processing alone will do.
        if not (
            self.k.set_mode(self.hout, vt_out | DISABLE_NEWLINE_AUTO_RETURN)
            or self.k.set_mode(self.hout, vt_out)
        ):
            self.restore()
            raise CfsessionError(
                "this console does not accept virtual-terminal output",
                "use Windows 10 1809 or later (Windows Terminal, or conhost with VT support)",
            )
        self.k.set_code_pages(CP_UTF8, CP_UTF8)

    def restore(self) -> None:
        """Put back the saved modes and code pages (safe to call more than once)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        in_mode, out_mode, cp, out_cp = saved
        self.k.set_mode(self.hin, in_mode)
        self.k.set_mode(self.hout, out_mode)
        self.k.set_code_pages(cp, out_cp)
        with contextlib.suppress(Exception):
            atexit.unregister(self.restore)

    @property
    def raw(self) -> bool:
        return self._saved is not None

    # -- input ----------------------------------------------------------------------------------
    def start_input(self) -> int:
        """Start the input thread (once); the returned socket fd is readable when keys arrive."""
        if self._rsock is None:
            self._rsock, self._wsock = socket.socketpair()
            self._thread = threading.Thread(
                target=self._pump_input, name="cfsession-console-input", daemon=True
            )
            self._thread.start()
        return self._rsock.fileno()

    def input_fd(self) -> int:
        return self.start_input()

    def read_input(self, size: int = 65536) -> bytes:
        """Keyboard bytes (UTF-8, VT sequences as typed); ``b""`` once input has ended."""
        if self._rsock is None:
            self.start_input()
        assert self._rsock is not None
        try:
            return self._rsock.recv(size)
        except (ConnectionError, OSError):
            return b""

    def _pump_input(self) -> None:
        wsock = self._wsock
        assert wsock is not None
        console = self.in_mode is not None
        decoder = codecs.getincrementaldecoder("utf-16-le")(errors="replace")
        try:
            while not self._stop:
                try:
                    if console:
                        units = self.k.read_console(self.hin, READ_UNITS)
                        if not units:
                            time.sleep(0.01)  # a cancelled or empty read: look at _stop again
                            continue
                        # A surrogate pair split across two reads stays whole: the
                        # incremental decoder holds the high half until its partner comes.
                        data = decoder.decode(units).encode("utf-8", "replace")
                    else:
                        data = self.k.read_file(self.hin, 65536)
                        if not data:
                            break  # end of piped input
                except OSError:
                    break
                if data and not self._stop:
                    wsock.sendall(data)
        except OSError:
            pass  # our reading end was closed: the recording is over
        finally:
            with contextlib.suppress(OSError):
                wsock.close()

    # -- output ---------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write output bytes: UTF-8 text to a console (split characters completed), raw elsewhere."""
        if self.out_mode is None:
            view = memoryview(data)
            while view:
                n = self.k.write_file(self.hout, bytes(view))
                if n <= 0:
                    raise OSError("WriteFile wrote nothing")
                view = view[n:]
            return
        text = self._out_decoder.decode(data)
        if text:
            self._write_units(text.encode("utf-16-le", "surrogatepass"))

    def _write_units(self, utf16: bytes) -> None:
        total = len(utf16) // 2
        off = 0
        while off < total:
            n = min(WRITE_UNITS, total - off)
            if off + n < total:
                last = int.from_bytes(utf16[2 * (off + n - 1) : 2 * (off + n)], "little")
                if 0xD800 <= last <= 0xDBFF:
                    n -= 1  # never split a surrogate pair between two calls
            done = self.k.write_console(self.hout, utf16[2 * off : 2 * (off + n)])
            if done <= 0:
                raise OSError("WriteConsoleW wrote nothing")
            off += done

    # -- end ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the input thread, close its sockets and restore the console."""
        self._stop = True
        if self._thread is not None and self.hin is not None:
            self.k.cancel_io(self.hin)  # wake a blocked ReadConsoleW/ReadFile
        if self._rsock is not None:
            with contextlib.suppress(OSError):
                self._rsock.close()
        if self._thread is not None:
            self._thread.join(timeout=0.5)
        self.restore()
