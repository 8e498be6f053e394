"""The decoder: round trips through the encoder, the general grammar, and bad input."""

from __future__ import annotations

import json
import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfsession.etw import _tracelogging as tl
from cfsession.etw import decode
from cfsession.etw.capture import capture_record

# Text without lone surrogates (those become U+FFFD by design; see test_etw_sink).
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
u32 = st.integers(0, 2**32 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
u64 = st.integers(0, 2**64 - 1)


@given(cmd=text, out=text, dur=u32, sid=st.uuids(), code=i32, cwd=text)
def test_terminal_capture_round_trip(
    cmd: str, out: str, dur: int, sid: uuid.UUID, code: int, cwd: str
) -> None:
    payload = tl.TERMINAL_CAPTURE.encode([cmd, out, dur, sid, code, cwd])
    schema = decode.parse_metadata(tl.TERMINAL_CAPTURE.metadata)
    assert decode.decode_payload(schema, payload) == [
        decode.DecodedField("Command", 22, 0, cmd),
        decode.DecodedField("Output", 22, 0, out),
        decode.DecodedField("DurationMs", 8, 0, dur),
        decode.DecodedField("SessionId", 15, 0, sid),
        decode.DecodedField("ExitCode", 7, 0, code),
        decode.DecodedField("Cwd", 22, 0, cwd),
    ]


@given(kind=text, corr=text, start=u64)
def test_session_start_round_trip(kind: str, corr: str, start: int) -> None:
    payload = tl.SESSION_START.encode(
        {"SessionType": kind, "CorrelationId": corr, "StartTime": start}
    )
    values = [
        f.value
        for f in decode.decode_payload(decode.parse_metadata(tl.SESSION_START.metadata), payload)
    ]
    assert values == [kind, corr, start]


@given(sid=st.uuids(), count=u32, dur=u64)
def test_session_end_round_trip(sid: uuid.UUID, count: int, dur: int) -> None:
    payload = tl.SESSION_END.encode([sid, count, dur])
    values = [
        f.value
        for f in decode.decode_payload(decode.parse_metadata(tl.SESSION_END.metadata), payload)
    ]
    assert values == [sid, count, dur]


@given(
    tag=st.integers(0, 0x0FFFFFFF),
    field_tag=st.integers(0, 0x0FFFFFFF),
    out_type=st.integers(0, 0x7F),
    name=st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), min_size=1, max_size=20
    ),
)
def test_tags_and_out_types_round_trip(tag: int, field_tag: int, out_type: int, name: str) -> None:
    fields = (
        tl.Field(name, tl.InType.UINT32, out_type, field_tag),
        tl.Field("Plain", tl.InType.INT32),
    )
    schema = decode.parse_metadata(tl.event_metadata("Tagged", fields, tag))
    assert schema.tag == tag
    assert [(f.name, f.in_type, f.out_type, f.tag) for f in schema.fields] == [
        (name, 8, out_type, field_tag),
        ("Plain", 7, 0, 0),
    ]


def test_every_scalar_type_round_trips() -> None:
    cases = [
        (tl.InType.INT8, -5),
        (tl.InType.UINT8, 250),
        (tl.InType.INT16, -300),
        (tl.InType.UINT16, 60000),
        (tl.InType.INT64, -(2**40)),
        (tl.InType.FLOAT, 1.5),
        (tl.InType.DOUBLE, -2.25),
        (tl.InType.BOOL32, True),
        (tl.InType.HEXINT32, 0xDEADBEEF),
        (tl.InType.HEXINT64, 2**63),
        (tl.InType.BINARY, b"\x00\x01"),
        (tl.InType.BINARYC, b"xyz"),
        (tl.InType.CSTR8, "ansi"),
        (tl.InType.STR8, "counted"),
        (tl.InType.SYSTEMTIME, [2025, 1, 4, 2, 3, 4, 5, 678]),
        (tl.InType.SID, bytes.fromhex("010100000000000512000000")),  # S-1-5-18
    ]
    fields = tuple(tl.Field(f"F{i}", t) for i, (t, _) in enumerate(cases))
    payload = b"".join(tl.pack_value(t, v) for t, v in cases)
    decoded = decode.decode_payload(
        decode.parse_metadata(tl.event_metadata("All", fields)), payload
    )
    assert [f.value for f in decoded] == [v for _, v in cases]


def test_arrays_round_trip() -> None:
    fields = (
        tl.Field("V", tl.InType.UINT16 | tl.VARIABLE_COUNT),
        tl.Field("S", tl.InType.STR16 | tl.VARIABLE_COUNT),
    )
    payload = tl.pack_value(fields[0].in_type, [1, 2, 3]) + tl.pack_value(
        fields[1].in_type, ["a", "bc"]
    )
    schema = decode.parse_metadata(tl.event_metadata("Arrays", fields))
    assert [f.value for f in decode.decode_payload(schema, payload)] == [[1, 2, 3], ["a", "bc"]]


def test_fixed_count_array_and_struct_from_hand_built_metadata() -> None:
    # Neither is produced by cfsession; built by hand per FORMAT.md §4.
    body = (
        b"\x00Shapes\x00"
        + b"Pair\x00"
        + bytes([tl.InType.INT32 | tl.CONSTANT_COUNT])
        + struct.pack("<H", 2)
        + b"Pt\x00"
        + bytes([tl.CHAIN | tl.InType.STRUCT, 2])
        + b"X\x00"
        + bytes([tl.InType.UINT8])
        + b"Y\x00"
        + bytes([tl.InType.UINT8])
    )
    meta = struct.pack("<H", len(body) + 2) + body
    schema = decode.parse_metadata(meta)
    assert [f.name for f in schema.fields] == ["Pair", "Pt"]
    assert [m.name for m in schema.fields[1].members] == ["X", "Y"]
    values = decode.decode_payload(schema, struct.pack("<iiBB", -1, 7, 3, 4))
    assert [f.value for f in values] == [[-1, 7], {"X": 3, "Y": 4}]


def test_nul_terminated_string_stops_at_the_terminator() -> None:
    schema = decode.parse_metadata(
        tl.event_metadata("C", (tl.Field("S", tl.InType.CSTR16), tl.Field("N", tl.InType.UINT8)))
    )
    assert [
        f.value for f in decode.decode_payload(schema, "ab".encode("utf-16-le") + b"\x00\x00\x09")
    ] == ["ab", 9]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (b"\x05\x00\x00A", "size field says 5"),
        (b"\x04\x00\x00A", "no NUL terminator"),
        (b"\x07\x00\x00A\x00F\x00", "InType"),
        (b"\x07\x00\xff\xff\xff\xff\x00", "more than 4 bytes"),
    ],
)
def test_bad_metadata_is_a_decode_error(meta: bytes, message: str) -> None:
    with pytest.raises(decode.DecodeError, match=message):
        decode.parse_metadata(meta)


def test_short_and_long_payloads_are_decode_errors() -> None:
    schema = decode.parse_metadata(tl.SESSION_END.metadata)
    good = tl.SESSION_END.encode([uuid.uuid4(), 1, 2])
    with pytest.raises(decode.DecodeError, match="needs 8 bytes"):
        decode.decode_payload(schema, good[:-1])
    with pytest.raises(decode.DecodeError, match="1 bytes left"):
        decode.decode_payload(schema, good + b"\x00")


def test_decode_capture_record() -> None:
    sid = uuid.uuid4()
    rec = capture_record(tl.SESSION_END, tl.SESSION_END.encode([sid, 3, 4500]), sid.bytes_le, None)
    ev = decode.decode_capture(json.loads(json.dumps(rec)))
    assert (ev.event_name, ev.provider_name, ev.activity_id) == (
        "SessionEnd",
        "ContextForge.LoggingInfrastructure",
        str(sid),
    )
    assert ev.values() == {"SessionId": sid, "CommandCount": 3, "DurationMs": 4500}
    assert ev.to_json()["fields"] == {"SessionId": str(sid), "CommandCount": 3, "DurationMs": 4500}


def test_iter_capture_reports_bad_lines_and_goes_on() -> None:
    sid = uuid.uuid4()
    good = json.dumps(
        capture_record(tl.SESSION_END, tl.SESSION_END.encode([sid, 1, 2]), sid.bytes_le, None)
    )
    lines = [good, "not json", "", json.dumps({"provider_guid": "x"}), '{"payload_hex": 5}', good]
    results = list(decode.iter_capture(lines))
    assert [n for n, _ in results] == [1, 2, 4, 5, 6]
    assert [type(r).__name__ for _, r in results] == [
        "DecodedEvent",
        "DecodeError",
        "DecodeError",
        "DecodeError",
        "DecodedEvent",
    ]
    assert "missing descriptor" in str(results[2][1])


def test_filetime_iso_is_exact() -> None:
    assert decode.filetime_iso(tl.FILETIME_UNIX_EPOCH) == "1970-01-01T00:00:00.0000000Z"
    assert decode.filetime_iso(0) == "1601-01-01T00:00:00.0000000Z"
    assert decode.filetime_iso(2**64 - 1) == str(2**64 - 1)  # past year 9999: the raw number
