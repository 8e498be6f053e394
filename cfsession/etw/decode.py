"""Decode TraceLogging blobs back to named, typed values (FORMAT.md §3–§5).

The inverse of :mod:`cfsession.etw._tracelogging`, and more general than it: event and
field tags in every length, OutType bytes, fixed- and variable-count arrays and structs,
every InType of §5. Used by the tests and by ``cfsession etw decode``.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cfsession.etw._tracelogging import (
    ARRAY_MASK,
    CHAIN,
    CONSTANT_COUNT,
    CUSTOM,
    SCALAR_FORMATS,
    TYPE_MASK,
    VARIABLE_COUNT,
    InType,
)

OUT_XML, OUT_JSON, OUT_UTF8 = 11, 12, 35
_FILETIME_ORIGIN = datetime(1601, 1, 1, tzinfo=timezone.utc)
_SCALARS = {t: struct.Struct(f) for t, f in SCALAR_FORMATS.items()}


class DecodeError(ValueError):
    """The bytes do not follow the TraceLogging format."""


@dataclass(frozen=True)
class FieldSchema:
    name: str
    in_type: int  # the base type (bits 0–4)
    array: int = 0  # 0, CONSTANT_COUNT, VARIABLE_COUNT or CUSTOM
    out_type: int = 0
    tag: int = 0
    count: int = 0  # element count of a fixed-count array
    members: tuple[FieldSchema, ...] = ()  # a struct's fields
    custom_schema: bytes = b""


@dataclass(frozen=True)
class EventSchema:
    name: str
    tag: int
    fields: tuple[FieldSchema, ...]


@dataclass(frozen=True)
class ProviderTraits:
    name: str
    group: uuid.UUID | None = None
    other: tuple[tuple[int, bytes], ...] = ()  # (trait type, data) for types other than 1


@dataclass(frozen=True)
class DecodedField:
    name: str
    in_type: int
    out_type: int
    value: Any  # str, int, float, bool, uuid.UUID, bytes, list, or dict (struct)


@dataclass
class DecodedEvent:
    event_name: str
    fields: list[DecodedField]
    provider_name: str = ""
    provider_guid: str = ""
    descriptor: dict[str, int] = field(default_factory=dict)
    activity_id: str | None = None
    related_activity_id: str | None = None
    event_tag: int = 0

    def values(self) -> dict[str, Any]:
        """Field name → decoded value."""
        return {f.name: f.value for f in self.fields}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: GUIDs as strings, FILETIMEs as RFC 3339 with 100-ns digits."""
        return {
            "provider": self.provider_name,
            "provider_guid": self.provider_guid,
            "event": self.event_name,
            "descriptor": self.descriptor,
            "activity_id": self.activity_id,
            "related_activity_id": self.related_activity_id,
            "fields": {f.name: json_value(f.in_type, f.value) for f in self.fields},
        }


def filetime_iso(ticks: int) -> str:
    """FILETIME ticks as ``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (exact, no float)."""
    try:
        dt = _FILETIME_ORIGIN + timedelta(seconds=ticks // 10_000_000)
    except OverflowError:
        return str(ticks)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ticks % 10_000_000:07d}Z"


def json_value(in_type: int, value: Any) -> Any:
    if isinstance(value, list):
        return [json_value(in_type, v) for v in value]
    if isinstance(value, dict):
        return {k: json_value(-1, v) for k, v in value.items()}  # member types are not kept
    if in_type == InType.FILETIME:
        return filetime_iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


# ---------------------------------------------------------------------------------------
# Metadata


class _Reader:
    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > self.end:
            raise DecodeError(
                f"{what}: needs {n} bytes at offset {self.pos}, {self.end - self.pos} left"
            )
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return int.from_bytes(self.take(2, what), "little")

    def cstr8(self, what: str) -> bytes:
        nul = self.buf.find(b"\x00", self.pos, self.end)
        if nul < 0:
            raise DecodeError(f"{what}: no NUL terminator after offset {self.pos}")
        b = self.buf[self.pos : nul]
        self.pos = nul + 1
        return b

    def tag(self, what: str) -> int:
        # 7 bits per byte, most significant first; the high bit says another byte follows.
        value, n = 0, 0
        while True:
            b = self.byte(what)
            value = (value << 7) | (b & 0x7F)
            n += 1
            if not b & 0x80:
                break
            if n == 4:
                raise DecodeError(f"{what}: more than 4 bytes at offset {self.pos}")
        return value << (7 * (4 - n))

    def utf8(self, what: str) -> str:
        try:
            return self.cstr8(what).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{what}: not UTF-8 ({exc})") from None


def parse_traits(traits: bytes) -> ProviderTraits:
    """The provider traits blob (§3)."""
    r = _Reader(traits)
    size = r.u16("traits size")
    if size != len(traits):
        raise DecodeError(f"traits size field says {size}, blob has {len(traits)} bytes")
    name = r.utf8("provider name")
    group, other = None, []
    while r.pos < r.end:
        start = r.pos
        tsize = r.u16("trait size")
        if tsize < 3:
            raise DecodeError(f"trait at offset {start}: size {tsize} < 3")
        ttype = r.byte("trait type")
        data = r.take(tsize - 3, "trait data")
        if ttype == 1 and len(data) == 16:
            group = uuid.UUID(bytes_le=data)
        else:
            other.append((ttype, data))
    return ProviderTraits(name, group, tuple(other))


def parse_metadata(meta: bytes) -> EventSchema:
    """The event metadata blob (§4) as an :class:`EventSchema`."""
    r = _Reader(meta)
    size = r.u16("metadata size")
    if size != len(meta):
        raise DecodeError(f"metadata size field says {size}, blob has {len(meta)} bytes")
    tag = r.tag("event tag")
    name = r.utf8("event name")
    fields = []
    while r.pos < r.end:
        fields.append(_parse_field(r))
    return EventSchema(name, tag, tuple(fields))


def _parse_field(r: _Reader, depth: int = 0) -> FieldSchema:
    name = r.utf8("field name")
    in_byte = r.byte(f"{name}: InType")
    out_type, tag = 0, 0
    if in_byte & CHAIN:
        out_byte = r.byte(f"{name}: OutType")
        out_type = out_byte & 0x7F
        if out_byte & CHAIN:
            tag = r.tag(f"{name}: field tag")
    base, array = in_byte & TYPE_MASK, in_byte & ARRAY_MASK
    count, custom = 0, b""
    if array == CONSTANT_COUNT:
        count = r.u16(f"{name}: element count")
    elif array == CUSTOM:
        custom = r.take(r.u16(f"{name}: schema length"), f"{name}: schema")
    members: tuple[FieldSchema, ...] = ()
    if base == InType.STRUCT:
        if depth > 32:
            raise DecodeError(f"{name}: structs nested too deep")
        members = tuple(_parse_field(r, depth + 1) for _ in range(out_type))
        out_type = 0  # for a struct the OutType bits are its member count
    return FieldSchema(name, base, array, out_type, tag, count, members, custom)


# ---------------------------------------------------------------------------------------
# Payload


def decode_payload(schema: EventSchema, payload: bytes) -> list[DecodedField]:
    """The payload's values, in field order; every byte must be accounted for."""
    r = _Reader(payload)
    out = [DecodedField(f.name, f.in_type, f.out_type, _field_value(r, f)) for f in schema.fields]
    if r.pos != r.end:
        raise DecodeError(f"{r.end - r.pos} bytes left after the last field of {schema.name}")
    return out


def _field_value(r: _Reader, f: FieldSchema) -> Any:
    if f.array == VARIABLE_COUNT:
        return [_element(r, f) for _ in range(r.u16(f"{f.name}: array count"))]
    if f.array == CONSTANT_COUNT:
        return [_element(r, f) for _ in range(f.count)]
    if f.array == CUSTOM:
        return r.take(r.u16(f"{f.name}: custom length"), f.name)
    return _element(r, f)


def _text8(raw: bytes, out_type: int) -> str:
    if out_type in (OUT_UTF8, OUT_JSON, OUT_XML):
        return raw.decode("utf-8", "replace")
    return raw.decode("cp1252", "replace")  # ANSI strings default to CP1252 in ETW decoders


def _element(r: _Reader, f: FieldSchema) -> Any:
    t = f.in_type
    scalar = _SCALARS.get(t)
    if scalar is not None:
        (v,) = scalar.unpack(r.take(scalar.size, f.name))
        return bool(v) if t == InType.BOOL32 else v
    if t == InType.STR16:
        return r.take(r.u16(f"{f.name}: length"), f.name).decode("utf-16-le", "replace")
    if t == InType.CSTR16:
        start = r.pos
        while r.take(2, f"{f.name}: unterminated UTF-16 string") != b"\x00\x00":
            pass
        return r.buf[start : r.pos - 2].decode("utf-16-le", "replace")
    if t == InType.CSTR8:
        return _text8(r.cstr8(f.name), f.out_type)
    if t == InType.STR8:
        return _text8(r.take(r.u16(f"{f.name}: length"), f.name), f.out_type)
    if t == InType.GUID:
        return uuid.UUID(bytes_le=r.take(16, f.name))
    if t in (InType.BINARY, InType.BINARYC):
        return r.take(r.u16(f"{f.name}: length"), f.name)
    if t == InType.SYSTEMTIME:
        return list(struct.unpack("<8H", r.take(16, f.name)))
    if t == InType.SID:
        head = r.take(8, f.name)
        return head + r.take(4 * head[1], f.name)
    if t == InType.STRUCT:
        return {m.name: _field_value(r, m) for m in f.members}
    raise DecodeError(f"{f.name}: unknown InType {t}")


# ---------------------------------------------------------------------------------------
# Capture files (DESIGN.md §5)

CAPTURE_KEYS = (
    "provider_guid",
    "descriptor",
    "activity_id",
    "related_activity_id",
    "traits_hex",
    "metadata_hex",
    "payload_hex",
)


def _hex(obj: dict[str, Any], key: str) -> bytes:
    try:
        return bytes.fromhex(obj[key])
    except (TypeError, ValueError):
        raise DecodeError(f"{key} is not a hex string") from None


def decode_capture(obj: dict[str, Any]) -> DecodedEvent:
    """One capture-seam record as a :class:`DecodedEvent`."""
    if not isinstance(obj, dict):
        raise DecodeError("not a JSON object")
    missing = [k for k in CAPTURE_KEYS if k not in obj]
    if missing:
        raise DecodeError(f"missing {', '.join(missing)}")
    traits = parse_traits(_hex(obj, "traits_hex"))
    schema = parse_metadata(_hex(obj, "metadata_hex"))
    descriptor = obj["descriptor"]
    if not isinstance(descriptor, dict):
        raise DecodeError("descriptor is not an object")
    return DecodedEvent(
        event_name=schema.name,
        fields=decode_payload(schema, _hex(obj, "payload_hex")),
        provider_name=traits.name,
        provider_guid=str(obj["provider_guid"]),
        descriptor=descriptor,
        activity_id=obj["activity_id"],
        related_activity_id=obj["related_activity_id"],
        event_tag=schema.tag,
    )


def iter_capture(lines: Iterable[str]) -> Iterator[tuple[int, DecodedEvent | DecodeError]]:
    """(line number, event or the reason it could not be decoded) for each non-blank line."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, decode_capture(json.loads(line))
        except json.JSONDecodeError as exc:
            yield n, DecodeError(f"not JSON ({exc.msg})")
        except DecodeError as exc:
            yield n, exc


def read_capture(path: Path) -> list[DecodedEvent]:
    """Every event of a capture file; raises :class:`DecodeError` naming the first bad line."""
    events = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, item in iter_capture(fh):
            if isinstance(item, DecodeError):
                raise DecodeError(f"{path} line {n}: {item}")
            events.append(item)
    return events
