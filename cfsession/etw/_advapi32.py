"""ctypes bindings for the ETW provider API in advapi32.dll. Windows only.

Importing this module anywhere else raises ImportError; :func:`cfsession.etw.open_emitter`
imports it only on Windows. The structures use fixed-width ctypes types only
(FORMAT.md §7: ``c_ulong`` and ``c_wchar`` differ between Linux and Windows), each
function's ``argtypes``/``restype`` is declared once per loaded DLL, and every buffer a
call points into is referenced until the call has returned (FORMAT.md §9.15). There is no
enable callback: :meth:`Advapi32Emitter.is_enabled` asks ``EventProviderEnabled``.
"""

from __future__ import annotations

import sys

if sys.platform != "win32":
    raise ImportError("cfsession.etw._advapi32 needs Windows (advapi32.dll)")

import ctypes
import threading
from ctypes import POINTER, Structure, c_int, c_uint8, c_uint16, c_uint32, c_uint64, c_void_p
from typing import Any

from cfsession.etw import EMITTED_KEYWORDS, LEVEL, PROVIDER_NAME, STATUS_ENABLED, STATUS_NO_LISTENER
from cfsession.etw._tracelogging import (
    DATA_TYPE_EVENT_METADATA,
    DATA_TYPE_PAYLOAD,
    DATA_TYPE_PROVIDER_METADATA,
    EventType,
    guid_from_name,
    provider_traits,
)

EVENT_PROVIDER_SET_TRAITS = 2  # EVENT_INFO_CLASS
ERROR_NOT_ENOUGH_MEMORY = 8  # the session's buffers are full: this event is lost, ETW is fine


class GUID(Structure):
    _fields_ = [
        ("Data1", c_uint32),
        ("Data2", c_uint16),
        ("Data3", c_uint16),
        ("Data4", c_uint8 * 8),
    ]


class EVENT_DESCRIPTOR(Structure):  # noqa: N801 - the Windows SDK name
    _fields_ = [
        ("Id", c_uint16),
        ("Version", c_uint8),
        ("Channel", c_uint8),
        ("Level", c_uint8),
        ("Opcode", c_uint8),
        ("Task", c_uint16),
        ("Keyword", c_uint64),
    ]


class EVENT_DATA_DESCRIPTOR(Structure):  # noqa: N801 - the Windows SDK name
    _fields_ = [("Ptr", c_uint64), ("Size", c_uint32), ("Reserved", c_uint32)]


DataDescriptors = EVENT_DATA_DESCRIPTOR * 3


class Advapi32:
    """The five ETW functions of one loaded DLL, with their signatures declared."""

    def __init__(self, dll: Any) -> None:
        self.EventRegister = _bind(
            dll, "EventRegister", [POINTER(GUID), c_void_p, c_void_p, POINTER(c_uint64)], c_uint32
        )
        self.EventUnregister = _bind(dll, "EventUnregister", [c_uint64], c_uint32)
        try:  # Windows 8+ (Windows 7 only with updates); Microsoft ignores its absence too
            self.EventSetInformation: Any = _bind(
                dll, "EventSetInformation", [c_uint64, c_int, c_void_p, c_uint32], c_uint32
            )
        except AttributeError:
            self.EventSetInformation = None
        self.EventProviderEnabled = _bind(
            dll, "EventProviderEnabled", [c_uint64, c_uint8, c_uint64], c_uint8
        )
        self.EventWriteTransfer = _bind(
            dll,
            "EventWriteTransfer",
            [
                c_uint64,
                POINTER(EVENT_DESCRIPTOR),
                POINTER(GUID),
                POINTER(GUID),
                c_uint32,
                POINTER(EVENT_DATA_DESCRIPTOR),
            ],
            c_uint32,
        )


def _bind(dll: Any, name: str, argtypes: list[Any], restype: Any) -> Any:
    fn = getattr(dll, name)
    fn.argtypes = argtypes
    fn.restype = restype
    return fn


_default: Advapi32 | None = None
_default_lock = threading.Lock()


def load() -> Advapi32:
    """advapi32.dll, bound once per process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Advapi32(ctypes.WinDLL("advapi32", use_last_error=True))
        return _default


def _buffer(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, len(data))


class Advapi32Emitter:
    """The registered provider: one ``REGHANDLE``, writes serialised, unregistered on close."""

    def __init__(self, dll: Any = None, *, name: str = PROVIDER_NAME) -> None:
        self._api = load() if dll is None else Advapi32(dll)
        self._lock = threading.Lock()
        self.dropped = 0  # events ETW refused because a session's buffers were full
        provider_id = GUID.from_buffer_copy(guid_from_name(name).bytes_le)
        handle = c_uint64(0)
        rc = self._api.EventRegister(
            ctypes.pointer(provider_id), None, None, ctypes.pointer(handle)
        )
        if rc != 0:
            raise OSError(rc, f"EventRegister failed (error {rc})")
        self._handle = int(handle.value)
        # Lives as long as the emitter: ETW keeps no copy of the traits, every write points at them.
        self._traits = _buffer(provider_traits(name))
        if self._api.EventSetInformation is not None:
            # Microsoft ignores a failure here (FORMAT.md §1.3); the traits also go with each event.
            self._api.EventSetInformation(
                self._handle, EVENT_PROVIDER_SET_TRAITS, self._traits, len(self._traits)
            )
        self._per_event: dict[EventType, tuple[EVENT_DESCRIPTOR, ctypes.Array[ctypes.c_char]]] = {}
        self.status = (
            STATUS_ENABLED if self.is_enabled(LEVEL, EMITTED_KEYWORDS) else STATUS_NO_LISTENER
        )

    def is_enabled(self, level: int, keyword: int) -> bool:
        handle = self._handle
        return bool(handle) and bool(self._api.EventProviderEnabled(handle, level, keyword))

    def _event(self, event: EventType) -> tuple[EVENT_DESCRIPTOR, ctypes.Array[ctypes.c_char]]:
        cached = self._per_event.get(event)
        if cached is None:
            cached = (EVENT_DESCRIPTOR.from_buffer_copy(event.descriptor), _buffer(event.metadata))
            self._per_event[event] = cached
        return cached

    def write(
        self, event: EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        """One ``EventWriteTransfer`` with the three descriptors typed 2/1/0 (FORMAT.md §1)."""
        descriptor, metadata = self._event(event)
        data = _buffer(payload)
        dd = DataDescriptors()  # per call: concurrent writes never share an array
        for d, buf, kind in (
            (dd[0], self._traits, DATA_TYPE_PROVIDER_METADATA),
            (dd[1], metadata, DATA_TYPE_EVENT_METADATA),
            (dd[2], data, DATA_TYPE_PAYLOAD),
        ):
            d.Ptr = ctypes.addressof(buf)
            d.Size = len(buf)
            d.Reserved = kind
        activity = ctypes.pointer(GUID.from_buffer_copy(activity_id))
        related = None if related_id is None else ctypes.pointer(GUID.from_buffer_copy(related_id))
        with self._lock:
            if not self._handle:
                return
            rc = self._api.EventWriteTransfer(
                self._handle, ctypes.pointer(descriptor), activity, related, 3, dd
            )
        # `data`, `metadata`, `dd` and the GUIDs are still referenced here, after the call.
        if rc == 0:
            return
        if rc == ERROR_NOT_ENOUGH_MEMORY:
            self.dropped += 1
            return
        raise OSError(rc, f"EventWriteTransfer failed (error {rc})")

    def close(self) -> None:
        with self._lock:
            handle, self._handle = self._handle, 0
            if handle:
                self._api.EventUnregister(handle)
