"""The capture seam (DESIGN.md §5): one JSON line per event write, on any OS."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import uuid
from pathlib import Path

import pytest

from cfsession import etw
from cfsession.etw import _tracelogging as tl
from cfsession.etw.capture import CaptureEmitter, capture_record
from cfsession.etw.decode import read_capture

SID = uuid.UUID("6f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
PARENT = uuid.UUID("d0e1f2a3-b4c5-4d6e-8f70-8192a3b4c5d6")
TRAITS_HEX = "2500436f6e74657874466f7267652e4c6f6767696e67496e66726173747275637475726500"  # vectors.json provider


def test_line_holds_exactly_what_goes_to_event_write_transfer(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    e = CaptureEmitter(path)
    data = tl.TERMINAL_CAPTURE.encode(["ls -la", "total 0\r\n", 12, SID, 0, "/home/user"])
    e.write(tl.TERMINAL_CAPTURE, data, SID.bytes_le, None)
    e.write(tl.SESSION_START, b"\x00\x00", SID.bytes_le, PARENT.bytes_le)
    e.close()
    first, second = (json.loads(line) for line in path.read_text(encoding="ascii").splitlines())
    assert first == {
        "provider_guid": "c2c708fe-52f2-5085-bf82-c9c2c3c2d198",
        "descriptor": {
            "id": 0,
            "version": 0,
            "channel": 11,
            "level": 4,
            "opcode": 0,
            "task": 0,
            "keyword": 4,
        },
        "activity_id": str(SID),
        "related_activity_id": None,
        "traits_hex": TRAITS_HEX,
        "metadata_hex": tl.TERMINAL_CAPTURE.metadata.hex(),
        "payload_hex": data.hex(),
    }
    assert (
        second["related_activity_id"],
        second["descriptor"]["keyword"],
        second["payload_hex"],
    ) == (str(PARENT), 1, "0000")


def test_capture_record_matches_a_reference_vector() -> None:
    rec = capture_record(
        tl.SESSION_END,
        bytes.fromhex("3e2d1c6f6b5a7d4c8e9f0a1b2c3d4e5f2a000000fcce380000000000"),
        SID.bytes_le,
        None,
    )
    assert (
        rec["metadata_hex"]
        == "33000053657373696f6e456e640053657373696f6e4964000f436f6d6d616e64436f756e7400084475726174696f6e4d73000a"
    )
    assert rec["descriptor"]["keyword"] == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_capture_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    CaptureEmitter(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_appends_to_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    for _ in range(2):
        e = CaptureEmitter(path)
        e.write(tl.SESSION_END, tl.SESSION_END.encode([SID, 1, 2]), SID.bytes_le, None)
        e.close()
    assert len(read_capture(path)) == 2


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    emitters = [CaptureEmitter(path) for _ in range(4)]  # e.g. nested sessions sharing the file

    def worker(e: CaptureEmitter, n: int) -> None:
        for i in range(50):
            e.write(
                tl.TERMINAL_CAPTURE,
                tl.TERMINAL_CAPTURE.encode([f"{n}-{i}", "o" * 900, i, SID, 0, "/"]),
                SID.bytes_le,
                None,
            )

    threads = [threading.Thread(target=worker, args=(e, n)) for n, e in enumerate(emitters)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in emitters:
        e.close()
    commands = sorted(ev.values()["Command"] for ev in read_capture(path))
    assert commands == sorted(f"{n}-{i}" for n in range(4) for i in range(50))


def test_write_after_close_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl"
    e = CaptureEmitter(path)
    e.close()
    assert not e.is_enabled(4, 4)
    e.write(tl.SESSION_END, tl.SESSION_END.encode([SID, 1, 2]), SID.bytes_le, None)
    e.close()
    assert path.read_text() == ""


class Tee:
    status = "no-listener"

    def __init__(self, listening: bool) -> None:
        self.listening = listening
        self.writes: list[bytes] = []
        self.closed = False

    def is_enabled(self, level: int, keyword: int) -> bool:
        return self.listening

    def write(
        self, event: tl.EventType, payload: bytes, activity_id: bytes, related_id: bytes | None
    ) -> None:
        self.writes.append(payload)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("listening", [True, False])
def test_tee_gets_the_event_only_when_listening(tmp_path: Path, listening: bool) -> None:
    tee = Tee(listening)
    e = CaptureEmitter(tmp_path / "cap.jsonl", tee=tee)
    assert e.status == "enabled (capture), etw no-listener"
    e.write(tl.SESSION_END, b"p", SID.bytes_le, None)
    e.close()
    assert tee.writes == ([b"p"] if listening else [])
    assert tee.closed
    assert len((tmp_path / "cap.jsonl").read_text().splitlines()) == 1


def test_open_emitter_choices(tmp_path: Path) -> None:
    cap = str(tmp_path / "cap.jsonl")
    assert etw.open_emitter(False, "linux", env={etw.CAPTURE_ENV: cap}).status == "disabled"
    assert etw.open_emitter(True, "linux", env={}).status == "unavailable: not Windows"
    assert (
        etw.open_emitter(True, "darwin", env={etw.CAPTURE_ENV: ""}).status
        == "unavailable: not Windows"
    )
    emitter = etw.open_emitter(True, "linux", env={etw.CAPTURE_ENV: cap})
    assert isinstance(emitter, CaptureEmitter) and emitter.status == "enabled (capture)"
    emitter.close()


def test_unopenable_capture_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "cap.jsonl"
    emitter = etw.open_emitter(True, "linux", env={etw.CAPTURE_ENV: str(missing)})
    assert emitter.status.startswith(f"unavailable: cannot open {etw.CAPTURE_ENV}={missing}: ")
    assert not emitter.is_enabled(4, 4)


def test_probe_does_not_create_the_capture_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(etw.CAPTURE_ENV, str(tmp_path / "cap.jsonl"))
    assert etw.probe("linux") == "unavailable: not Windows"
    assert not (tmp_path / "cap.jsonl").exists()
