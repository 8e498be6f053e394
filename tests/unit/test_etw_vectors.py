"""The pure encoder and the decoder against Microsoft's reference vectors, byte for byte.

The vectors are the project's own test data (``tests/data/etw-vectors/``), a copy of
``shared/etw-vectors/``; when that folder is beside the repository (or named by
``CFSESSION_SHARED``) a test checks that the copy is still identical to it.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from cfsession import etw
from cfsession.etw import _tracelogging as tl
from cfsession.etw import decode

DATA = Path(__file__).resolve().parents[1] / "data" / "etw-vectors"


def vectors_dir() -> Path:
    if not (DATA / "vectors.json").is_file():
        pytest.fail(f"ETW vectors missing from the repository: {DATA / 'vectors.json'}",
                    pytrace=False)
    return DATA


def shared_vectors_dir() -> Path | None:
    """``shared/etw-vectors`` beside the repository, where the copy came from, if present."""
    env = os.environ.get("CFSESSION_SHARED")
    base = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared"
    path = base / "etw-vectors"
    return path if (path / "vectors.json").is_file() else None


@pytest.mark.parametrize("name", ["vectors.json", "FORMAT.md"])
def test_copy_matches_shared_vectors(name: str) -> None:
    shared = shared_vectors_dir()
    if shared is None:
        pytest.skip("no shared/etw-vectors beside the repository to compare the copy with")
    assert (DATA / name).read_bytes() == (shared / name).read_bytes(), (
        f"tests/data/etw-vectors/{name} differs from {shared / name}: copy it again"
    )


@lru_cache(maxsize=1)
def load_vectors() -> dict[str, Any]:
    return json.loads((vectors_dir() / "vectors.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _event_ids(prefix: str = "") -> list[str]:
    # Parametrize runs at collection; a missing file then fails each test with the message.
    try:
        return [e["id"] for e in load_vectors()["events"] if e["id"].startswith(prefix)]
    except BaseException:  # noqa: BLE001 - pytest.fail raises a BaseException subclass
        return ["vectors-missing"]


def vector(event_id: str) -> dict[str, Any]:
    for e in load_vectors()["events"]:
        if e["id"] == event_id:
            return dict(e)
    pytest.fail(f"no vector {event_id} (vectors.json not found?)", pytrace=False)


def event_type(v: dict[str, Any]) -> tl.EventType:
    d = v["descriptor"]
    return tl.EventType(
        v["event_name"],
        tuple(
            tl.Field(f["name"], f["in_type"], f["out_type"], f["field_tag"]) for f in v["fields"]
        ),
        keyword=d["Keyword"],
        level=d["Level"],
        opcode=d["Opcode"],
        channel=d["Channel"],
        id=d["Id"],
        version=d["Version"],
        task=d["Task"],
        tag=v["event_tag"],
    )


def field_values(v: dict[str, Any]) -> list[Any]:
    return [f["value"] for f in v["fields"]]


# --- provider identity ------------------------------------------------------------------


def test_guid_from_name_matches_every_vector() -> None:
    for g in load_vectors()["guid_from_name"]:
        assert tl.name_hash_input(g["name"]).hex() == g["sha1_input_hex"], g["name"]
        guid = tl.guid_from_name(g["name"])
        assert str(guid) == g["guid"], g["name"]
        assert guid.bytes_le.hex() == g["bytes_le_hex"], g["name"]


def test_guid_from_name_is_not_uuid5() -> None:
    name = etw.PROVIDER_NAME
    assert tl.guid_from_name(name) != uuid.uuid5(
        uuid.UUID("482C2DB2-C390-47C8-87F8-1A15BFC130FB"), name
    )


def test_facade_constants_match_the_encoder_and_the_vectors() -> None:
    v = load_vectors()
    assert etw.PROVIDER_NAME == v["provider"]["name"] == v["constants"]["provider_name"]
    assert etw.PROVIDER_GUID == str(tl.guid_from_name(etw.PROVIDER_NAME)) == v["provider"]["guid"]
    assert v["constants"]["keywords"] == etw.KEYWORDS
    assert v["constants"]["level_informational"] == etw.LEVEL
    assert etw.CHANNEL == v["constants"]["channel_tracelogging"] == tl.CHANNEL_TRACELOGGING
    assert [e.keyword for e in tl.CFSESSION_EVENTS] == [
        etw.KEYWORD_SESSION,
        etw.KEYWORD_TERMINAL,
        etw.KEYWORD_SESSION,
    ]


def test_provider_traits() -> None:
    p = load_vectors()["provider"]
    traits = tl.provider_traits(p["name"])
    assert traits.hex() == p["traits_hex"] == p["EventSetInformation"]["data_hex"]
    assert len(traits) == p["EventSetInformation"]["InformationLength"] == 37
    assert tl.guid_from_name(p["name"]).bytes_le.hex() == p["EventRegister_ProviderId_bytes_hex"]


def test_provider_traits_with_group() -> None:
    g = load_vectors()["provider_with_group_trait"]
    traits = tl.provider_traits(g["name"], uuid.UUID(g["group_guid"]))
    assert traits.hex() == g["traits_hex"]
    parsed = decode.parse_traits(traits)
    assert (parsed.name, str(parsed.group)) == (g["name"], g["group_guid"])


def test_decode_traits_of_the_provider() -> None:
    assert decode.parse_traits(bytes.fromhex(load_vectors()["provider"]["traits_hex"])) == (
        decode.ProviderTraits(etw.PROVIDER_NAME)
    )


# --- events -----------------------------------------------------------------------------


@pytest.mark.parametrize("event_id", _event_ids())
def test_descriptor_bytes(event_id: str) -> None:
    v = vector(event_id)
    assert event_type(v).descriptor.hex() == v["descriptor_bytes_hex"]
    d = v["descriptor"]
    raw = tl.event_descriptor(
        keyword=d["Keyword"],
        level=d["Level"],
        opcode=d["Opcode"],
        channel=d["Channel"],
        id=d["Id"],
        version=d["Version"],
        task=d["Task"],
    )
    assert raw.hex() == v["descriptor_bytes_hex"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_metadata_bytes(event_id: str) -> None:
    v = vector(event_id)
    assert event_type(v).metadata.hex() == v["event_metadata_hex"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_payload_bytes(event_id: str) -> None:
    v = vector(event_id)
    et = event_type(v)
    assert et.encode(field_values(v)).hex() == v["payload_hex"]
    assert et.encode({f["name"]: f["value"] for f in v["fields"]}).hex() == v["payload_hex"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_string_values_encode_like_the_vector(event_id: str) -> None:
    for f in vector(event_id)["fields"]:
        if "value_utf16le_hex" in f:
            assert tl.utf16le(f["value"]).hex() == f["value_utf16le_hex"], f["name"]
            assert len(tl.utf16le(f["value"])) // 2 == f["value_utf16_units"]
        if "value_bytes_le_hex" in f:
            assert tl.pack_guid(f["value"]).hex() == f["value_bytes_le_hex"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_activity_ids(event_id: str) -> None:
    v = vector(event_id)
    assert tl.activity_id(v["activity_id"]["guid"]).hex() == v["activity_id"]["bytes_le_hex"]
    if v["related_activity_id"] is not None:
        rel = v["related_activity_id"]
        assert tl.activity_id(uuid.UUID(rel["guid"])).hex() == rel["bytes_le_hex"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_data_descriptor_sizes_and_types(event_id: str) -> None:
    v = vector(event_id)
    et = event_type(v)
    blobs = [
        tl.provider_traits(etw.PROVIDER_NAME),
        et.metadata,
        et.encode(field_values(v)),
    ]
    types = [tl.DATA_TYPE_PROVIDER_METADATA, tl.DATA_TYPE_EVENT_METADATA, tl.DATA_TYPE_PAYLOAD]
    assert v["EventWriteTransfer_UserDataCount"] == 3
    for dd, blob, kind in zip(v["data_descriptors"], blobs, types, strict=True):
        assert (dd["Size"], dd["Reserved"]) == (len(blob), kind)
        assert struct.pack("<II", len(blob), kind).hex() == dd["struct_bytes_hex_without_ptr"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_metadata_parses_back_to_the_field_list(event_id: str) -> None:
    v = vector(event_id)
    schema = decode.parse_metadata(bytes.fromhex(v["event_metadata_hex"]))
    assert schema.name == v["event_name"]
    assert schema.tag == v["event_tag"]
    assert [(f.name, f.in_type, f.out_type, f.tag) for f in schema.fields] == [
        (f["name"], f["in_type"], f["out_type"], f["field_tag"]) for f in v["fields"]
    ]
    assert [
        {"name": f.name, "in_type": f.in_type, "out_type": f.out_type, "field_tag": f.tag}
        for f in schema.fields
    ] == v["metadata_breakdown"]["fields"]


@pytest.mark.parametrize("event_id", _event_ids())
def test_payload_decodes_back_to_the_values(event_id: str) -> None:
    v = vector(event_id)
    schema = decode.parse_metadata(bytes.fromhex(v["event_metadata_hex"]))
    decoded = decode.decode_payload(schema, bytes.fromhex(v["payload_hex"]))
    for got, want in zip(decoded, v["fields"], strict=True):
        value = want["value"]
        if want["in_type"] == tl.InType.CSTR16:
            value = value.split("\x00", 1)[0]  # nul-terminated: the text up to the first U+0000
        if want["in_type"] == tl.InType.GUID:
            value = uuid.UUID(value)
        assert (got.name, got.value) == (want["name"], value)


def test_filetime_anchors() -> None:
    for a in load_vectors()["constants"]["filetime_anchors"]:
        assert tl.pack_value(tl.InType.FILETIME, a["filetime"]).hex() == a["le_bytes_hex"]
    assert tl.filetime_from_unix_ns(0) == tl.FILETIME_UNIX_EPOCH
    assert decode.filetime_iso(133802606456789012) == "2025-01-02T03:04:05.6789012Z"


def test_struct_layout_constants() -> None:
    layouts = load_vectors()["struct_layouts_win64"]
    assert layouts["EVENT_DESCRIPTOR"]["struct_format"] == "<HBBBBHQ"
    assert struct.calcsize("<HBBBBHQ") == layouts["EVENT_DESCRIPTOR"]["size"] == 16


def test_cfsession_event_types_are_the_vectors_schemas() -> None:
    by_name = {
        "SessionStart.basic": tl.SESSION_START,
        "TerminalCapture.ascii": tl.TERMINAL_CAPTURE,
        "SessionEnd.basic": tl.SESSION_END,
    }
    for vid, et in by_name.items():
        v = vector(vid)
        assert et.metadata.hex() == v["event_metadata_hex"]
        assert et.descriptor.hex() == v["descriptor_bytes_hex"]
        assert et.encode(field_values(v)).hex() == v["payload_hex"]


@pytest.mark.parametrize(
    "event_id", [i for i in _event_ids("TerminalCapture.") if "nulterminated" not in i]
)
def test_fast_terminal_capture_encoder_matches(event_id: str) -> None:
    v = vector(event_id)  # the fast path encodes counted strings only
    cmd, out, dur, sid, code, cwd = field_values(v)
    payload = tl.encode_terminal_capture(
        tl.utf16le(cmd), tl.utf16le(out), dur, tl.pack_guid(sid), code, tl.utf16le(cwd)
    )
    assert payload.hex() == v["payload_hex"]


def test_metadata_is_built_once_per_event_type() -> None:
    fields = (tl.Field("A", tl.InType.INT32),)
    assert tl.event_metadata("Cached", fields) is tl.event_metadata("Cached", fields)
    assert tl.EventType("Cached", fields, keyword=1).metadata is tl.event_metadata("Cached", fields)
