"""The shipper's canonical re-encoding: byte for byte what the recorder hashed, fast path or not."""

from __future__ import annotations

from typing import Any

import pytest

from cfsession.fleet import encode
from cfsession.integrity import GENESIS, canonical, seal
from cfsession.sinks.jsonl import dumps

RECORDS: list[dict[str, Any]] = [
    {"event_type": "terminal_capture", "command": "ls", "output": "a\tb\nc\\d \"q\"", "duration_ms": 1000.0},
    {"event_type": "terminal_capture", "command": "échо ☃ 𝄞", "output": "\x1b[31mred\x07\x7f\u2028", "exit_code": 1},
    # floats and big ints that orjson writes differently from the standard library
    {"event_type": "marker", "a": 1e16, "b": 1e-7, "c": 2**70, "d": -0.0, "e": None, "f": [1, {"z": 1, "a": 2}]},
]


@pytest.mark.parametrize("rec", RECORDS)
def test_canonical_line_is_what_was_hashed(rec: dict[str, Any]) -> None:
    sealed = seal(dict(rec, session_id="s", seq=2), GENESIS)
    got, line = encode.canonical_line(dumps(sealed))
    assert line.encode("utf-8") == canonical(sealed)
    assert got["hash"] == sealed["hash"]


def test_changed_line_is_sent_as_it_reads() -> None:
    # The hash no longer matches: the standard library encodes it, the server refuses it.
    sealed = seal({"event_type": "terminal_capture", "seq": 2, "command": "id"}, GENESIS)
    raw = dumps(sealed).replace(b'"id"', b'"rm"')
    rec, line = encode.canonical_line(raw)
    assert rec["command"] == "rm"
    assert line.encode() == canonical({k: v for k, v in rec.items() if k != "hash"})
    assert rec["hash"] == sealed["hash"]


def test_copy_text_escapes_backslashes_only() -> None:
    from cfsession.fleet.batch import copy_text

    sealed = seal({"event_type": "terminal_capture", "seq": 2, "output": "C:\\tmp\n"}, GENESIS)
    _, line = encode.canonical_line(dumps(sealed))
    row = copy_text(line, sealed["hash"])
    assert row.count(b"\t") == 1 and row.endswith(b"\n") and b"\n" not in row[:-1]
    assert b"C:\\\\\\\\tmp\\\\n" in row


def test_typical_line_takes_the_orjson_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import require_module

    require_module("orjson")
    assert encode._orjson is not None

    def slow(raw: bytes) -> Any:
        raise AssertionError("standard-library path taken")

    monkeypatch.setattr(encode, "_slow", slow)
    sealed = seal(dict(RECORDS[0], session_id="s", seq=2), GENESIS)
    assert encode.canonical_line(dumps(sealed))[1].encode() == canonical(sealed)
