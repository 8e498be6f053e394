"""The ctypes layer against a fake advapi32: what it passes to ETW, byte for byte.

``_advapi32`` refuses to import off Windows, so the fixture imports it with
``sys.platform`` reading ``win32`` for the duration of the import only; nothing in it
loads a real DLL unless no fake is given.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
import threading
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from cfsession import etw
from cfsession.etw import _tracelogging as tl
from cfsession.etw.decode import decode_payload, parse_metadata
from cfsession.sinks.etw import EtwSink

SID = uuid.UUID("6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
PARENT = uuid.UUID("d0e1f2a3-b4c5-4d6e-8f70-8192a3b4c5d6")
HANDLE = 0x1122334455667788


@pytest.fixture
def adv(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    name = "cfsession.etw._advapi32"
    saved = sys.modules.pop(name, None)
    with monkeypatch.context() as m:
        m.setattr(sys, "platform", "win32")
        module = importlib.import_module(name)
    yield module
    sys.modules.pop(name, None)
    if saved is not None:
        sys.modules[name] = saved


class FakeFunction:
    """A DLL export: records calls, converts each argument as ctypes would, counts declarations."""

    impl: Any
    calls: list[tuple[Any, ...]]
    declarations: int
    argtypes: Any
    restype: Any

    def __init__(self, impl: Any) -> None:
        object.__setattr__(self, "impl", impl)
        object.__setattr__(self, "calls", [])
        object.__setattr__(self, "declarations", 0)
        object.__setattr__(self, "argtypes", None)
        object.__setattr__(self, "restype", None)

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("argtypes", "restype"):
            object.__setattr__(self, "declarations", self.declarations + 1)
        object.__setattr__(self, key, value)

    def __call__(self, *args: Any) -> Any:
        assert self.argtypes is not None and len(args) == len(self.argtypes)
        for argtype, arg in zip(self.argtypes, args, strict=True):
            if arg is not None:
                argtype.from_param(arg)  # raises TypeError where real ctypes would
        self.calls.append(args)
        return self.impl(*args)


class FakeAdvapi32:
    """A ``WinDLL``-like advapi32 that copies out what each call points at, during the call."""

    def __init__(
        self,
        listening: bool = True,
        register_rc: int = 0,
        write_rc: int = 0,
        set_information: bool = True,
    ) -> None:
        self.listening = listening
        self.register_rc = register_rc
        self.write_rc = write_rc
        self.writes: list[dict[str, Any]] = []
        self.traits_set: list[tuple[int, int, bytes, int]] = []
        self.unregistered: list[int] = []
        self.EventRegister = FakeFunction(self._register)
        self.EventUnregister = FakeFunction(self._unregister)
        self.EventProviderEnabled = FakeFunction(lambda h, level, kw: int(self.listening))
        self.EventWriteTransfer = FakeFunction(self._write)
        if set_information:
            self.EventSetInformation = FakeFunction(self._set_information)

    def _register(self, guid: Any, callback: Any, context: Any, handle: Any) -> int:
        assert callback is None and context is None  # no enable callback (FORMAT.md §9.15)
        self.provider_id = bytes(guid.contents)
        handle.contents.value = HANDLE
        return self.register_rc

    def _set_information(self, handle: int, info_class: int, data: Any, length: int) -> int:
        self.traits_set.append(
            (handle, info_class, ctypes.string_at(ctypes.addressof(data), length), length)
        )
        return 0

    def _unregister(self, handle: int) -> int:
        self.unregistered.append(handle)
        return 0

    def _write(
        self, handle: int, descriptor: Any, activity: Any, related: Any, count: int, dd: Any
    ) -> int:
        self.writes.append(
            {
                "handle": handle,
                "descriptor": bytes(descriptor.contents),
                "activity": bytes(activity.contents),
                "related": None if related is None else bytes(related.contents),
                "count": count,
                "dd": [(d.Size, d.Reserved, ctypes.string_at(d.Ptr, d.Size)) for d in dd[:count]],
                "dd_raw": [bytes(d)[8:] for d in dd[:count]],
            }
        )
        return self.write_rc


def payload(cmd: str = "ls -la") -> bytes:
    return tl.TERMINAL_CAPTURE.encode([cmd, "total 0\r\n", 12, SID, 0, "/home/user"])


# --- module and structures ----------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="the guard is for other platforms")
def test_import_is_refused_off_windows() -> None:
    sys.modules.pop("cfsession.etw._advapi32", None)
    with pytest.raises(ImportError, match="needs Windows"):
        importlib.import_module("cfsession.etw._advapi32")


def test_structure_layouts(adv: ModuleType) -> None:
    # FORMAT.md §7: identical on Linux and Windows because only fixed-width types are used.
    assert (ctypes.sizeof(adv.GUID), ctypes.alignment(adv.GUID)) == (16, 4)
    assert (ctypes.sizeof(adv.EVENT_DESCRIPTOR), ctypes.alignment(adv.EVENT_DESCRIPTOR)) == (16, 8)
    assert [
        (n, getattr(adv.EVENT_DESCRIPTOR, n).offset) for n, _ in adv.EVENT_DESCRIPTOR._fields_
    ] == [
        ("Id", 0),
        ("Version", 2),
        ("Channel", 3),
        ("Level", 4),
        ("Opcode", 5),
        ("Task", 6),
        ("Keyword", 8),
    ]
    assert (
        ctypes.sizeof(adv.EVENT_DATA_DESCRIPTOR),
        ctypes.alignment(adv.EVENT_DATA_DESCRIPTOR),
    ) == (16, 8)
    assert [
        (n, getattr(adv.EVENT_DATA_DESCRIPTOR, n).offset)
        for n, _ in adv.EVENT_DATA_DESCRIPTOR._fields_
    ] == [("Ptr", 0), ("Size", 8), ("Reserved", 12)]
    assert bytes(adv.GUID.from_buffer_copy(SID.bytes_le)) == SID.bytes_le
    assert (
        bytes(adv.EVENT_DESCRIPTOR.from_buffer_copy(tl.TERMINAL_CAPTURE.descriptor))
        == tl.TERMINAL_CAPTURE.descriptor
    )


def test_signatures_declared_once(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    for _ in range(5):
        e.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)
        e.is_enabled(4, 4)
    e.close()
    for name in (
        "EventRegister",
        "EventUnregister",
        "EventSetInformation",
        "EventProviderEnabled",
        "EventWriteTransfer",
    ):
        assert getattr(dll, name).declarations == 2, name  # argtypes + restype, once
    w = dll.EventWriteTransfer
    assert w.argtypes[0] is ctypes.c_uint64 and w.restype is ctypes.c_uint32
    assert (
        w.argtypes[1]._type_ is adv.EVENT_DESCRIPTOR
        and w.argtypes[5]._type_ is adv.EVENT_DATA_DESCRIPTOR
    )
    assert dll.EventProviderEnabled.argtypes == [ctypes.c_uint64, ctypes.c_uint8, ctypes.c_uint64]
    assert dll.EventProviderEnabled.restype is ctypes.c_uint8


# --- the calls ----------------------------------------------------------------------------


def test_register_and_traits(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    assert (
        dll.provider_id
        == tl.guid_from_name(etw.PROVIDER_NAME).bytes_le
        == uuid.UUID(etw.PROVIDER_GUID).bytes_le
    )
    traits = tl.provider_traits(etw.PROVIDER_NAME)
    assert dll.traits_set == [(HANDLE, 2, traits, 37)]
    assert len(dll.EventRegister.calls) == 1
    assert e.status == "enabled"
    e.close()


def test_write_passes_three_descriptors_typed_2_1_0(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    data = payload()
    e.write(tl.TERMINAL_CAPTURE, data, SID.bytes_le, None)
    [w] = dll.writes
    assert w["handle"] == HANDLE
    assert w["count"] == 3
    traits = tl.provider_traits(etw.PROVIDER_NAME)
    assert w["dd"] == [
        (len(traits), 2, traits),
        (len(tl.TERMINAL_CAPTURE.metadata), 1, tl.TERMINAL_CAPTURE.metadata),
        (len(data), 0, data),
    ]
    assert [raw.hex() for raw in w["dd_raw"]] == [
        "2500000002000000",
        "4a00000001000000",
        f"{len(data):02x}00000000000000",
    ]
    assert w["descriptor"].hex() == "0000000b040000000400000000000000"
    assert w["activity"] == SID.bytes_le
    assert w["related"] is None
    e.close()


def test_related_activity_id_and_empty_payload(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    e.write(tl.SESSION_START, b"", SID.bytes_le, PARENT.bytes_le)
    [w] = dll.writes
    assert w["related"] == PARENT.bytes_le
    assert w["dd"][2] == (
        0,
        0,
        b"",
    )  # the Rust encoder's form of an empty payload (FORMAT.md §9.19)
    assert w["descriptor"].hex() == "0000000b040000000100000000000000"


def test_large_payload_is_passed_whole(adv: ModuleType) -> None:
    # traceloggingdynamic 1.0.1 corrupted anything past 512 bytes (FORMAT.md §10).
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    data = payload("x" * 20_000)
    e.write(tl.TERMINAL_CAPTURE, data, SID.bytes_le, None)
    assert dll.writes[0]["dd"][2] == (len(data), 0, data)


def test_unregister_once(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    e.close()
    e.close()
    e.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)
    assert dll.unregistered == [HANDLE]
    assert dll.writes == []
    assert not e.is_enabled(4, 4)


def test_no_listener_status_and_early_out(adv: ModuleType) -> None:
    dll = FakeAdvapi32(listening=False)
    e = adv.Advapi32Emitter(dll)
    assert e.status == "no-listener"
    assert dll.EventProviderEnabled.calls == [(HANDLE, 4, etw.EMITTED_KEYWORDS)]
    assert not e.is_enabled(4, 4)


def test_register_failure_is_unavailable(adv: ModuleType) -> None:
    with pytest.raises(OSError, match="EventRegister failed"):
        adv.Advapi32Emitter(FakeAdvapi32(register_rc=5))
    emitter = etw.open_emitter(True, "win32", env={}, dll=FakeAdvapi32(register_rc=5))
    assert emitter.status == "unavailable: EventRegister failed (error 5)"


def test_missing_set_information_is_tolerated(adv: ModuleType) -> None:
    dll = FakeAdvapi32(set_information=False)
    e = adv.Advapi32Emitter(dll)
    e.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)
    assert len(dll.writes) == 1


def test_write_errors(adv: ModuleType) -> None:
    full = adv.Advapi32Emitter(FakeAdvapi32(write_rc=8))  # session buffers full: one event lost
    full.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)
    assert full.dropped == 1
    bad = adv.Advapi32Emitter(FakeAdvapi32(write_rc=534))
    with pytest.raises(OSError, match="error 534"):
        bad.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)


def test_concurrent_writes_each_get_their_own_descriptors(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    e = adv.Advapi32Emitter(dll)
    payloads = {n: payload(f"cmd {n} " + "y" * n) for n in range(64)}

    def worker(ns: range) -> None:
        for n in ns:
            e.write(tl.TERMINAL_CAPTURE, payloads[n], SID.bytes_le, None)

    threads = [threading.Thread(target=worker, args=(range(i, 64, 8),)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(w["dd"][2][2] for w in dll.writes) == sorted(payloads.values())


# --- through the facade and the sink ------------------------------------------------------


def test_open_emitter_on_windows_with_a_fake_dll(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    emitter = etw.open_emitter(True, "win32", env={}, dll=dll)
    assert emitter.status == "enabled"
    emitter.close()
    assert dll.unregistered == [HANDLE]


def test_capture_seam_tees_to_etw_on_windows(adv: ModuleType, tmp_path: Any) -> None:
    dll = FakeAdvapi32()
    path = tmp_path / "cap.jsonl"
    emitter = etw.open_emitter(True, "win32", env={etw.CAPTURE_ENV: str(path)}, dll=dll)
    assert emitter.status == "enabled (capture), etw enabled"
    emitter.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)
    emitter.close()
    assert len(path.read_text().splitlines()) == 1
    assert dll.writes[0]["dd"][2][2] == payload()
    assert dll.unregistered == [HANDLE]


def test_sink_over_the_ctypes_emitter(adv: ModuleType) -> None:
    dll = FakeAdvapi32()
    s = EtwSink(
        session_id=str(SID),
        parent_session_id=str(PARENT),
        enabled=True,
        emitter=adv.Advapi32Emitter(dll),
    )
    assert s.status == "enabled"
    s.write(
        {
            "event_type": "session_start",
            "started_at": "2025-01-02T03:04:05.6789012Z",
            "correlation_id": "cf-7d3a9e42",
        }
    )
    s.write(
        {
            "event_type": "terminal_capture",
            "command": "ls -la",
            "output": "total 0\r\n",
            "duration_ms": 12,
            "exit_code": 0,
            "cwd": "/home/user",
        }
    )
    s.write({"event_type": "session_end", "command_count": 1, "duration_ms": 3723004})
    s.close()
    assert len(dll.EventProviderEnabled.calls) == 1 + 3  # status at open, then once per write
    start, cap, end = dll.writes
    assert [w["related"] for w in dll.writes] == [PARENT.bytes_le, None, None]
    assert {w["activity"] for w in dll.writes} == {SID.bytes_le}
    assert cap["dd"][2][2] == payload()
    values = decode_payload(parse_metadata(start["dd"][1][2]), start["dd"][2][2])
    assert [v.value for v in values] == ["interactive", "cf-7d3a9e42", 133802606456789012]
    assert end["descriptor"] == tl.SESSION_END.descriptor
    assert dll.unregistered == [HANDLE]


# --- real Windows ---------------------------------------------------------------------------


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="needs real Windows (advapi32.dll)")
def test_real_advapi32_register_write_unregister() -> None:
    from cfsession.etw._advapi32 import Advapi32Emitter

    e: Any = Advapi32Emitter()
    assert e.status in ("enabled", "no-listener")
    e.write(tl.TERMINAL_CAPTURE, payload(), SID.bytes_le, None)  # 0 whether or not anyone listens
    e.close()


@pytest.mark.windows
@pytest.mark.skipif(sys.platform != "win32", reason="needs real Windows (advapi32.dll)")
def test_real_sink_status_on_windows() -> None:
    s = EtwSink(session_id=str(SID), parent_session_id=None, enabled=True, platform="win32")
    assert s.status in ("enabled", "no-listener")
    s.write(
        {
            "event_type": "terminal_capture",
            "command": "x",
            "output": "y",
            "duration_ms": 1,
            "exit_code": 0,
            "cwd": "C:\\",
        }
    )
    s.close()
    assert s.failed is None
