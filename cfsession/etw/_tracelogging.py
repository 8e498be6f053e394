# Over ~400 lines: one section per FORMAT.md section of a byte format tested vector by vector; splitting it would split the spec.
"""TraceLogging-over-ETW encoding: pure byte building, no ctypes, importable on every OS.

Everything here follows ``shared/etw-vectors/FORMAT.md`` and is tested byte for byte
against the vectors Microsoft's own encoders produced (Rust ``tracelogging_dynamic``,
``TraceLoggingDynamic.h``, Python ``traceloggingdynamic``). The section numbers in the
comments refer to that file.
"""

from __future__ import annotations

import hashlib
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache
from typing import Any

from cfsession.etw import KEYWORD_SESSION, KEYWORD_TERMINAL

# §2: the EventSource name-hash namespace 482C2DB2-C390-47C8-87F8-1A15BFC130FB in RFC order.
_NAME_NAMESPACE = bytes.fromhex("482c2db2c39047c887f81a15bfc130fb")

CHANNEL_TRACELOGGING = 11  # §9.12: any other channel may not decode on Windows ≤ 8.1
LEVEL_INFORMATIONAL = 4
OPCODE_INFO, OPCODE_START, OPCODE_STOP = 0, 1, 2

# EVENT_DATA_DESCRIPTOR.Reserved (the descriptor "Type"), §1 and §9.11.
DATA_TYPE_PAYLOAD, DATA_TYPE_EVENT_METADATA, DATA_TYPE_PROVIDER_METADATA = 0, 1, 2

COUNTED_MAX_UNITS = 32767  # §9.4: 65535-byte cap; Microsoft's Rust encoder cuts to 32767 units
FILETIME_UNIX_EPOCH = 116444736000000000  # §5: 1970-01-01 in 100-ns ticks since 1601-01-01


class InType(IntEnum):
    """Field encodings (§5); bits 0–4 of the metadata ``InType`` byte."""

    CSTR16 = 1  # UTF-16LE, nul-terminated
    CSTR8 = 2  # ANSI, nul-terminated
    INT8 = 3
    UINT8 = 4
    INT16 = 5
    UINT16 = 6
    INT32 = 7
    UINT32 = 8
    INT64 = 9
    UINT64 = 10
    FLOAT = 11
    DOUBLE = 12
    BOOL32 = 13
    BINARY = 14  # u16 length, then bytes
    GUID = 15
    FILETIME = 17
    SYSTEMTIME = 18
    SID = 19
    HEXINT32 = 20
    HEXINT64 = 21
    STR16 = 22  # counted UTF-16LE: u16 byte count, then text (the recommended string type)
    STR8 = 23  # counted ANSI
    STRUCT = 24
    BINARYC = 25  # counted binary


TYPE_MASK = 0x1F
ARRAY_MASK = 0x60
CONSTANT_COUNT = 0x20
VARIABLE_COUNT = 0x40
CUSTOM = 0x60
CHAIN = 0x80  # on InType: an OutType byte follows; on OutType: a field tag follows

# Fixed-size scalars: struct format per InType (little-endian, no padding, §5).
SCALAR_FORMATS: dict[int, str] = {
    InType.INT8: "<b",
    InType.UINT8: "<B",
    InType.INT16: "<h",
    InType.UINT16: "<H",
    InType.INT32: "<i",
    InType.UINT32: "<I",
    InType.INT64: "<q",
    InType.UINT64: "<Q",
    InType.FLOAT: "<f",
    InType.DOUBLE: "<d",
    InType.BOOL32: "<i",
    InType.HEXINT32: "<I",
    InType.HEXINT64: "<Q",
    InType.FILETIME: "<Q",
}


# ---------------------------------------------------------------------------------------
# Provider identity (§2, §3)


def name_hash_input(name: str) -> bytes:
    """The bytes §2 hashes: namespace + upper-cased name in UTF-16BE (no terminator)."""
    return _NAME_NAMESPACE + name.upper().encode("utf-16-be")


def guid_from_name(name: str) -> uuid.UUID:
    """The provider GUID TraceLogging derives from a provider name (§2; not ``uuid5``)."""
    b = bytearray(hashlib.sha1(name_hash_input(name)).digest()[:16])
    b[7] = (b[7] & 0x0F) | 0x50  # version 5 nibble only; the RFC variant bits stay as hashed
    return uuid.UUID(bytes_le=bytes(b))


def provider_traits(name: str, group: uuid.UUID | None = None) -> bytes:
    """The provider traits blob (§3): u16 size (counting itself), name, NUL, traits."""
    body = name.encode("utf-8") + b"\x00"
    if group is not None:
        body += struct.pack("<HB", 19, 1) + group.bytes_le  # provider-group trait, §9.1
    return struct.pack("<H", len(body) + 2) + body


def activity_id(guid: uuid.UUID | str) -> bytes:
    """An activity or related-activity id as passed to ETW: the GUID's memory image (§9.9)."""
    return (guid if isinstance(guid, uuid.UUID) else uuid.UUID(guid)).bytes_le


def event_descriptor(
    *,
    keyword: int,
    level: int = LEVEL_INFORMATIONAL,
    opcode: int = OPCODE_INFO,
    channel: int = CHANNEL_TRACELOGGING,
    id: int = 0,  # noqa: A002 - the EVENT_DESCRIPTOR field name
    version: int = 0,
    task: int = 0,
) -> bytes:
    """The 16-byte EVENT_DESCRIPTOR (§7): ``<HBBBBHQ``."""
    return struct.pack("<HBBBBHQ", id, version, channel, level, opcode, task, keyword)


# ---------------------------------------------------------------------------------------
# Event metadata (§4)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an event schema."""

    name: str
    in_type: int  # an InType, possibly with array flags (CONSTANT_COUNT, VARIABLE_COUNT)
    out_type: int = 0
    tag: int = 0  # 28-bit field tag; 0 = none


def _event_tag_bytes(tag: int) -> bytes:
    # 1, 2 or 4 bytes, as the Rust dynamic encoder and the Python package write them (§9.16).
    if tag & 0x0FFFFFFF != tag:
        raise ValueError(f"event tag {tag:#x} does not fit in 28 bits")
    if tag & 0x0FE00000 == tag:
        return bytes([tag >> 21])
    if tag & 0x0FFFC000 == tag:
        return bytes([(tag >> 21) | 0x80, (tag >> 14) & 0x7F])
    return bytes(
        [(tag >> 21) | 0x80, ((tag >> 14) & 0x7F) | 0x80, ((tag >> 7) & 0x7F) | 0x80, tag & 0x7F]
    )


def _field_metadata(f: Field) -> bytes:
    name = f.name.encode("utf-8") + b"\x00"
    if f.tag:  # field tags are always 4 bytes in the dynamic encoders (§9.16)
        if f.tag & 0x0FFFFFFF != f.tag:
            raise ValueError(f"field tag {f.tag:#x} does not fit in 28 bits")
        t = f.tag
        return name + bytes(
            [
                CHAIN | f.in_type,
                CHAIN | f.out_type,
                CHAIN | ((t >> 21) & 0x7F),
                CHAIN | ((t >> 14) & 0x7F),
                CHAIN | ((t >> 7) & 0x7F),
                t & 0x7F,
            ]
        )
    if f.out_type:
        return name + bytes([CHAIN | f.in_type, f.out_type])
    return name + bytes([f.in_type])


def event_metadata(name: str, fields: tuple[Field, ...], tag: int = 0) -> bytes:
    """The event metadata blob (§4): u16 size (counting itself), tag, name, NUL, fields.

    Cached: an event type's metadata never changes, so it is built once.
    """
    return _event_metadata(name, tuple(fields), tag)


@lru_cache(maxsize=256)
def _event_metadata(name: str, fields: tuple[Field, ...], tag: int) -> bytes:
    body = _event_tag_bytes(tag) + name.encode("utf-8") + b"\x00"
    body += b"".join(_field_metadata(f) for f in fields)
    if len(body) + 2 > 0xFFFF:
        raise ValueError(f"metadata of event {name!r} exceeds 64 KB")
    return struct.pack("<H", len(body) + 2) + body


@dataclass(frozen=True)
class EventType:
    """An event's schema and descriptor; its metadata and descriptor bytes are built once."""

    name: str
    fields: tuple[Field, ...]
    keyword: int
    level: int = LEVEL_INFORMATIONAL
    opcode: int = OPCODE_INFO
    channel: int = CHANNEL_TRACELOGGING
    id: int = 0
    version: int = 0
    task: int = 0
    tag: int = 0
    metadata: bytes = field(init=False, repr=False, compare=False)
    descriptor: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", event_metadata(self.name, self.fields, self.tag))
        object.__setattr__(
            self,
            "descriptor",
            event_descriptor(
                keyword=self.keyword,
                level=self.level,
                opcode=self.opcode,
                channel=self.channel,
                id=self.id,
                version=self.version,
                task=self.task,
            ),
        )

    def descriptor_fields(self) -> dict[str, int]:
        """The descriptor as the capture seam writes it (DESIGN.md §5)."""
        return {
            "id": self.id,
            "version": self.version,
            "channel": self.channel,
            "level": self.level,
            "opcode": self.opcode,
            "task": self.task,
            "keyword": self.keyword,
        }

    def encode(self, values: dict[str, Any] | list[Any] | tuple[Any, ...]) -> bytes:
        """The payload for ``values`` (by field name, or in field order)."""
        if isinstance(values, dict):
            values = [values[f.name] for f in self.fields]
        if len(values) != len(self.fields):
            raise ValueError(f"{self.name}: {len(self.fields)} fields, {len(values)} values")
        return b"".join(pack_value(f.in_type, v) for f, v in zip(self.fields, values, strict=True))


# ---------------------------------------------------------------------------------------
# Payload (§5)

# Lone surrogates (from surrogateescape'd text) cannot be UTF-16-encoded (§9.7).
_LONE_SURROGATE = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)


def utf16le(text: str, max_units: int | None = None) -> bytes:
    """``text`` as UTF-16LE, at most ``max_units`` code units, never splitting a surrogate pair.

    Lone surrogates become U+FFFD. Only the first ``max_units + 1`` code points are
    looked at, so capping a huge string costs no more than capping a short one.
    """
    if max_units is not None and len(text) > max_units:
        text = text[: max_units + 1]  # every code point is ≥ 1 unit
    try:
        data = text.encode("utf-16-le")
    except UnicodeEncodeError:
        # A pair stored as two surrogate code points is valid UTF-16 and survives.
        data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-16-le", "surrogatepass")
    if max_units is not None and len(data) > 2 * max_units:
        data = data[: 2 * max_units]
        if 0xD8 <= data[-1] <= 0xDB:  # the last unit is a high surrogate: drop the half pair
            data = data[:-2]
    return data


def pack_str16(text: str | bytes) -> bytes:
    """A counted UTF-16 string (InType 22): u16 byte count, then UTF-16LE (§5, §9.4).

    ``bytes`` are taken as already-encoded UTF-16LE.
    """
    data = text if isinstance(text, bytes) else utf16le(text, COUNTED_MAX_UNITS)
    if len(data) > 2 * COUNTED_MAX_UNITS:
        data = data[: 2 * COUNTED_MAX_UNITS]
    return struct.pack("<H", len(data)) + data


def pack_cstr16(text: str) -> bytes:
    """A nul-terminated UTF-16 string (InType 1); text after a U+0000 is dropped (§9.8)."""
    return utf16le(text.split("\x00", 1)[0]) + b"\x00\x00"


def pack_guid(value: uuid.UUID | str | bytes) -> bytes:
    """A GUID field: 16 bytes in ``bytes_le`` order (§9.9); bytes are taken as-is."""
    if isinstance(value, bytes):
        if len(value) != 16:
            raise ValueError("a GUID is 16 bytes")
        return value
    return activity_id(value)


def _pack_counted_bytes(value: bytes) -> bytes:
    value = value[:0xFFFF]
    return struct.pack("<H", len(value)) + value


def _packer(in_type: int) -> Callable[[Any], bytes]:
    base = in_type & TYPE_MASK
    fmt = SCALAR_FORMATS.get(base)
    if fmt is not None:
        s = struct.Struct(fmt)
        return s.pack
    simple: dict[int, Callable[[Any], bytes]] = {
        InType.STR16: pack_str16,
        InType.CSTR16: pack_cstr16,
        InType.GUID: pack_guid,
        InType.CSTR8: lambda v: (
            (v if isinstance(v, bytes) else v.encode("utf-8")).split(b"\x00", 1)[0] + b"\x00"
        ),
        InType.STR8: lambda v: _pack_counted_bytes(
            v if isinstance(v, bytes) else v.encode("utf-8")
        ),
        InType.BINARY: _pack_counted_bytes,
        InType.BINARYC: _pack_counted_bytes,
        InType.SYSTEMTIME: lambda v: struct.pack("<8H", *v),
        InType.SID: bytes,
    }
    try:
        return simple[base]
    except KeyError:
        raise ValueError(f"cannot encode InType {in_type}") from None


def pack_value(in_type: int, value: Any) -> bytes:
    """One field's payload bytes; a variable-count array is a u16 count, then the elements."""
    pack = _packer(in_type)
    kind = in_type & ARRAY_MASK
    if kind == VARIABLE_COUNT:
        items = list(value)
        return struct.pack("<H", len(items)) + b"".join(pack(v) for v in items)
    if kind == CONSTANT_COUNT:
        return b"".join(pack(v) for v in value)
    if kind == CUSTOM:
        raise ValueError("custom-schema fields are not supported")
    return pack(value)


def filetime_from_unix_ns(ns: int) -> int:
    """FILETIME ticks for a Unix time in nanoseconds (integers only, §9.10)."""
    return ns // 100 + FILETIME_UNIX_EPOCH


# ---------------------------------------------------------------------------------------
# The cfsession events (FORMAT.md §6, DESIGN.md §5)

SESSION_START = EventType(
    "SessionStart",
    (
        Field("SessionType", InType.STR16),
        Field("CorrelationId", InType.STR16),
        Field("StartTime", InType.FILETIME),
    ),
    keyword=KEYWORD_SESSION,
)
TERMINAL_CAPTURE = EventType(
    "TerminalCapture",
    (
        Field("Command", InType.STR16),
        Field("Output", InType.STR16),
        Field("DurationMs", InType.UINT32),
        Field("SessionId", InType.GUID),
        Field("ExitCode", InType.INT32),
        Field("Cwd", InType.STR16),
    ),
    keyword=KEYWORD_TERMINAL,
)
SESSION_END = EventType(
    "SessionEnd",
    (
        Field("SessionId", InType.GUID),
        Field("CommandCount", InType.UINT32),
        Field("DurationMs", InType.UINT64),
    ),
    keyword=KEYWORD_SESSION,
)
CFSESSION_EVENTS = (SESSION_START, TERMINAL_CAPTURE, SESSION_END)

_U16 = struct.Struct("<H").pack
_TC_FIXED = struct.Struct("<I16si")  # DurationMs, SessionId, ExitCode


def encode_terminal_capture(
    command: bytes, output: bytes, duration_ms: int, session_id: bytes, exit_code: int, cwd: bytes
) -> bytes:
    """The TerminalCapture payload from already-capped UTF-16LE strings (the hot path).

    Same bytes as ``TERMINAL_CAPTURE.encode(...)``, without the per-field dispatch.
    """
    return b"".join(
        (
            _U16(len(command)),
            command,
            _U16(len(output)),
            output,
            _TC_FIXED.pack(duration_ms, session_id, exit_code),
            _U16(len(cwd)),
            cwd,
        )
    )
