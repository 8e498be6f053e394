"""EtwSink: the recorder's records as TraceLogging events (DESIGN.md §5, FORMAT.md §6).

``session_start`` → ``SessionStart``, each ``terminal_capture`` → ``TerminalCapture``,
``session_end`` → ``SessionEnd``; other records are ignored. Every event has level 4,
channel 11, and the session GUID as its activity id. The parent session's GUID goes in
the related activity id of ``SessionStart`` only: Microsoft's guidance is to set it on
the event that starts an activity and on no other (FORMAT.md §9.13).

How record values become fields:

* Strings lose their U+0000 characters (viewers cut a string at the first one, §9.8),
  lone surrogates become U+FFFD (§9.7), and each string is capped in UTF-16 code units
  without splitting a surrogate pair: ``Output`` 1000, ``Command`` 8192, ``Cwd`` 4096,
  ``SessionType`` and ``CorrelationId`` 256. The largest possible event is then about
  27 KB, well inside the 64 KB ETW limit (§9.14). A null command is ``""``.
* ``DurationMs`` is rounded half up and clamped to its type (UINT32 in TerminalCapture,
  UINT64 in SessionEnd); negative or missing durations are 0.
* ``ExitCode`` is the exit code as INT32; Windows codes 2^31…2^32-1 (NTSTATUS-style) wrap
  to negative numbers as ``%ERRORLEVEL%`` shows them. An unknown exit code (JSONL
  ``null``) is **-1**; on POSIX no real exit code is negative, on Windows a process that
  returned 0xFFFFFFFF also shows as -1 (the JSONL line tells them apart).
* ``StartTime`` is the FILETIME of ``started_at`` (RFC 3339), computed in integers.

The sink never raises: the first failure is reported once through ``on_warning`` as
``("etw_failed", message)`` and the sink then emits nothing more. Importing this module
loads neither ctypes nor the encoder; with ETW unavailable ``write`` returns at once.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

from cfsession.etw import LEVEL, Emitter, NullEmitter, open_emitter
from cfsession.records import Record
from cfsession.sinks import WarningCallback

OUTPUT_MAX_UNITS = 1000
COMMAND_MAX_UNITS = 8192
CWD_MAX_UNITS = 4096
LABEL_MAX_UNITS = 256
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
EXIT_CODE_UNKNOWN = -1

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:?\d\d)?"
)
_DAYS_1601_TO_ORDINAL = 584389  # date(1601, 1, 1).toordinal(): datetime loads only when an event is built


def _filetime_now() -> int:
    return time.time_ns() // 100 + 116444736000000000  # FORMAT.md §9.10: integers only


def filetime_of(value: Any) -> int:
    """FILETIME ticks of an RFC 3339 timestamp (UTC if no offset); now if unparseable."""
    m = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        return _filetime_now()
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = int((m.group(7) or "")[:7].ljust(7, "0"))
    offset = 0
    tz = m.group(8)
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[-2:]) * 60)
    from datetime import date  # here: the recorder imports this module before the first prompt

    try:
        days = date(y, mo, d).toordinal() - _DAYS_1601_TO_ORDINAL
    except ValueError:
        return _filetime_now()
    return max(0, (days * 86400 + h * 3600 + mi * 60 + s - offset) * 10_000_000 + frac)


def round_clamp(value: Any, limit: int) -> int:
    """A duration as an unsigned integer: rounded half up, clamped to [0, limit]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    if isinstance(value, int):
        return min(max(value, 0), limit)
    if not value > 0:  # also NaN
        return 0
    if value >= limit:
        return limit
    return min(int(value + 0.5), limit)


def exit_code_int32(value: Any) -> int:
    """The INT32 ``ExitCode`` for a JSONL ``exit_code`` (see the module docstring)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return EXIT_CODE_UNKNOWN
    if -(2**31) <= value < 2**31:
        return value
    if 2**31 <= value <= UINT32_MAX:
        return value - 2**32
    return EXIT_CODE_UNKNOWN


class EtwSink:
    """Sends the session's records to ETW (or the capture seam); see the module docstring."""

    def __init__(
        self,
        *,
        session_id: str,
        parent_session_id: str | None,
        enabled: bool,
        on_warning: WarningCallback | None = None,
        platform: str | None = None,
        emitter: Emitter | None = None,
    ) -> None:
        """``emitter`` replaces the one :func:`open_emitter` would pick (tests, benchmarks)."""
        self._on_warning = on_warning
        self.failed: str | None = None
        self._commands = 0
        self._session_id = session_id
        if emitter is None or not enabled:
            emitter = open_emitter(enabled, platform)
        self.status: str = emitter.status
        self._emitter = None if isinstance(emitter, NullEmitter) else emitter
        if self._emitter is None:
            return
        import uuid

        from cfsession.etw import _tracelogging as tl

        try:
            self._activity = uuid.UUID(session_id).bytes_le
        except (TypeError, ValueError):
            self._emitter.close()
            self._emitter = None
            self.status = "unavailable: session id is not a GUID"
            return
        self._related: bytes | None = None
        if parent_session_id:
            # From the environment (CFSESSION_ID): a foreign value only loses the link.
            with contextlib.suppress(TypeError, ValueError):
                self._related = uuid.UUID(parent_session_id).bytes_le
        self._tl = tl
        self._events: dict[str, tuple[Any, Callable[[Record], bytes]]] = {
            "session_start": (tl.SESSION_START, self._session_start),
            "terminal_capture": (tl.TERMINAL_CAPTURE, self._terminal_capture),
            "session_end": (tl.SESSION_END, self._session_end),
        }

    def write(self, record: Record) -> None:
        emitter = self._emitter
        if emitter is None:
            return
        kind = record.get("event_type")
        if kind == "terminal_capture":
            self._commands += 1
        entry = self._events.get(kind)  # type: ignore[arg-type]
        if entry is None:
            return
        event, build = entry
        try:
            if not emitter.is_enabled(LEVEL, event.keyword):
                return  # nobody listens: build nothing (DESIGN.md §5)
            related = self._related if kind == "session_start" else None
            emitter.write(event, build(record), self._activity, related)
        except Exception as exc:  # noqa: BLE001 - an ETW failure must never reach the recording
            self._fail(exc)

    def close(self) -> None:
        emitter, self._emitter = self._emitter, None
        if emitter is None:
            return
        try:
            emitter.close()
        except Exception as exc:  # noqa: BLE001 - as in write
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.failed = str(exc) or type(exc).__name__
        emitter, self._emitter = self._emitter, None
        if emitter is not None:
            with contextlib.suppress(Exception):  # already failing; the warning below says so
                emitter.close()
        if self._on_warning is not None:
            with contextlib.suppress(Exception):  # a broken callback must not break the recorder
                self._on_warning(
                    "etw_failed", f"ETW events stopped: {self.failed}; the recording goes on"
                )

    # Records → payloads -----------------------------------------------------------------

    def _text(self, value: Any, max_units: int) -> bytes:
        if value is None:
            return b""
        if not isinstance(value, str):
            value = str(value)
        if "\x00" in value:
            value = value.replace("\x00", "")
        data: bytes = self._tl.utf16le(value, max_units)
        return data

    def _session_start(self, r: Record) -> bytes:
        tl = self._tl
        return b"".join(
            (
                tl.pack_str16(self._text(r.get("session_type") or "interactive", LABEL_MAX_UNITS)),
                tl.pack_str16(
                    self._text(r.get("correlation_id") or self._session_id, LABEL_MAX_UNITS)
                ),
                filetime_of(r.get("started_at")).to_bytes(8, "little"),
            )
        )

    def _terminal_capture(self, r: Record) -> bytes:
        data: bytes = self._tl.encode_terminal_capture(
            self._text(r.get("command"), COMMAND_MAX_UNITS),
            self._text(r.get("output"), OUTPUT_MAX_UNITS),
            round_clamp(r.get("duration_ms"), UINT32_MAX),
            self._activity,
            exit_code_int32(r.get("exit_code")),
            self._text(r.get("cwd"), CWD_MAX_UNITS),
        )
        return data

    def _session_end(self, r: Record) -> bytes:
        count = r.get("command_count")
        return b"".join(
            (
                self._activity,
                round_clamp(count if count is not None else self._commands, UINT32_MAX).to_bytes(
                    4, "little"
                ),
                round_clamp(r.get("duration_ms"), UINT64_MAX).to_bytes(8, "little"),
            )
        )
